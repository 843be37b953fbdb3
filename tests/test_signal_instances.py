"""Two bot processes on one Signal number and one PostgreSQL database, both receiving.

signal-cli-rest-api pushes every message to every websocket connected for the number; the
emulator here (in this process) does the same. Two real bot processes
(``tests/support/signal_worker.py``: the composition root, the real Signal channel and
signalbot) connect to it at once, on one PostgreSQL database, with a route table that answers
"count N" to a person's Nth message (N kept in the conversation state):

1. 200 messages from 50 people, each in a burst of four, each received by both processes: every
   message is answered exactly once, and each person's answers come in order (count 1..4) —
   a duplicate, a lost message, a reordering or a forked conversation would show;
2. one process is SIGKILLed: the next message is answered by the other (measured, printed
   with ``-s``), and so is a burst from everyone.

PostgreSQL only: on SQLite one instance runs per database file (``bot.instance``).
"""

from __future__ import annotations

import asyncio
import os
import random
import signal
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

from bot.signal_emulator import FakePerson, SignalEmulator

ROOT = Path(__file__).resolve().parents[1]
PEOPLE = 50
BURST = 4
SECRET = "two-instances-master-secret-" + "s" * 24
WITHIN = 60.0  # a bound on a failure, not a measure of speed


class Jittery(SignalEmulator):
    """The emulator behind a network whose latency varies: a send reaches it 0–20 ms after
    it left, so a reply sent late by one instance may arrive after a later reply another
    instance sent — unless the first instance's turn lasts until its send is answered."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._jitter = random.Random(kwargs.get("seed", 0))

    async def _send(self, request: web.Request) -> web.StreamResponse:
        await asyncio.sleep(self._jitter.uniform(0, 0.02))
        return await super()._send(request)


def _env(db_url: str, emu: SignalEmulator, data_dir: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("HRBOT_")}
    env.update(
        {
            "HRBOT_DATABASE_URL": db_url,
            "HRBOT_SECRET_KEY": SECRET,
            # One data folder for both: nothing there keeps a second instance out any more.
            "HRBOT_DATA_DIR": str(data_dir),
            "HRBOT_SIGNAL_NUMBER": emu.number,
            "HRBOT_SIGNAL_SERVICE": emu.service,
        }
    )
    return env


async def _spawn(env: dict[str, str], log: Path) -> asyncio.subprocess.Process:
    handle = log.open("wb")
    try:
        return await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "tests.support.signal_worker",
            cwd=ROOT,
            env=env,
            stdout=handle,
            stderr=handle,
        )
    finally:
        handle.close()  # the child has its own copy


def _answered(people: list[FakePerson], n: int) -> bool:
    return all(len(person.inbox) >= n for person in people)


async def test_two_instances_answer_each_message_once_in_order(
    db_url: str, backend: str, tmp_path: Path
) -> None:
    if backend != "postgresql":
        pytest.skip(
            "several instances share a PostgreSQL database; SQLite is one instance's file "
            "(this runs as [postgresql] when HRBOT_TEST_POSTGRES_URL is set)"
        )
    emu = Jittery(seed=18)
    await emu.start()
    env = _env(db_url, emu, tmp_path / "data")
    logs = [tmp_path / "a.log", tmp_path / "b.log"]
    workers = [await _spawn(env, log) for log in logs]
    try:
        try:
            await emu.wait_for_receivers(2, within=WITHIN)
        except AssertionError:
            raise AssertionError("\n".join(log.read_text() for log in logs)) from None
        people = [emu.person(f"p{i}") for i in range(PEOPLE)]

        started = time.monotonic()
        for person in people:  # a burst each, back to back: their messages queue up
            for n in range(1, BURST + 1):
                assert await emu.push(person.frame(f"message {n}")) == 2
        await emu.wait_for(lambda: _answered(people, BURST), within=WITHIN, what="answers")
        handled = time.monotonic() - started
        await asyncio.sleep(1.0)  # a duplicate, were there one, would have arrived by now
        answers = len(emu.sent)
        in_order = sum(
            person.texts == [f"count {n}" for n in range(1, BURST + 1)] for person in people
        )

        victim, survivor = workers
        victim.send_signal(signal.SIGKILL)
        assert await asyncio.wait_for(victim.wait(), WITHIN) == -signal.SIGKILL
        killed = time.monotonic()
        first = people[0]
        await first.say("after the kill", within=30)
        after_kill = time.monotonic() - killed
        for person in people[1:]:
            await emu.push(person.frame("after the kill"))
        await emu.wait_for(lambda: _answered(people, BURST + 1), within=WITHIN, what="answers")
        everyone = time.monotonic() - killed
        await asyncio.sleep(0.5)
        assert survivor.returncode is None  # still running
    finally:
        for worker in workers:
            if worker.returncode is None:
                worker.kill()
                await worker.wait()
        await emu.stop()

    messages = PEOPLE * BURST
    print(
        f"\n2 instances, {messages} messages from {PEOPLE} people in bursts of {BURST}: "
        f"{answers} answers in {handled:.1f} s, {answers - messages} duplicates, "
        f"{in_order}/{PEOPLE} people answered in order; after SIGKILL of one instance the "
        f"next message was answered in {after_kill * 1000:.0f} ms, a burst from all "
        f"{PEOPLE} people in {everyone:.1f} s"
    )
    assert answers == messages
    assert in_order == PEOPLE
    assert [p.texts[-1] for p in people] == [f"count {BURST + 1}"] * PEOPLE
    assert len(emu.sent) == messages + PEOPLE  # after the kill, once each as well
    assert after_kill <= 30
    assert emu.problems == []
