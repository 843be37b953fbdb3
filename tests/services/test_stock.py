"""Stock counts: setting, reserving all-or-nothing, handing over, and low-stock notices."""

from __future__ import annotations

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.db.models import AuditEvent
from bot.services import stock
from tests.services.factories import NOW, add_item, add_outlet

Sessions = async_sessionmaker[AsyncSession]


async def _level(session: AsyncSession, outlet_id: int, item_id: int) -> stock.StockLevel:
    (level,) = await stock.levels(session, outlet_id=outlet_id, item_ids=[item_id])
    return level


async def test_set_quantity_creates_and_updates(sessions: Sessions) -> None:
    async with sessions.begin() as session:
        kit = await add_item(session, "kit")
        outlet = await add_outlet(session)
        level, low = await stock.set_quantity(
            session, outlet_id=outlet.outlet_id, item_id=kit, quantity=12, now=NOW
        )
        assert (level.quantity, level.reserved, level.low_threshold) == (12, 0, 5)
        assert level.available == 12
        assert not level.is_low
        assert low == []
        level, _ = await stock.set_quantity(
            session,
            outlet_id=outlet.outlet_id,
            item_id=kit,
            quantity=20,
            low_threshold=8,
            now=NOW,
        )
        assert (level.quantity, level.low_threshold) == (20, 8)
        with pytest.raises(ValueError, match="negative"):
            await stock.set_quantity(
                session, outlet_id=outlet.outlet_id, item_id=kit, quantity=-1, now=NOW
            )
        levels = await stock.levels(session, outlet_id=outlet.outlet_id)
        assert [lv.item_id for lv in levels] == [kit]
        actions = (await session.scalars(select(AuditEvent.action))).all()
        assert actions == ["stock.set", "stock.set"]


async def test_reserve_is_all_or_nothing(sessions: Sessions) -> None:
    async with sessions.begin() as session:
        kit, nalox = await add_item(session, "kit"), await add_item(session, "nalox")
        outlet = await add_outlet(session, stock={kit: 5, nalox: 1})
        oid = outlet.outlet_id
        assert not await stock.reserve(session, outlet_id=oid, items={kit: 2, nalox: 2})
        assert (await _level(session, oid, kit)).reserved == 0
        assert (await _level(session, oid, nalox)).reserved == 0
        assert await stock.reserve(session, outlet_id=oid, items={kit: 2, nalox: 1})
        assert not await stock.reserve(session, outlet_id=oid, items={kit: 4})
        assert (await _level(session, oid, kit)).available == 3
        await stock.unreserve(session, outlet_id=oid, items={kit: 2, nalox: 1})
        assert (await _level(session, oid, kit)).reserved == 0
        # An unknown item cannot be reserved at all.
        ghost = await add_item(session, "ghost")
        assert not await stock.reserve(session, outlet_id=oid, items={ghost: 1})


async def test_consume_reports_low_once_and_restock_rearms(sessions: Sessions) -> None:
    async with sessions.begin() as session:
        kit = await add_item(session, "kit")
        outlet = await add_outlet(session, stock={kit: 7}, low_threshold=5)
        oid = outlet.outlet_id

        async def hand_over(packs: int) -> list[stock.LowStock]:
            assert await stock.reserve(session, outlet_id=oid, items={kit: packs})
            return await stock.consume(session, outlet_id=oid, items={kit: packs})

        assert await hand_over(1) == []  # 6
        crossed = await hand_over(1)  # 5: at the threshold
        assert [(c.item_id, c.quantity) for c in crossed] == [(kit, 5)]
        assert await hand_over(2) == []  # 3: still low, already told
        _, low = await stock.set_quantity(session, outlet_id=oid, item_id=kit, quantity=5, now=NOW)
        assert low == []  # not above the threshold: not re-armed
        level, low = await stock.set_quantity(
            session, outlet_id=oid, item_id=kit, quantity=9, now=NOW
        )
        assert not level.low_notified
        assert low == []
        assert await hand_over(3) == []  # 6
        assert len(await hand_over(1)) == 1  # 5 again: told again


async def test_recount_below_threshold_reports_and_never_goes_negative(
    sessions: Sessions,
) -> None:
    async with sessions.begin() as session:
        kit = await add_item(session, "kit")
        outlet = await add_outlet(session, stock={kit: 10}, low_threshold=3)
        oid = outlet.outlet_id
        assert await stock.reserve(session, outlet_id=oid, items={kit: 4})
        level, low = await stock.set_quantity(
            session, outlet_id=oid, item_id=kit, quantity=2, now=NOW
        )
        assert [c.quantity for c in low] == [2]
        assert level.available == -2
        assert level.is_low
        assert level.low_notified
        await stock.consume(session, outlet_id=oid, items={kit: 4})
        level = await _level(session, oid, kit)
        assert (level.quantity, level.reserved) == (0, 0)
