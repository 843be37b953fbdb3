"""Consultations as transcripts: invited, answered with skips and stops, once; /consult,
/stats, closing and the summary."""

from __future__ import annotations

import copy
from datetime import timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import func, select

from bot.db.models import (
    ConsultationCount,
    ConsultationParticipant,
    ConsultationText,
    ConversationState,
    Subscription,
)
from bot.services import consultations as cs
from bot.services import subscriptions
from bot.services.notices import run_notices_due
from handlers.due import run_due
from tests.handlers.peer_world import Sessions, World, make_world
from tests.support.chat import texts

EXAMPLE = cs.load_yaml(
    (Path(__file__).resolve().parents[2] / "docs" / "consultation.example.yaml").read_text(
        encoding="utf-8"
    )
)
INVITED = "We would like to hear from you."


async def consultation(world: World, *, areas: Any = "everyone", open_it: bool = True) -> int:
    data = copy.deepcopy(EXAMPLE)
    data["closes"] = (world.clock.now + timedelta(days=7)).date().isoformat()
    data["areas"] = areas
    gazetteer = world.engine.deps.content.gazetteer
    async with world.sessions.begin() as session:
        made = await cs.create(
            session,
            data=data,
            languages=tuple(world.engine.deps.words.locales),
            area_codes=gazetteer.codes,
            now=world.clock.now,
        )
        if open_it:
            await cs.open_consultation(session, consultation_id=made.id, now=world.clock.now)
    return made.id


async def subscribe(world: World, who: str, area: str = "dtes") -> int:
    await world.chat.say(who, "/start")
    contact_id = await world.contact_id(who)
    async with world.sessions.begin() as session:
        await subscriptions.subscribe(
            session,
            contact_id=contact_id,
            areas=[area],
            gazetteer=world.engine.deps.content.gazetteer,
            now=world.clock.now,
        )
    return contact_id


async def counts(world: World) -> dict[tuple[int, str, str], int]:
    async with world.sessions() as session:
        rows = await session.scalars(select(ConsultationCount))
        return {(r.question, r.value, r.area_code): r.count for r in rows}


async def answer_all(world: World, who: str) -> list[Any]:
    """``who`` answers everything from /survey: DTES, Evening, Naloxone + Pipes, 4, a text."""
    listed = await world.chat.say(who, "/survey")
    assert "Open consultations" in listed[0].text
    area = await world.chat.tap(who, "Opening hours")
    assert "Which area are you mostly in?" in area[0].text
    assert [o.label for o in area[0].options][-2:] == ["Skip", "Stop"]
    first = await world.chat.tap(who, "Downtown Eastside")
    assert "Question 1 of 4" in first[0].text
    second = await world.chat.tap(who, "Evening")
    assert "Question 2 of 4" in second[0].text
    toggled = await world.chat.tap(who, "Naloxone")
    assert "✓ Naloxone" in [o.label for o in toggled[0].options]
    await world.chat.tap(who, "Pipes")
    third = await world.chat.tap(who, "Done")
    assert "1 = Very hard, 5 = Very easy" in third[0].text
    fourth = await world.chat.tap(who, "4")
    assert "Type your answer" in fourth[0].text
    return await world.chat.say(who, "Longer hours at night, call me at 604 555 0199")


async def test_answered_once_with_everything_counted(sessions: Sessions) -> None:
    world = await make_world(sessions)
    number = await consultation(world)
    await subscribe(world, "ana")
    thanks = await answer_all(world, "ana")
    assert "Thank you!" in thanks[0].text
    assert "Nothing links them to you" in thanks[0].text
    assert await counts(world) == {
        (0, "done", "dtes"): 1,
        (1, "*", "dtes"): 1,
        (1, "2", "dtes"): 1,
        (2, "*", "dtes"): 1,
        (2, "0", "dtes"): 1,
        (2, "2", "dtes"): 1,
        (3, "*", "dtes"): 1,
        (3, "4", "dtes"): 1,
        (4, "*", "dtes"): 1,
    }
    async with world.sessions() as session:
        text = await session.scalar(select(ConsultationText.text))
    assert text is not None
    assert "555" not in text
    assert "Longer hours at night" in text
    async with world.sessions() as session:  # nothing in progress kept
        assert await session.get(ConversationState, await world.contact_id("ana")) is None
    # Once: /survey has nothing left, and an old [Take part] is refused.
    assert "No consultations are open for you" in texts(await world.chat.say("ana", "/survey"))
    again = await world.chat.press("ana", f"svi:{number}:take")
    assert "already answered" in again[0].text
    assert (await counts(world))[(0, "done", "dtes")] == 1


async def test_skips_and_a_stop_keep_what_was_answered(sessions: Sessions) -> None:
    world = await make_world(sessions)
    await consultation(world)
    await subscribe(world, "bo")
    await world.chat.say("bo", "/survey")
    await world.chat.tap("bo", "Opening hours")
    await world.chat.tap("bo", "Skip")  # no area
    await world.chat.tap("bo", "Skip")  # question 1
    await world.chat.tap("bo", "Naloxone")
    await world.chat.tap("bo", "Done")
    stopped = await world.chat.tap("bo", "Stop")
    assert "Stopped. Thank you for what you answered." in stopped[0].text
    assert await counts(world) == {
        (0, "stopped", ""): 1,
        (1, "skip", ""): 1,
        (2, "*", ""): 1,
        (2, "0", ""): 1,
    }


async def test_stop_before_answering_keeps_nothing_and_typed_stop_keeps_alerts(
    sessions: Sessions,
) -> None:
    world = await make_world(sessions)
    await consultation(world)
    await subscribe(world, "cy")
    await world.chat.say("cy", "/survey")
    await world.chat.tap("cy", "Opening hours")
    await world.chat.tap("cy", "Skip")
    stopped = await world.chat.say("cy", "STOP")
    assert "Nothing was kept" in stopped[0].text
    assert await counts(world) == {}
    async with world.sessions() as session:
        assert await session.scalar(select(func.count()).select_from(Subscription)) == 1
        assert await session.scalar(select(func.count()).select_from(ConsultationParticipant)) == 0
    # Nothing kept, so cy may still take part.
    assert "Opening hours" in [o.label for o in (await world.chat.say("cy", "/survey"))[0].options]


async def test_not_subscribed_sees_none_and_stale_buttons_do_nothing(sessions: Sessions) -> None:
    world = await make_world(sessions)
    number = await consultation(world, areas=["kitsilano"])
    await subscribe(world, "di", "dtes")
    assert "No consultations are open for you" in texts(await world.chat.say("di", "/survey"))
    refused = await world.chat.press("di", f"svi:{number}:take")
    assert "not open to you" in refused[0].text
    assert "expired" in (await world.chat.press("di", "sv:zzzz:pick:1"))[0].text
    assert "expired" in (await world.chat.press("di", "svi:x:take"))[0].text
    assert await counts(world) == {}


async def test_coordinator_opens_invites_closes_and_approves(sessions: Sessions) -> None:
    world = await make_world(sessions)
    number = await consultation(world, open_it=False)
    for who in ("ana", "bo"):
        await subscribe(world, who)
    await world.chat.say("eve", "/start")  # not subscribed: not invited
    assert "This command is for coordinators." in texts(await world.chat.say("ana", "/consult"))
    listed = await world.chat.say("coco", "/consult")
    assert "#1 “Opening hours”: draft; 0 answered" in listed[0].text
    asked = await world.chat.tap("coco", f"Open #{number}")
    assert "2 people will get one invitation" in asked[0].text
    await world.chat.tap("coco", "Yes, open it")
    report = await run_due(world.engine)
    assert report.invitations_queued == 2
    await run_notices_due(world.engine)
    invitation = world.chat.last("ana")
    assert invitation.text.splitlines()[0] == INVITED
    assert [o.label for o in invitation.options] == ["Take part", "Not now"]
    assert not any(INVITED in r.text for r in world.chat.inbox("eve"))
    assert "/survey" in (await world.chat.tap("bo", "Not now"))[0].text
    await world.chat.tap("ana", "Take part")
    await world.chat.tap("ana", "Strathcona")
    await world.chat.tap("ana", "Morning")
    assert "#1" in texts(await world.chat.say("coco", "/stats"))

    listed = await world.chat.say("coco", "/consult")
    assert "open" in listed[0].text
    await world.chat.tap("coco", f"Close #{number} now")
    closed = await world.chat.tap("coco", "Yes, close it")
    assert "Closed." in closed[0].text
    assert "Thank you for answering “Opening hours”" in closed[0].text
    # ana's answers in progress were never finished: the consultation closed under her.
    assert "has closed" in (await world.chat.tap("ana", "Skip"))[0].text
    assert await counts(world) == {}
    results = texts(await world.chat.say("coco", "/consult"))
    assert "closed, summary to approve" in results
    shown = texts(await world.chat.tap("coco", f"Results #{number}"))
    assert "Took part: 0" in shown
    await world.chat.tap("coco", f"Summary #{number}")
    await world.chat.tap("coco", f"Approve and send #{number}")
    report = await run_due(world.engine)
    assert report.summaries_queued == 0  # nobody answered


async def test_the_tick_closes_on_time_and_tells_coordinators(sessions: Sessions) -> None:
    world = await make_world(sessions)
    await consultation(world)
    world.clock.advance(days=6)
    assert (await run_due(world.engine)).consultations_closed == 0
    world.clock.advance(days=2)
    assert (await run_due(world.engine)).consultations_closed == 1
    assert "has closed" in world.chat.last("coco").text
    assert "closed, summary to approve" in texts(await world.chat.say("coco", "/consult"))
