"""Fixtures shared by the channel tests that run the bot's own routes through a real client."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.channels.signal import Reconnect, SignalChannel, SignalPacing
from bot.channels.telegram import TelegramChannel
from bot.core.engine import Engine
from bot.core.ratelimit import RateLimiter
from bot.emulator import TelegramEmulator
from bot.signal_emulator import SignalEmulator
from handlers.routes import build_routes
from tests.support.engine import make_engine


@pytest.fixture
def bot(sessions: async_sessionmaker[AsyncSession]) -> Engine:
    """The whole bot's engine (not ``engine``: that name is the test database's)."""
    built = make_engine(sessions, build_routes())
    built.limiter = RateLimiter(burst=100)  # scripted people type faster than the flood limit
    return built


@pytest.fixture
async def emu() -> AsyncIterator[TelegramEmulator]:
    """A running Telegram emulator, nothing polling it yet."""
    async with TelegramEmulator(seed=11) as emulator:
        yield emulator


@pytest.fixture
async def telegram(bot: Engine, emu: TelegramEmulator) -> AsyncIterator[TelegramEmulator]:
    """The Telegram emulator with the real channel polling it."""
    async with TelegramChannel(bot, token=emu.token, base_url=emu.base_url, poll_timeout=2):
        yield emu


@pytest.fixture
async def signal(bot: Engine) -> AsyncIterator[SignalEmulator]:
    """The Signal emulator with the real channel receiving from it."""
    emulator = SignalEmulator(seed=11)
    await emulator.start()
    channel = SignalChannel(
        bot,
        number=emulator.number,
        service=emulator.service,
        pacing=SignalPacing(recipient_burst=50, recipient_interval=0.001, global_interval=0.0),
        reconnect=Reconnect(initial=0.02, maximum=0.2),
        ready_timeout=5,
    )
    await channel.start()
    try:
        await emulator.wait_for_receivers()
        yield emulator
    finally:
        await channel.stop()
        await emulator.stop()
