"""runs.managed_by: who drives a run, the orchestrator (``agent``) or the code that
tracks it from outside (``user``).

Revision ID: 0014_runs_managed_by
Revises: 0013_project_ci
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0014_runs_managed_by"
down_revision: str | None = "0013_project_ci"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("runs") as batch:
        batch.add_column(sa.Column("managed_by", sa.String(length=16), nullable=False,
                                   server_default="agent"))


def downgrade() -> None:
    with op.batch_alter_table("runs") as batch:
        batch.drop_column("managed_by")
