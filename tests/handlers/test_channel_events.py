"""Coordinators hear when Signal pauses sending for a captcha (through the runner's hook)."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from bot.runner import signal_challenge_hook
from handlers import channel_events
from tests.handlers.peer_world import Sessions, make_world
from tests.support.chat import texts


@dataclass
class _Challenge:
    tokens: tuple[str, ...]


async def test_every_coordinator_is_told_with_the_token(sessions: Sessions) -> None:
    world = await make_world(sessions, coordinator="coco")
    await world.coordinator("cleo")
    await world.chat.say("ana", "/start")
    before = len(world.chat.inbox("ana"))

    await signal_challenge_hook(world.engine)(_Challenge(tokens=("tok-123",)))

    for who in ("coco", "cleo"):
        notice = texts(world.chat.inbox(who)[-1:])
        assert notice.startswith("Signal sending is paused")
        assert "Challenge token: tok-123" in notice
        assert "README" in notice
    assert len(world.chat.inbox("ana")) == before  # people are not told


async def test_hook_never_raises(
    sessions: Sessions, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    world = await make_world(sessions, coordinator="coco")

    async def broken(_session: object) -> list[int]:
        raise RuntimeError("database went away")

    monkeypatch.setattr(channel_events, "coordinator_contacts", broken)
    await signal_challenge_hook(world.engine)(_Challenge(tokens=()))
    assert "could not tell coordinators" in caplog.text
