"""Send a draft now (an all clear also ends its parent) and cancel an unsent alert."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import (
    or_,
    update,
)
from sqlalchemy.ext.asyncio import AsyncSession

from bot.db.models import (
    Alert,
    Delivery,
    FollowUp,
)
from bot.domain import AlertStatus, DeliveryStatus
from bot.services.alerts.audience import _materialise
from bot.services.alerts.drafts import _refuse_unchecked
from bot.services.alerts.model import AlertError
from bot.services.alerts.photos import drop_photo
from bot.services.alerts.reach import hold_to_cap
from bot.services.alerts.reading import _require


async def send_now(
    session: AsyncSession, *, alert_id: int, now: datetime, max_paid_stars: int = 0
) -> int:
    """Send a draft now: it becomes ``sending`` and its deliveries are queued in this
    transaction. Returns how many people it goes to. The outbox sends it at its next tick.

    For an all clear, the parent stops being current now and is not sent to anyone it had not
    reached yet. A paid alert whose cost is now over ``max_paid_stars`` goes free (its view
    says ``paid=False`` afterwards: tell the coordinator).
    """
    alert = await _require(session, alert_id)
    if alert.status is not AlertStatus.DRAFT:
        raise AlertError("this alert is not a draft any more", code="not_draft")
    _refuse_unchecked(alert)
    expires = now + timedelta(seconds=alert.lifetime_seconds)
    won = await session.scalar(
        update(Alert)
        .where(Alert.id == alert_id, Alert.status == AlertStatus.DRAFT, ~Alert.needs_check)
        .values(status=AlertStatus.SENDING, issued_at=now, due_at=now, expires_at=expires)
        .returning(Alert.id)
    )
    if won is None:
        raise AlertError("this alert is not a draft any more", code="not_draft")
    await session.refresh(alert)
    if alert.follow_up is FollowUp.ALL_CLEAR and alert.parent_id is not None:
        await _end_parent(session, alert.parent_id, now)
    count = await _materialise(session, alert, now)
    await hold_to_cap(session, alert=alert, max_stars=max_paid_stars)
    return count


async def _end_parent(session: AsyncSession, parent_id: int, now: datetime) -> None:
    await session.execute(
        update(Alert)
        .where(
            Alert.id == parent_id,
            or_(Alert.expires_at.is_(None), Alert.expires_at > now),
        )
        .values(expires_at=now)
    )
    await session.execute(
        update(Delivery)
        .where(Delivery.alert_id == parent_id, Delivery.status == DeliveryStatus.PENDING)
        .values(status=DeliveryStatus.EXPIRED, last_error="all_clear")
    )


async def cancel(session: AsyncSession, *, alert_id: int, now: datetime) -> bool:
    """Stop an alert: a draft or schedule (a recurring series too) is dropped; while sending,
    nobody who has not received it yet will; its photo is deleted. Returns False when it was
    already sent or cancelled."""
    won = await session.scalar(
        update(Alert)
        .where(
            Alert.id == alert_id,
            Alert.status.in_([AlertStatus.DRAFT, AlertStatus.SCHEDULED, AlertStatus.SENDING]),
        )
        .values(status=AlertStatus.CANCELLED, finished_at=now)
        .returning(Alert.id)
    )
    if won is None:
        return False
    await session.execute(
        update(Delivery)
        .where(Delivery.alert_id == alert_id, Delivery.status == DeliveryStatus.PENDING)
        .values(status=DeliveryStatus.EXPIRED, last_error="cancelled")
    )
    # Nothing more of it goes out: its photo has no use left (those who got it have it).
    await drop_photo(session, alert_id=alert_id)
    return True
