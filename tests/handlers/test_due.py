"""Due work: deadlines cascade, the last outlet gives up, expiry, shift ends, restarts."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest
from sqlalchemy import func, insert, select, update

from bot.core.context import Outbound
from bot.core.messages import Reply
from bot.db.models import (
    Contact,
    ConversationState,
    Coordinator,
    Offer,
    OutletClosure,
    PeerWorker,
    Request,
    SeenUpdate,
    ShownMenu,
)
from bot.domain import OfferStatus
from bot.privacy import pseudonym
from bot.services import shifts
from handlers.due import run_due
from handlers.routes import build_routes
from tests.handlers.peer_world import Sessions, World, make_world
from tests.support.chat import Chat, texts
from tests.support.engine import make_engine


async def _offers(sessions: Sessions) -> list[tuple[int, OfferStatus]]:
    async with sessions() as session:
        rows = await session.execute(select(Offer.outlet_id, Offer.status).order_by(Offer.id))
        return [(row.outlet_id, row.status) for row in rows]


async def test_nothing_due_does_nothing(sessions: Sessions) -> None:
    world = await make_world(sessions)
    await world.outlet("alpha")
    await world.peer("pat", "alpha")
    await world.request("ana")
    report = await run_due(world.engine)
    assert (report.timed_out, report.expired, report.shifts_ended, report.failed) == (0, 0, 0, [])


async def test_deadline_goes_to_next_outlet_then_unrouted(sessions: Sessions) -> None:
    world = await make_world(sessions)
    alpha = await world.outlet("alpha", east_km=1)
    beta = await world.outlet("beta", east_km=2)
    await world.peer("pat", "alpha")
    await world.peer("bea", "beta")
    outcome = await world.request("ana")
    assert outcome.reference is not None
    stale = world.chat.last("pat")

    world.clock.advance(minutes=14)
    assert (await run_due(world.engine)).timed_out == 0
    world.clock.advance(minutes=2)
    report = await run_due(world.engine)
    assert (report.timed_out, report.offered, report.unrouted) == (1, 1, 0)
    assert world.chat.last("pat").text == (
        f"Offer {outcome.reference} is no longer open; no need to answer."
    )
    assert world.chat.last("bea").text.startswith("New pickup request")
    assert await _offers(sessions) == [(alpha, OfferStatus.TIMED_OUT), (beta, OfferStatus.PENDING)]
    # The lapsed button does nothing now.
    assert texts(await world.chat.press("pat", stale.options[0].payload)) == (
        "This offer is no longer open."
    )

    world.clock.advance(minutes=16)
    report = await run_due(world.engine)
    assert (report.timed_out, report.offered, report.unrouted) == (1, 0, 1)
    assert await world.status(outcome.request_id) == "unrouted"
    told = world.chat.last("ana").text
    assert told.startswith(f"No peer outlet can take your request {outcome.reference}")
    assert "Fixed services open now:" in told
    # The nearest fixed service open at that hour (supervised consumption sites count).
    assert "Powell Street Overdose Prevention Site (demo)" in told
    assert "In an emergency call 911." in told
    notice = world.chat.last("coco").text
    assert notice == (
        f"Request {outcome.reference} (equipment, area Strathcona) could not be routed."
    )
    # Nothing that could point at the person: no platform id, address or contact number.
    person = await world.contact_id("ana")
    for leak in ("id-ana", "telegram-ana", "ana", str(person)):
        assert leak not in notice.replace(outcome.reference, "")


async def test_restart_while_offer_pending_loses_nothing(sessions: Sessions) -> None:
    world = await make_world(sessions)
    await world.outlet("alpha", east_km=1)
    await world.outlet("beta", east_km=2)
    await world.peer("pat", "alpha")
    await world.peer("bea", "beta")
    outcome = await world.request("ana")

    # A new process: a fresh engine and channel on the same database, its own clock.
    clock = type(world.clock)(now=world.clock.now)
    engine = make_engine(sessions, build_routes(), clock=clock)
    chat = Chat(engine)
    clock.advance(minutes=20)
    report = await run_due(engine)

    assert (report.timed_out, report.offered) == (1, 1)
    assert chat.last("bea").text.startswith("New pickup request")
    assert chat.last("pat").text.startswith(f"Offer {outcome.reference} is no longer open")
    # ...and the new process carries the conversation on.
    assert "You accepted" in texts(await chat.tap("bea", "Accept"))


async def test_two_instances_tick_at_once(sessions: Sessions) -> None:
    world = await make_world(sessions)
    await world.outlet("alpha", east_km=1)
    await world.outlet("beta", east_km=2)
    await world.peer("pat", "alpha")
    await world.peer("bea", "beta")
    for who in ("ana", "bob", "cat"):
        await world.request(who)
    other = make_engine(sessions, build_routes(), clock=world.clock)
    other.add_sender(world.chat.channel, world.chat.sender)
    world.clock.advance(minutes=20)

    first, second = await asyncio.gather(run_due(world.engine), run_due(other))

    assert first.timed_out + second.timed_out == 3
    assert first.offered + second.offered == 3
    offers = await _offers(sessions)
    assert sorted(status for _, status in offers).count(OfferStatus.PENDING) == 3
    assert len(offers) == 6
    assert sum(r.text.startswith("New pickup request") for r in world.chat.inbox("bea")) == 3


async def test_expiry_and_shift_end(sessions: Sessions) -> None:
    world = await make_world(sessions)
    await world.outlet("alpha")
    await world.peer("pat", "alpha")
    outcome = await world.request("ana")
    await world.chat.tap("pat", "Accept")
    assert await world.stock("alpha", "syr_1ml_29g") == (20, 2)

    world.clock.advance(hours=25)
    report = await run_due(world.engine)

    assert (report.expired, report.shifts_ended) == (1, 1)
    assert await world.status(outcome.request_id) == "expired"
    assert await world.stock("alpha", "syr_1ml_29g") == (20, 0)
    assert f"Your request {outcome.reference} has expired" in world.chat.last("ana").text
    pat = texts(world.chat.inbox("pat")[-2:])
    assert f"Request {outcome.reference} expired before pickup" in pat
    assert "Your shift has ended" in pat
    assert texts(await world.chat.tap("pat", "Handed over")) == "This pickup is no longer open."
    # Nothing twice.
    again = await run_due(world.engine)
    assert (again.expired, again.shifts_ended) == (0, 0)


async def test_housekeeping_purges_old_updates_and_lapsed_states(sessions: Sessions) -> None:
    world = await make_world(sessions)
    await world.outlet("alpha")
    await world.peer("pat", "alpha")
    await world.request("ana")
    await world.chat.tap("pat", "Accept")
    await world.chat.tap("pat", "Handed over")  # leaves a conversation state
    async with sessions.begin() as session:
        await session.execute(
            insert(SeenUpdate).values(key="tg:1", seen_at=world.clock.now - timedelta(days=2))
        )
        await session.execute(
            insert(ShownMenu).values(
                holder="h", sealed=b"x", shown_at=world.clock.now - timedelta(days=2)
            )
        )
    world.clock.advance(hours=3)
    report = await run_due(world.engine)
    assert report.states_purged == 1
    assert report.updates_purged == 1
    assert report.menus_purged == 1
    world.clock.advance(days=1, minutes=1)
    report = await run_due(world.engine)
    async with sessions() as session:
        assert await session.scalar(select(func.count()).select_from(SeenUpdate)) == 0
        assert await session.scalar(select(func.count()).select_from(ConversationState)) == 0
        assert await session.scalar(select(func.count()).select_from(Request)) == 1


async def test_a_failing_part_does_not_stop_the_others(
    sessions: Sessions, monkeypatch: pytest.MonkeyPatch
) -> None:
    world = await make_world(sessions)
    await world.outlet("alpha", east_km=1)
    await world.outlet("beta", east_km=2)
    await world.peer("pat", "alpha")
    await world.peer("bea", "beta")
    await world.request("ana")

    async def broken(*args: object, **kwargs: object) -> list[int]:
        raise RuntimeError("database went away")

    monkeypatch.setattr(shifts, "end_expired_shifts", broken)
    world.clock.advance(hours=9)
    report = await run_due(world.engine)
    assert report.failed == ["shifts"]
    assert report.timed_out == 1
    monkeypatch.undo()
    assert (await run_due(world.engine)).shifts_ended == 2


async def _addresses(world: World, *who: str) -> dict[str, str | None]:
    """Each participant's stored reply address, opened (None when dropped)."""
    found: dict[str, str | None] = {}
    async with world.sessions() as session:
        for name in who:
            alias = pseudonym(world.engine.deps.keys.pseudonym, "telegram", f"id-{name}")
            token = await session.scalar(
                select(Contact.reply_address).where(Contact.pseudonym == alias)
            )
            found[name] = None if token is None else world.engine.box.open(token)
    return found


async def test_a_reply_address_is_kept_only_while_something_is_open(sessions: Sessions) -> None:
    """Issue 14, finding 2: with nothing open (request closed, conversation lapsed) the sealed
    address goes; peers, coordinators and subscribers keep theirs; the next message from the
    person works as ever and seals it again."""
    world = await make_world(sessions)
    await world.outlet("alpha")
    await world.peer("pat", "alpha")
    await world.chat.say("bo", "/alerts")
    await world.chat.tap("bo", "Add an area")
    await world.chat.tap("bo", "Strathcona")
    outcome = await world.request("ana")
    await world.chat.say("ana", "/status")  # a conversation, too
    await run_due(world.engine)
    assert await _addresses(world, "ana") == {"ana": "telegram-ana"}  # open request

    world.clock.advance(hours=25)  # the request expires; ana is told through her address
    report = await run_due(world.engine)
    assert report.expired == 1
    assert world.chat.last("ana").text.startswith(f"Your request {outcome.reference} has expired")
    world.clock.advance(hours=2)  # just closed, then the conversation lapses too
    report = await run_due(world.engine)
    assert report.addresses_dropped >= 1
    assert await _addresses(world, "ana", "bo", "coco") == {
        "ana": None,
        "bo": "telegram-bo",  # subscribed: an alert may come any time
        "coco": None,  # her own contact holds nothing; her staff contact speaks for the role
    }
    async with world.sessions() as session:  # roles keep their staff contact's address
        staff = (
            await session.execute(
                select(Contact.reply_address)
                .where(
                    Contact.id.in_(select(PeerWorker.contact_id))
                    | Contact.id.in_(select(Coordinator.contact_id))
                )
                .order_by(Contact.id)
            )
        ).scalars()
        assert sorted(world.engine.box.open(token) for token in staff) == [
            "telegram-coco",
            "telegram-pat",
        ]

    # Ana writes again: answered as ever, and her address is sealed again for what comes next.
    assert "Choose a common kit" in texts(await world.chat.say("ana", "/start"))
    assert await _addresses(world, "ana") == {"ana": "telegram-ana"}
    await world.chat.say("pat", "/shift on")
    again = await world.request("ana")
    offer = world.chat.last("pat")
    await world.chat.press("pat", next(o.payload for o in offer.options if o.label == "Accept"))
    assert f"Your request {again.reference} was accepted" in world.chat.last("ana").text


async def test_delivery_skips_a_contact_with_no_address(sessions: Sessions) -> None:
    world = await make_world(sessions, coordinator=None)
    ana = await world.contact_id("ana")
    async with world.sessions.begin() as session:
        await session.execute(update(Contact).where(Contact.id == ana).values(reply_address=None))
    await world.engine.deliver([Outbound(ana, lambda t: Reply("hello"))])
    assert world.chat.inbox("ana") == []


async def test_housekeeping_deletes_closures_once_they_have_ended(sessions: Sessions) -> None:
    world = await make_world(sessions)
    await world.outlet("alpha")
    await world.peer("pat", "alpha")
    await world.chat.say("pat", "/closed")
    await world.chat.tap("pat", "Closed for the rest of today")
    await world.chat.say("pat", "/closed")
    await world.chat.tap("pat", "Closed tomorrow")
    assert (await run_due(world.engine)).closures_purged == 0
    world.clock.advance(days=1)  # today's is over, tomorrow's is running
    assert (await run_due(world.engine)).closures_purged == 1
    world.clock.advance(days=1)
    assert (await run_due(world.engine)).closures_purged == 1
    async with sessions() as session:
        assert await session.scalar(select(func.count()).select_from(OutletClosure)) == 0
