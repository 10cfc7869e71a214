"""metric steps are 64-bit integers

Revision ID: 0006_server
Revises: 0004
Create Date: 2026-12-03
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006_server"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# A step counts samples or updates, which pass 2**31 in long trainings; PostgreSQL's
# INTEGER would refuse them. Nothing references `metrics`, so on SQLite the table can be
# copied and moved (batch mode).


def upgrade() -> None:
    with op.batch_alter_table("metrics") as batch:
        batch.alter_column("step", existing_type=sa.Integer(), type_=sa.BigInteger(),
                           existing_nullable=True)


def downgrade() -> None:
    with op.batch_alter_table("metrics") as batch:
        batch.alter_column("step", existing_type=sa.BigInteger(), type_=sa.Integer(),
                           existing_nullable=True)
