"""The Signal channel: the real signalbot client against the signal-cli-rest-api emulator.

Each test runs signalbot inside the test's event loop with the real engine on a fresh database
and a small route table. One person's messages are handled one at a time and in order, so once
a later message is answered every earlier one from that person has been handled completely.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import logging
import os
import pathlib
import socket
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import inspect, select, text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.channels.errors import ChannelUnreachable
from bot.channels.sender_turns import DatabaseTurns
from bot.channels.signal import (
    LOCATION_HINT,
    MAX_PART_BYTES,
    NUMBER_HINT,
    SIGNALBOT_LOGGER,
    RateLimitChallenge,
    Reconnect,
    SignalChannel,
    SignalPacing,
    SignalUnavailable,
    _Pacer,
    _tame_signalbot_log,
    maps_location,
    option_keys,
    render,
    split_message,
)
from bot.core.context import Context
from bot.core.engine import Engine
from bot.core.messages import Incoming, InputKind, Location, Option, Reply, SendResult, SendStatus
from bot.core.ratelimit import RateLimiter
from bot.core.routes import Routes
from bot.db.base import Base
from bot.db.models import Contact, ShownMenu
from bot.domain import Channel
from bot.privacy import RedactionFilter
from bot.services.notices import run_notices_due
from bot.settings import Settings, SettingsError
from bot.signal_emulator import (
    FaultKind,
    MapStyle,
    SentMessage,
    SignalEmulator,
    Unregistered,
    maps_link,
)
from tests.support.engine import make_engine

LONG_LINE = "Line with *stars* and _underscores_ — кириллица too"
LONG_TEXT = "\n".join(f"{n:03d} {LONG_LINE}" for n in range(120))  # ≈8600 UTF-8 bytes
FAST = SignalPacing(recipient_burst=50, recipient_interval=0.001, global_interval=0.0)
QUICK_RECONNECT = Reconnect(initial=0.02, maximum=0.2)
CHOICES = (Option("Yes", "pick:yes"), Option("No", "pick:no"), Option("Maybe later", "pick:?"))


def build_routes(seen: list[Incoming]) -> Routes:
    """Echo, a choice, a location question, a very long answer; every call recorded."""

    async def start(msg: Incoming, ctx: Context) -> None:
        seen.append(msg)
        ctx.reply(f"welcome {msg.args}".strip())

    async def choose(msg: Incoming, ctx: Context) -> None:
        seen.append(msg)
        ctx.reply("Pick one", CHOICES)

    async def where(msg: Incoming, ctx: Context) -> None:
        seen.append(msg)
        ctx.reply("Where are you?", [Option("Skip", "skip:loc")], ask_location=True)

    async def count(msg: Incoming, ctx: Context) -> None:
        seen.append(msg)
        ctx.reply("How many?")  # expects a typed number: no menu may swallow it

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
        commands={"start": start, "choose": choose, "where": where, "count": count, "long": long},
        options={"pick": option, "skip": option},
        flows={},
        fallback=fallback,
        unknown_command=unknown,
        unsupported=unsupported,
    )


@pytest.fixture
async def emu() -> AsyncIterator[SignalEmulator]:
    emulator = SignalEmulator(seed=7)
    await emulator.start()
    try:
        yield emulator
    finally:
        await emulator.stop()


@pytest.fixture
def seen() -> list[Incoming]:
    return []


@pytest.fixture
def engine(sessions: async_sessionmaker[AsyncSession], seen: list[Incoming]) -> Engine:
    built = make_engine(sessions, build_routes(seen))
    built.limiter = RateLimiter(burst=100)  # transcripts here are faster than any person
    return built


@pytest.fixture
def challenges() -> list[RateLimitChallenge]:
    return []


@pytest.fixture
async def bot(
    emu: SignalEmulator, engine: Engine, challenges: list[RateLimitChallenge]
) -> AsyncIterator[SignalChannel]:
    async def told(challenge: RateLimitChallenge) -> None:
        challenges.append(challenge)

    channel = SignalChannel(
        engine,
        number=emu.number,
        service=emu.service,
        pacing=FAST,
        reconnect=QUICK_RECONNECT,
        on_rate_limit=told,
        ready_timeout=5,
    )
    await channel.start()
    try:
        await emu.wait_for_receivers()
        yield channel
    finally:
        await channel.stop()


def texts(messages: list[SentMessage]) -> list[str]:
    return [m.text for m in messages]


async def eventually(check: Callable[[], Awaitable[bool]], within: float = 5.0) -> None:
    """Poll ``check`` until it holds (for effects the emulator cannot see, like rows)."""
    for _ in range(int(within / 0.02)):
        if await check():
            return
        await asyncio.sleep(0.02)
    raise AssertionError("condition not reached in time")


async def contact_reachable(sessions: async_sessionmaker[AsyncSession]) -> list[bool]:
    async with sessions() as session:
        return list((await session.scalars(select(Contact.reachable))).all())


# -- start-up ------------------------------------------------------------------------------


async def test_start_registers_sender_and_connects_once(
    emu: SignalEmulator, bot: SignalChannel, engine: Engine
) -> None:
    assert bot.running
    assert bot.receiving
    assert engine.senders[Channel.SIGNAL] is bot
    assert bot.username is None
    assert emu.receivers == 1
    # signalbot's own stderr handler is gone: its records go through the app's handlers.
    assert logging.getLogger(SIGNALBOT_LOGGER).handlers == []
    paths = [c.path for c in emu.calls]
    assert "/v1/health" in paths
    assert "/v1/about" in paths
    assert f"/v1/groups/{emu.number}" in paths
    assert emu.problems == []


async def test_wrong_mode_or_no_service_fails_start_cleanly(engine: Engine) -> None:
    async with SignalEmulator(mode="normal") as wrong:
        channel = SignalChannel(engine, number=wrong.number, service=wrong.service, ready_timeout=3)
        with pytest.raises(SignalUnavailable, match="json-rpc"):
            await channel.start()
        assert not channel.running
        assert not channel.receiving
        assert Channel.SIGNAL not in engine.senders
        service = wrong.service
    # Nothing listens there any more: start gives up after ready_timeout.
    channel = SignalChannel(engine, number="+16045550100", service=service, ready_timeout=0.3)
    with pytest.raises(SignalUnavailable, match="HRBOT_SIGNAL_SERVICE"):
        await channel.start()
    assert not channel.running


async def test_unreachable_service_is_one_line_worth_retrying(
    engine: Engine, caplog: pytest.LogCaptureFixture
) -> None:
    """Nothing listens (signal-cli-rest-api still starting): start fails at once, naming the
    service and the reason, instead of signalbot logging an error every second until
    ready_timeout; the runner retries it with back-off."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    channel = SignalChannel(
        engine, number="+16045550100", service=f"127.0.0.1:{port}", ready_timeout=60
    )
    with pytest.raises(ChannelUnreachable) as raised:
        await channel.start()
    assert str(raised.value) == (
        f"cannot reach signal-cli-rest-api at 127.0.0.1:{port} (HRBOT_SIGNAL_SERVICE): "
        "connection refused"
    )
    assert isinstance(raised.value, SignalUnavailable)
    assert not channel.running
    assert Channel.SIGNAL not in engine.senders
    assert [r for r in caplog.records if r.name.startswith(SIGNALBOT_LOGGER)] == []


async def test_probe_says_whether_the_service_answers(engine: Engine) -> None:
    channel = SignalChannel(engine, number="+16045550100", service="127.0.0.1:1")
    assert not await channel.probe()  # not started
    async with SignalEmulator() as emu:
        channel = SignalChannel(engine, number=emu.number, service=emu.service)
        try:
            await channel.start()
            assert await channel.probe()
            await emu.stop()
            assert not await channel.probe()
        finally:
            await channel.stop()
    assert not await channel.probe()


async def test_stop_never_stops_the_event_loop(emu: SignalEmulator, engine: Engine) -> None:
    channel = SignalChannel(engine, number=emu.number, service=emu.service, ready_timeout=5)
    try:
        for _ in range(2):  # start again after a stop: nothing left over
            await channel.start()
            await emu.wait_for_receivers()
            await channel.stop()
            await channel.stop()  # idempotent
            assert asyncio.get_running_loop().is_running()
            await emu.wait_for(lambda: emu.receivers == 0)
    finally:
        await channel.stop()
    assert not channel.running
    assert await channel.send("+16045550101", Reply("after stop")) is SendStatus.RETRY


async def test_two_receivers_answer_each_message_once(
    emu: SignalEmulator, engine: Engine, sessions: async_sessionmaker[AsyncSession], backend: str
) -> None:
    """Two channels on one number (two instances, in one process here) both receive every
    message; each message is answered once, and each person's answers come in order.
    PostgreSQL only: on SQLite one instance runs (bot.instance)."""
    if backend != "postgresql":
        pytest.skip("one instance per SQLite file")
    other = make_engine(sessions, engine.routes)
    other.limiter = RateLimiter(burst=100)
    turns = DatabaseTurns(sessions)
    first = SignalChannel(engine, number=emu.number, service=emu.service, pacing=FAST, turns=turns)
    second = SignalChannel(other, number=emu.number, service=emu.service, pacing=FAST, turns=turns)
    people = [emu.person(name) for name in ("ana", "bob", "cy")]
    async with first, second:
        await emu.wait_for_receivers(2)
        for n in range(5):
            for person in people:
                assert await emu.push(person.frame(f"m{n}")) == 2
        await emu.wait_for(lambda: all(len(p.inbox) >= 5 for p in people))
        await asyncio.sleep(0.2)  # a duplicate, were there one, would have arrived by now
    for person in people:
        assert person.texts == [f"you said: m{n}" for n in range(5)]


async def test_with_two_receivers_a_digit_answers_the_list_shown_last(
    emu: SignalEmulator, engine: Engine, sessions: async_sessionmaker[AsyncSession], backend: str
) -> None:
    """The list a digit answers is a row: whichever instance takes the digit's turn reads it
    as the option it picks from the list shown last, by either instance, in a turn or not
    (an offer sent by a tick), and a plain question retires it for both."""
    if backend != "postgresql":
        pytest.skip("one instance per SQLite file")
    other = make_engine(sessions, engine.routes)
    turns = DatabaseTurns(sessions)
    first = SignalChannel(engine, number=emu.number, service=emu.service, pacing=FAST, turns=turns)
    second = SignalChannel(other, number=emu.number, service=emu.service, pacing=FAST, turns=turns)
    slow: list[SignalChannel] = []  # the instance that reaches the turn late, for a step
    took: list[SignalChannel] = []  # which instance answered, each step
    done: list[SignalChannel] = []  # each instance, for each message it is through with
    through = asyncio.Condition()

    def late_when_slow(channel: SignalChannel) -> None:
        real_turn, real_send, real_handle = channel._turn, channel.send_result, channel._handle

        @contextlib.asynccontextmanager
        async def turn(sender: str) -> AsyncIterator[None]:
            if channel in slow:
                await asyncio.sleep(0.3)
            async with real_turn(sender):
                yield

        async def send_result(address: str, reply: Reply) -> SendResult:
            took.append(channel)
            return await real_send(address, reply)

        async def handle(*message_and_sender: Any) -> None:
            await real_handle(*message_and_sender)
            async with through:
                done.append(channel)
                through.notify_all()

        channel._turn = turn  # type: ignore[method-assign]
        channel.send_result = send_result  # type: ignore[method-assign]
        channel._handle = handle  # type: ignore[method-assign,assignment]

    late_when_slow(first)
    late_when_slow(second)

    async def step(text: str, late: SignalChannel) -> list[str]:
        slow[:] = [late]
        took.clear()
        done.clear()
        answer = texts(await ana.say(text))
        assert took == [first if late is second else second]
        async with asyncio.timeout(5), through:
            # The late one is through too (it took the turn and skipped): the next step's
            # race starts even.
            await through.wait_for(lambda: len(done) == 2)
        return answer

    ana = emu.person("ana")
    async with first, second:
        await emu.wait_for_receivers(2)
        # The list from the first instance; the second takes the digit.
        assert (await step("/choose", second))[0].startswith("Pick one")
        assert await step("2", first) == ["picked pick:no"]
        # A list from the second; the first takes the digit, and the label too.
        assert (await step("/where", first))[0].startswith("Where are you?")
        assert await step("1", second) == ["picked skip:loc"]
        assert (await step("/choose", first))[0].startswith("Pick one")
        assert await step("maybe later", second) == ["picked pick:?"]
        # A list sent out of turn by one instance, answered on the other.
        assert await first.send(ana.uuid, Reply("Can you take it?", CHOICES)) is SendStatus.SENT
        assert await step("1", first) == ["picked pick:yes"]
        # A plain question on one retires the list on both: a typed number, not option 2.
        assert (await step("/choose", second))[0].startswith("Pick one")
        assert await step("/count", second) == ["How many?"]
        assert await step("2", first) == ["you said: 2"]
        await asyncio.sleep(0.6)  # a duplicate, were there one, would have arrived by now
    assert len(ana.inbox) == 11


def test_from_settings(
    engine: Engine, monkeypatch: pytest.MonkeyPatch, tmp_path: pathlib.Path
) -> None:
    monkeypatch.chdir(tmp_path)  # no developer .env
    for name in [n for n in os.environ if n.startswith("HRBOT_")]:
        monkeypatch.delenv(name)
    channel = SignalChannel.from_settings(
        engine,
        Settings(signal_number="+16045550100", signal_service="127.0.0.1:8080", data_dir=tmp_path),
    )
    assert (channel.number, channel.service) == ("+16045550100", "127.0.0.1:8080")
    assert channel.turns is None  # SQLite: one instance, turns in-process only
    on_postgres = Settings(
        signal_number="+16045550100",
        signal_service="127.0.0.1:8080",
        database_url="postgresql+asyncpg://bot@db/hrbot",
        database_pool_size=10,
    )
    channel = SignalChannel.from_settings(engine, on_postgres)
    assert isinstance(channel.turns, DatabaseTurns)
    assert channel.concurrency == 4  # each person in hand holds two of the 10 connections
    tiny = on_postgres.model_copy(update={"database_pool_size": 2})
    with pytest.raises(SettingsError, match="HRBOT_DATABASE_POOL_SIZE"):
        SignalChannel.from_settings(engine, tiny)
    with pytest.raises(SettingsError, match="HRBOT_SIGNAL_NUMBER"):
        SignalChannel.from_settings(engine, Settings(signal_service="127.0.0.1:8080"))
    with pytest.raises(SettingsError, match="HRBOT_SIGNAL_NUMBER") as raised:
        SignalChannel.from_settings(
            engine, Settings(signal_number="604 555 0100", signal_service="127.0.0.1:8080")
        )
    assert "604 555 0100" not in str(raised.value)  # a phone number is never repeated
    with pytest.raises(SettingsError, match="HRBOT_SIGNAL_SERVICE"):
        SignalChannel.from_settings(engine, Settings(signal_number="+16045550100"))


# -- incoming ------------------------------------------------------------------------------


@pytest.mark.usefixtures("bot")
async def test_text_and_command_round_trip(emu: SignalEmulator, seen: list[Incoming]) -> None:
    ana = emu.person("ana")
    assert texts(await ana.say("/start ABC")) == ["welcome ABC"]
    assert texts(await ana.say("hello  there\u200b")) == ["you said: hello there"]
    assert texts(await ana.say("/nope")) == ["unknown command"]

    first = seen[0]
    assert (first.kind, first.command, first.text) == (InputKind.COMMAND, "start", "ABC")
    assert first.channel is Channel.SIGNAL
    assert first.sender_id == first.address == ana.uuid  # the UUID, not the number
    assert first.update_key is not None
    assert first.update_key.startswith("sig:")
    for msg in seen:
        assert msg.update_key is not None
        assert ana.uuid not in msg.update_key
        assert ana.number not in msg.update_key
    assert len({m.update_key for m in seen}) == len(seen)
    assert all(m.recipient == ana.uuid for m in ana.inbox)
    assert all(m.text_mode == "normal" for m in ana.inbox)  # *stars* stay literal
    assert emu.problems == []
    assert emu.errors == []


@pytest.mark.usefixtures("bot")
async def test_number_only_sender_is_answered_on_the_number(
    emu: SignalEmulator, seen: list[Incoming]
) -> None:
    ana = emu.person("ana")
    frame = ana.frame("hi")
    frame["envelope"]["sourceUuid"] = None  # an old client that shows only the number
    assert texts(await ana.send_frame(frame)) == ["you said: hi"]
    assert seen[-1].sender_id == ana.number
    assert ana.last.recipient == ana.number


@pytest.mark.usefixtures("bot")
async def test_a_digit_or_the_label_picks_the_option(
    emu: SignalEmulator, seen: list[Incoming]
) -> None:
    ana = emu.person("ana")
    [menu] = await ana.say("/choose")
    assert menu.text == f"Pick one\n\n1. Yes\n2. No\n3. Maybe later\n{NUMBER_HINT}"
    assert texts(await ana.say("2")) == ["picked pick:no"]
    assert seen[-1].kind is InputKind.OPTION
    # The plain answer retired the list: a digit is text again until a list is shown.
    assert texts(await ana.say("2")) == ["you said: 2"]
    await ana.say("/choose")
    assert texts(await ana.say("  maybe LATER ")) == ["picked pick:?"]
    await ana.say("/choose")
    assert texts(await ana.say("7")) == ["you said: 7"]  # not on the list: plain text
    await ana.say("/choose")
    assert texts(await ana.say("yes please")) == ["you said: yes please"]
    await ana.say("/choose")
    assert texts(await ana.pick("Yes")) == ["picked pick:yes"]
    # Someone else's menu is not Ana's.
    bob = emu.person("bob")
    assert texts(await bob.say("1")) == ["you said: 1"]


@pytest.mark.usefixtures("bot")
async def test_a_plain_question_retires_the_old_menu(emu: SignalEmulator) -> None:
    ana = emu.person("ana")
    await ana.say("/choose")
    assert texts(await ana.say("/count")) == ["How many?"]
    assert texts(await ana.say("2")) == ["you said: 2"]  # a quantity, not option 2


async def test_a_digit_after_a_restart_picks_from_the_list_shown_before(
    emu: SignalEmulator, engine: Engine, sessions: async_sessionmaker[AsyncSession]
) -> None:
    """The list is a row, so a restarted bot reads the digit as the option; the row holds
    neither the address nor the labels in clear, and a plain answer deletes it."""
    ana = emu.person("ana")
    channel = SignalChannel(engine, number=emu.number, service=emu.service, pacing=FAST)
    await channel.start()
    try:
        await emu.wait_for_receivers()
        await ana.say("/choose")
    finally:
        await channel.stop()
    async with sessions() as session:
        [(holder, sealed)] = (
            await session.execute(select(ShownMenu.holder, ShownMenu.sealed))
        ).all()
    for clear_text in (ana.uuid, ana.number, "Maybe later", "pick:"):
        assert clear_text not in holder
        assert clear_text.encode() not in sealed
    channel = SignalChannel(engine, number=emu.number, service=emu.service, pacing=FAST)
    await channel.start()
    try:
        await emu.wait_for_receivers()
        assert texts(await ana.say("1")) == ["picked pick:yes"]
        assert texts(await ana.say("1")) == ["you said: 1"]  # the answer retired the list
    finally:
        await channel.stop()
    async with sessions() as session:
        assert (await session.execute(select(ShownMenu))).first() is None


@pytest.mark.usefixtures("bot")
async def test_location_question_and_maps_links(emu: SignalEmulator, seen: list[Incoming]) -> None:
    ana = emu.person("ana")
    [question] = await ana.say("/where")
    # The options first, a maps link (and what it reveals) second.
    assert question.text == f"Where are you?\n\n1. Skip\n{NUMBER_HINT}\n{LOCATION_HINT}"
    for style in MapStyle:
        replies = await ana.share_location_link(49.2827, -123.1207, style=style)
        assert texts(replies) == ["location 49.283 -123.121"]
        assert seen[-1].kind is InputKind.LOCATION
        assert seen[-1].text == ""  # the link held the coordinates: not kept as text
    # Signal Android: a place name, a blank line, the link (with a map picture).
    frame = ana.frame(
        f"Main St & Hastings\n\n{maps_link(49.2811, -123.0987)}",
        attachments=[
            {"contentType": "image/jpeg", "id": "map.jpg", "size": 9000, "isVoiceNote": False}
        ],
    )
    assert texts(await ana.send_frame(frame)) == ["location 49.281 -123.099"]
    assert texts(await ana.say("geo:91,0")) == ["text only please"]  # impossible place


@pytest.mark.usefixtures("bot")
async def test_attachments_and_stickers_alone_are_unsupported(
    emu: SignalEmulator, seen: list[Incoming]
) -> None:
    ana = emu.person("ana")
    assert texts(await ana.send_attachment(b"a photo of a street")) == ["text only please"]
    assert texts(await ana.send_attachment(content_type="audio/aac", voice_note=True)) == [
        "text only please"
    ]
    assert texts(await ana.send_sticker()) == ["text only please"]
    assert {m.kind for m in seen} == {InputKind.UNSUPPORTED}
    # A caption is something the person typed.
    assert texts(await ana.send_attachment(caption="is this clean?")) == [
        "you said: is this clean?"
    ]
    assert not any(
        c.method == "GET" and c.path.startswith("/v1/attachments/") for c in emu.calls
    )  # never fetched...
    assert emu.attachments == {}  # ...and nothing people sent stays in signal-cli's volume


async def test_attachments_left_from_before_the_start_are_deleted(
    emu: SignalEmulator, engine: Engine
) -> None:
    # Arrived while no bot was receiving: never handled, so only a sweep deletes them.
    emu.attachments["left1.jpg"] = b"a photo nobody handled"
    emu.attachments["left2.pdf"] = b"a letter"
    channel = SignalChannel(
        engine, number=emu.number, service=emu.service, pacing=FAST, ready_timeout=5
    )
    await channel.start()
    try:
        assert emu.attachments == {}
        assert not emu.fetched  # deleted unread
    finally:
        await channel.stop()


@pytest.mark.usefixtures("bot")
async def test_groups_own_devices_and_housekeeping_are_ignored(
    emu: SignalEmulator, seen: list[Incoming]
) -> None:
    ana = emu.person("ana")
    await ana.say_in_group("hello group")
    await emu.push(emu.own_device_frame(ana, "sent from the bot's phone"))
    await emu.push(emu.typing_frame(ana))
    await emu.push(emu.receipt_frame(ana, [1, 2]))
    await ana.send_frame(ana.frame(None, isExpirationUpdate=True, expiresInSeconds=3600), expect=0)
    await ana.send_frame(ana.frame(None, isProfileKeyUpdate=True), expect=0)
    await emu.push_error("Failed to decrypt message")
    await emu.push_raw("not json")
    broken = ana.frame("no server timestamps")
    del broken["envelope"]["serverReceivedTimestamp"]
    await ana.send_frame(broken, expect=0)
    # The loop survived all of that, and only this message is answered.
    assert texts(await ana.say("still there?")) == ["you said: still there?"]
    assert [m.text for m in seen] == ["still there?"]
    assert ana.texts == ["you said: still there?"]


@pytest.mark.usefixtures("bot")
async def test_long_reply_is_split_below_the_inline_limit(emu: SignalEmulator) -> None:
    ana = emu.person("ana")
    count = len(split_message(LONG_TEXT))
    assert count >= 3
    replies = await ana.say("/long", expect=count)
    assert len(replies) == count
    assert all(m.inline and len(m.text.encode()) <= MAX_PART_BYTES for m in replies)
    assert "\n".join(texts(replies)) == LONG_TEXT
    assert emu.problems == []


@pytest.mark.usefixtures("bot")
async def test_duplicate_frame_is_handled_once(emu: SignalEmulator, seen: list[Incoming]) -> None:
    ana = emu.person("ana")
    frame = ana.frame("once please")
    await emu.push(frame)
    await emu.push(frame)  # the same source and timestamp, delivered again
    await ana.say("after", expect=0)
    # Ana's messages are handled in order: once "after" is answered, so are both copies.
    await emu.wait_for(lambda: "you said: after" in ana.texts)
    assert ana.texts == ["you said: once please", "you said: after"]


# -- reliability ---------------------------------------------------------------------------


async def test_clean_close_mid_conversation_reconnects(
    emu: SignalEmulator, bot: SignalChannel
) -> None:
    ana = emu.person("ana")
    assert texts(await ana.say("before")) == ["you said: before"]
    for _ in range(2):
        connected = emu.connections
        assert await emu.close_websockets(code=1000) == 1
        # Faithful to the real server: while nobody is connected a message is lost.
        await ana.say("into the void", expect=0)
        await emu.wait_for_receivers(connections=connected + 1)
        assert texts(await ana.say("after")) == ["you said: after"]
    assert bot.reconnects >= 2
    assert bot.receiving
    assert [f["envelope"]["dataMessage"]["message"] for f in emu.lost] == ["into the void"] * 2


async def test_error_close_and_server_restart_reconnect(
    emu: SignalEmulator, bot: SignalChannel
) -> None:
    ana = emu.person("ana")
    connected = emu.connections
    await emu.close_websockets(code=1011, message="internal error")
    await emu.wait_for_receivers(connections=connected + 1)
    assert texts(await ana.say("still here")) == ["you said: still here"]


async def test_watchdog_restarts_a_dead_receive_loop(
    emu: SignalEmulator,
    bot: SignalChannel,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    class Buggy:
        """Back-off settings that blow up the loop itself once the stream has ended."""

        initial = maximum = 0.01

        @property
        def stable_after(self) -> float:
            raise RuntimeError("a bug in the receive loop")

    monkeypatch.setattr(bot, "reconnect", Buggy())
    connected = emu.connections
    await emu.close_websockets()
    await emu.wait_for_receivers(connections=connected + 1)
    assert "signal receive loop died (RuntimeError); restarting it" in caplog.text
    assert texts(await emu.person("ana").say("hello?")) == ["you said: hello?"]


async def test_stop_lets_the_message_in_hand_finish(
    emu: SignalEmulator, bot: SignalChannel, engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    ana = emu.person("ana")
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


async def test_one_person_in_order_others_in_parallel(
    emu: SignalEmulator, bot: SignalChannel, engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    real_handle = engine.handle
    active: dict[str, int] = {}
    overlap: list[str] = []

    async def tracked(msg: Incoming) -> None:
        active[msg.sender_id] = active.get(msg.sender_id, 0) + 1
        if active[msg.sender_id] > 1:
            overlap.append("same person twice at once")
        try:
            await asyncio.sleep(0.05)
            await real_handle(msg)
        finally:
            active[msg.sender_id] -= 1

    monkeypatch.setattr(engine, "handle", tracked)
    ana, bob = emu.person("ana"), emu.person("bob")
    for n in range(4):
        await emu.push(ana.frame(f"a{n}"))
        await emu.push(bob.frame(f"b{n}"))
    await emu.wait_for(lambda: len(ana.inbox) == 4 and len(bob.inbox) == 4)
    assert ana.texts == [f"you said: a{n}" for n in range(4)]
    assert bob.texts == [f"you said: b{n}" for n in range(4)]
    assert overlap == []


async def test_a_person_who_floods_does_not_hold_up_others(
    emu: SignalEmulator, bot: SignalChannel, engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    """More of one person's messages than the channel handles people at once: they queue
    behind each other, and other people's messages are handled meanwhile."""
    real_handle = engine.handle
    release = asyncio.Event()

    async def stuck(msg: Incoming) -> None:
        if msg.text and msg.text.startswith("a"):
            await release.wait()
        await real_handle(msg)

    monkeypatch.setattr(engine, "handle", stuck)
    ana, bob = emu.person("ana"), emu.person("bob")
    flood = bot.concurrency + 2
    for n in range(flood):
        await emu.push(ana.frame(f"a{n}"))
    assert texts(await bob.say("b0")) == ["you said: b0"]
    assert ana.inbox == []
    release.set()
    await emu.wait_for(lambda: len(ana.inbox) == flood)
    assert ana.texts == [f"you said: a{n}" for n in range(flood)]


# -- sending and its failures --------------------------------------------------------------


async def test_rate_limit_challenge_is_recorded_and_solved(
    emu: SignalEmulator,
    bot: SignalChannel,
    challenges: list[RateLimitChallenge],
) -> None:
    ana = emu.person("ana")
    assert texts(await ana.say("hi")) == ["you said: hi"]
    emu.require_captcha()
    await ana.say("are you there?", expect=0)
    await emu.wait_for(lambda: bot.challenge_pending)
    assert await bot.send(ana.uuid, Reply("direct")) is SendStatus.RETRY

    async def told() -> bool:
        return bool(challenges)

    await eventually(told)
    issued = list(emu.challenges)
    assert bot.challenge is not None
    assert bot.challenge.tokens == tuple(issued[-len(bot.challenge.tokens) :])
    assert bot.challenge.hits == 2
    assert len(challenges) == 1  # coordinators are told once, not per message
    assert [e.status for e in emu.errors] == [429, 429]

    assert await bot.submit_captcha("signalcaptcha://solved-by-a-coordinator")
    assert not bot.challenge_pending
    assert emu.challenges[issued[-1]].solved_with == "signalcaptcha://solved-by-a-coordinator"
    # The answer that met the captcha was queued, not lost: the tick sends it now.
    bot.engine.clock.advance(seconds=5)  # type: ignore[attr-defined]
    assert (await run_notices_due(bot.engine)).sent == 1
    assert ana.texts[-1] == "you said: are you there?"
    assert texts(await ana.say("now?")) == ["you said: now?"]
    assert not await bot.submit_captcha("signalcaptcha://nothing-pending")


async def test_plain_rate_limit_is_retried_without_a_challenge(
    emu: SignalEmulator, bot: SignalChannel, challenges: list[RateLimitChallenge]
) -> None:
    ana = emu.person("ana")
    emu.fail_next_send(FaultKind.PLAIN_RATE_LIMIT)  # challenge_tokens [""]: nothing to solve
    assert await bot.send(ana.uuid, Reply("later")) is SendStatus.RETRY
    assert not bot.challenge_pending
    assert bot.bulk_hold() is None
    assert await bot.send(ana.uuid, Reply("now")) is SendStatus.SENT
    await asyncio.sleep(0.05)  # a hook, had one been started, would have run
    assert challenges == []
    assert ana.texts == ["now"]


async def test_a_challenge_holds_bulk_sends_until_a_send_goes_through(
    emu: SignalEmulator, engine: Engine
) -> None:
    now = [1000.0]
    channel = SignalChannel(
        engine,
        number=emu.number,
        service=emu.service,
        pacing=FAST,
        reconnect=QUICK_RECONNECT,
        challenge_recheck=30.0,
        monotonic=lambda: now[0],
        ready_timeout=5,
    )
    ana = emu.person("ana")
    async with channel:
        emu.fail_next_send(FaultKind.RATE_LIMIT)
        assert await channel.send(ana.uuid, Reply("refused")) is SendStatus.RETRY
        assert channel.bulk_hold() == 30.0
        now[0] += 10
        assert channel.bulk_hold() == 20.0
        now[0] += 25
        assert channel.bulk_hold() == 0.0  # time for one probe
        # Solved out of band (the README's curl): the probe goes through and ends the hold.
        assert await channel.send(ana.uuid, Reply("probe")) is SendStatus.SENT
        assert not channel.challenge_pending
        assert channel.bulk_hold() is None
    assert ana.texts == ["probe"]


async def test_send_maps_errors_to_statuses(
    emu: SignalEmulator, bot: SignalChannel, caplog: pytest.LogCaptureFixture
) -> None:
    ana = emu.person("ana")
    with caplog.at_level(logging.DEBUG, logger="bot"):
        assert await bot.send(ana.uuid, Reply("direct")) is SendStatus.SENT
        emu.fail_next_send(FaultKind.SERVER_ERROR)
        assert await bot.send(ana.uuid, Reply("text-for-later")) is SendStatus.RETRY
        emu.fail_next_send(FaultKind.BAD_REQUEST)
        assert await bot.send(ana.uuid, Reply("text-refused")) is SendStatus.FAILED
        assert await bot.send("not-an-address", Reply("x")) is SendStatus.FAILED
        assert await bot.send(ana.uuid, Reply(" \n ")) is SendStatus.FAILED
        ana.unregister(Unregistered.RESULTS)
        assert await bot.send(ana.uuid, Reply("gone")) is SendStatus.UNREACHABLE
        ana.unregister(Unregistered.ERROR)
        assert await bot.send(ana.uuid, Reply("gone")) is SendStatus.UNREACHABLE
        assert await bot.send(ana.number, Reply("gone")) is SendStatus.UNREACHABLE
    assert not bot.challenge_pending
    assert ana.texts == ["direct"]
    logged = "\n".join(r.getMessage() for r in caplog.records if r.name.startswith("bot."))
    assert "HTTP 400" in logged
    assert "HTTP 500" in logged
    for leak in (ana.uuid, ana.number, "text-refused", "text-for-later", "not registered"):
        assert leak not in logged


async def test_send_result_says_when_a_failed_send_may_have_arrived(
    emu: SignalEmulator, bot: SignalChannel
) -> None:
    ana = emu.person("ana")
    # Signal answered: nothing went out, so a resend cannot duplicate.
    emu.fail_next_send(FaultKind.SERVER_ERROR)
    assert await bot.send_result(ana.uuid, Reply("a")) == SendResult(SendStatus.RETRY)
    emu.fail_next_send(FaultKind.PLAIN_RATE_LIMIT)  # a 429: counted as rate limited
    limited = SendResult(SendStatus.RETRY, rate_limited=True)
    assert await bot.send_result(ana.uuid, Reply("b")) == limited
    assert limited.limited
    # The message went out and its answer was lost: ambiguous.
    emu.fail_next_send(FaultKind.LOST_ANSWER)
    lost = await bot.send_result(ana.uuid, Reply("c"))
    assert lost == SendResult(SendStatus.RETRY, maybe_delivered=True)
    assert ana.texts == ["c"]
    assert await bot.send_result(ana.uuid, Reply("d")) == SendResult(SendStatus.SENT)
    assert ana.texts == ["c", "d"]


async def test_a_long_reply_cut_off_half_way_may_have_arrived(
    emu: SignalEmulator, bot: SignalChannel
) -> None:
    ana = emu.person("ana")
    long = "x" * 1500 + " " + "y" * 1500  # two parts at Signal's 2000-byte limit
    emu.fail_next_send(FaultKind.SERVER_ERROR)  # the first part refused: nothing arrived
    assert await bot.send_result(ana.uuid, Reply(long)) == SendResult(SendStatus.RETRY)
    assert ana.texts == []
    emu.fail_next_send(FaultKind.SERVER_ERROR, after=1)  # the first goes, the second refused
    result = await bot.send_result(ana.uuid, Reply(long))
    assert result == SendResult(SendStatus.RETRY, maybe_delivered=True)
    assert ana.texts == ["x" * 1500]


async def test_unregistered_person_is_marked_unreachable(
    emu: SignalEmulator, bot: SignalChannel, sessions: async_sessionmaker[AsyncSession]
) -> None:
    ana = emu.person("ana")
    assert texts(await ana.say("hi")) == ["you said: hi"]
    assert await contact_reachable(sessions) == [True]
    ana.unregister()
    await ana.say("deleting my account now", expect=0)

    async def unreachable() -> bool:
        return await contact_reachable(sessions) == [False]

    await eventually(unreachable)
    # Writing again proves they can be reached.
    ana.register()
    assert texts(await ana.say("back again")) == ["you said: back again"]
    assert await contact_reachable(sessions) == [True]


# -- privacy -------------------------------------------------------------------------------


async def test_no_identifier_or_text_in_tables_or_logs(
    emu: SignalEmulator,
    engine: Engine,
    sessions: async_sessionmaker[AsyncSession],
    caplog: pytest.LogCaptureFixture,
) -> None:
    # What a production log handler would print: everything at DEBUG, behind redaction.
    printed = io.StringIO()
    production = logging.StreamHandler(printed)
    production.addFilter(RedactionFilter())
    root = logging.getLogger()
    root.addHandler(production)
    caplog.set_level(logging.DEBUG)
    ana = emu.person("ana maria")
    bob = emu.person("bob", share_number=False)
    channel = SignalChannel(
        engine, number=emu.number, service=emu.service, pacing=FAST, reconnect=QUICK_RECONNECT
    )
    try:
        await channel.start()
        # As if an operator turned signalbot's own logging up: its records still carry
        # nothing but their fixed templates.
        logging.getLogger(SIGNALBOT_LOGGER).setLevel(logging.DEBUG)
        await emu.wait_for_receivers()
        await ana.say("/start secret-invite")
        await ana.say("/choose")
        await ana.say("2")
        await ana.share_location_link(49.2827, -123.1207)
        await ana.say("I need 10 syringes at the blue door")
        await bob.say("hello from bob")
        await bob.send_sticker()
        await emu.push(ana.frame("broken", group_id=None, attachments="not a list"))
        connected = emu.connections
        await emu.close_websockets()
        await emu.wait_for_receivers(connections=connected + 1)
        emu.fail_next_send(FaultKind.RATE_LIMIT)
        await ana.say("rate limited", expect=0)
        await emu.wait_for(lambda: channel.challenge_pending)
        # Solved out of band: the tick sends the queued answer (sealed meanwhile).
        channel.clear_challenge()
        engine.clock.advance(seconds=5)  # type: ignore[attr-defined]
        assert (await run_notices_due(engine)).sent == 1
        bob.unregister(Unregistered.ERROR)
        await bob.say("gone", expect=0)
        await emu.wait_for(lambda: any(e.status == 400 for e in emu.errors))
        ana.unregister()
        await ana.say("gone too", expect=0)
        await emu.wait_for(lambda: ana.uuid in emu.undelivered)
        await channel.stop()
    finally:
        await channel.stop()
        root.removeHandler(production)
        logging.getLogger(SIGNALBOT_LOGGER).setLevel(logging.WARNING)

    dump: list[str] = []
    async with sessions() as session:
        connection = await session.connection()
        present = set(await connection.run_sync(lambda c: inspect(c).get_table_names()))
        assert {"contacts", "seen_updates", "conversation_states"} <= present
        # Every model's table and anything else the migrations made, with SELECT *: a model
        # running ahead of its migration can neither hide a column nor break the dump.
        for name in sorted({t.name for t in Base.metadata.sorted_tables} | present):
            if name not in present:
                continue  # a model whose migration is not written yet holds nothing
            query = text(f'SELECT * FROM "{name}"')  # noqa: S608 - names from the inspector
            for row in (await session.execute(query)).all():
                dump.append(f"{name}: {row!r}")
    assert any(line.startswith("contacts:") for line in dump)
    assert any(r.name == SIGNALBOT_LOGGER for r in caplog.records)  # signalbot did log
    ours = "\n".join(
        r.getMessage() + (r.exc_text or "")
        for r in caplog.records
        if r.name.startswith(("bot", "signalbot"))
    )
    leaks = [
        *(p.number for p in (ana, bob)),
        *(p.number.lstrip("+") for p in (ana, bob)),
        *(p.uuid for p in (ana, bob)),
        *(p.uuid.replace("-", "") for p in (ana, bob)),
        *(p.profile_name for p in (ana, bob)),
        "49.28",
        "123.12",
        "syringes",
        "secret-invite",
        "hello from bob",
        *emu.challenges,  # the captcha tokens are the operator's business, not the log's
    ]
    for name, content in (
        ("tables", "\n".join(dump)),
        ("our log records", ours),
        ("production log", printed.getvalue()),
    ):
        for leak in leaks:
            assert leak not in content, f"{leak!r} found in {name}"
    assert "Signal is rate limiting" in printed.getvalue()


def test_signalbot_records_keep_only_their_template(caplog: pytest.LogCaptureFixture) -> None:
    logger = logging.getLogger(SIGNALBOT_LOGGER)
    _tame_signalbot_log(logger, set(logger.handlers))
    caplog.set_level(logging.DEBUG, logger=SIGNALBOT_LOGGER)
    try:
        raise ValueError("+16045550123 said: I need naloxone")
    except ValueError:
        logger.exception(
            "[Bot] Message %s not delivered to %s: %s", 1700000000000, "+16045550123", "x"
        )
    logger.warning("Received from 0d6e6f0a-4a42-4b4e-9d55-1b8e7b5f2c11 at 49.28271,-123.12074")
    [first, second] = [r for r in caplog.records if r.name == SIGNALBOT_LOGGER]
    assert first.getMessage() == "[Bot] Message %s not delivered to %s: %s [ValueError]"
    assert first.exc_info is None
    assert first.exc_text is None
    assert "0d6e6f0a" not in second.getMessage()
    assert "49.28271" not in second.getMessage()


# -- pure parts ----------------------------------------------------------------------------


def test_counts_answer_to_their_own_number() -> None:
    counts = [Option(str(n), f"p:{n}") for n in range(1, 6)]
    back = Reply("How many?", (*counts, Option("‹ Back", "b")))
    assert option_keys(back.options) == ["1", "2", "3", "4", "5", "0"]
    assert render(back, number_hint="N") == [
        "How many?\n\n1. 1\n2. 2\n3. 3\n4. 4\n5. 5\n0. ‹ Back\nN"
    ]
    two = (*counts, Option("‹ Back", "b"), Option("Done", "d"))
    assert option_keys(two) == ["1", "2", "3", "4", "5", "a", "b"]
    assert option_keys((Option("Yes", "y"), Option("No", "n"))) == ["1", "2"]


def test_an_option_with_its_own_key_answers_to_it_alone() -> None:
    # A step that takes free text: its way out on 0, so a message "1" picks nothing.
    way_out = Reply("Type your message.", (Option("Don't send", "k", key="0"),))
    assert option_keys(way_out.options) == ["0"]
    assert render(way_out, number_hint="") == ["Type your message.\n\n0. Don't send"]
    # Keyed options stand apart from the numbering of the others.
    mixed = (Option("Yes", "y"), Option("Stop", "s", key="0"), Option("No", "n"))
    assert option_keys(mixed) == ["1", "0", "2"]
    counts = (Option("1", "p:1"), Option("2", "p:2"), Option("Stop", "s", key="x"))
    assert option_keys((*counts, Option("‹ Back", "b"))) == ["1", "2", "x", "0"]
    with pytest.raises(ValueError, match="option key"):
        Option("Bad", "b", key="zero")


def test_render() -> None:
    assert render(Reply("plain")) == ["plain"]
    assert render(Reply("  ")) == []
    choice = Reply("Pick", (Option("A  b\nc", "x:1"), Option("D", "x:2")))
    assert render(choice, number_hint="Type a number") == ["Pick\n\n1. A b c\n2. D\nType a number"]
    where = Reply("Where?", ask_location=True)
    assert render(where, location_hint="Type a place") == ["Where?\n\nType a place"]
    both = Reply("Where?", (Option("Gastown", "a:1"),), ask_location=True)
    assert render(both, number_hint="Number?", location_hint="Or a link") == [
        "Where?\n\n1. Gastown\nNumber?\nOr a link"  # one hint: how to answer
    ]
    # A list that does not fit after the text goes in its own message.
    big = Reply("x" * 1990, (Option("Yes", "y:1"),))
    parts = render(big)
    assert parts == ["x" * 1990, f"1. Yes\n{NUMBER_HINT}"]


def test_split_message() -> None:
    assert split_message("short") == ["short"]
    assert split_message("  \n ") == []
    assert split_message("aaa\nbbb ccc", limit=7) == ["aaa", "bbb ccc"]
    assert split_message("aaaa bbbb", limit=6) == ["aaaa", "bbbb"]
    assert split_message("abcdefgh", limit=4) == ["abcd", "efgh"]
    # Counted in UTF-8 bytes: Cyrillic letters take two, this emoji four.
    assert split_message("жжжж", limit=4) == ["жж", "жж"]
    assert split_message("💉💉", limit=4) == ["💉", "💉"]
    with pytest.raises(ValueError, match="at least one character"):
        split_message("x", limit=3)
    parts = split_message(LONG_TEXT)
    assert all(len(p.encode()) <= MAX_PART_BYTES for p in parts)
    assert "\n".join(parts) == LONG_TEXT


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("geo:49.2827,-123.1207", (49.2827, -123.1207)),
        ("geo:0,0?q=49.2827,-123.1207(Needle drop)", (49.2827, -123.1207)),
        ("geo:49.2827,-123.1207;u=35", (49.2827, -123.1207)),
        ("https://maps.google.com/maps?q=49.2827%2C-123.1207", (49.2827, -123.1207)),
        ("https://maps.google.com/?q=49.2827,-123.1207", (49.2827, -123.1207)),
        ("see https://www.google.com/maps/@49.2827,-123.1207,15z ok", (49.2827, -123.1207)),
        (
            "https://www.google.com/maps/search/?api=1&query=49.2827%2C-123.1207",
            (49.2827, -123.1207),
        ),
        (
            "https://www.openstreetmap.org/?mlat=49.2827&mlon=-123.1207#map=17/1/2",
            (49.2827, -123.1207),
        ),
        ("https://www.openstreetmap.org/#map=16/49.2827/-123.1207", (49.2827, -123.1207)),
        ("https://maps.apple.com/?ll=49.2827,-123.1207&q=Dropped%20Pin", (49.2827, -123.1207)),
        ("(https://maps.apple.com/?ll=-33.8688,151.2093).", (-33.8688, 151.2093)),
        ("https://maps.google.com/maps?q=Main+Street", None),
        ("https://example.org/?q=49.2827,-123.1207", None),
        ("meet at 49.2827,-123.1207", None),
        ("https://maps.app.goo.gl/AbCdEf", None),
        ("", None),
    ],
)
def test_maps_location(text: str, expected: tuple[float, float] | None) -> None:
    found = maps_location(text)
    if expected is None:
        assert found is None
    else:
        assert found == Location(*expected)


def test_impossible_coordinates_are_flagged() -> None:
    found = maps_location("geo:91,0")
    assert found is not None
    assert not isinstance(found, Location)
    assert maps_location("https://maps.apple.com/?ll=10,181") == found


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=3000))
def test_maps_location_never_raises(text: str) -> None:
    maps_location(text)
    maps_location(f"https://maps.google.com/?q={text}")
    maps_location(f"geo:{text}")


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=6000), st.integers(min_value=4, max_value=3000))
def test_split_message_keeps_every_word(text: str, limit: int) -> None:
    parts = split_message(text, limit)
    assert all(p and len(p.encode("utf-8", "surrogatepass")) <= limit for p in parts)
    assert "".join("".join(parts).split()) == "".join(text.split())


def test_pacing_bursts_then_spaces() -> None:
    now = [100.0]
    pacer = _Pacer(
        SignalPacing(
            recipient_burst=3, recipient_interval=1.0, global_burst=5, global_interval=0.5
        ),
        lambda: now[0],
    )
    assert [pacer.delay("a") for _ in range(5)] == [0.0, 0.0, 0.0, 1.0, 2.0]
    # Another person is not held back by a's spacing, only by the overall rate.
    assert pacer.delay("b") == pytest.approx(0.5)
    now[0] += 60
    assert pacer.delay("a") == 0.0
