"""What keeping Signal's numbered lists in the database costs: hrbot's real Signal channel and
routes against the signal-cli-rest-api emulator, with the list store as users run it next to
the same channel keeping lists in memory (what it did before: lost on restart, unknown to
other instances).

Run ``python -m bench.signal_lists``. Each person sends ``/naloxone``, answers "Nasal spray"
with its number, then "Gastown" with its number: three messages, two of them digits read
against the stored list, and three lists stored. Everyone goes at once, each waiting for the
answer before the next message. SQLite always; PostgreSQL too when
``HRBOT_TEST_POSTGRES_URL`` is set (a database of its own, dropped afterwards; there the
channel takes each person's turn in the database, as with several instances).

Rows alternate ``memory`` and ``rows`` for ``--rounds`` rounds (this machine's speed drifts),
and the summary gives the median of each. ``msgs/s`` counts from the first message to the
last answer; ``p50``/``p95`` are per message, sent to answered; ``cpu ms/msg`` is the
process's (bot, emulator and driver share it); ``misread`` counts digits not read as the
option they pick (must be 0); ``stored`` the lists in the database after the round (each
person's last one: ``rows`` keeps one per person, ``memory`` none). How it differs from
production: Signal's own pacing of sends is off (``SignalPacing`` with no waits), so the
figures show the bot's cost, not the pace Signal allows; everything else is built as
``hrbot run`` builds it.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import secrets
import statistics
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Final

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bench.updates import POSTGRES_ENV, database
from bot.app import build_runtime, prepare_database
from bot.channels.signal import SignalChannel, SignalPacing
from bot.core.messages import Option
from bot.db.models import ShownMenu
from bot.demo import DemoClock
from bot.runner import build_engine
from bot.settings import load_settings
from bot.signal_emulator import SignalEmulator
from handlers.routes import build_routes

NO_PACING: Final = SignalPacing(recipient_burst=1000, recipient_interval=0.0, global_interval=0.0)


@dataclass(frozen=True)
class Row:
    mode: str
    backend: str
    messages: int
    seconds: float
    latencies: list[float]
    cpu_seconds: float
    misread: int
    stored: int = 0  # lists in the database after the round, more than before

    @property
    def rate(self) -> float:
        return self.messages / self.seconds

    def line(self) -> str:
        ordered = sorted(self.latencies)
        p50 = ordered[len(ordered) // 2] * 1000
        p95 = ordered[int(len(ordered) * 0.95)] * 1000
        cpu = self.cpu_seconds * 1000 / self.messages
        return (
            f"{self.mode:7} {self.backend:10} {self.messages:6} {self.seconds:7.2f} "
            f"{self.rate:7.0f} {p50:7.1f} {p95:7.1f} {cpu:10.2f} {self.misread:7} {self.stored:6}"
        )


HEADER: Final = (
    f"{'mode':7} {'backend':10} {'msgs':>6} {'seconds':>7} {'msgs/s':>7} {'p50 ms':>7} "
    f"{'p95 ms':>7} {'cpu ms/msg':>10} {'misread':>7} {'stored':>6}"
)


def in_memory(channel: SignalChannel) -> None:
    """The baseline: lists kept in a dict on the channel, as before they were rows."""
    lists: dict[str, tuple[Option, ...]] = {}

    async def shown(address: str) -> tuple[Option, ...]:
        return lists.get(address, ())

    async def store(address: str, options: Sequence[Option]) -> None:
        if options:
            lists[address] = tuple(options)
        else:
            lists.pop(address, None)

    channel._shown = shown  # type: ignore[method-assign]
    channel._store_menu = store  # type: ignore[method-assign]


async def one_person(emu: SignalEmulator, name: str, latencies: list[float]) -> int:
    """The three messages; how many digits were not read as the option they pick."""
    person = emu.person(name)
    misread = 0
    for text, expect in (
        ("/naloxone", "Nasal spray"),
        ("Nasal spray", "Gastown"),
        ("Gastown", "Area: Gastown"),
    ):
        started = time.perf_counter()
        # The command as typed; an answer as its number in the list last shown.
        [answer] = await (person.say(text) if text.startswith("/") else person.pick(text))
        latencies.append(time.perf_counter() - started)
        misread += expect not in answer.text
    return misread


async def stored_lists(sessions: async_sessionmaker[AsyncSession]) -> int:
    async with sessions() as session:
        return int(await session.scalar(select(func.count()).select_from(ShownMenu)) or 0)


async def run_round(emu: SignalEmulator, mode: str, backend: str, people: int) -> Row:
    latencies: list[float] = []
    cpu, started = time.process_time(), time.perf_counter()
    misread = await asyncio.gather(*(one_person(emu, f"p{n}", latencies) for n in range(people)))
    return Row(
        mode=mode,
        backend=backend,
        messages=len(latencies),
        seconds=time.perf_counter() - started,
        latencies=latencies,
        cpu_seconds=time.process_time() - cpu,
        misread=sum(misread),
    )


async def run_backend(backend: str, args: argparse.Namespace, workdir: Path) -> list[Row]:
    rows: list[Row] = []
    async with database(backend, workdir) as url:
        settings = load_settings(
            data_dir=workdir, database_url=url, secret_key=secrets.token_urlsafe(48)
        )
        runtime = build_runtime(settings)
        await prepare_database(runtime, auto_upgrade=True)
        engine = build_engine(runtime, build_routes(), clock=DemoClock())
        try:
            for number in range(1, args.rounds + 1):
                for seed, mode in enumerate(("memory", "rows"), number * 2):
                    # An emulator a round: it holds 99 people, and each round's are new.
                    async with SignalEmulator(seed=seed) as emu:
                        signal = {"signal_number": emu.number, "signal_service": emu.service}
                        channel = SignalChannel.from_settings(
                            engine, settings.model_copy(update=signal), pacing=NO_PACING
                        )
                        if mode == "memory":
                            in_memory(channel)
                        before = await stored_lists(runtime.sessions)
                        async with channel:
                            await emu.wait_for_receivers()
                            row = await run_round(emu, mode, backend, args.people)
                    row = replace(row, stored=await stored_lists(runtime.sessions) - before)
                    rows.append(row)
                    print(row.line(), flush=True)
        finally:
            await runtime.engine.dispose()
    return rows


def summary(rows: list[Row]) -> str:
    lines = ["", "median of the rounds (rows / memory):"]
    for backend in dict.fromkeys(row.backend for row in rows):
        mine = [row for row in rows if row.backend == backend]
        rate = {
            m: statistics.median(r.rate for r in mine if r.mode == m) for m in ("memory", "rows")
        }
        p50 = {
            m: statistics.median(
                sorted(r.latencies)[len(r.latencies) // 2] for r in mine if r.mode == m
            )
            for m in ("memory", "rows")
        }
        lines.append(
            f"  {backend}: {rate['rows']:.0f} vs {rate['memory']:.0f} msgs/s "
            f"({rate['rows'] / rate['memory']:.2f}x); p50 {p50['rows'] * 1000:.1f} vs "
            f"{p50['memory'] * 1000:.1f} ms; misread {sum(r.misread for r in mine)}"
        )
    return "\n".join(lines)


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument(
        "--people", type=int, default=99, help="people per round (the emulator holds 99)"
    )
    parser.add_argument("--rounds", type=int, default=3, help="rounds of each mode")
    return parser.parse_args(argv)


async def main(argv: Sequence[str] | None = None) -> list[Row]:
    args = parse_args(argv)
    backends = ["sqlite"] + (["postgresql"] if os.environ.get(POSTGRES_ENV) else [])
    default = SignalPacing()
    print(
        f"{args.people} people x 3 messages a round. Unlike production, Signal pacing is off "
        f"(by default all sends go at 1 every {default.global_interval} s after a burst of "
        f"{default.global_burst})\n{HEADER}"
    )
    rows: list[Row] = []
    for backend in backends:
        with tempfile.TemporaryDirectory() as workdir:
            rows += await run_backend(backend, args, Path(workdir))
    print(summary(rows))
    return rows


if __name__ == "__main__":
    asyncio.run(main())
