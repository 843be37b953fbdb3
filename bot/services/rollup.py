"""Whole weeks of daily counters summed into weekly ones, so a year reads 53 rows per key.

The console's Numbers page reads up to a year of counters at 1,000 outlets: over the daily rows
that is half a million rows and a second or more. A week's daily counters stop changing once
the week is over (every counter is added to on the UTC day of its event, by the transaction
of that event), so the due-work clock sums each finished week once into ``weekly_counts``
(:class:`~bot.db.models.WeeklyCount`) and marks it in ``weekly_rollups``; readers take rolled
weeks from there and every other day from the daily rows (:func:`rolled_weeks`), which gives
exactly the same sums.

A week is rolled only :data:`GRACE` after it ended, so that a transaction that took its clock
just before midnight on Sunday has long committed. Rolling is idempotent and safe with several
instances: the marker row is inserted first (``ON CONFLICT DO NOTHING``) and only the
transaction that inserted it writes the week. The daily rows stay: they are the truth, and the
other readers (``/stats``, coverage, forecast) keep reading them.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta

from sqlalchemy import Date, Integer, String, case, func, insert, literal, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from bot.db.models import DailyCount, WeeklyCount, WeeklyRollup
from bot.services.counts import day_of

__all__ = ["EVERY", "GRACE", "WEEK", "WEEKS_PER_RUN", "roll_up", "rolled_weeks", "week_start"]

GRACE = timedelta(days=1)
# The area code (and kind) of a week's totals: never a real area code or kind.
EVERY = "*"
WEEK = timedelta(weeks=1)
# Weeks rolled per call: a first run after an upgrade catches up on a year in a few ticks,
# each a short transaction.
WEEKS_PER_RUN = 8
_COLUMNS = ("measure", "area_code", "outlet_id", "kind", "item_code", "bucket")


def week_start(day: date) -> date:
    """The Monday of ``day``'s ISO week."""
    return day - timedelta(days=day.weekday())


async def roll_up(session: AsyncSession, *, now: datetime, limit: int = WEEKS_PER_RUN) -> int:
    """Roll up to ``limit`` finished weeks not rolled yet, newest first (the console reads
    recent weeks most); returns how many this call rolled."""
    first_day = await session.scalar(select(func.min(DailyCount.day)))
    if first_day is None:
        return 0
    first, cutoff = week_start(first_day), week_start(day_of(now - GRACE))
    done = set(
        await session.scalars(
            select(WeeklyRollup.week).where(WeeklyRollup.week >= first, WeeklyRollup.week < cutoff)
        )
    )
    rolled = 0
    monday = cutoff - WEEK
    while monday >= first and rolled < limit:
        if monday not in done and await _claim(session, monday):
            await _write(session, monday)
            rolled += 1
        monday -= WEEK
    return rolled


async def rolled_weeks(session: AsyncSession, *, since: date, until: date) -> list[date]:
    """The Mondays of the rolled weeks that lie wholly within the days ``[since, until)``."""
    rows = await session.scalars(
        select(WeeklyRollup.week)
        .where(WeeklyRollup.week >= since, WeeklyRollup.week <= until - WEEK)
        .order_by(WeeklyRollup.week)
    )
    return list(rows)


async def _claim(session: AsyncSession, monday: date) -> bool:
    dialect = (await session.connection()).dialect.name
    upsert = pg_insert if dialect == "postgresql" else sqlite_insert
    claimed = await session.scalar(
        upsert(WeeklyRollup)
        .values(week=monday)
        .on_conflict_do_nothing(index_elements=["week"])
        .returning(WeeklyRollup.week)
    )
    return claimed is not None


async def _write(session: AsyncSession, monday: date) -> None:
    window = (DailyCount.day >= monday, DailyCount.day < monday + WEEK)
    week = literal(monday, Date).label("week")
    total = func.sum(DailyCount.count).label("count")
    keyed = (
        select(week, *(getattr(DailyCount, c) for c in _COLUMNS), total)
        .where(*window)
        .group_by(*(getattr(DailyCount, c) for c in _COLUMNS))
    )
    # The week's totals: over every area and outlet, and every kind but for requests made.
    kind = case((DailyCount.measure == "requests.made", DailyCount.kind), else_=EVERY)
    everywhere = (
        select(
            week,
            DailyCount.measure,
            literal(EVERY, String).label("area_code"),
            literal(0, Integer).label("outlet_id"),
            kind.label("kind"),
            DailyCount.item_code,
            DailyCount.bucket,
            total,
        )
        .where(*window)
        .group_by(DailyCount.measure, kind, DailyCount.item_code, DailyCount.bucket)
    )
    target = ["week", *_COLUMNS, "count"]
    for rows in (keyed, everywhere):
        await session.execute(insert(WeeklyCount).from_select(target, rows))
