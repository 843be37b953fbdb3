"""/start, /help, /menu, the menu buttons and the answers of last resort."""

from __future__ import annotations

from dataclasses import replace

from sqlalchemy import select

from bot.content import Kits
from bot.content.cards import DISCREET_WORDS
from bot.db.models import PeerWorker
from bot.domain import Role
from bot.services import invites
from handlers.routes import build_routes
from tests.handlers.person_world import (
    MAIN_AND_HASTINGS,
    Sessions,
    first_line,
    labels,
    make_world,
)
from tests.support.chat import texts

MENU = ["Supplies", "Naloxone", "Referral", "My requests", "Info", "Emergency"]
KITS = [
    "1 ml syringes ×10 + swabs + water",
    "Pipe + mouthpieces + screens",
    "Fentanyl test strips ×10",
]
EXPIRED = "That button has expired. Here is the menu."


async def test_welcome(sessions: Sessions) -> None:
    world = await make_world(sessions)
    [reply] = await world.chat.say("ana", "/start")
    assert first_line(reply) == "Hi. This service is anonymous by design."
    assert "No name or phone number is stored" in reply.text
    assert "/forget" in reply.text
    # Straight into the choices: the common kits (each on its own row), then the menu.
    assert "\n\nChoose a common kit, or from the menu:\n\n🌐 " in reply.text
    assert labels(reply) == [*KITS, *MENU]
    assert [o.wide for o in reply.options] == [True] * len(KITS) + [False] * len(MENU)
    assert reply.columns == 2


async def test_welcome_and_supplies_do_not_ask_twice(sessions: Sessions) -> None:
    world = await make_world(sessions)
    [welcome] = await world.chat.say("ana", "/start")
    [kinds] = await world.chat.tap("ana", "Supplies")
    assert "What do you need?" not in welcome.text
    assert first_line(kinds) == "What do you need?"


async def test_welcome_without_kits(sessions: Sessions) -> None:
    world = await make_world(sessions)
    world.engine.deps = replace(
        world.engine.deps, content=replace(world.engine.deps.content, kits=Kits())
    )
    [reply] = await world.chat.say("ana", "/start")
    assert "\n\nChoose from the menu:\n\n🌐 " in reply.text
    assert labels(reply) == MENU


async def test_start_with_an_invite_code_enrols_a_peer(sessions: Sessions) -> None:
    world = await make_world(sessions)
    async with sessions.begin() as session:
        code = await invites.create(
            session,
            codes_key=world.engine.deps.keys.codes,
            role=Role.PEER,
            ttl=world.engine.deps.config.invite_ttl,
            outlet_id=world.outlets["drive_peer"],
            now=world.clock.now,
        )
    [reply] = await world.chat.say("pia", f"/start {code}")
    assert "peer worker" in reply.text
    contact_id = await world.contact_id("pia")
    async with sessions() as session:
        enrolled = await session.execute(select(PeerWorker.outlet_id, PeerWorker.contact_id))
    # On a staff contact of its own, never the one that holds pia's requests.
    [(outlet_id, staff_id)] = enrolled.all()
    assert outlet_id == world.outlets["drive_peer"]
    assert staff_id != contact_id
    # The same link a second time enrols nobody else.
    [again] = await world.chat.say("bo", f"/start {code}")
    assert "not valid" in again.text


async def test_help_and_menu(sessions: Sessions) -> None:
    world = await make_world(sessions)
    [reply] = await world.chat.say("ana", "/help")
    assert first_line(reply) == "How this works"
    for command in ("/supplies", "/naloxone", "/referral", "/status", "/cancel", "/forget"):
        assert command in reply.text
    await world.chat.say("ana", "/supplies")
    [menu] = await world.chat.say("ana", "/menu")
    assert first_line(menu) == "What do you need?"
    assert labels(menu) == MENU
    assert await world.state("ana") is None


async def test_every_menu_button(sessions: Sessions) -> None:
    world = await make_world(sessions)
    expected = {
        "Supplies": "What do you need?",
        "Naloxone": "Which kind of kit?",
        "Referral": "What kind of help are you looking for?",
        "My requests": "You have no open requests.",
        "Info": "Info: choose a topic.",
        "Emergency": "Emergency: what to do",
    }
    for label, first in expected.items():
        await world.chat.say("ana", "/menu")
        [reply] = await world.chat.tap("ana", label)
        assert first_line(reply) == first, label
    assert first_line((await world.chat.press("ana", "menu:main"))[0]) == "What do you need?"
    assert first_line((await world.chat.press("ana", "menu:forget"))[0]) == "Delete everything?"


async def test_answers_of_last_resort(sessions: Sessions) -> None:
    world = await make_world(sessions)
    [text] = await world.chat.say("ana", "hello")
    assert first_line(text) == "Please choose from the menu."
    assert labels(text) == [*KITS, *MENU]  # often a first message: the kits are one tap away
    [unknown] = await world.chat.say("ana", "/frobnicate now")
    assert first_line(unknown) == "I don't know that command. Here is the menu."
    [where] = await world.chat.share_location("ana", *MAIN_AND_HASTINGS)
    assert first_line(where).startswith("I only use a location while you make a request.")
    assert await world.state("ana") is None
    for forged in ("menu:nowhere", "menu:", "zzz:1:2", "x" * 64, ":", "sup:::"):
        assert texts(await world.chat.press("ana", forged)) == EXPIRED, forged


async def test_stickers_change_nothing(sessions: Sessions) -> None:
    world = await make_world(sessions)
    await world.chat.say("ana", "/supplies")
    [items] = await world.chat.tap("ana", "Test strips")
    before = await world.state("ana")
    [reply] = await world.chat.send_sticker("ana")
    # What can be read, then the step's own question and options again: no scrolling up.
    assert reply.text == f"I can only read text, buttons and locations.\n\n{items.text}"
    assert reply.options == items.options
    after = await world.state("ana")
    assert before is not None
    assert after is not None
    assert (after.flow, after.step, after.data) == (before.flow, before.step, before.data)
    # The conversation goes on where it was.
    [packs] = await world.chat.tap("ana", "Fentanyl test strips")
    assert first_line(packs) == "How many packs?"


async def test_stale_buttons_leave_the_conversation_alone(sessions: Sessions) -> None:
    world = await make_world(sessions)
    await world.chat.say("ana", "/naloxone")
    stale = world.chat.last("ana").options[0].payload
    await world.chat.say("ana", "/supplies")
    before = await world.state("ana")
    assert texts(await world.chat.press("ana", stale)) == EXPIRED
    after = await world.state("ana")
    assert before is not None
    assert after is not None
    assert (after.flow, after.step, after.data) == (before.flow, before.step, before.data)


async def test_first_lines_are_discreet(sessions: Sessions) -> None:
    """Whatever a person is sent, a lock screen's first line says nothing about drugs."""
    world = await make_world(sessions)
    await world.peer("pat", "main_hastings_peer")
    script = [
        "/start",
        "/help",
        "/supplies",
        "Kit for injecting and smoking",
        '1 ml syringe, 29G ½" fixed needle',
        "2",
        "Done: choose where",
        "DTES",
        "Send request",
        "/naloxone",
        "Shot kit (injectable)",
        "How to use it",
        "DTES",
        "Send request",
        "/referral",
        "Opioid substitution treatment",
        "Mount Pleasant",
        "/status",
        "/cancel",
        "/info",
        "/emergency",
        "/forget",
    ]
    for step in script:
        labels_now = labels(world.chat.last("ana")) if world.chat.inbox("ana") else []
        if step in labels_now:
            await world.chat.tap("ana", step)
        else:
            await world.chat.say("ana", step)
    for card in world.engine.deps.content.cards.cards:
        await world.chat.press("ana", f"inf:{card.code}")
    received = world.chat.inbox("ana")
    assert len(received) > 20
    for reply in received:
        line = first_line(reply).casefold()
        assert not any(word in line for word in DISCREET_WORDS), reply.text


def test_menu_commands_are_listed() -> None:
    names = [command.name for command in build_routes().menu]
    for name in ("supplies", "naloxone", "referral", "status", "cancel", "info", "emergency"):
        assert name in names
    assert "forget" in names
    assert "help" in names


async def test_stickers_outside_a_conversation_get_the_plain_answer(sessions: Sessions) -> None:
    world = await make_world(sessions)
    [reply] = await world.chat.send_sticker("ana")
    assert reply.text == "I can only read text, buttons and locations."
    assert reply.options == ()
    assert await world.state("ana") is None


async def test_stickers_at_every_supplies_step_show_its_options(sessions: Sessions) -> None:
    world = await make_world(sessions)
    steps = [
        ("say", "/supplies"),
        ("tap", "Test strips"),
        ("tap", "Fentanyl test strips"),
        ("tap", "2"),
        ("tap", "Done: choose where"),
        ("tap", "Gastown"),
    ]
    for how, what in steps:
        [asked] = await (world.chat.say if how == "say" else world.chat.tap)("ana", what)
        before = await world.state("ana")
        [again] = await world.chat.send_sticker("ana")
        assert again.text.startswith("I can only read text, buttons and locations.\n\n"), what
        assert again.text.endswith(asked.text), what
        assert again.options == asked.options, what
        assert again.ask_location == asked.ask_location, what
        after = await world.state("ana")
        assert before is not None
        assert after is not None
        assert (after.flow, after.step, after.data) == (before.flow, before.step, before.data)
