"""How far sending has got: deliveries by status for one alert or many, and alerts whose
deliveries have all finished (whose creator is told)."""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime
from typing import Final

from sqlalchemy import (
    func,
    or_,
    select,
    update,
)
from sqlalchemy.ext.asyncio import AsyncSession

from bot.db.models import (
    Alert,
    Delivery,
)
from bot.domain import AlertStatus, DeliveryStatus
from bot.services.alerts.model import Finished, Tally
from bot.services.alerts.reading import _creator_contact

_OPEN_DELIVERY: Final = (DeliveryStatus.PENDING, DeliveryStatus.SENDING)


async def progress(session: AsyncSession, *, alert_id: int) -> Tally:
    """Deliveries of the alert by status (from the kept tally once they are purged)."""
    rows = await session.execute(
        select(Delivery.status, func.count())
        .where(Delivery.alert_id == alert_id)
        .group_by(Delivery.status)
    )
    counts = {DeliveryStatus(status).value: int(n) for status, n in rows.all()}
    if not counts:
        kept = await session.scalar(select(Alert.tally).where(Alert.id == alert_id))
        if kept:
            return Tally.from_dict(kept)
    return Tally.from_dict(counts)


async def tallies(session: AsyncSession, *, alert_ids: Collection[int]) -> dict[int, Tally]:
    """:func:`progress` of many alerts in one query (kept tallies where rows are purged)."""
    if not alert_ids:
        return {}
    rows = await session.execute(
        select(Delivery.alert_id, Delivery.status, func.count())
        .where(Delivery.alert_id.in_(list(alert_ids)))
        .group_by(Delivery.alert_id, Delivery.status)
    )
    counts: dict[int, dict[str, int]] = {}
    for alert_id, status, n in rows.all():
        counts.setdefault(alert_id, {})[DeliveryStatus(status).value] = int(n)
    kept = await session.execute(
        select(Alert.id, Alert.tally).where(
            Alert.id.in_([i for i in alert_ids if i not in counts]), Alert.tally.is_not(None)
        )
    )
    for alert_id, tally in kept.all():
        counts[alert_id] = dict(tally or {})
    return {alert_id: Tally.from_dict(counts.get(alert_id, {})) for alert_id in alert_ids}


async def finish_done(session: AsyncSession, *, now: datetime, limit: int = 50) -> list[Finished]:
    """Alerts being sent whose deliveries are all final become ``sent``, with their tally
    kept. Each is returned once (to whichever instance wins it) so its creator hears once.
    Cancelled alerts get their tally kept too, without a notice."""
    open_rows = (
        select(Delivery.id)
        .where(Delivery.alert_id == Alert.id, Delivery.status.in_(list(_OPEN_DELIVERY)))
        .exists()
    )
    ids = list(
        await session.scalars(
            select(Alert.id)
            .where(
                or_(
                    Alert.status == AlertStatus.SENDING,
                    (Alert.status == AlertStatus.CANCELLED) & Alert.tally.is_(None),
                ),
                ~open_rows,
            )
            .limit(limit)
        )
    )
    finished = []
    for alert_id in ids:
        tally = await progress(session, alert_id=alert_id)
        await session.execute(
            update(Alert)
            .where(Alert.id == alert_id, Alert.status == AlertStatus.CANCELLED)
            .values(tally=tally.as_dict())
        )
        won = (
            await session.execute(
                update(Alert)
                .where(Alert.id == alert_id, Alert.status == AlertStatus.SENDING, ~open_rows)
                .values(status=AlertStatus.SENT, finished_at=now, tally=tally.as_dict())
                .returning(Alert.id, Alert.created_by_id, Alert.issued_at)
            )
        ).first()
        if won is None:
            continue
        creator = await _creator_contact(session, won.created_by_id)
        took = now - won.issued_at if won.issued_at is not None else None
        finished.append(
            Finished(alert_id=alert_id, tally=tally, creator_contact_id=creator, took=took)
        )
    return finished
