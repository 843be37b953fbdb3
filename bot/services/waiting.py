"""The waiting list: requests nothing could take yet, held until something can.

::

    unrouted ──hold──→ waiting ──(a peer comes on shift, a restock, an outlet opens)──→ offered
                          └→ cancelled (by the person) | expired (request lifetime)

A request nobody could serve closes ``unrouted`` as before; when some outlet that fits could
take it later (:func:`prospect`), the person may hold it (:func:`hold`) shortly after. Holding
reopens it as ``waiting`` with a fresh lifetime, and re-seals the asker's own peer roles (closing
dropped them) so routing still never offers it to them.

Held requests are routed by :func:`bot.services.requests.route` like new ones, oldest first
(:func:`claim`: ``FOR UPDATE SKIP LOCKED`` on PostgreSQL, so two instances or a tick and a
``/shift on`` never route one twice); one that still fits nowhere stays waiting.

Counters: ``requests.unrouted`` counts every request nobody could take when asked, and
``requests.held`` the ones then held, which later close like any request (handed over,
cancelled, expired...): made = handed over + unrouted − held + cancelled + expired + frozen.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import exists, func, or_, select, true, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.content.geo import haversine_km
from bot.content.hours import stored
from bot.db.models import AuditEvent, Outlet, PeerWorker, Request, Stock
from bot.domain import RequestKind, RequestStatus
from bot.privacy import AddressBox, hour_of
from bot.services import audit, closures, requests, routing
from bot.services.outlet_hours import Span, opens_at

# How long after the unrouted answer its [Hold my request] still works. Closing keeps the hour
# only, so this is one to two hours in practice.
HOLD_WINDOW = timedelta(hours=1)
# As far as routing looks (bot.services.routing.nearest_available's default).
MAX_KM = 50.0
# Coordinators hear when this many have waited this long, at most once per clock hour.
DIGEST_MIN = 3
DIGEST_AFTER = timedelta(minutes=30)
DIGEST_ACTION = "waiting.digest"


@dataclass(frozen=True, slots=True)
class Prospect:
    """The outlet that could take a request soonest: its public name, and when.

    ``opens_at`` equal to the ``now`` asked about means it is open already but nobody is on
    shift there (or its peers were busy declining): it can take the request once one is.
    """

    outlet_id: int
    name: str
    timezone: str
    opens_at: datetime
    distance_km: float

    def open_now(self, now: datetime) -> bool:
        return self.opens_at <= now


async def prospect(
    session: AsyncSession,
    *,
    lat: float | None,
    lon: float | None,
    items: Mapping[int, int],
    now: datetime,
    until: datetime,
    exclude: Collection[int] = (),
    max_km: float = MAX_KM,
) -> Prospect | None:
    """The outlet that fits (active, with an enrolled peer, holding every item, within
    ``max_km``) and opens soonest before ``until``; ties go to the nearest. None when none
    does, or without a point to measure from."""
    if lat is None or lon is None:
        return None
    box = routing.bounding_box(lat, lon, max_km)
    lon_match = [Outlet.longitude.between(west, east) for west, east in box.lon_ranges]
    query = select(
        Outlet.id, Outlet.name, Outlet.latitude, Outlet.longitude, Outlet.timezone, Outlet.hours
    ).where(
        Outlet.active == true(),
        Outlet.latitude.between(box.lat_min, box.lat_max),
        lon_match[0] if len(lon_match) == 1 else lon_match[0] | lon_match[1],
        exists().where(PeerWorker.outlet_id == Outlet.id, PeerWorker.active == true()),
        *(
            exists().where(
                Stock.outlet_id == Outlet.id,
                Stock.item_id == item_id,
                Stock.quantity - Stock.reserved >= packs,
            )
            for item_id, packs in sorted(items.items())
        ),
    )
    if exclude:
        query = query.where(Outlet.id.not_in(sorted(exclude)))
    best: tuple[datetime, float, int] | None = None
    found: Prospect | None = None
    rows = (await session.execute(query)).all()
    spans = await closures.closed_spans(session, outlet_ids=[row.id for row in rows], now=now)
    for row in rows:
        distance = haversine_km(lat, lon, row.latitude, row.longitude)
        if distance > max_km:
            continue
        opens_at = _next_open(row.hours, row.timezone, now, spans.get(row.id, []))
        if opens_at is None or opens_at >= until:
            continue
        key = (opens_at, distance, row.id)
        if best is None or key < best:
            best = key
            found = Prospect(
                outlet_id=row.id,
                name=row.name,
                timezone=row.timezone,
                opens_at=opens_at,
                distance_km=distance,
            )
    return found


async def prospect_for(
    session: AsyncSession, *, request_id: int, now: datetime, ttl: timedelta
) -> Prospect | None:
    """:func:`prospect` for a request just closed ``unrouted``: from its coarse cell, for a
    hold that would last ``ttl`` from now."""
    row = (
        await session.execute(
            select(Request.cell_lat, Request.cell_lon).where(Request.id == request_id)
        )
    ).first()
    if row is None:
        return None
    return await prospect(
        session,
        lat=row.cell_lat,
        lon=row.cell_lon,
        items=await requests.items_of(session, request_id=request_id),
        now=now,
        until=now + ttl,
        exclude=await requests.tried_outlets(session, request_id=request_id, waiting=True),
    )


@dataclass(frozen=True, slots=True)
class HoldOutcome:
    """What :func:`hold` did: on ``held``, the reference, place in line and the deadline."""

    held: bool
    reference: str | None = None
    place: int = 0
    expires_at: datetime | None = None


async def hold(
    session: AsyncSession,
    *,
    request_id: int,
    contact_id: int,
    ttl: timedelta,
    now: datetime,
    box: AddressBox,
    own_peers: Collection[int] = (),
) -> HoldOutcome:
    """The person holds their just-unrouted request: ``unrouted`` → ``waiting``.

    Only the person's own request, only within :data:`HOLD_WINDOW` of closing. It gets a fresh
    lifetime (``ttl`` from now: the wait starts now), its times are exact again while it is
    open, and ``own_peers`` is sealed again (see the module doc).
    """
    expires_at = now + ttl
    row = (
        await session.execute(
            update(Request)
            .where(
                Request.id == request_id,
                Request.contact_id == contact_id,
                Request.status == RequestStatus.UNROUTED,
                Request.closed_at >= hour_of(now) - HOLD_WINDOW,
            )
            .values(
                status=RequestStatus.WAITING,
                closed_at=None,
                current_outlet_id=None,
                created_at=now,
                updated_at=now,
                expires_at=expires_at,
                requester_peers=requests.seal_peers(box, own_peers),
            )
            .returning(Request.reference, Request.kind, Request.attempts)
        )
    ).first()
    if row is None:
        return HoldOutcome(held=False)
    await audit.record(
        session,
        actor="person",
        action="request.held",
        subject=row.reference,
        detail={"kind": RequestKind(row.kind).value, "attempt": row.attempts},
        now=now,
    )
    return HoldOutcome(
        held=True,
        reference=row.reference,
        place=await place_in_line(session, request_id=request_id),
        expires_at=expires_at,
    )


async def place_in_line(session: AsyncSession, *, request_id: int) -> int:
    """1 for the oldest waiting request of its area, 2 for the next...; 0 if not waiting."""
    mine = (
        await session.execute(
            select(Request.area_code).where(
                Request.id == request_id, Request.status == RequestStatus.WAITING
            )
        )
    ).first()
    if mine is None:
        return 0
    ahead = await session.scalar(
        select(func.count())
        .select_from(Request)
        .where(
            Request.status == RequestStatus.WAITING,
            Request.id < request_id,
            Request.area_code.is_(None)
            if mine.area_code is None
            else Request.area_code == mine.area_code,
        )
    )
    return int(ahead or 0) + 1


async def claim(
    session: AsyncSession,
    *,
    now: datetime,
    limit: int = 100,
    near: Collection[int] | None = None,
    after: int = 0,
) -> list[int]:
    """Waiting requests to try now, oldest first, locked for this transaction (PostgreSQL:
    skipping any another transaction is routing). One indexed read when none wait.

    With ``near`` (outlet ids: a shift start or a restock there), only requests within reach
    of those outlets: the others cannot have changed. ``after``: only ids above it (the next
    batch: requests that still fit nowhere stay waiting, and must not hide younger ones).
    """
    query = select(Request.id).where(
        Request.status == RequestStatus.WAITING, Request.expires_at > now, Request.id > after
    )
    if near is not None:
        places = (
            await session.execute(
                select(Outlet.latitude, Outlet.longitude).where(Outlet.id.in_(sorted(near)))
            )
        ).all()
        if not places:
            return []
        boxes = []
        for place in places:
            box = routing.bounding_box(place.latitude, place.longitude, MAX_KM)
            lon_match = [Request.cell_lon.between(w, e) for w, e in box.lon_ranges]
            boxes.append(Request.cell_lat.between(box.lat_min, box.lat_max) & or_(*lon_match))
        query = query.where(or_(*boxes))
    ids = await session.scalars(
        query.order_by(Request.id).limit(limit).with_for_update(skip_locked=True)
    )
    return list(ids)


async def waiting_near(session: AsyncSession, *, outlet_ids: Collection[int]) -> int:
    """How many requests wait within reach of any of the outlets (counts only)."""
    if not outlet_ids:
        return 0
    places = (
        await session.execute(
            select(Outlet.latitude, Outlet.longitude).where(Outlet.id.in_(sorted(outlet_ids)))
        )
    ).all()
    cells = (
        await session.execute(
            select(Request.cell_lat, Request.cell_lon).where(
                Request.status == RequestStatus.WAITING
            )
        )
    ).all()
    return sum(
        1
        for cell in cells
        if cell.cell_lat is not None
        and cell.cell_lon is not None
        and any(
            haversine_km(cell.cell_lat, cell.cell_lon, p.latitude, p.longitude) <= MAX_KM
            for p in places
        )
    )


async def digest_due(session: AsyncSession, *, now: datetime) -> dict[str, int] | None:
    """Counts by area of requests waiting over :data:`DIGEST_AFTER`, when at least
    :data:`DIGEST_MIN` do and no digest went out this clock hour (then one is recorded as
    going out now); else None. Area ``""`` is unknown."""
    rows = (
        await session.execute(
            select(Request.area_code, func.count())
            .where(
                Request.status == RequestStatus.WAITING,
                Request.updated_at <= now - DIGEST_AFTER,
                Request.expires_at > now,
            )
            .group_by(Request.area_code)
        )
    ).all()
    by_area = {row[0] or "": int(row[1]) for row in rows}
    if sum(by_area.values()) < DIGEST_MIN:
        return None
    sent = await session.scalar(
        select(exists().where(AuditEvent.action == DIGEST_ACTION, AuditEvent.at >= hour_of(now)))
    )
    if sent:
        return None
    await audit.record(session, actor="system", action=DIGEST_ACTION, now=now)
    return dict(sorted(by_area.items()))


def _next_open(hours: str, timezone: str, now: datetime, spans: list[Span]) -> datetime | None:
    try:
        zone = ZoneInfo(timezone)
    except (ValueError, OSError, ZoneInfoNotFoundError):
        return None
    schedule = stored(hours)
    return opens_at(schedule, zone, now, spans) if schedule is not None else None
