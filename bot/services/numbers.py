"""The console's Numbers page: requests per ISO week, outcomes, time to accept, by area and outlet.

Read from the daily counters (:mod:`bot.services.counts`), the only numbers that outlive the
requests, so a year's figures stay the same through retention purges and ``/forget``. Every
count leaves here already fit to publish (:mod:`bot.services.suppression`: ``<5`` or rounded to
5); nothing exact is returned, so neither the page nor its CSV can show more than it should.

Counters keep the UTC day, so a week is the ISO week (Monday to Sunday) of UTC days. Time to
accept is counted on the day of the first acceptance, in whole minutes, for all outlets
together (the counter has no outlet or area); its median and 90th percentile are shown only
for a week with at least :data:`~bot.services.suppression.SMALL_COUNT` acceptances.

Three ``GROUP BY`` queries over the counters (by day, by area, by outlet) and two small
lookups; nothing loops per outlet. The by-outlet totals of rolled weeks come from the outlets'
running totals where they cover the weeks (:mod:`bot.services.running`: two rows per outlet
instead of one per week), else from the weekly counters.
"""

from __future__ import annotations

import csv
import io
import math
from collections import defaultdict
from collections.abc import Collection, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import (
    BindParameter,
    ColumnElement,
    Date,
    and_,
    bindparam,
    case,
    cast,
    false,
    func,
    or_,
    select,
    type_coerce,
)
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import InstrumentedAttribute

from bot.db.models import DailyCount, Item, Outlet, OutletRunningTotal, WeeklyCount
from bot.domain import ItemCategory, RequestKind
from bot.services import counts, rollup, running
from bot.services.rollup import WEEK, week_start
from bot.services.suppression import SMALL_COUNT, Shown, publish

__all__ = [
    "CSV_HEADER",
    "KINDS",
    "OUTCOMES",
    "AreaRow",
    "Numbers",
    "OutletRow",
    "Tally",
    "Week",
    "compute",
    "last_weeks",
    "outlet_page",
    "quantile_minutes",
    "recent",
    "to_csv",
    "week_label",
    "week_start",
]

KINDS: tuple[str, ...] = tuple(kind.value for kind in RequestKind)
OUTCOMES = ("handed_over", "unrouted", "cancelled", "expired")
_CLOSING = {f"requests.{outcome}": outcome for outcome in OUTCOMES}
_WEEKLY = sorted({"requests.made", "requests.held", "accept.minutes", "outlet.packs", *_CLOSING})
_AREA = sorted({"requests.made", "requests.held", "requests.handed_over", "requests.unrouted"})
_OUTLET = running.MEASURES  # outlet counter -> the column it shows in


@dataclass(frozen=True, slots=True)
class Tally:
    """One week's (or the whole range's) numbers, every count fit to publish."""

    made: Mapping[str, Shown]  # by request kind, every one of KINDS
    made_total: Shown
    outcomes: Mapping[str, Shown]  # every one of OUTCOMES; unrouted excludes those held
    accepted: Shown  # requests accepted (first acceptance only)
    median_to_accept: timedelta | None  # None when fewer than SMALL_COUNT acceptances
    p90_to_accept: timedelta | None
    naloxone_kits: Shown  # handed over: packs × pack size


@dataclass(frozen=True, slots=True)
class Week:
    """An ISO week (Monday ``start``) and its numbers; ``label`` reads ``2026-W53``."""

    start: date
    label: str
    tally: Tally


@dataclass(frozen=True, slots=True)
class AreaRow:
    """One area's requests over the range."""

    area_code: str
    made: Shown
    handed_over: Shown
    unrouted: Shown


@dataclass(frozen=True, slots=True)
class OutletRow:
    """What one outlet did over the range (``declined`` includes out of stock)."""

    outlet_id: int
    name: str  # "" when the outlet is gone (the counters outlive it)
    area_code: str
    offered: Shown
    accepted: Shown
    declined: Shown
    timed_out: Shown
    handed_over: Shown
    naloxone_kits: Shown


@dataclass(frozen=True, slots=True)
class Numbers:
    """The days ``[since, until)``: every ISO week they touch (oldest first, empty ones too),
    the range's totals, and the range by area (by code) and by outlet (by name)."""

    since: date
    until: date
    weeks: tuple[Week, ...]
    total: Tally
    areas: tuple[AreaRow, ...]
    outlets: tuple[OutletRow, ...]


def week_label(day: date) -> str:
    """``day``'s ISO week as ``YYYY-Www`` (the ISO year, which differs near New Year)."""
    year, week, _ = day.isocalendar()
    return f"{year}-W{week:02d}"


def last_weeks(now: datetime, weeks: int = 52) -> tuple[date, date]:
    """The default range: ``weeks`` ISO weeks of UTC days, the last one holding ``now``'s day
    (up to and including it)."""
    if weeks < 1:
        raise ValueError("weeks must be at least 1")
    today = counts.day_of(now)
    return week_start(today) - timedelta(weeks=weeks - 1), today + timedelta(days=1)


def quantile_minutes(histogram: Mapping[int, int], q: float) -> timedelta | None:
    """The ``q`` quantile (nearest rank) of a histogram of whole minutes, None when empty."""
    total = sum(n for n in histogram.values() if n > 0)
    if total <= 0:
        return None
    rank = max(1, math.ceil(q * total))
    seen = 0
    for minutes, n in sorted(histogram.items()):
        seen += max(n, 0)
        if seen >= rank:
            return timedelta(minutes=minutes)
    raise AssertionError("unreachable: rank is at most the total")


class _Raw:
    """True counts for one week or the range, before they are made fit to publish."""

    def __init__(self) -> None:
        self.made: dict[str, int] = defaultdict(int)
        self.closed: dict[str, int] = defaultdict(int)
        self.held = 0
        self.waits: dict[int, int] = defaultdict(int)
        self.kits = 0

    def absorb(self, other: _Raw) -> None:
        """Add ``other``'s counts to these."""
        for kind, n in other.made.items():
            self.made[kind] += n
        for outcome, n in other.closed.items():
            self.closed[outcome] += n
        for minutes, n in other.waits.items():
            self.waits[minutes] += n
        self.held += other.held
        self.kits += other.kits

    def tally(self) -> Tally:
        accepted = sum(self.waits.values())
        closed = dict(self.closed)
        # A held request reopened: its close is whatever ended it later (see stats.py).
        closed["unrouted"] = max(0, closed.get("unrouted", 0) - self.held)
        enough = accepted >= SMALL_COUNT  # a median of three waits describes them
        return Tally(
            made={kind: publish(self.made.get(kind, 0)) for kind in KINDS},
            made_total=publish(sum(self.made.values())),
            outcomes={outcome: publish(closed.get(outcome, 0)) for outcome in OUTCOMES},
            accepted=publish(accepted),
            median_to_accept=quantile_minutes(self.waits, 0.5) if enough else None,
            p90_to_accept=quantile_minutes(self.waits, 0.9) if enough else None,
            naloxone_kits=publish(self.kits),
        )


async def compute(
    session: AsyncSession,
    *,
    since: date,
    until: date,
    outlet_ids: Collection[int] | None = None,
    weekly: bool = True,
) -> Numbers:
    """The numbers for the UTC days ``since`` up to, not including, ``until``.

    Whole weeks already rolled up (:mod:`bot.services.rollup`) are read from the weekly
    counters, every other day from the daily ones: the same sums, far fewer rows. ``weekly=False``
    reads only daily rows (the reference the rollup is tested and measured against).
    ``outlet_ids`` limits the by-outlet rows to those outlets, one row each even when they
    counted nothing (a page of a long list); None gives every outlet with counters.
    """
    if until <= since:
        raise ValueError("until must be after since")
    await counts.flush(session)  # this transaction's own events count too
    mondays = await rollup.rolled_weeks(session, since=since, until=until) if weekly else []
    spans = _Spans(weeks=_runs(mondays), days=_gaps(since, until, mondays))
    kit_sizes = await _naloxone_pack_sizes(session)

    total = _Raw()
    weeks: dict[date, _Raw] = {}
    start = week_start(since)
    while start < until:
        weeks[start] = _Raw()
        start += WEEK
    for monday, measure, kind, item_code, bucket, n in await _weekly_rows(session, spans):
        _add_daily(weeks[monday], measure, kind, item_code, bucket, int(n or 0), kit_sizes)
    for raw in weeks.values():
        total.absorb(raw)

    return Numbers(
        since=since,
        until=until,
        weeks=tuple(
            Week(start=monday, label=week_label(monday), tally=raw.tally())
            for monday, raw in weeks.items()
        ),
        total=total.tally(),
        areas=await _areas(session, spans),
        outlets=await _outlets(session, spans, kit_sizes, outlet_ids),
    )


async def recent(
    session: AsyncSession,
    *,
    now: datetime,
    weeks: int = 52,
    outlet_ids: Collection[int] | None = None,
) -> Numbers:
    """The page's default: the last ``weeks`` ISO weeks up to ``now``'s day (:func:`last_weeks`)."""
    since, until = last_weeks(now, weeks)
    return await compute(session, since=since, until=until, outlet_ids=outlet_ids)


async def outlet_page(session: AsyncSession, *, offset: int, limit: int) -> tuple[list[int], int]:
    """One page of every outlet by name (ids), and how many outlets there are."""
    ids = await session.scalars(
        select(Outlet.id)
        .order_by(func.lower(Outlet.name), Outlet.id)
        .offset(max(offset, 0))
        .limit(limit)
    )
    return list(ids), int(await session.scalar(select(func.count(Outlet.id))) or 0)


@dataclass(frozen=True, slots=True)
class _Spans:
    """Where a range's counters are read: ``[start, end)`` runs of rolled weeks (Mondays) from
    the weekly counters, ``[start, end)`` runs of days from the daily ones."""

    weeks: tuple[tuple[date, date], ...]
    days: tuple[tuple[date, date], ...]

    def weekly(self) -> ColumnElement[bool]:
        return _within(WeeklyCount.week, self.weeks)

    def daily(self) -> ColumnElement[bool]:
        return _within(DailyCount.day, self.days)

    def sources(self) -> Iterator[tuple[type[WeeklyCount] | type[DailyCount], ColumnElement[bool]]]:
        """Each counters table with rows to read, and the condition picking them."""
        if self.weeks:
            yield WeeklyCount, self.weekly()
        if self.days:
            yield DailyCount, self.daily()


def _within(
    column: InstrumentedAttribute[date], runs: Sequence[tuple[date, date]]
) -> ColumnElement[bool]:
    if not runs:
        return false()
    # The days go into the SQL text: with parameters, PostgreSQL switches to a generic plan
    # after five runs of a prepared statement, and for these ranges that plan is 20x slower.
    return or_(*(and_(column >= _day(start), column < _day(end)) for start, end in runs))


def _day(day: date) -> BindParameter[date]:
    return bindparam(None, day, type_=Date, literal_execute=True)


def _runs(mondays: Sequence[date]) -> tuple[tuple[date, date], ...]:
    """Consecutive Mondays as ``[first, last + 1 week)`` runs (``WeeklyCount.week`` values)."""
    runs: list[tuple[date, date]] = []
    for monday in mondays:
        if runs and runs[-1][1] == monday:
            runs[-1] = (runs[-1][0], monday + WEEK)
        else:
            runs.append((monday, monday + WEEK))
    return tuple(runs)


def _gaps(since: date, until: date, mondays: Sequence[date]) -> tuple[tuple[date, date], ...]:
    """The days of ``[since, until)`` outside the rolled weeks."""
    gaps: list[tuple[date, date]] = []
    start = since
    for first, end in _runs(mondays):
        if first > start:
            gaps.append((start, first))
        start = max(start, end)
    if start < until:
        gaps.append((start, until))
    return tuple(gaps)


async def _weekly_rows(session: AsyncSession, spans: _Spans) -> list[Any]:
    """(monday, measure, kind, item_code, bucket, n) summed over areas and outlets."""
    rows: list[Any] = []
    if spans.weeks:
        kind = case((WeeklyCount.measure == "requests.made", WeeklyCount.kind), else_="").label(
            "kind"
        )
        rows += await session.execute(
            select(
                WeeklyCount.week.label("monday"),
                WeeklyCount.measure,
                kind,
                WeeklyCount.item_code,
                WeeklyCount.bucket,
                func.sum(WeeklyCount.count).label("n"),
            )
            # The week's totals over every area and outlet, summed by the rollup.
            .where(
                WeeklyCount.measure.in_(_WEEKLY),
                WeeklyCount.area_code == rollup.EVERY,
                spans.weekly(),
            )
            .group_by(
                WeeklyCount.week,
                WeeklyCount.measure,
                kind,
                WeeklyCount.item_code,
                WeeklyCount.bucket,
            )
        )
    if spans.days:
        dialect = (await session.connection()).dialect.name
        monday = _monday(dialect).label("monday")
        # The kind only matters for requests made; minutes to accept are pooled across kinds.
        day_kind = case((DailyCount.measure == "requests.made", DailyCount.kind), else_="").label(
            "kind"
        )
        rows += await session.execute(
            select(
                monday,
                DailyCount.measure,
                day_kind,
                DailyCount.item_code,
                DailyCount.bucket,
                func.sum(DailyCount.count).label("n"),
            )
            .where(DailyCount.measure.in_(_WEEKLY), spans.daily())
            .group_by(monday, DailyCount.measure, day_kind, DailyCount.item_code, DailyCount.bucket)
        )
    return rows


def _monday(dialect: str) -> ColumnElement[date]:
    """The Monday of the counter's day, in SQL: a year comes back as 53 rows, not 365."""
    if dialect == "postgresql":
        return cast(func.date_trunc("week", DailyCount.day), Date)
    # SQLite keeps dates as ISO text: on to this week's Sunday (or stay), back six days.
    return type_coerce(func.date(DailyCount.day, "weekday 0", "-6 days"), Date)


def _add_daily(
    raw: _Raw,
    measure: str,
    kind: str,
    item_code: str,
    bucket: int,
    n: int,
    kit_sizes: Mapping[str, int],
) -> None:
    if measure == "requests.made":
        raw.made[kind] += n
    elif measure in _CLOSING:
        raw.closed[_CLOSING[measure]] += n
    elif measure == "requests.held":
        raw.held += n
    elif measure == "accept.minutes":
        raw.waits[bucket] += n
    elif measure == "outlet.packs" and item_code in kit_sizes:
        raw.kits += n * kit_sizes[item_code]


async def _areas(session: AsyncSession, spans: _Spans) -> tuple[AreaRow, ...]:
    by_area: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for table, where in spans.sources():
        rows = await session.execute(
            select(table.area_code, table.measure, func.sum(table.count).label("n"))
            .where(table.measure.in_(_AREA), where)
            .group_by(table.area_code, table.measure)
        )
        for row in rows:
            # A week's totals ("*") are skipped here, not in SQL: a condition on the area
            # would make SQLite seek area by area through the index.
            if row.area_code != rollup.EVERY:
                by_area[row.area_code][row.measure] += int(row.n or 0)
    return tuple(
        AreaRow(
            area_code=code,
            made=publish(got["requests.made"]),
            handed_over=publish(got["requests.handed_over"]),
            unrouted=publish(max(0, got["requests.unrouted"] - got["requests.held"])),
        )
        for code, got in sorted(by_area.items())
    )


async def _outlets(
    session: AsyncSession,
    spans: _Spans,
    kit_sizes: Mapping[str, int],
    outlet_ids: Collection[int] | None,
) -> tuple[OutletRow, ...]:
    by_outlet: dict[int, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    if outlet_ids is not None:
        for outlet_id in outlet_ids:
            by_outlet[outlet_id] = defaultdict(int)
    if outlet_ids is not None and not outlet_ids:
        return ()
    # Runs of rolled weeks the running totals cover are two rows per outlet; the rest (and
    # every run's naloxone packs, few rows) are summed from the counters.
    summed: list[tuple[date, date]] = []
    for first, end in spans.weeks:
        if await running.covers(session, first, end - WEEK):
            await _add_running(session, by_outlet, first, end - WEEK, outlet_ids)
        else:
            summed.append((first, end))
    kits = sorted(kit_sizes)
    for table, where in spans.sources():
        counters = _within(WeeklyCount.week, summed) if table is WeeklyCount else where
        which = table.outlet_id != 0 if outlet_ids is None else table.outlet_id.in_(outlet_ids)
        rows = await session.execute(
            select(
                table.outlet_id,
                table.measure,
                table.item_code,
                func.sum(table.count).label("n"),
            )
            # A week's totals have outlet_id 0: never one of these. Packs count only as
            # naloxone kits: other items' packs (most of them) are left in the database.
            .where(
                or_(
                    and_(table.measure.in_(_OUTLET), counters),
                    and_(table.measure == "outlet.packs", table.item_code.in_(kits), where),
                ),
                which,
            )
            .group_by(table.outlet_id, table.measure, table.item_code)
        )
        for row in rows:
            n = int(row.n or 0)
            if row.measure == "outlet.packs":
                if row.item_code in kit_sizes:
                    by_outlet[row.outlet_id]["kits"] += n * kit_sizes[row.item_code]
            else:
                by_outlet[row.outlet_id][_OUTLET[row.measure]] += n
    if not by_outlet:
        return ()
    names = {
        row.id: (row.name, row.area_code)
        for row in await session.execute(
            select(Outlet.id, Outlet.name, Outlet.area_code).where(Outlet.id.in_(sorted(by_outlet)))
        )
    }
    result = [
        OutletRow(
            outlet_id=outlet_id,
            name=names.get(outlet_id, ("", ""))[0],
            area_code=names.get(outlet_id, ("", ""))[1],
            offered=publish(got["offered"]),
            accepted=publish(got["accepted"]),
            declined=publish(got["declined"]),
            timed_out=publish(got["timed_out"]),
            handed_over=publish(got["handed_over"]),
            naloxone_kits=publish(got["kits"]),
        )
        for outlet_id, got in by_outlet.items()
    ]
    return tuple(sorted(result, key=lambda row: (row.name.casefold(), row.outlet_id)))


async def _add_running(
    session: AsyncSession,
    by_outlet: dict[int, dict[str, int]],
    first: date,
    last: date,
    outlet_ids: Collection[int] | None,
) -> None:
    """Add each outlet's totals over the rolled weeks ``first`` to ``last`` (Mondays, both
    included): its running totals at ``last`` less those of the week before ``first``."""
    table = OutletRunningTotal
    sign = case((table.week == _day(last), 1), else_=-1)
    which = table.outlet_id != 0 if outlet_ids is None else table.outlet_id.in_(outlet_ids)
    rows = await session.execute(
        select(
            table.outlet_id,
            func.sum(sign * table.rows).label("rows"),
            *(func.sum(sign * getattr(table, column)).label(column) for column in running.COLUMNS),
        )
        .where(or_(table.week == _day(last), table.week == _day(first - WEEK)), which)
        .group_by(table.outlet_id)
    )
    for row in rows:
        # Listed only with a counter in these weeks, as when summed from the counters.
        if row.rows:
            got = by_outlet[row.outlet_id]
            for column in running.COLUMNS:
                got[column] += int(getattr(row, column))


async def _naloxone_pack_sizes(session: AsyncSession) -> dict[str, int]:
    rows = await session.execute(
        select(Item.code, Item.pack_size).where(Item.category == ItemCategory.NALOXONE)
    )
    return {row.code: row.pack_size for row in rows}


# CSV ---------------------------------------------------------------------------------------

CSV_HEADER = (
    "scope",
    "week",
    "week_start",
    "week_end",
    "area_code",
    "outlet_id",
    "outlet",
    "measure",
    "value",
)
# A spreadsheet runs a cell starting with one of these as a formula (OWASP "CSV injection").
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r", "\n")


def _cell(value: object) -> str:
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(_FORMULA_START) else text


def _minutes(value: timedelta | None) -> str:
    return "" if value is None else str(int(value.total_seconds() // 60))


def _tally_rows(tally: Tally) -> list[tuple[str, str]]:
    rows = [(f"made.{kind}", str(tally.made[kind])) for kind in KINDS]
    rows.append(("made.total", str(tally.made_total)))
    rows += [(f"closed.{outcome}", str(tally.outcomes[outcome])) for outcome in OUTCOMES]
    rows.append(("accepted", str(tally.accepted)))
    rows.append(("accept_minutes.median", _minutes(tally.median_to_accept)))
    rows.append(("accept_minutes.p90", _minutes(tally.p90_to_accept)))
    rows.append(("naloxone_kits", str(tally.naloxone_kits)))
    return rows


def to_csv(numbers: Numbers) -> str:
    """The same aggregates as one long CSV table (one value a line, header first, ISO dates,
    ``<5`` for hidden counts, minutes empty where too few to show). Text that a spreadsheet
    would run as a formula gets a leading ``'``."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(CSV_HEADER)
    last = (numbers.until - timedelta(days=1)).isoformat()
    for week in numbers.weeks:
        end = (week.start + timedelta(days=6)).isoformat()
        for measure, value in _tally_rows(week.tally):
            writer.writerow(
                ["week", week.label, week.start.isoformat(), end, "", "", "", measure, value]
            )
    for measure, value in _tally_rows(numbers.total):
        writer.writerow(["range", "", numbers.since.isoformat(), last, "", "", "", measure, value])
    for area in numbers.areas:
        for measure, shown in (
            ("made.total", area.made),
            ("closed.handed_over", area.handed_over),
            ("closed.unrouted", area.unrouted),
        ):
            writer.writerow(
                [
                    "area",
                    "",
                    numbers.since.isoformat(),
                    last,
                    _cell(area.area_code),
                    "",
                    "",
                    measure,
                    str(shown),
                ]
            )
    for outlet in numbers.outlets:
        for measure, shown in (
            ("offered", outlet.offered),
            ("accepted", outlet.accepted),
            ("declined", outlet.declined),
            ("timed_out", outlet.timed_out),
            ("handed_over", outlet.handed_over),
            ("naloxone_kits", outlet.naloxone_kits),
        ):
            writer.writerow(
                [
                    "outlet",
                    "",
                    numbers.since.isoformat(),
                    last,
                    _cell(outlet.area_code),
                    outlet.outlet_id,
                    _cell(outlet.name),
                    measure,
                    str(shown),
                ]
            )
    return out.getvalue()
