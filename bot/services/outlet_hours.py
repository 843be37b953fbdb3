"""An outlet's opening hours at runtime: change them (validated by the OSM library, audited) and
say what they mean now ("open now, closes 18:00" / "opens Tue 10:00"), closures included."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.content.hours import OpeningHours, stored
from bot.db.models import Outlet
from bot.services import audit, closures
from bot.services.routing import is_open

Span = tuple[datetime, datetime]
"""A closure's ``[start, end)``, aware."""

# "Opens when?" steps over at most this many closures and closed stretches before giving up.
_MAX_STEPS = 16


class HoursError(ValueError):
    """Hours that cannot be set; the message is one short line for staff."""


@dataclass(frozen=True, slots=True)
class HoursNow:
    """What the hours (and closures) mean at a moment. Times are aware, in the outlet's zone.

    ``open``: open now; then ``closes_at`` is when it next closes (None: not within 8 days).
    Otherwise ``opens_at`` is when it next opens (None: not within 8 days), and ``closure``
    tells whether a one-off closure is why it is closed now.
    """

    open: bool
    closes_at: datetime | None = None
    opens_at: datetime | None = None
    closure: bool = False


async def set_hours(
    session: AsyncSession, *, outlet_id: int, text: str, actor: str, now: datetime
) -> OpeningHours:
    """Replace the outlet's hours with ``text`` (OSM syntax, or the legacy compact form).

    The stored value is the library's canonical spelling, which is returned. HoursError (and
    nothing changed) for unreadable text or an unknown outlet.
    """
    try:
        hours = OpeningHours.parse(text)
    except ValueError as problem:
        raise HoursError(str(problem)) from None
    outlet = await session.get(Outlet, outlet_id)
    if outlet is None:
        raise HoursError("no such outlet")
    if outlet.hours != hours.text:
        outlet.hours = hours.text
        outlet.updated_at = now
        await audit.record(
            session, actor=actor, action="outlet.hours", detail={"outlet_id": outlet_id}, now=now
        )
        await session.flush()
    return hours


async def open_now(session: AsyncSession, *, now: datetime) -> list[int]:
    """Ids of active outlets open at ``now`` by their hours and not inside a closure, by id.

    Staffing and stock are not looked at: that is routing's question, not "is it open?".
    """
    closed = await closures.closed_now(session, now=now)
    rows = await session.execute(
        select(Outlet.id, Outlet.hours, Outlet.timezone)
        .where(Outlet.active.is_(True))
        .order_by(Outlet.id)
    )
    return [
        row.id for row in rows if row.id not in closed and is_open(row.hours, row.timezone, now)
    ]


def validate(text: str) -> str | None:
    """The reason ``text`` is not usable as hours, or None if it is (for a form's live check)."""
    try:
        OpeningHours.parse(text)
    except ValueError as problem:
        return str(problem)
    return None


def describe(
    text: str | OpeningHours | None,
    *,
    timezone: str | ZoneInfo,
    now: datetime,
    closures: Sequence[Span] = (),
) -> HoursNow:
    """Open or closed at ``now``, and the next change, with ``closures`` counted as closed.

    Unreadable hours or zones read as closed with no known opening (as routing treats them).
    Render it with ``handlers.ui.hours_now_text``.
    """
    hours = text if isinstance(text, OpeningHours) else stored(text)
    try:
        zone = timezone if isinstance(timezone, ZoneInfo) else ZoneInfo(timezone)
    except (ValueError, OSError, ZoneInfoNotFoundError):
        return HoursNow(open=False)
    if hours is None:
        return HoursNow(open=False)
    spans = sorted(closures)
    in_closure = any(start <= now < end for start, end in spans)
    if not in_closure and hours.is_open(now, zone):
        closes = hours.next_change(now, zone)
        for start, _end in spans:  # a closure starting before the hours end cuts them short
            if start > now and (closes is None or start < closes):
                closes = start
        return HoursNow(open=True, closes_at=_local(closes, zone))
    opens = opens_at(hours, zone, now, spans)
    return HoursNow(open=False, opens_at=_local(opens, zone), closure=in_closure)


def opens_at(
    hours: OpeningHours, zone: ZoneInfo, now: datetime, closures: Sequence[Span] = ()
) -> datetime | None:
    """The first instant at or after ``now`` when the hours say open and no closure holds;
    None if not within the hours' 8-day lookahead (counted from each step)."""
    at = now
    for _ in range(_MAX_STEPS):
        candidate = hours.next_open(at, zone)
        if candidate is None:
            return None
        blocking = next((end for start, end in closures if start <= candidate < end), None)
        if blocking is None:
            return candidate
        at = blocking
    return None


def _local(at: datetime | None, zone: ZoneInfo) -> datetime | None:
    return at.astimezone(zone) if at is not None else None
