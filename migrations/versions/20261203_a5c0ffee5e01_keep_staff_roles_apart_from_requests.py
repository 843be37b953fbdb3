"""keep staff roles apart from a person's own requests

Adds ``requests.requester_peers``: the asker's own peer-worker ids, sealed with the address
key, so a request is never offered to its maker, even on a cascade.

Contacts are not split here: a staff contact's pseudonym is derived from the platform id under
its own key, and a migration holds neither. A contact holding a role from before this revision
keeps it until that person next writes; the engine then moves the role to their new staff
contact (see ``bot.core.engine``). Requests open at the upgrade have no sealed ids and close
within the request lifetime.

Revision ID: a5c0ffee5e01
Revises: cf3682875769
Create Date: 2026-12-03 12:40:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "a5c0ffee5e01"
down_revision: str | Sequence[str] | None = "cf3682875769"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("requests", schema=None) as batch_op:
        batch_op.add_column(sa.Column("requester_peers", sa.LargeBinary(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("requests", schema=None) as batch_op:
        batch_op.drop_column("requester_peers")
