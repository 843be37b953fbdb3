"""A peer's own requests stay apart from their role: two contacts, never their own offer.

Issue 14, finding 5: a peer who asks for naloxone must not be one join away from their outlet
in a database dump, must never be offered their own request (nor after a cascade), and cannot
accept it; other peers and coordinators still hear what they should.
"""

from __future__ import annotations

from sqlalchemy import select, text

from bot.db.models import Contact, ConversationState, Offer, PeerWorker, Request
from bot.domain import OfferStatus, RequestStatus
from bot.services import requests
from handlers.due import run_due
from tests.handlers.peer_world import HERE, Sessions, World, make_world
from tests.support.chat import texts

# Every way a dump could join a person's own activity to a staff role: any contact that holds
# a request, a subscription or a conversation and also a peer or coordinator role.
_LINKS = """
SELECT c.id FROM contacts c
WHERE (EXISTS (SELECT 1 FROM requests r WHERE r.contact_id = c.id)
       OR EXISTS (SELECT 1 FROM subscriptions s WHERE s.contact_id = c.id))
  AND (EXISTS (SELECT 1 FROM peer_workers p WHERE p.contact_id = c.id)
       OR EXISTS (SELECT 1 FROM coordinators k WHERE k.contact_id = c.id))
"""


async def _ask_for_naloxone(world: World, who: str) -> Request:
    await world.chat.say(who, "/naloxone")
    await world.chat.tap(who, "Nasal spray")
    await world.chat.share_location(who, *HERE)
    sent = texts(await world.chat.tap(who, "Send request"))
    async with world.sessions() as session:
        request = (await session.scalars(select(Request).order_by(Request.id.desc()))).first()
    assert request is not None
    assert request.reference in sent, sent
    return request


async def _offered_outlets(world: World, request_id: int) -> list[tuple[int, OfferStatus]]:
    async with world.sessions() as session:
        rows = await session.execute(
            select(Offer.outlet_id, Offer.status)
            .where(Offer.request_id == request_id)
            .order_by(Offer.id)
        )
        return [(row.outlet_id, row.status) for row in rows]


async def test_a_peers_own_request_is_not_joined_to_their_role(sessions: Sessions) -> None:
    world = await make_world(sessions)
    await world.outlet("alpha", east_km=1)
    beta = await world.outlet("beta", east_km=2)
    await world.peer("sam", "alpha")
    await world.peer("pat", "beta")
    for who in ("sam", "coco"):  # standing subscriptions, on their own contacts
        await world.chat.say(who, "/alerts")
        await world.chat.tap(who, "Add an area")
        await world.chat.tap(who, "Strathcona")
    request = await _ask_for_naloxone(world, "sam")
    async with world.sessions() as session:
        assert (await session.execute(text(_LINKS))).all() == []
        # The role and the request hang on two contacts whose pseudonyms nothing relates.
        staff = await session.scalar(select(PeerWorker.contact_id).order_by(PeerWorker.id))
        assert staff is not None
        assert staff != request.contact_id
        # Nor do their ids pair them: a staff contact's id is not drawn from the sequence that
        # numbered sam's own contact a moment before.
        assert staff not in range(request.contact_id - 1, request.contact_id + 2)
        # Both pseudonyms are 64 hex digits like everyone's, and the two sealed reply
        # addresses differ although they open to the same chat.
        pair = (
            await session.scalars(
                select(Contact).where(Contact.id.in_([staff, request.contact_id]))
            )
        ).all()
        assert len({c.pseudonym for c in pair}) == 2
        assert len({c.reply_address for c in pair}) == 2
        assert {world.engine.box.open(c.reply_address) for c in pair if c.reply_address} == {
            "telegram-sam"
        }
    # Sam is the only peer on shift at the nearest outlet: it is skipped, beta gets it.
    assert await _offered_outlets(world, request.id) == [(beta, OfferStatus.PENDING)]
    assert request.reference in world.chat.last("pat").text
    assert not any(request.reference in r.text and r.options for r in world.chat.inbox("sam")[-3:])


async def test_own_request_skipped_after_a_cascade_and_cannot_be_accepted(
    sessions: Sessions,
) -> None:
    world = await make_world(sessions)
    alpha = await world.outlet("alpha", east_km=1)
    beta = await world.outlet("beta", east_km=2)
    await world.peer("sam", "alpha")
    await world.peer("kim", "alpha", on_shift=False)
    await world.peer("pat", "beta")
    request = await _ask_for_naloxone(world, "sam")
    assert await _offered_outlets(world, request.id) == [(beta, OfferStatus.PENDING)]

    # Kim comes on shift; pat lets the offer lapse: the tick (no sender, no one to ask whose it
    # is) offers it at alpha to kim, never to sam.
    assert "on shift" in texts(await world.chat.say("kim", "/shift on"))
    before = len(world.chat.inbox("sam"))
    world.clock.advance(minutes=16)
    report = await run_due(world.engine)
    assert (report.timed_out, report.offered) == (1, 1)
    assert await _offered_outlets(world, request.id) == [
        (beta, OfferStatus.TIMED_OUT),
        (alpha, OfferStatus.PENDING),
    ]
    offer = world.chat.last("kim")
    assert request.reference in offer.text
    assert all(request.reference not in r.text for r in world.chat.inbox("sam")[before:])

    # A forged or old button: sam still cannot take their own request.
    payload = next(o.payload for o in offer.options if o.label == "Accept")
    assert texts(await world.chat.press("sam", payload)) == "You can't accept your own request."
    async with world.sessions() as session:
        status = await session.scalar(select(Request.status).where(Request.id == request.id))
    assert status is RequestStatus.OFFERED
    assert "accepted" in texts(await world.chat.press("kim", payload)).lower()


async def test_cascade_with_only_the_asker_left_is_unrouted_and_coordinators_hear(
    sessions: Sessions,
) -> None:
    world = await make_world(sessions)
    await world.outlet("alpha", east_km=1)
    await world.outlet("beta", east_km=2)
    await world.peer("sam", "alpha")
    await world.peer("pat", "beta")
    request = await _ask_for_naloxone(world, "sam")
    world.clock.advance(minutes=16)
    report = await run_due(world.engine)
    assert (report.timed_out, report.offered, report.unrouted) == (1, 0, 1)
    assert f"Request {request.reference}" in world.chat.last("coco").text
    assert "No peer outlet can take your request" in texts(world.chat.inbox("sam")[-2:])


async def test_the_sealed_peers_go_when_the_request_closes(sessions: Sessions) -> None:
    world = await make_world(sessions)
    await world.outlet("alpha", east_km=1)
    await world.peer("pat", "alpha")
    await world.peer("sam", "alpha")
    request = await _ask_for_naloxone(world, "sam")
    async with world.sessions() as session:
        sealed = await session.scalar(
            select(Request.requester_peers).where(Request.id == request.id)
        )
        ana = await _ask_for_naloxone(world, "ana")
        other = await session.scalar(select(Request.requester_peers).where(Request.id == ana.id))
    assert sealed is not None
    assert other is not None
    assert len(sealed) == len(other)  # a peer's request looks like anyone's
    box = world.engine.box
    assert requests.open_peers(box, other) == ()
    assert len(requests.open_peers(box, sealed)) == 1
    await world.chat.say("sam", "/status")
    await world.chat.tap("sam", "Cancel a request")
    await world.chat.tap("sam", "Yes, cancel it")
    async with world.sessions() as session:
        row = (
            await session.execute(
                select(Request.status, Request.requester_peers).where(Request.id == request.id)
            )
        ).one()
    assert row.status is RequestStatus.CANCELLED
    assert row.requester_peers is None


async def test_a_contact_from_before_splits_when_it_next_writes(sessions: Sessions) -> None:
    """Roles held by a person's own contact (rows from before staff contacts) move to a staff
    contact the first time that person writes again; staff flows keep their state there."""
    world = await make_world(sessions)
    outlet = await world.outlet("alpha")
    mine = await world.contact_id("old")
    async with world.sessions.begin() as session:
        session.add(PeerWorker(contact_id=mine, outlet_id=outlet, created_at=world.clock.now))
    assert "on shift" in texts(await world.chat.say("old", "/shift on"))
    async with world.sessions() as session:
        holder = await session.scalar(select(PeerWorker.contact_id))
    assert holder is not None
    assert holder != mine

    # A staff flow (a stock count) keeps its state on the staff contact...
    counts = await world.chat.say("old", "/stock")
    await world.chat.press("old", counts[0].options[0].payload)
    assert await _state_flow(world, holder) == "peer"
    assert await _state_flow(world, mine) is None
    # ...a personal one on the own contact, and the staff one is gone.
    await world.chat.say("old", "/naloxone")
    assert await _state_flow(world, holder) is None
    assert await _state_flow(world, mine) == "naloxone"
    async with world.sessions() as session:
        assert (await session.execute(text(_LINKS))).all() == []


async def _state_flow(world: World, contact_id: int) -> str | None:
    async with world.sessions() as session:
        state = await session.get(ConversationState, contact_id)
        return state.flow if state is not None else None
