"""Who reached the bot: contacts, peer workers, coordinators, invites, conversation state.

No name, username, phone number or platform id is stored in clear: a contact is found by its
pseudonym and answered through an encrypted reply address.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, ForeignKey, Index, LargeBinary, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from bot.db.base import Base
from bot.db.models._columns import created_column, enum_column, when_column
from bot.domain import Channel, Role


class Contact(Base):
    """Someone who reached the bot on one channel."""

    __tablename__ = "contacts"

    id: Mapped[int] = mapped_column(primary_key=True)
    pseudonym: Mapped[str] = mapped_column(String(64), unique=True)
    channel: Mapped[Channel] = enum_column(Channel)
    # Sealed; kept only while something may still write to the contact (an open request, a
    # subscription, a role, a conversation, a queued message: see contacts.drop_idle_addresses)
    # and sealed again from the next message they send.
    reply_address: Mapped[bytes | None] = mapped_column(LargeBinary)
    locale: Mapped[str | None] = mapped_column(String(16))
    reachable: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = created_column()
    # Day resolution is enough for retention and does not record activity patterns.
    last_seen_on: Mapped[datetime | None] = when_column()


class Coordinator(Base):
    """A contact allowed to manage outlets, stock and alerts."""

    __tablename__ = "coordinators"

    id: Mapped[int] = mapped_column(primary_key=True)
    contact_id: Mapped[int] = mapped_column(
        ForeignKey("contacts.id", ondelete="CASCADE"), unique=True
    )
    created_at: Mapped[datetime] = created_column()


class PeerWorker(Base):
    """A contact enrolled to serve requests at one outlet."""

    __tablename__ = "peer_workers"
    __table_args__ = (
        UniqueConstraint("contact_id", "outlet_id"),
        # Covers routing's "a peer on shift?" test: answered from the index, no table read.
        Index("ix_peer_workers_staffed", "outlet_id", "on_shift", "active", "shift_ends_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    contact_id: Mapped[int] = mapped_column(ForeignKey("contacts.id", ondelete="CASCADE"))
    outlet_id: Mapped[int] = mapped_column(ForeignKey("outlets.id", ondelete="CASCADE"))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    on_shift: Mapped[bool] = mapped_column(Boolean, default=False)
    shift_ends_at: Mapped[datetime | None] = when_column()
    created_at: Mapped[datetime] = created_column()


class Invite(Base):
    """A single-use, expiring enrolment code; only its keyed hash is stored."""

    __tablename__ = "invites"

    id: Mapped[int] = mapped_column(primary_key=True)
    code_hash: Mapped[str] = mapped_column(String(64), unique=True)
    role: Mapped[Role] = enum_column(Role)
    outlet_id: Mapped[int | None] = mapped_column(ForeignKey("outlets.id", ondelete="CASCADE"))
    created_by_id: Mapped[int | None] = mapped_column(
        ForeignKey("coordinators.id", ondelete="SET NULL")
    )
    created_at: Mapped[datetime] = created_column()
    expires_at: Mapped[datetime] = when_column(nullable=False)
    used_at: Mapped[datetime | None] = when_column()


class ConversationState(Base):
    """Where a contact is in a conversation; a row, so restarts and second instances agree."""

    __tablename__ = "conversation_states"

    contact_id: Mapped[int] = mapped_column(
        ForeignKey("contacts.id", ondelete="CASCADE"), primary_key=True
    )
    flow: Mapped[str] = mapped_column(String(32))
    step: Mapped[str] = mapped_column(String(32))
    data: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    updated_at: Mapped[datetime] = created_column()
    expires_at: Mapped[datetime | None] = when_column()
