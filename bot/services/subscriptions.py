"""Who gets alerts for which areas: subscribe, change, list, STOP.

Only the area code is stored with the contact: no location, no time of day, nothing else.
``*`` (:data:`EVERYWHERE`) means every area, including ones added to the gazetteer later.
A contact that blocked the bot loses every subscription at the first refusal
(:func:`drop_unreachable`); writing to the bot again makes it reachable, not subscribed.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from datetime import datetime

from sqlalchemy import delete, func, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from bot.content import Gazetteer
from bot.db.models import EVERYWHERE, Contact, Delivery, PendingMessage, Subscription
from bot.domain import DeliveryStatus
from bot.privacy import hour_of

__all__ = [
    "EVERYWHERE",
    "SubscriptionError",
    "areas_of",
    "drop_unreachable",
    "replace",
    "stop_all",
    "subscribe",
    "subscriber_count",
    "unsubscribe",
    "validate_areas",
]

# More than this is a mistake or an attack, not a person's neighbourhoods.
MAX_AREAS = 50


class SubscriptionError(ValueError):
    """An area list that cannot be stored; the message names the first problem."""


def validate_areas(areas: Iterable[str], gazetteer: Gazetteer) -> list[str]:
    """Known area codes (or ``*``), without repeats, in the order given.

    Raises SubscriptionError for an unknown code, an empty list or too many areas.
    """
    codes: list[str] = []
    for raw in areas:
        code = raw.strip()
        if code != EVERYWHERE and gazetteer.by_code(code) is None:
            raise SubscriptionError("unknown area")
        if code not in codes:
            codes.append(code)
    if not codes:
        raise SubscriptionError("choose at least one area")
    if len(codes) > MAX_AREAS:
        raise SubscriptionError(f"at most {MAX_AREAS} areas")
    return codes


async def subscribe(
    session: AsyncSession,
    *,
    contact_id: int,
    areas: Iterable[str],
    gazetteer: Gazetteer,
    now: datetime,
) -> list[str]:
    """Add areas to the contact's subscriptions (idempotent); returns all of them, sorted."""
    codes = validate_areas(areas, gazetteer)
    insert = pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
    hour = hour_of(now)  # kept while subscribed: the hour, not the update's time
    await session.execute(
        insert(Subscription)
        .values([{"contact_id": contact_id, "area_code": c, "created_at": hour} for c in codes])
        .on_conflict_do_nothing(index_elements=["contact_id", "area_code"])
    )
    return await areas_of(session, contact_id=contact_id)


async def replace(
    session: AsyncSession,
    *,
    contact_id: int,
    areas: Iterable[str],
    gazetteer: Gazetteer,
    now: datetime,
) -> list[str]:
    """Make the contact's subscriptions exactly ``areas``; returns them, sorted."""
    codes = validate_areas(areas, gazetteer)
    await session.execute(
        delete(Subscription).where(
            Subscription.contact_id == contact_id, Subscription.area_code.not_in(codes)
        )
    )
    return await subscribe(
        session, contact_id=contact_id, areas=codes, gazetteer=gazetteer, now=now
    )


async def unsubscribe(session: AsyncSession, *, contact_id: int, areas: Collection[str]) -> int:
    """Remove some areas; returns how many subscriptions went."""
    if not areas:
        return 0
    result = await session.execute(
        delete(Subscription)
        .where(Subscription.contact_id == contact_id, Subscription.area_code.in_(list(areas)))
        .returning(Subscription.area_code)
    )
    return len(result.all())


async def stop_all(session: AsyncSession, *, contact_id: int) -> int:
    """STOP: remove every subscription of the contact in one step; returns how many.

    Alerts already on their way to the contact (pending deliveries) are dropped too: after STOP
    nothing more arrives.
    """
    result = await session.execute(
        delete(Subscription)
        .where(Subscription.contact_id == contact_id)
        .returning(Subscription.area_code)
    )
    await session.execute(
        update(Delivery)
        .where(Delivery.contact_id == contact_id, Delivery.status == DeliveryStatus.PENDING)
        .values(status=DeliveryStatus.EXPIRED, last_error="stopped")
    )
    return len(result.all())


async def drop_unreachable(session: AsyncSession, *, contact_ids: Collection[int]) -> None:
    """Contacts that refused a message (blocked the bot): not reachable, no subscriptions,
    and nothing else queued for them (alerts or refused replies)."""
    if not contact_ids:
        return
    ids = sorted(contact_ids)
    await session.execute(update(Contact).where(Contact.id.in_(ids)).values(reachable=False))
    await session.execute(delete(Subscription).where(Subscription.contact_id.in_(ids)))
    await session.execute(
        update(Delivery)
        .where(Delivery.contact_id.in_(ids), Delivery.status == DeliveryStatus.PENDING)
        .values(status=DeliveryStatus.UNREACHABLE, last_error="blocked")
    )
    await session.execute(delete(PendingMessage).where(PendingMessage.contact_id.in_(ids)))


async def areas_of(session: AsyncSession, *, contact_id: int) -> list[str]:
    """The contact's subscribed area codes, sorted (``*`` first when present)."""
    rows = await session.scalars(
        select(Subscription.area_code)
        .where(Subscription.contact_id == contact_id)
        .order_by(Subscription.area_code)
    )
    return list(rows)


async def subscriber_count(session: AsyncSession, *, areas: Collection[str]) -> int:
    """How many reachable contacts an alert for ``areas`` would reach now."""
    wanted = list(areas)
    if not wanted:
        return 0
    match = (
        Subscription.area_code.is_not(None)
        if EVERYWHERE in wanted
        else Subscription.area_code.in_([*wanted, EVERYWHERE])
    )
    count = await session.scalar(
        select(func.count(func.distinct(Subscription.contact_id)))
        .join(Contact, Contact.id == Subscription.contact_id)
        .where(match, Contact.reachable.is_(True))
    )
    return int(count or 0)
