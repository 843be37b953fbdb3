"""One-off closures: set, list, reopen, purge; in local days; and what they change elsewhere."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.db.models import AuditEvent, OutletClosure
from bot.domain import ClosureReason
from bot.services import closures, readiness
from bot.services.closures import ClosureError
from tests.services.factories import NOW, add_outlet

Sessions = async_sessionmaker[AsyncSession]


async def test_close_today_ends_at_the_outlets_local_midnight(sessions: Sessions) -> None:
    async with sessions.begin() as session:
        # NOW is 15:00 UTC = 07:00 PST on Wednesday 25 November in Vancouver.
        built = await add_outlet(session, timezone="America/Vancouver")
        closed = await closures.close_today(
            session, outlet_id=built.outlet_id, actor="peer", now=NOW
        )
        assert closed.closure.starts_at == NOW
        assert closed.closure.ends_at == datetime(2026, 11, 26, 8, 0, tzinfo=UTC)
        assert closed.closure.reason is ClosureReason.CLOSED_TODAY
        assert closed.lapsed == ()
        tomorrow = await closures.close_tomorrow(
            session, outlet_id=built.outlet_id, actor="coordinator", now=NOW
        )
        assert tomorrow.closure.starts_at == closed.closure.ends_at
        assert tomorrow.closure.ends_at == datetime(2026, 11, 27, 8, 0, tzinfo=UTC)
        listed = await closures.current_and_upcoming(session, outlet_id=built.outlet_id, now=NOW)
        assert [c.id for c in listed] == [closed.closure.id, tomorrow.closure.id]
        assert [c.active(NOW) for c in listed] == [True, False]
        assert await closures.closed_now(session, now=NOW) == {built.outlet_id}
        assert await closures.closed_now(session, now=tomorrow.closure.ends_at) == set()
        actions = list(await session.scalars(select(AuditEvent.action)))
        assert actions.count("outlet.closed") == 2


def test_local_midnight_across_dst() -> None:
    from zoneinfo import ZoneInfo

    van = ZoneInfo("America/Vancouver")
    # Saturday 7 March 2026, 20:00 PST: the next midnight is still PST, the one after PDT.
    at = datetime(2026, 3, 8, 4, 0, tzinfo=UTC)
    assert closures.local_midnight(at, van, days=1) == datetime(2026, 3, 8, 8, 0, tzinfo=UTC)
    assert closures.local_midnight(at, van, days=2) == datetime(2026, 3, 9, 7, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("start", "end", "message"),
    [
        (NOW, NOW, "end after it starts"),
        (NOW - timedelta(days=2), NOW - timedelta(days=1), "already be over"),
        (NOW, NOW + timedelta(days=93), "at most 92 days"),
        (NOW.replace(tzinfo=None), NOW + timedelta(hours=1), "time zone"),
    ],
)
async def test_bad_closures_change_nothing(
    sessions: Sessions, start: datetime, end: datetime, message: str
) -> None:
    async with sessions.begin() as session:
        built = await add_outlet(session)
        with pytest.raises(ClosureError, match=message):
            await closures.close(
                session,
                outlet_id=built.outlet_id,
                starts_at=start,
                ends_at=end,
                reason=ClosureReason.OTHER,
                actor="web",
                now=NOW,
            )
        with pytest.raises(ClosureError, match="no such outlet"):
            await closures.close_today(session, outlet_id=built.outlet_id + 99, actor="x", now=NOW)
        assert await session.scalar(select(func.count()).select_from(OutletClosure)) == 0


async def test_reopen_and_purge(sessions: Sessions) -> None:
    async with sessions.begin() as session:
        built = await add_outlet(session)
        now_closed = await closures.close_today(
            session, outlet_id=built.outlet_id, actor="peer", now=NOW
        )
        holiday = await closures.close(
            session,
            outlet_id=built.outlet_id,
            starts_at=NOW + timedelta(days=5),
            ends_at=NOW + timedelta(days=6),
            reason=ClosureReason.HOLIDAY,
            actor="web",
            now=NOW,
        )
        # "Reopen now" ends what holds now; the holiday stays.
        assert await closures.reopen_now(session, outlet_id=built.outlet_id, actor="peer", now=NOW)
        listed = await closures.current_and_upcoming(session, outlet_id=built.outlet_id, now=NOW)
        assert [c.id for c in listed] == [holiday.closure.id]
        assert not await closures.reopen(
            session, closure_id=now_closed.closure.id, actor="web", now=NOW
        )
        # Ended closures go with the housekeeping sweep, not before.
        assert await closures.purge_ended(session, now=NOW + timedelta(days=6) - timedelta(1)) == 0
        assert await closures.purge_ended(session, now=NOW + timedelta(days=6)) == 1
        assert await session.scalar(select(func.count()).select_from(OutletClosure)) == 0


async def test_readiness_counts_a_closed_outlet_as_not_opening(sessions: Sessions) -> None:
    async with sessions.begin() as session:
        built = await add_outlet(session)
        assert (await readiness.readiness(session, now=NOW)).open_soon == 1
        await closures.close(
            session,
            outlet_id=built.outlet_id,
            starts_at=NOW,
            ends_at=NOW + timedelta(days=2),
            reason=ClosureReason.HOLIDAY,
            actor="web",
            now=NOW,
        )
        assert (await readiness.readiness(session, now=NOW)).open_soon == 0
