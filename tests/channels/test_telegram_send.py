"""``TelegramChannel.send_result``: how each way a send can end reaches the alert outbox.

The real python-telegram-bot client against the Bot API emulator, on both request classes
(PTB's httpx default and ``AiohttpRequest``): a 429 keeps its exact ``retry_after``, a 5xx is a
plain retry, a timeout or a connection lost after Telegram accepted the call is a retry that
``maybe_delivered`` (and the emulator shows the message did arrive), a refused connection is a
plain retry, ``Forbidden`` is unreachable, a 400 is failed.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from telegram.request import BaseRequest, HTTPXRequest

from bot.channels.telegram import TelegramChannel
from bot.channels.telegram_request import AiohttpRequest
from bot.core.messages import Reply, SendResult, SendStatus
from bot.emulator import FakeUser, TelegramEmulator
from tests.support.alerts import alert_engine

READ_TIMEOUT = 0.5  # seconds: a stalled answer is given up on quickly
REQUESTS: dict[str, Callable[[], BaseRequest]] = {
    "httpx": lambda: HTTPXRequest(read_timeout=READ_TIMEOUT),
    "aiohttp": lambda: AiohttpRequest(read_timeout=READ_TIMEOUT),
}


@pytest.fixture(params=sorted(REQUESTS))
def request_class(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
async def channel(
    emu: TelegramEmulator, sessions: async_sessionmaker[AsyncSession], request_class: str
) -> AsyncIterator[TelegramChannel]:
    # max_retries=0: PTB's limiter hands a 429 straight back, as the outbox wants it.
    bot = TelegramChannel(
        alert_engine(sessions),
        token=emu.token,
        base_url=emu.base_url,
        poll_timeout=1,
        max_retries=0,
        request=REQUESTS[request_class],
    )
    async with bot:
        yield bot


@pytest.fixture
def ana(emu: TelegramEmulator) -> FakeUser:
    user = emu.user("ana")
    user.started = True  # has written to the bot before, so it may write to her
    return user


async def _send(channel: TelegramChannel, user: FakeUser, text: str = "alert") -> SendResult:
    return await channel.send_result(str(user.id), Reply(text))


async def test_sent(channel: TelegramChannel, ana: FakeUser) -> None:
    assert await _send(channel, ana) == SendResult(SendStatus.SENT)
    assert ana.texts == ["alert"]


async def test_429_keeps_its_exact_retry_after(
    emu: TelegramEmulator, channel: TelegramChannel, ana: FakeUser
) -> None:
    emu.fail_next("sendMessage", status=429, retry_after=7)
    assert await _send(channel, ana) == SendResult(SendStatus.RETRY, retry_after=7.0)
    assert ana.texts == []


@pytest.mark.parametrize("status", [500, 502, 503, 504])
async def test_5xx_is_a_plain_retry(
    emu: TelegramEmulator, channel: TelegramChannel, ana: FakeUser, status: int
) -> None:
    emu.fail_next("sendMessage", status=status)
    assert await _send(channel, ana) == SendResult(SendStatus.RETRY)
    assert ana.texts == []


async def test_timeout_after_telegram_accepted_is_maybe_delivered(
    emu: TelegramEmulator, channel: TelegramChannel, ana: FakeUser
) -> None:
    emu.stall_next("sendMessage", seconds=READ_TIMEOUT * 6)
    result = await _send(channel, ana)
    assert result == SendResult(SendStatus.RETRY, maybe_delivered=True)
    assert ana.texts == ["alert"]  # it did arrive: resending would duplicate it


async def test_connection_lost_after_telegram_accepted_is_maybe_delivered(
    emu: TelegramEmulator, channel: TelegramChannel, ana: FakeUser
) -> None:
    emu.stall_next("sendMessage", seconds=None)
    assert await _send(channel, ana) == SendResult(SendStatus.RETRY, maybe_delivered=True)
    assert ana.texts == ["alert"]


async def test_no_connection_at_all_is_a_plain_retry(
    emu: TelegramEmulator, channel: TelegramChannel, ana: FakeUser
) -> None:
    await emu.stop()  # nothing listens any more: the request cannot have been sent
    # Let the client see its kept-alive connections close, as it would long before a send
    # when a server has gone away. (A request written to a connection that closes under it
    # is "maybe delivered": nothing tells a stale socket from a server that died mid-call.)
    await asyncio.sleep(0.2)
    assert await _send(channel, ana) == SendResult(SendStatus.RETRY)


async def test_forbidden_is_unreachable(
    emu: TelegramEmulator, channel: TelegramChannel, ana: FakeUser
) -> None:
    ana.block()
    assert await _send(channel, ana) == SendResult(SendStatus.UNREACHABLE)
    stranger = emu.user("stranger")  # never wrote to the bot: Telegram refuses with 403 too
    assert await _send(channel, stranger) == SendResult(SendStatus.UNREACHABLE)


async def test_bad_request_is_failed(
    emu: TelegramEmulator, channel: TelegramChannel, ana: FakeUser
) -> None:
    emu.fail_next("sendMessage", status=400, description="Bad Request: chat not found")
    assert await _send(channel, ana) == SendResult(SendStatus.FAILED)


async def test_a_later_part_failing_makes_the_whole_maybe_delivered(
    emu: TelegramEmulator, channel: TelegramChannel, ana: FakeUser
) -> None:
    # Two parts; the first arrives, the second meets a 5xx: sending it all again would
    # repeat the first part, so the outbox must count it as possibly duplicated.
    long_text = "\n".join(["x" * 100] * 60)
    emu.fail_next("sendMessage", status=502, after=1)
    result = await _send(channel, ana, long_text)
    assert result == SendResult(SendStatus.RETRY, maybe_delivered=True)
    assert len(ana.texts) == 1


async def test_send_is_send_result_status(
    emu: TelegramEmulator, channel: TelegramChannel, ana: FakeUser
) -> None:
    emu.fail_next("sendMessage", status=429, retry_after=3)
    assert await channel.send(str(ana.id), Reply("x")) is SendStatus.RETRY
    assert await channel.send(str(ana.id), Reply("y")) is SendStatus.SENT


async def test_a_reply_is_retried_after_a_429_and_a_bulk_send_is_not(
    emu: TelegramEmulator, sessions: async_sessionmaker[AsyncSession], ana: FakeUser
) -> None:
    """With PTB's retries on (as ``hrbot run`` builds the channel): a reply waits out a 429
    and arrives; a broadcast's send hands it back at once for the outbox to reschedule."""
    async with TelegramChannel(
        alert_engine(sessions), token=emu.token, base_url=emu.base_url, poll_timeout=1
    ) as bot:
        emu.fail_next("sendMessage", status=429, retry_after=1)
        assert await bot.send_result(str(ana.id), Reply("reply")) == SendResult(SendStatus.SENT)
        emu.fail_next("sendMessage", status=429, retry_after=1)
        assert await bot.send_bulk(str(ana.id), Reply("alert")) == SendResult(
            SendStatus.RETRY, retry_after=1.0
        )
    assert ana.texts == ["reply"]
    statuses = [call.status for call in emu.calls if call.method == "sendMessage"]
    assert statuses == [429, 200, 429]
