"""Who receives an alert, and materialising them: one ``INSERT ... SELECT ... ON CONFLICT DO
NOTHING`` writes a delivery per contact, so the audience never passes through Python and can
never hold a contact twice."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any, Final

from sqlalchemy import (
    Boolean,
    Integer,
    String,
    exists,
    func,
    literal,
    select,
)
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from bot.db.base import UTCDateTime
from bot.db.models import (
    EVERYWHERE,
    Alert,
    Contact,
    Delivery,
    FollowUp,
    Subscription,
)
from bot.domain import AlertKind, Channel, DeliveryStatus
from bot.services.alerts.reading import _areas, _require

# Bad-batch deliveries are claimed before anything else queued (0 = first).
_PRIORITY: Final[Mapping[AlertKind, int]] = {
    AlertKind.BAD_BATCH: 0,
    AlertKind.SAFETY: 1,
    AlertKind.SERVICE_CHANGE: 1,
}


# A parent's recipients who still get its follow-ups (not those it never reached).
_REACHED: Final = (
    DeliveryStatus.PENDING,
    DeliveryStatus.SENDING,
    DeliveryStatus.SENT,
    DeliveryStatus.UNKNOWN,
)


def _area_audience(areas: Sequence[str]) -> Any:
    """Contacts (id, channel) subscribed to any of ``areas``, reachable, each once."""
    query = (
        select(Contact.id, Contact.channel)
        .join(Subscription, Subscription.contact_id == Contact.id)
        .where(Contact.reachable.is_(True))
        .distinct()
    )
    if EVERYWHERE not in areas:
        query = query.where(Subscription.area_code.in_([*areas, EVERYWHERE]))
    return query


def _follow_up_audience(parent_id: int, statuses: Sequence[DeliveryStatus]) -> Any:
    """The parent's recipients (id, channel) who are still reachable and subscribed."""
    return (
        select(Contact.id, Contact.channel)
        .join(Delivery, Delivery.contact_id == Contact.id)
        .where(
            Delivery.alert_id == parent_id,
            Delivery.status.in_(list(statuses)),
            Contact.reachable.is_(True),
            # STOP means nothing more, follow-ups included.
            exists().where(Subscription.contact_id == Contact.id),
        )
    )


def _audience(alert: Alert, areas: Sequence[str]) -> Any:
    if alert.parent_id is None:
        return _area_audience(areas)
    statuses = (
        (DeliveryStatus.SENDING, DeliveryStatus.SENT, DeliveryStatus.UNKNOWN)
        if alert.follow_up is FollowUp.ALL_CLEAR
        else _REACHED
    )
    return _follow_up_audience(alert.parent_id, statuses)


async def audience_size(session: AsyncSession, *, alert_id: int) -> int:
    """How many contacts the alert would go to if sent now."""
    alert = await _require(session, alert_id)
    audience = _audience(alert, await _areas(session, alert_id)).subquery()
    return int(await session.scalar(select(func.count()).select_from(audience)) or 0)


async def audience_by_channel(session: AsyncSession, *, alert_id: int) -> dict[Channel, int]:
    """:func:`audience_size` per channel (channels nobody uses are left out)."""
    alert = await _require(session, alert_id)
    audience = _audience(alert, await _areas(session, alert_id)).subquery()
    rows = await session.execute(
        select(audience.c.channel, func.count()).group_by(audience.c.channel)
    )
    return {Channel(channel): int(n) for channel, n in rows.all()}


async def _materialise(session: AsyncSession, alert: Alert, now: datetime) -> int:
    """Write one pending delivery per audience member; returns how many the alert has."""
    audience = _audience(alert, await _areas(session, alert.id)).subquery()
    rows = select(
        literal(alert.id, Integer),
        audience.c.id,
        audience.c.channel,
        literal(_PRIORITY[alert.kind], Integer),
        literal(DeliveryStatus.PENDING.value, String),
        literal(0, Integer),
        literal(False, Boolean),
        literal(now, UTCDateTime()),
    ).where(audience.c.id.is_not(None))  # SQLite's upsert needs a WHERE to parse INSERT..SELECT
    insert = pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
    await session.execute(
        insert(Delivery)
        .from_select(
            [
                "alert_id",
                "contact_id",
                "channel",
                "priority",
                "status",
                "attempts",
                "doubtful",
                "next_attempt_at",
            ],
            rows,
        )
        .on_conflict_do_nothing(index_elements=["alert_id", "contact_id"])
    )
    count = await session.scalar(
        select(func.count()).select_from(Delivery).where(Delivery.alert_id == alert.id)
    )
    return int(count or 0)
