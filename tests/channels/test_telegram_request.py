"""The aiohttp request class for python-telegram-bot, through the real client and emulator."""

from __future__ import annotations

import socket

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from telegram.error import NetworkError
from yarl import URL

from bot.channels import telegram_request
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


def _dead_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
def no_proxy_env(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "NO_PROXY"):
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.lower(), raising=False)
    return monkeypatch


@pytest.mark.parametrize("bypass", [False, True], ids=["proxied", "NO_PROXY"])
async def test_proxies_come_from_the_environment(
    no_proxy_env: pytest.MonkeyPatch, bypass: bool
) -> None:
    # A proxy nobody listens on: a call that goes through it fails; NO_PROXY skips it.
    no_proxy_env.setenv("HTTP_PROXY", f"http://127.0.0.1:{_dead_port()}")
    if bypass:
        no_proxy_env.setenv("NO_PROXY", "127.0.0.1")
    async with TelegramEmulator(seed=12) as emu:
        request = AiohttpRequest(connect_timeout=1.0, read_timeout=1.0)
        await request.initialize()
        try:
            url = f"{emu.base_url}{emu.token}/getMe"
            if bypass:
                status, _body = await request.do_request(url, "POST")
                assert status == 200
            else:
                with pytest.raises(NetworkError):
                    await request.do_request(url, "POST")
        finally:
            await request.shutdown()


async def test_the_proxy_is_looked_up_once_per_server(
    no_proxy_env: pytest.MonkeyPatch,
) -> None:
    lookups: list[str] = []
    real = telegram_request._env_proxy

    def counting(url: URL) -> object:
        lookups.append(str(url.origin()))
        return real(url)

    no_proxy_env.setattr(telegram_request, "_env_proxy", counting)
    async with TelegramEmulator(seed=13) as emu:
        request = AiohttpRequest()
        await request.initialize()
        try:
            for _ in range(5):
                status, _body = await request.do_request(f"{emu.base_url}{emu.token}/getMe", "POST")
                assert status == 200
        finally:
            await request.shutdown()
    assert len(lookups) == 1
