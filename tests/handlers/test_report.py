"""/report and /reports as transcripts: anonymous report, coordinator notice, review."""

from __future__ import annotations

from datetime import timedelta

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from bot.db.models import Delivery, Report
from bot.domain import AlertStatus
from bot.services import alerts, reports
from handlers.due import run_due
from tests.handlers.peer_world import Sessions, World, make_world
from tests.support.chat import texts

REFUSAL = "This command is for coordinators."
CHECK_OPTIONS = ["Edit the text", "I checked: no one can be identified", "Cancel"]
IDENTIFYING = "my friend Dave Smith OD'd at 123 Main St apt 4, phone 604-555-0199"


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
    # From a report: no Send now until it is edited or checked, even with nothing masked.
    assert "Hidden so no one" not in preview.text
    assert [o.label for o in preview.options] == CHECK_OPTIONS
    [checked] = await world.chat.tap("coco", "I checked: no one can be identified")
    assert checked.text.startswith("Checked. It can go out now.\n\nPreview of A1")
    assert [o.label for o in checked.options] == [
        "Send now",
        "Schedule…",
        "Add details…",
        "Add a language",
        "Add photo",
        "Confidence…",
        "Route…",
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


async def _subscribe(world: World, who: str, area: str) -> None:
    await world.chat.say(who, "/alerts")
    await world.chat.tap(who, "Add an area")
    await world.chat.say(who, area)


async def _identifying_report(world: World) -> None:
    chat = world.chat
    await chat.say("ana", "/report")
    await chat.say("ana", "down from @dave_sells")
    await chat.say("ana", "strathcona")
    [appearance] = await chat.say("ana", IDENTIFYING)
    assert appearance.text.startswith("What does it look like?")
    [confirm] = await chat.say("ana", "pink")
    assert confirm.text.splitlines() == [
        "Your report:",
        "Sold as: down from [@]",
        "Area: Strathcona",
        "What happened: my friend [👤] OD'd at [🏠], phone [📞]",
        "Looks like: pink",
        "",
        "Hidden so no one can be identified: 1 phone number, 1 address, 1 name, and 1 username.",
    ]
    await chat.tap("ana", "Send report")


async def _deliveries(sessions: Sessions) -> int:
    async with sessions() as session:
        return int(await session.scalar(select(func.count()).select_from(Delivery)) or 0)


async def test_a_masked_report_cannot_be_sent_unchecked(sessions: Sessions) -> None:
    world = await make_world(sessions)
    await _subscribe(world, "bo", "Strathcona")
    await _identifying_report(world)
    async with sessions() as session:
        stored = (await session.execute(select(Report))).scalar_one()
    assert "Dave" not in stored.what_happened
    assert "604" not in stored.what_happened

    [queue] = await world.chat.say("coco", "/reports")
    assert "What happened: my friend [👤] OD'd at [🏠], phone [📞]" in queue.text
    assert "Hidden so no one can be identified: 1 phone number, 1 address, 1 name" in queue.text
    [preview] = await world.chat.tap("coco", "Make draft alert R1")
    assert "my friend [👤] OD'd at [🏠], phone [📞]" in preview.text
    assert "Hidden so no one can be identified" in preview.text
    assert "Until then it cannot be sent." in preview.text
    assert [o.label for o in preview.options] == CHECK_OPTIONS

    # [Send now] and [Schedule…] are not offered; pressed anyway, they are refused.
    run = preview.options[0].payload.split(":")[1]
    for action in ("send", "later"):
        [refused] = await world.chat.press("coco", f"bc:{run}:{action}:1")
        assert refused.text.startswith("This draft comes from a community report: edit its text")
        assert [o.label for o in refused.options] == CHECK_OPTIONS
    async with sessions() as session:
        draft = await alerts.get(session, alert_id=1)
    assert draft is not None
    assert (draft.status, draft.needs_check) == (AlertStatus.DRAFT, True)
    assert await _deliveries(sessions) == 0
    assert not any("A1" in r.text or "[👤]" in r.text for r in world.chat.inbox("bo"))

    await world.chat.tap("coco", "I checked: no one can be identified")
    [progress] = await world.chat.tap("coco", "Send now")
    assert "A1" in progress.text
    assert await _deliveries(sessions) == 1


async def test_editing_the_text_is_the_check(sessions: Sessions) -> None:
    world = await make_world(sessions)
    chat = world.chat
    await _identifying_report(world)
    await chat.say("coco", "/reports")
    await chat.tap("coco", "Make draft alert R1")
    [sold_as] = await chat.tap("coco", "Edit the text")
    assert sold_as.text.startswith("Sold as, as it reads now:\ndown from [@]\n\n")
    assert [o.label for o in sold_as.options] == ["Keep it", "Leave it out", "Back"]
    [appearance] = await chat.tap("coco", "Keep it")
    assert appearance.text.startswith("Looks like, as it reads now:\npink")
    [symptoms] = await chat.tap("coco", "Leave it out")
    assert symptoms.text.startswith("Effects seen, as it reads now:\nmy friend [👤]")
    [bad] = await chat.say("coco", "x" * 501)
    assert bad.text.startswith("That can't be used")
    [preview] = await chat.say("coco", "Someone went down fast; use with others")
    assert preview.text.startswith("The text is changed. Read it once more, then send it.")
    assert "Effects seen: Someone went down fast; use with others" in preview.text
    assert "Looks like" not in preview.text
    assert [o.label for o in preview.options][:2] == ["Send now", "Schedule…"]
    async with sessions() as session:
        draft = await alerts.get(session, alert_id=1)
    assert draft is not None
    assert not draft.needs_check
    assert dict(draft.fields) == {
        "sold_as": "down from [@]",
        "symptoms": "Someone went down fast; use with others",
    }


async def test_keeping_every_field_is_not_a_check(sessions: Sessions) -> None:
    world = await make_world(sessions)
    chat = world.chat
    await _identifying_report(world)
    await chat.say("coco", "/reports")
    await chat.tap("coco", "Make draft alert R1")
    await chat.tap("coco", "Edit the text")
    await chat.tap("coco", "Keep it")
    await chat.tap("coco", "Keep it")
    [preview] = await chat.tap("coco", "Keep it")
    assert preview.text.startswith("Nothing was changed.")
    assert [o.label for o in preview.options] == CHECK_OPTIONS
    await chat.tap("coco", "Edit the text")
    [back] = await chat.tap("coco", "Back")
    assert [o.label for o in back.options] == CHECK_OPTIONS


async def test_report_and_alert_text_go_after_retention(sessions: Sessions) -> None:
    world = await make_world(sessions)
    await _identifying_report(world)
    await world.chat.say("coco", "/reports")
    await world.chat.tap("coco", "Make draft alert R1")
    await world.chat.tap("coco", "I checked: no one can be identified")
    await world.chat.tap("coco", "Send now")
    retention = timedelta(days=world.engine.deps.config.retention_days)

    # The report goes a retention period after it was made; the alert is current for 3 days
    # and keeps its text for a retention period after that.
    world.clock.advance(days=retention.days, hours=1)
    report = await run_due(world.engine)
    assert (report.reports_purged, report.alert_texts_purged) == (1, 0)
    world.clock.advance(days=3)
    report = await run_due(world.engine)
    assert (report.reports_purged, report.alert_texts_purged) == (0, 1)
    async with sessions() as session:
        assert await session.scalar(select(func.count()).select_from(Report)) == 0
        alert = await alerts.get(session, alert_id=1)
    assert alert is not None
    assert (alert.fields, alert.areas) == ({}, ("strathcona",))
