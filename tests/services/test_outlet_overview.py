"""The Outlets list and one outlet (bot.services.outlet_overview): paging, counts, and a fixed
number of queries per page however many outlets there are."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from bot.services import outlet_overview
from tests.handlers.peer_world import make_world

Sessions = async_sessionmaker[AsyncSession]


@contextmanager
def counted(engine: AsyncEngine) -> Iterator[list[str]]:
    """The SQL statements run on ``engine`` inside the block."""
    statements: list[str] = []

    def record(*args: Any) -> None:
        statements.append(args[2])

    event.listen(engine.sync_engine, "before_cursor_execute", record)
    try:
        yield statements
    finally:
        event.remove(engine.sync_engine, "before_cursor_execute", record)


async def test_a_page_costs_three_queries_whatever_the_number_of_outlets(
    sessions: Sessions, engine: AsyncEngine
) -> None:
    world = await make_world(sessions, coordinator=None)
    for n in range(60):
        await world.outlet(
            f"o{n:02d}", stock={"syr_1ml_29g": n % 3, "nalox_nasal": 6}, low_threshold=1
        )
    async with sessions() as session:
        with counted(engine) as statements:
            first = await outlet_overview.outlet_list(
                session, now=world.clock.now, outlet_ids=None, page_size=25
            )
        assert len(statements) == 3  # outlets, stock alarms, closures in force
        assert first.total == 60
        assert first.pages == 3
        assert [line.name for line in first.lines][:2] == ["O00 table", "O01 table"]
        # syringes: 0 → out, 1 → low (threshold 1), 2 → fine
        assert [(line.out, line.low) for line in first.lines[:3]] == [(1, 0), (0, 1), (0, 0)]
        last = await outlet_overview.outlet_list(
            session, now=world.clock.now, outlet_ids=None, page=3, page_size=25
        )
        assert len(last.lines) == 10
        mine = await outlet_overview.outlet_list(
            session, now=world.clock.now, outlet_ids={world.outlets["o07"]}, search="O0"
        )
        assert [line.name for line in mine.lines] == ["O07 table"]
        assert mine.total == 1


async def test_one_outlet_lists_what_it_offers_and_what_it_could(sessions: Sessions) -> None:
    world = await make_world(sessions, coordinator=None)
    alpha = await world.outlet("alpha", stock={"syr_1ml_29g": 4})
    async with sessions() as session:
        detail = await outlet_overview.outlet_detail(session, outlet_id=alpha, now=world.clock.now)
        assert detail is not None
        assert [(s.code, s.quantity, s.low_threshold, s.low) for s in detail.stock] == [
            ("syr_1ml_29g", 4, 5, True)
        ]
        assert "nalox_nasal" in [code for _, code in detail.not_offered]
        assert "syr_1ml_29g" not in [code for _, code in detail.not_offered]
        assert detail.open_now
        assert (
            await outlet_overview.outlet_detail(session, outlet_id=2**40, now=world.clock.now)
            is None
        )
        assert not await outlet_overview.exists(session, outlet_id=-1)
        assert await outlet_overview.exists(session, outlet_id=alpha)
