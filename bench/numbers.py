"""The console's Numbers, stock forecast and coverage queries over a year of daily counters.

Run ``python -m bench.numbers [--outlets 1000] [--busy 0.3] [--rounds 20]``. It builds a fresh,
migrated database (a temp SQLite file; and a throw-away PostgreSQL database when
``HRBOT_TEST_POSTGRES_URL`` is set), fills it with ``--outlets`` outlets stocking three items
and a year (53 ISO weeks) of daily counters as the services write them: each outlet busy on a
``--busy`` share of days (offered, accepted, handed over, packs), every area's requests and
outcomes, minutes to accept, unrouted cells. Then it times each aggregate the console calls
(p50/p95 over ``--rounds`` runs, after one warm-up) beside two baselines from the same run:
``scan`` (``SELECT count(*)`` over the year's counter rows, the floor of any aggregate that
reads them) and ``/stats`` (:func:`bot.services.stats.compute`, the chat command's one query
over the same year). Figures are printed, never asserted.

Then the Numbers page's own path, end to end in one process: the service call a page makes
(one page of outlets by name, :func:`numbers.recent` for 12 or 52 weeks, the four charts) and
the CSV export (every outlet, :func:`numbers.to_csv`), each timed *before* (``weekly=False``:
every day read from the daily counters) and *after* (finished weeks read from the weekly
rollups, :mod:`bot.services.rollup`, the running week from the daily rows), after timing the
rollup's catch-up on the whole year. Before and after must give equal numbers: the run says so.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from datetime import time as day_time
from pathlib import Path
from typing import Any

from sqlalchemy import func, insert, make_url, select, text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from bot.db.engine import make_engine, make_sessionmaker
from bot.db.migrate import upgrade
from bot.db.models import DailyCount, Item, Outlet, Stock
from bot.domain import ItemCategory, OutletKind
from bot.privacy import snap
from bot.services import coverage, forecast, numbers, rollup, running, stats
from bot.web.charts import Series, line_chart, stacked_bars
from bot.web.console.numbers import OUTLETS_PER_PAGE

POSTGRES_ENV = "HRBOT_TEST_POSTGRES_URL"
NOW = datetime(2027, 1, 3, 18, 0, tzinfo=UTC)  # a Sunday: the year ends with a whole week
AREAS = [f"area{n:02d}" for n in range(30)]
KINDS = ("equipment", "naloxone", "referral")
ITEMS = (("kit", ItemCategory.EQUIPMENT, 10), ("nalox", ItemCategory.NALOXONE, 2))
CHUNK = 2000


async def populate(engine: AsyncEngine, outlets: int, busy: float, seed: int) -> int:
    """Outlets, stock and a year of counters; returns the counter rows written."""
    rng = random.Random(seed)
    sessions = make_sessionmaker(engine)
    async with sessions.begin() as session:
        item_ids = {}
        for code, category, pack in ITEMS:
            item_ids[code] = await session.scalar(
                insert(Item)
                .values(code=code, category=category, pack_size=pack, active=True)
                .returning(Item.id)
            )
        ids = (
            await session.execute(
                insert(Outlet).returning(Outlet.id),
                [
                    {
                        "key": f"o{n}",
                        "name": f"Outlet {n}",
                        "kind": OutletKind.PEER,
                        "area_code": AREAS[n % len(AREAS)],
                        "latitude": 49.2 + rng.random() * 0.1,
                        "longitude": -123.2 + rng.random() * 0.1,
                        "timezone": "UTC",
                        "instructions": "",
                        "hours": {},
                        "active": True,
                        "created_at": NOW,
                    }
                    for n in range(outlets)
                ],
            )
        ).scalars()
        outlet_ids = list(ids)
        await session.execute(
            insert(Stock),
            [
                {
                    "outlet_id": o,
                    "item_id": i,
                    "quantity": rng.randrange(0, 200),
                    "reserved": 0,
                    "low_threshold": 5,
                    "low_notified": False,
                }
                for o in outlet_ids
                for i in item_ids.values()
            ],
        )
    cells = [snap(49.2 + rng.random() * 0.2, -123.2 + rng.random() * 0.2).code for _ in range(60)]
    first = numbers.week_start(NOW.date()) - timedelta(weeks=52)
    written = 0
    for offset in range((NOW.date() - first).days + 1):
        day = first + timedelta(days=offset)
        rows: dict[tuple[str, str, int, str, str, int], int] = {}

        def count(measure: str, n: int, area: str = "", outlet: int = 0, kind: str = "",
                  item: str = "", bucket: int = 0,
                  rows: dict[Any, int] = rows) -> None:  # fmt: skip
            if n > 0:
                key = (measure, area, outlet, kind, item, bucket)
                rows[key] = rows.get(key, 0) + n

        for outlet_id in outlet_ids:
            if rng.random() < busy:
                kind = rng.choice(KINDS)
                handed = rng.randrange(1, 4)
                count("outlet.offered", handed + rng.randrange(0, 2), outlet=outlet_id, kind=kind)
                count("outlet.accepted", handed, outlet=outlet_id, kind=kind)
                count("outlet.handed_over", handed, outlet=outlet_id, kind=kind)
                item = "nalox" if kind == "naloxone" else "kit"
                count("outlet.packs", handed, outlet=outlet_id, kind=kind, item=item)
        for area in AREAS:
            for kind in KINDS:
                made = rng.randrange(0, 12)
                count("requests.made", made, area=area, kind=kind)
                count("requests.handed_over", made * 3 // 4, area=area, kind=kind)
                count("requests.unrouted", made // 8, area=area, kind=kind)
                count("requests.expired", made // 10, area=area, kind=kind)
        for kind in KINDS:
            for bucket in rng.sample(range(240), 12):
                count("accept.minutes", rng.randrange(1, 20), kind=kind, bucket=bucket)
        for cell in rng.sample(cells, 8):
            count("cells.unrouted", rng.randrange(1, 4), area=cell, kind=rng.choice(KINDS))
        batch = [
            {
                "day": day,
                "measure": m,
                "area_code": a,
                "outlet_id": o,
                "kind": k,
                "item_code": i,
                "bucket": b,
                "count": n,
            }
            for (m, a, o, k, i, b), n in rows.items()
        ]
        async with sessions.begin() as session:
            for start in range(0, len(batch), CHUNK):
                await session.execute(insert(DailyCount), batch[start : start + CHUNK])
        written += len(batch)
    return written


async def _times(
    session: AsyncSession, call: Callable[[AsyncSession], Awaitable[Any]], rounds: int
) -> tuple[float, float]:
    await call(session)  # warm-up: statement caches, pages in memory
    samples = []
    for _ in range(rounds):
        started = time.perf_counter()
        await call(session)
        samples.append((time.perf_counter() - started) * 1000)
        await session.rollback()
    samples.sort()
    p95 = samples[min(len(samples) - 1, round(0.95 * (len(samples) - 1)))]
    return statistics.median(samples), p95


async def measure(backend: str, url: str, args: argparse.Namespace) -> list[tuple[str, ...]]:
    engine = make_engine(url)
    try:
        await upgrade(engine)
        started = time.perf_counter()
        written = await populate(engine, args.outlets, args.busy, seed=args.outlets)
        # A year in production has had autovacuum and ANALYZE run many times over: give the
        # planner its statistics (and PostgreSQL its visibility map for index-only scans).
        async with engine.connect() as conn:
            conn = await conn.execution_options(isolation_level="AUTOCOMMIT")
            vacuum = "VACUUM ANALYZE daily_counts" if backend == "postgresql" else "ANALYZE"
            await conn.execute(text(vacuum))
        print(
            f"  {backend}: {args.outlets} outlets, {written} counter rows"
            f" in {time.perf_counter() - started:.1f} s",
            file=sys.stderr,
        )
        since, until = numbers.last_weeks(NOW)
        year = (
            datetime.combine(since, day_time(), tzinfo=UTC),
            datetime.combine(until, day_time(), tzinfo=UTC),
        )
        got = None

        async def numbers_page(session: AsyncSession) -> None:
            nonlocal got
            got = await numbers.compute(session, since=since, until=until)

        async def charts(session: AsyncSession) -> None:
            assert got is not None
            labels = [w.label for w in got.weeks]
            stacked_bars(
                ident="handed",
                title="Handed over and unrouted",
                desc="per week",
                labels=labels,
                series=[
                    Series(o, [w.tally.outcomes[o].value for w in got.weeks])
                    for o in ("handed_over", "unrouted")
                ],
            )
            line_chart(
                ident="accept",
                title="Minutes to accept",
                desc="median and 90th percentile",
                labels=labels,
                series=[
                    Series("median", [_minutes(w.tally.median_to_accept) for w in got.weeks]),
                    Series("p90", [_minutes(w.tally.p90_to_accept) for w in got.weeks]),
                ],
            )
            numbers.to_csv(got)

        async def scan(session: AsyncSession) -> None:
            await session.scalar(
                select(func.count()).where(DailyCount.day >= since, DailyCount.day < until)
            )

        calls: list[tuple[str, Callable[[AsyncSession], Awaitable[Any]]]] = [
            ("scan (baseline)", scan),
            ("/stats (baseline)", lambda s: stats.compute(s, since=year[0], until=year[1])),
            ("numbers.compute", numbers_page),
            ("charts + CSV", charts),
            ("forecast.forecast", lambda s: forecast.forecast(s, now=NOW)),
            ("coverage.coverage", lambda s: coverage.coverage(s, since=since, until=until)),
        ]
        rows: list[tuple[str, ...]] = []
        async with make_sessionmaker(engine)() as session:
            for name, call in calls:
                p50, p95 = await _times(session, call, args.rounds)
                rows.append((backend, name, f"{p50:.1f}", f"{p95:.1f}"))
        rows += await _page_path(engine, backend, args.rounds)
        return rows
    finally:
        await engine.dispose()


async def _page_path(engine: AsyncEngine, backend: str, rounds: int) -> list[tuple[str, ...]]:
    """The Numbers page and its CSV before and after the weekly rollup (module docstring)."""
    sessions = make_sessionmaker(engine)
    started = time.perf_counter()
    weeks_rolled = 0
    while True:  # as the due-work clock does it, a few weeks a transaction
        async with sessions.begin() as session:
            step = await rollup.roll_up(session, now=NOW)
            carried = await running.carry(session)
        if not step and not carried:
            break
        weeks_rolled += step
    catch_up = (time.perf_counter() - started) * 1000
    async with engine.connect() as conn:
        conn = await conn.execution_options(isolation_level="AUTOCOMMIT")
        analyze = "VACUUM ANALYZE weekly_counts" if backend == "postgresql" else "ANALYZE"
        await conn.execute(text(analyze))
    rows: list[tuple[str, ...]] = [
        (backend, f"rollup of {weeks_rolled} weeks", f"{catch_up:.0f}", "(once)")
    ]

    def page(weeks: int, weekly: bool) -> Callable[[AsyncSession], Awaitable[Any]]:
        async def call(session: AsyncSession) -> numbers.Numbers:
            ids, _ = await numbers.outlet_page(session, offset=0, limit=OUTLETS_PER_PAGE)
            since, until = numbers.last_weeks(NOW, weeks)
            got = await numbers.compute(
                session, since=since, until=until, outlet_ids=ids, weekly=weekly
            )
            _draw(got)
            return got

        return call

    def export(weeks: int, weekly: bool) -> Callable[[AsyncSession], Awaitable[Any]]:
        async def call(session: AsyncSession) -> str:
            since, until = numbers.last_weeks(NOW, weeks)
            got = await numbers.compute(session, since=since, until=until, weekly=weekly)
            return numbers.to_csv(got)

        return call

    async with sessions() as session:
        for weeks in (12, 52):
            for name, make in ((f"page {weeks} wk", page), (f"CSV {weeks} wk", export)):
                before, after = make(weeks, False), make(weeks, True)
                same = await before(session) == await after(session)
                for label, call in (("before", before), ("after", after)):
                    p50, p95 = await _times(session, call, rounds)
                    rows.append((backend, f"{name} {label}", f"{p50:.1f}", f"{p95:.1f}"))
                if not same:
                    rows.append((backend, f"{name}: NOT EQUAL", "!", "!"))
        return rows


def _draw(got: numbers.Numbers) -> None:
    """The page's four charts (as bot.web.console.numbers draws them)."""
    labels = [w.label for w in got.weeks]
    stacked_bars(
        ident="requests",
        title="Requests",
        desc="per week by kind",
        labels=labels,
        series=[Series(k, [w.tally.made[k].value for w in got.weeks]) for k in numbers.KINDS],
    )
    stacked_bars(
        ident="outcomes",
        title="Handed over and unrouted",
        desc="per week",
        labels=labels,
        series=[
            Series(o, [w.tally.outcomes[o].value for w in got.weeks])
            for o in ("handed_over", "unrouted")
        ],
    )
    line_chart(
        ident="accept",
        title="Minutes to accept",
        desc="median and 90th percentile",
        labels=labels,
        series=[
            Series("median", [_minutes(w.tally.median_to_accept) for w in got.weeks]),
            Series("p90", [_minutes(w.tally.p90_to_accept) for w in got.weeks]),
        ],
    )
    stacked_bars(
        ident="kits",
        title="Naloxone kits",
        desc="per week",
        labels=labels,
        series=[Series("kits", [w.tally.naloxone_kits.value for w in got.weeks])],
    )


def _minutes(value: timedelta | None) -> float | None:
    return None if value is None else value.total_seconds() / 60


async def _pg_admin(admin_url: str, statement: str) -> None:
    engine = make_engine(admin_url, isolation_level="AUTOCOMMIT")
    try:
        async with engine.connect() as conn:
            await conn.execute(text(statement))
    finally:
        await engine.dispose()


async def run(args: argparse.Namespace) -> None:
    rows = []
    with tempfile.TemporaryDirectory(prefix="hrbot-bench-") as tmp:
        url = f"sqlite+aiosqlite:///{Path(tmp) / 'numbers.sqlite3'}"
        rows += await measure("sqlite", url, args)
    admin_url = os.environ.get(POSTGRES_ENV)
    if admin_url:
        name = f"hrbot_bench_{uuid.uuid4().hex[:12]}"
        await _pg_admin(admin_url, f'CREATE DATABASE "{name}"')
        try:
            url = make_url(admin_url).set(database=name).render_as_string(hide_password=False)
            rows += await measure("postgresql", url, args)
        finally:
            await _pg_admin(admin_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    else:
        print(f"  ({POSTGRES_ENV} not set: PostgreSQL skipped)", file=sys.stderr)
    header = f"{'backend':<11} {'query':<24} {'p50 ms':>8} {'p95 ms':>8}"
    print(header)
    print("-" * len(header))
    for backend, name, p50, p95 in rows:
        print(f"{backend:<11} {name:<24} {p50:>8} {p95:>8}")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--outlets", type=int, default=1000)
    parser.add_argument("--busy", type=float, default=0.3, help="share of days an outlet works")
    parser.add_argument("--rounds", type=int, default=20)
    args = parser.parse_args(argv)
    asyncio.run(run(args))


if __name__ == "__main__":
    main()


__all__ = ["main", "populate"]
