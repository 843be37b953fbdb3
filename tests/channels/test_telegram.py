"""The Telegram channel: the real python-telegram-bot application against the emulator.

Each test runs PTB (polling, or webhook mode behind the web app's route) on 127.0.0.1 with the
real engine on a fresh database and a small route table. Different chats are handled
concurrently, each chat's updates in order: ``barrier`` waits until every update sent so far
has been handled completely.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import logging
import math
import os
import pathlib
import socket
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from telegram.ext import AIORateLimiter

from bot.channels.errors import ChannelUnreachable
from bot.channels.telegram import (
    LOCATION_LABEL,
    LOCATION_NOTE,
    PRIVATE_ONLY,
    TelegramChannel,
    WebhookConfig,
    split_text,
    webhook_secret,
)
from bot.channels.telegram_request import AiohttpRequest
from bot.core.context import Context
from bot.core.engine import Engine
from bot.core.messages import Incoming, InputKind, Option, Reply, SendStatus
from bot.core.routes import MenuCommand, Routes
from bot.core.text import clean, parse_command
from bot.domain import Channel
from bot.emulator import FakeUser, SentMessage, TelegramEmulator, utf16_len
from bot.privacy import derive_keys
from bot.services import contacts
from bot.settings import Settings, SettingsError
from bot.web.webhook import SECRET_PATTERN
from tests.support.engine import TEST_KEYS, make_engine
from tests.support.webhook import hooked

LONG_LINE = "Line <b>&amp; more</b> & <i>text</i> — end"  # HTML-looking text
LONG_TEXT = "\n".join(f"{n:03d} {LONG_LINE}" for n in range(115))  # ≈5100 characters


def build_routes(seen: list[Incoming]) -> Routes:
    """Echo, a choice, a location question, a very long answer; every call recorded."""

    async def start(msg: Incoming, ctx: Context) -> None:
        seen.append(msg)
        ctx.reply(f"welcome {msg.args}".strip())

    async def choose(msg: Incoming, ctx: Context) -> None:
        seen.append(msg)
        options = [
            Option("Yes", "pick:yes"),
            Option("No", "pick:no"),
            Option("Maybe", "pick:?"),
            Option("A longer choice on a row of its own", "pick:long", wide=True),
        ]
        ctx.reply("Pick one", options, columns=2)

    async def where(msg: Incoming, ctx: Context) -> None:
        seen.append(msg)
        ctx.goto("where", "asked")  # the labels on screen are kept with the conversation
        ctx.reply("Where are you?", [Option("Skip", "skip:loc")], ask_location=True)

    async def long(msg: Incoming, ctx: Context) -> None:
        seen.append(msg)
        ctx.reply(LONG_TEXT)

    async def option(msg: Incoming, ctx: Context) -> None:
        seen.append(msg)
        ctx.reply(f"picked {msg.option}")

    async def fallback(msg: Incoming, ctx: Context) -> None:
        seen.append(msg)
        if msg.kind is InputKind.LOCATION and msg.location is not None:
            ctx.reply(f"location {msg.location.lat:.3f} {msg.location.lon:.3f}")
        else:
            ctx.reply(f"you said: {msg.text}")

    async def unknown(msg: Incoming, ctx: Context) -> None:
        seen.append(msg)
        ctx.reply("unknown command")

    async def unsupported(msg: Incoming, ctx: Context) -> None:
        seen.append(msg)
        ctx.reply("text only please")

    return Routes(
        commands={"start": start, "choose": choose, "where": where, "long": long},
        options={"pick": option, "skip": option},
        flows={},
        fallback=fallback,
        unknown_command=unknown,
        unsupported=unsupported,
        menu=(MenuCommand("start", "Start over"), MenuCommand("choose", "Pick something")),
    )


@pytest.fixture
def seen() -> list[Incoming]:
    return []


@pytest.fixture
def engine(sessions: async_sessionmaker[AsyncSession], seen: list[Incoming]) -> Engine:
    return make_engine(sessions, build_routes(seen))


@pytest.fixture
async def bot(emu: TelegramEmulator, engine: Engine) -> AsyncIterator[TelegramChannel]:
    channel = TelegramChannel(engine, token=emu.token, base_url=emu.base_url, poll_timeout=2)
    await channel.start()
    try:
        yield channel
    finally:
        await channel.stop()


async def barrier(emu: TelegramEmulator, channel: TelegramChannel) -> None:
    """Return once every update queued so far has been handled completely."""
    # The sentinel's answer proves every earlier update was fetched; then wait for them all.
    await emu.user("sentinel").say("ping")
    await channel.wait_idle()


def texts(messages: list[SentMessage]) -> list[str]:
    return [m.text for m in messages]


def bad_requests(emu: TelegramEmulator) -> list[tuple[str, str]]:
    return [(e.method, e.description) for e in emu.errors if e.code == 400]


def text_update(emu: TelegramEmulator, user: FakeUser, text: str, update_id: int) -> dict[str, Any]:
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


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


# -- start-up ------------------------------------------------------------------------------


async def test_start_publishes_menu_and_learns_username(
    emu: TelegramEmulator, bot: TelegramChannel
) -> None:
    assert bot.running
    assert bot.username == emu.bot_username
    assert bot.deep_link("INV-42_x") == f"https://t.me/{emu.bot_username}?start=INV-42_x"
    with pytest.raises(ValueError, match="start code"):
        bot.deep_link("not allowed!")
    menu = next(iter(emu.commands.values()))
    assert menu == [
        {"command": "start", "description": "Start over"},
        {"command": "choose", "description": "Pick something"},
    ]
    assert [c.method for c in emu.calls[:2]] == ["getMe", "setMyCommands"]


async def test_wrong_token_fails_start_cleanly(emu: TelegramEmulator, engine: Engine) -> None:
    channel = TelegramChannel(engine, token="1:wrong", base_url=emu.base_url)
    with pytest.raises(SettingsError, match="HRBOT_TELEGRAM_TOKEN") as raised:
        await channel.start()
    assert "wrong" not in str(raised.value)  # the token is a secret: never in a message
    assert not channel.running
    assert Channel.TELEGRAM not in engine.senders


@pytest.mark.parametrize("client", ["aiohttp", "httpx"])
async def test_unreachable_server_is_one_line_worth_retrying(engine: Engine, client: str) -> None:
    port = free_port()  # nothing listens there
    channel = TelegramChannel(
        engine,
        token="1234567:secret-token-value",
        base_url=f"http://127.0.0.1:{port}/bot",
        request=AiohttpRequest if client == "aiohttp" else None,
    )
    with pytest.raises(ChannelUnreachable) as raised:
        await channel.start()
    assert str(raised.value) == f"cannot reach Telegram at 127.0.0.1:{port}: connection refused"
    assert raised.value.__cause__ is None  # PTB's exception (it may quote the token) is gone
    assert not channel.running
    assert Channel.TELEGRAM not in engine.senders


async def test_server_error_at_start_is_worth_retrying(
    emu: TelegramEmulator, engine: Engine
) -> None:
    emu.fail_next("getme", status=502, retry_after=None)
    channel = TelegramChannel(engine, token=emu.token, base_url=emu.base_url)
    with pytest.raises(ChannelUnreachable, match=f"at 127.0.0.1:{emu.port}: Bad Gateway"):
        await channel.start()
    assert not channel.running
    async with channel:  # the next attempt goes through
        assert channel.running


async def test_a_server_that_is_not_the_bot_api_names_the_url(engine: Engine) -> None:
    """A proxy, a captive portal or a wrong HRBOT_TELEGRAM_API_URL answering 404 in HTML is
    not "the token was rejected"."""

    async def not_found(_request: web.Request) -> web.Response:
        return web.Response(status=404, text="<html>Not here</html>", content_type="text/html")

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", not_found)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    try:
        channel = TelegramChannel(engine, token="1:abc", base_url=f"http://127.0.0.1:{port}/x")
        with pytest.raises(SettingsError) as raised:
            await channel.start()
    finally:
        await runner.cleanup()
    assert str(raised.value) == (
        f"invalid setting HRBOT_TELEGRAM_API_URL: 127.0.0.1:{port} does not answer as the Bot "
        "API does (HTTP 404)"
    )


async def test_lost_connection_while_polling_is_one_line(
    engine: Engine, caplog: pytest.LogCaptureFixture
) -> None:
    """Telegram out of reach after start: one warning while python-telegram-bot retries (not
    its traceback per attempt), and no traceback at stop either."""
    emu = TelegramEmulator()
    await emu.start()
    channel = TelegramChannel(engine, token=emu.token, base_url=emu.base_url, poll_timeout=1)
    try:
        await channel.start()
        await emu.stop()
        for _ in range(500):  # the next poll fails at once; bounded for a broken build
            if "telegram polling failed" in caplog.text:
                break
            await asyncio.sleep(0.01)
    finally:
        await channel.stop()
        await emu.stop()
    polling = [r for r in caplog.records if "telegram polling failed" in r.getMessage()]
    assert [(r.levelname, r.getMessage()) for r in polling] == [
        ("WARNING", "telegram polling failed: connection refused; retrying")
    ]
    assert [r for r in caplog.records if r.exc_info or r.levelno >= logging.ERROR] == []
    assert emu.token not in caplog.text


async def test_two_pollers_of_one_bot_are_named_for_what_they_are(
    emu: TelegramEmulator, engine: Engine, caplog: pytest.LogCaptureFixture
) -> None:
    """A second instance polling the same bot: Telegram answers one of the two long polls with
    409 Conflict, again and again; the log says what that means, not "polling failed"."""
    first = TelegramChannel(engine, token=emu.token, base_url=emu.base_url, poll_timeout=1)
    second = TelegramChannel(engine, token=emu.token, base_url=emu.base_url, poll_timeout=1)
    async with first, second:
        for _ in range(500):  # bounded for a broken build
            if "409 Conflict" in caplog.text:
                break
            await asyncio.sleep(0.01)
    conflicts = [r for r in caplog.records if "another process polls" in r.getMessage()]
    assert conflicts
    assert conflicts[0].levelname == "WARNING"
    assert "polling failed" not in caplog.text


async def test_polling_says_it_takes_a_registered_webhook_away(
    emu: TelegramEmulator, engine: Engine, caplog: pytest.LogCaptureFixture
) -> None:
    """An instance left in polling mode beside instances in webhook mode deletes their
    webhook at start: it says so."""
    async with aiohttp.ClientSession() as http:
        url = emu.api_url("setWebhook")
        async with http.post(url, data={"url": "https://bot.example.org/hook"}) as answer:
            assert answer.status == 200
    async with TelegramChannel(engine, token=emu.token, base_url=emu.base_url, poll_timeout=1):
        assert emu.webhook is None
    assert "a webhook is registered for this bot and polling removes it" in caplog.text
    caplog.clear()
    async with TelegramChannel(engine, token=emu.token, base_url=emu.base_url, poll_timeout=1):
        pass
    assert "webhook" not in caplog.text  # none registered: nothing to say


async def test_stop_leaves_no_long_poll_behind(
    emu: TelegramEmulator, engine: Engine, caplog: pytest.LogCaptureFixture
) -> None:
    """Stopped after handling an update, the channel ends its long poll for good before the
    last getUpdates (the confirm): Telegram never sees two at once, which it would answer with
    409 Conflict, and nothing says "polling failed"."""
    channel = TelegramChannel(engine, token=emu.token, base_url=emu.base_url, poll_timeout=5)
    await channel.start()
    try:
        assert texts(await emu.user("ana").say("/start")) == ["welcome"]
        # Confirmed by the next getUpdates, which is now waiting at the server.
        await emu.wait_until_consumed()
    finally:
        await channel.stop()
    polls = [(c.params.get("timeout"), c.status) for c in emu.calls if c.method == "getUpdates"]
    assert polls[-1] == ("0", 200)  # python-telegram-bot's confirm at stop
    assert emu.errors == []  # a poll cut off by a newer one is recorded unless its client left
    assert "polling failed" not in caplog.text
    assert "Conflict" not in caplog.text


async def test_stop_does_not_wait_out_a_poll_back_off(
    emu: TelegramEmulator, engine: Engine, caplog: pytest.LogCaptureFixture
) -> None:
    """python-telegram-bot waits between failed getUpdates calls (up to 30 s, or a 429's
    retry_after) with a sleep its stop does not interrupt; the channel's stop ends that wait,
    and still confirms the updates handled."""
    channel = TelegramChannel(engine, token=emu.token, base_url=emu.base_url, poll_timeout=1)
    await channel.start()
    stopping: asyncio.Task[None] | None = None
    try:
        assert texts(await emu.user("ana").say("/start")) == ["welcome"]
        emu.fail_next("getUpdates", retry_after=3600)  # PTB waits an hour before polling again
        with caplog.at_level(logging.DEBUG, logger="telegram.ext"):
            # PTB logs this just before its wait, with nothing to await in between.
            for _ in range(500):  # bounded for a broken build
                if "Failed run number" in caplog.text:
                    break
                await asyncio.sleep(0.01)
            assert "Failed run number" in caplog.text
        stopping = asyncio.create_task(channel.stop())
        # Bounded for a broken build, which would wait the hour. (Not asyncio.timeout: PTB's
        # stop swallows a cancellation, and cutting its wait short is what is under test.)
        done, _ = await asyncio.wait([stopping], timeout=30)
        assert done, "stop waited for the back-off"
    finally:
        if stopping is not None:
            stopping.cancel()
        await channel.stop()
    assert not channel.running
    polls = [(c.params.get("timeout"), c.status) for c in emu.calls if c.method == "getUpdates"]
    assert polls[-2:] == [("1", 429), ("0", 200)]  # the failed poll, then the confirm at stop
    assert [r for r in caplog.records if r.levelno >= logging.WARNING] == []


def test_from_settings(
    engine: Engine, monkeypatch: pytest.MonkeyPatch, tmp_path: pathlib.Path
) -> None:
    monkeypatch.chdir(tmp_path)  # no developer .env
    for name in [n for n in os.environ if n.startswith("HRBOT_")]:
        monkeypatch.delenv(name)
    plain = Settings(telegram_token="123:abc")
    channel = TelegramChannel.from_settings(engine, plain)
    assert channel.webhook is None
    assert channel.base_url == "https://api.telegram.org/bot"
    assert channel.max_rate == 30.0
    assert channel.request_class is AiohttpRequest
    assert (
        TelegramChannel.from_settings(
            engine, Settings(telegram_token="123:abc", telegram_http_client="httpx")
        ).request_class
        is None
    )  # PTB's own httpx client
    hooked = Settings(
        telegram_token="123:abc",
        telegram_api_url="http://127.0.0.1:8081/bot",
        webhook_url="https://bot.example.org/tg/hook",
        webhook_secret="s3cret" * 6,
        telegram_max_rate=12.5,
    )
    channel = TelegramChannel.from_settings(engine, hooked)
    assert channel.base_url == "http://127.0.0.1:8081/bot"
    assert channel.max_rate == 12.5
    # One of two instances: half of the bot's rate.
    two = hooked.model_copy(
        update={"instances": 2, "database_url": "postgresql+asyncpg://bot@db/hrbot"}
    )
    assert TelegramChannel.from_settings(engine, two).max_rate == 6.25
    assert channel.webhook == WebhookConfig(
        url="https://bot.example.org/tg/hook", secret="s3cret" * 6
    )
    assert channel.webhook.path == "/tg/hook"
    assert channel.receiver is not None  # what the web app serves
    assert (channel.receiver.path, channel.receiver.secret) == ("/tg/hook", "s3cret" * 6)
    with pytest.raises(SettingsError, match="HRBOT_TELEGRAM_TOKEN"):
        TelegramChannel.from_settings(engine, Settings())


def test_an_unset_webhook_secret_is_the_same_for_every_instance_with_the_key(
    engine: Engine, monkeypatch: pytest.MonkeyPatch, tmp_path: pathlib.Path
) -> None:
    """Two instances behind one URL: each registers its secret with Telegram, which keeps the
    last one, so a secret of each instance's own would lock the others out."""
    monkeypatch.chdir(tmp_path)
    for name in [n for n in os.environ if n.startswith("HRBOT_")]:
        monkeypatch.delenv(name)
    settings = Settings(telegram_token="123:abc", webhook_url="https://bot.example.org/hook")
    secrets_seen = {TelegramChannel.from_settings(engine, settings)._secret for _ in range(2)}
    assert secrets_seen == {webhook_secret(engine.deps.keys.pseudonym, "123:abc")}
    [secret] = secrets_seen
    assert secret is not None
    assert SECRET_PATTERN.fullmatch(secret)
    assert len(secret) == 64
    other_key = derive_keys("another-master-secret-of-at-least-32-chars").pseudonym
    assert webhook_secret(other_key, "123:abc") != secret
    assert webhook_secret(engine.deps.keys.pseudonym, "123:other") != secret


@pytest.mark.parametrize("rate", [12.5, 0.0])
async def test_max_rate_is_the_rate_limiters_overall_rate(
    emu: TelegramEmulator, engine: Engine, rate: float
) -> None:
    channel = TelegramChannel(engine, token=emu.token, base_url=emu.base_url, max_rate=rate)
    async with channel:
        assert channel._app is not None
        limiter = channel._app.bot.rate_limiter
        assert isinstance(limiter, AIORateLimiter)
        # PTB keeps the overall limit in an aiolimiter.AsyncLimiter, or none when it is 0.
        overall = limiter._base_limiter
        if rate:
            assert overall is not None
            assert (overall.max_rate, overall.time_period) == (rate, 1)
        else:
            assert overall is None


@pytest.mark.parametrize("rate", [-1.0, math.inf, math.nan])
def test_max_rate_must_be_a_rate(engine: Engine, rate: float) -> None:
    with pytest.raises(ValueError, match="max_rate"):
        TelegramChannel(engine, token="1:a", max_rate=rate)


# -- incoming ------------------------------------------------------------------------------


@pytest.mark.usefixtures("bot")
async def test_command_and_text_round_trip(emu: TelegramEmulator, seen: list[Incoming]) -> None:
    ana = emu.user("ana", language_code="pt-BR")
    assert texts(await ana.say("/start ABC")) == ["welcome ABC"]
    assert texts(await ana.command("START")) == ["welcome"]
    assert texts(await ana.say("hello there")) == ["you said: hello there"]
    assert texts(await ana.say("/nope")) == ["unknown command"]

    first = seen[0]
    assert (first.kind, first.command, first.text) == (InputKind.COMMAND, "start", "ABC")
    assert first.channel is Channel.TELEGRAM
    assert first.sender_id == first.address == str(ana.id)
    assert first.locale_hint == "pt-BR"
    assert first.update_key is not None
    assert first.update_key.startswith("tg:")
    assert len({m.update_key for m in seen}) == len(seen)
    assert seen[2].kind is InputKind.TEXT
    assert bad_requests(emu) == []


@pytest.mark.usefixtures("bot")
async def test_button_press_becomes_option_and_is_answered(
    emu: TelegramEmulator, seen: list[Incoming]
) -> None:
    ana = emu.user("ana")
    [menu] = await ana.command("choose")
    assert menu.keyboard_kind == "inline"
    assert menu.rows == [["Yes", "No"], ["Maybe"], ["A longer choice on a row of its own"]]
    assert texts(await ana.tap("No")) == ["picked pick:no"]
    assert seen[-1].kind is InputKind.OPTION
    assert seen[-1].option == "pick:no"
    assert ana.last_callback_id is not None
    assert emu.callbacks[ana.last_callback_id].answered
    # A forged payload still reaches the engine as an option (the routes decide).
    assert texts(await ana.press("pick:forged")) == ["picked pick:forged"]


@pytest.mark.usefixtures("bot")
async def test_location_question_and_answers(emu: TelegramEmulator, seen: list[Incoming]) -> None:
    ana = emu.user("ana")
    [question] = await ana.command("where")
    assert question.keyboard_kind == "reply"
    assert question.asks_location
    # The options first, sharing a precise location second, with what sharing reveals.
    assert question.rows == [["Skip"], [LOCATION_LABEL]]
    assert question.text == f"Where are you?\n\n{LOCATION_NOTE}"
    assert texts(await ana.share_location(51.5074, -0.1278)) == ["location 51.507 -0.128"]
    assert seen[-1].kind is InputKind.LOCATION

    await ana.command("where")
    # A reply-keyboard button sends its label as text; the engine maps it back.
    assert texts(await ana.tap("Skip")) == ["picked skip:loc"]
    assert (seen[-1].kind, seen[-1].option) == (InputKind.OPTION, "skip:loc")

    await ana.command("where")
    [answer] = await ana.say("Skip the question, I'll type")
    assert answer.keyboard_kind == "remove"  # the stale keyboard is taken down
    [later] = await ana.say("Skip")
    assert later.text == "you said: Skip"  # mapping gone once the keyboard is gone


@pytest.mark.usefixtures("bot")
async def test_messages_go_out_as_the_bot_api_expects(emu: TelegramEmulator) -> None:
    """The channel writes sendMessage's fields itself (not through PTB's objects): check the
    wire form of each kind of reply."""
    ana = emu.user("ana")
    await ana.say("see https://example.org")
    await ana.command("choose")
    await ana.command("where")
    await ana.say("typed instead")
    sends = [c.params for c in emu.calls if c.method == "sendMessage"]
    assert len(sends) == 4
    assert all(p["parse_mode"] == "HTML" for p in sends)
    # Telegram would otherwise fetch a link in a reply to draw its preview.
    assert all(json.loads(p["link_preview_options"]) == {"is_disabled": True} for p in sends)
    plain, choice, question, typed = (
        json.loads(p["reply_markup"]) if "reply_markup" in p else None for p in sends
    )
    assert plain is None
    assert choice == {
        "inline_keyboard": [
            [
                {"text": "Yes", "callback_data": "pick:yes"},
                {"text": "No", "callback_data": "pick:no"},
            ],
            [{"text": "Maybe", "callback_data": "pick:?"}],
            [{"text": "A longer choice on a row of its own", "callback_data": "pick:long"}],
        ]
    }
    assert question == {
        "keyboard": [[{"text": "Skip"}], [{"text": LOCATION_LABEL, "request_location": True}]],
        "one_time_keyboard": True,
        "resize_keyboard": True,
    }
    assert typed == {"remove_keyboard": True}
    assert bad_requests(emu) == []


@pytest.mark.usefixtures("bot")
@pytest.mark.parametrize(
    ("lat", "lon"), [(float("nan"), 0.0), (0.0, float("inf")), (91.0, 0.0), (0.0, -180.5)]
)
async def test_impossible_locations_are_unsupported(
    emu: TelegramEmulator, seen: list[Incoming], lat: float, lon: float
) -> None:
    ana = emu.user("ana")
    assert texts(await ana.share_location(lat, lon)) == ["text only please"]
    assert seen[-1].kind is InputKind.UNSUPPORTED
    assert seen[-1].location is None


@pytest.mark.usefixtures("bot")
async def test_sticker_photo_voice_are_unsupported(
    emu: TelegramEmulator, seen: list[Incoming]
) -> None:
    ana = emu.user("ana")
    assert texts(await ana.send_sticker()) == ["text only please"]
    assert texts(await ana.send_photo(caption="my address is 1 Main St")) == ["text only please"]
    assert texts(await ana.send_voice()) == ["text only please"]
    assert {m.kind for m in seen} == {InputKind.UNSUPPORTED}
    assert all(m.text == "" for m in seen)  # a caption is never read


@pytest.mark.usefixtures("bot")
async def test_markup_and_invisible_characters_are_escaped_and_cleaned(
    emu: TelegramEmulator, seen: list[Incoming]
) -> None:
    ana = emu.user("ana")
    hostile = '<b>bold</b> & <a href="x">&amp;</a>\u202eevil\u200b\x00 \u2066ok\u2069 \t end'
    [reply] = await ana.say(hostile)
    assert reply.text == 'you said: <b>bold</b> & <a href="x">&amp;</a>evil ok end'
    assert reply.entities == []  # nothing the person typed became formatting
    assert "&lt;b&gt;" in reply.source
    assert "&amp;amp;" in reply.source
    assert seen[-1].text == '<b>bold</b> & <a href="x">&amp;</a>evil ok end'
    assert bad_requests(emu) == []


@pytest.mark.usefixtures("bot")
async def test_long_reply_is_split_at_line_breaks(emu: TelegramEmulator) -> None:
    ana = emu.user("ana")
    parts = await ana.command("long", expect=2)
    assert len(parts) == 2
    assert all(utf16_len(p.text) <= 4096 for p in parts)
    assert "\n".join(p.text for p in parts) == LONG_TEXT
    assert all(p.parse_mode == "HTML" and "<b>" not in p.source for p in parts)
    assert bad_requests(emu) == []


# -- refused -------------------------------------------------------------------------------


async def test_group_chats_and_bots_are_refused(
    emu: TelegramEmulator, bot: TelegramChannel, seen: list[Incoming]
) -> None:
    ana = emu.user("ana")
    group = emu.group("Street team")
    await ana.say("hello everyone", chat=group, expect=1)
    assert group.texts == [PRIVATE_ONLY]
    await ana.command("start", chat=group, expect=0)
    await emu.user("bob").send_sticker(chat=emu.group("Other", supergroup=False), expect=1)
    robot = emu.user("robot", is_bot=True)
    await robot.say("/start", expect=0)
    await barrier(emu, bot)

    assert group.texts == [PRIVATE_ONLY]  # told once per chat
    assert robot.transcript == []
    assert [m.sender_id for m in seen] == [str(emu.user("sentinel").id)]


# -- delivery and failures -----------------------------------------------------------------


async def test_duplicate_update_is_handled_once(
    emu: TelegramEmulator, bot: TelegramChannel, seen: list[Incoming]
) -> None:
    ana = emu.user("ana")
    await ana.say("hi")
    update = text_update(emu, ana, "twice?", update_id=999_999_999)
    emu.push_raw(update)
    emu.push_raw(update)  # in the same getUpdates batch
    await barrier(emu, bot)
    assert [m.text for m in seen].count("twice?") == 1
    assert ana.texts.count("you said: twice?") == 1


async def test_blocked_person_is_marked_unreachable(
    emu: TelegramEmulator, bot: TelegramChannel, sessions: async_sessionmaker[AsyncSession]
) -> None:
    ana = emu.user("ana")
    await ana.say("hi")
    ana.block()
    await ana.say("are you there?", expect=0)
    await barrier(emu, bot)
    assert ("sendMessage", 403) in [(e.method, e.code) for e in emu.errors]
    async with sessions() as session:
        contact = await contacts.find(
            session,
            pseudonym_key=TEST_KEYS.pseudonym,
            channel=Channel.TELEGRAM,
            platform_id=str(ana.id),
        )
    assert contact is not None
    assert not contact.reachable


@pytest.mark.usefixtures("bot")
async def test_rate_limit_is_retried_and_the_message_arrives(emu: TelegramEmulator) -> None:
    ana = emu.user("ana")
    emu.fail_next("sendMessage", status=429, retry_after=1)
    assert texts(await ana.say("hi", within=5)) == ["you said: hi"]
    assert [(e.code, e.injected) for e in emu.errors] == [(429, True)]
    assert [c.status for c in emu.calls if c.method == "sendMessage"] == [429, 200]


async def test_send_maps_errors_to_statuses(
    emu: TelegramEmulator, bot: TelegramChannel, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="bot")
    ana = emu.user("ana")
    await ana.say("hi")
    assert await bot.send(str(ana.id), Reply("direct")) is SendStatus.SENT
    assert await bot.send("123456789", Reply("nobody")) is SendStatus.FAILED  # chat not found
    assert await bot.send("not-a-chat", Reply("x")) is SendStatus.FAILED
    assert await bot.send(str(ana.id), Reply(" \n ")) is SendStatus.FAILED
    emu.fail_next("sendMessage", status=502)
    assert await bot.send(str(ana.id), Reply("later")) is SendStatus.RETRY
    stranger = emu.user("stranger")  # never wrote to the bot
    assert await bot.send(str(stranger.id), Reply("hello?")) is SendStatus.UNREACHABLE
    ana.block()
    assert await bot.send(str(ana.id), Reply("x")) is SendStatus.UNREACHABLE
    await bot.stop()
    assert await bot.send(str(ana.id), Reply("after stop")) is SendStatus.RETRY
    logged = "\n".join(r.getMessage() for r in caplog.records if r.name.startswith("bot."))
    assert "BadRequest" in logged  # the error class, and nothing about the person
    for leak in (str(ana.id), ana.username, "nobody", "123456789", "chat not found"):
        assert leak not in logged


async def test_failure_while_handling_is_logged_without_identifiers(
    emu: TelegramEmulator,
    bot: TelegramChannel,
    engine: Engine,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    ana = emu.user("ana")
    real_handle = engine.handle
    calls = itertools.count()

    async def flaky(msg: Incoming) -> None:
        if next(calls) == 0:
            raise RuntimeError("boom")
        await real_handle(msg)

    monkeypatch.setattr(engine, "handle", flaky)
    with caplog.at_level(logging.DEBUG, logger="bot"):
        await ana.say("secret words", expect=0)
        assert texts(await ana.say("still there?")) == ["you said: still there?"]
    ours = [r for r in caplog.records if r.name.startswith("bot.")]
    assert [r.getMessage() for r in ours] == ["telegram update could not be handled"]
    for record in ours:
        for leak in (str(ana.id), ana.username, "secret words"):
            assert leak not in record.getMessage()
    assert bot.running


async def test_stop_lets_the_update_in_hand_finish(
    emu: TelegramEmulator, bot: TelegramChannel, engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    ana = emu.user("ana")
    real_handle = engine.handle
    busy = asyncio.Event()

    async def slow(msg: Incoming) -> None:
        busy.set()
        await asyncio.sleep(0.3)
        await real_handle(msg)

    monkeypatch.setattr(engine, "handle", slow)
    await ana.say("last words", expect=0)
    await asyncio.wait_for(busy.wait(), 5)
    await bot.stop()
    assert ana.texts == ["you said: last words"]
    assert not bot.running


# -- webhook mode --------------------------------------------------------------------------


async def test_webhook_mode(emu: TelegramEmulator, engine: Engine, seen: list[Incoming]) -> None:
    async with hooked(engine, emu, path="/tg/hook", secret="s3cret_Token-1") as running:
        channel = running.channel
        assert emu.webhook is not None
        assert (emu.webhook.url, emu.webhook.secret) == (running.url, "s3cret_Token-1")
        assert emu.webhook.allowed_updates == ("message", "callback_query")
        ana = emu.user("ana")
        assert texts(await ana.say("/start")) == ["welcome"]
        await ana.command("choose")
        assert texts(await ana.tap("Yes")) == ["picked pick:yes"]

        update = text_update(emu, ana, "via hook", update_id=123_456_789)
        assert await emu.post_to_webhook(update, secret="wrong") == 403
        assert await emu.post_to_webhook(update, secret=None) == 403
        assert await emu.post_to_webhook(update) == 200
        assert await emu.post_to_webhook(update) == 200  # Telegram re-delivers
        await barrier(emu, channel)
        assert [m.text for m in seen].count("via hook") == 1
        assert ana.texts.count("you said: via hook") == 1


async def test_unparseable_update_is_logged_without_its_payload(
    emu: TelegramEmulator, engine: Engine, caplog: pytest.LogCaptureFixture
) -> None:
    async with hooked(engine, emu, secret="s"):
        broken = {"update_id": 5, "message": {"chat": "meet me at 12 Dock Road", "date": 0}}
        with caplog.at_level(logging.DEBUG, logger="telegram.ext.Updater"):
            assert await emu.post_to_webhook(broken) == 400
        ours = [r for r in caplog.records if r.levelno >= logging.WARNING]
        assert ours, "PTB should report the unparseable update"
        for record in ours:
            assert record.getMessage() == (
                "an update from Telegram could not be parsed and was dropped"
            )
            assert record.exc_info is None


async def test_webhook_secret_is_generated_when_unset(
    emu: TelegramEmulator, engine: Engine
) -> None:
    async with hooked(engine, emu, secret=None):
        assert emu.webhook is not None
        assert emu.webhook.secret
        assert len(emu.webhook.secret) >= 32
        assert await emu.post_to_webhook({"update_id": 1}, secret=None) == 403


# -- property: hostile text ----------------------------------------------------------------

HOSTILE = st.text(
    alphabet=st.one_of(
        st.characters(codec="utf-8"),
        st.sampled_from("<>&\"';#/@\n\t\x00\u202e\u202d\u200b\u200f\u2066\u2069\ufeff\U0001f489"),
    ),
    min_size=1,
    max_size=300,
).filter(lambda t: t.strip() != "")


@pytest.mark.usefixtures("bot")
async def test_any_text_gets_an_accepted_reply(emu: TelegramEmulator) -> None:
    loop = asyncio.get_running_loop()
    people = itertools.count()

    async def exchange(text: str) -> list[SentMessage]:
        # A new person each time: the engine's flood control is per person.
        return await emu.user(f"p{next(people)}").say(text, within=5)

    @settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(text=HOSTILE, as_command=st.booleans())
    def check(text: str, as_command: bool) -> None:
        sent = f"/start {text}" if as_command else text
        replies = asyncio.run_coroutine_threadsafe(exchange(sent), loop).result(timeout=10)
        assert len(replies) == 1
        command = parse_command(sent)
        if command is None:
            expected = f"you said: {clean(sent)}"
        elif command[0] == "start":
            expected = f"welcome {command[1]}"
        else:
            expected = "unknown command"
        assert replies[0].text == expected.strip()
        assert replies[0].entities == []

    await asyncio.to_thread(check)
    assert next(people) >= 30  # the examples really ran
    assert bad_requests(emu) == []
    assert emu.errors == []


def test_split_text() -> None:
    assert split_text("short") == ["short"]
    assert split_text("  \n ") == []
    assert split_text("aaa\nbbb ccc", limit=7) == ["aaa", "bbb ccc"]
    assert split_text("aaaa bbbb", limit=6) == ["aaaa", "bbbb"]
    assert split_text("abcdefgh", limit=3) == ["abc", "def", "gh"]
    # Emoji outside the BMP count twice, as in Telegram's UTF-16 length.
    assert split_text("💉💉💉", limit=4) == ["💉💉", "💉"]
    assert split_text(" 💉💉 ", limit=4) == ["💉💉"]  # just fits: two units each
    parts = split_text(LONG_TEXT)
    assert all(utf16_len(p) <= 4096 for p in parts)
    assert "\n".join(parts) == LONG_TEXT
