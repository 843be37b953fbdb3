"""Changing an outlet's hours at runtime, and what they mean now (closures included)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.db.models import AuditEvent, Outlet
from bot.services import closures, outlet_hours, routing
from bot.services.outlet_hours import HoursError, HoursNow
from tests.services.factories import LAT, LON, NOW, add_outlet

Sessions = async_sessionmaker[AsyncSession]
VAN = ZoneInfo("America/Vancouver")


async def test_set_hours_stores_the_canonical_text_and_routing_follows(sessions: Sessions) -> None:
    async with sessions.begin() as session:
        built = await add_outlet(session)
        # NOW is Wednesday 15:00 UTC; the outlet keeps UTC.
        found = await routing.nearest_available(session, lat=LAT, lon=LON, items={}, now=NOW)
        assert [c.outlet_id for c in found] == [built.outlet_id]
        hours = await outlet_hours.set_hours(
            session, outlet_id=built.outlet_id, text="mo-fr 09:00-12:00", actor="web", now=NOW
        )
        assert hours.text == "Mo-Fr 09:00-12:00"
        outlet = await session.get_one(Outlet, built.outlet_id)
        assert outlet.hours == "Mo-Fr 09:00-12:00"
        assert outlet.updated_at == NOW
        assert await routing.nearest_available(session, lat=LAT, lon=LON, items={}, now=NOW) == []
        assert "outlet.hours" in set(await session.scalars(select(AuditEvent.action)))


@pytest.mark.parametrize("text", ["Mo-Fr 25:00-26:00", "", "whenever"])
async def test_bad_hours_change_nothing(sessions: Sessions, text: str) -> None:
    async with sessions.begin() as session:
        built = await add_outlet(session)
        before = (await session.get_one(Outlet, built.outlet_id)).hours
        with pytest.raises(HoursError):
            await outlet_hours.set_hours(
                session, outlet_id=built.outlet_id, text=text, actor="web", now=NOW
            )
        assert outlet_hours.validate(text) is not None
        assert (await session.get_one(Outlet, built.outlet_id)).hours == before
        assert list(await session.scalars(select(AuditEvent.action))) == []
    assert outlet_hours.validate("Mo-Fr 10:00-18:00") is None


def test_describe_open_and_closed() -> None:
    # Wednesday 25 November 2026, 11:00 PST.
    at = datetime(2026, 11, 25, 19, 0, tzinfo=UTC)
    now_open = outlet_hours.describe("Mo-Fr 10:00-18:00", timezone="America/Vancouver", now=at)
    assert now_open == HoursNow(open=True, closes_at=datetime(2026, 11, 25, 18, 0, tzinfo=VAN))
    later = outlet_hours.describe("Tu 10:00-12:00", timezone=VAN, now=at)
    assert later == HoursNow(open=False, opens_at=datetime(2026, 12, 1, 10, 0, tzinfo=VAN))
    assert outlet_hours.describe("nonsense", timezone=VAN, now=at) == HoursNow(open=False)
    assert outlet_hours.describe("24/7", timezone="Nowhere/Land", now=at) == HoursNow(open=False)


def test_describe_with_closures() -> None:
    at = datetime(2026, 11, 25, 19, 0, tzinfo=UTC)  # Wednesday 11:00 PST
    today = (at, datetime(2026, 11, 26, 8, 0, tzinfo=UTC))
    closed = outlet_hours.describe("Mo-Fr 10:00-18:00", timezone=VAN, now=at, closures=[today])
    # Thursday 10:00 is the next opening once today's closure is over.
    assert closed == HoursNow(
        open=False, opens_at=datetime(2026, 11, 26, 10, 0, tzinfo=VAN), closure=True
    )
    # A closure starting later today cuts today's hours short.
    soon = (at + timedelta(hours=2), at + timedelta(hours=30))
    cut = outlet_hours.describe("Mo-Fr 10:00-18:00", timezone=VAN, now=at, closures=[soon])
    assert cut.open
    assert cut.closes_at == datetime(2026, 11, 25, 13, 0, tzinfo=VAN)


async def test_open_now_leaves_out_closed_and_inactive_outlets(sessions: Sessions) -> None:
    async with sessions.begin() as session:
        always = await add_outlet(session)
        await add_outlet(session, hours="Mo 09:00-10:00")  # NOW is a Wednesday
        await add_outlet(session, active=False)
        closing = await add_outlet(session)
        assert await outlet_hours.open_now(session, now=NOW) == [
            always.outlet_id,
            closing.outlet_id,
        ]
        await closures.close_today(session, outlet_id=closing.outlet_id, actor="web", now=NOW)
        assert await outlet_hours.open_now(session, now=NOW) == [always.outlet_id]
