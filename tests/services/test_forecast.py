"""Days of stock left, from handovers made through the real services."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.db.models import Outlet
from bot.services import forecast, stock
from bot.services.forecast import StockState
from tests.services.factories import add_item, add_outlet
from tests.services.numbers_world import make_world

Sessions = async_sessionmaker[AsyncSession]
NOW = datetime(2026, 11, 25, 15, 0, tzinfo=UTC)


async def test_days_left_from_the_last_28_days(sessions: Sessions) -> None:
    async with sessions.begin() as session:
        world = await make_world(session)
        # 56 packs of kit over the last 28 days (2 a handover, one a day from 27 days ago),
        # and 100 packs 40 days ago, outside the window.
        for day in range(28):
            await world.handed_over(NOW - timedelta(days=day), packs=2)
        await world.handed_over(NOW - timedelta(days=40), packs=100)
        await stock.set_quantity(
            session, outlet_id=world.outlet_id, item_id=world.kit, quantity=20, now=NOW
        )
        await stock.set_quantity(
            session, outlet_id=world.outlet_id, item_id=world.nalox, quantity=0, now=NOW
        )
        unused = await add_item(session, "swabs")
        await stock.set_quantity(
            session, outlet_id=world.outlet_id, item_id=unused, quantity=50, now=NOW
        )
        quiet = await add_outlet(session, stock={world.kit: 3}, low_threshold=5)
        closed = await add_outlet(session, stock={world.kit: 3})
        await session.execute(
            update(Outlet).where(Outlet.id == closed.outlet_id).values(active=False)
        )
    async with sessions() as session:
        got = await forecast.forecast(session, now=NOW)
        only = await forecast.forecast(session, now=NOW, outlet_ids=[quiet.outlet_id])
    by_key = {(f.outlet_id, f.item_code): f for f in got}
    assert closed.outlet_id not in {f.outlet_id for f in got}
    kit = by_key[(world.outlet_id, "kit")]
    assert kit.daily_use == 2.0
    assert kit.days_left == 10.0
    assert kit.state is StockState.OK
    nalox = by_key[(world.outlet_id, "nalox")]
    assert (nalox.days_left, nalox.state) == (None, StockState.STOCK_OUT)
    swabs = by_key[(world.outlet_id, "swabs")]
    assert (swabs.daily_use, swabs.days_left, swabs.state) == (0.0, None, StockState.OK)
    # At its own threshold with no recent use: low.
    assert by_key[(quiet.outlet_id, "kit")].state is StockState.LOW
    assert [(f.outlet_id, f.item_code) for f in only] == [(quiet.outlet_id, "kit")]
    # Ten days at this pace is "low" if the page asks for two weeks' warning.
    async with sessions() as session:
        strict = await forecast.forecast(session, now=NOW, low_days=14)
    assert {f.item_code: f.state for f in strict if f.outlet_id == world.outlet_id}["kit"] is (
        StockState.LOW
    )


async def test_reserved_packs_are_not_available(sessions: Sessions) -> None:
    async with sessions.begin() as session:
        world = await make_world(session)
        for day in range(1, 3):
            await world.handed_over(NOW - timedelta(days=day))
        await stock.set_quantity(
            session, outlet_id=world.outlet_id, item_id=world.kit, quantity=3, now=NOW
        )
        await world.accepted(NOW, packs=3)  # all three promised, none handed over yet
    async with sessions() as session:
        got = {f.item_code: f for f in await forecast.forecast(session, now=NOW)}
    assert (got["kit"].quantity, got["kit"].reserved, got["kit"].available) == (3, 3, 0)
    assert got["kit"].state is StockState.STOCK_OUT
    assert got["kit"].daily_use == pytest.approx(2 / 28)


async def test_bad_window(sessions: Sessions) -> None:
    async with sessions() as session:
        with pytest.raises(ValueError, match="window_days"):
            await forecast.forecast(session, now=NOW, window_days=0)
