"""The urgent warning: four actions to its preview, the flow's message replaced in place, and
details added from the preview."""

from __future__ import annotations

from datetime import timedelta

from bot.core.messages import Reply
from bot.core.ratelimit import RateLimiter
from bot.domain import AlertKind, AlertStatus
from bot.services import alerts
from bot.services.alerts import AlertView
from bot.services.outbox import run_alert_due
from tests.handlers.peer_world import Sessions, World, make_world
from tests.support.chat import texts

WHAT = "Fentanyl in pressed blue pills, Main & Hastings. Don't use alone, carry naloxone."
FAST = "You are sending messages very fast"


class Counted:
    """The coordinator's actions, counted: each is one message typed or one button pressed."""

    def __init__(self, world: World, who: str = "coco") -> None:
        self.world, self.who, self.actions = world, who, 0

    async def say(self, text: str) -> list[Reply]:
        self.actions += 1
        return await self.world.chat.say(self.who, text)

    async def tap(self, label: str) -> list[Reply]:
        self.actions += 1
        return await self.world.chat.tap(self.who, label)


async def _subscribe(world: World, who: str, area: str) -> None:
    await world.chat.say(who, "/alerts")
    await world.chat.tap(who, "Add an area")
    await world.chat.say(who, area)


async def _draft(sessions: Sessions, alert_id: int = 1) -> AlertView:
    async with sessions() as session:
        view = await alerts.get(session, alert_id=alert_id)
    assert view is not None
    return view


async def test_urgent_warning_reaches_its_preview_in_four_actions(sessions: Sessions) -> None:
    world = await make_world(sessions)
    await _subscribe(world, "ana", "Strathcona")
    await _subscribe(world, "bo", "Kitsilano")
    coco = Counted(world)
    [menu] = await coco.say("/broadcast")
    assert [o.label for o in menu.options][:2] == ["🚨 Urgent warning", "New alert"]
    [where] = await coco.tap("🚨 Urgent warning")
    assert where.text == "🚨 Urgent warning. Where?"
    assert "Everywhere" in [o.label for o in where.options]
    [ask] = await coco.tap("Strathcona")  # one tap: chosen, no Done
    assert ask.text.startswith("What's happening? One message: what it is, where, what to do.")
    [preview] = await coco.say(WHAT)
    assert coco.actions == 4

    assert preview.text.startswith("Preview of A1: this is exactly what people will get.")
    assert "🔴" in preview.text  # danger
    assert "Bad batch warning · Areas: Strathcona" in preview.text
    assert f"What's happening: {WHAT}" in preview.text
    assert "If sent now, it goes to 1 person." in preview.text
    assert [o.label for o in preview.options][:3] == ["Send now", "Schedule…", "Add details…"]
    draft = await _draft(sessions)
    assert (draft.kind, draft.severity, draft.status) == (AlertKind.BAD_BATCH, 3, AlertStatus.DRAFT)
    assert draft.lifetime == timedelta(hours=24)
    assert dict(draft.fields) == {"summary": WHAT}
    assert draft.areas == ("strathcona",)

    [sent] = await coco.tap("Send now")
    assert coco.actions == 5
    assert sent.text.startswith("Sending A1 to 1 person.")
    await run_alert_due(world.engine, budget=2.0)
    got = texts(world.chat.inbox("ana")[-1:])
    assert f"What's happening: {WHAT}" in got
    assert not any(WHAT in r.text for r in world.chat.inbox("bo"))


async def test_urgent_command_and_everywhere(sessions: Sessions) -> None:
    world = await make_world(sessions)
    coco = Counted(world)
    await coco.say("/urgent")
    await coco.tap("Everywhere")
    [preview] = await coco.say(WHAT)
    assert coco.actions == 3
    assert "Bad batch warning · Areas: " in preview.text
    assert (await _draft(sessions)).areas == ("*",)


async def test_urgent_text_that_cannot_be_used_is_asked_again(sessions: Sessions) -> None:
    world = await make_world(sessions)
    chat = world.chat
    await chat.say("coco", "/urgent")
    await chat.tap("coco", "Strathcona")
    [again] = await chat.say("coco", "x" * 601)
    assert again.text.startswith("That can't be used: plain text only, up to 600 characters.")
    [again] = await chat.tap("coco", "Cancel")
    assert again.text == "Cancelled. Nothing was sent."
    async with sessions() as session:
        assert await alerts.get(session, alert_id=1) is None  # no draft was made


def _at(world: World, reply: Reply) -> str:
    """The reference a button press on ``reply`` carries: its place in coco's inbox."""
    return str(next(i for i, r in enumerate(world.chat.inbox("coco")) if r is reply))


async def test_the_flow_message_is_replaced_in_place(sessions: Sessions) -> None:
    """Each step answering a button carries the pressed message's reference; after typed
    text the next message is new, and the buttons on it then edit that one."""
    world = await make_world(sessions)
    chat = world.chat
    [menu] = await chat.say("coco", "/broadcast")
    assert menu.edit is None  # a command: a new message
    [where] = await chat.tap("coco", "🚨 Urgent warning")
    assert where.edit == _at(world, menu)  # the menu is replaced
    [ask] = await chat.tap("coco", "Strathcona")
    assert ask.edit == _at(world, where)  # the message holding the pressed button
    [preview] = await chat.say("coco", WHAT)
    assert preview.edit is None  # typed text cannot be edited into: a new message
    [details] = await chat.tap("coco", "Add details…")
    assert details.edit == _at(world, preview)
    [severity] = await chat.tap("coco", "How serious")
    assert severity.edit == _at(world, details)
    [again] = await chat.tap("coco", "Warning")
    assert again.edit == _at(world, severity)
    assert again.text.startswith("Changed. This is how it reads now.")
    [sent] = await chat.tap("coco", "Send now")
    assert sent.edit == _at(world, again)
    assert (await _draft(sessions)).severity == 2


async def test_full_flow_edits_its_message_at_each_button(sessions: Sessions) -> None:
    world = await make_world(sessions)
    chat = world.chat
    [shown] = await chat.say("coco", "/broadcast")
    for label in ("New alert", "Bad batch", "Danger", "Strathcona", "Done"):
        [reply] = await chat.tap("coco", label)
        assert reply.edit == _at(world, shown), label
        shown = reply
    assert shown.text.startswith("What is it sold as?")  # "What's happening" is not asked here
    [found] = await chat.say("coco", "down")
    assert found.edit is None
    [skipped] = await chat.tap("coco", "Skip")
    assert skipped.edit == _at(world, found)


async def test_details_added_from_the_preview(sessions: Sessions) -> None:
    world = await make_world(sessions)
    await _subscribe(world, "bo", "Gastown")
    chat = world.chat
    await chat.say("coco", "/urgent")
    await chat.tap("coco", "Strathcona")
    await chat.say("coco", WHAT)

    [menu] = await chat.tap("coco", "Add details…")
    labels = [o.label for o in menu.options]
    assert labels[:6] == [
        "✓ What's happening",
        "Sold as",
        "Found to contain",
        "Looks like",
        "Effects seen",
        "Advice",
    ]
    assert labels[6:] == ["How serious", "How long it stays current", "Areas", "Back"]
    [ask] = await chat.tap("coco", "Found to contain")
    assert ask.text.startswith("What was it found to contain?")
    [preview] = await chat.say("coco", "nitazenes")
    assert preview.text.startswith("Changed. This is how it reads now.")
    assert "Found to contain: nitazenes" in preview.text

    await chat.tap("coco", "Add details…")
    await chat.tap("coco", "How long it stays current")
    await chat.tap("coco", "3 days")
    await chat.tap("coco", "Add details…")
    await chat.tap("coco", "Areas")
    await chat.tap("coco", "Gastown")
    [preview] = await chat.tap("coco", "Done")
    assert "Areas: Gastown, Strathcona" in preview.text
    assert "If sent now, it goes to 1 person." in preview.text

    # A text already written can be changed, or left out while another remains.
    await chat.tap("coco", "Add details…")
    [ask] = await chat.tap("coco", "✓ Found to contain")
    assert "Now: nitazenes" in ask.text
    [preview] = await chat.tap("coco", "Leave it out")
    assert "Found to contain" not in preview.text

    draft = await _draft(sessions)
    assert dict(draft.fields) == {"summary": WHAT}
    assert draft.lifetime == timedelta(hours=72)
    assert set(draft.areas) == {"strathcona", "gastown"}

    # Typed text where a choice is expected changes nothing.
    await chat.tap("coco", "Add details…")
    [again] = await chat.say("coco", "hello")
    assert again.text.startswith("Please choose one of the buttons.")
    [back] = await chat.tap("coco", "Back")
    assert back.text.startswith("Preview of A1")


async def test_the_only_text_cannot_be_left_out(sessions: Sessions) -> None:
    world = await make_world(sessions)
    chat = world.chat
    await chat.say("coco", "/urgent")
    await chat.tap("coco", "Strathcona")
    await chat.say("coco", WHAT)
    await chat.tap("coco", "Add details…")
    [ask] = await chat.tap("coco", "✓ What's happening")
    assert [o.label for o in ask.options] == ["Back"]


async def test_a_coordinator_at_crisis_speed_is_not_held_back(sessions: Sessions) -> None:
    """The default flood guard: the urgent path's five actions in one second, and the full
    composing path's thirteen at two a second, all handled, none told to slow down."""
    world = await make_world(sessions)
    engine = world.engine
    engine.limiter = RateLimiter()  # the defaults, as in production
    now = [0.0]
    slept: list[float] = []

    async def sleep(seconds: float) -> None:
        slept.append(seconds)
        now[0] += seconds

    engine.monotonic = lambda: now[0]
    engine.sleep = sleep
    chat = world.chat

    async def step(action: str, label: str, gap: float) -> list[Reply]:
        now[0] += gap
        got = await (chat.say if action == "say" else chat.tap)("coco", label)
        assert got, f"{label!r} was lost"
        assert not any(FAST in r.text for r in got)
        return got

    await step("say", "/broadcast", 0.0)
    await step("tap", "🚨 Urgent warning", 0.2)
    await step("tap", "Strathcona", 0.2)
    await step("say", WHAT, 0.2)
    [sent] = await step("tap", "Send now", 0.2)
    assert sent.text.startswith("Sending A1")

    now[0] += 60.0  # a minute later, the next alert, the long way
    script = [
        ("say", "/broadcast"),
        ("tap", "New alert"),
        ("tap", "Bad batch"),
        ("tap", "Danger"),
        ("tap", "Strathcona"),
        ("tap", "Done"),
        ("say", "down"),
        ("say", "nitazenes"),
        ("tap", "Skip"),
        ("tap", "Skip"),
        ("say", "Don't use alone."),
        ("tap", "1 day"),
        ("tap", "Send now"),
    ]
    for action, label in script:
        got = await step(action, label, 0.5)
    assert got[-1].text.startswith("Sending A2")
    assert sum(slept) <= 2.0  # at most a short pause, never a refusal
