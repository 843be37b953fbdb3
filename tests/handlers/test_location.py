"""The shared "where are you?" step: shared points, typed places, the area list, bad input."""

from __future__ import annotations

import json
import math

import pytest
from sqlalchemy import text

from bot.privacy import snap
from handlers.routes import build_routes
from tests.handlers.person_world import (
    MAIN_AND_HASTINGS,
    SEATTLE,
    Sessions,
    World,
    first_line,
    labels,
    make_world,
)
from tests.support.chat import Chat, texts
from tests.support.engine import make_engine

AREA_LIST_HEAD = ["Downtown Eastside", "Strathcona", "Chinatown", "Gastown"]
# The first page of the demo gazetteer (ui.PAGE_SIZE areas).
FIRST_AREAS = [*AREA_LIST_HEAD, "Downtown", "West End"]


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
        # Streets and landmarks (content/areas.yaml), one area or where two streets cross.
        ("Main St & E Hastings", "Downtown Eastside"),
        ("east hastings street and main", "Downtown Eastside"),
        ("Knight and Kingsway", "Kensington-Cedar Cottage"),
        ("Steam Clock", "Gastown"),
        ("kits beach", "Kitsilano"),
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


async def test_areas_come_first_and_one_tap_chooses(sessions: Sessions) -> None:
    world = await make_world(sessions)
    await world.chat.say("ana", "/naloxone")
    [where] = await world.chat.tap("ana", "Nasal spray")
    assert where.text == ("Where are you?\nChoose your area.")
    # The areas themselves are the first choices; sharing a location is the channel's,
    # offered after them (and never promised "not stored": see the channel tests).
    assert labels(where)[:6] == FIRST_AREAS
    assert labels(where)[6:] == ["More ›", "How to use it", "Back to menu"]
    assert where.ask_location
    assert where.columns == 2
    # What can be typed instead, said once by each channel in its own words.
    assert where.typed == (
        "your area's name, a street or a landmark (for example Gastown or E Hastings St)"
    )
    confirm = await world.chat.tap("ana", "Gastown")
    assert "Area: Gastown" in confirm[0].text


async def test_area_list_pages(sessions: Sessions) -> None:
    world = await make_world(sessions)
    await asked_where(world)
    second = await world.chat.tap("ana", "More ›")
    assert first_line(second[0]) == "Choose your area:"
    assert "Downtown Eastside" not in labels(second[0])
    assert labels(second[0])[-3:] == ["More ›", "‹ Previous", "Back to menu"]
    first = await world.chat.tap("ana", "‹ Previous")
    assert labels(first[0])[:4] == AREA_LIST_HEAD
    assert labels(first[0])[-2:] == ["More ›", "Back to menu"]
    assert len(first[0].options) == 8
    await world.chat.tap("ana", "More ›")
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


OUTSIDE = (
    "That place is outside the areas this service covers (Vancouver).\n"
    "In an emergency, call the local emergency number now (112 works from most mobile phones).\n"
    "If you are in the area, choose it:"
)


@pytest.mark.parametrize("how", ["shared", "typed"])
@pytest.mark.parametrize("point", [SEATTLE, (0.0, 0.0)])
async def test_outside_every_area(sessions: Sessions, how: str, point: tuple[float, float]) -> None:
    world = await make_world(sessions)
    await asked_where(world)
    if how == "shared":
        replies = await world.chat.share_location("ana", *point)
    else:
        replies = await world.chat.say("ana", f"{point[0]}, {point[1]}")
    [reply] = replies
    # Said plainly, advice that holds anywhere, and no list of this city's services.
    assert reply.text == OUTSIDE
    assert "911" not in reply.text
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


async def test_shared_location_is_kept_as_the_request_cell_only(sessions: Sessions) -> None:
    """From the moment it arrives, a shared point is the cell the request stores: the
    conversation state never holds anything finer (0.02°, ≈2.2 × 1.5 km here)."""
    world = await make_world(sessions)
    await world.peer("pat", "main_hastings_peer")
    await world.chat.say("ana", "/naloxone")
    await world.chat.tap("ana", "Shot kit (injectable)")
    await world.chat.share_location("ana", 49.281234, -123.098765)
    # The cell [49.28, 49.30) × [-123.10, -123.08), by its centre.
    cell = (49.29, -123.09)
    async with sessions() as session:
        raw = await session.scalar(text("SELECT data FROM conversation_states"))
    data = json.loads(raw) if isinstance(raw, str) else raw
    assert (data["area"], data["lat"], data["lon"]) == ("dtes", *cell)
    state = await world.state("ana")
    assert state is not None
    assert state.step == "confirm"
    assert (state.data["lat"], state.data["lon"]) == cell

    sent = await world.chat.tap("ana", "Send request")
    assert "A peer near you has been asked." in sent[0].text  # routed from the cell
    [request] = await world.requests("ana")
    assert (request.area_code, request.cell_lat, request.cell_lon) == ("dtes", *cell)
    assert snap(49.281234, -123.098765) == snap(*cell)  # the same cell, snapped again


async def test_typed_coordinates_are_kept_as_the_cell_only(sessions: Sessions) -> None:
    world = await make_world(sessions)
    await asked_where(world)
    await world.chat.say("ana", "49.2812, -123.0990")
    state = await world.state("ana")
    assert state is not None
    assert (state.data["area"], state.data["lat"], state.data["lon"]) == ("dtes", 49.29, -123.09)


@pytest.mark.parametrize(
    ("typed", "areas"),
    [
        ("E Hastings St", ["Downtown Eastside", "Grandview-Woodland", "Hastings-Sunrise"]),
        ("Kingsway", ["Mount Pleasant", "Kensington-Cedar Cottage", "Renfrew-Collingwood"]),
        # Main St runs the city's length: never one area by itself (it was Mount Pleasant's).
        ("Main St", ["Downtown Eastside", "Chinatown", "Mount Pleasant", "Sunset"]),
    ],
)
async def test_a_street_through_several_areas_asks_which(
    sessions: Sessions, typed: str, areas: list[str]
) -> None:
    world = await make_world(sessions)
    await asked_where(world)
    [which] = await world.chat.say("ana", typed)
    assert first_line(which) == (
        f"“{typed}” runs through more than one area. Which one are you in?"
    )
    assert labels(which) == [*areas, "Other areas", "Back to menu"]
    [confirm] = await world.chat.tap("ana", areas[-1])
    assert f"Area: {areas[-1]}" in confirm.text
    # "Other areas" is the whole list, still at the step.
    await world.chat.say("ana", "/naloxone")
    await world.chat.tap("ana", "Nasal spray")
    await world.chat.say("ana", typed)
    [other] = await world.chat.tap("ana", "Other areas")
    assert labels(other)[:4] == AREA_LIST_HEAD


@pytest.mark.parametrize(
    ("tapped", "expected"),
    [("Back to menu", "What do you need?"), ("More ›", "Choose your area:")],
)
async def test_a_reply_keyboard_tap_reaching_another_instance_is_read_as_its_button(
    sessions: Sessions, tapped: str, expected: str
) -> None:
    """Telegram sends a tapped reply-keyboard button as its label's text; the labels on
    screen are kept with the conversation, so another instance reads the tap as the button
    (not as a place called "Back to menu")."""
    world = await make_world(sessions)
    await asked_where(world)
    other = Chat(make_engine(sessions, build_routes(), clock=world.clock))
    other.engine.limiter = world.engine.limiter
    replies = await other.say("ana", tapped)
    assert "I don't know a place" not in texts(replies)
    assert expected in texts(replies)
    # Typed text that is not a label is still a place.
    await asked_where(world)
    confirm = await other.say("ana", "Steam Clock")
    assert "Area: Gastown" in confirm[0].text
