"""Where requests went unrouted, by coarse cell and area, through the real services."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.privacy import snap
from bot.services import coverage
from bot.services.suppression import Shown
from tests.services.factories import LAT, LON
from tests.services.numbers_world import make_world

Sessions = async_sessionmaker[AsyncSession]
AT = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
FAR = (LAT + 0.3, LON - 0.3)  # another cell, about 33 km north


async def test_unrouted_by_cell_and_area(sessions: Sessions) -> None:
    async with sessions.begin() as session:
        world = await make_world(session)
        for n in range(7):
            await world.unrouted(AT + timedelta(minutes=n), cell=(LAT + 0.001, LON + 0.001))
        for n in range(2):
            await world.unrouted(AT + timedelta(hours=1, minutes=n), area="north", cell=FAR)
        # Without a location: its area only.
        await world.unrouted(AT + timedelta(hours=2), area="north", cell=None)
        # Handed over and outside the range: not counted.
        await world.handed_over(AT)
        await world.unrouted(AT + timedelta(days=7))
    async with sessions() as session:
        got = await coverage.coverage(session, since=date(2026, 11, 23), until=date(2026, 11, 30))
    home, far = snap(LAT, LON), snap(*FAR)
    assert [(c.code, c.unrouted) for c in got.cells] == [
        (home.code, Shown(5)),
        (far.code, Shown(None)),
    ]
    cell = got.cells[0]
    assert (cell.lat, cell.lon) == (home.lat, home.lon)
    assert got.cells[1].row > cell.row  # north
    assert got.cells[1].col < cell.col  # and west of it
    assert [(a.area_code, a.unrouted) for a in got.areas] == [
        ("test", Shown(5)),
        ("north", Shown(None)),
    ]
    assert got.total == Shown(10)
    # Nothing in the precise location reaches the counters: only the cell's code.
    assert all(c.code.startswith("c0.02:") for c in got.cells)


async def test_bad_range(sessions: Sessions) -> None:
    async with sessions() as session:
        with pytest.raises(ValueError, match="until"):
            await coverage.coverage(session, since=date(2026, 1, 2), until=date(2026, 1, 1))
