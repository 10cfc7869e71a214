"""the attempt of the run that logged each metric point

Revision ID: 0007_metric_attempts
Revises: 0006_server
Create Date: 2026-12-03
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007_metric_attempts"
down_revision: str | None = "0006_server"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Points stored before this revision cannot be told apart: they all become attempt 1.
# Both databases add a NOT NULL column with a default, and drop it, in place.


def upgrade() -> None:
    op.add_column("metrics", sa.Column("attempt", sa.Integer(), server_default="1",
                                       nullable=False))
    op.drop_index("ix_metrics_run_name_step", table_name="metrics")
    op.create_index("ix_metrics_run_attempt_name_step", "metrics",
                    ["run_id", "attempt", "name", "step"])


def downgrade() -> None:
    op.drop_index("ix_metrics_run_attempt_name_step", table_name="metrics")
    op.create_index("ix_metrics_run_name_step", "metrics", ["run_id", "name", "step"])
    op.drop_column("metrics", "attempt")
