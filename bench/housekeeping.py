"""What the tick's address sweep costs as the number of subscribers grows.

Run ``python -m bench.housekeeping [--people N] [--postgres URL]``. The sweep
(:func:`bot.services.contacts.drop_idle_addresses`) looks at every contact that still holds a
sealed reply address, every tick; subscribers keep theirs, so on a big service it visits them
all and drops none. This fills a fresh database (SQLite in a temporary folder, the shipped
default, or the PostgreSQL URL given) with ``N`` subscribers, then prints the sweep's time
beside the whole tick's (:func:`handlers.due.run_due`, the baseline it runs in) and the share
of the tick interval the sweep takes.
"""

from __future__ import annotations

import argparse
import asyncio
import secrets
import statistics
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import insert

from bot.app import build_runtime, prepare_database
from bot.db.models import Contact, Subscription
from bot.domain import Channel
from bot.runner import TICK_SECONDS, build_engine
from bot.services import contacts
from bot.settings import load_settings
from handlers.due import run_due
from handlers.routes import build_routes

NOW = datetime(2026, 11, 25, 19, 0, tzinfo=UTC)
CHUNK = 5000


async def _fill(sessions, people: int) -> None:  # type: ignore[no-untyped-def]
    async with sessions.begin() as session:
        for start in range(0, people, CHUNK):
            rows = await session.execute(
                insert(Contact).returning(Contact.id),
                [
                    {
                        "pseudonym": secrets.token_hex(16),
                        "channel": Channel.TELEGRAM,
                        "reply_address": secrets.token_bytes(120),
                        "locale": None,
                        "reachable": True,
                        "created_at": NOW,
                    }
                    for _ in range(min(CHUNK, people - start))
                ],
            )
            await session.execute(
                insert(Subscription),
                [{"contact_id": c, "area_code": "dtes", "created_at": NOW} for (c,) in rows.all()],
            )


async def measure(folder: Path, url: str | None, people: int, rounds: int) -> None:
    """As ``hrbot run`` wires it: the runtime, the migrated database, the engine."""
    settings = load_settings(
        data_dir=folder,
        database_url=url,
        secret_key=secrets.token_urlsafe(48),
    )
    runtime = build_runtime(settings)
    try:
        await prepare_database(runtime, auto_upgrade=True)
        await _fill(runtime.sessions, people)
        bot = build_engine(runtime, build_routes(), clock=lambda: NOW)
        sweeps, ticks = [], []
        for _ in range(rounds):
            started = time.perf_counter()
            async with runtime.sessions.begin() as session:
                dropped = await contacts.drop_idle_addresses(session, now=NOW)
            sweeps.append(time.perf_counter() - started)
            assert dropped == 0
            started = time.perf_counter()
            await run_due(bot)
            ticks.append(time.perf_counter() - started)
        name = runtime.engine.dialect.name
    finally:
        await runtime.close()
    sweep, tick = statistics.median(sweeps), statistics.median(ticks)
    print(
        f"{name}: {people:,} subscribers · sweep {sweep * 1000:.0f} ms · "
        f"whole tick (sweep included) {tick * 1000:.0f} ms · "
        f"sweep = {sweep / TICK_SECONDS:.1%} of the {TICK_SECONDS:.0f} s tick interval"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--people", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--postgres", help="a postgresql+asyncpg URL of an empty database")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        asyncio.run(measure(Path(folder), args.postgres, args.people, args.rounds))


if __name__ == "__main__":
    main()
