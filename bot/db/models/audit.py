"""An append-only record of what happened, with no identifiers: the source of aggregate stats."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from bot.db.base import Base
from bot.db.models._columns import created_column


class AuditEvent(Base):
    """One event: who acted by role only, what happened, to which outlet or request reference.

    A per-request record: it goes with its request (retention purge, ``/forget``, looked up by
    ``subject``) or once older than the retention period (by ``at``); funders' numbers were
    counted from it when it was recorded (:mod:`bot.services.counts`). ``at`` is the hour
    only (see :func:`bot.services.audit.record`).
    """

    __tablename__ = "audit_events"
    __table_args__ = (
        Index("ix_audit_events_at", "at"),
        Index("ix_audit_events_subject", "subject"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = created_column()
    actor: Mapped[str] = mapped_column(String(16))
    action: Mapped[str] = mapped_column(String(48))
    subject: Mapped[str | None] = mapped_column(String(64))
    detail: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


class SeenUpdate(Base):
    """A platform update already handled: re-deliveries (webhook retries) are dropped.

    The key is a keyed hash of the channel's update key (``tg:12345``), never the key itself:
    with the platform's logs an update id names its sender. ``seen_at`` is the hour it was
    seen; rows are purged a day after that hour (23 to 24 hours after the update).
    """

    __tablename__ = "seen_updates"

    key: Mapped[str] = mapped_column(String(48), primary_key=True)
    seen_at: Mapped[datetime] = created_column()
