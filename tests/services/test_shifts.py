"""Shifts: on with an end time, off by hand or automatically; routing follows them."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.db.models import AuditEvent, DailyCount, PeerWorker
from bot.services import shifts
from bot.services.routing import nearest_available
from tests.services.factories import LAT, LON, NOW, add_outlet

Sessions = async_sessionmaker[AsyncSession]


async def _routable(session: AsyncSession, now: object = NOW) -> list[int]:
    found = await nearest_available(session, lat=LAT, lon=LON, items={}, now=now)  # type: ignore[arg-type]
    return [c.outlet_id for c in found]


async def test_start_and_end_shift(sessions: Sessions) -> None:
    async with sessions.begin() as session:
        outlet = await add_outlet(session, on_shift=False)
        (peer,) = outlet.peer_ids
        assert await _routable(session) == []
        ends = await shifts.start_shift(session, peer_worker_id=peer, hours=4, now=NOW)
        assert ends == NOW + timedelta(hours=4)
        assert await _routable(session) == [outlet.outlet_id]
        assert await shifts.on_shift_peers(session, outlet_id=outlet.outlet_id, now=NOW) == [peer]
        assert await shifts.end_shift(session, peer_worker_id=peer, now=NOW)
        assert not await shifts.end_shift(session, peer_worker_id=peer, now=NOW)
        assert await _routable(session) == []
        assert await shifts.on_shift_peers(session, outlet_id=outlet.outlet_id, now=NOW) == []


async def test_inactive_peer_cannot_start_and_hours_are_checked(sessions: Sessions) -> None:
    async with sessions.begin() as session:
        outlet = await add_outlet(session, on_shift=False, peer_active=False)
        (peer,) = outlet.peer_ids
        assert await shifts.start_shift(session, peer_worker_id=peer, hours=2, now=NOW) is None
        assert await shifts.start_shift(session, peer_worker_id=peer + 99, hours=2, now=NOW) is None
        for hours in (0, -1, 25, float("nan")):
            with pytest.raises(ValueError, match="shift lasts"):
                await shifts.start_shift(session, peer_worker_id=peer, hours=hours, now=NOW)


async def test_expired_shifts_end_automatically(sessions: Sessions) -> None:
    async with sessions.begin() as session:
        short = await add_outlet(session, east_km=1, on_shift=False)
        long = await add_outlet(session, east_km=2, on_shift=False)
        open_ended = await add_outlet(session, east_km=3)  # on shift, no end set
        await shifts.start_shift(session, peer_worker_id=short.peer_ids[0], hours=1, now=NOW)
        await shifts.start_shift(session, peer_worker_id=long.peer_ids[0], hours=8, now=NOW)
        later = NOW + timedelta(hours=1)
        # Routing already ignores the ended shift before the tick switches it off.
        assert await _routable(session, later) == [long.outlet_id]
        assert await shifts.end_expired_shifts(session, now=later - timedelta(seconds=1)) == []
        assert await shifts.end_expired_shifts(session, now=later) == [short.peer_ids[0]]
        assert await shifts.end_expired_shifts(session, now=later) == []
        peer = await session.get_one(PeerWorker, short.peer_ids[0])
        await session.refresh(peer)
        assert not peer.on_shift
        assert peer.shift_ends_at is None
        assert await shifts.on_shift_peers(
            session, outlet_id=open_ended.outlet_id, now=later
        ) == list(open_ended.peer_ids)


async def test_shifts_are_counted_and_never_logged(sessions: Sessions) -> None:
    """A row per shift, even to the hour, is when a named outlet's peer works: only the
    number of shifts started per outlet and day is kept."""
    async with sessions.begin() as session:
        outlet = await add_outlet(session, on_shift=False, peers=2)
        first, second = outlet.peer_ids
        await shifts.start_shift(session, peer_worker_id=first, hours=4, now=NOW)
        await shifts.start_shift(session, peer_worker_id=second, hours=1, now=NOW)
        await shifts.end_shift(session, peer_worker_id=first, now=NOW + timedelta(hours=1))
        await shifts.end_expired_shifts(session, now=NOW + timedelta(hours=2))
    async with sessions() as session:
        assert (await session.scalars(select(AuditEvent))).all() == []
        rows = (await session.execute(select(DailyCount))).scalars().all()
    assert [(r.day, r.measure, r.outlet_id, r.count) for r in rows] == [
        (NOW.date(), "shifts.started", outlet.outlet_id, 2)
    ]
