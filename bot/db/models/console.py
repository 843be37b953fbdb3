"""Sign-in to the web console: single-use links and sessions.

Only SHA-256 digests of the random tokens are stored, so a database dump opens no session and
redeems no link. A row names a staff contact (the pseudonymous contact that holds a member's
roles), never a person, an address or a browser; rows are deleted once expired.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from bot.db.base import Base
from bot.db.models._columns import created_column, when_column


class ConsoleLink(Base):
    """A sign-in link sent by ``/console``: valid for minutes, used at most once."""

    __tablename__ = "console_links"

    id: Mapped[int] = mapped_column(primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    contact_id: Mapped[int] = mapped_column(ForeignKey("contacts.id", ondelete="CASCADE"))
    # The member's language in chat, carried to the session (the staff contact has none).
    locale: Mapped[str | None] = mapped_column(String(16))
    created_at: Mapped[datetime] = created_column()
    expires_at: Mapped[datetime] = when_column(nullable=False)
    used_at: Mapped[datetime | None] = when_column()


class ConsoleSession(Base):
    """A signed-in browser: ends after an idle spell, at a fixed age, or at sign-out."""

    __tablename__ = "console_sessions"

    id: Mapped[int] = mapped_column(primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    contact_id: Mapped[int] = mapped_column(
        ForeignKey("contacts.id", ondelete="CASCADE"), index=True
    )
    locale: Mapped[str | None] = mapped_column(String(16))
    created_at: Mapped[datetime] = created_column()
    last_seen_at: Mapped[datetime] = when_column(nullable=False)
    expires_at: Mapped[datetime] = when_column(nullable=False)
