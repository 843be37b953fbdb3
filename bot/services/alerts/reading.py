"""Reading alerts: ORM rows to :class:`~bot.services.alerts.model.AlertView`, single and in
bulk, and the lists coordinators browse."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import datetime, timedelta

from sqlalchemy import (
    exists,
    or_,
    select,
)
from sqlalchemy.ext.asyncio import AsyncSession

from bot.db.models import (
    EVERYWHERE,
    Alert,
    AlertArea,
    Coordinator,
    Subscription,
)
from bot.domain import AlertStatus
from bot.services.alerts.model import AlertError, AlertView


def _view(alert: Alert, areas: Sequence[str]) -> AlertView:
    return AlertView(
        id=alert.id,
        kind=alert.kind,
        severity=alert.severity,
        status=alert.status,
        fields=dict(alert.fields or {}),
        areas=tuple(areas),
        lifetime=timedelta(seconds=alert.lifetime_seconds),
        follow_up=alert.follow_up,
        parent_id=alert.parent_id,
        series_id=alert.series_id,
        created_by_id=alert.created_by_id,
        recurrence=alert.recurrence,
        timezone=alert.timezone,
        due_at=alert.due_at,
        issued_at=alert.issued_at,
        expires_at=alert.expires_at,
        finished_at=alert.finished_at,
        base_locale=alert.base_locale,
        translations={k: dict(v) for k, v in (alert.translations or {}).items()},
        needs_check=bool(alert.needs_check),
        confidence=alert.confidence,
        routes=tuple(r for r in (alert.routes or "").split(",") if r),
        paid=bool(alert.paid),
    )


async def _areas(session: AsyncSession, alert_id: int) -> list[str]:
    rows = await session.scalars(
        select(AlertArea.area_code)
        .where(AlertArea.alert_id == alert_id)
        .order_by(AlertArea.area_code)
    )
    return list(rows)


async def _views(session: AsyncSession, alerts: Sequence[Alert]) -> list[AlertView]:
    if not alerts:
        return []
    rows = await session.execute(
        select(AlertArea.alert_id, AlertArea.area_code)
        .where(AlertArea.alert_id.in_([a.id for a in alerts]))
        .order_by(AlertArea.area_code)
    )
    areas: dict[int, list[str]] = {}
    for alert_id, code in rows.all():
        areas.setdefault(alert_id, []).append(code)
    return [_view(alert, areas.get(alert.id, [])) for alert in alerts]


async def get(session: AsyncSession, *, alert_id: int) -> AlertView | None:
    """The alert, or None."""
    alert = await session.get(Alert, alert_id, populate_existing=True)
    if alert is None:
        return None
    return _view(alert, await _areas(session, alert_id))


async def get_many(session: AsyncSession, *, alert_ids: Sequence[int]) -> list[AlertView]:
    """The alerts with these ids that exist, in the order given."""
    if not alert_ids:
        return []
    found = await session.scalars(select(Alert).where(Alert.id.in_(list(alert_ids))))
    by_id = {alert.id: alert for alert in found}
    return await _views(session, [by_id[i] for i in alert_ids if i in by_id])


async def _require(session: AsyncSession, alert_id: int) -> Alert:
    alert = await session.get(Alert, alert_id, populate_existing=True)
    if alert is None:
        raise AlertError("no such alert")
    return alert


async def list_alerts(
    session: AsyncSession,
    *,
    statuses: Collection[AlertStatus] | None = None,
    limit: int = 20,
    include_templates: bool = True,
) -> list[AlertView]:
    """Alerts for coordinators, newest first (optionally only some statuses)."""
    query = select(Alert).order_by(Alert.id.desc()).limit(limit)
    if statuses is not None:
        query = query.where(Alert.status.in_(list(statuses)))
    if not include_templates:
        query = query.where(Alert.recurrence.is_(None))
    return await _views(session, list(await session.scalars(query)))


async def list_current(
    session: AsyncSession, *, contact_id: int, now: datetime, limit: int = 10
) -> list[AlertView]:
    """Current (issued, unexpired) alerts for the areas the contact subscribed to, newest
    first: what ``/alerts`` shows a person."""
    matches = (
        select(AlertArea.alert_id)
        .join(Subscription, Subscription.contact_id == contact_id)
        .where(
            AlertArea.alert_id == Alert.id,
            or_(
                AlertArea.area_code == Subscription.area_code,
                AlertArea.area_code == EVERYWHERE,
                Subscription.area_code == EVERYWHERE,
            ),
        )
    )
    query = (
        select(Alert)
        .where(
            Alert.status.in_([AlertStatus.SENDING, AlertStatus.SENT]),
            Alert.recurrence.is_(None),
            Alert.issued_at.is_not(None),
            or_(Alert.expires_at.is_(None), Alert.expires_at > now),
            exists(matches),
        )
        .order_by(Alert.issued_at.desc(), Alert.id.desc())
        .limit(limit)
    )
    return await _views(session, list(await session.scalars(query)))


async def _get_view(session: AsyncSession, alert_id: int) -> AlertView:
    view = await get(session, alert_id=alert_id)
    if view is None:
        raise AlertError("no such alert")
    return view


async def _creator_contact(session: AsyncSession, coordinator_id: int | None) -> int | None:
    if coordinator_id is None:
        return None
    return await session.scalar(
        select(Coordinator.contact_id).where(Coordinator.id == coordinator_id)
    )
