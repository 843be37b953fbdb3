"""/broadcast: the time to reach everyone, and Telegram's paid broadcast chosen from the
preview (only when switched on and within the cap; the cap checked again at sending)."""

from __future__ import annotations

from bot.core.context import Config
from bot.services import alerts
from bot.services.alerts import Pace
from bot.services.outbox import run_alert_due
from tests.handlers.peer_world import Sessions, World, make_world
from tests.handlers.test_broadcast import _compose, _subscribe
from tests.support.alerts import add_subscribers

ONE_STAR = Config(pace=Pace(max_stars=1))  # ten messages at most


async def _paid(sessions: Sessions, alert_id: int = 1) -> bool:
    async with sessions() as session:
        view = await alerts.get(session, alert_id=alert_id)
    assert view is not None
    return view.paid


async def _others(sessions: Sessions, n: int) -> None:
    """``n`` more people subscribed to Strathcona (not in the chat transcript)."""
    async with sessions.begin() as session:
        await add_subscribers(session, [f"other-{i}" for i in range(n)], ["strathcona"])


def _labels(world: World) -> list[str]:
    return [o.label for o in world.chat.last("coco").options]


async def test_without_a_cap_paid_is_never_offered(sessions: Sessions) -> None:
    world = await make_world(sessions)
    await _subscribe(world, "ana", "Strathcona")
    preview = await _compose(world, "Strathcona")
    assert "If sent now, it goes to 1 person.\nReaches everyone in about 1 s." in preview
    assert "Paid broadcast" not in preview
    assert not any("Paid broadcast" in label for label in _labels(world))


async def test_the_estimate_comes_first_then_paid_is_chosen_and_sent_paid(
    sessions: Sessions,
) -> None:
    world = await make_world(sessions, config=ONE_STAR)
    await _subscribe(world, "ana", "Strathcona")
    await _others(sessions, 2)
    preview = await _compose(world, "Strathcona")
    assert "Paid broadcast: 3 Telegram messages × 0.1 Stars = 0.3 Stars (at most 1)." in preview
    assert "Chosen:" not in preview
    assert "Paid broadcast (0.3 Stars)" in _labels(world)

    [chosen] = await world.chat.tap("coco", "Paid broadcast (0.3 Stars)")
    assert chosen.text.startswith("Preview of A1")
    assert "Chosen: it goes out as a paid broadcast, up to 1,000 messages a second." in chosen.text
    assert "✓ Paid broadcast" in _labels(world)
    assert await _paid(sessions)

    await world.chat.tap("coco", "✓ Paid broadcast")  # back to free
    assert not await _paid(sessions)
    await world.chat.tap("coco", "Paid broadcast (0.3 Stars)")

    [sending] = await world.chat.tap("coco", "Send now")
    assert sending.text.startswith("Sending A1 to 3 people.")
    await run_alert_due(world.engine, budget=2.0)
    [alert] = world.chat.inbox("ana")[-1:]
    assert alert.paid  # what the channel turns into allow_paid_broadcast
    [report] = world.chat.inbox("coco")[-1:]
    assert report.text.startswith("Alert A1 is done: sent 3,")
    assert not report.paid
    assert "From sending to the last delivery: 1 s." in report.text


async def test_over_the_cap_it_is_not_offered(sessions: Sessions) -> None:
    world = await make_world(sessions, config=ONE_STAR)
    await _others(sessions, 11)
    preview = await _compose(world, "Strathcona")
    assert "= 1.1 Stars (at most 1)." in preview
    assert "Not offered: over the limit, or no one on Telegram." in preview
    assert not any("Paid broadcast" in label for label in _labels(world))


async def test_the_cap_is_checked_again_at_sending(sessions: Sessions) -> None:
    world = await make_world(sessions, config=ONE_STAR)
    await _others(sessions, 10)
    await _compose(world, "Strathcona")
    await world.chat.tap("coco", "Paid broadcast (1.0 Stars)")
    assert await _paid(sessions)
    await _others(sessions, 1)  # 11 now: 1.1 Stars
    [sending] = await world.chat.tap("coco", "Send now")
    assert sending.text.startswith(
        "A1 goes out as a free broadcast, at the usual pace: with the people it reaches now, "
        "a paid broadcast would cost more than the limit.\nSending A1 to 11 people."
    )
    assert not await _paid(sessions)


async def test_an_update_of_a_paid_alert_starts_paid_and_can_go_free(sessions: Sessions) -> None:
    world = await make_world(sessions, config=ONE_STAR)
    await _subscribe(world, "ana", "Strathcona")
    await _compose(world, "Strathcona")
    await world.chat.tap("coco", "Paid broadcast (0.1 Stars)")
    await world.chat.tap("coco", "Send now")
    await run_alert_due(world.engine, budget=2.0)

    await world.chat.say("coco", "/broadcast update A1")
    await world.chat.tap("coco", "Skip")
    await world.chat.say("coco", "also xylazine")
    for _ in range(3):
        await world.chat.tap("coco", "Skip")
    preview = world.chat.last("coco")
    assert preview.text.startswith("Preview of A2 for A1")
    assert "Chosen: it goes out as a paid broadcast" in preview.text
    [free] = await world.chat.tap("coco", "✓ Paid broadcast")
    assert free.text.startswith("Preview of A2 for A1")
    assert not await _paid(sessions, 2)
