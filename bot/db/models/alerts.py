"""Bad-batch and safety alerts, who opted in for which area, and the delivery outbox."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    UniqueConstraint,
    false,
)
from sqlalchemy.orm import Mapped, mapped_column

from bot.db.base import Base
from bot.db.models._columns import created_column, enum_column, when_column
from bot.domain import AlertKind, AlertStatus, Channel, DeliveryStatus

EVERYWHERE = "*"


class FollowUp(StrEnum):
    """What a child alert says about its parent."""

    UPDATE = "update"
    ALL_CLEAR = "all_clear"


class Alert(Base):
    """A message for everyone subscribed to some areas, sent now, later or on a schedule.

    A recurring alert is a *template* (``recurrence`` set, status ``scheduled``, ``due_at`` the
    next occurrence); each occurrence is its own row with ``series_id`` pointing at the template,
    so deliveries stay unique per (occurrence, contact). For a template ``expires_at`` is the end
    of the series; for anything sent it is when the alert stops being current.
    """

    __tablename__ = "alerts"
    __table_args__ = (
        Index("ix_alerts_status_due", "status", "due_at"),
        # Two instances firing the same occurrence would collide here (belt and braces: firing
        # is already a conditional UPDATE on the template). An index, not a constraint, so
        # SQLite adds it without rebuilding the table.
        Index("uq_alerts_series_due", "series_id", "due_at", unique=True),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[AlertKind] = enum_column(AlertKind)
    severity: Mapped[int] = mapped_column(Integer, default=1)
    status: Mapped[AlertStatus] = enum_column(AlertStatus, default=AlertStatus.DRAFT)
    fields: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("alerts.id", ondelete="SET NULL"))
    follow_up: Mapped[FollowUp | None] = enum_column(FollowUp, nullable=True)
    # The recurring template an occurrence came from. No foreign key on purpose: adding one
    # makes SQLite rebuild `alerts`, and dropping the old table would cascade into deliveries.
    series_id: Mapped[int | None] = mapped_column(Integer)
    created_by_id: Mapped[int | None] = mapped_column(
        ForeignKey("coordinators.id", ondelete="SET NULL")
    )
    recurrence: Mapped[str | None] = mapped_column(String(64))
    timezone: Mapped[str | None] = mapped_column(String(64))
    # How long each sending stays current (expires_at = issue or occurrence time + this).
    lifetime_seconds: Mapped[int] = mapped_column(Integer, default=72 * 3600)
    created_at: Mapped[datetime] = created_column()
    due_at: Mapped[datetime | None] = when_column()
    issued_at: Mapped[datetime | None] = when_column()
    expires_at: Mapped[datetime | None] = when_column()
    finished_at: Mapped[datetime | None] = when_column()
    # Final delivery counts, kept when the deliveries themselves are purged.
    tally: Mapped[dict[str, int] | None] = mapped_column(JSON)
    # The language ``fields`` are written in (the composing coordinator's locale), and the
    # same fields written again in other languages: {locale: {field: text}}. Nullable so
    # SQLite adds them without rebuilding the table.
    base_locale: Mapped[str | None] = mapped_column(String(16))
    translations: Mapped[dict[str, dict[str, str]] | None] = mapped_column(JSON)
    # A draft made from a community report: what someone typed, masked by a heuristic. It is
    # neither sent nor scheduled until a coordinator has edited its text or confirmed that no
    # one can be identified in it.
    needs_check: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    # How sure the group is of what it says (``checked``, ``peers``, ``community``; NULL: not
    # said) and the routes of use the advice is for (comma-separated, e.g. ``smoked,injected``).
    confidence: Mapped[str | None] = mapped_column(String(16))
    routes: Mapped[str | None] = mapped_column(String(64))
    # Sent as Telegram's paid broadcast (up to 1,000 messages/s for 0.1 Stars each), as the
    # coordinator chose after seeing the cost; turned off at sending when over the cap.
    paid: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())


class AlertArea(Base):
    """One targeted area of an alert (``*`` = everywhere)."""

    __tablename__ = "alert_areas"

    alert_id: Mapped[int] = mapped_column(
        ForeignKey("alerts.id", ondelete="CASCADE"), primary_key=True
    )
    area_code: Mapped[str] = mapped_column(String(32), primary_key=True)


class AlertPhoto(Base):
    """The photo sent with an alert: only ever the re-encoded JPEG, with no metadata
    (:func:`bot.privacy.images.strip_image`); a person's original file is never stored.

    A table of its own so reading alerts never loads the bytes; deleted with its alert, when
    the alert is cancelled, and when retention blanks the alert's free text.
    """

    __tablename__ = "alert_photos"

    alert_id: Mapped[int] = mapped_column(
        ForeignKey("alerts.id", ondelete="CASCADE"), primary_key=True
    )
    jpeg: Mapped[bytes] = mapped_column(LargeBinary)


class Subscription(Base):
    """A contact opted in to alerts for an area (``*`` = everywhere)."""

    __tablename__ = "subscriptions"
    __table_args__ = (Index("ix_subscriptions_area", "area_code"),)

    contact_id: Mapped[int] = mapped_column(
        ForeignKey("contacts.id", ondelete="CASCADE"), primary_key=True
    )
    area_code: Mapped[str] = mapped_column(String(32), primary_key=True)
    created_at: Mapped[datetime] = created_column()


class Delivery(Base):
    """The outbox: one row per alert and contact, so fan-out resumes without duplicates.

    ``channel`` and ``priority`` are copied from the contact and the alert when the row is made,
    so claiming the next due rows is one ordered index range scan. ``attempts`` counts claims and
    fences late results: an outcome is written only while the row still carries the claim's
    count. ``doubtful`` marks a row whose earlier attempt may have reached the person (its lease
    expired mid-send, or the send timed out); a successful resend ends it ``unknown``.
    """

    __tablename__ = "deliveries"
    __table_args__ = (
        UniqueConstraint("alert_id", "contact_id"),
        Index("ix_deliveries_claim", "status", "channel", "priority", "next_attempt_at"),
        Index("ix_deliveries_alert_status", "alert_id", "status"),
        Index("ix_deliveries_contact", "contact_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    alert_id: Mapped[int] = mapped_column(ForeignKey("alerts.id", ondelete="CASCADE"))
    contact_id: Mapped[int] = mapped_column(ForeignKey("contacts.id", ondelete="CASCADE"))
    channel: Mapped[Channel] = enum_column(Channel)
    priority: Mapped[int] = mapped_column(Integer, default=1)
    status: Mapped[DeliveryStatus] = enum_column(DeliveryStatus, default=DeliveryStatus.PENDING)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    doubtful: Mapped[bool] = mapped_column(Boolean, default=False)
    next_attempt_at: Mapped[datetime | None] = when_column()
    lease_until: Mapped[datetime | None] = when_column()
    sent_at: Mapped[datetime | None] = when_column()
    last_error: Mapped[str | None] = mapped_column(String(64))
