"""/broadcast and /scheduled as transcripts: compose, send, schedule, repeat, follow-ups."""

from __future__ import annotations

import copy
import logging
import re
from datetime import UTC, datetime

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.domain import AlertStatus
from bot.privacy.redaction import RedactionFilter
from bot.services import alerts
from bot.services.outbox import run_alert_due
from tests.handlers.peer_world import Sessions, World, make_world
from tests.support.chat import Clock, texts

REFUSAL = "This command is for coordinators."


async def _subscribe(world: World, who: str, area: str) -> None:
    await world.chat.say(who, "/alerts")
    await world.chat.tap(who, "Add an area")
    await world.chat.say(who, area)


async def _compose(world: World, *areas: str) -> str:
    """``coco`` composes a bad-batch warning for ``areas`` up to its preview; returns it."""
    chat = world.chat
    await chat.say("coco", "/broadcast")
    await chat.tap("coco", "New alert")
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
    assert sent.text.startswith("Sending A1 to 1 person.")
    assert [o.label for o in sent.options] == ["Refresh"]
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
    await world.chat.tap("coco", "Once")
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
    await chat.tap("coco", "New alert")
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
    await chat.tap("coco", "New alert")
    await chat.tap("coco", "Bad batch")
    await chat.tap("coco", "Warning")
    await chat.tap("coco", "Everywhere")
    [answer] = await chat.say("coco", text)
    assert answer.text.startswith(("That can't be used", "What was it found to contain?"))
    assert answer.options


# --- progress ------------------------------------------------------------------------------------


async def test_progress_refresh_and_status(sessions: Sessions) -> None:
    world = await make_world(sessions)
    chat = world.chat
    for who in ("ana", "bo", "cy"):
        await _subscribe(world, who, "Strathcona")
    chat.sender.blocked.add("telegram-cy")
    await _compose(world, "Strathcona")
    [sent] = await chat.tap("coco", "Send now")
    assert sent.text.startswith("Sending A1 to 3 people.")
    [before] = await chat.tap("coco", "Refresh")
    assert "Sent 0 · pending 3 · failed 0 · unreachable 0 · unknown 0" in before.text

    await run_alert_due(world.engine, budget=2.0)
    assert "Alert A1 is done: sent 2, failed 0, unreachable 1" in chat.last("coco").text
    [after] = await chat.press("coco", sent.options[0].payload)  # the first message's button
    assert after.text.startswith("A1 has been sent: it is done.")
    assert "Sent 2 · pending 0 · failed 0 · unreachable 1 · unknown 0" in after.text
    assert not after.options
    [status] = await chat.say("coco", "/broadcast status A1")
    assert status.text == after.text

    assert texts(await chat.press("coco", "bcp:zz:refresh:999")) == "That button has expired."
    assert texts(await chat.press("coco", "bcp:zz:refresh:-1")) == "That button has expired."
    assert texts(await chat.press("eve", sent.options[0].payload)) == REFUSAL
    assert "No alert has that reference" in texts(await chat.say("coco", "/broadcast status x"))


# --- repeating -----------------------------------------------------------------------------------

# Saturday 13 March 2027, 12:00 in Vancouver (PST, UTC-8); clocks go forward on Sunday 14 March.
BEFORE_DST = datetime(2027, 3, 13, 20, 0, tzinfo=UTC)


async def test_repeat_via_the_ui_fires_at_local_time_across_dst(sessions: Sessions) -> None:
    clock = Clock(now=BEFORE_DST)
    world = await make_world(sessions, clock=clock)
    chat = world.chat
    await _subscribe(world, "ana", "Gastown")
    await _compose(world, "Gastown")
    await chat.tap("coco", "Schedule…")
    await chat.tap("coco", "Repeat…")
    await chat.tap("coco", "Monday")
    await chat.tap("coco", "Friday")
    [days] = await chat.tap("coco", "✓ Friday")  # untoggled
    assert [o.label for o in days.options][:5] == [
        "✓ Monday",
        "Tuesday",
        "Wednesday",
        "Thursday",
        "Friday",
    ]
    [ask] = await chat.tap("coco", "Done")
    assert ask.text == "At what time? Type the local time (America/Vancouver) like 18:00."
    [bad] = await chat.say("coco", "25:00")
    assert bad.text.startswith("That is not a time.")
    [done] = await chat.say("coco", "18:00")
    assert done.text == (
        "A1 will go out every Monday at 18:00, America/Vancouver time. "
        "Next: Monday 2027-03-15 18:00. /scheduled lists it and can stop it."
    )
    [listed] = await chat.say("coco", "/scheduled")
    assert (
        "A1 · Bad batch · Gastown · every Monday at 18:00, America/Vancouver time · "
        "next Monday 2027-03-15 18:00"
    ) in listed.text

    # 18:00 PDT is 01:00 UTC on the 16th (it would be 02:00 under PST).
    clock.now = datetime(2027, 3, 16, 0, 59, tzinfo=UTC)
    await run_alert_due(world.engine, budget=2.0)
    assert not any("Urgent notice" in r.text for r in chat.inbox("ana"))
    clock.now = datetime(2027, 3, 16, 1, 0, tzinfo=UTC)
    await run_alert_due(world.engine, budget=2.0)
    got = [r.text for r in chat.inbox("ana") if "Urgent notice" in r.text]
    assert len(got) == 1
    assert "Sold as: down" in got[0]

    [again] = await chat.say("coco", "/scheduled")
    assert "next Monday 2027-03-22 18:00" in again.text
    [cancelled] = await chat.tap("coco", "Cancel A1")
    assert cancelled.text.startswith(
        "A1 is cancelled: it will not repeat. Alerts it already sent are unchanged."
    )
    clock.now = datetime(2027, 3, 23, 2, 0, tzinfo=UTC)
    await run_alert_due(world.engine, budget=2.0)
    assert len([r for r in chat.inbox("ana") if "Urgent notice" in r.text]) == 1
    async with sessions() as session:
        occurrence = await alerts.get(session, alert_id=2)
    assert occurrence is not None
    assert occurrence.series_id == 1
    assert occurrence.status is AlertStatus.SENT


async def test_every_day_and_days_need_a_choice(sessions: Sessions) -> None:
    world = await make_world(sessions)
    chat = world.chat
    await _compose(world, "Gastown")
    await chat.tap("coco", "Schedule…")
    await chat.tap("coco", "Repeat…")
    [none] = await chat.tap("coco", "Done")
    assert none.text.startswith("Choose at least one day, or Every day.")
    [typed] = await chat.say("coco", "friday")
    assert typed.text.startswith("Please choose one of the buttons.")
    await chat.tap("coco", "Every day")
    [done] = await chat.say("coco", "9.30")
    # 19:00 UTC on 25 Nov is 11:00 in Vancouver: the next 09:30 is tomorrow's.
    assert done.text.startswith(
        "A1 will go out every day at 09:30, America/Vancouver time. "
        "Next: Thursday 2026-11-26 09:30."
    )


# --- updates and all clears ----------------------------------------------------------------------


async def _sent(world: World, *areas: str) -> None:
    await _compose(world, *areas)
    await world.chat.tap("coco", "Send now")
    await run_alert_due(world.engine, budget=2.0)


def _got(world: World, who: str, start: str) -> list[str]:
    return [r.text for r in world.chat.inbox(who) if r.text.startswith(start)]


async def _alert_count(sessions: Sessions) -> int:
    async with sessions() as session:
        return len(await alerts.list_alerts(session, limit=1000))


async def test_update_and_all_clear_reach_exactly_the_parents_audience(
    sessions: Sessions,
) -> None:
    world = await make_world(sessions)
    chat = world.chat
    await _subscribe(world, "ana", "Strathcona")
    await _subscribe(world, "bo", "Kitsilano")
    await _subscribe(world, "cy", "Strathcona")
    await _sent(world, "Strathcona")
    await _subscribe(world, "dan", "Strathcona")  # joined after A1 went out

    await chat.say("coco", "/broadcast")
    [listed] = await chat.tap("coco", "Update an earlier alert")
    assert [o.label for o in listed.options] == ["A1 · Bad batch · Strathcona · down", "Cancel"]
    [first] = await chat.tap("coco", "A1 · Bad batch · Strathcona · down")
    assert first.text.startswith("Update to A1. What is it sold as?")
    await chat.tap("coco", "Skip")
    await chat.say("coco", "also xylazine")
    for _ in range(3):
        [last] = await chat.tap("coco", "Skip")
    assert last.text.startswith("Preview of A2 for A1: this is exactly what people will get.")
    assert "🔁 Update to an earlier notice" in last.text
    assert last.text.endswith("It goes to the 2 people who got A1.\nReaches everyone in about 1 s.")
    [typed] = await chat.say("coco", "send it")  # typing on the preview shows it again
    assert typed.text.startswith("Please choose one of the buttons.\n\nPreview of A2 for A1")
    [sent] = await chat.tap("coco", "Send now")
    assert sent.text.startswith("Sending A2 to 2 people.")
    await run_alert_due(world.engine, budget=2.0)
    for who, count in (("ana", 1), ("cy", 1), ("bo", 0), ("dan", 0)):
        updates = _got(world, who, "🔁 Update to an earlier notice")
        assert len(updates) == count, who
        assert all("Found to contain: also xylazine" in u for u in updates)

    [note] = await chat.say("coco", "/broadcast allclear A1")
    assert note.text.startswith("All clear for A1. Add a short note")
    [preview] = await chat.say("coco", "Checked: that batch is gone.")
    assert "Advice: Checked: that batch is gone." in preview.text
    assert preview.text.endswith(
        "It goes to the 2 people who got A1.\nReaches everyone in about 1 s."
    )
    await chat.tap("coco", "Send now")
    await run_alert_due(world.engine, budget=2.0)
    for who, count in (("ana", 1), ("cy", 1), ("bo", 0), ("dan", 0)):
        assert len(_got(world, who, "✅ All clear on an earlier notice")) == count, who

    # A1 is over now: nothing more can follow it, and the refusal changes nothing.
    alerts_before = await _alert_count(sessions)
    for command in ("/broadcast allclear A1", "/broadcast update a1"):
        assert (
            texts(await chat.say("coco", command))
            == "A1 already had an all clear. Nothing was sent."
        )
    await chat.say("coco", "/broadcast")
    assert texts(await chat.tap("coco", "All clear")) == (
        "No alert is current now, so there is nothing to update or clear."
    )
    assert await _alert_count(sessions) == alerts_before


async def test_all_clear_without_a_note_from_the_list(sessions: Sessions) -> None:
    world = await make_world(sessions)
    chat = world.chat
    await _subscribe(world, "ana", "Strathcona")
    await _sent(world, "Strathcona")
    await chat.say("coco", "/broadcast")
    await chat.tap("coco", "All clear")
    await chat.tap("coco", "A1 · Bad batch · Strathcona · down")
    [preview] = await chat.tap("coco", "No note")
    assert "Bad batch warning for Strathcona: the earlier warning is over." in preview.text
    assert texts(await chat.tap("coco", "Cancel")) == "Cancelled. Nothing was sent."
    async with sessions() as session:
        draft = await alerts.get(session, alert_id=2)
        parent = await alerts.get(session, alert_id=1)
    assert draft is not None
    assert draft.status is AlertStatus.CANCELLED
    assert parent is not None
    assert not parent.expired(world.clock.now)


async def test_bad_references_get_a_short_answer_and_change_nothing(sessions: Sessions) -> None:
    world = await make_world(sessions)
    chat = world.chat
    await _subscribe(world, "ana", "Strathcona")
    await _sent(world, "Strathcona")  # A1, current for a day
    await _compose(world, "Gastown")  # A2, a draft
    await chat.tap("coco", "Schedule…")
    await chat.tap("coco", "Once")
    await chat.say("coco", "2026-11-26 18:00")  # A2 scheduled
    before = await _alert_count(sessions)
    answers = {
        "/broadcast update A99": "No alert has that reference. /broadcast lists the current ones.",
        "/broadcast update R1": "No alert has that reference. /broadcast lists the current ones.",
        "/broadcast allclear": "No alert has that reference. /broadcast lists the current ones.",
        "/broadcast update A2": "A2 did not go out as an alert, so it cannot be followed up.",
        "/broadcast frobnicate A1": (
            "Use /broadcast, or /broadcast update A12, /broadcast allclear A12, "
            "/broadcast status A12."
        ),
    }
    for command, answer in answers.items():
        assert texts(await chat.say("coco", command)) == answer, command
    assert texts(await chat.say("eve", "/broadcast update A1")) == REFUSAL
    world.clock.advance(days=2)
    assert texts(await chat.say("coco", "/broadcast allclear A1")) == (
        "A1 has expired, so it is no longer current. Nothing was sent."
    )
    assert await _alert_count(sessions) == before


async def test_parent_cleared_meanwhile_is_not_followed_up_twice(sessions: Sessions) -> None:
    world = await make_world(sessions)
    await world.coordinator("cora")
    chat = world.chat
    await _subscribe(world, "ana", "Strathcona")
    await _sent(world, "Strathcona")
    await chat.say("coco", "/broadcast update A1")
    await chat.say("coco", "brown powder")
    for _ in range(4):
        await chat.tap("coco", "Skip")  # coco is at the preview of A2
    await chat.say("cora", "/broadcast allclear A1")
    await chat.tap("cora", "No note")
    await chat.tap("cora", "Send now")
    assert texts(await chat.tap("coco", "Send now")) == (
        "A1 already had an all clear. Nothing was sent."
    )
    async with sessions() as session:
        update = await alerts.get(session, alert_id=2)
    assert update is not None
    assert update.status is AlertStatus.CANCELLED


# --- hostile input in the new typed fields -------------------------------------------------------
# Hypothesis runs every example against the same database, so these tests look up the alerts
# each example made and compare counts, never fixed ids.

HOSTILE = settings(
    max_examples=12,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
TYPED = st.text(max_size=300).filter(lambda s: not s.lstrip().startswith("/"))


def _ref(reply_text: str) -> int:
    match = re.search(r"\bA(\d+)\b", reply_text)
    assert match is not None, reply_text
    return int(match.group(1))


async def _sent_ref(world: World, area: str) -> int:
    """Compose and send an alert to ``area``; its id."""
    preview = await _compose(world, area)
    await world.chat.tap("coco", "Send now")
    await run_alert_due(world.engine, budget=2.0)
    return _ref(preview)


@HOSTILE
@given(text=TYPED)
async def test_hostile_repeat_time(sessions: Sessions, text: str) -> None:
    world = await make_world(sessions)
    alert_id = _ref(await _compose(world, "Gastown"))
    await world.chat.tap("coco", "Schedule…")
    await world.chat.tap("coco", "Repeat…")
    await world.chat.tap("coco", "Every day")
    [answer] = await world.chat.say("coco", text)
    async with sessions() as session:
        view = await alerts.get(session, alert_id=alert_id)
    assert view is not None
    if answer.text.startswith(f"A{alert_id} will go out every day at "):
        assert view.status is AlertStatus.SCHEDULED
        assert view.recurrence is not None
    else:
        assert answer.text.startswith("That is not a time.")
        assert answer.options
        assert view.status is AlertStatus.DRAFT


@HOSTILE
@given(text=TYPED)
async def test_hostile_update_field(sessions: Sessions, text: str) -> None:
    world = await make_world(sessions)
    alert_id = await _sent_ref(world, "Strathcona")
    before = await _alert_count(sessions)
    await world.chat.say("coco", f"/broadcast update A{alert_id}")
    [answer] = await world.chat.say("coco", text)
    assert answer.text.startswith(
        ("That can't be used", f"Update to A{alert_id}. What was it found")
    )
    assert answer.options
    assert await _alert_count(sessions) == before


@HOSTILE
@given(text=TYPED)
async def test_hostile_all_clear_note(sessions: Sessions, text: str) -> None:
    world = await make_world(sessions)
    alert_id = await _sent_ref(world, "Strathcona")
    before = await _alert_count(sessions)
    await world.chat.say("coco", f"/broadcast allclear A{alert_id}")
    [answer] = await world.chat.say("coco", text)
    assert answer.options
    if answer.text.startswith("That can't be used"):
        assert await _alert_count(sessions) == before
    else:
        assert answer.text.startswith(f"Preview of A{alert_id + 1} for A{alert_id}")
    async with sessions() as session:
        parent = await alerts.get(session, alert_id=alert_id)
    assert parent is not None
    assert not parent.expired(world.clock.now)  # nothing is sent before Send now


REFERENCE_ANSWERS = re.compile(
    r"No alert has that reference|Use /broadcast|Update to A\d+\.|All clear for A\d+\."
    r"|Sending A\d+|A\d+ (has been sent|did not go out|has expired|already had|is scheduled)"
)


@HOSTILE
@given(word=st.sampled_from(["update", "allclear", "status"]), text=st.text(max_size=200))
async def test_hostile_reference(sessions: Sessions, word: str, text: str) -> None:
    world = await make_world(sessions)
    await _sent_ref(world, "Strathcona")
    before = await _alert_count(sessions)
    [answer] = await world.chat.say("coco", f"/broadcast {word} {text}")
    assert REFERENCE_ANSWERS.match(answer.text), answer.text
    assert await _alert_count(sessions) == before


async def test_what_coordinators_type_stays_out_of_logs(
    sessions: Sessions, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    world = await make_world(sessions)
    chat = world.chat
    await _subscribe(world, "ana", "Strathcona")
    await _sent(world, "Strathcona")
    await chat.say("coco", "/broadcast update A1 zebra-quartz-1")
    await chat.say("coco", "/broadcast update A1")
    await chat.say("coco", "zebra-quartz-2")
    await chat.say("coco", "/broadcast allclear A1")
    await chat.say("coco", "zebra-quartz-3")
    await chat.tap("coco", "Send now")
    await _compose(world, "Gastown")
    await chat.tap("coco", "Schedule…")
    await chat.tap("coco", "Repeat…")
    await chat.tap("coco", "Every day")
    await chat.say("coco", "zebra-quartz-4")
    await run_alert_due(world.engine, budget=2.0)
    ours = "\n".join(
        r.getMessage() for r in caplog.records if r.name.startswith(("bot", "handlers"))
    )
    assert "zebra-quartz" not in ours
    kept = [r for r in map(copy.copy, caplog.records) if RedactionFilter().filter(r)]
    logged = "\n".join(f"{r.getMessage()} {r.exc_text or ''}" for r in kept)
    assert "zebra-quartz" not in logged
    assert "nitazenes" not in logged
