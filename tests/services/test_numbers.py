"""The Numbers page's aggregates, from requests made and closed through the real services."""

from __future__ import annotations

import csv
import io
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.domain import RequestKind
from bot.services import numbers, retention
from bot.services.suppression import Shown
from tests.services.numbers_world import make_world

Sessions = async_sessionmaker[AsyncSession]
LONDON = ZoneInfo("Europe/London")
BERLIN = ZoneInfo("Europe/Berlin")
# Start of the year of data: a Monday, ISO week 2026-W01 (29 Dec 2025 - 4 Jan 2026).
YEAR_START = datetime(2025, 12, 29, 10, 0, tzinfo=UTC)
HIDDEN = Shown(None)


def test_weeks_are_iso_weeks_of_utc_days() -> None:
    # 2026 has 53 ISO weeks: 28 Dec 2026 - 3 Jan 2027 is 2026-W53.
    assert numbers.week_label(date(2027, 1, 2)) == "2026-W53"
    assert numbers.week_start(date(2027, 1, 3)) == date(2026, 12, 28)
    assert numbers.week_label(date(2027, 1, 4)) == "2027-W01"
    since, until = numbers.last_weeks(datetime(2027, 1, 6, 23, 59, tzinfo=UTC), weeks=2)
    assert (since, until) == (date(2026, 12, 28), date(2027, 1, 7))
    with pytest.raises(ValueError, match="weeks"):
        numbers.last_weeks(datetime(2027, 1, 6, tzinfo=UTC), weeks=0)


def test_quantiles_of_a_minute_histogram() -> None:
    waits = {1: 4, 5: 4, 30: 1, 200: 1}  # ten waits
    assert numbers.quantile_minutes(waits, 0.5) == timedelta(minutes=5)
    assert numbers.quantile_minutes(waits, 0.9) == timedelta(minutes=30)
    assert numbers.quantile_minutes(waits, 1.0) == timedelta(minutes=200)
    assert numbers.quantile_minutes({}, 0.5) is None


async def test_a_week_of_outcomes(sessions: Sessions) -> None:
    monday = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
    async with sessions.begin() as session:
        world = await make_world(session)
        # Eight handed over: waits 1..8 minutes; three of them naloxone, 2 packs of 2 kits.
        for n in range(1, 9):
            kind = RequestKind.NALOXONE if n <= 3 else RequestKind.EQUIPMENT
            await world.handed_over(
                monday + timedelta(hours=n), wait=timedelta(minutes=n), kind=kind, packs=2
            )
        for n in range(6):
            await world.unrouted(monday + timedelta(days=1, hours=n))
        await world.cancelled(monday + timedelta(days=2))
        await world.expired(monday + timedelta(days=2))
    async with sessions() as session:
        got = await numbers.compute(session, since=date(2026, 11, 23), until=date(2026, 11, 30))
    assert [week.label for week in got.weeks] == ["2026-W48"]
    tally = got.weeks[0].tally
    assert tally == got.total
    # 5 equipment (+1 expired) = 6 -> 5; naloxone 3 -> <5; unrouted 6 -> 5 equipment too.
    assert tally.made == {
        "equipment": Shown(10),  # 5 handed over + 6 unrouted + 1 expired = 12 -> 10
        "naloxone": HIDDEN,
        "referral": HIDDEN,
    }
    assert tally.made_total == Shown(15)  # 16 -> 15
    assert tally.outcomes == {
        "handed_over": Shown(10),  # 8
        "unrouted": Shown(5),  # 6
        "cancelled": HIDDEN,
        "expired": HIDDEN,
    }
    assert tally.accepted == Shown(10)
    # Nearest rank of 1..8 minutes: 4th and 8th.
    assert tally.median_to_accept == timedelta(minutes=4)
    assert tally.p90_to_accept == timedelta(minutes=8)
    assert tally.naloxone_kits == Shown(10)  # 3 requests × 2 packs × 2 kits = 12
    (area,) = got.areas
    assert (area.area_code, area.made, area.handed_over, area.unrouted) == (
        "test",
        Shown(15),
        Shown(10),
        Shown(5),
    )
    (outlet,) = got.outlets
    assert outlet.outlet_id == world.outlet_id
    assert outlet.name == "Test outlet"
    assert (outlet.offered, outlet.accepted, outlet.handed_over) == (Shown(10),) * 3
    assert outlet.timed_out == Shown(0)
    assert outlet.naloxone_kits == Shown(10)


async def test_too_few_acceptances_show_no_median(sessions: Sessions) -> None:
    at = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
    async with sessions.begin() as session:
        world = await make_world(session)
        for n in range(4):
            await world.handed_over(at + timedelta(hours=n), wait=timedelta(minutes=3))
    async with sessions() as session:
        got = await numbers.compute(session, since=at.date(), until=at.date() + timedelta(days=1))
    assert got == await _recent(sessions, at)
    assert got.total.accepted == HIDDEN
    assert got.total.median_to_accept is None
    assert got.total.p90_to_accept is None


async def test_a_year_across_new_year_and_dst(sessions: Sessions) -> None:
    """A handover every third day for 53 weeks (2026 has 53 ISO weeks), then a purge."""
    async with sessions.begin() as session:
        world = await make_world(session)
        day = 0
        while day < 53 * 7:
            await world.handed_over(YEAR_START + timedelta(days=day))
            day += 3
        # Six on either side of New Year 2027, all in 2026-W53 (28 Dec - 3 Jan).
        for n in range(3):
            await world.unrouted(datetime(2026, 12, 31, 12, n, tzinfo=UTC))
            await world.unrouted(datetime(2027, 1, 2, 12, n, tzinfo=UTC))
        # Local clocks around the DST changes: the UTC day decides the week.
        # 26 Oct 2026 00:30 CET (summer time just ended) is 25 Oct 23:30 UTC: 2026-W43.
        # 30 Mar 2026 00:30 BST (summer time just began) is 29 Mar 23:30 UTC: 2026-W13.
        for n in range(5):
            await world.unrouted(datetime(2026, 10, 26, 0, 30 + n, tzinfo=BERLIN))
            await world.unrouted(datetime(2026, 3, 30, 0, 30 + n, tzinfo=LONDON))
    year = (date(2025, 12, 29), date(2027, 1, 4))
    async with sessions() as session:
        before = await numbers.compute(session, since=year[0], until=year[1])
    weeks = {week.label: week for week in before.weeks}
    assert len(before.weeks) == 53
    assert before.weeks[0].label == "2026-W01"
    assert before.weeks[-1].label == "2026-W53"
    assert [w.start for w in before.weeks] == [
        date(2025, 12, 29) + timedelta(weeks=n) for n in range(53)
    ]
    # Two or three handovers a week: every week's count is hidden, the year's is rounded.
    assert all(w.tally.outcomes["handed_over"] == HIDDEN for w in before.weeks)
    assert before.total.outcomes["handed_over"] == Shown(125)  # 124 made, one every 3 days
    assert weeks["2026-W53"].tally.outcomes["unrouted"] == Shown(5)  # 6
    assert weeks["2026-W43"].tally.outcomes["unrouted"] == Shown(5)
    assert weeks["2026-W44"].tally.outcomes["unrouted"] == Shown(0)
    assert weeks["2026-W13"].tally.outcomes["unrouted"] == Shown(5)
    assert weeks["2026-W14"].tally.outcomes["unrouted"] == Shown(0)
    assert before.total.median_to_accept == timedelta(minutes=5)

    # Retention purges the requests; the numbers stay the same.
    async with sessions.begin() as session:
        purged = await retention.purge(
            session, now=datetime(2028, 1, 1, tzinfo=UTC), retention=timedelta(days=30)
        )
    assert purged.requests > 0
    async with sessions() as session:
        after = await numbers.compute(session, since=year[0], until=year[1])
    assert after == before


async def test_csv_export(sessions: Sessions) -> None:
    at = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
    async with sessions.begin() as session:
        world = await make_world(session)
        for n in range(6):
            await world.handed_over(at + timedelta(hours=n), area="=HYPERLINK(1)")
        await world.unrouted(at, area="@evil")
    async with sessions() as session:
        got = await numbers.compute(session, since=date(2026, 11, 22), until=date(2026, 11, 24))
    text = numbers.to_csv(got)
    assert text.startswith(",".join(numbers.CSV_HEADER) + "\r\n")
    rows = list(csv.DictReader(io.StringIO(text)))
    assert [r["week"] for r in rows if r["scope"] == "week"][:1] == ["2026-W47"]
    week48 = {r["measure"]: r["value"] for r in rows if r["week"] == "2026-W48"}
    assert week48["closed.handed_over"] == "5"
    assert week48["closed.unrouted"] == "<5"
    assert week48["accept_minutes.median"] == "5"
    assert {r["week_start"] for r in rows if r["week"] == "2026-W48"} == {"2026-11-23"}
    assert {r["week_end"] for r in rows if r["week"] == "2026-W48"} == {"2026-11-29"}
    ranged = {r["measure"]: r for r in rows if r["scope"] == "range"}
    assert ranged["made.total"]["week_start"] == "2026-11-22"
    assert ranged["made.total"]["week_end"] == "2026-11-23"
    areas = {r["area_code"] for r in rows if r["scope"] == "area"}
    assert areas == {"'=HYPERLINK(1)", "'@evil"}
    # No cell of the file starts with a character a spreadsheet would run.
    for row in csv.reader(io.StringIO(text)):
        for cell in row:
            assert not cell.startswith(("=", "+", "-", "@")), cell
    # Nothing exact below the threshold: every count is 0, "<5" or a multiple of 5.
    counts_only = [r["value"] for r in rows if "minutes" not in r["measure"]]
    assert all(v == "<5" or int(v) % 5 == 0 for v in counts_only)


async def test_bad_range(sessions: Sessions) -> None:
    async with sessions() as session:
        with pytest.raises(ValueError, match="until"):
            await numbers.compute(session, since=date(2026, 1, 2), until=date(2026, 1, 2))


async def _recent(sessions: Sessions, now: datetime) -> numbers.Numbers:
    """The default range, cut to the same single day for comparison."""
    async with sessions() as session:
        got = await numbers.recent(session, now=now, weeks=1)
    assert (got.since, got.until) == (date(2026, 11, 23), date(2026, 11, 24))
    return got
