"""Replies and notices waiting for a channel that refused them (a 429, a captcha, an outage)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, ForeignKey, Index, Integer, LargeBinary
from sqlalchemy.orm import Mapped, mapped_column

from bot.db.base import Base
from bot.db.models._columns import created_column, when_column


class PendingMessage(Base):
    """One message for one contact that a first send could not deliver, or that the engine is
    sending right after the commit that wrote it (journaled: leased, ``attempts`` 0; see
    :mod:`bot.services.journal`).

    ``sealed`` is the whole message (text and buttons) encrypted with the address key: the
    database never holds a message or a pickup code in clear. The row is deleted once the
    message is sent, refused for good or past ``expires_at``, and goes with its contact
    (``/forget``, the retention purge). A contact's rows are sent in ``id`` order.
    ``lease_until`` is set while a worker sends the row; ``doubtful`` marks a row whose earlier
    attempt may have arrived (a resend then counts as ``unknown``).
    """

    __tablename__ = "pending_messages"
    __table_args__ = (
        Index("ix_pending_messages_contact", "contact_id", "id"),
        Index("ix_pending_messages_due", "due_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    contact_id: Mapped[int] = mapped_column(ForeignKey("contacts.id", ondelete="CASCADE"))
    sealed: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = created_column()
    due_at: Mapped[datetime] = when_column(nullable=False)
    expires_at: Mapped[datetime] = when_column(nullable=False)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    doubtful: Mapped[bool] = mapped_column(Boolean, default=False)
    lease_until: Mapped[datetime | None] = when_column()
