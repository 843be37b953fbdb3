"""Wait-to-route latency: held requests offered by the ``/shift on`` update itself.

Run ``python -m bench.waiting``. For each size, a fresh SQLite database (temp dir) gets one
outlet with stock, one peer off shift, and that many people whose requests nobody could take
and who held them; then the peer sends ``/shift on``. A sample is the wall time of that one
update through the real engine and handlers (claim, route every held request oldest first,
commit, send the offers and the people's notices), which is also the wait-to-route time:
the offers are sent before the update returns. Figures are printed, never asserted.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

from bot.db.engine import make_engine, make_sessionmaker
from bot.db.migrate import upgrade
from tests.handlers.peer_world import make_world


async def one(size: int) -> tuple[float, int]:
    """(ms for the ``/shift on`` update, offers the peer received)."""
    with tempfile.TemporaryDirectory() as folder:
        engine = make_engine(f"sqlite+aiosqlite:///{Path(folder) / 'bench.db'}")
        try:
            await upgrade(engine)
            world = await make_world(make_sessionmaker(engine))
            await world.outlet("hub", stock={"syr_1ml_29g": 10_000})
            await world.peer("pat", "hub", on_shift=False)
            for n in range(size):
                await world.request(f"p{n}")
                await world.chat.tap(f"p{n}", "Hold my request")
            started = time.perf_counter()
            await world.chat.say("pat", "/shift on")
            elapsed = (time.perf_counter() - started) * 1000
            offers = sum(
                1 for r in world.chat.inbox("pat") if r.text.startswith("New pickup request")
            )
            return elapsed, offers
        finally:
            await engine.dispose()


async def run(sizes: Sequence[int], rounds: int) -> None:
    print(f"{'held':>6} {'offered':>8} {'median ms':>10} {'ms/request':>11}")
    for size in sizes:
        samples = [await one(size) for _ in range(rounds)]
        median = statistics.median(ms for ms, _ in samples)
        offered = samples[-1][1]
        print(f"{size:>6} {offered:>8} {median:>10.1f} {median / max(size, 1):>11.2f}")


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1,10,50", help="held requests per run")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args(argv)
    asyncio.run(run([int(s) for s in args.sizes.split(",")], args.rounds))


if __name__ == "__main__":
    main()
