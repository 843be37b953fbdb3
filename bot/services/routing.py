"""Find the nearest outlet that can serve a request now: active, open, stocked and staffed.

:func:`nearest_available` asks the database for qualifying outlets inside a bounding box around
the person and widens the box until enough qualify *inside the circle the box encloses*; only
then is the answer provably the nearest (an outlet outside the circle may sit in a corner of the
box while a nearer one waits just beyond an edge). Stock and staffing are checked in SQL with
``EXISTS`` subqueries on primary-key/indexed lookups, as is "not inside a one-off closure"
(:mod:`bot.services.closures`); opening hours (OSM ``opening_hours`` text in the outlet's own
time zone) are checked in Python, on the few nearest candidates only.

:func:`brute_force_nearest` scans every outlet and checks everything in Python. It is the
baseline of ``python -m bench.routing`` and the oracle the tests compare against.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import BindParameter, Boolean, TextClause, bindparam, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from bot.content.geo import EARTH_RADIUS_KM, haversine_km
from bot.content.hours import OpeningHours, stored
from bot.db.base import UTCDateTime
from bot.db.models import Outlet, OutletClosure, PeerWorker, Stock

# Each widening is a round trip (~0.3-0.7 ms through SQLAlchemy) and each outlet in the box a
# few index lookups (~10 µs): the first box should just hold the answer. Where that is depends on
# how dense outlets are, so the start radius is learnt from recent answers (see _StartRadius).
FIRST_RADIUS_KM = 1.0
MIN_FIRST_RADIUS_KM = 0.25
# A learnt start never exceeds this: after a rural answer, a city query must not scan a huge box.
MAX_FIRST_RADIUS_KM = 5.0
GROWTH = 2.0
# An empty box says the area is sparse: widen faster.
EMPTY_GROWTH = 4.0
# Float slack on the box edges (degrees, ~0.1 mm): a point exactly on the circle stays inside.
_EDGE = 1e-9


@dataclass(frozen=True, slots=True)
class Candidate:
    """An outlet that can take the request, and how far it is (great-circle, km)."""

    outlet_id: int
    distance_km: float


class StartRadius:
    """Where the next search starts: a running log-space average of recent answers' distances.

    Only a speed hint: correctness never depends on it, because every search keeps widening
    until its answer is proven (see :func:`nearest_available`). The composition root owns one
    per process (``Deps.routing``); without one, searches start at a fixed radius.
    """

    # Nearest distances are roughly Rayleigh-distributed; starting at 3x their geometric mean
    # leaves under 1% of searches needing a second round (measured: ~0.5% at 100k outlets).
    MARGIN = 3.0
    # Small steps: with targets capped at MAX_FIRST_RADIUS_KM, one far-away answer moves the start
    # by at most ~15%.
    WEIGHT = 0.1

    def __init__(self, initial_km: float = FIRST_RADIUS_KM) -> None:
        self._log_km = math.log(initial_km)

    def get(self) -> float:
        return min(MAX_FIRST_RADIUS_KM, max(MIN_FIRST_RADIUS_KM, math.exp(self._log_km)))

    def learn(self, distance_km: float) -> None:
        target = math.log(
            min(MAX_FIRST_RADIUS_KM, max(MIN_FIRST_RADIUS_KM, distance_km * self.MARGIN))
        )
        self._log_km += self.WEIGHT * (target - self._log_km)


@dataclass(frozen=True, slots=True)
class Box:
    """Latitude band and one or two longitude ranges (two when the box crosses ±180°)."""

    lat_min: float
    lat_max: float
    lon_ranges: tuple[tuple[float, float], ...]


def bounding_box(lat: float, lon: float, radius_km: float) -> Box:
    """The smallest lat/lon box holding every point within ``radius_km`` of (lat, lon).

    The longitude half-width is ``asin(sin δ / cos φ)`` (angular radius δ, latitude φ), which is
    exact on the sphere; a box reaching a pole spans every longitude.
    """
    delta = radius_km / EARTH_RADIUS_KM
    phi = math.radians(lat)
    lat_min, lat_max = phi - delta, phi + delta
    if lat_min <= -math.pi / 2 or lat_max >= math.pi / 2 or delta >= math.pi / 2:
        return Box(
            lat_min=max(-90.0, math.degrees(lat_min) - _EDGE),
            lat_max=min(90.0, math.degrees(lat_max) + _EDGE),
            lon_ranges=((-180.0, 180.0),),
        )
    half = math.degrees(math.asin(min(1.0, math.sin(delta) / math.cos(phi)))) + _EDGE
    west, east = lon - half, lon + half
    if west < -180.0:
        ranges: tuple[tuple[float, float], ...] = ((west + 360.0, 180.0), (-180.0, east))
    elif east > 180.0:
        ranges = ((west, 180.0), (-180.0, east - 360.0))
    else:
        ranges = ((west, east),)
    return Box(
        lat_min=math.degrees(lat_min) - _EDGE,
        lat_max=math.degrees(lat_max) + _EDGE,
        lon_ranges=ranges,
    )


async def nearest_available(
    session: AsyncSession,
    *,
    lat: float,
    lon: float,
    items: Mapping[int, int],
    now: datetime,
    exclude: Collection[int] = (),
    exclude_peers: Collection[int] = (),
    max_km: float = 50.0,
    limit: int = 1,
    start: StartRadius | None = None,
) -> list[Candidate]:
    """Up to ``limit`` outlets that can serve ``items`` (item id → packs) now, nearest first.

    An outlet qualifies when it is active, not in ``exclude``, holds every item with
    ``quantity - reserved >= packs``, has an active peer (not in ``exclude_peers``: the
    asker's own roles) on a shift that has not ended, and is open at ``now`` in its own time
    zone. Nothing farther than ``max_km`` is returned. Ties in distance go to the lower
    outlet id.
    """
    if limit <= 0 or max_km <= 0 or not (math.isfinite(lat) and math.isfinite(lon)):
        return []
    wanted = sorted(items.items())
    skip = sorted(set(exclude))
    not_peers = sorted(set(exclude_peers))
    params: dict[str, Any] = {"yes": True, "now": now}
    if not_peers:
        params["not_peers"] = not_peers
    for n, (item_id, packs) in enumerate(wanted):
        params[f"item{n}"], params[f"packs{n}"] = item_id, packs
    if skip:
        params["exclude"] = skip
    radius = min(start.get() if start else FIRST_RADIUS_KM, max_km)
    dialect = session.get_bind().dialect.name
    while True:
        box = bounding_box(lat, lon, radius)
        params["lat_min"], params["lat_max"] = box.lat_min, box.lat_max
        for n, (west, east) in enumerate(box.lon_ranges):
            params[f"west{n}"], params[f"east{n}"] = west, east
        statement = _box_query(
            len(wanted), bool(skip), len(box.lon_ranges), dialect, bool(not_peers)
        )
        rows = (await session.execute(statement, params)).all()
        # Everything qualifying within `radius` of the person is among `rows`, so the first
        # open ones by distance are the nearest ones overall.
        inside = sorted(
            (d, row[0], row[3], row[4])
            for row in rows
            if (d := haversine_km(lat, lon, row[1], row[2])) <= radius
        )
        found: list[Candidate] = []
        for distance, outlet_id, timezone, hours in inside:
            if _open(stored(hours), timezone, now):
                found.append(Candidate(outlet_id=outlet_id, distance_km=distance))
                if len(found) == limit:
                    if start is not None:
                        start.learn(distance)
                    return found
        if radius >= max_km:
            return found
        radius = min(max_km, radius * (GROWTH if rows else EMPTY_GROWTH))


@functools.lru_cache(maxsize=256)
def _box_query(
    items: int, exclude: bool, lon_ranges: int, dialect: str, not_peers: bool = False
) -> TextClause:
    """The prefilter for one shape of request, built once and reused.

    Plain SQL on purpose: it runs on every request and several times per widening, and a
    prepared ``text()`` skips SQLAlchemy's per-call statement building and cache-key walk
    (measured: ~0.3 ms instead of ~1 ms on SQLite). Every condition is an index lookup:
    the box on ``ix_outlets_active_lat_lon`` (SQLite) or the GiST ``ix_outlets_point``
    (PostgreSQL), stock on ``ix_stock_available``, peers on ``ix_peer_workers_staffed``; the
    last two hold every column tested, so no table row is read; closures on
    ``ix_outlet_closures_outlet_ends`` (a table that is nearly always empty). Hours come back as
    OSM text: only candidates that get checked are parsed, each distinct schedule once. Only a
    request made by a peer (rare) adds ``p.id NOT IN``: on SQLite the rowid is in every index;
    on PostgreSQL it costs a heap visit per staffed outlet in the box, for that request alone.
    """
    if dialect == "postgresql":
        # The GiST index ix_outlets_point visits only the box, where the B-tree below would walk
        # the whole latitude band. Its containment test is inclusive (with a 1e-6 slack): it can
        # only add candidates, and the circle check drops them.
        boxes = " OR ".join(
            f"point(o.longitude, o.latitude) <@ box(point(:west{n}, :lat_min),"
            f" point(:east{n}, :lat_max))"
            for n in range(lon_ranges)
        )
        conditions = ["o.active = :yes", f"({boxes})"]
    else:
        lon = " OR ".join(f"o.longitude BETWEEN :west{n} AND :east{n}" for n in range(lon_ranges))
        conditions = [
            "o.active = :yes",
            "o.latitude BETWEEN :lat_min AND :lat_max",
            f"({lon})",
        ]
    # Only parameter *names* are formatted in (from integers); every value is a bound parameter.
    conditions += [
        "EXISTS (SELECT 1 FROM stock s WHERE s.outlet_id = o.id"  # noqa: S608
        f" AND s.item_id = :item{n} AND s.quantity - s.reserved >= :packs{n})"
        for n in range(items)
    ]
    mine = " AND p.id NOT IN :not_peers" if not_peers else ""
    conditions.append(
        "EXISTS (SELECT 1 FROM peer_workers p WHERE p.outlet_id = o.id AND p.on_shift = :yes"  # noqa: S608
        f" AND p.active = :yes AND (p.shift_ends_at IS NULL OR p.shift_ends_at > :now){mine})"
    )
    conditions.append(
        "NOT EXISTS (SELECT 1 FROM outlet_closures c WHERE c.outlet_id = o.id"
        " AND c.ends_at > :now AND c.starts_at <= :now)"
    )
    binds: list[BindParameter[Any]] = [
        bindparam("yes", type_=Boolean()),
        bindparam("now", type_=UTCDateTime()),
    ]
    if not_peers:
        binds.append(bindparam("not_peers", expanding=True))
    if exclude:
        conditions.append("o.id NOT IN :exclude")
        binds.append(bindparam("exclude", expanding=True))
    sql = (
        "SELECT o.id, o.latitude, o.longitude, o.timezone, o.hours"  # noqa: S608
        " FROM outlets o WHERE " + " AND ".join(conditions)
    )
    return text(sql).bindparams(*binds)


async def brute_force_nearest(
    session: AsyncSession,
    *,
    lat: float,
    lon: float,
    items: Mapping[int, int],
    now: datetime,
    exclude: Collection[int] = (),
    exclude_peers: Collection[int] = (),
    max_km: float = 50.0,
    limit: int = 1,
) -> list[Candidate]:
    """Same answer as :func:`nearest_available`, by reading every outlet, stock row and peer.

    Deliberately naive and independent of the SQL conditions above (everything but the opening
    hours lookup, closures included, is evaluated in Python), so that it can serve as a test
    oracle.
    """
    if limit <= 0 or max_km <= 0 or not (math.isfinite(lat) and math.isfinite(lon)):
        return []
    outlets = (
        await session.execute(select(Outlet.id, Outlet.latitude, Outlet.longitude, Outlet.active))
    ).all()
    stock: dict[tuple[int, int], int] = {}
    if items:
        for row in await session.execute(
            select(Stock.outlet_id, Stock.item_id, Stock.quantity, Stock.reserved).where(
                Stock.item_id.in_(list(items))
            )
        ):
            stock[row.outlet_id, row.item_id] = row.quantity - row.reserved
    staffed: set[int] = set()
    for peer in await session.execute(
        select(
            PeerWorker.id,
            PeerWorker.outlet_id,
            PeerWorker.active,
            PeerWorker.on_shift,
            PeerWorker.shift_ends_at,
        )
    ):
        if (
            peer.id not in exclude_peers
            and peer.active
            and peer.on_shift
            and (peer.shift_ends_at is None or peer.shift_ends_at > now)
        ):
            staffed.add(peer.outlet_id)
    closed = {
        row.outlet_id
        for row in await session.execute(
            select(OutletClosure.outlet_id, OutletClosure.starts_at, OutletClosure.ends_at)
        )
        if row.starts_at <= now < row.ends_at
    }
    skip = set(exclude) | closed
    ranked = sorted(
        (d, row.id)
        for row in outlets
        if row.active
        and row.id not in skip
        and row.id in staffed
        and all(stock.get((row.id, item), 0) >= packs for item, packs in items.items())
        and (d := haversine_km(lat, lon, row.latitude, row.longitude)) <= max_km
    )
    found: list[Candidate] = []
    for distance, outlet_id in ranked:
        if len(found) == limit:
            break
        place = (
            await session.execute(
                select(Outlet.timezone, Outlet.hours).where(Outlet.id == outlet_id)
            )
        ).one()
        if is_open(place.hours, place.timezone, now):
            found.append(Candidate(outlet_id=outlet_id, distance_km=distance))
    return found


def is_open(hours: str | None, timezone: str, now: datetime) -> bool:
    """Whether opening hours as stored (OSM text) say open at ``now``; closures not included.

    Unreadable hours or time zones count as closed: one broken row must not take routing down
    for everyone (the content loader is where such data gets reported).
    """
    return _open(stored(hours), timezone, now)


def _open(schedule: OpeningHours | None, timezone: str, now: datetime) -> bool:
    if schedule is None:
        return False
    try:
        zone = ZoneInfo(timezone)
    except (ValueError, OSError, ZoneInfoNotFoundError):  # e.g. "", "../x", "America"
        return False
    return schedule.is_open(now, zone)
