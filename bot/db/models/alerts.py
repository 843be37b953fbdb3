"""Bad-batch and safety alerts, who opted in for which area, and the delivery outbox."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from bot.db.base import Base
from bot.db.models._columns import created_column, enum_column, when_column
from bot.domain import AlertKind, AlertStatus, DeliveryStatus

EVERYWHERE = "*"


class Alert(Base):
    """A message for everyone subscribed to some areas, sent now, later or on a schedule."""

    __tablename__ = "alerts"
    __table_args__ = (Index("ix_alerts_status_due", "status", "due_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[AlertKind] = enum_column(AlertKind)
    severity: Mapped[int] = mapped_column(Integer, default=1)
    status: Mapped[AlertStatus] = enum_column(AlertStatus, default=AlertStatus.DRAFT)
    fields: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("alerts.id", ondelete="SET NULL"))
    created_by_id: Mapped[int | None] = mapped_column(
        ForeignKey("coordinators.id", ondelete="SET NULL")
    )
    recurrence: Mapped[str | None] = mapped_column(String(64))
    timezone: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = created_column()
    due_at: Mapped[datetime | None] = when_column()
    issued_at: Mapped[datetime | None] = when_column()
    expires_at: Mapped[datetime | None] = when_column()


class AlertArea(Base):
    """One targeted area of an alert (``*`` = everywhere)."""

    __tablename__ = "alert_areas"

    alert_id: Mapped[int] = mapped_column(
        ForeignKey("alerts.id", ondelete="CASCADE"), primary_key=True
    )
    area_code: Mapped[str] = mapped_column(String(32), primary_key=True)


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
    """The outbox: one row per alert and contact, so fan-out resumes without duplicates."""

    __tablename__ = "deliveries"
    __table_args__ = (
        UniqueConstraint("alert_id", "contact_id"),
        Index("ix_deliveries_status_next", "status", "next_attempt_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    alert_id: Mapped[int] = mapped_column(ForeignKey("alerts.id", ondelete="CASCADE"))
    contact_id: Mapped[int] = mapped_column(ForeignKey("contacts.id", ondelete="CASCADE"))
    status: Mapped[DeliveryStatus] = enum_column(DeliveryStatus, default=DeliveryStatus.PENDING)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime | None] = when_column()
    lease_until: Mapped[datetime | None] = when_column()
    sent_at: Mapped[datetime | None] = when_column()
    last_error: Mapped[str | None] = mapped_column(String(64))
