"""Hostile input at every step of every person-facing conversation (hypothesis).

Each example takes a fresh person to one step, then throws random text, commands, locations
(NaN, infinities, out of range), stickers and forged or stale button payloads at it. Every
update must get exactly one short answer, never the apology for a crash, and no request,
offer or stock row may be created or changed.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.handlers.person_world import MAIN_AND_HASTINGS, Sessions, World, make_world

MAX_REPLY_CHARS = 1600
_people = itertools.count()

# How to reach each step: ("say", text), ("tap", label) or ("at", (lat, lon)).
Path = list[tuple[str, object]]
SUPPLIES: Path = [("say", "/supplies")]
NALOXONE: Path = [("say", "/naloxone")]
REFERRAL: Path = [("say", "/referral")]
STEPS: dict[str, Path] = {
    "idle": [],
    "supplies.category": SUPPLIES,
    "supplies.item": [*SUPPLIES, ("tap", "Test strips")],
    "supplies.packs": [*SUPPLIES, ("tap", "Test strips"), ("tap", "Fentanyl test strips")],
    "supplies.basket": [
        *SUPPLIES,
        ("tap", "Test strips"),
        ("tap", "Fentanyl test strips"),
        ("tap", "1"),
    ],
    "supplies.location": [
        *SUPPLIES,
        ("tap", "Test strips"),
        ("tap", "Fentanyl test strips"),
        ("tap", "1"),
        ("tap", "Done: choose where"),
    ],
    "supplies.confirm": [
        *SUPPLIES,
        ("tap", "Test strips"),
        ("tap", "Fentanyl test strips"),
        ("tap", "1"),
        ("tap", "Done: choose where"),
        ("at", MAIN_AND_HASTINGS),
    ],
    "naloxone.kind": NALOXONE,
    "naloxone.location": [*NALOXONE, ("tap", "Either")],
    "naloxone.confirm": [*NALOXONE, ("tap", "Either"), ("say", "Gastown")],
    "referral.type": REFERRAL,
    "referral.location": [*REFERRAL, ("tap", "Housing")],
    "referral.results": [*REFERRAL, ("tap", "Housing"), ("say", "Chinatown")],
    "cancel.confirm": [
        *SUPPLIES,
        ("tap", "Test strips"),
        ("tap", "Fentanyl test strips"),
        ("tap", "1"),
        ("tap", "Done: choose where"),
        ("at", MAIN_AND_HASTINGS),
        ("tap", "Send request"),
        ("say", "/cancel"),
    ],
    "forget.confirm": [("say", "/forget")],
}

PREFIXES = ["sup", "nal", "ref", "st", "fgt", "inf", "menu", "zzz", ""]
# Actions of these conversations that do not create, cancel or delete anything.
HARMLESS_ACTIONS = [
    "cat", "cats", "page", "item", "packs", "more", "done", "drop", "no", "area", "areas",
    "kind", "howto", "type", "pick", "keep",
]  # fmt: skip
WORDS = [
    "Gastown", "DTES", "2", "0", "99", "yes", "no", "Send request", "/cancel", "/start",
    "/start 12345678", "/status", "/menu", "/forget", "/supplies", "/nope", "49.28, -123.1",
    "91, 181", "nan, nan", "<b>bold</b>", "&amp;", "\u202eevil", "a\u200bb", "x" * 4000,
]  # fmt: skip


@dataclass(frozen=True)
class Text:
    text: str


@dataclass(frozen=True)
class Payload:
    payload: str


@dataclass(frozen=True)
class Stale:
    """A payload of the person's own conversation tag with an action and argument."""

    prefix: str
    action: str
    arg: str


@dataclass(frozen=True)
class Where:
    lat: float
    lon: float


@dataclass(frozen=True)
class Sticker:
    pass


Input = Text | Payload | Stale | Where | Sticker

inputs: st.SearchStrategy[Input] = st.one_of(
    st.builds(Text, st.text(max_size=300)),
    st.builds(Text, st.sampled_from(WORDS)),
    st.builds(
        Payload,
        st.builds(
            lambda prefix, rest: f"{prefix}:{rest}"[:64],
            st.sampled_from(PREFIXES),
            st.text(max_size=60),
        ),
    ),
    st.builds(
        Stale,
        st.sampled_from(["sup", "nal", "ref", "st", "fgt"]),
        st.sampled_from(HARMLESS_ACTIONS),
        st.one_of(
            st.sampled_from(["", "0", "1", "9", "-1", "99999999999", "fts", "nalox_nasal", "dtes"]),
            st.text(max_size=20),
        ),
    ),
    st.builds(
        Where,
        st.floats(allow_nan=True, allow_infinity=True),
        st.floats(allow_nan=True, allow_infinity=True),
    ),
    st.builds(Where, st.floats(-90, 90), st.floats(-180, 180)),
    st.just(Sticker()),
)


@pytest.fixture
async def world(sessions: Sessions) -> World:
    """One city for all examples of a test; each example brings a new person."""
    made = await make_world(sessions)
    await made.peer("pat", "main_hastings_peer")
    return made


async def reach(world: World, who: str, path: Path) -> None:
    for how, what in path:
        if how == "say":
            await world.chat.say(who, str(what))
        elif how == "tap":
            await world.chat.tap(who, str(what))
        else:
            assert isinstance(what, tuple)
            await world.chat.share_location(who, *what)


async def send(world: World, who: str, thing: Input) -> None:
    if isinstance(thing, Text):
        await world.chat.say(who, thing.text)
    elif isinstance(thing, Payload):
        await world.chat.press(who, thing.payload)
    elif isinstance(thing, Stale):
        state = await world.state(who)
        run = str(state.data.get("run", "")) if state is not None else "0000"
        await world.chat.press(who, f"{thing.prefix}:{run}:{thing.action}:{thing.arg}"[:64])
    elif isinstance(thing, Where):
        await world.chat.share_location(who, thing.lat, thing.lon)
    else:
        await world.chat.send_sticker(who)


@pytest.mark.parametrize("step", sorted(STEPS))
@settings(
    max_examples=8,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(things=st.lists(inputs, min_size=1, max_size=3))
async def test_hostile_input_gets_one_short_answer(
    world: World, step: str, things: list[Input]
) -> None:
    who = f"p{next(_people)}"
    await reach(world, who, STEPS[step])
    before = await world.snapshot()
    for thing in things:
        seen = len(world.chat.inbox(who))
        await send(world, who, thing)
        replies = world.chat.inbox(who)[seen:]
        assert len(replies) == 1, (thing, [r.text for r in replies])
        [reply] = replies
        assert reply.text.strip(), thing
        assert len(reply.text) <= MAX_REPLY_CHARS, thing
        assert "something went wrong" not in reply.text, thing
        for option in reply.options:
            assert 1 <= len(option.payload.encode()) <= 64
    assert await world.snapshot() == before
