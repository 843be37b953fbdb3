"""/report and /reports as transcripts: anonymous report, coordinator notice, review."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from bot.db.models import Report
from bot.services import reports
from tests.handlers.peer_world import Sessions, World, make_world
from tests.support.chat import texts

REFUSAL = "This command is for coordinators."


async def _report(world: World, who: str = "ana") -> None:
    chat = world.chat
    [first] = await chat.say(who, "/report")
    assert first.text.startswith("Report a bad batch. It is anonymous")
    await chat.say(who, "down")
    await chat.say(who, "strathcona")
    await chat.say(who, "Two friends went out fast, naloxone took 3 doses")
    [confirm] = await chat.say(who, "pinkish powder")
    assert confirm.text.splitlines() == [
        "Your report:",
        "Sold as: down",
        "Area: Strathcona",
        "What happened: Two friends went out fast, naloxone took 3 doses",
        "Looks like: pinkish powder",
    ]
    [done] = await chat.tap(who, "Send report")
    assert done.text.startswith("Thank you. Your report was sent")


async def test_report_notice_and_draft(sessions: Sessions) -> None:
    world = await make_world(sessions)
    await _report(world)
    notice = world.chat.last("coco").text
    assert notice == "New community report. See /reports."
    assert "ana" not in notice

    [queue] = await world.chat.say("coco", "/reports")
    assert "Sold as: down" in queue.text
    assert queue.text.startswith("R1 · Strathcona · 2026-11-25 19:00 UTC")
    [preview] = await world.chat.tap("coco", "Make draft alert R1")
    assert preview.text.startswith("Preview of A1")
    assert "Effects seen: Two friends went out fast" in preview.text
    assert [o.label for o in preview.options] == [
        "Send now",
        "Schedule…",
        "Add a language",
        "Cancel",
    ]
    assert texts(await world.chat.say("coco", "/reports")) == "No new community reports."


async def test_dismiss_and_refusal(sessions: Sessions) -> None:
    world = await make_world(sessions)
    await _report(world)
    assert texts(await world.chat.say("ana", "/reports")) == REFUSAL
    await world.chat.say("coco", "/reports")
    [after] = await world.chat.tap("coco", "Dismiss R1")
    assert after.text == "R1 is dismissed.\n\nNo new community reports."


async def test_skip_area_and_appearance(sessions: Sessions) -> None:
    world = await make_world(sessions, coordinator=None)
    chat = world.chat
    await chat.say("ana", "/report")
    await chat.say("ana", "benzo")
    [unknown] = await chat.say("ana", "Atlantis")
    assert unknown.text.startswith("I don't know that area.")
    await chat.tap("ana", "Rather not say")
    await chat.say("ana", "very sleepy for hours")
    [confirm] = await chat.tap("ana", "Skip")
    assert "Area: not given" in confirm.text
    await chat.tap("ana", "Send report")
    async with sessions() as session:
        [stored] = await reports.queue(session)
    assert (stored.area_code, stored.appearance) == (None, None)


@settings(
    max_examples=15,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(text=st.text(max_size=300).filter(lambda s: not s.lstrip().startswith("/")))
async def test_hostile_sold_as_gets_a_clear_answer(sessions: Sessions, text: str) -> None:
    world = await make_world(sessions, coordinator=None)
    await world.chat.say("ana", "/report")
    [answer] = await world.chat.say("ana", text)
    assert answer.text.startswith(("That can't be used", "Roughly where was it?"))
    assert answer.options


async def test_forget_deletes_the_senders_reports_and_only_theirs(sessions: Sessions) -> None:
    world = await make_world(sessions)
    await _report(world)
    await _report(world)
    await _report(world, "bob")
    async with sessions() as session:
        tags = (await session.scalars(select(Report.author_tag).order_by(Report.id))).all()
    # Salted: without the key, two reports of one sender look no more alike than any two.
    assert len(set(tags)) == 3
    assert all(tag and len(tag) == 48 for tag in tags)

    await world.chat.say("ana", "/forget")
    [done] = await world.chat.tap("ana", "Delete everything")
    assert done.text.startswith("Deleted.")

    async with sessions() as session:
        left = (await session.scalars(select(Report.id))).all()
    assert left == [3]
    [queue] = await world.chat.say("coco", "/reports")
    assert queue.text.startswith("R3 ")
