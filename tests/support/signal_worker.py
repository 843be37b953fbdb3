"""A bot process for the two-instance Signal test (``tests/test_signal_instances.py``).

Run as ``python -m tests.support.signal_worker``. Built like ``hrbot run`` (settings from
``HRBOT_*``, the composition root, the real Signal channel and signalbot against
``HRBOT_SIGNAL_SERVICE``, :class:`~bot.runner.BotService` and :func:`~bot.runner.serve`) with
two differences: the route table is :data:`COUNTING` (every message answers "count N", N
kept in the conversation state), and sends are not paced (the emulator is no Signal server).
Prints ``ready`` once connected; runs until SIGTERM or SIGKILL.
"""

from __future__ import annotations

import asyncio
import sys

from bot.app import build_runtime, prepare_database
from bot.channels.signal import SignalChannel, SignalPacing
from bot.core.context import Context
from bot.core.messages import Incoming
from bot.core.routes import Routes
from bot.db.base import utcnow
from bot.instance import instance_lock
from bot.logs import configure_logging
from bot.runner import BotService, build_engine, serve
from bot.settings import load_settings

UNPACED = SignalPacing(recipient_burst=100, recipient_interval=0.0, global_burst=1000)


async def count(msg: Incoming, ctx: Context) -> None:
    """Answer "count N": the person's Nth message, counted in their conversation state."""
    n = int(ctx.state.data.get("count", 0)) + 1 if ctx.state else 1
    ctx.goto("count", "counting", count=n)
    ctx.reply(f"count {n}")


COUNTING = Routes(
    commands={},
    options={},
    flows={"count": count},
    fallback=count,
    unknown_command=count,
    unsupported=count,
)


async def main() -> int:
    settings = load_settings()
    configure_logging("WARNING")
    runtime = build_runtime(settings)
    try:
        await prepare_database(runtime)
        engine = build_engine(runtime, COUNTING, clock=utcnow)
        channel = SignalChannel.from_settings(engine, settings, pacing=UNPACED)
        service = BotService(engine, [channel], tick_seconds=3600, lock=instance_lock(settings))

        async def ready() -> None:
            print("ready", flush=True)

        await serve(service, ready=ready)
    finally:
        await runtime.close()
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
