"""index the counters by measure and day for the console

Revision ID: 6830d4178c7b
Revises: e466e9038456
Create Date: 2026-12-03 15:46:37.445249
"""

from collections.abc import Sequence

from alembic import op

revision: str = "6830d4178c7b"
down_revision: str | Sequence[str] | None = "e466e9038456"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("daily_counts", schema=None) as batch_op:
        batch_op.create_index(
            "ix_daily_counts_measure_day",
            ["measure", "day", "kind", "bucket", "item_code", "area_code", "outlet_id", "count"],
            unique=False,
        )


def downgrade() -> None:
    with op.batch_alter_table("daily_counts", schema=None) as batch_op:
        batch_op.drop_index("ix_daily_counts_measure_day")
