"""/used as transcripts: naloxone used, told anonymously, with and without a new kit."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select

from bot.db.base import Base
from bot.db.models import DailyCount, Item, RequestItem
from bot.domain import RequestKind, RequestStatus
from tests.handlers.person_world import Sessions, World, first_line, labels, make_world
from tests.support.chat import texts


async def table_sizes(world: World) -> dict[str, int]:
    async with world.sessions() as session:
        return {
            table.name: int(await session.scalar(select(func.count()).select_from(table)) or 0)
            for table in Base.metadata.sorted_tables
        }


async def counters(world: World) -> set[tuple[Any, ...]]:
    async with world.sessions() as session:
        rows = await session.execute(
            select(
                DailyCount.measure,
                DailyCount.area_code,
                DailyCount.kind,
                DailyCount.bucket,
                DailyCount.count,
            ).where(DailyCount.measure.like("reversals.%"))
        )
        return {tuple(row) for row in rows}


async def report(world: World, who: str, *, doses: str, outcome: str) -> list[Any]:
    """``who`` tells /used: Strathcona, ``doses``, ``outcome``; the kit question."""
    where = await world.chat.say(who, "/used")
    assert "anonymous" in where[0].text
    assert where[0].ask_location
    doses_question = await world.chat.say(who, "Strathcona")
    assert first_line(doses_question[0]) == "How many doses did you give?"
    assert labels(doses_question[0]) == ["1 dose", "2 doses", "3 or more doses", "Back to menu"]
    what = await world.chat.tap(who, doses)
    assert first_line(what[0]) == "What happened?"
    assert labels(what[0]) == [
        "They woke up",
        "An ambulance came",
        "I don't know",
        "Back to menu",
    ]
    kit = await world.chat.tap(who, outcome)
    assert first_line(kit[0]) == "Do you need a new naloxone kit?"
    return kit


async def test_reported_without_a_kit_keeps_nothing_about_the_person(sessions: Sessions) -> None:
    world = await make_world(sessions)
    await world.chat.say("ana", "/menu")  # ana's own contact row exists before
    before = await table_sizes(world)

    await report(world, "ana", doses="2 doses", outcome="They woke up")
    thanks = await world.chat.tap("ana", "No, thanks")
    assert first_line(thanks[0]) == "Thank you. You may have saved a life."
    assert "call 911" in thanks[0].text
    assert labels(thanks[0]) == ["What to do in an emergency", "Back to menu"]
    card = await world.chat.tap("ana", "What to do in an emergency")
    assert first_line(card[0]) == "Emergency: what to do"
    assert "Naloxone wears off" in card[0].text

    after = await table_sizes(world)
    changed = {name for name in before if before[name] != after[name]}
    # seen_updates holds a keyed hash of each platform update (for duplicate deliveries) and
    # the time, for every message anyone sends: nothing there says what the message was.
    assert changed <= {"daily_counts", "seen_updates"}, changed
    assert await world.requests() == []
    assert await counters(world) == {
        ("reversals.reported", "strathcona", "", 0, 1),
        ("reversals.doses", "strathcona", "", 2, 1),
        ("reversals.outcome", "strathcona", "woke", 0, 1),
    }
    assert await world.state("ana") is None


async def test_leaving_halfway_counts_nothing(sessions: Sessions) -> None:
    world = await make_world(sessions)
    await report(world, "ana", doses="3 or more doses", outcome="I don't know")
    await world.chat.tap("ana", "Back to menu")
    assert await counters(world) == set()


async def test_a_new_kit_goes_to_an_outlet_and_its_peer(sessions: Sessions) -> None:
    world = await make_world(sessions)
    await world.peer("sam", "strathcona_site")  # holds nasal kits
    kinds = await world.chat.say("ana", "/naloxone")
    assert "I used naloxone" in labels(kinds[0])
    where = await world.chat.tap("ana", "I used naloxone")
    assert "anonymous" in where[0].text
    await world.chat.say("ana", "Strathcona")
    await world.chat.tap("ana", "1 dose")
    await world.chat.tap("ana", "An ambulance came")
    sent = await world.chat.tap("ana", "Yes, send me a new kit")
    [request] = await world.requests("ana")
    assert request.kind is RequestKind.NALOXONE
    assert request.status is RequestStatus.OFFERED
    assert request.area_code == "strathcona"
    assert first_line(sent[0]) == "Thank you. You may have saved a life."
    assert f"Reference: {request.reference}" in texts(sent)
    assert request.reference in world.chat.last("sam").text
    async with sessions() as session:
        codes = (
            await session.scalars(
                select(Item.code)
                .join(RequestItem, RequestItem.item_id == Item.id)
                .where(RequestItem.request_id == request.id)
            )
        ).all()
    assert list(codes) == ["nalox_nasal"]
    assert await counters(world) == {
        ("reversals.reported", "strathcona", "", 0, 1),
        ("reversals.doses", "strathcona", "", 1, 1),
        ("reversals.outcome", "strathcona", "ambulance", 0, 1),
        ("reversals.kit_asked", "strathcona", "", 0, 1),
    }


async def test_typed_text_and_old_buttons(sessions: Sessions) -> None:
    world = await make_world(sessions)
    await world.chat.say("ana", "/used")
    doses = await world.chat.say("ana", "Strathcona")
    again = await world.chat.say("ana", "two")
    assert "How many doses did you give?" in again[0].text
    await world.chat.say("ana", "/menu")
    stale = await world.chat.press("ana", doses[0].options[0].payload)
    assert "expired" in texts(stale)
    assert await counters(world) == set()


async def test_a_new_kit_past_the_open_request_limit_is_refused_but_the_use_counts(
    sessions: Sessions,
) -> None:
    world = await make_world(sessions)
    await world.peer("sam", "strathcona_site")
    for _ in range(4):
        await report(world, "ana", doses="1 dose", outcome="They woke up")
        last = await world.chat.tap("ana", "Yes, send me a new kit")
    assert len(await world.requests("ana")) == 3
    assert first_line(last[0]) == "Thank you. You may have saved a life."
    assert "You already have 3 open requests" in last[-1].text
    assert ("reversals.reported", "strathcona", "", 0, 4) in await counters(world)
