"""Daily counters: counted with the event, written at commit, exact under concurrency."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.db.engine import SqliteSessions
from bot.db.models import AuditEvent, DailyCount
from bot.domain import RequestKind
from bot.privacy import derive_keys
from bot.services import counts, requests
from tests.services.factories import LAT, LON, NOW, add_contact, add_item, add_outlet

Sessions = async_sessionmaker[AsyncSession]
KEY = derive_keys("c" * 40).codes
DAY = NOW.date()


async def _all(sessions: Sessions) -> dict[tuple[object, ...], int]:
    async with sessions() as session:
        rows = (await session.scalars(select(DailyCount))).all()
    return {
        (r.day, r.measure, r.area_code, r.outlet_id, r.kind, r.item_code, r.bucket): r.count
        for r in rows
    }


async def test_a_request_counts_by_area_outlet_kind_and_item(sessions: Sessions) -> None:
    async with sessions.begin() as session:
        kit = await add_item(session, "kit")
        near = await add_outlet(session, east_km=1, stock={kit: 9})
        far = await add_outlet(session, east_km=2, stock={kit: 9})
        person = await add_contact(session)
        made = await requests.create(
            session,
            contact_id=person,
            kind=RequestKind.EQUIPMENT,
            items={kit: 2},
            area_code="dtes",
            cell=(LAT, LON),
            ttl=timedelta(hours=6),
            now=NOW,
        )
        offer = await requests.route(
            session, request_id=made.id, offer_timeout=timedelta(minutes=15), now=NOW
        )
        assert offer.offer_id is not None
        await requests.accept(
            session,
            offer_id=offer.offer_id,
            peer_worker_id=near.peer_ids[0],
            codes_key=KEY,
            now=NOW + timedelta(minutes=3),
        )
        await requests.release(
            session, request_id=made.id, peer_worker_id=near.peer_ids[0], now=NOW
        )
        offer = await requests.route(
            session,
            request_id=made.id,
            offer_timeout=timedelta(minutes=15),
            now=NOW + timedelta(minutes=30),
        )
        assert offer.offer_id is not None
        accepted = await requests.accept(
            session,
            offer_id=offer.offer_id,
            peer_worker_id=far.peer_ids[0],
            codes_key=KEY,
            now=NOW + timedelta(minutes=40),
        )
        assert accepted.code is not None
        await requests.handover(
            session,
            request_id=made.id,
            peer_worker_id=far.peer_ids[0],
            code=accepted.code,
            codes_key=KEY,
            now=NOW + timedelta(hours=1),
        )
        # Nothing is written before the commit: increments wait for it, in one statement.
        assert (await session.scalars(select(DailyCount))).all() == []
    eq = "equipment"
    n, f = near.outlet_id, far.outlet_id
    assert await _all(sessions) == {
        (DAY, "requests.made", "dtes", 0, eq, "", 0): 1,
        (DAY, "requests.packs", "dtes", 0, eq, "kit", 0): 2,
        (DAY, "requests.handed_over", "dtes", 0, eq, "", 0): 1,
        (DAY, "outlet.offered", "", n, eq, "", 0): 1,
        (DAY, "outlet.accepted", "", n, eq, "", 0): 1,
        (DAY, "outlet.released", "", n, eq, "", 0): 1,
        (DAY, "outlet.offered", "", f, eq, "", 0): 1,
        (DAY, "outlet.accepted", "", f, eq, "", 0): 1,
        (DAY, "outlet.handed_over", "", f, eq, "", 0): 1,
        (DAY, "outlet.packs", "", f, eq, "kit", 0): 2,
        # The first acceptance only: 3 minutes, not the 40 of the second.
        (DAY, "accept.minutes", "", 0, eq, "", 3): 1,
    }


async def test_concurrent_increments_all_count(sessions: Sessions) -> None:
    key = counts.Key(DAY, "requests.made", area_code="dtes", kind="naloxone")

    async def one(n: int) -> None:
        async with sessions.begin() as session:
            counts.add(session, key, n)
            await asyncio.sleep(0)
            counts.add(session, key)

    await asyncio.gather(*(one(n) for n in range(1, 11)))
    assert await _all(sessions) == {
        (DAY, "requests.made", "dtes", 0, "naloxone", "", 0): sum(range(1, 11)) + 10
    }


async def test_opposite_orders_do_not_deadlock(sessions: Sessions) -> None:
    """Two transactions adding to the same two counters in opposite orders both commit: rows
    are taken at commit, in key order (taken as they come, PostgreSQL would deadlock)."""
    if isinstance(sessions, SqliteSessions):
        pytest.skip("SQLite lets one writer in at a time: no row locks to take in any order")
    a = counts.Key(DAY, "requests.expired", area_code="a")
    b = counts.Key(DAY, "requests.expired", area_code="b")
    both_counted = asyncio.Barrier(2)

    async def one(first: counts.Key, second: counts.Key) -> None:
        async with sessions() as session, session.begin():
            counts.add(session, first)
            await both_counted.wait()
            counts.add(session, second)

    await asyncio.wait_for(asyncio.gather(one(a, b), one(b, a)), timeout=30)
    assert set((await _all(sessions)).values()) == {2}


async def test_rollback_drops_and_flush_shows(sessions: Sessions) -> None:
    key = counts.Key(DAY, "stock.set", outlet_id=1, item_code="kit")
    async with sessions() as session:
        await session.execute(select(1))
        counts.add(session, key, 5)
        await session.rollback()
        await session.execute(select(1))
        counts.add(session, key)
        await counts.flush(session)
        assert await session.scalar(select(DailyCount.count)) == 1
        counts.add(session, key)
        await session.commit()
    assert await _all(sessions) == {(DAY, "stock.set", "", 1, "", "kit", 0): 2}


async def test_events_nobody_counts_add_nothing(sessions: Sessions) -> None:
    async with sessions.begin() as session:
        await counts.count_event(
            session, action="request.created", subject="NOSUCH", detail={}, now=NOW
        )
        await counts.count_event(
            session, action="outlets.import", subject=None, detail={"created": 1}, now=NOW
        )
        session.add(AuditEvent(at=NOW, actor="cli", action="x", subject=None, detail={}))
    assert await _all(sessions) == {}
