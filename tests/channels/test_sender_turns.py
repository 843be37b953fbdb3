"""One person's messages one at a time and in order: in one instance (SenderQueues) and across
instances (DatabaseTurns, PostgreSQL)."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.channels.sender_turns import DatabaseTurns, Job, SenderQueues, turn_key
from bot.core.engine import lock_key
from tests.support.waiting import until

ANA = "a1" * 32  # pseudonyms: 64 hex digits
BOB = "b2" * 32


def _job(log: list[str], name: str, gate: asyncio.Event | None = None) -> Job:
    async def job() -> None:
        log.append(f"{name} start")
        if gate is not None:
            await gate.wait()
        await asyncio.sleep(0)
        log.append(f"{name} end")

    return job


async def test_one_sender_in_order_and_queued_calls_return_at_once() -> None:
    queues, gate = SenderQueues(), asyncio.Event()
    log: list[str] = []
    serving = asyncio.create_task(queues.run("ana", _job(log, "a1", gate)))
    await until(lambda: log == ["a1 start"])
    # Queued behind a1: each call returns at once (the consumer is free for other people).
    for name in ("a2", "a3"):
        await asyncio.wait_for(queues.run("ana", _job(log, name)), 1)
    assert queues.in_hand == 1
    # Another person does not wait for ana.
    await queues.run("bob", _job(log, "b1"))
    assert log == ["a1 start", "b1 start", "b1 end"]
    gate.set()
    await serving
    assert log[3:] == ["a1 end", "a2 start", "a2 end", "a3 start", "a3 end"]
    assert queues.in_hand == 0  # nobody's address is kept once their messages are done


async def test_a_failing_message_does_not_stop_the_next(caplog: pytest.LogCaptureFixture) -> None:
    queues, gate = SenderQueues(), asyncio.Event()
    log: list[str] = []

    async def broken() -> None:
        await gate.wait()
        raise RuntimeError("+447700900123 in the message")

    serving = asyncio.create_task(queues.run("ana", broken))
    await asyncio.sleep(0)
    await queues.run("ana", _job(log, "a2"))
    gate.set()
    await serving
    assert log == ["a2 start", "a2 end"]
    assert "RuntimeError" in caplog.text
    assert "+4477" not in caplog.text


def test_turn_keys_are_int4_and_apart_from_the_engine_lock() -> None:
    assert -(2**31) <= turn_key(ANA) < 2**31
    assert turn_key(ANA) != turn_key(BOB)
    assert lock_key(ANA) != turn_key(ANA)  # another key space anyway (two int4 vs one bigint)


async def test_a_persons_turn_spans_instances(
    sessions: async_sessionmaker[AsyncSession], backend: str
) -> None:
    """A second holder of ana's turn (another instance) waits until the first ends; bob's
    turn does not; the engine's own lock for ana is free inside her turn."""
    if backend != "postgresql":
        pytest.skip("turns across instances exist on PostgreSQL only")
    turns = DatabaseTurns(sessions)
    log: list[str] = []
    release = asyncio.Event()

    async def hold(alias: str, name: str, until_set: asyncio.Event | None = None) -> None:
        async with turns.hold(alias):
            log.append(f"{name} in")
            if until_set is not None:
                await until_set.wait()
            log.append(f"{name} out")

    first = asyncio.create_task(hold(ANA, "x", release))
    await until(lambda: log == ["x in"])
    second = asyncio.create_task(hold(ANA, "y"))
    await asyncio.wait_for(hold(BOB, "bob"), 5)
    async with sessions.begin() as session:  # what Engine._serialise takes, inside a turn
        await session.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": lock_key(ANA)})
    await asyncio.sleep(0.2)  # y would be in by now, were it not waiting
    assert log == ["x in", "bob in", "bob out"]
    release.set()
    await asyncio.wait_for(asyncio.gather(first, second), 5)
    assert log[3:] == ["x out", "y in", "y out"]


async def test_a_turn_ends_when_its_holder_fails(
    sessions: async_sessionmaker[AsyncSession], backend: str
) -> None:
    if backend != "postgresql":
        pytest.skip("turns across instances exist on PostgreSQL only")
    turns = DatabaseTurns(sessions)
    with pytest.raises(RuntimeError):
        async with turns.hold(ANA):
            raise RuntimeError("handler failed")
    async with asyncio.timeout(5), turns.hold(ANA):
        pass
