"""write alert texts once per language

Revision ID: 822107ded7c7
Revises: e018f7378f41
Create Date: 2026-11-27 03:55:00.577220
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '822107ded7c7'
down_revision: str | Sequence[str] | None = 'e018f7378f41'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Only ADD COLUMN (nullable, no default): SQLite must never rebuild `alerts` in batch mode, as
# dropping the old table would cascade into deliveries and alert_areas (see e018f7378f41).
# Downgrade uses native DROP COLUMN (SQLite 3.35+) for the same reason.
_COLUMNS = ('translations', 'base_locale')


def upgrade() -> None:
    op.add_column('alerts', sa.Column('base_locale', sa.String(length=16), nullable=True))
    op.add_column('alerts', sa.Column('translations', sa.JSON(), nullable=True))


def downgrade() -> None:
    sqlite = op.get_bind().dialect.name == 'sqlite'
    for column in _COLUMNS:
        if sqlite:
            op.execute(f'ALTER TABLE alerts DROP COLUMN {column}')
        else:
            op.drop_column('alerts', column)
