"""Peer workers as transcripts: joining, shifts, accepting, handing over, releasing, stock."""

from __future__ import annotations

import asyncio
import re
from datetime import timedelta

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from bot.core.text import parse_command
from bot.db.engine import make_engine as make_db_engine
from bot.db.engine import make_sessionmaker
from bot.db.models import AuditEvent, Offer, PeerWorker
from bot.domain import OfferStatus, Role
from bot.services import invites
from tests.handlers.peer_world import HERE, Sessions, World, make_world, offer_payload
from tests.support.chat import texts

CODE = re.compile(r"Your pickup code: ([0-9]{6})")


def pickup_code(world: World, who: str) -> str:
    """The pickup code the person was sent."""
    for reply in reversed(world.chat.inbox(who)):
        match = CODE.search(reply.text)
        if match:
            return match.group(1)
    raise AssertionError(f"{who} got no pickup code")


async def test_whole_journey(sessions: Sessions) -> None:
    world = await make_world(sessions)
    await world.outlet("alpha", stock={"syr_1ml_29g": 7, "nalox_nasal": 3}, low_threshold=5)
    await world.peer("pat", "alpha")

    outcome = await world.request("ana", {"syr_1ml_29g": 2, "nalox_nasal": 1})
    assert outcome.reference is not None
    offer = world.chat.last("pat")
    assert offer.text.splitlines()[0] == "New pickup request"
    assert outcome.reference in offer.text
    assert "2 × 1 ml syringe, 29G" in offer.text
    assert "1 × Naloxone nasal spray" in offer.text
    assert "Distance: ~1 km" in offer.text
    # 11:00 in Vancouver + 15 minutes to answer.
    assert "Please answer by 11:15." in offer.text

    accepted = await world.chat.tap("pat", "Accept")
    assert f"You accepted {outcome.reference}" in texts(accepted)
    labels = [o.label for o in accepted[-1].options]
    assert labels[0] == "Handed over"
    assert labels[-1] == "Release"
    assert await world.stock("alpha", "syr_1ml_29g") == (7, 2)

    pickup = world.chat.last("ana").text
    assert "Alpha table" in pickup
    assert "Ask for the alpha peer." in pickup
    assert "Please come by" in pickup
    code = pickup_code(world, "ana")

    asked = await world.chat.tap("pat", "Handed over")
    assert "Type the pickup code" in texts(asked)
    done = await world.chat.say("pat", code[:3] + " " + code[3:])
    assert f"Handed over {outcome.reference}" in texts(done)
    assert "Thanks for picking up" in world.chat.last("ana").text
    assert await world.stock("alpha", "syr_1ml_29g") == (5, 0)
    assert await world.stock("alpha", "nalox_nasal") == (2, 0)
    assert await world.status(outcome.request_id) == "handed_over"
    # Both items crossed their threshold: coordinators hear about each once.
    lows = [r.text for r in world.chat.inbox("coco") if r.text.startswith("Low stock")]
    assert len(lows) == 2
    # The peer never saw anything about the person.
    seen = texts(world.chat.inbox("pat"))
    assert "ana" not in seen
    assert code not in seen


async def test_whole_journey_through_supplies(sessions: Sessions) -> None:
    """The same journey with the person side driven through /supplies."""
    world = await make_world(sessions)
    await world.outlet("alpha", stock={"syr_1ml_29g": 6})
    await world.peer("pat", "alpha")
    chat = world.chat
    await chat.say("ana", "/supplies")
    await chat.tap("ana", "Kit for injecting and smoking")
    await chat.tap("ana", '1 ml syringe, 29G ½" fixed needle')
    await chat.tap("ana", "2")
    await chat.tap("ana", "Done: choose where")
    await chat.share_location("ana", *HERE)
    await chat.tap("ana", "Send request")
    assert chat.last("pat").text.startswith("New pickup request")

    await chat.tap("pat", "Accept")
    code = pickup_code(world, "ana")
    await chat.tap("pat", "Handed over")
    assert "Handed over" in texts(await chat.say("pat", code))
    assert chat.last("ana").text.startswith("Thanks for picking up")
    assert await world.stock("alpha", "syr_1ml_29g") == (4, 0)
    assert [r.text for r in chat.inbox("coco") if r.text.startswith("Low stock")] == [
        'Low stock at Alpha table: 1 ml syringe, 29G ½" fixed needle (4 left).'
    ]


async def test_twenty_peers_accept_at_once(sessions: Sessions) -> None:
    """One winner among twenty taps. Catches a missing request-status guard in the accept
    only on PostgreSQL (see test_twenty_peers_accept_at_once_one_wins in tests/services)."""
    world = await make_world(sessions)
    await world.outlet("alpha", stock={"syr_1ml_29g": 5})
    peers = [f"peer{n}" for n in range(20)]
    for who in peers:
        await world.peer(who, "alpha")
    outcome = await world.request("ana", {"syr_1ml_29g": 2})
    payload = offer_payload(world.chat.last("peer0"))
    assert all(offer_payload(world.chat.last(who)) == payload for who in peers)

    answers = await asyncio.gather(*(world.chat.press(who, payload) for who in peers))

    said = [texts(a) for a in answers]
    assert all(len(a) == 1 for a in answers)
    assert sum("You accepted" in s for s in said) == 1
    assert sum(s == "Already taken by another peer." for s in said) == 19
    assert await world.stock("alpha", "syr_1ml_29g") == (5, 2)
    assert sum("Your pickup code" in r.text for r in world.chat.inbox("ana")) == 1
    async with sessions() as session:
        accepted = await session.scalar(
            select(func.count())
            .select_from(AuditEvent)
            .where(AuditEvent.action == "offer.accepted")
        )
    assert accepted == 1
    assert await world.status(outcome.request_id) == "accepted"


async def test_double_tap_by_the_winner(sessions: Sessions) -> None:
    world = await make_world(sessions)
    await world.outlet("alpha")
    await world.peer("pat", "alpha")
    await world.request("ana")
    payload = offer_payload(world.chat.last("pat"))
    await world.chat.press("pat", payload)
    assert texts(await world.chat.press("pat", payload)) == "You already accepted this request."


async def test_decline_goes_to_next_outlet(sessions: Sessions) -> None:
    world = await make_world(sessions)
    await world.outlet("alpha", east_km=1)
    await world.outlet("beta", east_km=3)
    await world.peer("pat", "alpha")
    await world.peer("bea", "beta")
    outcome = await world.request("ana")
    assert outcome.outlet_id == world.outlets["alpha"]
    assert world.chat.inbox("bea")[-1].text.splitlines()[0] != "New pickup request"

    declined = await world.chat.tap("pat", "Decline")
    assert "goes to the next outlet" in texts(declined)
    offer = world.chat.last("bea")
    assert offer.text.startswith("New pickup request")
    assert outcome.reference is not None
    assert outcome.reference in offer.text
    assert "Distance: ~3 km" in offer.text
    # The declined button is stale now.
    assert texts(await world.chat.tap("pat", "Accept")) == "This offer is no longer open."
    await world.chat.tap("bea", "Accept")
    assert "Beta table" in world.chat.last("ana").text


async def test_release_goes_to_next_outlet(sessions: Sessions) -> None:
    world = await make_world(sessions)
    await world.outlet("alpha", east_km=1)
    await world.outlet("beta", east_km=2)
    await world.peer("pat", "alpha")
    await world.peer("bea", "beta")
    outcome = await world.request("ana")
    await world.chat.tap("pat", "Accept")
    first_code = pickup_code(world, "ana")
    assert await world.stock("alpha", "syr_1ml_29g") == (20, 2)

    confirm = await world.chat.tap("pat", "Release")
    assert [o.label for o in confirm[-1].options] == ["Yes, release", "Keep it"]
    assert texts(await world.chat.tap("pat", "Keep it")) == "OK, nothing changed."
    assert await world.status(outcome.request_id) == "accepted"
    await world.chat.press("pat", confirm[-1].options[0].payload)

    assert await world.stock("alpha", "syr_1ml_29g") == (20, 0)
    assert "no longer works" in world.chat.inbox("ana")[-1].text
    assert world.chat.last("bea").text.startswith("New pickup request")
    await world.chat.tap("bea", "Accept")
    second_code = pickup_code(world, "ana")
    await world.chat.tap("bea", "Handed over")
    if second_code != first_code:  # one chance in a million that they are the same
        assert "doesn't match" in texts(await world.chat.say("bea", first_code))
    assert "Handed over" in texts(await world.chat.say("bea", second_code))
    assert await world.stock("beta", "syr_1ml_29g") == (18, 0)
    assert await world.stock("alpha", "syr_1ml_29g") == (20, 0)


async def test_wrong_code_changes_nothing(sessions: Sessions) -> None:
    world = await make_world(sessions)
    await world.outlet("alpha")
    await world.peer("pat", "alpha")
    outcome = await world.request("ana")
    await world.chat.tap("pat", "Accept")
    code = pickup_code(world, "ana")
    wrong = f"{(int(code) + 1) % 1_000_000:06d}"
    await world.chat.tap("pat", "Handed over")
    assert texts(await world.chat.say("pat", "hello")) == (
        "A pickup code is 6 digits. Please type it again."
    )
    assert "doesn't match" in texts(await world.chat.say("pat", wrong))
    assert "doesn't match" in texts(await world.chat.say("pat", wrong))
    last = await world.chat.say("pat", wrong)
    assert "Check it with the person" in texts(last)
    assert await world.status(outcome.request_id) == "accepted"
    assert await world.stock("alpha", "syr_1ml_29g") == (20, 2)
    # Out of tries, a typed code is not taken as one any more; tapping again is.
    await world.chat.tap("pat", "Handed over")
    assert "Handed over" in texts(await world.chat.say("pat", code))
    assert await world.status(outcome.request_id) == "handed_over"


async def test_wrong_codes_over_several_taps_freeze_the_request(sessions: Sessions) -> None:
    world = await make_world(sessions)  # coco is a coordinator
    await world.outlet("alpha")
    await world.peer("pat", "alpha")
    outcome = await world.request("ana")
    await world.chat.tap("pat", "Accept")
    code = pickup_code(world, "ana")
    wrong = f"{(int(code) + 1) % 1_000_000:06d}"
    told = len(world.chat.inbox("coco"))
    await world.chat.tap("pat", "Handed over")
    for _ in range(3):
        assert "doesn't match" in texts(await world.chat.say("pat", wrong))
    await world.chat.tap("pat", "Handed over")  # a new tap: 3 more tries for this tap...
    assert "doesn't match" in texts(await world.chat.say("pat", wrong))
    frozen = texts(await world.chat.say("pat", wrong))  # ...but the request took 5 in all
    assert f"Too many wrong codes for {outcome.reference}" in frozen
    notices = [r.text for r in world.chat.inbox("coco")[told:]]
    assert len(notices) == 1
    assert f"Pickup {outcome.reference} at Alpha table is frozen" in notices[0]
    assert code not in notices[0]
    # The right code no longer hands it over, whether typed now or after a new tap.
    assert "Handed over" not in texts(await world.chat.say("pat", code))
    handed_over = f"pk:h:{outcome.request_id}"  # the button on pat's earlier message
    assert f"Too many wrong codes for {outcome.reference}" in texts(
        await world.chat.press("pat", handed_over)
    )
    assert "Handed over" not in texts(await world.chat.say("pat", code))
    assert await world.status(outcome.request_id) == "accepted"
    assert await world.stock("alpha", "syr_1ml_29g") == (20, 2)
    assert len(world.chat.inbox("coco")) == told + 1  # told once
    # The person can still cancel it.
    await world.chat.say("ana", "/cancel")
    assert f"Request {outcome.reference} is cancelled." in texts(
        await world.chat.tap("ana", "Yes, cancel it")
    )
    assert await world.status(outcome.request_id) == "cancelled"


async def test_forged_and_stale_buttons(sessions: Sessions) -> None:
    world = await make_world(sessions)
    await world.outlet("alpha", east_km=1)
    await world.outlet("beta", east_km=2)
    await world.peer("pat", "alpha")
    await world.peer("sam", "alpha")
    await world.peer("bea", "beta")
    first = await world.request("ana")
    other = await world.request("bob")
    assert first.outlet_id == other.outlet_id == world.outlets["alpha"]
    payload = offer_payload(world.chat.last("pat"))

    # A peer of another outlet, the same payload.
    assert texts(await world.chat.press("bea", payload)) == "This offer is not for your outlet."
    # Someone who is not a peer at all.
    assert texts(await world.chat.press("ana", payload)) == "This offer is not for your outlet."
    for junk in ("off:a:abc", "off:a:", "off:x:1", "off:a:99999999999999", "off:a:1:2", "off"):
        assert texts(await world.chat.press("pat", junk)) == "That button is no longer valid."
    assert texts(await world.chat.press("pat", "off:a:424242")) == (
        "This offer is not for your outlet."
    )
    for junk in ("pk:h:x", "pk:zz:1", "stk:1", "shf:maybe"):
        assert texts(await world.chat.press("pat", junk)) == "That button is no longer valid."
    # Pickup buttons for a request that is not accepted here.
    assert texts(await world.chat.press("pat", f"pk:h:{first.request_id}")) == (
        "This pickup is no longer open."
    )
    await world.chat.press("pat", payload)
    assert texts(await world.chat.press("bea", f"pk:rr:{other.request_id}")) == (
        "This pickup is no longer open."
    )
    # Stock of another outlet.
    assert texts(
        await world.chat.press("bea", f"stk:{world.outlets['alpha']}:{world.items['swab']}")
    ) == ("This button is not for you.")
    # An old offer, after its request was accepted: taken.
    assert texts(await world.chat.press("sam", payload)) == "Already taken by another peer."
    async with sessions() as session:
        statuses = sorted((await session.scalars(select(Offer.status).order_by(Offer.id))).all())
    assert statuses == sorted([OfferStatus.ACCEPTED, OfferStatus.PENDING])


async def test_join_with_bad_codes(sessions: Sessions) -> None:
    world = await make_world(sessions)
    await world.outlet("alpha")
    code = await world.invite_code("coco", "alpha")
    assert "peer worker at Alpha table" in texts(await world.chat.say("pat", f"/join {code}"))
    refusal = "That code is not valid, already used or expired."
    assert texts(await world.chat.say("eve", f"/join {code}")) == refusal
    assert texts(await world.chat.say("eve", "/join NOPE-NOPE")) == refusal
    assert texts(await world.chat.say("eve", "/join ---")) == refusal
    assert texts(await world.chat.say("eve", "/join " + "x" * 500)) == refusal
    assert texts(await world.chat.say("eve", "/join")) == "Send /join followed by your invite code."
    async with world.sessions.begin() as session:
        expiring = await invites.create(
            session,
            codes_key=world.engine.deps.keys.codes,
            role=Role.PEER,
            outlet_id=world.outlets["alpha"],
            ttl=timedelta(hours=1),
            now=world.clock.now,
        )
    world.clock.advance(hours=2)
    assert texts(await world.chat.say("eve", f"/join {expiring}")) == refusal
    assert texts(await world.chat.say("eve", "/shift")) == "This command is for peer workers."
    async with sessions() as session:
        peers = await session.scalar(select(func.count()).select_from(PeerWorker))
    assert peers == 1


async def test_shift_toggle_and_pending_offers(sessions: Sessions) -> None:
    world = await make_world(sessions)
    await world.outlet("alpha")
    await world.peer("pat", "alpha")
    await world.peer("sam", "alpha", on_shift=False)
    status = await world.chat.say("sam", "/shift")
    assert "Alpha table: off shift." in texts(status)
    assert [o.label for o in status[-1].options] == ["Go on shift"]

    await world.request("ana")
    assert world.chat.inbox("sam")[-1].text.splitlines()[0] != "New pickup request"
    assert "Pending offers: 1" in texts(await world.chat.say("pat", "/shift"))

    on = await world.chat.tap("sam", "Go on shift")
    # 11:00 local + 8 hours.
    assert "Alpha table: on shift until 19:00." in on[0].text
    assert on[-1].text.startswith("New pickup request")
    assert [o.label for o in on[0].options] == ["Go off shift"]
    offers_now = await world.chat.say("sam", "/offers")
    assert offers_now[0].text.startswith("New pickup request")

    off = await world.chat.press("sam", "shf:off")
    assert "You're off shift" in texts(off)
    await world.chat.press("pat", offer_payload(offers_now[0]))
    assert texts(await world.chat.say("sam", "/offers")) == "No pending offers for your outlet."


async def test_stock_set_and_low_stock_notice_once(sessions: Sessions) -> None:
    world = await make_world(sessions)
    await world.outlet("alpha", stock={"syr_1ml_29g": 20, "nalox_nasal": 6}, low_threshold=5)
    await world.peer("pat", "alpha")
    shown = await world.chat.say("pat", "/stock")
    assert "Stock at Alpha table:" in shown[0].text
    assert "syr_1ml_29g: 20" in shown[0].text
    assert "nalox_nasal: 6" in shown[0].text

    assert texts(await world.chat.say("pat", "/stock nalox_nasal 4")) == (
        "Naloxone nasal spray 1.8 mg: now 4."
    )
    assert await world.stock("alpha", "nalox_nasal") == (4, 0)
    assert texts(await world.chat.say("pat", "/stock nalox_nasal 3")).endswith("now 3.")
    lows = [r.text for r in world.chat.inbox("coco") if r.text.startswith("Low stock")]
    assert lows == ["Low stock at Alpha table: Naloxone nasal spray 1.8 mg (4 left)."]

    for bad in ("/stock nalox_nasal -1", "/stock nalox_nasal lots", "/stock nalox_nasal 1e9"):
        assert "whole number" in texts(await world.chat.say("pat", bad))
    assert "Unknown item code" in texts(await world.chat.say("pat", "/stock heroin 3"))
    assert "/stock CODE NUMBER" in texts(await world.chat.say("pat", "/stock a b c d"))

    # Restock above the threshold re-arms the notice; the button way this time.
    await world.chat.say("pat", "/stock")
    await world.chat.tap("pat", "nalox_nasal (3)")
    assert "whole number" in texts(await world.chat.say("pat", "many"))
    assert texts(await world.chat.say("pat", "12")).endswith("now 12.")
    await world.chat.say("pat", "/stock nalox_nasal 2")
    lows = [r.text for r in world.chat.inbox("coco") if r.text.startswith("Low stock")]
    assert len(lows) == 2
    # A new item at this outlet.
    assert texts(await world.chat.say("pat", "/stock swab 50")).endswith("now 50.")
    # Coordinators can count any outlet by key; others can't.
    assert "now 7" in texts(await world.chat.say("coco", "/stock alpha swab 7"))
    assert texts(await world.chat.say("eve", "/stock")) == "This command is for peer workers."


# --- hostile input ---------------------------------------------------------------------------

_PREFIXES = ("off", "pk", "shf", "stk")
_payloads = st.one_of(
    st.text(max_size=80),
    st.builds(
        lambda prefix, rest: f"{prefix}:{rest}",
        st.sampled_from(_PREFIXES),
        st.one_of(
            st.text(max_size=40),
            st.builds(
                lambda action, n: f"{action}:{n}",
                st.sampled_from(("a", "d", "h", "r", "rr", "k", "x", "")),
                st.integers(min_value=-(2**70), max_value=2**70),
            ),
            st.builds(
                lambda a, b: f"{a}:{b}",
                st.integers(min_value=-5, max_value=2**40),
                st.integers(min_value=-5, max_value=2**40),
            ),
        ),
    ),
)
# Typed text that is not a command (commands are other modules' business).
_typed = st.text(max_size=200).filter(lambda s: parse_command(s) is None)
_events = st.one_of(
    st.tuples(st.just("press"), _payloads),
    st.tuples(st.just("code"), _typed),
    st.tuples(st.just("count"), _typed.filter(lambda s: not s.strip().isdigit())),
)


def test_hostile_input_to_peer_steps(db_url: str) -> None:
    """Random buttons from a peer of another outlet, random text in the code and count steps:
    one short reply each, and the accepted request and the stock never change."""
    loop = asyncio.new_event_loop()
    engine = make_db_engine(db_url)
    try:
        world = loop.run_until_complete(_hostile_world(make_sessionmaker(engine)))

        @settings(
            max_examples=60,
            deadline=None,
            suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
        )
        @given(event=_events)
        def throw(event: tuple[str, str]) -> None:
            loop.run_until_complete(_throw(world, *event))

        throw()
        loop.run_until_complete(_unchanged(world))
    finally:
        loop.run_until_complete(engine.dispose())
        loop.close()


async def _hostile_world(sessions: Sessions) -> tuple[World, int]:
    world = await make_world(sessions)
    await world.outlet("alpha", east_km=1)
    await world.outlet("beta", east_km=5)
    await world.peer("pat", "alpha")
    await world.peer("mal", "beta")
    outcome = await world.request("ana")
    await world.chat.tap("pat", "Accept")
    return world, outcome.request_id


async def _throw(state: tuple[World, int], kind: str, value: str) -> None:
    world, request_id = state
    chat = world.chat
    if kind == "press":
        answers = [await chat.press("mal", value)]
    elif kind == "code":
        answers = [await chat.press("pat", f"pk:h:{request_id}"), await chat.say("pat", value)]
    else:
        stock_button = f"stk:{world.outlets['alpha']}:{world.items['swab']}"
        answers = [await chat.press("pat", stock_button), await chat.say("pat", value)]
    for replies in answers:
        assert len(replies) == 1, replies
        assert 0 < len(replies[0].text) <= 300


async def _unchanged(state: tuple[World, int]) -> None:
    world, request_id = state
    assert await world.status(request_id) == "accepted"
    assert await world.stock("alpha", "syr_1ml_29g") == (20, 2)
    async with world.sessions() as session:
        offers = (await session.scalars(select(Offer.status))).all()
        peers = (await session.scalars(select(PeerWorker.outlet_id).order_by(PeerWorker.id))).all()
    assert offers == [OfferStatus.ACCEPTED]
    assert peers == [world.outlets["alpha"], world.outlets["beta"]]
    # And the flow still works for real.
    await world.chat.press("pat", f"pk:h:{request_id}")
    code = pickup_code(world, "ana")
    assert "Handed over" in texts(await world.chat.say("pat", code))
