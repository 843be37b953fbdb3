"""running totals per outlet by week for the console CSV

Revision ID: 8f6ebfd0416e
Revises: 93ed89c96a37
Create Date: 2026-12-03 17:17:30.918729
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "8f6ebfd0416e"
down_revision: str | Sequence[str] | None = "93ed89c96a37"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "outlet_running_totals",
        sa.Column("week", sa.Date(), nullable=False),
        sa.Column("outlet_id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("rows", sa.Integer(), nullable=False),
        sa.Column("offered", sa.Integer(), nullable=False),
        sa.Column("accepted", sa.Integer(), nullable=False),
        sa.Column("declined", sa.Integer(), nullable=False),
        sa.Column("timed_out", sa.Integer(), nullable=False),
        sa.Column("handed_over", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("week", "outlet_id", name=op.f("pk_outlet_running_totals")),
    )


def downgrade() -> None:
    op.drop_table("outlet_running_totals")
