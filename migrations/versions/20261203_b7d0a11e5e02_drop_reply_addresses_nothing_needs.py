"""let a contact's reply address be dropped while nothing is open

``contacts.reply_address`` becomes nullable: the tick deletes the sealed address of a contact
that has nothing open (see ``bot.services.contacts.drop_idle_addresses``), and the engine seals
it again from the person's next message. Existing addresses go at the first tick after the
upgrade. Downgrade cannot bring dropped addresses back: contacts without one are deleted.

Revision ID: b7d0a11e5e02
Revises: a5c0ffee5e01
Create Date: 2026-12-03 13:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "b7d0a11e5e02"
down_revision: str | Sequence[str] | None = "a5c0ffee5e01"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("contacts", schema=None) as batch_op:
        batch_op.alter_column("reply_address", existing_type=sa.LargeBinary(), nullable=True)


def downgrade() -> None:
    op.execute("DELETE FROM contacts WHERE reply_address IS NULL")
    with op.batch_alter_table("contacts", schema=None) as batch_op:
        batch_op.alter_column("reply_address", existing_type=sa.LargeBinary(), nullable=False)
