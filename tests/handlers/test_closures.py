"""``/closed`` as transcripts: a peer closes their outlet, offers move on, reopening routes."""

from __future__ import annotations

from sqlalchemy import func, select

from bot.db.models import AuditEvent, Offer, OutletClosure, Request
from bot.domain import OfferStatus, RequestStatus
from tests.handlers.peer_world import Sessions, make_world
from tests.support.chat import texts


async def test_a_peer_closes_for_today_and_the_waiting_offer_moves_on(sessions: Sessions) -> None:
    world = await make_world(sessions)
    await world.outlet("alpha", east_km=1)
    await world.outlet("beta", east_km=3)
    await world.peer("pat", "alpha")
    await world.peer("bea", "beta")
    outcome = await world.request("ana")
    assert "New pickup request" in world.chat.last("pat").text

    shown = await world.chat.say("pat", "/closed")
    assert "Alpha table: Open now" in texts(shown)
    assert "No closures planned." in texts(shown)
    labels = [o.label for o in shown[-1].options]
    assert labels == ["Closed for the rest of today", "Closed tomorrow"]

    answer = texts(await world.chat.tap("pat", "Closed for the rest of today"))
    assert "1 waiting offer was moved to another outlet" in answer
    assert "Closed for now, opens" in answer
    assert "Reopen now" in [o.label for o in world.chat.last("pat").options]
    # The person's request went to beta; alpha's offer lapsed.
    assert "New pickup request" in world.chat.last("bea").text
    async with sessions() as session:
        offers = (
            await session.execute(
                select(Offer.outlet_id, Offer.status)
                .where(Offer.request_id == outcome.request_id)
                .order_by(Offer.id)
            )
        ).all()
        assert [(o.outlet_id, o.status) for o in offers] == [
            (world.outlets["alpha"], OfferStatus.TIMED_OUT),
            (world.outlets["beta"], OfferStatus.PENDING),
        ]
        assert await session.scalar(select(func.count()).select_from(OutletClosure)) == 1
        actions = set(await session.scalars(select(AuditEvent.action)))
    assert "outlet.closed" in actions

    # While closed, the next request goes to beta; after reopening, to alpha again.
    second = await world.request("abe")
    assert second.request_id is not None
    async with sessions() as session:
        routed = await session.scalar(
            select(Offer.outlet_id).where(Offer.request_id == second.request_id)
        )
    assert routed == world.outlets["beta"]
    reopened = texts(await world.chat.tap("pat", "Reopen now"))
    assert "Alpha table: Open now" in reopened
    third = await world.request("amy")
    async with sessions() as session:
        routed = await session.scalar(
            select(Offer.outlet_id).where(Offer.request_id == third.request_id)
        )
    assert routed == world.outlets["alpha"]


async def test_accepted_pickups_stay_when_the_outlet_closes(sessions: Sessions) -> None:
    world = await make_world(sessions)
    await world.outlet("alpha", east_km=1)
    await world.peer("pat", "alpha")
    outcome = await world.request("ana")
    await world.chat.tap("pat", "Accept")
    await world.chat.say("pat", "/closed")
    answer = texts(await world.chat.tap("pat", "Closed for the rest of today"))
    assert "No new offers come here until it reopens." in answer
    async with sessions() as session:
        status = await session.scalar(
            select(Request.status).where(Request.id == outcome.request_id)
        )
    assert status == RequestStatus.ACCEPTED


async def test_closed_tomorrow_is_listed_and_can_be_cancelled(sessions: Sessions) -> None:
    world = await make_world(sessions)
    await world.outlet("alpha", east_km=1)
    await world.peer("pat", "alpha")
    await world.chat.say("pat", "/closed")
    answer = texts(await world.chat.tap("pat", "Closed tomorrow"))
    # The world's clock is 11:00 in Vancouver: tomorrow is a whole local day.
    assert "Closures:" in answer
    assert "00:00 to" in answer
    labels = [o.label for o in world.chat.last("pat").options]
    assert "Closed tomorrow" not in labels
    assert "Reopen now" not in labels
    cancel = next(label for label in labels if label.startswith("Cancel the closure"))
    assert "No closures planned." in texts(await world.chat.tap("pat", cancel))
    async with sessions() as session:
        assert await session.scalar(select(func.count()).select_from(OutletClosure)) == 0


async def test_who_may_close_what(sessions: Sessions) -> None:
    world = await make_world(sessions)
    await world.outlet("alpha", east_km=1)
    await world.outlet("beta", east_km=3)
    await world.peer("pat", "alpha")
    # A peer cannot name another outlet; a person is not staff; a coordinator may close any.
    assert "No outlet with that key" in texts(await world.chat.say("pat", "/closed beta"))
    assert "for peer workers" in texts(await world.chat.say("ana", "/closed"))
    shown = texts(await world.chat.say("coco", "/closed beta"))
    assert "Beta table: Open now" in shown
    answer = texts(await world.chat.tap("coco", "Closed for the rest of today"))
    assert "Beta table: Closed for now" in answer
    # A stale second tap of the same button adds no second closure.
    await world.chat.press("coco", f"cls:t:{world.outlets['beta']}")
    async with sessions() as session:
        assert await session.scalar(select(func.count()).select_from(OutletClosure)) == 1
    outlets = texts(await world.chat.say("coco", "/outlets"))
    assert "closed for now (/closed)" in outlets
    # A forged button for an outlet the peer is not at changes nothing.
    forged = texts(await world.chat.press("pat", f"cls:t:{world.outlets['beta']}"))
    assert "not for you" in forged
