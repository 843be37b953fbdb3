"""Broadcast benchmark: the alert outbox through the real Telegram client against the fake API.

Run ``python -m bench.broadcast`` (``--help`` for sizes). The Bot API emulator runs in a child
process (so its own bookkeeping stays out of the memory figures, and its per-chat log is the
witness for duplicates and losses); the bot side runs here, on a fresh SQLite file and, when
``HRBOT_TEST_POSTGRES_URL`` is set, a throw-away PostgreSQL database.

Rows printed:

- **bare loop, unthrottled**: ``TelegramChannel.send`` in a loop with the same concurrency and
  no database: the ceiling of client + emulator on this machine (the baseline).
- **bare loop, PTB limiter**: the same loop behind python-telegram-bot's own ``AIORateLimiter``
  (30/s, ``max_retries=3``) with the same injected 429s: what sending without the outbox gets.
- **outbox as shipped**: what ``hrbot run`` runs (the channel from settings, PTB's limiter at
  ``--rate`` with its retries for replies, the outbox knobs from settings, ``BotService`` with
  its tick): an alert to ``--rate-subscribers`` people with ``--fault-share`` of sends answered
  429 (retry_after 1 s) and ``--server-error`` 502: msgs/s against the limit, the first
  message's delay after [Send now], and, after a restart, how long after its lease lapsed a
  send cut off by a crash goes out again. Printed below the table with what differs from
  ``hrbot run`` (see :func:`shipped_run`).
- **outbox unthrottled**: an alert to ``--memory-subscribers`` people with the limiter off:
  msgs/s and resident memory growth during the fan-out (peak RSS minus RSS just before it).
- **outbox, 3 languages** (``--languages``): the same, with subscribers spread over English,
  Russian and Dari and the alert's free text written in all three: each language is rendered
  once, so memory stays as flat.

``--client aiohttp`` runs every row on ``bot.channels.telegram_request.AiohttpRequest`` instead
of python-telegram-bot's default httpx client (what ``TelegramChannel`` uses unless told).

msgs/s counts messages delivered (the emulator's log), from the first claim to the last outcome
(as shipped: from [Send now]'s commit to the last message's arrival). The unthrottled rows run
the outbox without its tick or PTB's limiter: they measure its ceiling and memory, not a
configuration anyone runs.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import logging
import os
import secrets
import sys
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

from pydantic import AnyHttpUrl, SecretStr
from sqlalchemy import insert, make_url, text, update
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.channels.telegram import TelegramChannel
from bot.content import load_content
from bot.core.context import Config, Context, Deps
from bot.core.engine import Engine
from bot.core.messages import Incoming, Reply
from bot.core.routes import Routes
from bot.core.words import Words
from bot.db.base import utcnow
from bot.db.engine import make_engine, make_sessionmaker
from bot.db.migrate import upgrade
from bot.db.models import Contact, Delivery, Subscription
from bot.domain import AlertKind, Channel, DeliveryStatus
from bot.emulator import Faults, TelegramEmulator
from bot.privacy import AddressBox, derive_keys
from bot.runner import BotService, fanout_config
from bot.services import alert_languages, alerts
from bot.services.outbox import Fanout, FanoutConfig, outstanding
from bot.settings import Settings

POSTGRES_ENV = "HRBOT_TEST_POSTGRES_URL"
CONTENT_DIR = Path(__file__).resolve().parents[1] / "content"
SECRET = "bench-secret-" + "b" * 40
KEYS = derive_keys(SECRET)
CHUNK = 5000
AREA = "dtes"
CRASH_AREA = "kitsilano"
LOCALES = ("en", "ru", "fa_AF")
FIELDS = {
    "sold_as": "down (heroin)",
    "found_to_contain": "nitazenes, xylazine",
    "appearance": "purple rock",
    "symptoms": "fast, deep sleep; several doses of naloxone needed",
    "advice": "Test first, use with someone, start low.",
}
TRANSLATIONS = {
    "ru": {"sold_as": "героин", "found_to_contain": "нитазены, ксилазин", "advice": "Не одни."},
    "fa_AF": {"sold_as": "هیروئین", "found_to_contain": "نیتازین 2 mg", "advice": "تنها نه."},
}


# --- the emulator, in its own process ------------------------------------------------------------


async def _serve(
    users: int, rate_limit: float, server_error: float, seed: int, broadcast_limits: bool = False
) -> None:
    faults = Faults(rate_limit=rate_limit, server_error=server_error, retry_after=1, seed=seed)
    emu = TelegramEmulator(seed=seed, faults=faults, broadcast_limits=broadcast_limits)
    # When each message arrived, on the monotonic clock (system-wide on Linux, so the bot's
    # process can compare its own readings with these).
    arrivals: list[float] = []
    emu.add_listener(lambda message: arrivals.append(time.monotonic()))
    await emu.start()
    chats = []
    for index in range(users):
        user = emu.user(f"u{index}")
        user.started = True
        chats.append(user.id)
    print(json.dumps({"base_url": emu.base_url, "token": emu.token, "chats": chats}), flush=True)
    loop = asyncio.get_running_loop()
    while True:
        line = (await loop.run_in_executor(None, sys.stdin.readline)).strip()
        if line == "stats":
            per_chat = Counter(len(emu.chats[chat].messages) for chat in chats)
            injected = Counter(e.code for e in emu.errors if e.injected)
            print(
                json.dumps(
                    {
                        "messages": sum(n * count for n, count in per_chat.items()),
                        "lost": per_chat.get(0, 0),
                        "duplicates": sum((n - 1) * c for n, c in per_chat.items() if n > 1),
                        "rate_limited": injected.get(429, 0),
                        "server_errors": sum(n for code, n in injected.items() if code >= 500),
                        "over_limit": sum(emu.broadcast_refused.values()),
                        "first_at": min(arrivals, default=None),
                        "last_at": max(arrivals, default=None),
                    }
                ),
                flush=True,
            )
        elif line in ("quit", ""):
            break
    await emu.stop()


class EmulatorProcess:
    """The emulator child: start it, ask for its log's figures, stop it."""

    def __init__(self, process: asyncio.subprocess.Process, info: dict[str, Any]) -> None:
        self.process = process
        self.base_url: str = info["base_url"]
        self.token: str = info["token"]
        self.chats: list[int] = info["chats"]

    @classmethod
    @asynccontextmanager
    async def running(
        cls,
        users: int,
        *,
        rate_limit: float = 0.0,
        server_error: float = 0.0,
        seed: int = 1,
        broadcast_limits: bool = False,
    ) -> AsyncIterator[EmulatorProcess]:
        """The emulator with ``users`` people; ``broadcast_limits`` enforces Telegram's 30 free
        and 1,000 paid messages a second (a 429 over either)."""
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "bench.broadcast",
            "--serve-emulator",
            str(users),
            str(rate_limit),
            str(server_error),
            str(seed),
            *(["--broadcast-limits"] if broadcast_limits else []),
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            limit=2**26,  # the first line lists every chat id
        )
        assert process.stdout is not None
        info = json.loads(await process.stdout.readline())
        try:
            yield cls(process, info)
        finally:
            if process.stdin is not None:
                process.stdin.write(b"quit\n")
                await process.stdin.drain()
            await process.wait()

    async def stats(self) -> dict[str, Any]:
        assert self.process.stdin is not None
        assert self.process.stdout is not None
        self.process.stdin.write(b"stats\n")
        await self.process.stdin.drain()
        figures: dict[str, Any] = json.loads(await self.process.stdout.readline())
        return figures


# --- the bot side --------------------------------------------------------------------------------


async def _ignore(msg: Incoming, ctx: Context) -> None:
    return None


ROUTES = Routes(
    commands={},
    options={},
    flows={},
    fallback=_ignore,
    unknown_command=_ignore,
    unsupported=_ignore,
)


@asynccontextmanager
async def started_channel(channel: TelegramChannel) -> AsyncIterator[None]:
    """``channel`` started, stopped on the way out."""
    async with channel:
        yield


def make_channel(
    engine: Engine, emu: EmulatorProcess, *, max_retries: int, client: str, ptb_rate: float
) -> TelegramChannel:
    """The real Telegram channel against the emulator, on the chosen HTTP client, with
    python-telegram-bot's own overall limit at ``ptb_rate`` (0 = off: the outbox paces)."""
    request = None
    if client == "aiohttp":
        from bot.channels.telegram_request import AiohttpRequest

        request = AiohttpRequest
    return TelegramChannel(
        engine,
        token=emu.token,
        base_url=emu.base_url,
        poll_timeout=5,
        max_retries=max_retries,
        max_rate=ptb_rate,
        request=request,
    )


def make_bot_engine(db: AsyncEngine, *, languages: bool = False) -> Engine:
    words = Words.from_content(CONTENT_DIR) if languages else Words()
    deps = Deps(content=load_content(CONTENT_DIR), keys=KEYS, words=words, config=Config())
    return Engine(
        sessions=make_sessionmaker(db),
        deps=deps,
        box=AddressBox(KEYS.address),
        routes=ROUTES,
        clock=utcnow,
    )


def rss_bytes() -> int:
    """Resident set size of this process now."""
    with open("/proc/self/statm", encoding="ascii") as handle:
        return int(handle.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


class RssSampler:
    """Samples RSS every 50 ms; ``growth`` is the peak minus the first sample."""

    def __init__(self) -> None:
        gc.collect()
        self.start = self.peak = rss_bytes()
        self._task = asyncio.create_task(self._sample())

    async def _sample(self) -> None:
        while True:
            self.peak = max(self.peak, rss_bytes())
            await asyncio.sleep(0.05)

    async def stop(self) -> float:
        self._task.cancel()
        await asyncio.gather(self._task, return_exceptions=True)
        self.peak = max(self.peak, rss_bytes())
        return (self.peak - self.start) / 2**20


@asynccontextmanager
async def database(backend: str, workdir: Path) -> AsyncIterator[AsyncEngine]:
    """A fresh, migrated database of ``backend``, removed afterwards."""
    if backend == "sqlite":
        engine = make_engine(f"sqlite+aiosqlite:///{workdir / f'bench-{uuid.uuid4().hex}.db'}")
        await upgrade(engine)
        try:
            yield engine
        finally:
            await engine.dispose()
        return
    admin_url = os.environ[POSTGRES_ENV]
    name = f"hrbot_bench_{uuid.uuid4().hex[:10]}"
    admin = make_engine(admin_url, isolation_level="AUTOCOMMIT")
    async with admin.connect() as conn:
        await conn.execute(text(f'CREATE DATABASE "{name}"'))
    engine = make_engine(make_url(admin_url).set(database=name).render_as_string(False))
    try:
        await upgrade(engine)
        yield engine
    finally:
        await engine.dispose()
        async with admin.connect() as conn:
            await conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        await admin.dispose()


async def populate(
    db: AsyncEngine,
    chats: Sequence[int],
    locales: Sequence[str | None] = (None,),
    *,
    area: str = AREA,
) -> None:
    """One reachable contact per chat, subscribed to ``area`` (Core inserts, in chunks), their
    languages taken from ``locales`` in turn."""
    box = AddressBox(KEYS.address)
    now = utcnow()
    for start in range(0, len(chats), CHUNK):
        async with db.begin() as conn:
            rows = await conn.execute(
                insert(Contact).returning(Contact.id),
                [
                    {
                        "pseudonym": secrets.token_hex(16),
                        "channel": Channel.TELEGRAM,
                        "reply_address": box.seal(str(chat)),
                        "reachable": True,
                        "created_at": now,
                        "locale": locales[(start + offset) % len(locales)],
                    }
                    for offset, chat in enumerate(chats[start : start + CHUNK])
                ],
            )
            await conn.execute(
                insert(Subscription),
                [{"contact_id": row[0], "area_code": area, "created_at": now} for row in rows],
            )


@dataclass
class Row:
    """One line of the result table."""

    scenario: str
    backend: str
    subscribers: int
    limit: float | None
    faults: str
    seconds: float
    delivered: int
    duplicates: int
    lost: int
    unknown: int | None = None
    rss_growth_mb: float | None = None

    @property
    def rate(self) -> float:
        return self.delivered / self.seconds if self.seconds else 0.0


async def outbox_run(
    backend: str,
    workdir: Path,
    *,
    subscribers: int,
    rate: float,
    fault_share: float,
    window: int,
    scenario: str,
    client: str,
    languages: bool = False,
) -> Row:
    """One alert to ``subscribers`` people through the outbox; figures from the emulator.
    With ``languages``, people read English, Russian or Dari, and the alert is in all three."""
    async with (
        EmulatorProcess.running(subscribers, rate_limit=fault_share) as emu,
        database(backend, workdir) as db,
    ):
        await populate(db, emu.chats, LOCALES if languages else (None,))
        engine = make_bot_engine(db, languages=languages)
        async with engine.sessions.begin() as session:
            draft = await alerts.create_draft(
                session,
                kind=AlertKind.BAD_BATCH,
                severity=3,
                areas=[AREA],
                fields=FIELDS,
                gazetteer=engine.deps.content.gazetteer,
                now=utcnow(),
                lifetime=timedelta(days=1),
                locale="en",
            )
            for locale, written in TRANSLATIONS.items() if languages else ():
                await alert_languages.set_translation(
                    session, alert_id=draft.id, locale=locale, fields=written
                )
            await alerts.send_now(session, alert_id=draft.id, now=utcnow())
        config = FanoutConfig(
            rates={Channel.TELEGRAM: rate}, window=window, budget=60.0, send_timeout=30.0
        )
        channel = make_channel(engine, emu, max_retries=0, client=client, ptb_rate=0)
        async with started_channel(channel):
            fanout = Fanout(engine, config)
            sampler = RssSampler()
            started = time.monotonic()
            while True:
                await fanout.run()
                async with engine.sessions() as session:
                    if await outstanding(session) == 0:
                        break
            seconds = time.monotonic() - started
            growth = await sampler.stop()
        async with engine.sessions() as session:
            tally = await alerts.progress(session, alert_id=draft.id)
        figures = await emu.stats()
    return Row(
        scenario=scenario,
        backend=backend,
        subscribers=subscribers,
        limit=rate or None,
        faults=f"{fault_share:.0%} 429" if fault_share else "none",
        seconds=seconds,
        delivered=figures["messages"] - figures["duplicates"],
        duplicates=figures["duplicates"],
        lost=figures["lost"],
        unknown=tally.unknown,
        rss_growth_mb=growth,
    )


@dataclass
class Shipped:
    """The shipped configuration's figures: the broadcast, then a send cut off by a crash."""

    row: Row
    first_message: float  # seconds from [Send now]'s commit to the first message arriving
    crash_resent: float  # seconds from the lease lapsing to the cut-off send arriving again
    crash_faults: int  # injected 429s and 502s the resend drew on its way
    lease: float
    tick: float
    client: str
    server_errors: int
    rate_limited: int


async def _draft(engine: Engine, areas: list[str]) -> int:
    async with engine.sessions.begin() as session:
        draft = await alerts.create_draft(
            session,
            kind=AlertKind.BAD_BATCH,
            severity=3,
            areas=areas,
            fields=FIELDS,
            gazetteer=engine.deps.content.gazetteer,
            now=utcnow(),
            lifetime=timedelta(days=1),
            locale="en",
        )
    return draft.id


async def _drained(engine: Engine) -> None:
    while True:
        async with engine.sessions() as session:
            if await outstanding(session) == 0:
                return
        await asyncio.sleep(0.05)


async def shipped_run(
    workdir: Path,
    *,
    subscribers: int,
    rate: float,
    fault_share: float,
    server_error: float,
) -> Shipped:
    """What ``hrbot run`` runs: the channel from settings (:meth:`TelegramChannel.from_settings`:
    PTB's limiter at the rate, its retries for replies, the configured HTTP client), the outbox
    knobs from settings (:func:`bot.runner.fanout_config`) and :class:`BotService` with its
    tick. An alert to ``subscribers`` people is sent now (as the [Send now] handler does: the
    services' ``send_now``, then the engine's wake-up after commit); then, after a restart, a
    send that a crash cut off is retried."""
    async with (
        EmulatorProcess.running(
            subscribers + 1, rate_limit=fault_share, server_error=server_error
        ) as emu,
        database("sqlite", workdir) as db,
    ):
        crowd, aside = emu.chats[:-1], emu.chats[-1:]
        await populate(db, crowd)
        await populate(db, aside, area=CRASH_AREA)
        settings = Settings(
            telegram_token=SecretStr(emu.token),
            telegram_api_url=AnyHttpUrl(emu.base_url),
            telegram_max_rate=rate,
        )
        config = fanout_config(settings)
        engine = make_bot_engine(db)
        service = BotService(
            engine, [TelegramChannel.from_settings(engine, settings)], fanout=config
        )
        await service.start()
        try:
            alert_id = await _draft(engine, [AREA])
            async with engine.sessions.begin() as session:
                await alerts.send_now(session, alert_id=alert_id, now=utcnow())
            sent_now = time.monotonic()
            engine.wake_outbox()  # what the engine does once the [Send now] handler committed
            await _drained(engine)
        finally:
            await service.stop()
        figures = await emu.stats()
        async with engine.sessions() as session:
            tally = await alerts.progress(session, alert_id=alert_id)

        # A crash mid-send: the row stays `sending` with its lease running (as renewed last).
        crashed = await _draft(engine, [CRASH_AREA])
        async with engine.sessions.begin() as session:
            await alerts.send_now(session, alert_id=crashed, now=utcnow())
            await session.execute(
                update(Delivery)
                .where(Delivery.alert_id == crashed)
                .values(
                    status=DeliveryStatus.SENDING,
                    attempts=1,
                    lease_until=utcnow() + config.lease,
                )
            )
        lapses = time.monotonic() + config.lease.total_seconds()
        restarted = BotService(
            engine, [TelegramChannel.from_settings(engine, settings)], fanout=config
        )
        await restarted.start()
        try:
            await _drained(engine)
        finally:
            await restarted.stop()
        after = await emu.stats()
    seconds = figures["last_at"] - sent_now
    row = Row(
        scenario="outbox as shipped",
        backend="sqlite",
        subscribers=subscribers,
        limit=rate or None,
        faults=f"{fault_share:.0%} 429 {server_error:.0%} 5xx",
        seconds=seconds,
        delivered=figures["messages"] - figures["duplicates"],
        # Counted once the cut-off send went out too: then every chat should have one.
        duplicates=after["duplicates"],
        lost=after["lost"],
        unknown=tally.unknown,
    )
    return Shipped(
        row=row,
        first_message=figures["first_at"] - sent_now,
        crash_resent=after["last_at"] - lapses,
        crash_faults=(after["rate_limited"] + after["server_errors"])
        - (figures["rate_limited"] + figures["server_errors"]),
        lease=config.lease.total_seconds(),
        tick=service.tick_seconds,
        client=settings.telegram_http_client,
        server_errors=figures["server_errors"],
        rate_limited=figures["rate_limited"],
    )


def print_shipped(shipped: Shipped) -> None:
    """The shipped run's latencies, and exactly what it runs."""
    row = shipped.row
    share = f"{row.rate / row.limit:.0%} of the {row.limit:.0f}/s limit" if row.limit else ""
    print(
        f"\noutbox as shipped: {row.delivered} messages in {row.seconds:.1f} s = "
        f"{row.rate:.1f} msgs/s, {share} ({shipped.rate_limited} answered 429 with "
        f"retry_after 1 s, {shipped.server_errors} answered 502; {row.duplicates} duplicates, "
        f"{row.lost} lost)"
    )
    print(f"  first message {shipped.first_message:.2f} s after [Send now] committed")
    print(
        f"  a send cut off by a crash, after a restart: resent {shipped.crash_resent:.2f} s "
        f"after its lease lapsed (lease {shipped.lease:.0f} s; tick every {shipped.tick:.0f} s; "
        f"the resend drew {shipped.crash_faults} injected 429/502)"
    )
    print(
        "  configuration: as `hrbot run` builds it: TelegramChannel.from_settings (PTB's "
        f"AIORateLimiter at the rate, 3 retries for replies; alert sends hand a 429 back), "
        f"{shipped.client} client, fanout_config(settings), BotService and its tick. Differs "
        "only in: no chat routes (nothing is received), the alert is made with the services "
        "instead of typed into /broadcast, and [Send now]'s wake-up is engine.wake_outbox(), "
        "which the engine calls once a handler's transaction committed; timed from that commit."
    )


async def bare_loop(
    workdir: Path,
    *,
    messages: int,
    window: int,
    ptb_rate: float,
    fault_share: float,
    scenario: str,
    client: str,
) -> Row:
    """``TelegramChannel.send`` in a loop, ``window`` at a time; no database, no outbox."""
    async with EmulatorProcess.running(messages, rate_limit=fault_share) as emu:
        db = make_engine(f"sqlite+aiosqlite:///{workdir / 'unused.db'}")
        engine = make_bot_engine(db)
        channel = make_channel(
            engine, emu, max_retries=3 if ptb_rate else 0, client=client, ptb_rate=ptb_rate
        )
        reply = Reply("A message of about alert size. " * 30)
        slots = asyncio.Semaphore(window)

        async def one(chat: int) -> None:
            async with slots:
                await channel.send(str(chat), reply)

        async with started_channel(channel):
            started = time.monotonic()
            await asyncio.gather(*(one(chat) for chat in emu.chats))
            seconds = time.monotonic() - started
        await db.dispose()
        figures = await emu.stats()
    return Row(
        scenario=scenario,
        backend="-",
        subscribers=messages,
        limit=ptb_rate or None,
        faults=f"{fault_share:.0%} 429" if fault_share else "none",
        seconds=seconds,
        delivered=figures["messages"] - figures["duplicates"],
        duplicates=figures["duplicates"],
        lost=figures["lost"],
    )


HEADER = (
    f"{'scenario':<28} {'db':<10} {'subs':>7} {'limit/s':>7} {'faults':>13} {'secs':>7} "
    f"{'msgs/s':>7} {'%limit':>6} {'RSS+MB':>7} {'dups':>5} {'lost':>5} {'unknown':>7}"
)


def print_table(rows: Sequence[Row]) -> None:
    print(HEADER)
    print("-" * len(HEADER))
    for row in rows:
        print(format_row(row))


def format_row(row: Row) -> str:
    """One table line."""
    limit = f"{row.limit:.0f}" if row.limit else "-"
    share = f"{row.rate / row.limit:.0%}" if row.limit else "-"
    rss = f"{row.rss_growth_mb:+.1f}" if row.rss_growth_mb is not None else "-"
    unknown = str(row.unknown) if row.unknown is not None else "-"
    return (
        f"{row.scenario:<28} {row.backend:<10} {row.subscribers:>7} {limit:>7} "
        f"{row.faults:>13} {row.seconds:>7.1f} {row.rate:>7.1f} {share:>6} {rss:>7} "
        f"{row.duplicates:>5} {row.lost:>5} {unknown:>7}"
    )


async def main(args: argparse.Namespace) -> None:
    backends = args.backends.split(",") if args.backends else ["sqlite"]
    if not args.backends and os.environ.get(POSTGRES_ENV):
        backends.append("postgresql")
    rows: list[Row] = []
    with tempfile.TemporaryDirectory(prefix="hrbot-bench-") as tmp:
        workdir = Path(tmp)
        steps: list[Any] = []
        if args.baseline:
            steps.append(
                bare_loop(
                    workdir,
                    messages=args.baseline,
                    window=args.window,
                    ptb_rate=0,
                    fault_share=0,
                    scenario="bare loop, unthrottled",
                    client=args.client,
                )
            )
        if args.naive:
            steps.append(
                bare_loop(
                    workdir,
                    messages=args.naive,
                    window=args.window,
                    ptb_rate=args.rate,
                    fault_share=args.fault_share,
                    scenario="bare loop, PTB limiter",
                    client=args.client,
                )
            )
        shipped: Shipped | None = None
        if args.rate_subscribers:
            shipped = await shipped_run(
                workdir,
                subscribers=args.rate_subscribers,
                rate=args.rate,
                fault_share=args.fault_share,
                server_error=args.server_error,
            )
            rows.append(shipped.row)
            print(f"  done: {format_row(shipped.row)}", flush=True)
        if args.memory_subscribers:
            for backend in backends:
                steps.append(
                    outbox_run(
                        backend,
                        workdir,
                        subscribers=args.memory_subscribers,
                        rate=0,
                        fault_share=0,
                        window=args.window,
                        scenario="outbox unthrottled",
                        client=args.client,
                    )
                )
                if args.languages:
                    steps.append(
                        outbox_run(
                            backend,
                            workdir,
                            subscribers=args.memory_subscribers,
                            rate=0,
                            fault_share=0,
                            window=args.window,
                            scenario="outbox, 3 languages",
                            client=args.client,
                            languages=True,
                        )
                    )
        for step in steps:
            row = await step
            rows.append(row)
            print(f"  done: {format_row(row)}", flush=True)
    print()
    print_table(rows)
    if shipped is not None:
        print_shipped(shipped)


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--rate", type=float, default=30.0, help="the limit, messages/s")
    parser.add_argument("--fault-share", type=float, default=0.05, help="share answered 429")
    parser.add_argument(
        "--server-error", type=float, default=0.02, help="share answered 502 (shipped run)"
    )
    parser.add_argument("--window", type=int, default=FanoutConfig().window, help="sends in flight")
    parser.add_argument(
        "--rate-subscribers", type=int, default=1500, help="size of the run as shipped"
    )
    parser.add_argument(
        "--memory-subscribers",
        type=int,
        default=10000,
        help="size of the unthrottled run, per backend",
    )
    parser.add_argument("--baseline", type=int, default=2000, help="bare loop, messages")
    parser.add_argument("--naive", type=int, default=500, help="bare loop behind PTB's limiter")
    parser.add_argument(
        "--backends", default="", help="sqlite,postgresql (default: both when the URL is set)"
    )
    parser.add_argument("--client", choices=["httpx", "aiohttp"], default="httpx")
    parser.add_argument(
        "--languages", action="store_true", help="also the unthrottled run in three languages"
    )
    parser.add_argument(
        "--serve-emulator", nargs=4, metavar=("USERS", "RATE_LIMIT", "SERVER_ERROR", "SEED")
    )
    parser.add_argument("--broadcast-limits", action="store_true", help=argparse.SUPPRESS)
    return parser.parse_args(argv)


if __name__ == "__main__":
    arguments = parse_args()
    if arguments.serve_emulator:
        users, share, errors, seed = arguments.serve_emulator
        asyncio.run(
            _serve(int(users), float(share), float(errors), int(seed), arguments.broadcast_limits)
        )
    else:
        # With max_retries=0 (the outbox takes retry_after itself) PTB's limiter logs every
        # injected 429 with a traceback; the table counts them instead.
        logging.getLogger("telegram.ext.AIORateLimiter").setLevel(logging.CRITICAL)
        asyncio.run(main(arguments))
