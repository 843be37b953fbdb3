"""A bot process that only sends alerts (for the crash test).

Run as ``python -m tests.support.fanout_worker``.
It is built like the real bot (settings from ``HRBOT_*``, the composition root, the real
Telegram channel against ``HRBOT_TELEGRAM_API_URL``) and runs the outbox until no delivery is
outstanding, then prints the delivery counts of every alert as JSON and exits. Knobs (test
only): ``FANOUT_RATE`` (messages/s, 0 = unlimited), ``FANOUT_WINDOW``, ``FANOUT_LEASE``
(seconds).
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
from datetime import timedelta

from sqlalchemy import select

from bot.app import build_runtime
from bot.channels.telegram import TelegramChannel
from bot.db.base import utcnow
from bot.db.models import Alert
from bot.domain import Channel
from bot.logs import configure_logging
from bot.runner import build_engine
from bot.services import alerts
from bot.services.outbox import Fanout, FanoutConfig, outstanding
from bot.settings import load_settings
from tests.support.alerts import NO_ROUTES


async def main() -> int:
    settings = load_settings()
    configure_logging("WARNING")
    runtime = build_runtime(settings)
    engine = build_engine(runtime, NO_ROUTES, clock=utcnow)
    config = FanoutConfig(
        rates={Channel.TELEGRAM: float(os.environ.get("FANOUT_RATE", "0"))},
        window=int(os.environ.get("FANOUT_WINDOW", "8")),
        lease=timedelta(seconds=float(os.environ.get("FANOUT_LEASE", "2"))),
        budget=30.0,
    )
    assert settings.telegram_token is not None
    channel = TelegramChannel(
        engine,
        token=settings.telegram_token.get_secret_value(),
        base_url=str(settings.telegram_api_url),
        poll_timeout=1,
        max_retries=0,
        max_rate=0,  # PTB's own limiter off: the outbox paces (FANOUT_RATE)
    )
    try:
        async with channel:
            fanout = Fanout(engine, config)
            print("ready", flush=True)
            while True:
                await fanout.run()
                async with runtime.sessions() as session:
                    if await outstanding(session) == 0:
                        break
        async with runtime.sessions() as session:
            ids = list(await session.scalars(select(Alert.id).order_by(Alert.id)))
            tallies = {
                str(alert_id): (await alerts.progress(session, alert_id=alert_id)).as_dict()
                for alert_id in ids
            }
        print(json.dumps(tallies), flush=True)
    finally:
        await runtime.close()
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
