"""tokens issued to runs, revoked when the run ends

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-23
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Unlike `runs` in 0003, nothing references `api_tokens`, so on SQLite the table can be
# copied and moved (batch mode), which gives the foreign key its ON DELETE CASCADE.


def upgrade() -> None:
    with op.batch_alter_table("api_tokens") as batch:
        batch.add_column(sa.Column("run_id", sa.Integer(), nullable=True))
        batch.create_foreign_key("api_tokens_run_id_fkey", "runs", ["run_id"], ["id"],
                                 ondelete="CASCADE")
        batch.create_index("ix_api_tokens_run_id", ["run_id"])


def downgrade() -> None:
    with op.batch_alter_table("api_tokens") as batch:
        batch.drop_index("ix_api_tokens_run_id")
        batch.drop_constraint("api_tokens_run_id_fkey", type_="foreignkey")
        batch.drop_column("run_id")
