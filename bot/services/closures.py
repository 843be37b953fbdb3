"""One-off outlet closures ("closed today", holidays): stretches when an outlet counts as closed
whatever its opening hours say.

Routing (:mod:`bot.services.routing`) skips an outlet inside a closure, as does every "open now"
or "opens next" answer. Closing an outlet at once also lapses the offers waiting there for a
peer's answer, as removing its last peer does: the caller routes ``lapsed`` on
(``handlers.offers.dispatch``). Accepted pickups stay: a peer is holding them. Ended closures are
deleted by the retention sweep (:func:`purge_ended`).
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.db.models import Outlet, OutletClosure
from bot.domain import ClosureReason
from bot.services import audit, requests

MAX_LENGTH = timedelta(days=92)
"""Longest single closure: anything longer is the outlet going away (make it inactive)."""


class ClosureError(ValueError):
    """A closure that cannot be set; the message is short and for staff."""


@dataclass(frozen=True, slots=True)
class Closure:
    """One closure, times aware UTC; ``created_by`` is a role (peer, coordinator, web, cli)."""

    id: int
    outlet_id: int
    starts_at: datetime
    ends_at: datetime
    reason: ClosureReason
    created_by: str

    def active(self, now: datetime) -> bool:
        return self.starts_at <= now < self.ends_at


@dataclass(frozen=True, slots=True)
class Closed:
    """What :func:`close` did: the closure and the requests whose offers lapsed (route them)."""

    closure: Closure
    lapsed: tuple[int, ...] = ()


async def close(
    session: AsyncSession,
    *,
    outlet_id: int,
    starts_at: datetime,
    ends_at: datetime,
    reason: ClosureReason,
    actor: str,
    now: datetime,
) -> Closed:
    """Close the outlet over ``[starts_at, ends_at)``; ClosureError if the outlet is unknown,
    the times are not aware, the stretch is empty, already over or longer than MAX_LENGTH."""
    for moment in (starts_at, ends_at):
        if moment.tzinfo is None or moment.utcoffset() is None:
            raise ClosureError("closure times need a time zone")
    if ends_at <= starts_at:
        raise ClosureError("a closure must end after it starts")
    if ends_at <= now:
        raise ClosureError("that closure would already be over")
    if ends_at - starts_at > MAX_LENGTH:
        raise ClosureError(f"a closure lasts at most {MAX_LENGTH.days} days")
    if await session.get(Outlet, outlet_id) is None:
        raise ClosureError("no such outlet")
    row = OutletClosure(
        outlet_id=outlet_id,
        starts_at=starts_at,
        ends_at=ends_at,
        reason=ClosureReason(reason),
        created_by=actor,
        created_at=now,
    )
    session.add(row)
    await session.flush()
    lapsed: list[int] = []
    if starts_at <= now:
        lapsed = await requests.lapse_pending(session, outlet_id=outlet_id, now=now)
    await audit.record(
        session,
        actor=actor,
        action="outlet.closed",
        detail={
            "outlet_id": outlet_id,
            "reason": row.reason.value,
            "hours": round((ends_at - starts_at).total_seconds() / 3600, 1),
            "lapsed": len(lapsed),
        },
        now=now,
    )
    return Closed(closure=_closure(row), lapsed=tuple(lapsed))


async def close_today(
    session: AsyncSession,
    *,
    outlet_id: int,
    actor: str,
    now: datetime,
    reason: ClosureReason = ClosureReason.CLOSED_TODAY,
) -> Closed:
    """Close from ``now`` until the outlet's next local midnight."""
    zone = await _zone(session, outlet_id)
    return await close(
        session,
        outlet_id=outlet_id,
        starts_at=now,
        ends_at=local_midnight(now, zone, days=1),
        reason=reason,
        actor=actor,
        now=now,
    )


async def close_tomorrow(
    session: AsyncSession,
    *,
    outlet_id: int,
    actor: str,
    now: datetime,
    reason: ClosureReason = ClosureReason.CLOSED_TODAY,
) -> Closed:
    """Close for the whole of the outlet's next local day (midnight to midnight)."""
    zone = await _zone(session, outlet_id)
    return await close(
        session,
        outlet_id=outlet_id,
        starts_at=local_midnight(now, zone, days=1),
        ends_at=local_midnight(now, zone, days=2),
        reason=reason,
        actor=actor,
        now=now,
    )


async def reopen(session: AsyncSession, *, closure_id: int, actor: str, now: datetime) -> bool:
    """Cancel a closure (current or upcoming); False if there is none by that id."""
    outlet_id = await session.scalar(
        delete(OutletClosure)
        .where(OutletClosure.id == closure_id)
        .returning(OutletClosure.outlet_id)
    )
    if outlet_id is None:
        return False
    await audit.record(
        session, actor=actor, action="outlet.reopened", detail={"outlet_id": outlet_id}, now=now
    )
    return True


async def reopen_now(session: AsyncSession, *, outlet_id: int, actor: str, now: datetime) -> int:
    """Cancel the outlet's closures in force at ``now`` (upcoming ones stay); how many."""
    gone = (
        await session.scalars(
            delete(OutletClosure)
            .where(
                OutletClosure.outlet_id == outlet_id,
                OutletClosure.starts_at <= now,
                OutletClosure.ends_at > now,
            )
            .returning(OutletClosure.id)
        )
    ).all()
    if gone:
        await audit.record(
            session,
            actor=actor,
            action="outlet.reopened",
            detail={"outlet_id": outlet_id},
            now=now,
        )
    return len(gone)


async def current_and_upcoming(
    session: AsyncSession, *, outlet_id: int, now: datetime
) -> list[Closure]:
    """The outlet's closures not yet over at ``now``, earliest start first."""
    rows = await session.scalars(
        select(OutletClosure)
        .where(OutletClosure.outlet_id == outlet_id, OutletClosure.ends_at > now)
        .order_by(OutletClosure.starts_at, OutletClosure.id)
    )
    return [_closure(row) for row in rows]


async def closed_now(
    session: AsyncSession, *, outlet_ids: Collection[int] | None = None, now: datetime
) -> set[int]:
    """Which outlets (of ``outlet_ids``, or all) are inside a closure at ``now``."""
    query = select(OutletClosure.outlet_id).where(
        OutletClosure.starts_at <= now, OutletClosure.ends_at > now
    )
    if outlet_ids is not None:
        query = query.where(OutletClosure.outlet_id.in_(sorted(set(outlet_ids))))
    return set(await session.scalars(query))


async def closed_spans(
    session: AsyncSession, *, outlet_ids: Collection[int] | None = None, now: datetime
) -> dict[int, list[tuple[datetime, datetime]]]:
    """Closures not over at ``now`` as ``(start, end)`` per outlet, sorted: for "opens when?"."""
    query = select(OutletClosure.outlet_id, OutletClosure.starts_at, OutletClosure.ends_at).where(
        OutletClosure.ends_at > now
    )
    if outlet_ids is not None:
        query = query.where(OutletClosure.outlet_id.in_(sorted(set(outlet_ids))))
    spans: dict[int, list[tuple[datetime, datetime]]] = {}
    for row in (await session.execute(query.order_by(OutletClosure.starts_at))).all():
        spans.setdefault(row.outlet_id, []).append((row.starts_at, row.ends_at))
    return spans


async def purge_ended(session: AsyncSession, *, now: datetime) -> int:
    """Delete closures that ended at or before ``now``; how many (the retention sweep)."""
    gone = await session.scalars(
        delete(OutletClosure).where(OutletClosure.ends_at <= now).returning(OutletClosure.id)
    )
    return len(gone.all())


def local_midnight(now: datetime, zone: ZoneInfo, *, days: int) -> datetime:
    """The start of the local day ``days`` after ``now``'s, in ``zone``, as an aware instant.

    A midnight that does not exist (a DST jump at 00:00) becomes the instant the clocks jump.
    """
    day = now.astimezone(zone).date() + timedelta(days=days)
    local = datetime.combine(day, time(0), tzinfo=zone)
    # Round-trip through UTC: a non-existent wall time normalises to the real one after the jump.
    return local.astimezone(ZoneInfo("UTC")).astimezone(zone)


async def days_span(
    session: AsyncSession, *, outlet_id: int, first: date, last: date
) -> tuple[datetime, datetime]:
    """Whole local days ``first`` to ``last`` (both included) at the outlet, as ``[start, end)``
    instants for :func:`close`; ClosureError if ``last`` is before ``first``."""
    if last < first:
        raise ClosureError("the last day is before the first")
    zone = await _zone(session, outlet_id)
    start = datetime.combine(first, time(0), tzinfo=zone)
    end = datetime.combine(last + timedelta(days=1), time(0), tzinfo=zone)
    # Round-trip through UTC, as local_midnight does, for midnights a DST jump skips.
    utc = ZoneInfo("UTC")
    return start.astimezone(utc).astimezone(zone), end.astimezone(utc).astimezone(zone)


async def _zone(session: AsyncSession, outlet_id: int) -> ZoneInfo:
    timezone = await session.scalar(select(Outlet.timezone).where(Outlet.id == outlet_id))
    if timezone is None:
        raise ClosureError("no such outlet")
    try:
        return ZoneInfo(timezone)
    except (ValueError, OSError, ZoneInfoNotFoundError):
        raise ClosureError("the outlet's time zone is unreadable") from None


def _closure(row: OutletClosure) -> Closure:
    return Closure(
        id=row.id,
        outlet_id=row.outlet_id,
        starts_at=row.starts_at,
        ends_at=row.ends_at,
        reason=row.reason,
        created_by=row.created_by,
    )
