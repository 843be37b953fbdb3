"""The masked line between a person and the peer who accepted their request.

One row per accepted offer, made the first time either side uses the line. It holds no message
text, ever: only whether the line was closed, whether the person chose to meet nearby instead of
picking up at the outlet, and how many messages each side sent in the current clock hour (the
rate limit; the hour only, as every kept time).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, ForeignKey, Integer
from sqlalchemy.orm import Mapped, mapped_column

from bot.db.base import Base
from bot.db.models._columns import when_column


class RelayLine(Base):
    """The line of one accepted offer (a release and a new accept start a fresh line)."""

    __tablename__ = "relay_lines"

    offer_id: Mapped[int] = mapped_column(
        ForeignKey("offers.id", ondelete="CASCADE"), primary_key=True
    )
    closed: Mapped[bool] = mapped_column(Boolean, default=False)
    # The person chose "meet nearby" (the outlet offers it): where is agreed in the line and
    # never stored; nothing finer than the request's area is kept.
    meet: Mapped[bool] = mapped_column(Boolean, default=False)
    # Rate limit: the clock hour counted in, and each side's messages in it.
    hour_at: Mapped[datetime | None] = when_column()
    person_sent: Mapped[int] = mapped_column(Integer, default=0)
    peer_sent: Mapped[int] = mapped_column(Integer, default=0)
