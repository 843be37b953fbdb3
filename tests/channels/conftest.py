"""Fixtures shared by the channel tests that run the bot's own routes through a real client."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.channels.telegram import TelegramChannel
from bot.core.engine import Engine
from bot.core.ratelimit import RateLimiter
from bot.emulator import TelegramEmulator
from handlers.routes import build_routes
from tests.support.engine import make_engine


@pytest.fixture
def bot(sessions: async_sessionmaker[AsyncSession]) -> Engine:
    """The whole bot's engine (not ``engine``: that name is the test database's)."""
    built = make_engine(sessions, build_routes())
    built.limiter = RateLimiter(burst=100)  # scripted people type faster than the flood limit
    return built


@pytest.fixture
async def telegram(bot: Engine) -> AsyncIterator[TelegramEmulator]:
    """The Telegram emulator with the real channel polling it."""
    emulator = TelegramEmulator(seed=11)
    await emulator.start()
    channel = TelegramChannel(bot, token=emulator.token, base_url=emulator.base_url, poll_timeout=2)
    await channel.start()
    try:
        yield emulator
    finally:
        await channel.stop()
        await emulator.stop()
