"""The console's *Outlets* pages with many outlets: time per page over real HTTP.

Run ``python -m bench.console_outlets``. A fresh SQLite database (temp dir), or the empty
database at ``--database``, gets ``--outlets`` outlets in every area, each offering four items
(some out, some low), and a coordinator signed in by link. A sample is the wall time of one
GET through the real web app (sign-in check, queries, template): list pages across the range,
filtered by area and searched by name, and single outlets. Figures are printed, never asserted.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import statistics
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from sqlalchemy import insert, select

from bot.db.engine import make_engine, make_sessionmaker
from bot.db.migrate import upgrade
from bot.db.models import Outlet, Stock
from bot.domain import OutletKind
from tests.handlers.peer_world import ALWAYS, HERE
from tests.support.console import console_world

ITEMS = ("syr_1ml_29g", "nalox_nasal", "swab", "nalox_inj")


def _p95(samples: list[float]) -> float:
    return sorted(samples)[max(0, round(len(samples) * 0.95) - 1)]


async def run(database: str | None, outlets: int, rounds: int) -> None:
    with tempfile.TemporaryDirectory() as folder:
        url = database or f"sqlite+aiosqlite:///{Path(folder) / 'bench.db'}"
        engine = make_engine(url)
        try:
            await upgrade(engine)
            async with console_world(make_sessionmaker(engine)) as cw, cw.client() as browser:
                world = cw.world
                areas = sorted(world.engine.deps.content.gazetteer.codes)
                rng = random.Random(16)
                async with world.sessions.begin() as session:
                    await session.execute(
                        insert(Outlet),
                        [
                            {
                                "key": f"o{n:05d}",
                                "name": f"Outlet {rng.randrange(10**6):06d}",
                                "kind": OutletKind.PEER,
                                "area_code": areas[n % len(areas)],
                                "latitude": HERE[0] + rng.uniform(-0.05, 0.05),
                                "longitude": HERE[1] + rng.uniform(-0.05, 0.05),
                                "timezone": "America/Vancouver",
                                "instructions": "Ask at the desk.",
                                "hours": ALWAYS,
                                "active": True,
                                "created_at": world.clock.now,
                            }
                            for n in range(outlets)
                        ],
                    )
                    ids = list(await session.scalars(select(Outlet.id)))
                    await session.execute(
                        insert(Stock),
                        [
                            {
                                "outlet_id": outlet_id,
                                "item_id": world.items[code],
                                "quantity": rng.choice((0, 3, 20, 50)),
                                "reserved": 0,
                                "low_threshold": 5,
                                "low_notified": False,
                            }
                            for outlet_id in ids
                            for code in ITEMS
                            if code in world.items
                        ],
                    )
                await cw.sign_in(browser, "coco")
                pages = -(-outlets // 50)
                kinds: dict[str, Callable[[], str]] = {
                    "today": lambda: "/console/",  # the frame's own cost, for comparison
                    "list": lambda: f"/console/outlets?page={rng.randrange(1, pages + 1)}",
                    "area": lambda: f"/console/outlets?area={rng.choice(areas)}",
                    "search": lambda: f"/console/outlets?q={rng.randrange(10):d}",
                    "outlet": lambda: f"/console/outlets/{rng.choice(ids)}",
                }
                print(f"{outlets} outlets, {rounds} requests per page kind ({url.split(':')[0]})")
                print(f"{'page':>8} {'median ms':>10} {'p95 ms':>8} {'max ms':>8}")
                for name, path in kinds.items():
                    await browser.get(path())  # warm the templates
                    samples = []
                    for _ in range(rounds):
                        started = time.perf_counter()
                        answer = await browser.get(path())
                        samples.append((time.perf_counter() - started) * 1000)
                        assert answer.status_code == 200, answer.status_code
                    print(
                        f"{name:>8} {statistics.median(samples):>10.1f} {_p95(samples):>8.1f}"
                        f" {max(samples):>8.1f}"
                    )
        finally:
            await engine.dispose()


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--outlets", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=100)
    parser.add_argument("--database", help="URL of an empty database (default: temp SQLite)")
    args = parser.parse_args(argv)
    asyncio.run(run(args.database, args.outlets, args.rounds))


if __name__ == "__main__":
    main()
