"""Scheduling a draft: once at a time, or repeating by a :class:`Recurrence` rule."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any, Final

from sqlalchemy import (
    update,
)
from sqlalchemy.ext.asyncio import AsyncSession

from bot.content import Gazetteer
from bot.db.models import (
    Alert,
    FollowUp,
)
from bot.domain import AlertStatus
from bot.services.alerts.drafts import _refuse_unchecked
from bot.services.alerts.model import AlertError, AlertView
from bot.services.alerts.reading import _areas, _get_view, _require
from bot.services.alerts.recurrence import Recurrence, local_when, zone_for

MAX_SCHEDULE_AHEAD: Final = timedelta(days=366)


async def schedule_once(
    session: AsyncSession, *, alert_id: int, at: datetime, now: datetime
) -> AlertView:
    """Send a draft at ``at`` (aware; build it in the area's zone, see :func:`zone_for`)."""
    if at.tzinfo is None:
        raise AlertError("a schedule needs a time zone")
    if not now < at <= now + MAX_SCHEDULE_AHEAD:
        raise AlertError("choose a time in the future, within a year", code="when")
    await _schedule(session, alert_id, values={"due_at": at.astimezone(UTC)})
    return await _get_view(session, alert_id)


async def schedule_recurring(
    session: AsyncSession,
    *,
    alert_id: int,
    rule: str | Recurrence,
    gazetteer: Gazetteer,
    now: datetime,
    until: datetime | None = None,
) -> AlertView:
    """Repeat a draft by ``rule`` (e.g. ``weekly:fri@18:00``) in its areas' local time, until
    ``until`` if given. Each occurrence is sent as its own alert. Returns the template; its
    ``due_at`` is the first occurrence."""
    recurrence = rule if isinstance(rule, Recurrence) else Recurrence.parse(rule)
    alert = await _require(session, alert_id)
    if alert.parent_id is not None:
        raise AlertError("an update cannot repeat")
    zone = zone_for(await _areas(session, alert_id), gazetteer)
    first = recurrence.next_after(now, zone)
    if until is not None and until < first:
        raise AlertError("the series ends before its first occurrence")
    await _schedule(
        session,
        alert_id,
        values={
            "due_at": first,
            "recurrence": str(recurrence),
            "timezone": zone.key,
            "expires_at": until,
        },
    )
    return await _get_view(session, alert_id)


async def _schedule(session: AsyncSession, alert_id: int, *, values: dict[str, Any]) -> None:
    alert = await _require(session, alert_id)
    if alert.parent_id is not None and alert.follow_up is FollowUp.ALL_CLEAR:
        raise AlertError("an all clear is sent now")
    _refuse_unchecked(alert)
    won = await session.scalar(
        update(Alert)
        .where(Alert.id == alert_id, Alert.status == AlertStatus.DRAFT, ~Alert.needs_check)
        .values(status=AlertStatus.SCHEDULED, **values)
        .returning(Alert.id)
    )
    if won is None:
        raise AlertError("this alert is not a draft any more", code="not_draft")


async def schedule_local(
    session: AsyncSession, *, alert_id: int, typed: str, gazetteer: Gazetteer, now: datetime
) -> tuple[AlertView, datetime]:
    """Schedule a draft at a typed local date and time (:func:`local_when`) in its areas'
    zone; returns the alert and the local time it goes out."""
    view = await _get_view(session, alert_id)
    try:
        at = local_when(typed, zone_for(view.areas, gazetteer))
    except OverflowError:
        raise AlertError("a date and time like 2026-11-26 18:00", code="when") from None
    return await schedule_once(session, alert_id=alert_id, at=at, now=now), at
