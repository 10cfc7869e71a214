"""runs: the index a project's page of live runs reads, archived_at included

Revision ID: 0010_runs_live_index
Revises: 0009_dashboards
Create Date: 2026-12-04

A page of a project's runs filters on ``archived_at IS NULL`` and orders by
``created_at``: with ``archived_at`` in the index, the count is read from the index alone
and the page in its order.
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0010_runs_live_index"
down_revision: str | None = "0009_dashboards"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("runs") as batch_op:
        batch_op.drop_index("ix_runs_project_created")
        batch_op.create_index("ix_runs_project_archived_created",
                              ["project_id", "archived_at", "created_at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("runs") as batch_op:
        batch_op.drop_index("ix_runs_project_archived_created")
        batch_op.create_index("ix_runs_project_created", ["project_id", "created_at"], unique=False)
