"""Paid broadcast benchmark: one alert, free and then paid, through the real Telegram client
against the Bot API emulator enforcing Telegram's broadcast limits (30 free messages a second,
1,000 paid).

Run ``python -m bench.paid`` (``--help`` for sizes). Each row sends an alert to
``--subscribers`` people from a fresh SQLite file, with the channel as ``hrbot run`` builds it
(PTB's limiter at 30/s, which paces paid sends apart at Telegram's 1,000/s) and the outbox's
knobs from settings (``HRBOT_TELEGRAM_MAX_RATE``, ``HRBOT_PAID_BROADCAST_RATE``). Printed per
row: the preview's estimate, the measured time from [Send now] to the last delivery's outcome
(what the finish report says), messages per second, and the 429s the emulator answered.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from pydantic import AnyHttpUrl, SecretStr
from sqlalchemy import insert

from bot.channels.telegram import TelegramChannel
from bot.content import load_content
from bot.core.context import Config, Deps
from bot.core.engine import Engine
from bot.core.routes import Routes
from bot.core.words import Words
from bot.db.base import utcnow
from bot.db.engine import make_engine, make_sessionmaker
from bot.db.migrate import upgrade
from bot.db.models import Contact, Subscription
from bot.domain import AlertKind
from bot.emulator import TelegramEmulator
from bot.privacy import AddressBox, derive_keys
from bot.runner import alert_pace, fanout_config
from bot.services import alerts
from bot.services.alert_words import duration_label
from bot.services.outbox import Fanout
from bot.settings import CHECKOUT_CONTENT, Settings

KEYS = derive_keys("bench-secret-" + "x" * 40)


async def _nothing(*_: object) -> None:
    return None


ROUTES = Routes(
    commands={},
    options={},
    flows={},
    fallback=_nothing,
    unknown_command=_nothing,
    unsupported=_nothing,
)


@dataclass(frozen=True)
class Row:
    """One alert's figures: the preview's estimate and what was measured (seconds)."""

    mode: str
    estimate: float
    measured: float  # from [Send now]'s commit to the last outcome, on this process's clock
    report: float  # what the finish report says: finished_at - issued_at
    rate: float  # messages delivered per second
    refused: int  # 429s the emulator answered for going over a broadcast limit
    sent: int
    duplicates: int
    stars: float


async def one_row(workdir: Path, subscribers: int, *, paid: bool) -> Row:
    """Send one alert to ``subscribers`` people, free or paid; its figures."""
    async with TelegramEmulator(seed=1, broadcast_limits=True) as emu:
        settings = Settings(
            telegram_token=SecretStr(emu.token),
            telegram_api_url=AnyHttpUrl(emu.base_url),
            paid_broadcast_max_stars=subscribers,  # a tenth of a Star each: always within
        )
        db = make_engine(f"sqlite+aiosqlite:///{workdir / f'paid-{paid}.db'}")
        await upgrade(db)
        pace = alert_pace(settings)
        deps = Deps(
            content=load_content(CHECKOUT_CONTENT),
            keys=KEYS,
            words=Words(),
            config=Config(pace=pace),
        )
        box = AddressBox(KEYS.address)
        sessions = make_sessionmaker(db)
        engine = Engine(sessions=sessions, deps=deps, box=box, routes=ROUTES, clock=utcnow)
        people = [emu.user(f"p{i}") for i in range(subscribers)]
        now = utcnow()
        async with sessions.begin() as session:
            for user in people:
                user.started = True
            ids = await session.scalars(
                insert(Contact).returning(Contact.id),
                [
                    {
                        "pseudonym": f"bench-{i}",
                        "channel": "telegram",
                        "reply_address": box.seal(str(u.id)),
                        "reachable": True,
                        "created_at": now,
                    }
                    for i, u in enumerate(people)
                ],
            )
            await session.execute(
                insert(Subscription),
                [{"contact_id": c, "area_code": "dtes", "created_at": now} for c in ids],
            )
            draft = await alerts.create_draft(
                session,
                kind=AlertKind.BAD_BATCH,
                severity=3,
                areas=["dtes"],
                fields={"sold_as": "down", "found_to_contain": "nitazenes"},
                gazetteer=deps.content.gazetteer,
                now=now,
            )
            if paid:
                await alerts.set_paid(session, alert_id=draft.id, paid=True, pace=pace)
            reach = await alerts.reach(session, alert_id=draft.id)
        fanout = Fanout(engine, fanout_config(settings))
        async with TelegramChannel.from_settings(engine, settings):
            started = time.perf_counter()
            async with sessions.begin() as session:
                await alerts.send_now(
                    session, alert_id=draft.id, now=utcnow(), max_paid_stars=pace.max_stars
                )
            while (await fanout.run()).more:
                pass
            took = time.perf_counter() - started
        async with sessions() as session:
            view = await alerts.get(session, alert_id=draft.id)
            tally = await alerts.progress(session, alert_id=draft.id)
        await db.dispose()
        delivered = sum(len(u.transcript) for u in people)
        assert view is not None
        assert view.finished_at is not None
        assert view.issued_at is not None
        return Row(
            mode="paid" if paid else "free",
            estimate=reach.seconds(pace, paid=paid),
            measured=took,
            report=(view.finished_at - view.issued_at).total_seconds(),
            rate=delivered / took,
            refused=emu.broadcast_refused[paid],
            sent=tally.sent,
            duplicates=delivered - len(people),
            stars=float(reach.stars) if paid else 0.0,
        )


async def main(args: argparse.Namespace) -> None:
    t = Words().for_locale(None)
    print(f"alert to {args.subscribers} people on Telegram; emulator: 30/s free, 1000/s paid")
    print(
        f"{'mode':<5} {'estimate':>9} {'measured':>9} {'report':>9} {'msgs/s':>8} "
        f"{'429s':>5} {'sent':>6} {'dupes':>5} {'Stars':>7}"
    )
    with tempfile.TemporaryDirectory() as workdir:
        for paid in (False, True):
            row = await one_row(Path(workdir), args.subscribers, paid=paid)
            print(
                f"{row.mode:<5} {duration_label(t, row.estimate):>9} {row.measured:>8.1f}s "
                f"{row.report:>8.1f}s {row.rate:>8.0f} {row.refused:>5} {row.sent:>6} "
                f"{row.duplicates:>5} {row.stars:>7.1f}"
            )


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--subscribers", type=int, default=600, help="people the alert goes to")
    return parser.parse_args(argv)


if __name__ == "__main__":
    logging.basicConfig(level=logging.WARNING)
    asyncio.run(main(parse_args()))
