"""notification deliveries: what a run's hooks owe, and each delivery's attempts; what a
project's runs all notify

Revision ID: 0012_notification_deliveries
Revises: 0011_project_queue
Create Date: 2026-12-04
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0012_notification_deliveries"
down_revision: str | None = "0011_project_queue"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("projects") as batch_op:
        batch_op.add_column(sa.Column(
            "notifications", sa.JSON().with_variant(postgresql.JSONB(), "postgresql"), nullable=True))
    op.create_table(
        "notification_deliveries",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("run_id", sa.Integer(), sa.ForeignKey("runs.id", ondelete="CASCADE"), nullable=False),
        sa.Column("run_attempt", sa.Integer(), nullable=False),
        sa.Column("source", sa.String(length=64), nullable=False),
        sa.Column("connection", sa.String(length=150), nullable=False),
        sa.Column("notifier", sa.String(length=64), nullable=False),
        sa.Column("trigger", sa.String(length=32), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("delivered_at", sa.DateTime(timezone=True), nullable=True),
        sa.UniqueConstraint("run_id", "run_attempt", "source", "connection",
                            name="uq_notification_deliveries"),
    )
    op.create_index("ix_notification_deliveries_run_id", "notification_deliveries", ["run_id"])
    op.create_index("ix_notification_deliveries_status_next", "notification_deliveries",
                    ["status", "next_attempt_at"])


def downgrade() -> None:
    op.drop_table("notification_deliveries")
    with op.batch_alter_table("projects") as batch_op:
        batch_op.drop_column("notifications")
