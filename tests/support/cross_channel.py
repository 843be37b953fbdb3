"""Both real clients (signalbot, python-telegram-bot) against their emulators, one engine.

``async with cross_channel_world(sessions, seed=3) as world:`` imports the demo outlets at a
Wednesday 11:00 in Vancouver (they are open), starts both channels and yields a :class:`World`.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.channels.signal import Reconnect, SignalChannel, SignalPacing
from bot.channels.telegram import TelegramChannel
from bot.content import load_outlets
from bot.core.engine import Engine
from bot.core.ratelimit import RateLimiter
from bot.db.models import Outlet, Request
from bot.domain import RequestStatus, Role
from bot.emulator import TelegramEmulator
from bot.services import invites
from bot.services.outlets import import_outlets
from bot.signal_emulator import SignalEmulator
from handlers.routes import build_routes
from tests.support.chat import Clock
from tests.support.engine import CONTENT_DIR, TEST_KEYS, make_engine


@dataclass
class World:
    """Both emulators, both channels, one engine."""

    engine: Engine
    telegram: TelegramEmulator
    signal: SignalEmulator
    sessions: async_sessionmaker[AsyncSession]

    async def peer_invite(self) -> str:
        """A fresh peer invite for the Main & Hastings table."""
        async with self.sessions.begin() as session:
            outlet_id = await session.scalar(
                select(Outlet.id).where(Outlet.key == "main_hastings_peer")
            )
            return await invites.create(
                session,
                codes_key=TEST_KEYS.codes,
                role=Role.PEER,
                ttl=self.engine.deps.config.invite_ttl,
                outlet_id=outlet_id,
                now=self.engine.clock(),
            )

    async def statuses(self) -> list[RequestStatus]:
        """Every request's status, oldest first."""
        async with self.sessions() as session:
            return list(await session.scalars(select(Request.status).order_by(Request.id)))


@asynccontextmanager
async def cross_channel_world(
    sessions: async_sessionmaker[AsyncSession], *, seed: int
) -> AsyncIterator[World]:
    clock = Clock()  # a Wednesday, 11:00 in Vancouver: demo outlets are open
    engine = make_engine(sessions, build_routes(), clock=clock)
    engine.limiter = RateLimiter(burst=100)
    content = engine.deps.content
    specs = load_outlets(CONTENT_DIR / "outlets.demo.yaml", content.catalogue, content.gazetteer)
    async with sessions.begin() as session:
        await import_outlets(session, specs=specs, catalogue=content.catalogue, now=clock())
    async with TelegramEmulator(seed=seed) as tg, SignalEmulator(seed=seed) as sig:
        telegram = TelegramChannel(engine, token=tg.token, base_url=tg.base_url, poll_timeout=1)
        signal = SignalChannel(
            engine,
            number=sig.number,
            service=sig.service,
            pacing=SignalPacing(recipient_burst=50, recipient_interval=0.001, global_interval=0),
            reconnect=Reconnect(initial=0.02, maximum=0.2),
            ready_timeout=5,
        )
        await telegram.start()
        await signal.start()
        try:
            await sig.wait_for_receivers()
            yield World(engine=engine, telegram=tg, signal=sig, sessions=sessions)
        finally:
            await signal.stop()
            await telegram.stop()
