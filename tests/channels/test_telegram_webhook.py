"""The webhook server: the secret is checked on the headers, before any body is read.

Each test runs the real python-telegram-bot application in webhook mode against the emulator
and talks to its server over a raw socket, so a test can announce a body and never send it.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.channels.telegram import TelegramChannel, WebhookConfig
from bot.channels.telegram_webhook import (
    MAX_BODY_BYTES,
    REJECT_DELAY,
    SECRET_HEADER,
    WebhookServer,
    secret_matches,
)
from bot.core.engine import Engine
from bot.db.models.people import Invite
from bot.emulator import TelegramEmulator
from tests.channels.test_alert_languages import _coordinator
from tests.channels.test_telegram import free_port

SECRET = "Webhook_secret-of-32-characters-x"
HUGE = 95 * 1024 * 1024  # announced, never sent


@pytest.fixture
async def hooked(bot: Engine, emu: TelegramEmulator) -> AsyncIterator[TelegramChannel]:
    """The whole bot in webhook mode on a free port."""
    port = free_port()
    hook = WebhookConfig(url=f"http://127.0.0.1:{port}/hook", port=port, secret=SECRET)
    channel = TelegramChannel(bot, token=emu.token, base_url=emu.base_url, webhook=hook)
    await channel.start()
    try:
        yield channel
    finally:
        await channel.stop()


async def raw_post(
    channel: TelegramChannel | int,
    *,
    secret: str | None,
    length: int,
    body: bytes = b"",
    content_type: str = "application/json",
) -> int:
    """POST headers announcing ``length`` bytes, then only ``body``; return the status (0: the
    connection was closed without an answer). Times out if the server waits for the body."""
    if isinstance(channel, TelegramChannel):
        assert channel.webhook is not None
        channel = channel.webhook.port
    reader, writer = await asyncio.open_connection("127.0.0.1", channel)
    head = [
        "POST /hook HTTP/1.1",
        "Host: bot.example.org",
        f"Content-Type: {content_type}",
        f"Content-Length: {length}",
    ]
    if secret is not None:
        head.append(f"{SECRET_HEADER}: {secret}")
    writer.write(("\r\n".join(head) + "\r\n\r\n").encode("latin-1") + body)
    try:
        await writer.drain()
        line = await asyncio.wait_for(reader.readline(), REJECT_DELAY + 5)
    finally:
        writer.close()
    return int(line.split()[1]) if line else 0


async def test_wrong_or_missing_secret_is_refused_without_reading_the_body(
    hooked: TelegramChannel,
) -> None:
    for secret in ("wrong", None, "", SECRET[:-1], SECRET + "x", SECRET[:-1] + "y", "é" * 33):
        assert await raw_post(hooked, secret=secret, length=HUGE, body=b"{") == 403, secret


async def test_correct_secret_with_an_oversize_body_is_413_without_reading_it(
    hooked: TelegramChannel,
) -> None:
    assert await raw_post(hooked, secret=SECRET, length=MAX_BODY_BYTES + 1) == 413
    assert await raw_post(hooked, secret=SECRET, length=HUGE) == 413


async def test_wrong_secrets_are_slowed_down_and_do_not_hold_up_telegram(
    hooked: TelegramChannel, emu: TelegramEmulator
) -> None:
    started = time.monotonic()
    guesses = [raw_post(hooked, secret=f"guess{n}", length=2, body=b"{}") for n in range(20)]
    probing = asyncio.gather(*guesses)
    await asyncio.sleep(0.1)
    ana = emu.user("ana")
    answered = time.monotonic()
    assert await ana.say("/start")  # Telegram's own delivery, with the secret
    assert time.monotonic() - answered < REJECT_DELAY
    assert await probing == [403] * 20
    assert time.monotonic() - started >= REJECT_DELAY


async def test_forged_private_update_from_a_coordinator_is_ignored(
    bot: Engine,
    hooked: TelegramChannel,
    emu: TelegramEmulator,
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    coco = await _coordinator(bot, emu)
    eve = emu.user("eve")
    await eve.say("/start")
    before = len(eve.texts), len(coco.texts)
    forged = {
        "update_id": 9_000_001,
        "message": {
            "message_id": eve.chat.take_message_id(),
            "from": coco.as_dict(),  # a coordinator...
            "chat": eve.chat.as_dict(),  # ...in the attacker's private chat
            "date": emu.now(),
            "text": "/invite coordinator",
            "entities": [{"type": "bot_command", "offset": 0, "length": 7}],
        },
    }
    assert await emu.post_to_webhook(forged) == 200
    button = {
        "update_id": 9_000_002,
        "callback_query": {
            "id": "forged",
            "from": coco.as_dict(),
            "message": emu.message_dict(eve.last),
            "chat_instance": "1",
            "data": "x",
        },
    }
    assert await emu.post_to_webhook(button) == 200
    await eve.say("/start")  # handled after the forged ones (same chat, in order)
    await hooked.wait_idle()
    assert (len(eve.texts) - 1, len(coco.texts)) == before
    async with sessions() as session:
        assert await session.scalar(select(func.count()).select_from(Invite)) == 1  # coco's own


async def test_rejections_beyond_the_cap_are_dropped_unanswered() -> None:
    accepted: list[object] = []

    async def accept(update: object) -> None:
        accepted.append(update)

    server = WebhookServer(
        path="/hook", secret=SECRET, accept=accept, reject_delay=0.3, max_pending_rejections=2
    )
    port = free_port()
    server.listen("127.0.0.1", port)
    try:
        guesses = asyncio.gather(*(raw_post(port, secret="guess", length=0) for _ in range(5)))
        update = b'{"update_id": 1}'
        assert await raw_post(port, secret=SECRET, length=len(update), body=update) == 200
        assert sorted(await guesses) == [0, 0, 0, 403, 403]
        assert accepted == [{"update_id": 1}]
        assert server.rejected == 5
    finally:
        await server.stop()


def test_secret_matches_only_the_whole_secret() -> None:
    assert secret_matches(SECRET, SECRET)
    for given in (None, "", SECRET[:-1], SECRET + "x", SECRET.upper(), "é" * len(SECRET)):
        assert not secret_matches(given, SECRET)
