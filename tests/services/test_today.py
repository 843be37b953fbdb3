"""*Today*'s numbers with more outlets than its lists show: counted in SQL, lists cut."""

from __future__ import annotations

from sqlalchemy import insert
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.db.models import Outlet
from bot.domain import OutletKind
from bot.services import today
from bot.services.today import LIST_LIMIT
from tests.services.factories import ALWAYS, LAT, LON, NEVER, NOW, add_item, add_outlet

Sessions = async_sessionmaker[AsyncSession]
# Open at NOW (15:00 UTC) in UTC, closed in Vancouver (07:00 there).
AFTERNOON = {"daily": ["14:00-16:00"]}


async def test_open_outlets_and_stock_alarms_are_counted_beyond_the_lists(
    sessions: Sessions,
) -> None:
    async with sessions.begin() as session:
        kit = await add_item(session, "kit")
        swab = await add_item(session, "swab")
        always = [
            (await add_outlet(session, stock={kit: 0, swab: 3}, peers=0)).outlet_id
            for _ in range(LIST_LIMIT + 2)
        ]
        afternoon = (await add_outlet(session, hours=AFTERNOON, peers=0)).outlet_id
        closed = [
            (await add_outlet(session, hours=NEVER, peers=0)).outlet_id,
            (
                await add_outlet(session, hours=AFTERNOON, timezone="America/Vancouver", peers=0)
            ).outlet_id,
        ]
        await add_outlet(session, hours=ALWAYS, active=False, stock={kit: 0}, peers=0)
        picture = await today.snapshot(session, now=NOW, outlet_ids=None)
        a_peer = await today.snapshot(session, now=NOW, outlet_ids={always[0], closed[0]})
    open_ids = sorted([*always, afternoon])
    assert picture.outlets_count == len(always) + 1 + len(closed)
    assert picture.outlets_open_count == len(open_ids)
    assert [outlet_id for outlet_id, _ in picture.outlets_open] == open_ids[:LIST_LIMIT]
    # Every item at every active outlet: the outs first, then the lows.
    assert picture.stock_alarm_count == 2 * len(always)
    assert len(picture.stock_alarms) == LIST_LIMIT
    assert all(alarm.out for alarm in picture.stock_alarms)
    assert (a_peer.outlets_count, a_peer.outlets_open_count) == (2, 1)
    assert a_peer.outlets_open == [(always[0], "Test outlet")]
    assert [(a.outlet_id, a.item_code) for a in a_peer.stock_alarms] == [
        (always[0], "kit"),
        (always[0], "swab"),
    ]
    assert a_peer.stock_alarm_count == 2


async def test_every_outlet_with_its_own_hours_is_still_counted(sessions: Sessions) -> None:
    """More distinct open schedules than SQLite's expression depth (1,000) allows terms."""
    schedules = [
        f"Mo-Su {start // 60:02d}:{start % 60:02d}-{end}"
        for start in range(0, 15 * 60, 3)
        for end in ("16:00", "23:00", "23:30", "23:59")
    ][:1001]
    async with sessions.begin() as session:
        await session.execute(
            insert(Outlet),
            [
                {
                    "key": f"o{n}",
                    "name": f"Outlet {n:04d}",
                    "kind": OutletKind.PEER,
                    "area_code": "test",
                    "latitude": LAT,
                    "longitude": LON,
                    "timezone": "UTC",
                    "instructions": "",
                    "hours": hours,
                    "active": True,
                    "created_at": NOW,
                }
                for n, hours in enumerate(schedules)
            ],
        )
        picture = await today.snapshot(session, now=NOW, outlet_ids=None)
    assert (picture.outlets_open_count, picture.outlets_count) == (1001, 1001)
    assert [name for _, name in picture.outlets_open] == [f"Outlet {n:04d}" for n in range(50)]
