"""Whether requests can succeed: the counts the start-up report warns about.

Counts only, no rows about people: active outlets, those opening within a day, those with an
enrolled peer worker, coordinators, and which active outlets are the shipped demo ones.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.content.hours import stored
from bot.db.models import Coordinator, Outlet, PeerWorker
from bot.services import closures
from bot.services.outlet_hours import Span, opens_at

OPEN_WINDOW = timedelta(hours=24)


@dataclass(frozen=True)
class Readiness:
    """What the database holds that routing needs."""

    active_outlets: int
    open_soon: int  # active outlets open at some moment of the next OPEN_WINDOW
    staffed_outlets: int  # active outlets with at least one active peer worker
    coordinators: int
    demo_outlets: tuple[str, ...] = ()  # keys of active outlets that are demo ones, sorted


async def readiness(
    session: AsyncSession,
    *,
    now: datetime,
    demo_keys: Collection[str] = (),
    window: timedelta = OPEN_WINDOW,
) -> Readiness:
    """Count what routing needs at ``now``; ``demo_keys`` are the demo outlets' keys."""
    outlets = (
        await session.execute(
            select(Outlet.id, Outlet.key, Outlet.hours, Outlet.timezone).where(
                Outlet.active.is_(True)
            )
        )
    ).all()
    staffed = await session.scalar(
        select(func.count(func.distinct(PeerWorker.outlet_id)))
        .join(Outlet, Outlet.id == PeerWorker.outlet_id)
        .where(PeerWorker.active.is_(True), Outlet.active.is_(True))
    )
    coordinators = await session.scalar(select(func.count()).select_from(Coordinator))
    demo = set(demo_keys)
    spans = await closures.closed_spans(session, now=now)
    return Readiness(
        active_outlets=len(outlets),
        open_soon=sum(
            _opens_within(o.hours, o.timezone, now, window, spans.get(o.id, [])) for o in outlets
        ),
        staffed_outlets=int(staffed or 0),
        coordinators=int(coordinators or 0),
        demo_outlets=tuple(sorted(o.key for o in outlets if o.key in demo)),
    )


def _opens_within(
    hours: str, timezone: str, now: datetime, window: timedelta, spans: list[Span]
) -> bool:
    """Whether stored hours say open, outside any closure, at some moment in
    ``[now, now + window)``; unreadable hours or zones count as never open (as in routing)."""
    schedule = stored(hours)
    try:
        zone = ZoneInfo(timezone)
    except (ValueError, OSError, ZoneInfoNotFoundError):
        return False
    if schedule is None:
        return False
    opens = opens_at(schedule, zone, now, spans)
    return opens is not None and opens < now + window
