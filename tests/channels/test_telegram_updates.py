"""Per-chat ordered, concurrent update processing: through the real channel against the
emulator (many chats, interleaved), and the processor's own contract with PTB."""

from __future__ import annotations

import asyncio
import inspect
import random
from collections import defaultdict
from collections.abc import AsyncIterator, Awaitable, Sequence
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from telegram import Chat, Message, Update, User

from bot.channels.telegram import TelegramChannel
from bot.channels.telegram_updates import ChatOrderedProcessor, chat_key, tracked
from bot.core.context import Context
from bot.core.engine import Engine
from bot.core.messages import Incoming
from bot.core.ratelimit import RateLimiter
from bot.core.routes import Routes
from bot.emulator import TelegramEmulator
from tests.support.engine import make_engine

CHATS = 24
PER_CHAT = 10


@pytest.fixture
async def emu() -> AsyncIterator[TelegramEmulator]:
    async with TelegramEmulator(seed=21) as emulator:
        yield emulator


def _recording_routes(seen: dict[str, list[str]], rng: random.Random) -> Routes:
    async def record(msg: Incoming, ctx: Context) -> None:
        seen[msg.sender_id].append(msg.text)
        # A little work of uneven length, inside the update's transaction: if anything could
        # overtake an earlier update of the same chat, this gives it the chance.
        await asyncio.sleep(rng.random() * 0.01)
        ctx.reply(f"got {msg.text}")

    return Routes(
        commands={},
        options={},
        flows={},
        fallback=record,
        unknown_command=record,
        unsupported=record,
    )


def _track_concurrency(engine: Engine) -> list[int]:
    """Wrap ``engine.handle`` to record how many updates are in it at once."""
    peak = [0]
    in_flight = 0
    real = engine.handle

    async def handle(msg: Incoming) -> None:
        nonlocal in_flight
        in_flight += 1
        peak[0] = max(peak[0], in_flight)
        try:
            await real(msg)
        finally:
            in_flight -= 1

    engine.handle = handle  # type: ignore[method-assign]
    return peak


async def test_interleaved_chats_each_keep_their_order(
    emu: TelegramEmulator, sessions: async_sessionmaker[AsyncSession]
) -> None:
    seen: dict[str, list[str]] = defaultdict(list)
    engine = make_engine(sessions, _recording_routes(seen, random.Random(4)))
    engine.limiter = RateLimiter(rate=100, burst=100)  # this test is about order, not flooding
    peak = _track_concurrency(engine)
    people = [emu.user(f"p{i}") for i in range(CHATS)]
    channel = TelegramChannel(engine, token=emu.token, base_url=emu.base_url, poll_timeout=1)
    async with channel:
        # Round robin: p0 #0, p1 #0, ... p0 #1, ... all queued before the bot fetches them.
        for n in range(PER_CHAT):
            for person in people:
                await person.say(f"{n:02d}", expect=0)
        await emu.wait_for(lambda: all(len(p.transcript) == PER_CHAT for p in people), within=60)
        await channel.wait_idle()

    expected = [f"{n:02d}" for n in range(PER_CHAT)]
    for person in people:
        assert seen[str(person.id)] == expected, person.name
        assert person.texts == [f"got {n}" for n in expected], person.name
    assert peak[0] > 1, "different chats should have been handled concurrently"


def _update(update_id: int, chat_id: int | None) -> Update:
    user = User(id=chat_id or 7, first_name="x", is_bot=False)
    if chat_id is None:
        return Update(update_id=update_id)
    chat = Chat(id=chat_id, type=Chat.PRIVATE)
    message = Message(
        message_id=update_id, date=datetime.now(UTC), chat=chat, from_user=user, text="t"
    )
    return Update(update_id=update_id, message=message)


async def _feed(
    processor: ChatOrderedProcessor, work: Sequence[tuple[Update, Awaitable[Any]]]
) -> None:
    """As PTB does: one task per update, created in arrival order."""
    tasks = [asyncio.create_task(processor.process_update(u, c)) for u, c in work]
    await asyncio.gather(*tasks)
    await processor.wait_idle()


async def test_bounded_number_of_chats_at_once() -> None:
    processor = ChatOrderedProcessor(max_concurrent_updates=3)
    busy = peak = 0
    done: list[tuple[int, int]] = []

    async def job(chat: int, n: int) -> None:
        nonlocal busy, peak
        busy += 1
        peak = max(peak, busy)
        await asyncio.sleep(0.005)
        busy -= 1
        done.append((chat, n))

    async with processor:
        work = [(_update(10 * c + n, c + 1), job(c + 1, n)) for n in range(4) for c in range(8)]
        await _feed(processor, work)
        assert processor.chats_in_hand == 0
    assert peak == 3
    for chat in range(1, 9):
        assert [n for c, n in done if c == chat] == [0, 1, 2, 3]


async def test_a_failing_update_does_not_stop_the_chat(caplog: pytest.LogCaptureFixture) -> None:
    processor = ChatOrderedProcessor()
    done: list[int] = []

    async def job(n: int) -> None:
        await asyncio.sleep(0)
        if n == 1:
            raise RuntimeError("boom")
        done.append(n)

    async with processor:
        await _feed(processor, [(_update(n, 5), job(n)) for n in range(4)])
    assert done == [0, 2, 3]
    assert "telegram update processing failed" in caplog.text


async def test_updates_without_a_chat_do_not_wait() -> None:
    processor = ChatOrderedProcessor()
    gate = asyncio.Event()
    done: list[str] = []

    async def blocked() -> None:
        await gate.wait()
        done.append("chat")

    async def free() -> None:
        done.append("no chat")
        gate.set()

    async with processor:
        await _feed(processor, [(_update(1, 5), blocked()), (_update(2, None), free())])
    assert done == ["no chat", "chat"]


async def test_cancelled_chat_closes_what_never_ran() -> None:
    processor = ChatOrderedProcessor()
    started = asyncio.Event()
    ran: list[int] = []

    async def first() -> None:
        started.set()
        await asyncio.sleep(10)

    async def later() -> None:
        ran.append(1)

    async with processor:
        serving = asyncio.create_task(processor.process_update(_update(1, 5), first()))
        await started.wait()
        queued = later()
        await processor.process_update(_update(2, 5), queued)  # returns at once: queued
        serving.cancel()
        with pytest.raises(asyncio.CancelledError):
            await serving
        await processor.wait_idle()
    assert ran == []
    assert inspect.getcoroutinestate(queued) == inspect.CORO_CLOSED  # not left dangling


def test_chat_key() -> None:
    assert chat_key(_update(1, 42)) == 42
    assert chat_key(_update(2, None)) is None
    assert chat_key("not an update") is None
    with pytest.raises(ValueError, match="positive"):
        ChatOrderedProcessor(0)


async def test_tracked_says_whether_the_update_ran_to_its_end() -> None:
    """What the webhook waits for: True once processing ended (a failure inside too), also
    when it ran in the task serving its chat; False when it was cut short or never ran."""
    processor = ChatOrderedProcessor()
    gate = asyncio.Event()

    async def first() -> None:
        await gate.wait()

    async def failing() -> None:
        raise RuntimeError("a handler's bug")

    async def endless() -> None:
        await asyncio.sleep(10)

    async with processor:
        work, done = tracked(first())
        serving = asyncio.create_task(processor.process_update(_update(1, 5), work))
        await asyncio.sleep(0)
        queued, queued_done = tracked(failing())
        await processor.process_update(_update(2, 5), queued)  # behind the first: returns
        assert not queued_done.done()
        gate.set()
        assert await done is True
        assert await queued_done is True  # ran in the serving task; its failure was logged
        await serving

        work, done = tracked(endless())
        serving = asyncio.create_task(processor.process_update(_update(3, 5), work))
        await asyncio.sleep(0)
        never, never_done = tracked(failing())
        await processor.process_update(_update(4, 5), never)
        serving.cancel()
        with pytest.raises(asyncio.CancelledError):
            await serving
        assert (await done, await never_done) == (False, False)
