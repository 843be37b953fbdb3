"""alert confidence and routes of use

Revision ID: a1e7c3d95b20
Revises: 8f6ebfd0416e
Create Date: 2026-12-03 18:50:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "a1e7c3d95b20"
down_revision: str | Sequence[str] | None = "8f6ebfd0416e"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Plain ADD COLUMN, never batch mode: SQLite must not rebuild `alerts`, as dropping the old
# table would cascade into deliveries and alert_areas (see e018f7378f41). Both nullable:
# existing alerts say nothing about either.

_COLUMNS = ("confidence", "routes")


def upgrade() -> None:
    op.add_column("alerts", sa.Column("confidence", sa.String(length=16), nullable=True))
    op.add_column("alerts", sa.Column("routes", sa.String(length=64), nullable=True))


def downgrade() -> None:
    for name in reversed(_COLUMNS):
        if op.get_bind().dialect.name == "sqlite":
            op.execute(f"ALTER TABLE alerts DROP COLUMN {name}")
        else:
            op.drop_column("alerts", name)
