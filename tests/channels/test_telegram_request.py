"""The aiohttp request class for python-telegram-bot, through the real client and emulator."""

from __future__ import annotations

import socket

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from telegram.error import NetworkError

from bot.channels.telegram import TelegramChannel
from bot.channels.telegram_request import AiohttpRequest
from bot.emulator import TelegramEmulator
from tests.channels.test_telegram import build_routes
from tests.support.engine import make_engine


async def test_round_trip_with_buttons_and_errors(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    engine = make_engine(sessions, build_routes([]))
    async with TelegramEmulator(seed=11) as emu:
        channel = TelegramChannel(
            engine, token=emu.token, base_url=emu.base_url, poll_timeout=1, request=AiohttpRequest
        )
        await channel.start()
        try:
            ana = emu.user("ana")
            replies = await ana.say("hello <b> & you")
            assert replies, "no reply through the aiohttp request class"
            # A 429 from the server goes through the rate limiter's retry and still arrives.
            emu.fail_next("sendMessage", status=429, retry_after=1, count=1)
            assert await ana.say("again")
            assert [e for e in emu.errors if not e.injected] == []
        finally:
            await channel.stop()


async def test_unreachable_server_is_a_network_error() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    request = AiohttpRequest(connect_timeout=1.0, read_timeout=1.0)
    await request.initialize()
    try:
        with pytest.raises(NetworkError):
            await request.do_request(f"http://127.0.0.1:{port}/botX/getMe", "POST")
    finally:
        await request.shutdown()
