"""projects: the queue their runs go to when their polyaxonfile names none

Revision ID: 0011_project_queue
Revises: 0010_runs_live_index
Create Date: 2026-12-04
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011_project_queue"
down_revision: str | None = "0010_runs_live_index"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("projects") as batch_op:
        batch_op.add_column(sa.Column("queue", sa.String(length=150), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("projects") as batch_op:
        batch_op.drop_column("queue")
