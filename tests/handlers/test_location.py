"""The shared "where are you?" step: shared points, typed places, the area list, bad input."""

from __future__ import annotations

import math

import pytest
from sqlalchemy import text

from bot.privacy import snap
from tests.handlers.person_world import (
    MAIN_AND_HASTINGS,
    SEATTLE,
    Sessions,
    World,
    first_line,
    labels,
    make_world,
)
from tests.support.chat import texts

AREA_LIST_HEAD = ["Downtown Eastside", "Strathcona", "Chinatown", "Gastown"]


async def asked_where(world: World, who: str = "ana") -> None:
    """``who`` has asked for a naloxone kit and is at the location step."""
    await world.chat.say(who, "/naloxone")
    await world.chat.tap(who, "Nasal spray")


@pytest.mark.parametrize(
    ("typed", "area"),
    [
        ("Gastown", "Gastown"),
        ("  main & HASTINGS ", "Downtown Eastside"),
        ("grandview–woodland", "Grandview-Woodland"),
        ("kits", "Kitsilano"),
        ("49.2812, -123.0990", "Downtown Eastside"),
        ("https://maps.example/?q=49.2680,-123.1650", "Kitsilano"),
    ],
)
async def test_typed_places(sessions: Sessions, typed: str, area: str) -> None:
    world = await make_world(sessions)
    await asked_where(world)
    confirm = await world.chat.say("ana", typed)
    assert f"Area: {area}" in confirm[0].text


async def test_shared_location_inside_an_area(sessions: Sessions) -> None:
    world = await make_world(sessions)
    await asked_where(world)
    confirm = await world.chat.share_location("ana", *MAIN_AND_HASTINGS)
    assert "Area: Downtown Eastside" in confirm[0].text


async def test_area_list_pages(sessions: Sessions) -> None:
    world = await make_world(sessions)
    await asked_where(world)
    first = await world.chat.tap("ana", "Choose an area")
    assert first_line(first[0]) == "Choose your area:"
    assert labels(first[0])[:4] == AREA_LIST_HEAD
    assert labels(first[0])[-2:] == ["More ›", "Back to menu"]
    assert len(first[0].options) == 8
    second = await world.chat.tap("ana", "More ›")
    assert "‹ Previous" in labels(second[0])
    third = await world.chat.tap("ana", "More ›")
    assert "More ›" not in labels(third[0])
    confirm = await world.chat.tap("ana", "Surrey (Whalley)")
    assert "Area: Surrey (Whalley)" in confirm[0].text


async def test_forged_area_buttons(sessions: Sessions) -> None:
    world = await make_world(sessions)
    await asked_where(world)
    state = await world.state("ana")
    assert state is not None
    run = state.data["run"]
    for forged in (f"nal:{run}:area:atlantis", f"nal:{run}:areas:99", f"nal:{run}:areas:-1"):
        replies = await world.chat.press("ana", forged)
        assert texts(replies) == "That button has expired. Here is the menu.", forged
    # The list of another conversation's prefix is not this one's.
    assert "expired" in texts(await world.chat.press("ana", f"sup:{run}:area:dtes"))
    after = await world.state("ana")
    assert after is not None
    assert after.step == "location"


async def test_unknown_place_is_quoted_short_and_plain(sessions: Sessions) -> None:
    world = await make_world(sessions)
    await asked_where(world)
    hostile = "<b>Atlantis</b> &amp; \u202eevil\u200b " + "x" * 5000
    replies = await world.chat.say("ana", hostile)
    [reply] = replies
    assert first_line(reply).startswith("I don't know a place called “<b>Atlantis</b> &amp; evil")
    quoted = reply.text.split("“", 1)[1].split("”", 1)[0]
    assert len(quoted) <= 40
    assert "\u202e" not in reply.text
    assert "\u200b" not in reply.text
    assert labels(reply)[:4] == AREA_LIST_HEAD
    assert len(reply.text) < 200


async def test_outside_every_area(sessions: Sessions) -> None:
    world = await make_world(sessions)
    await asked_where(world)
    replies = await world.chat.share_location("ana", *SEATTLE)
    [reply] = replies
    assert first_line(reply) == "That place is outside the areas this service covers (Vancouver)."
    assert "Nearest fixed services:" in reply.text
    assert "(demo)" in reply.text  # services from the directory, nearest to the point
    assert labels(reply)[:4] == AREA_LIST_HEAD
    # Nothing was chosen: still at the location step, and an area can be picked from the list.
    confirm = await world.chat.tap("ana", "Gastown")
    assert "Area: Gastown" in confirm[0].text


@pytest.mark.parametrize(
    "point",
    [(math.nan, -123.1), (49.28, math.inf), (91.0, -123.1), (49.28, -181.0), (-math.inf, 0.0)],
)
async def test_unreadable_shared_locations(sessions: Sessions, point: tuple[float, float]) -> None:
    world = await make_world(sessions)
    await asked_where(world)
    [reply] = await world.chat.share_location("ana", *point)
    assert (
        first_line(reply) == "I couldn't read that location. Share it again, or choose your area:"
    )
    assert labels(reply)[:4] == AREA_LIST_HEAD
    state = await world.state("ana")
    assert state is not None
    assert state.step == "location"


async def test_typed_coordinates_out_of_range(sessions: Sessions) -> None:
    world = await make_world(sessions)
    await asked_where(world)
    [reply] = await world.chat.say("ana", "491.28, -923.1")
    assert first_line(reply).startswith("I couldn't read that location.")


async def test_precise_location_is_stored_nowhere(sessions: Sessions) -> None:
    world = await make_world(sessions)
    await world.peer("pat", "main_hastings_peer")
    await world.chat.say("ana", "/naloxone")
    await world.chat.tap("ana", "Shot kit (injectable)")
    await world.chat.share_location("ana", 49.281234, -123.098765)
    await world.chat.tap("ana", "Send request")
    [request] = await world.requests("ana")
    cell = snap(49.281234, -123.098765)
    assert (request.cell_lat, request.cell_lon) == (cell.lat, cell.lon)
    # Look through every table's text for any part of the shared point.
    async with sessions() as session:
        tables = [
            "requests",
            "offers",
            "conversation_states",
            "contacts",
            "audit_events",
        ]
        dump = ""
        for table in tables:
            rows = (await session.execute(text(f"SELECT * FROM {table}"))).all()  # noqa: S608
            dump += repr(rows)
    assert "281234" not in dump
    assert "098765" not in dump
