"""roll the counters up by week for the console

Revision ID: 93ed89c96a37
Revises: c4d2e8a1f6b3
Create Date: 2026-12-03 16:10:23.679977
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "93ed89c96a37"
down_revision: str | Sequence[str] | None = "c4d2e8a1f6b3"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "weekly_counts",
        sa.Column("week", sa.Date(), nullable=False),
        sa.Column("measure", sa.String(length=32), nullable=False),
        sa.Column("area_code", sa.String(length=32), nullable=False),
        sa.Column("outlet_id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("item_code", sa.String(length=24), nullable=False),
        sa.Column("bucket", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint(
            "week",
            "measure",
            "area_code",
            "outlet_id",
            "kind",
            "item_code",
            "bucket",
            name=op.f("pk_weekly_counts"),
        ),
    )
    with op.batch_alter_table("weekly_counts", schema=None) as batch_op:
        batch_op.create_index(
            "ix_weekly_counts_measure_week",
            ["measure", "week", "outlet_id", "kind", "bucket", "item_code", "area_code", "count"],
            unique=False,
        )
        batch_op.create_index(
            "ix_weekly_counts_totals",
            ["area_code", "measure", "week", "kind", "bucket", "item_code", "count"],
            unique=False,
        )
        batch_op.create_index(
            "ix_weekly_counts_outlet",
            ["outlet_id", "measure", "week", "item_code", "count"],
            unique=False,
        )

    op.create_table(
        "weekly_rollups",
        sa.Column("week", sa.Date(), nullable=False),
        sa.PrimaryKeyConstraint("week", name=op.f("pk_weekly_rollups")),
    )


def downgrade() -> None:
    op.drop_table("weekly_rollups")
    with op.batch_alter_table("weekly_counts", schema=None) as batch_op:
        batch_op.drop_index("ix_weekly_counts_outlet")
        batch_op.drop_index("ix_weekly_counts_totals")
        batch_op.drop_index("ix_weekly_counts_measure_week")

    op.drop_table("weekly_counts")
