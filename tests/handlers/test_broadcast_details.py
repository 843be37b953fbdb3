"""/broadcast: how sure an alert is and which routes of use it is about, set from the preview."""

from __future__ import annotations

from bot.services import alerts
from bot.services.outbox import run_alert_due
from tests.handlers.peer_world import Sessions, World, make_world
from tests.handlers.test_broadcast import _compose, _subscribe
from tests.support.chat import texts


async def _draft(world: World, sessions: Sessions) -> alerts.AlertView:
    async with sessions() as session:
        view = await alerts.get(session, alert_id=1)
    assert view is not None
    return view


async def test_confidence_is_chosen_from_the_preview(sessions: Sessions) -> None:
    world = await make_world(sessions)
    preview = await _compose(world, "Strathcona")
    assert "Current until" in preview  # a draft: as if sent now
    assert "Confirmed by drug checking" not in preview
    [menu] = await world.chat.tap("coco", "Confidence…")
    assert menu.text.startswith("How sure is it?")
    assert [o.label for o in menu.options] == [
        "Confirmed by drug checking",
        "Seen by peers",
        "Community report, not confirmed",
        "✓ No line",
        "Back",
    ]
    [back] = await world.chat.tap("coco", "Seen by peers")
    assert back.text.startswith("Preview of A1")
    assert "\nSeen by peers\n" in back.text
    assert (await _draft(world, sessions)).confidence == "peers"

    [menu] = await world.chat.tap("coco", "Confidence…")
    assert "✓ Seen by peers" in [o.label for o in menu.options]
    [typed] = await world.chat.say("coco", "very sure")
    assert typed.text.endswith("How sure is it? People read this line under the heading.")
    [back] = await world.chat.tap("coco", "No line")
    assert "Seen by peers" not in back.text
    assert (await _draft(world, sessions)).confidence is None


async def test_routes_toggle_and_reach_people(sessions: Sessions) -> None:
    world = await make_world(sessions)
    await _subscribe(world, "ana", "Strathcona")
    await _compose(world, "Strathcona")
    [menu] = await world.chat.tap("coco", "Route…")
    assert [o.label for o in menu.options] == [
        "Smoked",
        "Injected",
        "Snorted",
        "Swallowed",
        "Done",
    ]
    await world.chat.tap("coco", "Injected")
    await world.chat.tap("coco", "Smoked")
    [menu] = await world.chat.tap("coco", "Swallowed")
    assert [o.label for o in menu.options][:4] == [
        "✓ Smoked",
        "✓ Injected",
        "Snorted",
        "✓ Swallowed",
    ]
    [menu] = await world.chat.tap("coco", "✓ Swallowed")  # off again
    assert (await _draft(world, sessions)).routes == ("smoked", "injected")
    [preview] = await world.chat.tap("coco", "Done")
    assert preview.text.startswith("Preview of A1")
    assert "• Smoking: take one small hit first" in preview.text
    assert "• Injecting: test a tiny amount first" in preview.text
    assert "Swallowing" not in preview.text

    await world.chat.tap("coco", "Send now")
    await run_alert_due(world.engine, budget=2.0)
    got = texts(world.chat.inbox("ana")[-1:])
    assert "• Injecting: test a tiny amount first" in got
    assert "Current until" in got
    # Strathcona's nearest sites (demo directory).
    assert "Drug checking: Hastings Drug Checking Counter (demo)" in got
    assert "Supervised consumption: Powell Street Overdose Prevention Site (demo)" in got


async def test_old_buttons_change_nothing(sessions: Sessions) -> None:
    world = await make_world(sessions)
    await _compose(world, "Strathcona")
    [menu] = await world.chat.tap("coco", "Route…")
    [injected] = [o.payload for o in menu.options if o.label == "Injected"]
    await world.chat.tap("coco", "Done")
    await world.chat.tap("coco", "Cancel")
    [gone] = await world.chat.press("coco", injected)
    assert "Injected" not in gone.text
    assert (await _draft(world, sessions)).routes == ()
