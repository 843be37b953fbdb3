"""/broadcast and /scheduled as transcripts: compose, preview, send, schedule, refuse."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.domain import AlertStatus
from bot.services import alerts
from bot.services.outbox import run_alert_due
from tests.handlers.peer_world import Sessions, World, make_world
from tests.support.chat import texts

REFUSAL = "This command is for coordinators."


async def _subscribe(world: World, who: str, area: str) -> None:
    await world.chat.say(who, "/alerts")
    await world.chat.tap(who, "Add an area")
    await world.chat.say(who, area)


async def _compose(world: World, *areas: str) -> str:
    """``coco`` composes a bad-batch warning for ``areas`` up to its preview; returns it."""
    chat = world.chat
    await chat.say("coco", "/broadcast")
    await chat.tap("coco", "Bad batch")
    await chat.tap("coco", "Danger")
    for area in areas:
        await chat.tap("coco", area)
    await chat.tap("coco", "Done")
    await chat.say("coco", "down")
    await chat.say("coco", "nitazenes")
    await chat.tap("coco", "Skip")
    await chat.tap("coco", "Skip")
    await chat.say("coco", "Don't use alone. Test a small amount first.")
    [preview] = await chat.tap("coco", "1 day")
    return preview.text


async def test_compose_preview_and_send(sessions: Sessions) -> None:
    world = await make_world(sessions)
    await _subscribe(world, "ana", "Strathcona")
    await _subscribe(world, "bo", "Kitsilano")
    preview = await _compose(world, "Strathcona")
    assert preview.startswith("Preview of A1: this is exactly what people will get.")
    assert "Sold as: down" in preview
    assert "Found to contain: nitazenes" in preview
    assert "If sent now, it goes to 1 person." in preview

    [sent] = await world.chat.tap("coco", "Send now")
    assert sent.text.startswith("A1 is being sent to 1 person.")
    await run_alert_due(world.engine, budget=2.0)
    got = texts(world.chat.inbox("ana")[-1:])
    assert got.startswith("🔴 Urgent notice from your community group")
    assert "Found to contain: nitazenes" in got
    assert not any("nitazenes" in r.text for r in world.chat.inbox("bo"))


async def test_cancel_at_preview_sends_nothing(sessions: Sessions) -> None:
    world = await make_world(sessions)
    await _subscribe(world, "ana", "Strathcona")
    await _compose(world, "Strathcona")
    assert texts(await world.chat.tap("coco", "Cancel")) == "Cancelled. Nothing was sent."
    async with sessions() as session:
        view = await alerts.get(session, alert_id=1)
    assert view is not None
    assert view.status is AlertStatus.CANCELLED


async def test_schedule_list_and_cancel(sessions: Sessions) -> None:
    world = await make_world(sessions)
    await _compose(world, "Gastown")
    await world.chat.tap("coco", "Schedule…")
    [bad] = await world.chat.say("coco", "tomorrow evening")
    assert bad.text.startswith("That is not a date and time in the future")
    [done] = await world.chat.say("coco", "2026-11-26 18:00")
    assert (
        done.text
        == "A1 is scheduled for 2026-11-26 18:00 (America/Vancouver). /scheduled lists it."
    )
    [listed] = await world.chat.say("coco", "/scheduled")
    assert "A1 · Bad batch · Gastown · 2026-11-26 18:00 (America/Vancouver)" in listed.text
    [cancelled] = await world.chat.tap("coco", "Cancel A1")
    assert cancelled.text.startswith("A1 is cancelled.\n\nNo alerts are scheduled.")


async def test_others_are_refused(sessions: Sessions) -> None:
    world = await make_world(sessions)
    await world.chat.say("coco", "/broadcast")
    run = world.chat.last("coco").options[0].payload.split(":")[1]
    for command in ("/broadcast", "/scheduled"):
        assert texts(await world.chat.say("eve", command)) == REFUSAL
    assert texts(await world.chat.press("eve", f"bc:{run}:kind:bad_batch")) == REFUSAL


async def test_areas_need_a_choice_and_buttons_are_checked(sessions: Sessions) -> None:
    world = await make_world(sessions)
    chat = world.chat
    await chat.say("coco", "/broadcast")
    await chat.tap("coco", "Safety message")
    [typed] = await chat.say("coco", "3")
    assert typed.text.startswith("Please choose one of the buttons.")
    await chat.tap("coco", "Advisory")
    [none] = await chat.tap("coco", "Done")
    assert none.text.startswith("Choose at least one area, or Everywhere.")
    run = none.options[0].payload.split(":")[1]
    assert "expired" in texts(await chat.press("coco", f"bc:{run}:area:atlantis"))


@settings(
    max_examples=15,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(text=st.text(max_size=300).filter(lambda s: not s.lstrip().startswith("/")))
async def test_hostile_field_text_gets_a_clear_answer(sessions: Sessions, text: str) -> None:
    world = await make_world(sessions)
    chat = world.chat
    await chat.say("coco", "/broadcast")
    await chat.tap("coco", "Bad batch")
    await chat.tap("coco", "Warning")
    await chat.tap("coco", "Everywhere")
    [answer] = await chat.say("coco", text)
    assert answer.text.startswith(("That can't be used", "What was it found to contain?"))
    assert answer.options
