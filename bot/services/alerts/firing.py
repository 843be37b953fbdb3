"""Due work for the outbox tick: find alerts whose time has come and fire them.

A recurring template is advanced with a conditional ``UPDATE ... WHERE due_at = :seen`` and its
occurrence inserted in the same transaction, so two instances firing at once produce one
occurrence, and a restart neither loses nor repeats one."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import (
    select,
    update,
)
from sqlalchemy.ext.asyncio import AsyncSession

from bot.content import Gazetteer
from bot.db.models import (
    Alert,
    AlertArea,
)
from bot.domain import AlertStatus
from bot.services.alerts.audience import _materialise
from bot.services.alerts.model import Fired
from bot.services.alerts.reach import hold_to_cap
from bot.services.alerts.reading import _areas, _creator_contact
from bot.services.alerts.recurrence import Recurrence, zone_for


async def due_alert_ids(session: AsyncSession, *, now: datetime, limit: int = 20) -> list[int]:
    """Scheduled alerts (one-off or recurring templates) whose time has come."""
    rows = await session.scalars(
        select(Alert.id)
        .where(Alert.status == AlertStatus.SCHEDULED, Alert.due_at <= now)
        .order_by(Alert.due_at)
        .limit(limit)
    )
    return list(rows)


async def fire(
    session: AsyncSession,
    *,
    alert_id: int,
    now: datetime,
    gazetteer: Gazetteer,
    max_paid_stars: int = 0,
) -> Fired | None:
    """Send one due scheduled alert, if this caller wins it (None when another instance did,
    or it is not due). A recurring template moves on to its next occurrence in the same
    transaction; occurrences missed while the bot was down are not sent late, except the
    latest if it is still current. A paid alert over ``max_paid_stars`` now goes free
    (``Fired.paid_dropped``)."""
    alert = await session.get(Alert, alert_id, populate_existing=True)
    if alert is None or alert.status is not AlertStatus.SCHEDULED or alert.due_at is None:
        return None
    if alert.due_at > now:
        return None
    if alert.recurrence:
        return await _fire_occurrence(session, alert, now, gazetteer, max_paid_stars)
    lifetime = timedelta(seconds=alert.lifetime_seconds)
    expires = alert.due_at + lifetime
    missed = expires <= now
    won = await session.scalar(
        update(Alert)
        .where(Alert.id == alert.id, Alert.status == AlertStatus.SCHEDULED)
        .values(
            status=AlertStatus.CANCELLED if missed else AlertStatus.SENDING,
            issued_at=None if missed else now,
            expires_at=expires,
            finished_at=now if missed else None,
        )
        .returning(Alert.id)
    )
    if won is None:
        return None
    creator = await _creator_contact(session, alert.created_by_id)
    if missed:
        return Fired(alert_id=alert.id, deliveries=0, missed=True, creator_contact_id=creator)
    await session.refresh(alert)
    count = await _materialise(session, alert, now)
    dropped = await hold_to_cap(session, alert=alert, max_stars=max_paid_stars)
    return Fired(
        alert_id=alert.id, deliveries=count, creator_contact_id=creator, paid_dropped=dropped
    )


async def _fire_occurrence(
    session: AsyncSession, template: Alert, now: datetime, gazetteer: Gazetteer, max_stars: int
) -> Fired | None:
    assert template.recurrence is not None
    assert template.due_at is not None
    rule = Recurrence.parse(template.recurrence)
    areas = await _areas(session, template.id)
    zone = ZoneInfo(template.timezone) if template.timezone else zone_for(areas, gazetteer)
    seen = template.due_at
    occurrence = rule.latest_until(seen, now, zone)
    following = rule.next_after(occurrence, zone)
    ended = template.expires_at is not None and following > template.expires_at
    won = await session.scalar(
        update(Alert)
        .where(
            Alert.id == template.id,
            Alert.status == AlertStatus.SCHEDULED,
            Alert.due_at == seen,
        )
        .values(
            due_at=following,
            status=AlertStatus.SENT if ended else AlertStatus.SCHEDULED,
            finished_at=now if ended else None,
        )
        .returning(Alert.id)
    )
    if won is None:
        return None
    creator = await _creator_contact(session, template.created_by_id)
    lifetime = timedelta(seconds=template.lifetime_seconds)
    if occurrence + lifetime <= now:
        return Fired(
            alert_id=template.id,
            deliveries=0,
            missed=True,
            template_id=template.id,
            creator_contact_id=creator,
        )
    instance = Alert(
        kind=template.kind,
        severity=template.severity,
        status=AlertStatus.SENDING,
        fields=dict(template.fields or {}),
        # Each occurrence is the template's text, in every language it was written in.
        base_locale=template.base_locale,
        translations={k: dict(v) for k, v in template.translations.items()}
        if template.translations
        else None,
        series_id=template.id,
        created_by_id=template.created_by_id,
        timezone=template.timezone,
        lifetime_seconds=template.lifetime_seconds,
        confidence=template.confidence,
        routes=template.routes,
        paid=template.paid,
        created_at=now,
        due_at=occurrence,
        issued_at=now,
        expires_at=occurrence + lifetime,
    )
    session.add(instance)
    await session.flush()
    session.add_all([AlertArea(alert_id=instance.id, area_code=code) for code in areas])
    await session.flush()
    count = await _materialise(session, instance, now)
    # The series stays paid: each occurrence is held to the cap as it goes out.
    dropped = await hold_to_cap(session, alert=instance, max_stars=max_stars)
    return Fired(
        alert_id=instance.id,
        deliveries=count,
        template_id=template.id,
        creator_contact_id=creator,
        paid_dropped=dropped,
    )
