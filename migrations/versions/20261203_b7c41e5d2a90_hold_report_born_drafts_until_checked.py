"""hold drafts made from community reports until a coordinator checks them

Revision ID: b7c41e5d2a90
Revises: d36faf318542
Create Date: 2026-12-03 12:30:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "b7c41e5d2a90"
down_revision: str | Sequence[str] | None = "d36faf318542"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Plain ADD COLUMN, never batch mode: SQLite must not rebuild `alerts`, as dropping the old
# table would cascade into deliveries and alert_areas (see e018f7378f41). SQLite adds a NOT
# NULL column in place when it has a default. Existing drafts count as checked.


def upgrade() -> None:
    op.add_column(
        "alerts",
        sa.Column("needs_check", sa.Boolean(), server_default=sa.false(), nullable=False),
    )


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        op.execute("ALTER TABLE alerts DROP COLUMN needs_check")
    else:
        op.drop_column("alerts", "needs_check")
