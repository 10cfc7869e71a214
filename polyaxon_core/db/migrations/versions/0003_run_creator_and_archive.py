"""run creator and archive time

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-23
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# No batch (copy-and-move) migration of `runs` here: on SQLite it drops the old table,
# and with foreign keys on that cascades into every run's statuses, metrics and trials.
# SQLite adds a nullable column with a REFERENCES clause, and drops it, in place.


def upgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        op.execute("ALTER TABLE runs ADD COLUMN user_id INTEGER REFERENCES users (id)")
    else:
        op.add_column("runs", sa.Column("user_id", sa.Integer(), nullable=True))
        op.create_foreign_key("runs_user_id_fkey", "runs", "users", ["user_id"], ["id"])
    op.add_column("runs", sa.Column("archived_at", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        op.execute("ALTER TABLE runs DROP COLUMN archived_at")
        op.execute("ALTER TABLE runs DROP COLUMN user_id")
        return
    op.drop_column("runs", "archived_at")
    op.drop_constraint("runs_user_id_fkey", "runs", type_="foreignkey")
    op.drop_column("runs", "user_id")
