"""/supplies as transcripts: choosing kit, saying where, confirming, and what goes wrong."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from bot.core.messages import Reply
from bot.db.models import Item, RequestItem
from bot.domain import RequestKind, RequestStatus
from bot.privacy import snap
from bot.services import requests, retention
from handlers import supplies, ui
from tests.handlers.person_world import (
    MAIN_AND_HASTINGS,
    Sessions,
    World,
    ask_for_syringes,
    first_line,
    labels,
    make_world,
    option,
)
from tests.support.chat import texts

SYRINGES = '1 ml syringe, 29G ½" fixed needle'
KITS = [
    "1 ml syringes ×10 + swabs + water",
    "Pipe + mouthpieces + screens",
    "Fentanyl test strips ×10",
]
SHOT_KIT = KITS[0]


async def basket_of_syringes(world: World, who: str = "ana") -> None:
    """``who`` has two packs of syringes in the basket."""
    await world.chat.say(who, "/supplies")
    await world.chat.tap(who, "Kit for injecting and smoking")
    await world.chat.tap(who, SYRINGES)
    await world.chat.tap(who, "2")


async def at_confirm(world: World, who: str = "ana") -> None:
    """``who`` is looking at the confirmation of two packs of syringes in the DTES."""
    await basket_of_syringes(world, who)
    await world.chat.tap(who, "Done: choose where")
    await world.chat.share_location(who, *MAIN_AND_HASTINGS)


async def test_whole_request_reaches_the_peer(sessions: Sessions) -> None:
    world = await make_world(sessions)
    await world.peer("pat", "main_hastings_peer")

    kinds = await world.chat.say("ana", "/supplies")
    assert first_line(kinds[0]) == "What do you need?"
    assert labels(kinds[0]) == [
        *KITS,
        "Kit for injecting and smoking",
        "Test strips",
        "Sharps bins",
        "Back to menu",
    ]
    page1 = await world.chat.tap("ana", "Kit for injecting and smoking")
    assert first_line(page1[0]) == "Choose one (page 1 of 2):"
    assert len(page1[0].options) == supplies.ITEMS_PER_PAGE + 2
    assert page1[0].columns == 2
    assert labels(page1[0])[-2:] == ["More ›", "‹ Back"]
    page2 = await world.chat.tap("ana", "More ›")
    assert "page 2 of 2" in page2[0].text
    await world.chat.tap("ana", "‹ Previous")
    packs = await world.chat.tap("ana", SYRINGES)
    assert first_line(packs[0]) == "How many packs?"
    assert "one pack is 10 syringes" in packs[0].text
    assert labels(packs[0]) == ["1", "2", "3", "4", "5", "‹ Back"]
    basket = await world.chat.tap("ana", "2")
    assert '- 1 ml syringe, 29G ½" fixed needle: 2 packs (20 syringes)' in basket[0].text

    await world.chat.tap("ana", "Add something else")
    strips = await world.chat.tap("ana", "Test strips")
    assert "Done (1 item)" in labels(strips[0])
    await world.chat.tap("ana", "Fentanyl test strips")
    await world.chat.tap("ana", "1")
    where = await world.chat.tap("ana", "Done: choose where")
    assert where[0].ask_location
    assert first_line(where[0]) == "Where are you?"

    confirm = await world.chat.share_location("ana", *MAIN_AND_HASTINGS)
    assert confirm[0].text == (
        "Please check your request:\n"
        '- 1 ml syringe, 29G ½" fixed needle: 2 packs (20 syringes)\n'
        "- Fentanyl test strips: 1 pack (10 strips)\n"
        "Area: Downtown Eastside\n"
        "Send it?"
    )
    sent = await world.chat.tap("ana", "Send request")

    [request] = await world.requests("ana")
    assert sent[0].text.startswith(f"Request sent. Reference: {request.reference}\n")
    assert "You'll get the pickup place and a code here." in sent[0].text
    assert "/status" in sent[0].text
    assert "/cancel" in sent[0].text
    assert request.kind is RequestKind.EQUIPMENT
    assert request.status is RequestStatus.OFFERED
    assert request.area_code == "dtes"
    # Only the coarse cell is stored, never the shared point.
    cell = snap(*MAIN_AND_HASTINGS)
    assert (request.cell_lat, request.cell_lon) == (cell.lat, cell.lon)
    async with sessions() as session:
        items = (
            await session.scalars(
                select(RequestItem.packs).where(RequestItem.request_id == request.id)
            )
        ).all()
    assert sorted(items) == [1, 2]
    # The offer reached the peer on shift at the nearest open, stocked outlet.
    offer = world.chat.last("pat")
    assert request.reference in offer.text
    assert "2 × 1 ml syringe, 29G" in offer.text
    # The conversation is over.
    assert await world.state("ana") is None


async def test_conversation_state_keeps_only_a_coarse_point(sessions: Sessions) -> None:
    world = await make_world(sessions)
    await basket_of_syringes(world)
    await world.chat.tap("ana", "Done: choose where")
    await world.chat.share_location("ana", 49.281234, -123.098765)
    state = await world.state("ana")
    assert state is not None
    # Nothing finer than the cell the request will store (the default grid).
    coarse = snap(49.281234, -123.098765)
    assert (state.data["lat"], state.data["lon"]) == (coarse.lat, coarse.lon)
    assert "49.281234" not in repr(state.data)


async def test_typed_area_and_typed_pack_count(sessions: Sessions) -> None:
    world = await make_world(sessions)
    await world.chat.say("ana", "/supplies")
    await world.chat.tap("ana", "Sharps bins")
    asked = await world.chat.tap("ana", "Personal sharps container")
    assert first_line(asked[0]) == "How many?"
    basket = await world.chat.say("ana", "2")
    assert "- Personal sharps container × 2" in basket[0].text
    await world.chat.tap("ana", "Done: choose where")
    confirm = await world.chat.say("ana", "main and hastings")
    assert "Area: Downtown Eastside" in confirm[0].text


async def test_cancel_at_confirmation_sends_nothing(sessions: Sessions) -> None:
    world = await make_world(sessions)
    await world.peer("pat", "main_hastings_peer")
    await at_confirm(world)
    cancelled = await world.chat.tap("ana", "Cancel")
    assert first_line(cancelled[0]) == "Cancelled. Nothing was sent."
    assert labels(cancelled[0])[0] == "Supplies"
    assert await world.requests() == []
    assert world.chat.inbox("pat") == []


async def test_start_again_clears_the_basket(sessions: Sessions) -> None:
    world = await make_world(sessions)
    await basket_of_syringes(world)
    cleared = await world.chat.tap("ana", "Start again")
    assert "cleared" in cleared[0].text
    assert await world.state("ana") is None


async def test_unrouted_request_gets_one_answer_from_dispatch(sessions: Sessions) -> None:
    world = await make_world(sessions)  # nobody on shift anywhere
    await at_confirm(world)
    answer = await world.chat.tap("ana", "Send request")
    [request] = await world.requests("ana")
    assert request.status is RequestStatus.UNROUTED
    # Dispatch told the person (fixed services, emergency number); nothing was added to it.
    assert len(answer) == 1
    assert request.reference in answer[0].text
    assert "911" in answer[0].text


async def test_open_request_limit(sessions: Sessions) -> None:
    world = await make_world(sessions)
    await world.peer("pat", "main_hastings_peer")
    for _ in range(ui.MAX_OPEN_REQUESTS):
        await at_confirm(world)
        await world.chat.tap("ana", "Send request")
    refused = await world.chat.say("ana", "/supplies")
    assert first_line(refused[0]) == "You already have 3 open requests, the most at one time."
    assert "/status" in refused[0].text
    assert "/cancel" in refused[0].text
    assert await world.state("ana") is None
    # Someone else is not affected.
    assert first_line((await world.chat.say("bo", "/supplies"))[0]) == "What do you need?"


async def test_limit_is_checked_again_on_confirm(sessions: Sessions) -> None:
    world = await make_world(sessions)
    await world.peer("pat", "main_hastings_peer")
    await at_confirm(world)  # a confirmation left open while three requests are made elsewhere
    contact_id = await world.contact_id("ana")
    async with sessions.begin() as session:
        for _ in range(ui.MAX_OPEN_REQUESTS):
            await requests.create(
                session,
                contact_id=contact_id,
                kind=RequestKind.NALOXONE,
                items={},
                area_code="dtes",
                cell=None,
                ttl=timedelta(hours=1),
                now=world.clock.now,
            )
    refused = await world.chat.tap("ana", "Send request")
    assert "open requests, the most at one time" in refused[0].text
    assert len(await world.requests("ana")) == ui.MAX_OPEN_REQUESTS


async def test_stale_and_forged_buttons_change_nothing(sessions: Sessions) -> None:
    world = await make_world(sessions)
    await world.peer("pat", "main_hastings_peer")
    await at_confirm(world)
    send = option(world.chat.last("ana"), "Send request").payload
    await world.chat.press("ana", send)
    # Pressing Send again (a double tap, or an old message) does not make a second request.
    again = await world.chat.press("ana", send)
    assert first_line(again[0]) == "That button has expired. Here is the menu."
    assert len(await world.requests()) == 1

    # A new conversation gets a new tag: the old one's buttons are dead.
    await world.chat.say("ana", "/supplies")
    state = await world.state("ana")
    assert state is not None
    run = state.data["run"]
    old_run = send.split(":")[1]
    assert run != old_run
    for forged in (
        f"sup:{old_run}:cat:test_strips",  # earlier conversation
        f"sup:{run}:item:nalox_nasal",  # naloxone has its own conversation
        f"sup:{run}:item:nothing",
        f"sup:{run}:packs:3",  # not at the packs step
        f"sup:{run}:yes",  # not at the confirmation
        f"sup:{run}:cat",
        f"sup:{run}",
        "sup",
        f"sup:{run}:cat:test_strips:extra:" + "x" * 40,
    ):
        replies = await world.chat.press("ana", forged)
        assert [r.text for r in replies] == ["That button has expired. Here is the menu."], forged
    state_after = await world.state("ana")
    assert state_after is not None
    assert (state_after.step, state_after.data) == (state.step, state.data)

    # Packs beyond the item's limit, even at the packs step.
    await world.chat.press("ana", f"sup:{run}:cat:test_strips")  # the state went on as before
    await world.chat.tap("ana", "Fentanyl test strips")
    too_many = await world.chat.press("ana", f"sup:{run}:packs:4")
    assert "expired" in texts(too_many)
    assert len(await world.requests()) == 1


async def test_typing_and_locations_at_button_steps_re_prompt(sessions: Sessions) -> None:
    world = await make_world(sessions)
    first = await world.chat.say("ana", "/supplies")
    again = await world.chat.say("ana", "syringes please <b>now</b>")
    assert first_line(again[0]) == "Please choose one of the buttons."
    assert again[0].options == first[0].options
    located = await world.chat.share_location("ana", *MAIN_AND_HASTINGS)
    assert "once your list is ready" in located[0].text
    assert located[0].options == first[0].options
    await world.chat.tap("ana", "Test strips")
    await world.chat.tap("ana", "Fentanyl test strips")
    nine = await world.chat.say("ana", "9")  # more packs than allowed: asked again
    assert first_line(nine[0]) == "Please choose one of the buttons."
    assert labels(nine[0]) == ["1", "2", "3", "‹ Back"]


async def test_a_new_location_at_confirmation_moves_the_request(sessions: Sessions) -> None:
    world = await make_world(sessions)
    await at_confirm(world)
    moved = await world.chat.say("ana", "hello?")
    assert first_line(moved[0]) == "Please choose one of the buttons."
    assert "Area: Downtown Eastside" in moved[0].text
    kits = await world.chat.share_location("ana", 49.2680, -123.1650)
    assert "Area: Kitsilano" in kits[0].text


async def test_basket_holds_at_most_eight_items(sessions: Sessions) -> None:
    world = await make_world(sessions)
    await world.chat.say("ana", "/supplies")
    await world.chat.tap("ana", "Kit for injecting and smoking")
    specs = world.engine.deps.content.catalogue.in_category("equipment")
    for n, spec in enumerate(specs[: supplies.MAX_BASKET]):
        if n:
            await world.chat.tap("ana", "Add something else")
            await world.chat.tap("ana", "Kit for injecting and smoking")
        if spec.name not in labels(world.chat.last("ana")):
            await world.chat.tap("ana", "More ›")
        await world.chat.tap("ana", spec.name)
        await world.chat.tap("ana", "1")
    full = world.chat.last("ana")
    assert "Add something else" not in labels(full)
    assert full.text.count("\n- ") == supplies.MAX_BASKET
    state = await world.state("ana")
    assert state is not None
    extra = specs[supplies.MAX_BASKET]
    refused = await world.chat.press("ana", f"sup:{state.data['run']}:more")
    assert "expired" in texts(refused)
    assert extra.code not in state.data["basket"]


# --- fewer taps ----------------------------------------------------------------------------------


class Counted:
    """The person's actions (messages and taps) counted as they happen."""

    def __init__(self, world: World, who: str) -> None:
        self.world, self.who, self.actions = world, who, 0

    async def say(self, text: str) -> list[Reply]:
        self.actions += 1
        return await self.world.chat.say(self.who, text)

    async def tap(self, label: str) -> list[Reply]:
        self.actions += 1
        return await self.world.chat.tap(self.who, label)


async def test_common_kit_in_four_actions_from_start(sessions: Sessions) -> None:
    world = await make_world(sessions)
    await world.peer("pat", "main_hastings_peer")
    ana = Counted(world, "ana")

    welcome = await ana.say("/start")
    assert labels(welcome[0])[:3] == KITS
    where = await ana.tap(SHOT_KIT)
    assert first_line(where[0]) == "Where are you?"
    assert where[0].ask_location
    confirm = await ana.tap("Downtown Eastside")
    assert confirm[0].text == (
        "Please check your request:\n"
        '- 1 ml syringe, 29G ½" fixed needle: 1 pack (10 syringes)\n'
        "- Alcohol swabs: 1 pack (20 swabs)\n"
        "- Sterile water, 2 ml ampoules: 1 pack (10 ampoules)\n"
        "Area: Downtown Eastside\n"
        "Send it?"
    )
    sent = await ana.tap("Send request")

    assert ana.actions == 4  # /start, kit, area, send
    [request] = await world.requests("ana")
    assert sent[0].text.startswith(f"Request sent. Reference: {request.reference}\n")
    assert request.status is RequestStatus.OFFERED
    assert request.area_code == "dtes"
    assert await _packs(sessions, request.id) == {"syr_1ml_29g": 1, "swab": 1, "water_2ml": 1}
    assert request.reference in world.chat.last("pat").text


async def test_kit_with_the_area_known_goes_straight_to_confirm(sessions: Sessions) -> None:
    world = await make_world(sessions)
    [welcome] = await world.chat.say("ana", "/start")
    smoke = option(welcome, KITS[1]).payload
    await at_confirm(world)  # the area is known in this conversation now
    confirm = await world.chat.press("ana", smoke)  # the kit, from the welcome above
    assert first_line(confirm[0]) == "Please check your request:"
    assert "- Glass stem (crack pipe) × 1" in confirm[0].text
    assert "syringe" not in confirm[0].text  # the kit replaced the list
    assert "Area: Downtown Eastside" in confirm[0].text
    await world.chat.tap("ana", "Send request")
    [request] = await world.requests("ana")
    assert await _packs(sessions, request.id) == {
        "pipe_stem": 1,
        "pipe_mouthpiece": 1,
        "pipe_screens": 1,
    }


async def test_kits_on_supplies_and_the_area_list(sessions: Sessions) -> None:
    world = await make_world(sessions)
    [kinds] = await world.chat.say("ana", "/supplies")
    assert [o.wide for o in kinds.options[:3]] == [True, True, True]
    where = await world.chat.tap("ana", KITS[2])
    assert first_line(where[0]) == "Where are you?"
    await world.chat.say("ana", "DTES")
    await world.chat.tap("ana", "Send request")
    # Back for more: the area of the last request picks its own list of kits (content/kits.yaml).
    [again] = await world.chat.say("ana", "/supplies")
    assert labels(again)[:5] == [
        "1 ml syringes ×10 + swabs + water",
        "Thin 1 ml syringes ×10 + swabs + water",
        "Foil ×10 + swabs",
        "Fentanyl test strips ×10",
        "Same as last time",
    ]
    # Once something is in the list, a kit (which would replace it) is not offered.
    await world.chat.tap("ana", "Sharps bins")
    await world.chat.tap("ana", "Personal sharps container")
    await world.chat.tap("ana", "1")
    [more] = await world.chat.tap("ana", "Add something else")
    assert "Same as last time" not in labels(more)
    assert not set(KITS) & set(labels(more))


async def test_same_as_last_time(sessions: Sessions) -> None:
    world = await make_world(sessions)
    [welcome] = await world.chat.say("ana", "/start")
    assert "Same as last time" not in labels(welcome)
    await ask_for_syringes(world)
    [welcome] = await world.chat.say("ana", "/start")
    assert labels(welcome)[4] == "Same as last time"  # after the four kits of the DTES
    await world.chat.tap("ana", "Same as last time")
    confirm = await world.chat.say("ana", "Kitsilano")
    assert confirm[0].text.splitlines()[1:3] == [
        '- 1 ml syringe, 29G ½" fixed needle: 2 packs (20 syringes)',
        "Area: Kitsilano",
    ]
    # Someone else's last request is not offered to bo.
    [other] = await world.chat.say("bo", "/start")
    assert "Same as last time" not in labels(other)


async def test_same_as_last_time_goes_with_the_request_data(sessions: Sessions) -> None:
    world = await make_world(sessions)
    reference = await ask_for_syringes(world)
    [request] = await world.requests("ana")
    async with sessions.begin() as session:
        await requests.cancel(
            session,
            request_id=request.id,
            contact_id=await world.contact_id("ana"),
            now=world.clock.now,
        )
    world.clock.advance(hours=2)
    async with sessions.begin() as session:
        purged = await retention.purge(session, now=world.clock.now, retention=timedelta(hours=1))
    assert purged.requests == 1, reference
    [welcome] = await world.chat.say("ana", "/start")
    assert "Same as last time" not in labels(welcome)
    # An old button does nothing once there is nothing to repeat.
    stale = await world.chat.press("ana", "again:sup")
    assert first_line(stale[0]) == "That button has expired. Here is the menu."
    assert await world.state("ana") is None


async def test_kit_shortcuts_refuse_like_the_rest(sessions: Sessions) -> None:
    world = await make_world(sessions)
    await world.peer("pat", "main_hastings_peer")
    stale = await world.chat.press("ana", "kit:no_such_kit")
    assert first_line(stale[0]) == "That button has expired. Here is the menu."
    for _ in range(ui.MAX_OPEN_REQUESTS):
        await ask_for_syringes(world)
    await world.chat.say("ana", "/start")
    full = await world.chat.tap("ana", SHOT_KIT)
    assert "You already have 3 open requests" in full[0].text
    assert len(await world.requests("ana")) == ui.MAX_OPEN_REQUESTS


async def _packs(sessions: Sessions, request_id: int) -> dict[str, int]:
    async with sessions() as session:
        rows = await session.execute(
            select(Item.code, RequestItem.packs)
            .join(Item, Item.id == RequestItem.item_id)
            .where(RequestItem.request_id == request_id)
        )
    return {row.code: row.packs for row in rows.all()}
