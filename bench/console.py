"""Web console benchmark: page latency over HTTP with 1,000 outlets and a year of numbers.

Run ``python -m bench.console`` (``--postgres URL`` for PostgreSQL as well; ``--help``). For each
database it builds a fresh one, seeds it (below), starts the bot's web app in a child process
as ``hrbot run`` serves it with ``HRBOT_WEB_LISTEN`` (:class:`~bot.runner.BotService` with
``web``: uvicorn on 127.0.0.1, a free port), and asks for each path in :data:`PATHS` one request
at a time over one keep-alive connection: ``--requests`` timed GETs per path after
``--warmup`` untimed ones. Printed per path: p50, p95 and max in ms (the whole exchange, body
read), and p95 over the floor: ``/healthz``, the cheapest page (one ``SELECT 1``), measured in
the same run, so a slow machine shows in the floor too. The issue's budget is p95 ≤ 200 ms per
console page. Figures are printed, never asserted.

The seed, all with the shipped content (items, areas):

- ``--outlets`` outlets (default 1,000) spread over every area, through the real import
  (:func:`bot.services.outlets.import_outlets`, validated by ``load_outlets`` from a generated
  YAML file, one transaction: a few seconds), each offering 3–8 items with stock, some empty
  and some low;
- one or two peers per outlet and a few coordinators: contacts and ``peer_workers`` rows
  inserted directly (redeeming thousands of invites through the chat adds nothing here);
- ``--days`` days (default 365) of the daily counters ``/stats`` reads (``daily_counts``, keyed
  by :class:`bot.services.counts.Key`): per area and kind, requests made and how they closed;
  per outlet, on a random tenth of the outlets each day, offers, acceptances and packs handed
  over; time-to-accept buckets; feedback. Inserted as plain rows (each key once): the bot's
  own ``counts.upsert`` took over two minutes for the ~290,000 rows of a year; then every
  closed week rolled up (:func:`bot.services.rollup.roll_up`), as a running bot's clock keeps
  them (and carried into the outlets' running totals, :mod:`bot.services.running`), so the
  Numbers page reads what it reads in use;
- ``SUBSCRIBERS`` people subscribed to alerts; ``ALERTS`` alerts over the year through the alert
  service (drafts, two scheduled, past ones with their kept tallies, and four current ones whose
  ~8,000 deliveries are half done); ``REVIEWED_REPORTS`` reviewed reports and ``NEW_REPORTS``
  waiting, through the report service.

The console pages in :data:`PATHS` are those of ``bot/web/console`` (add a new page's path
there, or give ``--paths``): any path under :data:`SIGNED_IN_PREFIX` makes the client sign in
first as a coordinator (:func:`sign_in`: a link minted in the parent against the same database,
then opened as a browser would). This replaces ``bench.console_outlets`` (outlet pages only,
in-process): the outlet list, a page deep in it, an area, a search and one outlet are here.

The server runs in a child process so that the client's work does not share its event loop
and interpreter, as a browser would not.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import random
import statistics
import sys
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import asdict, dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import httpx
import yaml
from sqlalchemy import insert, make_url, select, text, update
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.content import Content, load_content, load_outlets
from bot.core.context import Config, Deps
from bot.core.engine import Engine
from bot.core.words import Words
from bot.db.engine import make_engine, make_sessionmaker
from bot.db.migrate import upgrade
from bot.db.models import (
    Alert,
    Contact,
    Coordinator,
    DailyCount,
    Delivery,
    Outlet,
    PeerWorker,
    Report,
    ReportStatus,
    Subscription,
)
from bot.domain import AlertKind, AlertStatus, Channel, DeliveryStatus, OutletKind, RequestKind
from bot.privacy import AddressBox, derive_keys
from bot.runner import BotService
from bot.services import alerts, console_access, counts, reports, rollup, running
from bot.services.counts import Key
from bot.services.outlets import import_outlets
from bot.web.console.site import COOKIE
from handlers.routes import build_routes

CONTENT_DIR = Path(__file__).resolve().parents[1] / "content"
KEYS = derive_keys("bench-secret-" + "c" * 40)
# The instant the bot believes it is: the last of the seeded days (Wednesday, 14:00 Vancouver).
NOW = datetime(2026, 11, 25, 22, 0, tzinfo=UTC)

# What is timed, in order. The first is the floor the others are compared with.
PATHS: tuple[str, ...] = (
    "/healthz",
    "/metrics",
    "/console/",  # Today
    "/console/outlets",
    "/console/outlets?page=10",
    "/console/outlets?area=gastown",
    "/console/outlets?q=7",
    "/console/outlets/500",  # ids are 1.. in the fresh database
    "/console/team",
    "/console/alerts",
    "/console/reports",
    "/console/numbers?weeks=52",
    "/console/numbers.csv?weeks=52",
)
# Pages that need a signed-in member: listing one makes the client call sign_in() first.
SIGNED_IN_PREFIX = "/console"
BUDGET_MS = 200.0  # the p95 budget per console page
CHUNK = 10_000  # rows per executemany
SUBSCRIBERS = 3_000  # people subscribed to alerts
ALERTS = 200  # over the year: 4 current, 3 drafts, 2 scheduled, the rest past
REVIEWED_REPORTS = 300
NEW_REPORTS = 50

HOURS = (
    "mon-fri 10:00-18:00; sat 12:00-16:00,20:00-23:30",
    "daily 09:00-21:00",
    "mon-fri 09:00-21:00; sat-sun 10:00-18:00",
    "daily 21:00-03:00",
    "tue,thu 16:00-21:00; sun 12:00-17:00",
    "mon,wed,fri 13:00-17:00",
)
KINDS = [kind.value for kind in RequestKind]
CLOSES = ("requests.handed_over", "requests.unrouted", "requests.expired", "requests.cancelled")
OUTLET_MEASURES = ("outlet.offered", "outlet.accepted", "outlet.declined", "outlet.handed_over")


# --- seeding -------------------------------------------------------------------------------------


def outlet_file(content: Content, outlets: int, rng: random.Random, folder: Path) -> Path:
    """A YAML outlets file as a coordinator would write it: ``outlets`` outlets over every
    area, near its centre."""
    areas = content.gazetteer.areas
    codes = list(content.catalogue.codes)
    entries = []
    for n in range(outlets):
        area = areas[n % len(areas)]
        spread = area.radius_km / 111.0
        stock = {code: rng.choice([0, 2, 4, 10, 25, 40, 80]) for code in rng.sample(codes, 6)}
        entries.append(
            {
                "key": f"outlet_{n:04d}",
                "name": f"Outlet {n} ({area.name})",
                "kind": rng.choice([k.value for k in OutletKind]),
                "area": area.code,
                "lat": round(area.lat + rng.uniform(-spread, spread), 5),
                "lon": round(area.lon + rng.uniform(-spread, spread), 5),
                "instructions": "Ask at the counter for a plain bag.",
                "hours": rng.choice(HOURS),
                "active": rng.random() < 0.95,
                "stock": stock,
                "low_threshold": 5,
            }
        )
    path = folder / "outlets.yaml"
    path.write_text(yaml.safe_dump({"outlets": entries}, allow_unicode=True), encoding="utf-8")
    return path


async def seed_team(db: AsyncEngine, rng: random.Random) -> int:
    """One or two peers per outlet and five coordinators (direct inserts); peers made."""
    async with db.begin() as conn:
        outlet_ids = list((await conn.scalars(select(Outlet.id).order_by(Outlet.id))).all())
        peers = [(o, n) for o in outlet_ids for n in range(rng.choice([1, 1, 2]))]
        contacts = [
            {
                "pseudonym": f"bench-{i:06d}",
                "channel": rng.choice([Channel.TELEGRAM, Channel.SIGNAL]),
                "locale": rng.choice(["en", "ru", "fa_AF"]),
                "created_at": NOW - timedelta(days=rng.randint(1, 365)),
                "last_seen_on": NOW - timedelta(days=rng.randint(0, 60)),
            }
            for i in range(len(peers) + 5)
        ]
        ids = list((await conn.scalars(insert(Contact).returning(Contact.id), contacts)).all())
        await conn.execute(
            insert(PeerWorker),
            [
                {
                    "contact_id": contact_id,
                    "outlet_id": outlet_id,
                    "active": rng.random() < 0.97,
                    "on_shift": rng.random() < 0.3,
                    "shift_ends_at": NOW + timedelta(hours=3),
                    "created_at": NOW - timedelta(days=30),
                }
                for contact_id, (outlet_id, _) in zip(ids, peers, strict=False)
            ],
        )
        await conn.execute(
            insert(Coordinator),
            [{"contact_id": contact_id, "created_at": NOW} for contact_id in ids[len(peers) :]],
        )
    return len(peers)


async def seed_console(
    db: AsyncEngine, content: Content, rng: random.Random
) -> tuple[int, int, int]:
    """What the Alerts, Reports and Today pages show after a year: ``SUBSCRIBERS`` people
    subscribed to alerts, ``ALERTS`` alerts (drafts, schedules, a year of past ones with their
    kept tallies, and a few current ones whose deliveries are partly done), and reports (a
    year of reviewed ones and ``NEW_REPORTS`` waiting). Alerts and reports are made by the
    services (:func:`alerts.create_draft`, :func:`alerts.send_now`, :func:`reports.submit`);
    history is then moved into the past with plain UPDATEs. Returns (alerts, deliveries,
    reports)."""
    gazetteer = content.gazetteer
    codes = [area.code for area in gazetteer.areas]
    async with db.begin() as conn:
        ids = list(
            (
                await conn.scalars(
                    insert(Contact).returning(Contact.id),
                    [
                        {
                            "pseudonym": f"bench-sub-{i:06d}",
                            "channel": rng.choice([Channel.TELEGRAM, Channel.SIGNAL]),
                            "locale": rng.choice(["en", "ru", "fa_AF"]),
                            "created_at": NOW - timedelta(days=rng.randint(1, 365)),
                            "last_seen_on": NOW - timedelta(days=rng.randint(0, 90)),
                        }
                        for i in range(SUBSCRIBERS)
                    ],
                )
            ).all()
        )
        await conn.execute(
            insert(Subscription),
            [
                {
                    "contact_id": contact_id,
                    "area_code": "*" if rng.random() < 0.5 else rng.choice(codes),
                    "created_at": NOW - timedelta(days=rng.randint(1, 365)),
                }
                for contact_id in ids
            ],
        )
    made = []
    async with make_sessionmaker(db).begin() as session:
        for n in range(ALERTS):
            view = await alerts.create_draft(
                session,
                kind=rng.choice(list(AlertKind)),
                severity=rng.randint(1, 3),
                areas=["*"] if n % 3 == 0 else rng.sample(codes, rng.randint(1, 3)),
                fields={
                    "sold_as": rng.choice(["down", "pressed oxy", "benzo", "crystal"]),
                    "found_to_contain": rng.choice([None, "fentanyl", "nitazenes", "xylazine"]),
                    "advice": "Start low, go slow, do not use alone; carry naloxone.",
                },
                gazetteer=gazetteer,
                now=NOW - timedelta(days=365 - n * 365 // ALERTS),
                lifetime=timedelta(hours=72),
            )
            made.append(view.id)
        # made[-7:-4] stay drafts.
        current, scheduled, past = made[-4:], made[-9:-7], made[:-9]
        for back, alert_id in enumerate(current):
            await alerts.send_now(session, alert_id=alert_id, now=NOW - timedelta(hours=1 + back))
        for alert_id in scheduled:
            await alerts.schedule_once(
                session, alert_id=alert_id, at=NOW + timedelta(days=2), now=NOW
            )
        for n, alert_id in enumerate(past):
            sent = rng.randint(300, 3000)
            issued = NOW - timedelta(days=365 - n * 365 // ALERTS)
            await session.execute(
                update(Alert)
                .where(Alert.id == alert_id)
                .values(
                    status=AlertStatus.SENT,
                    issued_at=issued,
                    due_at=issued,
                    expires_at=issued + timedelta(hours=72),
                    finished_at=issued + timedelta(minutes=20),
                    tally={"sent": sent, "failed": sent // 50, "unreachable": sent // 30},
                )
            )
        # Half of each current alert's deliveries done.
        pending = list(
            await session.scalars(select(Delivery.id).where(Delivery.alert_id.in_(current)))
        )
        done = [i for i in pending if rng.random() < 0.5]
        for start in range(0, len(done), CHUNK):
            await session.execute(
                update(Delivery)
                .where(Delivery.id.in_(done[start : start + CHUNK]))
                .values(status=DeliveryStatus.SENT, sent_at=NOW, attempts=1)
            )
        for n in range(REVIEWED_REPORTS + NEW_REPORTS):
            report = await reports.submit(
                session,
                sold_as=rng.choice(["down", "pressed oxy", "benzo", "crystal"]),
                what_happened="Went down after a small hit, came round with two doses of naloxone.",
                area_code=rng.choice(codes),
                appearance=rng.choice([None, "blue pills", "purple rock"]),
                gazetteer=gazetteer,
                now=NOW - timedelta(hours=(REVIEWED_REPORTS + NEW_REPORTS - n) * 12),
            )
            if n < REVIEWED_REPORTS:
                await session.execute(
                    update(Report)
                    .where(Report.id == report.id)
                    .values(status=ReportStatus.DISMISSED, reviewed_at=NOW - timedelta(days=1))
                )
    return ALERTS, len(pending), REVIEWED_REPORTS + NEW_REPORTS


def year_of_counts(
    areas: Sequence[str], outlet_ids: Sequence[int], items: Sequence[str], days: int, seed: int
) -> Counter[Key]:
    """The counters a busy year leaves (see the module docstring)."""
    rng = random.Random(seed)
    found: Counter[Key] = Counter()
    last = counts.day_of(NOW)
    for back in range(days):
        day: date = last - timedelta(days=back)
        for area in areas:
            for kind in KINDS:
                made = rng.randint(0, 12)
                if not made:
                    continue
                found[Key(day, "requests.made", area_code=area, kind=kind)] += made
                for _ in range(made):
                    found[Key(day, rng.choice(CLOSES), area_code=area, kind=kind)] += 1
                    bucket = min(int(rng.expovariate(1 / 12)), 240)
                    found[Key(day, "accept.minutes", kind=kind, bucket=bucket)] += 1
        for outlet_id in rng.sample(list(outlet_ids), max(1, len(outlet_ids) // 10)):
            kind = rng.choice(KINDS)
            for measure in OUTLET_MEASURES:
                found[Key(day, measure, outlet_id=outlet_id, kind=kind)] += rng.randint(1, 4)
            found[
                Key(
                    day, "outlet.packs", outlet_id=outlet_id, kind=kind, item_code=rng.choice(items)
                )
            ] += rng.randint(1, 6)
        for measure in ("feedback.up", "feedback.down"):
            found[Key(day, measure)] += rng.randint(0, 5)
    return found


@dataclass(frozen=True)
class Seeded:
    outlets: int
    peers: int
    counters: int
    alerts: int
    deliveries: int
    reports: int
    seconds: float


async def seed(url: str, content: Content, outlets: int, days: int, folder: Path) -> Seeded:
    """Migrate the empty database at ``url`` and fill it (see the module docstring)."""
    rng = random.Random(outlets)
    started = time.perf_counter()
    db = make_engine(url)
    try:
        await upgrade(db)
        path = outlet_file(content, outlets, rng, folder)
        specs = load_outlets(path, content.catalogue, content.gazetteer)
        async with make_sessionmaker(db).begin() as session:
            await import_outlets(session, specs=specs, catalogue=content.catalogue, now=NOW)
        peers = await seed_team(db, rng)
        alerts_made, deliveries, reports_made = await seed_console(db, content, rng)
        async with db.connect() as conn:
            outlet_ids = list((await conn.scalars(select(Outlet.id))).all())
        areas = [area.code for area in content.gazetteer.areas]
        found = year_of_counts(areas, outlet_ids, list(content.catalogue.codes), days, outlets)
        rows = [{**asdict(key), "count": n} for key, n in found.items()]
        async with db.begin() as conn:
            for start in range(0, len(rows), CHUNK):
                await conn.execute(insert(DailyCount), rows[start : start + CHUNK])
        # Closed weeks rolled up, as a running bot's clock ticks keep them (a few per tick).
        while True:
            async with make_sessionmaker(db).begin() as session:
                rolled = await rollup.roll_up(session, now=NOW)
                carried = await running.carry(session)
                if not rolled and not carried:
                    break
        # Fresh planner statistics, as autovacuum or `PRAGMA optimize` would keep them.
        async with db.connect() as conn:
            if db.dialect.name == "postgresql":
                await conn.execute(text("COMMIT"))
                await conn.execute(text("VACUUM ANALYZE"))
            else:
                await conn.execute(text("ANALYZE"))
                await conn.commit()
    finally:
        await db.dispose()
    return Seeded(
        len(specs),
        peers,
        len(found),
        alerts_made,
        deliveries,
        reports_made,
        time.perf_counter() - started,
    )


# --- the server, in its own process --------------------------------------------------------------


async def _serve(url: str) -> None:
    """The web app as ``hrbot run`` serves it, on a free port of 127.0.0.1; prints the port,
    then serves until stdin closes or says ``quit``."""
    db = make_engine(url)
    deps = Deps(
        content=load_content(CONTENT_DIR),
        keys=KEYS,
        words=Words.from_content(CONTENT_DIR),
        config=Config(),
    )
    engine = Engine(
        sessions=make_sessionmaker(db),
        deps=deps,
        box=AddressBox(KEYS.address),
        routes=build_routes(),
        clock=lambda: NOW,
    )
    service = BotService(engine, [], tick_seconds=3600, web=("127.0.0.1", 0))
    await service.start()
    try:
        assert service.web is not None
        print(json.dumps({"port": service.web.port}), flush=True)
        loop = asyncio.get_running_loop()
        while (await loop.run_in_executor(None, sys.stdin.readline)).strip() not in ("quit", ""):
            pass
    finally:
        await service.stop()
        await db.dispose()


@asynccontextmanager
async def server(url: str) -> AsyncIterator[str]:
    """The child serving the database at ``url``; yields its base URL."""
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bench.console",
        "--serve",
        url,
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
    )
    assert process.stdin is not None
    assert process.stdout is not None
    try:
        line = await process.stdout.readline()
        if not line:
            raise SystemExit("the web app did not start (see above)")
        yield f"http://127.0.0.1:{json.loads(line)['port']}"
    finally:
        process.stdin.write(b"quit\n")
        await process.stdin.drain()
        await process.wait()


# --- the client ----------------------------------------------------------------------------------


async def sign_in(client: httpx.AsyncClient, url: str) -> None:
    """Give ``client`` a coordinator's session cookie, as a person gets one: a link minted for
    the first seeded coordinator's staff contact (:func:`console_access.mint_link`, what the
    bot's ``/console`` does; minted here, in the database at ``url`` the server reads, at the
    server's frozen clock), opened, then its button pressed."""
    db = make_engine(url)
    try:
        async with make_sessionmaker(db).begin() as session:
            contact_id = await session.scalar(
                select(Coordinator.contact_id).order_by(Coordinator.id).limit(1)
            )
            assert contact_id is not None, "no coordinator seeded"
            token = await console_access.mint_link(
                session, contact_id=contact_id, locale="en", now=NOW
            )
    finally:
        await db.dispose()
    (await client.get(f"/console/signin/{token}")).raise_for_status()
    answer = await client.post("/console/signin", data={"token": token})
    if answer.status_code != 303 or COOKIE not in client.cookies:
        raise SystemExit(f"sign-in refused ({answer.status_code})")


@dataclass(frozen=True)
class Timing:
    """One path's latencies in milliseconds."""

    path: str
    status: int
    samples: list[float]

    def quantile(self, q: float) -> float:
        ordered = sorted(self.samples)
        return ordered[min(len(ordered) - 1, max(0, math.ceil(q * len(ordered)) - 1))]

    @property
    def p50(self) -> float:
        return statistics.median(self.samples)

    @property
    def p95(self) -> float:
        return self.quantile(0.95)

    @property
    def max(self) -> float:
        return max(self.samples)


async def measure(
    base_url: str, url: str, paths: Sequence[str], requests: int, warmup: int
) -> list[Timing]:
    """``requests`` timed GETs of each path, one at a time, after ``warmup`` untimed ones
    (the server serves the database at ``url``)."""
    timings = []
    async with httpx.AsyncClient(base_url=base_url, timeout=30) as client:
        if any(path.startswith(SIGNED_IN_PREFIX) for path in paths):
            await sign_in(client, url)
        for path in paths:
            for _ in range(warmup):
                (await client.get(path)).raise_for_status()
            samples, status = [], 0
            for _ in range(requests):
                started = time.perf_counter()
                answer = await client.get(path)
                _ = answer.content
                samples.append((time.perf_counter() - started) * 1000)
                status = answer.status_code
            timings.append(Timing(path, status, samples))
    return timings


def table(backend: str, timings: Sequence[Timing]) -> str:
    """The figures of one database, the first path as the floor."""
    floor = timings[0].p95
    header = (
        f"{'backend':<10} {'path':<28} {'status':>6} {'n':>5} {'p50 ms':>8} {'p95 ms':>8}"
        f" {'max ms':>8} {'p95-floor':>9} {'budget':>6}"
    )
    lines = [header, "-" * len(header)]
    for t in timings:
        budget = "" if t is timings[0] else ("ok" if t.p95 <= BUDGET_MS else "OVER")
        lines.append(
            f"{backend:<10} {t.path:<28} {t.status:>6} {len(t.samples):>5} {t.p50:>8.2f}"
            f" {t.p95:>8.2f} {t.max:>8.2f} {t.p95 - floor:>+9.2f} {budget:>6}"
        )
    return "\n".join(lines)


# --- databases -----------------------------------------------------------------------------------


async def _pg_admin(admin_url: str, statement: str) -> None:
    engine = make_engine(admin_url, isolation_level="AUTOCOMMIT")
    try:
        async with engine.connect() as conn:
            await conn.execute(text(statement))
    finally:
        await engine.dispose()


@asynccontextmanager
async def databases(postgres: str | None, folder: Path) -> AsyncIterator[list[tuple[str, str]]]:
    """(backend, URL of an empty database): an SQLite file in ``folder`` (WAL, as
    ``hrbot run`` opens it), and a throw-away PostgreSQL database when ``postgres`` is given."""
    found = [("sqlite", f"sqlite+aiosqlite:///{folder / 'hrbot.sqlite3'}")]
    name = f"hrbot_bench_{uuid.uuid4().hex[:12]}"
    if postgres:
        await _pg_admin(postgres, f'CREATE DATABASE "{name}"')
        url = make_url(postgres).set(database=name).render_as_string(hide_password=False)
        found.append(("postgresql", url))
    try:
        yield found
    finally:
        if postgres:
            await _pg_admin(postgres, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


async def run(args: argparse.Namespace) -> None:
    content = load_content(CONTENT_DIR)
    paths = tuple(args.paths.split(",")) if args.paths else PATHS
    with tempfile.TemporaryDirectory(prefix="hrbot-bench-") as tmp:
        async with databases(args.postgres, Path(tmp)) as found:
            for backend, url in found:
                seeded = await seed(url, content, args.outlets, args.days, Path(tmp))
                print(
                    f"{backend}: {seeded.outlets} outlets (import service), {seeded.peers} peers,"
                    f" {seeded.counters} daily counters over {args.days} days,"
                    f" {seeded.alerts} alerts ({seeded.deliveries} current deliveries),"
                    f" {seeded.reports} reports"
                    f" seeded in {seeded.seconds:.1f} s",
                    file=sys.stderr,
                )
                async with server(url) as base_url:
                    timings = await measure(base_url, url, paths, args.requests, args.warmup)
                print(table(backend, timings))
                print()
    if not args.postgres:
        print("(PostgreSQL not measured: --postgres URL)", file=sys.stderr)


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--outlets", type=int, default=1000)
    parser.add_argument("--days", type=int, default=365, help="days of daily counters")
    parser.add_argument("--requests", type=int, default=200, help="timed GETs per path")
    parser.add_argument("--warmup", type=int, default=20, help="untimed GETs per path first")
    parser.add_argument(
        "--paths", default="", help=f"comma-separated (default: {','.join(PATHS)}); first = floor"
    )
    parser.add_argument(
        "--postgres",
        metavar="URL",
        help="a postgresql+asyncpg URL whose user may create databases: a throw-away one is"
        " created and dropped (e.g. postgresql+asyncpg://postgres@127.0.0.1:5432/postgres)",
    )
    parser.add_argument("--serve", metavar="URL", help=argparse.SUPPRESS)  # the child
    args = parser.parse_args(argv)
    if args.serve:
        asyncio.run(_serve(args.serve))
        return
    asyncio.run(run(args))


if __name__ == "__main__":
    main()
