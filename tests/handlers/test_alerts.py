"""/alerts, /stop and STOP as transcripts."""

from __future__ import annotations

from bot.services import alerts, subscriptions
from tests.handlers.peer_world import Sessions, World, make_world
from tests.support.alerts import bad_batch_draft
from tests.support.chat import texts

EXPIRED = "That button has expired. Here is the menu."


async def _areas(world: World, who: str) -> list[str]:
    person = await world.contact_id(who)
    async with world.sessions() as session:
        return await subscriptions.areas_of(session, contact_id=person)


async def test_add_and_remove_areas(sessions: Sessions) -> None:
    world = await make_world(sessions, coordinator=None)
    chat = world.chat
    [reply] = await chat.say("ana", "/alerts")
    assert reply.text.startswith("You get no alerts yet.")
    [ask] = await chat.tap("ana", "Add an area")
    assert "Everywhere" in [o.label for o in ask.options]
    [added] = await chat.tap("ana", "Strathcona")
    assert added.text.startswith("Added: Strathcona.\n\nYou get alerts for: Strathcona")
    await chat.tap("ana", "Add an area")
    [typed] = await chat.say("ana", "gastown")
    assert "You get alerts for: Gastown, Strathcona" in typed.text
    assert await _areas(world, "ana") == ["gastown", "strathcona"]

    await chat.tap("ana", "Remove an area")
    [removed] = await chat.tap("ana", "Gastown")
    assert removed.text.startswith("Removed: Gastown.")
    assert await _areas(world, "ana") == ["strathcona"]


async def test_everywhere_and_current_alerts(sessions: Sessions) -> None:
    world = await make_world(sessions, coordinator=None)
    await world.chat.say("ana", "/alerts")
    await world.chat.tap("ana", "Add an area")
    await world.chat.tap("ana", "Everywhere")
    async with sessions.begin() as session:
        draft = await bad_batch_draft(
            session, gazetteer=world.engine.deps.content.gazetteer, now=world.clock.now
        )
        await alerts.send_now(session, alert_id=draft.id, now=world.clock.now)
    [reply] = await world.chat.say("ana", "/alerts")
    assert "You get alerts for: Everywhere" in reply.text
    assert "Found to contain: nitazenes" in reply.text
    world.clock.advance(days=4)  # past its lifetime: no longer current
    [later] = await world.chat.say("ana", "/alerts")
    assert "nitazenes" not in later.text
    assert "No current alerts for your areas." in later.text


async def test_stop_in_one_step_any_case(sessions: Sessions) -> None:
    world = await make_world(sessions, coordinator=None)
    chat = world.chat
    for word in ("STOP", "/stop", "  sToP "):
        await chat.say("ana", "/alerts")
        await chat.tap("ana", "Add an area")
        await chat.tap("ana", "Strathcona")
        answer = await chat.say("ana", word)
        assert texts(answer).startswith("Stopped. You will get no more alerts.")
        assert await _areas(world, "ana") == []
    # Outside /alerts too, and when nothing is on.
    assert texts(await chat.say("ana", "stop")).startswith("You get no alerts, so there was")


async def test_bad_input_changes_nothing(sessions: Sessions) -> None:
    world = await make_world(sessions, coordinator=None)
    chat = world.chat
    await chat.say("ana", "/alerts")
    await chat.tap("ana", "Add an area")
    [unknown] = await chat.say("ana", "Atlantis")
    assert unknown.text.startswith("I don't know a place called “Atlantis”.")
    run = unknown.options[0].payload.split(":")[1]
    assert texts(await chat.press("ana", f"al:{run}:sub:nowhere")) == EXPIRED
    assert texts(await chat.press("ana", f"al:{run}:page:99")) == EXPIRED
    assert texts(await chat.press("ana", "al:zzzz:sub:dtes")) == EXPIRED
    assert await _areas(world, "ana") == []


async def test_stop_in_another_conversation(sessions: Sessions) -> None:
    world = await make_world(sessions, coordinator=None)
    chat = world.chat
    await chat.say("ana", "/alerts")
    await chat.tap("ana", "Add an area")
    await chat.tap("ana", "Everywhere")
    await chat.say("ana", "/supplies")
    answer = await chat.say("ana", "Stop")
    assert texts(answer).startswith("Stopped. You will get no more alerts.")
    assert await _areas(world, "ana") == []
