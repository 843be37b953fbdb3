"""The request state machine: lifecycle, cascades, races, codes, cancel and expiry."""

from __future__ import annotations

import asyncio
from collections import Counter
from datetime import datetime, timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.db.models import AuditEvent, Offer, Request, RequestItem, Stock
from bot.domain import OfferStatus, RequestKind, RequestStatus
from bot.privacy import derive_keys, hour_of
from bot.services import requests, stock
from bot.services.requests import (
    AcceptResult,
    AnswerResult,
    HandoverResult,
    RequestError,
    RouteResult,
)
from tests.services.factories import LAT, LON, NOW, Built, add_contact, add_item, add_outlet

Sessions = async_sessionmaker[AsyncSession]
KEY = derive_keys("r" * 40).codes
TIMEOUT = timedelta(minutes=10)
TTL = timedelta(hours=6)


async def _stock(sessions: Sessions, outlet_id: int, item_id: int) -> tuple[int, int]:
    async with sessions() as session:
        row = (
            await session.execute(
                select(Stock.quantity, Stock.reserved).where(
                    Stock.outlet_id == outlet_id, Stock.item_id == item_id
                )
            )
        ).one()
    return row.quantity, row.reserved


async def _request(sessions: Sessions, request_id: int) -> Request:
    async with sessions() as session:
        return await session.get_one(Request, request_id)


async def _world(
    sessions: Sessions, *distances_km: float, quantity: int = 10, peers: int = 1
) -> tuple[int, int, list[Built]]:
    """An item, a contact, and one outlet per distance (east of the centre)."""
    async with sessions.begin() as session:
        kit = await add_item(session, "kit")
        person = await add_contact(session)
        outlets = [
            await add_outlet(session, east_km=km, stock={kit: quantity}, peers=peers)
            for km in distances_km
        ]
    return kit, person, outlets


async def _new(
    sessions: Sessions, person: int, items: dict[int, int], *, ttl: timedelta = TTL
) -> int:
    async with sessions.begin() as session:
        request = await requests.create(
            session,
            contact_id=person,
            kind=RequestKind.EQUIPMENT,
            items=items,
            area_code="test",
            cell=(LAT + 0.0012345, LON - 0.0054321),
            ttl=ttl,
            now=NOW,
        )
        return request.id


async def _route(
    sessions: Sessions, request_id: int, *, first: bool = False, now: datetime = NOW
) -> requests.RouteOutcome:
    """Route; ``first`` passes the precise location, otherwise the stored cell is used."""
    async with sessions.begin() as session:
        return await requests.route(
            session,
            request_id=request_id,
            lat=LAT if first else None,
            lon=LON if first else None,
            offer_timeout=TIMEOUT,
            now=now,
        )


async def _accept(
    sessions: Sessions, offer_id: int, peer_id: int, now: datetime = NOW
) -> requests.AcceptOutcome:
    async with sessions.begin() as session:
        return await requests.accept(
            session, offer_id=offer_id, peer_worker_id=peer_id, codes_key=KEY, now=now
        )


async def test_create_stores_only_a_coarse_cell(sessions: Sessions) -> None:
    kit, person, _ = await _world(sessions)
    request_id = await _new(sessions, person, {kit: 2})
    request = await _request(sessions, request_id)
    assert request.status is RequestStatus.NEW
    assert len(request.reference) == 6
    assert (request.cell_lat, request.cell_lon) == (49.25, -123.11)
    assert request.expires_at == NOW + TTL
    async with sessions() as session:
        items = (await session.execute(select(RequestItem.item_id, RequestItem.packs))).all()
    assert [tuple(row) for row in items] == [(kit, 2)]


async def test_create_returns_the_stored_row_and_route_what_it_offered(
    sessions: Sessions,
) -> None:
    kit, person, (near,) = await _world(sessions, 1.0)
    async with sessions.begin() as session:
        spare = await add_item(session, "spare")
        session.add(
            Stock(
                outlet_id=near.outlet_id,
                item_id=spare,
                quantity=5,
                reserved=0,
                low_threshold=1,
                low_notified=False,
            )
        )
        created = await requests.create(
            session,
            contact_id=person,
            kind=RequestKind.EQUIPMENT,
            items={spare: 1, kit: 2},
            area_code="test",
            cell=(LAT, LON),
            ttl=TTL,
            now=NOW,
        )
    stored = await _request(sessions, created.id)
    assert (created.reference, created.status, created.expires_at, created.attempts) == (
        stored.reference,
        stored.status,
        stored.expires_at,
        0,
    )
    outcome = await _route(sessions, created.id, first=True)
    assert outcome.result is RouteResult.OFFERED
    assert outcome.reference == stored.reference
    assert outcome.items == tuple(sorted({kit: 2, spare: 1}.items()))
    async with sessions() as session:
        offer = await session.get_one(Offer, outcome.offer_id)
    assert outcome.deadline_at == offer.deadline_at == NOW + TIMEOUT


async def test_create_retries_a_reference_collision(
    sessions: Sessions, monkeypatch: pytest.MonkeyPatch
) -> None:
    kit, person, _ = await _world(sessions)
    references = iter(["AAAAAA", "AAAAAA", "AAAAAA", "BBBBBB"])
    monkeypatch.setattr(requests, "new_reference", lambda: next(references))
    first = await _new(sessions, person, {kit: 1})
    second = await _new(sessions, person, {kit: 1})
    assert (await _request(sessions, first)).reference == "AAAAAA"
    assert (await _request(sessions, second)).reference == "BBBBBB"


async def test_create_refuses_nonsense(sessions: Sessions) -> None:
    kit, person, _ = await _world(sessions)
    with pytest.raises(RequestError):
        await _new(sessions, person, {kit: 0})
    with pytest.raises(RequestError):
        await _new(sessions, person, {kit: 1}, ttl=timedelta(0))


async def test_full_lifecycle_moves_stock(sessions: Sessions) -> None:
    kit, person, (outlet,) = await _world(sessions, 1.0, quantity=10)
    request_id = await _new(sessions, person, {kit: 3})

    routed = await _route(sessions, request_id, first=True)
    assert routed.result is RouteResult.OFFERED
    assert routed.outlet_id == outlet.outlet_id
    assert routed.peer_worker_ids == outlet.peer_ids
    assert routed.attempt == 1
    assert routed.distance_km == pytest.approx(1.0, rel=1e-3)
    assert routed.offer_id is not None
    assert (await _request(sessions, request_id)).status is RequestStatus.OFFERED

    accepted = await _accept(sessions, routed.offer_id, outlet.peer_ids[0])
    assert accepted.result is AcceptResult.ACCEPTED
    assert accepted.code is not None
    assert len(accepted.code) == 6
    assert accepted.code not in repr(accepted)
    assert await _stock(sessions, outlet.outlet_id, kit) == (10, 3)
    request = await _request(sessions, request_id)
    assert request.status is RequestStatus.ACCEPTED
    assert request.pickup_code_hash is not None
    assert accepted.code not in request.pickup_code_hash

    async with sessions.begin() as session:
        done = await requests.handover(
            session,
            request_id=request_id,
            peer_worker_id=outlet.peer_ids[0],
            code=f" {accepted.code[:3]} {accepted.code[3:]} ",
            codes_key=KEY,
            now=NOW,
        )
    assert done.result is HandoverResult.HANDED_OVER
    assert done.reference == request.reference
    assert await _stock(sessions, outlet.outlet_id, kit) == (7, 0)
    request = await _request(sessions, request_id)
    assert request.status is RequestStatus.HANDED_OVER
    assert request.closed_at == NOW
    async with sessions() as session:
        offer = await session.get_one(Offer, routed.offer_id)
        assert offer.status is OfferStatus.HANDED_OVER
        assert offer.accepted_by_id == outlet.peer_ids[0]
        events = (await session.scalars(select(AuditEvent).order_by(AuditEvent.id))).all()
    assert [e.action for e in events] == [
        "request.created",
        "request.offered",
        "offer.accepted",
        "request.handed_over",
    ]
    assert {e.actor for e in events} == {"person", "system", "peer"}
    for event in events:
        assert event.subject == request.reference
        assert set(event.detail) <= {"kind", "outlet_id", "attempt", "items", "wait_min"}
        assert accepted.code not in str(event.detail)


async def test_decline_goes_to_the_next_nearest(sessions: Sessions) -> None:
    kit, person, (near, far) = await _world(sessions, 1.0, 3.0)
    request_id = await _new(sessions, person, {kit: 1})
    first = await _route(sessions, request_id, first=True)
    assert first.outlet_id == near.outlet_id
    assert first.offer_id is not None

    async with sessions.begin() as session:
        # A peer of the other outlet cannot decline this offer for them.
        wrong = await requests.decline(
            session, offer_id=first.offer_id, peer_worker_id=far.peer_ids[0], now=NOW
        )
        assert wrong.result is AnswerResult.NOT_YOURS
        declined = await requests.decline(
            session, offer_id=first.offer_id, peer_worker_id=near.peer_ids[0], now=NOW
        )
    assert declined.result is AnswerResult.DONE
    assert (await _request(sessions, request_id)).status is RequestStatus.NEW

    second = await _route(sessions, request_id)
    assert second.result is RouteResult.OFFERED
    assert second.outlet_id == far.outlet_id
    assert second.attempt == 2

    # The old, declined offer's button does nothing any more.
    late = await _accept(sessions, first.offer_id, near.peer_ids[0])
    assert late.result is AcceptResult.EXPIRED


async def test_deadline_cascades_to_the_next_nearest(sessions: Sessions) -> None:
    kit, person, (near, far) = await _world(sessions, 1.0, 3.0)
    request_id = await _new(sessions, person, {kit: 1})
    first = await _route(sessions, request_id, first=True)
    assert first.offer_id is not None

    async with sessions.begin() as session:
        early = NOW + TIMEOUT - timedelta(seconds=1)
        assert await requests.timeout_due(session, now=early) == []
    async with sessions.begin() as session:
        assert await requests.timeout_due(session, now=NOW + TIMEOUT) == [request_id]
    async with sessions.begin() as session:
        assert await requests.timeout_due(session, now=NOW + TIMEOUT) == []

    # Too late for the first outlet's peer.
    late = await _accept(sessions, first.offer_id, near.peer_ids[0], now=NOW + TIMEOUT)
    assert late.result is AcceptResult.EXPIRED
    second = await _route(sessions, request_id, now=NOW + TIMEOUT)
    assert second.outlet_id == far.outlet_id
    async with sessions() as session:
        offer = await session.get_one(Offer, first.offer_id)
    assert offer.status is OfferStatus.TIMED_OUT


async def test_accept_after_deadline_is_expired(sessions: Sessions) -> None:
    kit, person, (outlet,) = await _world(sessions, 1.0)
    request_id = await _new(sessions, person, {kit: 1})
    routed = await _route(sessions, request_id, first=True)
    assert routed.offer_id is not None
    late = await _accept(sessions, routed.offer_id, outlet.peer_ids[0], now=NOW + TIMEOUT)
    assert late.result is AcceptResult.EXPIRED
    assert await _stock(sessions, outlet.outlet_id, kit) == (10, 0)


async def test_last_outlet_leaves_the_request_unrouted(sessions: Sessions) -> None:
    kit, person, (only,) = await _world(sessions, 1.0)
    request_id = await _new(sessions, person, {kit: 1})
    first = await _route(sessions, request_id, first=True)
    assert first.offer_id is not None
    async with sessions.begin() as session:
        await requests.decline(
            session, offer_id=first.offer_id, peer_worker_id=only.peer_ids[0], now=NOW
        )
    second = await _route(sessions, request_id)
    assert second.result is RouteResult.UNROUTED
    request = await _request(sessions, request_id)
    assert request.status is RequestStatus.UNROUTED
    assert request.closed_at == NOW
    # Routing a closed request again is a no-op.
    assert (await _route(sessions, request_id)).result is RouteResult.SKIPPED


async def test_no_location_at_all_is_unrouted(sessions: Sessions) -> None:
    kit, person, _ = await _world(sessions, 1.0)
    async with sessions.begin() as session:
        request = await requests.create(
            session,
            contact_id=person,
            kind=RequestKind.NALOXONE,
            items={kit: 1},
            area_code=None,
            cell=None,
            ttl=TTL,
            now=NOW,
        )
    assert (await _route(sessions, request.id)).result is RouteResult.UNROUTED


async def test_twenty_peers_accept_at_once_one_wins(sessions: Sessions) -> None:
    """Exactly one winner. Without ``status = 'offered'`` in accept's UPDATE this fails only on
    PostgreSQL (run by CI: .ci/run sets HRBOT_TEST_POSTGRES_URL): there a waiting accept re-checks
    the request row after the winner commits, but its offer subquery still sees "pending". SQLite
    runs writers one at a time, so every accept sees the committed offer and no sequential
    order of accepts, declines, timeouts, releases or cancels can show the missing guard."""
    kit, person, (outlet,) = await _world(sessions, 1.0, quantity=10, peers=20)
    request_id = await _new(sessions, person, {kit: 4})
    routed = await _route(sessions, request_id, first=True)
    assert routed.offer_id is not None
    offer_id = routed.offer_id
    assert len(routed.peer_worker_ids) == 20

    outcomes = await asyncio.gather(
        *(_accept(sessions, offer_id, peer) for peer in outlet.peer_ids)
    )
    results = Counter(o.result for o in outcomes)
    assert results == {AcceptResult.ACCEPTED: 1, AcceptResult.ALREADY_TAKEN: 19}
    assert await _stock(sessions, outlet.outlet_id, kit) == (10, 4)
    winner = next(o for o in outcomes if o.result is AcceptResult.ACCEPTED)
    async with sessions() as session:
        offer = await session.get_one(Offer, offer_id)
        accepted_events = (
            await session.scalars(select(AuditEvent).where(AuditEvent.action == "offer.accepted"))
        ).all()
    assert offer.status is OfferStatus.ACCEPTED
    assert offer.accepted_by_id is not None
    assert outlet.peer_ids.index(offer.accepted_by_id) == outcomes.index(winner)
    assert len(accepted_events) == 1


async def test_peer_of_another_outlet_cannot_accept(sessions: Sessions) -> None:
    kit, person, (mine, other) = await _world(sessions, 1.0, 2.0)
    request_id = await _new(sessions, person, {kit: 1})
    routed = await _route(sessions, request_id, first=True)
    assert routed.offer_id is not None
    forged = await _accept(sessions, routed.offer_id, other.peer_ids[0])
    assert forged.result is AcceptResult.NOT_YOURS
    assert forged.code is None
    assert (await _accept(sessions, routed.offer_id + 1000, mine.peer_ids[0])).result is (
        AcceptResult.NOT_YOURS
    )
    assert (await _request(sessions, request_id)).status is RequestStatus.OFFERED
    assert await _stock(sessions, mine.outlet_id, kit) == (10, 0)
    # The rightful peer still can.
    assert (await _accept(sessions, routed.offer_id, mine.peer_ids[0])).result is (
        AcceptResult.ACCEPTED
    )


async def test_accept_without_stock_cascades(sessions: Sessions) -> None:
    kit, person, (near, far) = await _world(sessions, 1.0, 3.0, quantity=5)
    request_id = await _new(sessions, person, {kit: 4})
    routed = await _route(sessions, request_id, first=True)
    assert routed.offer_id is not None
    assert routed.outlet_id == near.outlet_id
    async with sessions.begin() as session:  # a recount after the offer went out
        await stock.set_quantity(
            session, outlet_id=near.outlet_id, item_id=kit, quantity=2, now=NOW
        )
    outcome = await _accept(sessions, routed.offer_id, near.peer_ids[0])
    assert outcome.result is AcceptResult.OUT_OF_STOCK
    assert outcome.code is None
    assert await _stock(sessions, near.outlet_id, kit) == (2, 0)
    request = await _request(sessions, request_id)
    assert request.status is RequestStatus.NEW
    assert request.pickup_code_hash is None
    assert (await _route(sessions, request_id)).outlet_id == far.outlet_id


async def test_wrong_pickup_code_does_not_hand_over(sessions: Sessions) -> None:
    kit, person, (outlet, other) = await _world(sessions, 1.0, 2.0)
    request_id = await _new(sessions, person, {kit: 2})
    routed = await _route(sessions, request_id, first=True)
    assert routed.offer_id is not None
    accepted = await _accept(sessions, routed.offer_id, outlet.peer_ids[0])
    assert accepted.code is not None
    wrong = "000000" if accepted.code != "000000" else "111111"
    for peer, code, expected in [
        (outlet.peer_ids[0], wrong, HandoverResult.WRONG_CODE),
        (outlet.peer_ids[0], "", HandoverResult.WRONG_CODE),
        (outlet.peer_ids[0], "💉" * 10, HandoverResult.WRONG_CODE),
        (other.peer_ids[0], accepted.code, HandoverResult.NOT_YOURS),
    ]:
        async with sessions.begin() as session:
            outcome = await requests.handover(
                session,
                request_id=request_id,
                peer_worker_id=peer,
                code=code,
                codes_key=KEY,
                now=NOW,
            )
        assert outcome.result is expected
    assert (await _request(sessions, request_id)).status is RequestStatus.ACCEPTED
    assert await _stock(sessions, outlet.outlet_id, kit) == (10, 2)
    async with sessions.begin() as session:
        outcome = await requests.handover(
            session,
            request_id=request_id,
            peer_worker_id=outlet.peer_ids[0],
            code=accepted.code,
            codes_key=KEY,
            now=NOW,
        )
        assert outcome.result is HandoverResult.HANDED_OVER
        again = await requests.handover(
            session,
            request_id=request_id,
            peer_worker_id=outlet.peer_ids[0],
            code=accepted.code,
            codes_key=KEY,
            now=NOW,
        )
        assert again.result is HandoverResult.NOT_ACCEPTED
    assert await _stock(sessions, outlet.outlet_id, kit) == (8, 0)


async def test_too_many_wrong_codes_freeze_the_request(sessions: Sessions) -> None:
    kit, person, (outlet,) = await _world(sessions, 1.0)
    request_id = await _new(sessions, person, {kit: 2})
    routed = await _route(sessions, request_id, first=True)
    assert routed.offer_id is not None
    accepted = await _accept(sessions, routed.offer_id, outlet.peer_ids[0])
    assert accepted.code is not None
    wrong = "000000" if accepted.code != "000000" else "111111"

    async def hand_over(code: str) -> requests.HandoverOutcome:
        async with sessions.begin() as session:
            return await requests.handover(
                session,
                request_id=request_id,
                peer_worker_id=outlet.peer_ids[0],
                code=code,
                codes_key=KEY,
                now=NOW,
            )

    # Concurrent wrong codes each count: exactly one of them freezes the request.
    outcomes = await asyncio.gather(*(hand_over(wrong) for _ in range(requests.MAX_CODE_TRIES)))
    assert Counter(o.result for o in outcomes) == {
        HandoverResult.WRONG_CODE: requests.MAX_CODE_TRIES - 1,
        HandoverResult.FROZEN: 1,
    }
    assert [o.just_frozen for o in outcomes].count(True) == 1
    for code in (wrong, accepted.code):
        later = await hand_over(code)
        assert (later.result, later.just_frozen) == (HandoverResult.FROZEN, False)
    request = await _request(sessions, request_id)
    assert (request.status, request.code_tries) == (
        RequestStatus.ACCEPTED,
        requests.MAX_CODE_TRIES,  # a code typed once frozen is not even checked
    )
    assert await _stock(sessions, outlet.outlet_id, kit) == (10, 2)
    async with sessions() as session:
        frozen = await session.scalars(
            select(AuditEvent.subject).where(AuditEvent.action == "request.frozen")
        )
        assert frozen.all() == [accepted.reference]


async def test_release_gives_stock_back_and_routes_on(sessions: Sessions) -> None:
    kit, person, (near, far) = await _world(sessions, 1.0, 3.0)
    request_id = await _new(sessions, person, {kit: 3})
    routed = await _route(sessions, request_id, first=True)
    assert routed.offer_id is not None
    await _accept(sessions, routed.offer_id, near.peer_ids[0])
    async with sessions.begin() as session:
        wrong = await requests.release(
            session, request_id=request_id, peer_worker_id=far.peer_ids[0], now=NOW
        )
        assert wrong.result is AnswerResult.NOT_YOURS
        released = await requests.release(
            session, request_id=request_id, peer_worker_id=near.peer_ids[0], now=NOW
        )
        assert released.result is AnswerResult.DONE
        twice = await requests.release(
            session, request_id=request_id, peer_worker_id=near.peer_ids[0], now=NOW
        )
        assert twice.result is AnswerResult.NOT_YOURS
    assert await _stock(sessions, near.outlet_id, kit) == (10, 0)
    request = await _request(sessions, request_id)
    assert request.status is RequestStatus.NEW
    assert request.pickup_code_hash is None
    rerouted = await _route(sessions, request_id)
    assert rerouted.outlet_id == far.outlet_id
    async with sessions() as session:
        offer = await session.get_one(Offer, routed.offer_id)
    assert offer.status is OfferStatus.RELEASED


async def test_cancel_releases_the_reservation(sessions: Sessions) -> None:
    kit, person, (outlet,) = await _world(sessions, 1.0)
    request_id = await _new(sessions, person, {kit: 3})
    routed = await _route(sessions, request_id, first=True)
    assert routed.offer_id is not None
    await _accept(sessions, routed.offer_id, outlet.peer_ids[0])
    assert await _stock(sessions, outlet.outlet_id, kit) == (10, 3)
    async with sessions.begin() as session:
        stranger = await add_contact(session)
        refused = await requests.cancel(
            session, request_id=request_id, contact_id=stranger, now=NOW
        )
        assert not refused.cancelled
        done = await requests.cancel(session, request_id=request_id, contact_id=person, now=NOW)
    assert done.cancelled
    assert done.was_accepted
    assert done.outlet_id == outlet.outlet_id
    assert await _stock(sessions, outlet.outlet_id, kit) == (10, 0)
    assert (await _request(sessions, request_id)).status is RequestStatus.CANCELLED
    async with sessions.begin() as session:
        again = await requests.cancel(session, request_id=request_id, contact_id=person, now=NOW)
    assert not again.cancelled
    assert await _stock(sessions, outlet.outlet_id, kit) == (10, 0)


async def test_cancel_withdraws_a_pending_offer(sessions: Sessions) -> None:
    kit, person, (outlet,) = await _world(sessions, 1.0)
    request_id = await _new(sessions, person, {kit: 1})
    routed = await _route(sessions, request_id, first=True)
    assert routed.offer_id is not None
    async with sessions.begin() as session:
        done = await requests.cancel(session, request_id=request_id, contact_id=person, now=NOW)
    assert done.cancelled
    assert not done.was_accepted
    assert done.outlet_id == outlet.outlet_id
    assert (await _accept(sessions, routed.offer_id, outlet.peer_ids[0])).result is (
        AcceptResult.EXPIRED
    )
    async with sessions() as session:
        offer = await session.get_one(Offer, routed.offer_id)
    assert offer.status is OfferStatus.WITHDRAWN
    assert await _stock(sessions, outlet.outlet_id, kit) == (10, 0)


async def test_times_are_exact_while_open_and_hours_once_closed(sessions: Sessions) -> None:
    kit, person, (outlet,) = await _world(sessions, 1.0)
    odd = NOW + timedelta(minutes=17, seconds=23, microseconds=456789)
    async with sessions.begin() as session:
        made = [
            await requests.create(
                session,
                contact_id=person,
                kind=RequestKind.EQUIPMENT,
                items={kit: 1},
                area_code="test",
                cell=(LAT, LON),
                ttl=TTL,
                now=odd,
            )
            for _ in range(2)
        ]
    open_id, closed_id = (request.id for request in made)
    routed = await _route(sessions, closed_id, first=True, now=odd)
    assert routed.offer_id is not None
    await _accept(sessions, routed.offer_id, outlet.peer_ids[0], now=odd + timedelta(minutes=4))
    async with sessions.begin() as session:
        gone = odd + timedelta(minutes=9)
        assert (
            await requests.cancel(session, request_id=closed_id, contact_id=person, now=gone)
        ).cancelled
    still, closed = await _request(sessions, open_id), await _request(sessions, closed_id)
    assert (still.created_at, still.expires_at) == (odd, odd + TTL)
    times = {closed.created_at, closed.updated_at, closed.accepted_at, closed.closed_at}
    assert times == {hour_of(odd)}
    assert closed.expires_at == hour_of(odd + TTL)
    async with sessions() as session:
        offer = await session.get_one(Offer, routed.offer_id)
        accepted = await session.scalar(
            select(AuditEvent.detail).where(AuditEvent.action == "offer.accepted")
        )
    assert {offer.created_at, offer.deadline_at, offer.answered_at} == {hour_of(odd)}
    assert accepted is not None
    assert accepted["wait_min"] == 4


async def test_expiry_closes_and_releases(sessions: Sessions) -> None:
    kit, person, (outlet,) = await _world(sessions, 1.0)
    accepted_id = await _new(sessions, person, {kit: 2}, ttl=timedelta(hours=1))
    offered_id = await _new(sessions, person, {kit: 1}, ttl=timedelta(hours=1))
    fresh_id = await _new(sessions, person, {kit: 1}, ttl=timedelta(hours=3))
    routed = await _route(sessions, accepted_id, first=True)
    assert routed.offer_id is not None
    await _accept(sessions, routed.offer_id, outlet.peer_ids[0])
    await _route(sessions, offered_id, first=True)
    assert await _stock(sessions, outlet.outlet_id, kit) == (10, 2)

    async with sessions() as session:
        assert len(await requests.open_for_contact(session, contact_id=person)) == 3
    async with sessions.begin() as session:
        assert await requests.expire_due(session, now=NOW + timedelta(minutes=59)) == []
    async with sessions.begin() as session:
        expired = await requests.expire_due(session, now=NOW + timedelta(hours=1))
    assert expired == sorted([accepted_id, offered_id])
    assert await _stock(sessions, outlet.outlet_id, kit) == (10, 0)
    for request_id in expired:
        request = await _request(sessions, request_id)
        assert request.status is RequestStatus.EXPIRED
    async with sessions() as session:
        still_open = await requests.open_for_contact(session, contact_id=person)
        statuses = set((await session.scalars(select(Offer.status))).all())
    assert [r.id for r in still_open] == [fresh_id]
    assert statuses == {OfferStatus.WITHDRAWN}
    # An expired request can be neither routed nor accepted.
    assert (await _route(sessions, fresh_id, now=NOW + timedelta(hours=4))).result is (
        RouteResult.SKIPPED
    )


async def test_concurrent_timeout_claimers_never_share_an_offer(sessions: Sessions) -> None:
    kit, person, outlets = await _world(sessions, 1.0, 2.0, 3.0)
    request_ids = [await _new(sessions, person, {kit: 1}) for _ in range(12)]
    for request_id in request_ids:
        await _route(sessions, request_id, first=True)
    later = NOW + TIMEOUT

    async def claim() -> list[int]:
        async with sessions.begin() as session:
            return await requests.timeout_due(session, now=later, limit=5)

    claimed: list[int] = []
    for _ in range(4):
        rounds = await asyncio.gather(claim(), claim(), claim())
        for got in rounds:
            claimed.extend(got)
    assert sorted(claimed) == sorted(request_ids)  # each exactly once
    async with sessions() as session:
        events = (
            await session.scalars(
                select(AuditEvent.subject).where(AuditEvent.action == "offer.timed_out")
            )
        ).all()
    assert len(events) == len(set(events)) == 12
    assert len(outlets) == 3


async def test_low_stock_is_reported_once(sessions: Sessions) -> None:
    async with sessions.begin() as session:
        kit = await add_item(session, "kit")
        person = await add_contact(session)
        outlet = await add_outlet(session, east_km=1, stock={kit: 8}, low_threshold=5)

    async def one_pickup() -> tuple[stock.LowStock, ...]:
        request_id = await _new(sessions, person, {kit: 1})
        routed = await _route(sessions, request_id, first=True)
        assert routed.offer_id is not None
        accepted = await _accept(sessions, routed.offer_id, outlet.peer_ids[0])
        assert accepted.code is not None
        async with sessions.begin() as session:
            done = await requests.handover(
                session,
                request_id=request_id,
                peer_worker_id=outlet.peer_ids[0],
                code=accepted.code,
                codes_key=KEY,
                now=NOW,
            )
        assert done.result is HandoverResult.HANDED_OVER
        return done.low_stock

    crossings = [await one_pickup() for _ in range(5)]  # 8 → 3
    assert [len(c) for c in crossings] == [0, 0, 1, 0, 0]
    low = crossings[2][0]
    assert (low.outlet_id, low.item_id, low.quantity, low.low_threshold) == (
        outlet.outlet_id,
        kit,
        5,
        5,
    )
