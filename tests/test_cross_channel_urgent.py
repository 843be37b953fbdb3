"""An urgent warning composed on Telegram and on Signal through the real clients: on Telegram
the flow keeps one message on screen, edited at each button (a new one only after typed text);
on Signal, where options are numbered lines, every step is a new message."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.domain import Role
from bot.emulator.people import FakeUser
from bot.services import invites
from bot.signal_emulator.people import FakePerson
from tests.support.cross_channel import World, cross_channel_world
from tests.support.engine import TEST_KEYS

WHAT = "Fentanyl in blue pills around Main & Hastings. Don't use alone; carry naloxone."


@pytest.fixture
async def world(sessions: async_sessionmaker[AsyncSession]) -> AsyncIterator[World]:
    async with cross_channel_world(sessions, seed=5) as built:
        yield built


async def _invite(world: World) -> str:
    async with world.sessions.begin() as session:
        return await invites.create(
            session,
            codes_key=TEST_KEYS.codes,
            role=Role.COORDINATOR,
            ttl=world.engine.deps.config.invite_ttl,
            now=world.engine.clock(),
        )


async def _telegram_coordinator(world: World) -> FakeUser:
    coco = world.telegram.user("coco", language_code="en")
    await coco.command("join", await _invite(world))
    return coco


async def _signal_coordinator(world: World) -> FakePerson:
    sig = world.signal.person("sig")
    await sig.say(f"/join {await _invite(world)}")
    return sig


async def test_urgent_on_telegram_is_one_message_edited_then_the_preview(world: World) -> None:
    coco = await _telegram_coordinator(world)
    joined = len(coco.chat.messages)
    [menu] = await coco.command("broadcast")
    [where] = await coco.tap("🚨 Urgent warning")
    [ask] = await coco.tap("Strathcona")
    assert menu is where is ask  # one message, edited twice
    assert ask.text.startswith("What's happening?")
    assert menu.edits == 2
    [preview] = await coco.say(WHAT)  # after typed text: a new message
    assert preview is not menu
    assert preview.text.startswith("Preview of A1")
    assert f"What's happening: {WHAT}" in preview.text
    [sent] = await coco.tap("Send now")
    assert sent is preview
    assert sent.text.startswith("Sending A1")
    # 4 actions to the preview, 5 to sent; the chat holds 2 flow messages, no stale buttons.
    flow = coco.chat.messages[joined:]
    assert len(flow) == 2
    assert menu.buttons == ["Cancel"]  # still this conversation's: it cancels the draft
    assert not [e for e in world.telegram.errors if e.code == 400]


async def test_urgent_on_signal_is_a_new_message_per_step(world: World) -> None:
    sig = await _signal_coordinator(world)
    joined = len(sig.inbox)
    await sig.say("/broadcast")
    await sig.pick("🚨 Urgent warning")
    await sig.pick("Strathcona")
    [preview] = await sig.say(WHAT)
    assert preview.text.startswith("Preview of A1")
    [sent] = await sig.pick("Send now")
    assert sent.text.startswith("Sending A1")
    assert len(sig.inbox) - joined == 5  # one per action: Signal cannot edit a list


async def test_full_path_on_telegram_edits_between_typed_answers(world: World) -> None:
    coco = await _telegram_coordinator(world)
    joined = len(coco.chat.messages)
    await coco.command("broadcast")
    for label in ("New alert", "Bad batch", "Danger", "Strathcona", "Done"):
        await coco.tap(label)
    await coco.say("down")
    await coco.say("nitazenes")
    await coco.tap("Skip")
    await coco.tap("Skip")
    await coco.say("Don't use alone.")
    [preview] = await coco.tap("1 day")
    assert preview.text.startswith("Preview of A1")
    await coco.tap("Send now")
    # 13 actions; a message for the command and one after each typed answer, edited else.
    assert len(coco.chat.messages) - joined == 4
    assert not [e for e in world.telegram.errors if e.code == 400]
