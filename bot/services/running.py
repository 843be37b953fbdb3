"""Running totals per outlet by week, so a year's by-outlet table reads two rows per outlet.

The console's CSV lists every outlet's totals over up to a year: summed from the weekly
counters (:mod:`bot.services.rollup`) that is some 150,000 rows at 1,000 outlets. Here each
rolled week gets, per outlet, the totals of every rolled week up to and including it
(:class:`~bot.db.models.OutletRunningTotal`), so the totals of a run of rolled weeks are the
row of its last week less the row of the week before its first: exactly the same sums.

Weeks are carried in order from the first week of the daily counters, each only once it is
rolled (the rollup rolls newest first, so the chain starts when the oldest week is in), by
:func:`carry`, which the rollup calls. Outlet 0's row marks a written week and is the claim:
with several instances, only the transaction that inserted it writes the week. A run the
chain does not cover yet is summed from the weekly counters (:func:`covers`).
"""

from __future__ import annotations

from datetime import date

from sqlalchemy import Date, Integer, case, func, insert, literal, select, union_all
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from bot.db.models import DailyCount, OutletRunningTotal, WeeklyCount, WeeklyRollup
from bot.services.rollup import WEEK, week_start

__all__ = ["COLUMNS", "MEASURES", "carry", "covers"]

# The outlet counters summed here, by the column that holds them (as the console shows them).
MEASURES = {
    "outlet.offered": "offered",
    "outlet.accepted": "accepted",
    "outlet.declined": "declined",
    "outlet.out_of_stock": "declined",
    "outlet.timed_out": "timed_out",
    "outlet.handed_over": "handed_over",
}
COLUMNS = ("offered", "accepted", "declined", "timed_out", "handed_over")
_MARK = 0  # the outlet id of a week's marker row: never an outlet


async def carry(session: AsyncSession) -> int:
    """Write the running totals of every rolled week after the last one written, in order,
    stopping at the first week not rolled yet; returns how many weeks this call wrote."""
    last = await session.scalar(select(func.max(OutletRunningTotal.week)))
    if last is None:
        first_day = await session.scalar(select(func.min(DailyCount.day)))
        if first_day is None:
            return 0
        monday = week_start(first_day)
    else:
        monday = last + WEEK
    rolled = set(
        await session.scalars(select(WeeklyRollup.week).where(WeeklyRollup.week >= monday))
    )
    written = 0
    while monday in rolled:
        if not await _claim(session, monday):
            break  # another instance is carrying these weeks
        await _write(session, monday)
        written += 1
        monday += WEEK
    return written


async def covers(session: AsyncSession, first: date, last: date) -> bool:
    """Whether the rolled weeks from Monday ``first`` to Monday ``last`` (both included) can be
    read as running totals: ``last`` is written, and so is the week before ``first`` unless
    ``first`` starts the chain."""
    weeks = set(
        await session.scalars(
            select(OutletRunningTotal.week).where(
                OutletRunningTotal.outlet_id == _MARK,
                OutletRunningTotal.week.in_([first - WEEK, last]),
            )
        )
    )
    if last not in weeks:
        return False
    if first - WEEK in weeks:
        return True
    start = await session.scalar(select(func.min(OutletRunningTotal.week)))
    return start == first


async def _claim(session: AsyncSession, monday: date) -> bool:
    dialect = (await session.connection()).dialect.name
    upsert = pg_insert if dialect == "postgresql" else sqlite_insert
    claimed = await session.scalar(
        upsert(OutletRunningTotal)
        .values(week=monday, outlet_id=_MARK, rows=0, **dict.fromkeys(COLUMNS, 0))
        .on_conflict_do_nothing(index_elements=["week", "outlet_id"])
        .returning(OutletRunningTotal.week)
    )
    return claimed is not None


async def _write(session: AsyncSession, monday: date) -> None:
    """The week before's running totals plus this week's counters, per outlet."""
    before = select(
        OutletRunningTotal.outlet_id,
        OutletRunningTotal.rows,
        *(getattr(OutletRunningTotal, column) for column in COLUMNS),
    ).where(OutletRunningTotal.week == monday - WEEK, OutletRunningTotal.outlet_id != _MARK)
    week = select(
        WeeklyCount.outlet_id,
        literal(1, Integer).label("rows"),
        *(
            case(
                (
                    WeeklyCount.measure.in_([m for m, c in MEASURES.items() if c == column]),
                    WeeklyCount.count,
                ),
                else_=0,
            ).label(column)
            for column in COLUMNS
        ),
    ).where(
        WeeklyCount.week == monday,
        WeeklyCount.measure.in_(MEASURES),
        WeeklyCount.outlet_id != _MARK,
    )
    both = union_all(before, week).subquery()
    summed = select(
        literal(monday, Date).label("week"),
        both.c.outlet_id,
        func.sum(both.c.rows),
        *(func.sum(both.c[column]) for column in COLUMNS),
    ).group_by(both.c.outlet_id)
    target = ["week", "outlet_id", "rows", *COLUMNS]
    await session.execute(insert(OutletRunningTotal).from_select(target, summed))
