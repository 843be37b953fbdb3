"""/naloxone as transcripts: nasal, injectable or either, the how-to card, confirm."""

from __future__ import annotations

from sqlalchemy import select

from bot.db.models import Item, RequestItem
from bot.domain import RequestKind, RequestStatus
from tests.handlers.person_world import (
    MAIN_AND_HASTINGS,
    Sessions,
    World,
    first_line,
    labels,
    make_world,
)
from tests.support.chat import texts


async def requested_codes(world: World, request_id: int) -> dict[str, int]:
    async with world.sessions() as session:
        rows = await session.execute(
            select(Item.code, RequestItem.packs)
            .join(Item, Item.id == RequestItem.item_id)
            .where(RequestItem.request_id == request_id)
        )
        return {row.code: row.packs for row in rows}


async def test_nasal_kit_with_the_how_to_card(sessions: Sessions) -> None:
    world = await make_world(sessions)
    await world.peer("sam", "strathcona_site")  # the Strathcona hub holds nasal kits
    kinds = await world.chat.say("ana", "/naloxone")
    assert first_line(kinds[0]) == "Which kind of kit?"
    assert labels(kinds[0]) == [
        "Nasal spray",
        "Shot kit (injectable)",
        "Either",
        "I used naloxone",
        "Back to menu",
    ]
    where = await world.chat.tap("ana", "Nasal spray")
    assert where[0].ask_location
    assert labels(where[0])[:2] == ["Downtown Eastside", "Strathcona"]  # areas first
    assert labels(where[0])[-3:] == ["More ›", "How to use it", "Back to menu"]

    card = await world.chat.tap("ana", "How to use it")
    assert first_line(card[0]) == "Nasal spray: how to use"
    assert "1. Call 911." in card[0].text
    assert "Where are you?" in card[0].text  # the question comes back under the card
    assert card[0].ask_location

    confirm = await world.chat.say("ana", "Strathcona")
    assert confirm[0].text == (
        "Please check your request:\n- Naloxone nasal spray 1.8 mg × 1\nArea: Strathcona\nSend it?"
    )
    sent = await world.chat.tap("ana", "Send request")
    [request] = await world.requests("ana")
    assert f"Reference: {request.reference}" in sent[0].text
    assert request.kind is RequestKind.NALOXONE
    assert request.status is RequestStatus.OFFERED
    assert await requested_codes(world, request.id) == {"nalox_nasal": 1}
    assert request.reference in world.chat.last("sam").text


async def test_either_takes_the_kit_the_nearest_outlet_has(sessions: Sessions) -> None:
    world = await make_world(sessions)
    # Only the Main & Hastings table is staffed, and it holds injectable kits only.
    await world.peer("pat", "main_hastings_peer")
    await world.chat.say("ana", "/naloxone")
    where = await world.chat.tap("ana", "Either")
    assert labels(where[0])[7:9] == ["How to use: nasal spray", "How to use: shot kit"]
    confirm = await world.chat.share_location("ana", *MAIN_AND_HASTINGS)
    assert "nasal spray or shot kit, whichever is nearer" in confirm[0].text
    await world.chat.tap("ana", "Send request")
    [request] = await world.requests("ana")
    assert request.status is RequestStatus.OFFERED
    assert await requested_codes(world, request.id) == {"nalox_inj": 1}
    assert "Naloxone kit, injectable" in world.chat.last("pat").text


async def test_either_prefers_nasal_when_the_nearest_has_both(sessions: Sessions) -> None:
    world = await make_world(sessions)
    await world.peer("pat", "main_hastings_peer")
    await world.peer("sam", "strathcona_site")
    await world.chat.say("ana", "/naloxone")
    await world.chat.tap("ana", "Either")
    await world.chat.say("ana", "Strathcona")  # the hub is nearest to the area's centre
    await world.chat.tap("ana", "Send request")
    [request] = await world.requests("ana")
    assert await requested_codes(world, request.id) == {"nalox_nasal": 1}


async def test_nasal_kit_nobody_can_give_is_unrouted(sessions: Sessions) -> None:
    world = await make_world(sessions)
    await world.peer("pat", "main_hastings_peer")  # no nasal kits there
    await world.chat.say("ana", "/naloxone")
    await world.chat.tap("ana", "Nasal spray")
    await world.chat.share_location("ana", *MAIN_AND_HASTINGS)
    answer = await world.chat.tap("ana", "Send request")
    [request] = await world.requests("ana")
    assert request.status is RequestStatus.UNROUTED
    assert len(answer) == 1
    assert "911" in answer[0].text
    assert world.chat.inbox("pat") == []


async def test_injectable_card_and_cancel(sessions: Sessions) -> None:
    world = await make_world(sessions)
    await world.chat.say("ana", "/naloxone")
    await world.chat.tap("ana", "Shot kit (injectable)")
    confirm = await world.chat.tap("ana", "Gastown")
    assert "- Naloxone kit, injectable × 1" in confirm[0].text
    # The card is there at the confirmation too, and the confirmation comes back under it.
    card = await world.chat.tap("ana", "How to use it")
    assert first_line(card[0]) == "Shot kit: how to use"
    assert "Send it?" in card[0].text
    cancelled = await world.chat.tap("ana", "Cancel")
    assert first_line(cancelled[0]) == "Cancelled. Nothing was sent."
    assert await world.requests() == []


async def test_bad_input_at_each_step(sessions: Sessions) -> None:
    world = await make_world(sessions)
    first = await world.chat.say("ana", "/naloxone")
    typed = await world.chat.say("ana", "nasal")
    assert first_line(typed[0]) == "Please choose one of the buttons."
    assert typed[0].options == first[0].options
    located = await world.chat.share_location("ana", *MAIN_AND_HASTINGS)
    assert "once you've chosen a kit" in located[0].text
    state = await world.state("ana")
    assert state is not None
    run = state.data["run"]
    for forged in (f"nal:{run}:kind:both", f"nal:{run}:howto:nasal", f"nal:{run}:yes", "nal:x:y"):
        assert texts(await world.chat.press("ana", forged)) == (
            "That button has expired. Here is the menu."
        ), forged
    await world.chat.press("ana", f"nal:{run}:kind:nasal")  # still at the first step
    assert "expired" in texts(await world.chat.press("ana", f"nal:{run}:howto:other"))
    [sticker] = await world.chat.send_sticker("ana")
    assert sticker.text == (
        "I can only read text, buttons and locations.\n\nWhere are you?\nChoose your area."
    )
    # The areas, the how-to and the way out, as the step first showed them.
    assert labels(sticker)[-3:] == ["More ›", "How to use it", "Back to menu"]
    assert sticker.ask_location
    after = await world.state("ana")
    assert after is not None
    assert after.step == "location"
