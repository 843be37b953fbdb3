"""Alert outbox on PostgreSQL, one instance against two: a paid alert to many people with 5 %
of sends answered 429, through the real Telegram client.

Run ``HRBOT_TEST_POSTGRES_URL=postgresql+asyncpg://... python -m bench.instances`` (``--help``
for sizes). Each row uses a throw-away PostgreSQL database and the Bot API emulator in a child
process (its per-chat log is the witness for duplicates and losses). Each instance is a process
of its own, built as ``hrbot run`` builds it (settings, :func:`bot.app.build_runtime`,
:func:`bot.runner.build_engine`, ``TelegramChannel.from_settings``, the outbox's knobs from
:func:`bot.runner.fanout_config`); it calls the outbox's tick in a loop until nothing is
outstanding, which is what ``BotService`` does while an alert is being sent (its alarm rings
again at once while rows are due: ``AlertTick.next_due``).

Rows:

- **paid pace**: the alert is a paid broadcast and the emulator enforces Telegram's limits
  (1,000 paid messages a second, a 429 over it). Each of N instances runs with
  ``HRBOT_INSTANCES = N`` and the default ``HRBOT_PAID_BROADCAST_RATE`` (1,000 for the whole
  bot), as README tells operators to set them: each sends 1,000 / N a second.
- **uncapped** (the outbox's ceiling, not a configuration anyone runs): the same alert sent
  free with every pace off (``HRBOT_TELEGRAM_MAX_RATE=0``: neither the outbox nor PTB's limiter
  paces it; a paid send would be held to 1,000/s by PTB) and no broadcast limit.

Printed per row: time to reach everyone (from [Send now]'s commit to the last message's
arrival), messages delivered per second over the whole time and while sending (first to last
arrival), the 429s (injected, and over Telegram's limit), duplicates and people never reached
(from the emulator's log), rows the outbox counted ``unknown``, and each instance's resident
memory growth while sending (peak minus just before).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

from pydantic import AnyHttpUrl, SecretStr

from bench.broadcast import (
    AREA,
    CONTENT_DIR,
    FIELDS,
    POSTGRES_ENV,
    ROUTES,
    SECRET,
    EmulatorProcess,
    RssSampler,
    database,
    populate,
)
from bot.app import build_runtime
from bot.channels.telegram import TelegramChannel
from bot.content import load_content
from bot.db.base import utcnow
from bot.db.engine import make_sessionmaker
from bot.domain import AlertKind
from bot.runner import alert_pace, build_engine, fanout_config
from bot.services import alerts
from bot.services.outbox import Fanout
from bot.settings import Settings

PAID_LIMIT = 1000.0  # Telegram's paid broadcast limit, messages a second a bot


@dataclass
class Row:
    """One line of the result table."""

    instances: int
    paced: bool
    subscribers: int
    reach: float  # [Send now]'s commit to the last arrival, seconds
    sending: float  # first to last arrival, seconds
    delivered: int
    duplicates: int
    lost: int
    injected: int
    over_limit: int
    unknown: int
    rss_mb: list[float]

    @property
    def overall(self) -> float:
        return self.delivered / self.reach if self.reach else 0.0

    @property
    def sustained(self) -> float:
        return self.delivered / self.sending if self.sending else 0.0


# --- one instance, in a process of its own ------------------------------------------------------


async def instance() -> None:
    """Read its settings (a line of JSON on stdin: the URL may hold a password), build the bot
    as ``hrbot run`` does, say ready, wait for "go", run the outbox until nothing is
    outstanding, print what it did."""
    loop = asyncio.get_running_loop()
    config: dict[str, Any] = json.loads(await loop.run_in_executor(None, sys.stdin.readline))
    paced = bool(config["paced"])
    settings = Settings(
        data_dir=Path(config["data_dir"]),
        database_url=config["database_url"],
        secret_key=SecretStr(SECRET),
        telegram_token=SecretStr(config["token"]),
        telegram_api_url=AnyHttpUrl(config["base_url"]),
        # Webhook mode, as several instances run (only one process may poll); no update comes.
        webhook_url=AnyHttpUrl("http://127.0.0.1:9/telegram"),
        instances=config["instances"],
        paid_broadcast_max_stars=config["max_stars"],
        # Uncapped: PTB's limiter off too (it would pace paid sends at 1,000/s).
        telegram_max_rate=30.0 if paced else 0.0,
    )
    runtime = build_runtime(settings)
    engine = build_engine(runtime, ROUTES, clock=utcnow)
    fanout = Fanout(engine, fanout_config(settings))
    async with TelegramChannel.from_settings(engine, settings):
        print("ready", flush=True)
        await loop.run_in_executor(None, sys.stdin.readline)
        sampler = RssSampler()
        claimed = unknown = 0
        while True:
            tick = await fanout.run()
            claimed += tick.claimed
            unknown += tick.unknown
            if not tick.more:
                break
        growth = await sampler.stop()
    await runtime.close()
    print(json.dumps({"claimed": claimed, "unknown": unknown, "rss_mb": growth}), flush=True)


class Instance:
    """An instance's process: start it, let it go, read its figures."""

    def __init__(self, process: asyncio.subprocess.Process) -> None:
        self.process = process

    @classmethod
    async def start(cls, config: dict[str, Any]) -> Instance:
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "bench.instances",
            "--instance",
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
        )
        assert process.stdin is not None
        assert process.stdout is not None
        process.stdin.write(json.dumps(config).encode() + b"\n")
        if (await process.stdout.readline()).strip() != b"ready":
            raise RuntimeError("an instance did not start")
        return cls(process)

    def go(self) -> None:
        assert self.process.stdin is not None
        self.process.stdin.write(b"go\n")

    async def figures(self) -> dict[str, Any]:
        assert self.process.stdout is not None
        line = await self.process.stdout.readline()
        await self.process.wait()
        if not line:
            raise RuntimeError(f"an instance ended with {self.process.returncode}")
        result: dict[str, Any] = json.loads(line)
        return result


# --- one row ------------------------------------------------------------------------------------


async def one_row(
    workdir: Path, *, instances: int, subscribers: int, fault_share: float, paced: bool
) -> Row:
    """An alert to ``subscribers`` people, sent by ``instances`` processes: paid and paced, or
    free and uncapped."""
    async with (
        EmulatorProcess.running(subscribers, rate_limit=fault_share, broadcast_limits=paced) as emu,
        database("postgresql", workdir) as db,
    ):
        await populate(db, emu.chats)
        sessions = make_sessionmaker(db)
        pace = alert_pace(Settings(paid_broadcast_max_stars=subscribers))
        async with sessions.begin() as session:
            draft = await alerts.create_draft(
                session,
                kind=AlertKind.BAD_BATCH,
                severity=3,
                areas=[AREA],
                fields=FIELDS,
                gazetteer=load_content(CONTENT_DIR).gazetteer,
                now=utcnow(),
                lifetime=timedelta(days=1),
                locale="en",
            )
            # Uncapped: free, as python-telegram-bot paces a paid send at 1,000/s whatever
            # its limiter's settings.
            await alerts.set_paid(session, alert_id=draft.id, paid=paced, pace=pace)
        config = {
            "data_dir": str(workdir),
            "database_url": db.url.render_as_string(hide_password=False),
            "token": emu.token,
            "base_url": emu.base_url,
            "instances": instances,
            "max_stars": subscribers,
            "paced": paced,
        }
        workers = [await Instance.start(config) for _ in range(instances)]
        started = time.monotonic()
        async with sessions.begin() as session:
            await alerts.send_now(
                session, alert_id=draft.id, now=utcnow(), max_paid_stars=subscribers
            )
        for worker in workers:
            worker.go()
        results = [await worker.figures() for worker in workers]
        figures = await emu.stats()
    return Row(
        instances=instances,
        paced=paced,
        subscribers=subscribers,
        reach=figures["last_at"] - started,
        sending=figures["last_at"] - figures["first_at"],
        delivered=figures["messages"] - figures["duplicates"],
        duplicates=figures["duplicates"],
        lost=figures["lost"],
        injected=figures["rate_limited"],
        over_limit=figures["over_limit"],
        unknown=sum(r["unknown"] for r in results),
        rss_mb=[r["rss_mb"] for r in results],
    )


def print_row(row: Row) -> None:
    mode = "paid pace" if row.paced else "uncapped"
    rss = "/".join(f"{mb:.1f}" for mb in row.rss_mb)
    print(
        f"{mode:<10} {row.instances:>4} {row.subscribers:>8} {row.reach:>8.1f} "
        f"{row.overall:>8.0f} {row.sustained:>9.0f} {row.injected:>6} {row.over_limit:>6} "
        f"{row.duplicates:>5} {row.lost:>5} {row.unknown:>5} {rss:>11}",
        flush=True,
    )


async def main(args: argparse.Namespace) -> None:
    if not os.environ.get(POSTGRES_ENV):
        raise SystemExit(f"set {POSTGRES_ENV} to a PostgreSQL URL (a throw-away database is made)")
    print(
        f"paid alert, {args.fault_share:.0%} of sends answered 429 (retry_after 1 s); PostgreSQL; "
        f"paid pace: HRBOT_INSTANCES = instances, HRBOT_PAID_BROADCAST_RATE = {PAID_LIMIT:.0f} "
        "(each instance sends its share) and the emulator enforcing Telegram's 1,000/s; "
        "uncapped: sent free, no pacing, no limit (the ceiling)"
    )
    print(
        f"{'row':<10} {'inst':>4} {'people':>8} {'reach s':>8} {'msgs/s':>8} {'sending/s':>9} "
        f"{'429s':>6} {'over':>6} {'dupes':>5} {'lost':>5} {'unkn':>5} {'RSS +MB':>11}",
        flush=True,
    )
    with tempfile.TemporaryDirectory() as workdir:
        for paced in (True, False) if args.rows == "both" else (args.rows == "paced",):
            for count in args.instances:
                row = await one_row(
                    Path(workdir),
                    instances=count,
                    subscribers=args.subscribers,
                    fault_share=args.fault_share,
                    paced=paced,
                )
                print_row(row)


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--subscribers", type=int, default=100_000, help="people per alert")
    parser.add_argument("--fault-share", type=float, default=0.05, help="share of sends 429'd")
    parser.add_argument(
        "--instances", type=int, nargs="+", default=[1, 2], help="instance counts to run"
    )
    parser.add_argument("--rows", choices=["both", "paced", "uncapped"], default="both")
    parser.add_argument("--instance", action="store_true", help=argparse.SUPPRESS)
    return parser.parse_args(argv)


if __name__ == "__main__":
    arguments = parse_args()
    # The outbox takes a 429's retry_after itself; PTB's limiter would log each one.
    logging.basicConfig(level=logging.WARNING)
    logging.getLogger("telegram.ext.AIORateLimiter").setLevel(logging.CRITICAL)
    if arguments.instance:
        asyncio.run(instance())
    else:
        asyncio.run(main(arguments))
