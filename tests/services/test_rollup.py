"""Weekly rollups of the daily counters: the Numbers read from them equal those read from the
daily rows, over a year across New Year; rolling is idempotent and waits for a week to end."""

from __future__ import annotations

import random
from datetime import UTC, date, datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.db.models import DailyCount, OutletRunningTotal, WeeklyCount, WeeklyRollup
from bot.services import counts, numbers, rollup, running
from bot.services.counts import Key
from bot.services.suppression import publish
from tests.services.numbers_world import make_world

Sessions = async_sessionmaker[AsyncSession]
FIRST = date(2025, 12, 22)  # Monday of 2025-W52: the year runs across two New Years
LAST = date(2027, 1, 6)  # a Wednesday in 2027-W01


async def _year_of_counters(sessions: Sessions) -> list[int]:
    """Counters on most days from FIRST to LAST, through the same write path as the services,
    for three outlets (one named, two gone from the outlets table)."""
    rng = random.Random(16)
    async with sessions.begin() as session:
        world = await make_world(session)
    outlets = [world.outlet_id, 9001, 9002]
    day = FIRST
    while day <= LAST:
        async with sessions.begin() as session:
            for kind in numbers.KINDS:
                for area in ("a", "b", ""):
                    made = rng.randrange(0, 9)
                    counts.add(session, Key(day, "requests.made", area_code=area, kind=kind), made)
                    counts.add(
                        session,
                        Key(day, "requests.handed_over", area_code=area, kind=kind),
                        made // 2,
                    )
                    counts.add(
                        session,
                        Key(day, "requests.unrouted", area_code=area, kind=kind),
                        rng.randrange(0, 3),
                    )
                    counts.add(
                        session,
                        Key(day, "requests.held", area_code=area, kind=kind),
                        rng.randrange(0, 2),
                    )
                counts.add(
                    session,
                    Key(day, "accept.minutes", kind=kind, bucket=rng.randrange(0, 90)),
                    rng.randrange(1, 4),
                )
            for outlet in outlets:
                if rng.random() < 0.6:
                    kind = rng.choice(numbers.KINDS)
                    n = rng.randrange(1, 4)
                    for measure in ("outlet.offered", "outlet.accepted", "outlet.handed_over"):
                        counts.add(session, Key(day, measure, outlet_id=outlet, kind=kind), n)
                    counts.add(
                        session, Key(day, "outlet.declined", outlet_id=outlet, kind=kind), n // 2
                    )
                    item = "nalox" if kind == "naloxone" else "kit"
                    counts.add(
                        session,
                        Key(day, "outlet.packs", outlet_id=outlet, kind=kind, item_code=item),
                        n,
                    )
        day += timedelta(days=rng.choice((1, 1, 1, 2)))
    return outlets


async def _both(sessions: Sessions, since: date, until: date, **kw: object) -> None:
    async with sessions() as session:
        fast = await numbers.compute(session, since=since, until=until, **kw)  # type: ignore[arg-type]
        slow = await numbers.compute(session, since=since, until=until, weekly=False, **kw)  # type: ignore[arg-type]
    assert fast == slow


async def test_rolled_weeks_give_exactly_the_daily_numbers(sessions: Sessions) -> None:
    outlets = await _year_of_counters(sessions)
    now = datetime(2027, 1, 6, 15, 0, tzinfo=UTC)
    rolled = 0
    async with sessions.begin() as session:
        while step := await rollup.roll_up(session, now=now):
            assert step <= rollup.WEEKS_PER_RUN
            rolled += step
            if rolled < 54:  # newest first: the oldest week is not in, the chain cannot start
                assert await running.carry(session) == 0
    # 2025-W52 .. 2026-W53: 54 whole weeks ended more than a day ago; 2027-W01 is running.
    assert rolled == 54
    # Without running totals the by-outlet table is summed from the weekly counters.
    await _both(sessions, *numbers.last_weeks(now, 52))
    async with sessions.begin() as session:
        assert await running.carry(session) == 54
    async with sessions() as session:
        weeks = list(await session.scalars(select(WeeklyRollup.week).order_by(WeeklyRollup.week)))
        assert weeks[0] == FIRST
        assert weeks[-1] == date(2026, 12, 28)
        assert await rollup.rolled_weeks(session, since=FIRST, until=LAST) == weeks
    # The page's periods, a range starting and ending mid-week, the whole span, and one
    # page of outlets (one named, one gone, one that counted nothing).
    for n in (12, 26, 52):
        since, until = numbers.last_weeks(now, n)
        await _both(sessions, since, until)
    await _both(sessions, date(2025, 12, 24), date(2026, 12, 31))
    await _both(sessions, FIRST, LAST + timedelta(days=1))
    await _both(sessions, date(2026, 12, 28), date(2027, 1, 4))  # 2026-W53 alone
    await _both(sessions, FIRST, LAST, outlet_ids=[outlets[0], outlets[2], 4242])
    async with sessions() as session:
        got = await numbers.compute(session, since=FIRST, until=LAST, outlet_ids=[4242])
    assert [(o.outlet_id, str(o.offered)) for o in got.outlets] == [(4242, "0")]
    # Kits are naloxone packs times the pack size (2), other items' packs (kit) left out:
    # checked against the daily rows summed here, not by the service.
    async with sessions() as session:
        got = await numbers.compute(session, since=FIRST, until=LAST + timedelta(days=1))
        packs = await session.execute(
            select(DailyCount.outlet_id, DailyCount.item_code, func.sum(DailyCount.count))
            .where(DailyCount.measure == "outlet.packs")
            .group_by(DailyCount.outlet_id, DailyCount.item_code)
        )
    kits = dict.fromkeys(outlets, 0)
    for outlet, item, n in packs:
        assert item in {"nalox", "kit"}
        kits[outlet] += 2 * n if item == "nalox" else 0
    assert {o.outlet_id: o.naloxone_kits for o in got.outlets} == {
        outlet: publish(n) for outlet, n in kits.items()
    }
    assert all(n >= 5 for n in kits.values())  # shown, so the comparison means something


async def test_rolling_is_idempotent_and_waits_for_the_week_to_end(sessions: Sessions) -> None:
    async with sessions.begin() as session:
        await make_world(session)
        for day in (date(2026, 11, 29), date(2026, 11, 30)):  # a Sunday, the next Monday
            counts.add(session, Key(day, "requests.made", area_code="a", kind="equipment"), 7)
            counts.add(session, Key(day, "outlet.packs", outlet_id=3, item_code="kit"), 2)
            counts.add(session, Key(day, "outlet.packs", outlet_id=4, item_code="kit"), 5)
    # Monday noon: the week that ended at midnight is still within the grace period.
    monday_noon = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)
    async with sessions.begin() as session:
        assert await rollup.roll_up(session, now=monday_noon) == 0
    # A late transaction that took its clock before midnight still counts in the daily rows.
    async with sessions.begin() as session:
        counts.add(
            session, Key(date(2026, 11, 29), "requests.made", area_code="a", kind="equipment")
        )
    tuesday = datetime(2026, 12, 1, 0, 30, tzinfo=UTC)
    async with sessions.begin() as session:
        assert await rollup.roll_up(session, now=tuesday) == 1
    async with sessions.begin() as session:
        assert await rollup.roll_up(session, now=tuesday) == 0  # nothing twice
        rows = {
            (row.measure, row.area_code, row.outlet_id): row.count
            for row in await session.scalars(select(WeeklyCount))
        }
        assert await session.scalar(select(func.count()).select_from(WeeklyRollup)) == 1
    # One row per key for the week (2026-11-23), and the week's totals under area "*".
    assert rows == {
        ("requests.made", "a", 0): 8,
        ("outlet.packs", "", 3): 2,
        ("outlet.packs", "", 4): 5,
        ("requests.made", "*", 0): 8,
        ("outlet.packs", "*", 0): 7,
    }
    await _both(sessions, date(2026, 11, 23), date(2026, 12, 2))


async def test_the_due_tick_rolls_weeks(sessions: Sessions) -> None:
    from handlers.due import run_due
    from tests.handlers.peer_world import make_world as make_peer_world
    from tests.support.chat import Clock

    clock = Clock(now=datetime(2026, 12, 9, 9, 0, tzinfo=UTC))
    world = await make_peer_world(sessions, clock=clock)
    async with sessions.begin() as session:
        counts.add(
            session, Key(date(2026, 11, 26), "requests.made", area_code="a", kind="equipment"), 9
        )
    report = await run_due(world.engine)
    assert report.failed == []
    assert report.weeks_rolled == 2  # 2026-W48 and W49 (both ended); W50 is running
    assert report.weeks_carried == 2
    await _both(sessions, date(2026, 11, 23), date(2026, 12, 10))


async def test_running_totals_are_written_once_in_week_order(sessions: Sessions) -> None:
    """Each rolled week's running totals: the week before's plus the week's counters, written
    once however often carried; a week not rolled yet stops the chain."""
    async with sessions.begin() as session:
        await make_world(session)
        for day, n in ((date(2026, 11, 18), 3), (date(2026, 11, 26), 4), (date(2026, 12, 3), 6)):
            counts.add(session, Key(day, "outlet.offered", outlet_id=7, kind="naloxone"), n)
            counts.add(session, Key(day, "outlet.out_of_stock", outlet_id=7, kind="naloxone"), 1)
            counts.add(session, Key(day, "outlet.declined", outlet_id=7, kind="equipment"), 2)
        # A counter row holding 0 (counts.add writes none for 0, but the row lists the outlet).
        session.add(
            DailyCount(day=date(2026, 11, 26), measure="outlet.timed_out", outlet_id=8, count=0)
        )
    async with sessions.begin() as session:
        # 2026-W47 and W48 ended; W49 (3 Dec) is running.
        assert await rollup.roll_up(session, now=datetime(2026, 12, 3, 9, 0, tzinfo=UTC)) == 2
        assert await running.carry(session) == 2
        assert await running.carry(session) == 0  # nothing twice
    async with sessions.begin() as session:
        assert await running.carry(session) == 0
        got = {
            (row.week, row.outlet_id): (row.rows, row.offered, row.declined, row.timed_out)
            for row in await session.scalars(select(OutletRunningTotal))
        }
    w47, w48 = date(2026, 11, 16), date(2026, 11, 23)
    assert got == {
        (w47, 0): (0, 0, 0, 0),  # the marker of a written week
        (w47, 7): (3, 3, 3, 0),
        (w48, 0): (0, 0, 0, 0),
        (w48, 7): (6, 7, 6, 0),
        (w48, 8): (1, 0, 0, 0),  # a count of 0 still lists the outlet
    }
    async with sessions() as session:
        assert await running.covers(session, w47, w48)
        assert await running.covers(session, w48, w48)
        assert not await running.covers(session, w48, w48 + timedelta(weeks=1))
    await _both(sessions, w47, date(2026, 12, 4))
    await _both(sessions, w48, date(2026, 11, 30))
    async with sessions() as session:
        only48 = await numbers.compute(session, since=w48, until=date(2026, 11, 30))
    assert [(o.outlet_id, str(o.declined)) for o in only48.outlets] == [(7, "<5"), (8, "0")]
