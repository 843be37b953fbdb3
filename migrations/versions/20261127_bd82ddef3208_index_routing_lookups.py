"""index routing lookups: covering stock and peer indexes, a GiST point index on PostgreSQL

Revision ID: bd82ddef3208
Revises: 822107ded7c7
Create Date: 2026-11-27 04:10:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = 'bd82ddef3208'
down_revision: str | Sequence[str] | None = '822107ded7c7'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Routing's EXISTS tests read only these columns: with all of them in the index, neither
    # backend touches the table rows.
    op.create_index(
        'ix_stock_available', 'stock', ['outlet_id', 'item_id', 'quantity', 'reserved']
    )
    op.create_index(
        'ix_peer_workers_staffed',
        'peer_workers',
        ['outlet_id', 'on_shift', 'active', 'shift_ends_at'],
    )
    # Its leading columns are a prefix of ix_peer_workers_staffed.
    op.drop_index('ix_peer_workers_outlet_shift', table_name='peer_workers')
    if op.get_bind().dialect.name == 'postgresql':
        # Built-in geometry (no PostGIS): the box prefilter becomes a GiST search.
        op.create_index(
            'ix_outlets_point',
            'outlets',
            [sa.text('point(longitude, latitude)')],
            postgresql_using='gist',
        )


def downgrade() -> None:
    if op.get_bind().dialect.name == 'postgresql':
        op.drop_index('ix_outlets_point', table_name='outlets')
    op.create_index(
        'ix_peer_workers_outlet_shift', 'peer_workers', ['outlet_id', 'on_shift']
    )
    op.drop_index('ix_peer_workers_staffed', table_name='peer_workers')
    op.drop_index('ix_stock_available', table_name='stock')
