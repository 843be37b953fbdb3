"""One whole bot instance with a counting conversation (for the several-instances test).

Run as ``python -m tests.support.instance_worker``. Built as ``hrbot run`` builds the bot:
settings from ``HRBOT_*``, the composition root, ``prepare_database``, the real Telegram channel
from settings (webhook mode: ``HRBOT_WEBHOOK_URL``), the runner's :class:`BotService` serving
the real web app on ``HRBOT_WEB_LISTEN`` (port 0: a free one) and :func:`serve` until SIGTERM.
Only the route table is the test's: every message adds one to a count kept in the
conversation state and is answered with the count, so a lost, repeated or forked update
shows in the replies. Prints ``ready <port>`` once serving. Knobs (test only):
``INSTANCE_TICK`` (seconds between due-work ticks), ``COUNT_PAUSE`` (at most this many
seconds of work inside each update's transaction: room for a race to show), ``JOURNAL_LEASE``
(seconds a journaled reply stays with the process sending it: a killed instance's replies are
sent by the survivor this long after, instead of the shipped 45 s).
"""

from __future__ import annotations

import asyncio
import os
import random
import sys
from datetime import timedelta

from bot.app import build_runtime, prepare_database
from bot.channels.telegram import TelegramChannel
from bot.core.context import Context
from bot.core.messages import Incoming
from bot.core.ratelimit import RateLimiter
from bot.core.routes import Routes
from bot.db.base import utcnow
from bot.health import STATUS_FILE
from bot.logs import configure_logging
from bot.runner import BotService, build_engine, serve
from bot.services import journal
from bot.settings import load_settings

FLOW = "count"


def counting_routes(pause: float) -> Routes:
    """Every message, command or not, counts."""
    rng = random.Random()

    async def count(msg: Incoming, ctx: Context) -> None:
        counted = int(ctx.state.data.get("count", 0)) + 1 if ctx.state else 1
        if pause:
            await asyncio.sleep(rng.random() * pause)
        ctx.goto(FLOW, "counting", count=counted)
        ctx.reply(str(counted))

    return Routes(
        commands={},
        options={},
        flows={FLOW: count},
        fallback=count,
        unknown_command=count,
        unsupported=count,
    )


async def main() -> int:
    settings = load_settings()
    configure_logging("WARNING")
    runtime = build_runtime(settings)
    if "JOURNAL_LEASE" in os.environ:
        lease = timedelta(seconds=float(os.environ["JOURNAL_LEASE"]))
        journal.JOURNAL_LEASE = lease  # type: ignore[misc]  # a test knob on a constant
    try:
        await prepare_database(runtime)
        routes = counting_routes(float(os.environ.get("COUNT_PAUSE", "0.003")))
        engine = build_engine(runtime, routes, clock=utcnow)
        # Ten quick messages per person are the test's load, not a flood.
        engine.limiter = RateLimiter(rate=100, burst=100)
        channel = TelegramChannel.from_settings(engine, settings)
        service = BotService(
            engine,
            [channel],
            tick_seconds=float(os.environ.get("INSTANCE_TICK", "1")),
            status_file=settings.data_dir / STATUS_FILE,
            web=settings.web_address,
        )

        async def ready() -> None:
            assert service.web is not None
            print(f"ready {service.web.port}", flush=True)

        await serve(service, ready=ready)
    finally:
        await runtime.close()
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
