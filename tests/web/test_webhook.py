"""The Telegram webhook route: refusals decided on the headers before the body is read, the
body limit enforced while it streams, private chats only, and counts in /metrics.

Each test runs the real python-telegram-bot channel in webhook mode against the emulator,
its webhook served by uvicorn on 127.0.0.1 (port 0). httpx is the HTTP client; a raw socket
announces bodies it never sends.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator

import httpx
import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.channels.telegram import PRIVATE_ONLY
from bot.core.engine import Engine
from bot.core.ratelimit import RateLimiter
from bot.db.models.people import Invite
from bot.domain import Role
from bot.emulator import FakeUser, TelegramEmulator
from bot.services import invites
from bot.web.webhook import MAX_BODY_BYTES, REJECT_DELAY, SECRET_HEADER, secret_matches
from handlers.routes import build_routes
from tests.support.engine import make_engine
from tests.support.webhook import SECRET, Hooked, hooked, raw_post
from tests.web.test_app import _sample

HUGE = 95 * 1024 * 1024  # announced, never sent
JSON = {"Content-Type": "application/json"}
SORRY = "Sorry, something went wrong. Nothing was changed; please try again."


@pytest.fixture
def bot(sessions: async_sessionmaker[AsyncSession]) -> Engine:
    built = make_engine(sessions, build_routes())
    built.limiter = RateLimiter(burst=100)
    return built


@pytest.fixture
async def emu() -> AsyncIterator[TelegramEmulator]:
    async with TelegramEmulator(seed=11) as emulator:
        yield emulator


@pytest.fixture
async def hook(bot: Engine, emu: TelegramEmulator) -> AsyncIterator[Hooked]:
    async with hooked(bot, emu) as running:
        yield running


def refused(hook: Hooked, reason: str) -> float:
    return _sample(hook.metrics.render().decode(), "hrbot_webhook_refused_total", reason=reason)


def handled(hook: Hooked) -> float:
    text = hook.metrics.render().decode()
    return sum(
        float(line.rpartition(" ")[2])
        for line in text.splitlines()
        if line.startswith("hrbot_updates_handled_total{")
    )


def update(emu: TelegramEmulator, user: FakeUser, text: str, update_id: int) -> dict[str, object]:
    return {
        "update_id": update_id,
        "message": {
            "message_id": user.chat.take_message_id(),
            "from": user.as_dict(),
            "chat": user.chat.as_dict(),
            "date": emu.now(),
            "text": text,
        },
    }


async def test_a_good_update_is_handled_and_answered(hook: Hooked, emu: TelegramEmulator) -> None:
    assert emu.webhook is not None
    assert (emu.webhook.url, emu.webhook.secret) == (hook.url, SECRET)
    ana = emu.user("ana")
    assert await ana.say("/start")  # Telegram's own delivery: the welcome reached it
    await emu.wait_for(lambda: bool(emu.webhook_deliveries))  # answered just after the reply
    assert emu.webhook_deliveries[-1][1] == 200
    seen = len(ana.texts)
    async with httpx.AsyncClient(timeout=10) as client:
        answer = await client.post(
            hook.url, json=update(emu, ana, "/help", 7), headers={SECRET_HEADER: SECRET}
        )
    assert answer.status_code == 200
    assert len(ana.texts) > seen  # answered once handled: the reply was there already
    assert handled(hook) == 2
    assert [u["update_id"] for u in hook.accepted][-1] == 7


async def test_the_answer_waits_for_the_reply_also_behind_a_chat_s_earlier_update(
    hook: Hooked, emu: TelegramEmulator
) -> None:
    """200 means handled: an update acknowledged while still queued would be lost with a
    killed process. Each reply is answered late by the API, so an answer given before
    handling would come before the reply; the second update of the chat waits behind the
    first (the processor runs it in the first one's task) and is answered after its own."""
    ana = emu.user("ana")
    assert await ana.say("/start")
    seen = len(ana.texts)
    emu.stall_next("sendMessage", seconds=0.3, count=2)
    async with httpx.AsyncClient(timeout=10) as client:

        async def post(text: str, update_id: int) -> int:
            body = update(emu, ana, text, update_id)
            answer = await client.post(hook.url, json=body, headers={SECRET_HEADER: SECRET})
            return len(ana.texts) - seen if answer.status_code == 200 else -answer.status_code

        first = asyncio.create_task(post("/help", 21))
        await asyncio.sleep(0.05)  # the first is in hand when the second arrives
        second = asyncio.create_task(post("/help", 22))
        assert await first >= 1
        assert await second == 2


async def test_an_update_whose_handling_fails_is_still_answered(
    bot: Engine, hook: Hooked, emu: TelegramEmulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    ana = emu.user("ana")
    assert await ana.say("/start")
    seen = len(ana.texts)

    async def broken(*args: object) -> None:
        raise RuntimeError("a handler's bug")

    headers = {SECRET_HEADER: SECRET}
    async with httpx.AsyncClient(timeout=10) as client:
        # Inside the engine: rolled back, the person told (as the engine does in any mode).
        monkeypatch.setattr(bot, "_run", broken)
        answer = await client.post(hook.url, json=update(emu, ana, "/help", 31), headers=headers)
        assert answer.status_code == 200
        assert ana.texts[seen:] == [
            "Sorry, something went wrong. Nothing was changed; please try again."
        ]
        # Around it (the engine never raises; if it did): logged, answered, nothing sent.
        monkeypatch.setattr(bot, "handle", broken)
        answer = await client.post(hook.url, json=update(emu, ana, "/help", 32), headers=headers)
        assert answer.status_code == 200
        assert len(ana.texts) == seen + 1


async def test_wrong_or_missing_secret_is_403_late_and_nothing_is_handled(
    hook: Hooked, emu: TelegramEmulator
) -> None:
    ana = emu.user("ana")
    async with httpx.AsyncClient(timeout=10) as client:
        for secret in ("wrong", None, "", SECRET[:-1], SECRET + "x", SECRET[:-1] + "y"):
            headers = {} if secret is None else {SECRET_HEADER: secret}
            started = time.monotonic()
            answer = await client.post(
                hook.url, json=update(emu, ana, "/start", 1), headers=headers
            )
            assert answer.status_code == 403, secret
            assert time.monotonic() - started >= REJECT_DELAY * 0.9
    # Never read: 95 MB announced, none sent; a secret outside ASCII.
    for secret in ("wrong", None, "é" * 33):
        assert await raw_post(hook.port, secret=secret, length=HUGE, body=b"{") == 403
    assert hook.accepted == []
    assert handled(hook) == 0
    assert ana.texts == []
    assert refused(hook, "forbidden") == 9
    assert hook.endpoint.rejected == 9


async def test_oversize_body_is_413_and_nothing_is_handled(hook: Hooked) -> None:
    # Announced too large: refused on the headers, at once, whatever follows.
    started = time.monotonic()
    assert await raw_post(hook.port, secret=SECRET, length=MAX_BODY_BYTES + 1) == 413
    assert await raw_post(hook.port, secret=SECRET, length=HUGE) == 413
    assert time.monotonic() - started < REJECT_DELAY
    # Chunked, no Content-Length: counted while it streams, refused once past the limit
    # (the rest is never sent: the server must not wait for it).
    chunk = b" " * (64 << 10)
    chunks = [b"{"] + [chunk] * (MAX_BODY_BYTES // len(chunk)) + [b" "]
    assert await raw_post(hook.port, secret=SECRET, length=None, chunks=chunks) == 413

    # A real client streaming a large chunked body.
    async def body() -> AsyncIterator[bytes]:
        for _ in range(MAX_BODY_BYTES // len(chunk) + 1):
            yield chunk

    async with httpx.AsyncClient(timeout=10) as client:
        try:
            answer = await client.post(
                hook.url, content=body(), headers={**JSON, SECRET_HEADER: SECRET}
            )
            assert answer.status_code == 413
        except httpx.TransportError:  # the server closed before the client sent it all
            pass
    assert hook.accepted == []
    assert handled(hook) == 0
    assert refused(hook, "too_large") == 4


async def test_a_body_just_within_the_limit_is_read(hook: Hooked) -> None:
    padded = b'{"update_id": 3}' + b" " * (MAX_BODY_BYTES - 16)
    async with httpx.AsyncClient(timeout=10) as client:
        answer = await client.post(
            hook.url, content=padded, headers={**JSON, SECRET_HEADER: SECRET}
        )
    assert answer.status_code == 200
    assert hook.accepted == [{"update_id": 3}]


async def test_malformed_json_or_not_an_update_is_400(hook: Hooked) -> None:
    async with httpx.AsyncClient(timeout=10) as client:
        for body in (b"{", b"\xff\xfe", b"[1, 2]", b'{"update_id": "x", "message": 5}'):
            answer = await client.post(
                hook.url, content=body, headers={**JSON, SECRET_HEADER: SECRET}
            )
            assert answer.status_code == 400, body
        answer = await client.post(
            hook.url,
            content=b'{"update_id": 1}',
            headers={"Content-Type": "text/plain", SECRET_HEADER: SECRET},
        )
        assert answer.status_code == 415
    assert handled(hook) == 0
    assert refused(hook, "bad_request") == 5


async def test_group_and_channel_updates_are_acknowledged_and_not_handled(
    hook: Hooked, emu: TelegramEmulator
) -> None:
    ana = emu.user("ana")
    group = emu.group("Street team")
    channel_post = {
        "update_id": 41,
        "channel_post": {
            "message_id": 1,
            "chat": {"id": -1001234567890, "type": "channel", "title": "News"},
            "date": emu.now(),
            "text": "/start",
        },
    }
    in_group = update(emu, ana, "/start", 42)
    in_group["message"]["chat"] = group.as_dict()  # type: ignore[index]
    assert await emu.post_to_webhook(channel_post) == 200
    assert await emu.post_to_webhook(in_group) == 200
    await hook.channel.wait_idle()
    assert handled(hook) == 0  # no handler ran
    assert ana.texts == []
    assert group.texts == [PRIVATE_ONLY]  # told once, politely, as in polling mode


async def test_wrong_secrets_are_slowed_down_and_do_not_hold_up_telegram(
    hook: Hooked, emu: TelegramEmulator
) -> None:
    started = time.monotonic()
    guesses = [raw_post(hook.port, secret=f"guess{n}", length=2, body=b"{}") for n in range(20)]
    probing = asyncio.gather(*guesses)
    await asyncio.sleep(0.1)
    ana = emu.user("ana")
    answered = time.monotonic()
    assert await ana.say("/start")  # Telegram's own delivery, with the secret
    assert time.monotonic() - answered < REJECT_DELAY
    assert await probing == [403] * 20
    assert time.monotonic() - started >= REJECT_DELAY


async def test_rejections_beyond_the_cap_are_refused_at_once(
    bot: Engine, emu: TelegramEmulator
) -> None:
    async with hooked(bot, emu, reject_delay=0.5, max_pending_rejections=2) as hook:
        started = time.monotonic()
        guesses = asyncio.gather(
            *(raw_post(hook.port, secret="guess", length=HUGE) for _ in range(5))
        )
        await asyncio.sleep(0.2)
        good = b'{"update_id": 1}'
        assert await raw_post(hook.port, secret=SECRET, length=len(good), body=good) == 200
        assert time.monotonic() - started < 0.5
        assert sorted(await guesses) == [403, 403, 429, 429, 429]
        assert hook.accepted == [{"update_id": 1}]
        assert hook.endpoint.rejected == 5
        assert hook.endpoint.pending_rejections == 0
        assert refused(hook, "forbidden") == 5


async def test_forged_private_update_from_a_coordinator_is_ignored(
    bot: Engine,
    hook: Hooked,
    emu: TelegramEmulator,
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    async with bot.sessions.begin() as session:
        code = await invites.create(
            session,
            codes_key=bot.deps.keys.codes,
            role=Role.COORDINATOR,
            ttl=bot.deps.config.invite_ttl,
            now=bot.clock(),
        )
    coco = emu.user("coco", language_code="en")
    await coco.command("join", code)
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
    await hook.channel.wait_idle()
    assert (len(eve.texts) - 1, len(coco.texts)) == before
    async with sessions() as session:
        assert await session.scalar(select(func.count()).select_from(Invite)) == 1  # coco's own


async def test_an_update_before_the_bot_is_ready_is_503(bot: Engine, emu: TelegramEmulator) -> None:
    async with hooked(bot, emu) as hook:
        await hook.channel.stop()  # the route stays (the web app stops last): Telegram retries
        async with httpx.AsyncClient(timeout=10) as client:
            answer = await client.post(
                hook.url, content=b'{"update_id": 1}', headers={**JSON, SECRET_HEADER: SECRET}
            )
        assert answer.status_code == 503


def test_secret_matches_only_the_whole_secret() -> None:
    assert secret_matches(SECRET, SECRET)
    for given in (None, "", SECRET[:-1], SECRET + "x", SECRET.upper(), "é" * len(SECRET)):
        assert not secret_matches(given, SECRET)
