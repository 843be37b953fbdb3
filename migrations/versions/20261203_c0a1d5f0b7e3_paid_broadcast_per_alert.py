"""paid broadcast per alert

Revision ID: c0a1d5f0b7e3
Revises: bd4c432bbc27
Create Date: 2026-12-03 22:55:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "c0a1d5f0b7e3"
down_revision: str | Sequence[str] | None = "bd4c432bbc27"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Plain ADD COLUMN, never batch mode: SQLite must not rebuild `alerts`, as dropping the old
# table would cascade into deliveries and alert_areas (see e018f7378f41). SQLite adds a NOT
# NULL column in place when it has a default. Existing alerts were sent free.


def upgrade() -> None:
    op.add_column(
        "alerts",
        sa.Column("paid", sa.Boolean(), server_default=sa.false(), nullable=False),
    )


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        op.execute("ALTER TABLE alerts DROP COLUMN paid")
    else:
        op.drop_column("alerts", "paid")
