"""Routing picks the nearest outlet that is active, open, stocked and staffed, and scales."""

from __future__ import annotations

import random
from datetime import timedelta

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.content.geo import haversine_km
from bot.services import closures, routing
from bot.services.routing import (
    Candidate,
    bounding_box,
    brute_force_nearest,
    is_open,
    nearest_available,
)
from tests.services.factories import LAT, LON, NEVER, NOW, add_item, add_outlet

Sessions = async_sessionmaker[AsyncSession]


async def _both(session: AsyncSession, **kwargs: object) -> tuple[list[Candidate], list[Candidate]]:
    """The fast answer and the brute-force answer; they must always agree."""
    args: dict[str, object] = {"lat": LAT, "lon": LON, "items": {}, "now": NOW, **kwargs}
    fast = await nearest_available(session, **args)  # type: ignore[arg-type]
    slow = await brute_force_nearest(session, **args)  # type: ignore[arg-type]
    assert [c.outlet_id for c in fast] == [c.outlet_id for c in slow]
    return fast, slow


async def test_nearest_wins(sessions: Sessions) -> None:
    async with sessions.begin() as session:
        kit = await add_item(session, "kit")
        far = await add_outlet(session, north_km=3, stock={kit: 10})
        near = await add_outlet(session, east_km=1.2, stock={kit: 10})
        middle = await add_outlet(session, north_km=-2, stock={kit: 10})
        found, _ = await _both(session, items={kit: 1}, limit=3)
    assert [c.outlet_id for c in found] == [near.outlet_id, middle.outlet_id, far.outlet_id]
    assert found[0].distance_km == pytest.approx(1.2, rel=1e-3)


@pytest.mark.parametrize(
    "spoiler",
    [
        pytest.param({"hours": NEVER}, id="closed"),
        pytest.param({"active": False}, id="inactive"),
        pytest.param({"stock": {}}, id="no-stock-row"),
        pytest.param({"stock": "low"}, id="too-few"),
        pytest.param({"stock": "reserved"}, id="all-reserved"),
        pytest.param({"peers": 0}, id="no-peer"),
        pytest.param({"on_shift": False}, id="peer-off-shift"),
        pytest.param({"peer_active": False}, id="peer-inactive"),
        pytest.param({"shift_ends_at": NOW}, id="shift-ended"),
        pytest.param({"hours": {"mon": "10:00-18:00"}, "timezone": "Nope/Nowhere"}, id="bad-tz"),
        pytest.param({"hours": {}}, id="no-hours"),
        pytest.param({"hours": ["10:00-18:00"]}, id="hours-not-a-mapping"),
        pytest.param({"hours": {"someday": "10:00-18:00"}}, id="hours-unreadable"),
        pytest.param({"timezone": "America"}, id="tz-is-a-directory"),
        pytest.param({"timezone": ""}, id="tz-empty"),
    ],
)
async def test_unavailable_outlets_are_skipped(
    sessions: Sessions, spoiler: dict[str, object]
) -> None:
    async with sessions.begin() as session:
        kit = await add_item(session, "kit")
        options: dict[str, object] = {"stock": {kit: 10}, **spoiler}
        if spoiler.get("stock") == "low":
            options["stock"] = {kit: 2}
        elif spoiler.get("stock") == "reserved":
            options.update(stock={kit: 10}, reserved={kit: 8})
        await add_outlet(session, east_km=0.3, **options)  # type: ignore[arg-type]
        fallback = await add_outlet(session, east_km=5, stock={kit: 10})
        found, _ = await _both(session, items={kit: 3})
    assert [c.outlet_id for c in found] == [fallback.outlet_id]


async def test_hours_stored_in_the_compact_form(sessions: Sessions) -> None:
    async with sessions.begin() as session:
        await add_outlet(session, east_km=1, hours="daily 06:00-09:00")
        evening = await add_outlet(session, east_km=2, hours="mon-fri 14:00-16:00; sun closed")
        found, _ = await _both(session)
    assert [c.outlet_id for c in found] == [evening.outlet_id]


async def test_shift_still_running_counts(sessions: Sessions) -> None:
    async with sessions.begin() as session:
        running = await add_outlet(session, east_km=1, shift_ends_at=NOW + timedelta(minutes=1))
        found, _ = await _both(session)
    assert [c.outlet_id for c in found] == [running.outlet_id]


async def test_excluded_outlets_are_skipped(sessions: Sessions) -> None:
    async with sessions.begin() as session:
        first = await add_outlet(session, east_km=1)
        second = await add_outlet(session, east_km=2)
        third = await add_outlet(session, east_km=3)
        found, _ = await _both(session, exclude=[first.outlet_id, second.outlet_id])
    assert [c.outlet_id for c in found] == [third.outlet_id]


async def test_the_askers_own_peer_role_does_not_staff_an_outlet(sessions: Sessions) -> None:
    """An outlet whose only peer on shift is the asker is skipped; one with another peer on
    shift is not (issue 14: never offer a request to the staff member who made it)."""
    async with sessions.begin() as session:
        alone = await add_outlet(session, east_km=1)
        shared = await add_outlet(session, east_km=2, peers=2)
        asker = [alone.peer_ids[0], shared.peer_ids[0]]
        found, _ = await _both(session, exclude_peers=asker, limit=2)
    assert [c.outlet_id for c in found] == [shared.outlet_id]


async def test_every_item_must_be_covered(sessions: Sessions) -> None:
    async with sessions.begin() as session:
        kit, nalox = await add_item(session, "kit"), await add_item(session, "nalox")
        await add_outlet(session, east_km=1, stock={kit: 10})
        both = await add_outlet(session, east_km=4, stock={kit: 1, nalox: 2})
        found, _ = await _both(session, items={kit: 1, nalox: 2})
    assert [c.outlet_id for c in found] == [both.outlet_id]


async def test_opening_hours_use_the_outlets_time_zone(sessions: Sessions) -> None:
    # NOW is 15:00 UTC = 00:00 next day in Tokyo and 07:00 in Vancouver.
    async with sessions.begin() as session:
        await add_outlet(
            session, east_km=1, hours={"daily": "09:00-17:00"}, timezone="America/Vancouver"
        )
        night = await add_outlet(
            session, east_km=2, hours={"daily": "22:00-02:00"}, timezone="Asia/Tokyo"
        )
        found, _ = await _both(session)
    assert [c.outlet_id for c in found] == [night.outlet_id]
    assert not is_open("Mo-Su 09:00-17:00", "America/Vancouver", NOW)
    assert is_open("Mo-Su 09:00-17:00", "America/Vancouver", NOW + timedelta(hours=3))
    assert not is_open("not hours", "America/Vancouver", NOW + timedelta(hours=3))


async def test_a_closure_stops_routing_until_reopened(sessions: Sessions) -> None:
    async with sessions.begin() as session:
        near = await add_outlet(session, east_km=1)
        far = await add_outlet(session, east_km=3)
        found, _ = await _both(session)
        assert [c.outlet_id for c in found] == [near.outlet_id]
        closed = await closures.close_today(
            session, outlet_id=near.outlet_id, actor="peer", now=NOW
        )
        found, _ = await _both(session)
        assert [c.outlet_id for c in found] == [far.outlet_id]
        # An upcoming closure does not stop routing now; one that has ended neither.
        assert (await _both(session, now=closed.closure.ends_at))[0][0].outlet_id == near.outlet_id
        assert await closures.reopen(
            session, closure_id=closed.closure.id, actor="coordinator", now=NOW
        )
        found, _ = await _both(session)
        assert [c.outlet_id for c in found] == [near.outlet_id]


async def test_nothing_beyond_max_km(sessions: Sessions) -> None:
    async with sessions.begin() as session:
        inside = await add_outlet(session, north_km=9.9)
        await add_outlet(session, north_km=-10.1)
        assert (await _both(session, max_km=5))[0] == []
        found, _ = await _both(session, max_km=10, limit=5)
    assert [c.outlet_id for c in found] == [inside.outlet_id]
    assert all(c.distance_km <= 10 for c in found)


async def test_nothing_at_all(sessions: Sessions) -> None:
    async with sessions.begin() as session:
        assert (await _both(session))[0] == []
        await add_outlet(session, east_km=1)
        assert (await _both(session, limit=0))[0] == []
        assert (await _both(session, max_km=0))[0] == []


@pytest.mark.parametrize("start_km", [0.25, 1.0, 5.0])
async def test_matches_brute_force_on_random_outlets(
    sessions: Sessions, monkeypatch: pytest.MonkeyPatch, start_km: float
) -> None:
    # The learnt start radius is a speed hint only: every start must give the same answers.
    hint = routing.StartRadius(start_km)
    monkeypatch.setattr(hint, "learn", lambda _distance: None)
    rng = random.Random(20261125)
    async with sessions.begin() as session:
        items = [await add_item(session, f"item{i}") for i in range(3)]
        outlet_ids = []
        for _ in range(250):
            # Mostly a city; a few far out so that widening all the way is exercised.
            spread = 8 if rng.random() < 0.9 else 60
            built = await add_outlet(
                session,
                north_km=rng.gauss(0, spread),
                east_km=rng.gauss(0, spread),
                hours=rng.choice(
                    [{"daily": "00:00-24:00"}] * 3
                    + [{"daily": "closed"}, {"mon-fri": "09:00-17:00"}, {"daily": "14:00-16:00"}]
                ),
                timezone=rng.choice(["UTC", "Europe/Berlin", "America/Vancouver"]),
                active=rng.random() < 0.9,
                stock={item: rng.randint(0, 6) for item in items if rng.random() < 0.8},
                peers=rng.choice([0, 1, 1, 2]),
                on_shift=rng.random() < 0.8,
                shift_ends_at=rng.choice(
                    [None, NOW - timedelta(hours=1), NOW + timedelta(hours=1)]
                ),
            )
            outlet_ids.append(built.outlet_id)
        hits = 0
        for _ in range(60):
            lat = LAT + rng.gauss(0, 0.1)
            lon = LON + rng.gauss(0, 0.15)
            wanted = {item: rng.randint(1, 3) for item in rng.sample(items, rng.randint(0, 2))}
            exclude = rng.sample(outlet_ids, rng.randint(0, 5))
            max_km = rng.choice([3.0, 10.0, 50.0])
            limit = rng.choice([1, 1, 3])
            args = {
                "lat": lat,
                "lon": lon,
                "items": wanted,
                "now": NOW,
                "exclude": exclude,
                "max_km": max_km,
                "limit": limit,
            }
            fast = await nearest_available(session, start=hint, **args)  # type: ignore[arg-type]
            slow = await brute_force_nearest(session, **args)  # type: ignore[arg-type]
            assert fast == slow
            assert all(c.distance_km <= max_km for c in fast)
            assert [c.distance_km for c in fast] == sorted(c.distance_km for c in fast)
            hits += bool(fast)
    assert hits > 20  # the comparison was not trivially "both empty"


async def test_antimeridian_and_poles_do_not_crash(sessions: Sessions) -> None:
    async with sessions.begin() as session:
        east = await add_outlet(session, lat=-16.5, lon=179.99)
        west = await add_outlet(session, lat=-16.5, lon=-179.99)
        found = await nearest_available(
            session, lat=-16.5, lon=-179.995, items={}, now=NOW, limit=2
        )
        assert [c.outlet_id for c in found] == [west.outlet_id, east.outlet_id]
        found = await nearest_available(session, lat=-16.5, lon=179.999, items={}, now=NOW)
        assert [c.outlet_id for c in found] == [east.outlet_id]
        for lat, lon in [(90.0, 0.0), (-90.0, 180.0), (89.9999, -180.0)]:
            assert await nearest_available(session, lat=lat, lon=lon, items={}, now=NOW) == []
        assert await nearest_available(session, lat=float("nan"), lon=0, items={}, now=NOW) == []


async def test_index_paths_match_brute_force_across_the_antimeridian_and_poles(
    sessions: Sessions,
) -> None:
    """With the planner kept off table scans, PostgreSQL answers from the GiST box search and
    the covering stock/peer indexes; wrapped boxes, polar boxes and widening must still find
    the true nearest (SQLite runs the same comparison on its B-tree path)."""
    rng = random.Random(8)
    async with sessions.begin() as session:
        kit = await add_item(session, "kit")
        places = [(-16.5, 179.95), (-16.5, -179.97), (89.99, 10.0), (89.98, -170.0)]
        places += [(LAT, LON)]
        for lat, lon in places:
            for _ in range(12):
                await add_outlet(
                    session,
                    lat=max(-90.0, min(90.0, lat + rng.uniform(-0.05, 0.05))),
                    lon=(lon + rng.uniform(-0.2, 0.2) + 180) % 360 - 180,
                    stock={kit: rng.randint(0, 3)},
                    on_shift=rng.random() < 0.8,
                    active=rng.random() < 0.9,
                )
        postgres = session.get_bind().dialect.name == "postgresql"
        if postgres:
            await session.execute(text("SET LOCAL enable_seqscan = off"))
            plan = "\n".join(
                (
                    await session.execute(
                        text(
                            "EXPLAIN SELECT o.id FROM outlets o WHERE point(o.longitude,"
                            " o.latitude) <@ box(point(179.9, -16.6), point(180, -16.4))"
                        )
                    )
                ).scalars()
            )
            assert "ix_outlets_point" in plan
        queries = [(-16.5, 179.999), (-16.5, -179.999), (-16.45, 180.0), (90.0, 0.0)]
        queries += [(89.995, -175.0), (LAT, LON), (LAT + 0.3, LON - 0.4)]
        hits = 0
        for (lat, lon), limit, max_km in zip(
            queries, [1, 3, 2, 3, 1, 2, 1], [50.0, 20.0, 5.0, 50.0, 3.0, 50.0, 80.0], strict=True
        ):
            start = routing.StartRadius(rng.choice([0.25, 1.0, 5.0]))
            fast, slow = await _both(
                session, lat=lat, lon=lon, items={kit: 1}, limit=limit, max_km=max_km
            )
            again = await nearest_available(
                session,
                lat=lat,
                lon=lon,
                items={kit: 1},
                now=NOW,
                limit=limit,
                max_km=max_km,
                start=start,
            )
            assert fast == slow == again
            hits += bool(fast)
    assert hits >= 5


def test_start_radius_learns_within_bounds() -> None:
    hint = routing.StartRadius(1.0)
    for _ in range(200):
        hint.learn(0.2)
    assert hint.get() == pytest.approx(0.6, rel=0.01)
    for _ in range(200):
        hint.learn(500.0)
    assert hint.get() == pytest.approx(routing.MAX_FIRST_RADIUS_KM)
    # One step moves a tenth of the way (in log space) towards the clamped target.
    hint.learn(0.0)
    low, high = routing.MIN_FIRST_RADIUS_KM, routing.MAX_FIRST_RADIUS_KM
    assert hint.get() == pytest.approx(high * (low / high) ** 0.1)


@pytest.mark.parametrize(
    ("lat", "lon", "km"),
    [(49.25, -123.1, 5.0), (0.0, 0.0, 50.0), (-70.0, 10.0, 20.0), (60.0, 179.9, 30.0)],
)
def test_bounding_box_holds_the_circle(lat: float, lon: float, km: float) -> None:
    box = bounding_box(lat, lon, km)
    rng = random.Random(7)
    for _ in range(2000):
        # Random points near the circle's edge, inside it.
        plat = lat + rng.uniform(-1, 1) * (box.lat_max - box.lat_min)
        plon = lon + rng.uniform(-1, 1) * 2
        plon = (plon + 180) % 360 - 180
        if haversine_km(lat, lon, plat, plon) <= km:
            assert box.lat_min <= plat <= box.lat_max
            assert any(west <= plon <= east for west, east in box.lon_ranges)
