"""Anonymous numbers from the audit log, on a seeded set of requests."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import insert
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.db.models import Item
from bot.domain import ItemCategory, RequestKind
from bot.privacy import derive_keys
from bot.services import requests, stats
from tests.services.factories import LAT, LON, NOW, add_contact, add_item, add_outlet

Sessions = async_sessionmaker[AsyncSession]
KEY = derive_keys("s" * 40).codes
TIMEOUT = timedelta(minutes=15)
DAY = timedelta(days=1)


async def _naloxone(session: AsyncSession, pack_size: int) -> int:
    item_id: int | None = await session.scalar(
        insert(Item)
        .values(code="nalox", category=ItemCategory.NALOXONE, pack_size=pack_size, active=True)
        .returning(Item.id)
    )
    assert item_id is not None
    return item_id


async def _new(
    session: AsyncSession,
    person: int,
    items: dict[int, int],
    at: datetime,
    kind: RequestKind = RequestKind.EQUIPMENT,
    *,
    located: bool = True,
) -> int:
    request = await requests.create(
        session,
        contact_id=person,
        kind=kind,
        items=items,
        area_code="test",
        cell=(LAT, LON) if located else None,
        ttl=timedelta(hours=6),
        now=at,
    )
    return request.id


async def _route(session: AsyncSession, request_id: int, at: datetime) -> requests.RouteOutcome:
    return await requests.route(session, request_id=request_id, offer_timeout=TIMEOUT, now=at)


async def _accept(session: AsyncSession, offer_id: int | None, peer: int, at: datetime) -> str:
    assert offer_id is not None
    outcome = await requests.accept(
        session, offer_id=offer_id, peer_worker_id=peer, codes_key=KEY, now=at
    )
    assert outcome.code is not None
    return outcome.code


async def seed(sessions: Sessions) -> dict[str, int]:
    """Six requests with known outcomes at two outlets; returns the outlet ids."""
    async with sessions.begin() as session:
        kit = await add_item(session, "kit")
        nalox = await _naloxone(session, pack_size=2)
        near = await add_outlet(session, east_km=1, stock={kit: 50, nalox: 10})
        far = await add_outlet(session, east_km=2, stock={kit: 50, nalox: 10})
        person = await add_contact(session)
        (near_peer,), (far_peer,) = near.peer_ids, far.peer_ids

        # 1: accepted after 2 minutes at the near outlet, handed over; 3 packs of naloxone.
        one = await _new(session, person, {nalox: 3}, NOW, RequestKind.NALOXONE)
        offer = await _route(session, one, NOW)
        code = await _accept(session, offer.offer_id, near_peer, NOW + timedelta(minutes=2))
        await requests.handover(
            session, request_id=one, peer_worker_id=near_peer, code=code, codes_key=KEY, now=NOW
        )
        # 2: declined near, accepted far after 10 minutes, released, accepted again, handed over.
        two = await _new(session, person, {kit: 1}, NOW)
        offer = await _route(session, two, NOW)
        assert offer.offer_id is not None
        await requests.decline(session, offer_id=offer.offer_id, peer_worker_id=near_peer, now=NOW)
        offer = await _route(session, two, NOW)
        await _accept(session, offer.offer_id, far_peer, NOW + timedelta(minutes=10))
        await requests.release(session, request_id=two, peer_worker_id=far_peer, now=NOW)
        offer = await _route(session, two, NOW + timedelta(minutes=30))
        assert offer.result is requests.RouteResult.UNROUTED  # both outlets tried already
        # 3: unrouted at once (no location).
        await _route(session, await _new(session, person, {kit: 1}, NOW, located=False), NOW)
        # 4: cancelled while offered.
        four = await _new(session, person, {kit: 1}, NOW, RequestKind.REFERRAL)
        await _route(session, four, NOW)
        await requests.cancel(session, request_id=four, contact_id=person, now=NOW)
        # 5: accepted after 14 minutes, then expired.
        five = await _new(session, person, {kit: 1}, NOW)
        offer = await _route(session, five, NOW)
        await _accept(session, offer.offer_id, near_peer, NOW + timedelta(minutes=14))
        await requests.expire_due(session, now=NOW + timedelta(hours=7))
        # 6: still open.
        await _route(session, await _new(session, person, {kit: 1}, NOW + DAY), NOW + DAY)
    return {"near": near.outlet_id, "far": far.outlet_id}


async def test_numbers_on_a_seeded_set(sessions: Sessions) -> None:
    outlets = await seed(sessions)
    async with sessions() as session:
        numbers = await stats.compute(session, since=NOW - DAY, until=NOW + 2 * DAY)
    assert numbers.created_by_kind == {"naloxone": 1, "equipment": 4, "referral": 1}
    assert numbers.created == 6
    assert numbers.closed_by_status == {
        "handed_over": 1,
        "unrouted": 2,
        "cancelled": 1,
        "expired": 1,
    }
    assert numbers.fulfilment_rate == 1 / 5
    assert numbers.open_now == 1
    # First acceptances only: 2, 10 and 14 minutes.
    assert numbers.median_time_to_accept == timedelta(minutes=10)
    assert numbers.naloxone_kits == 3 * 2
    near, far = numbers.by_outlet[outlets["near"]], numbers.by_outlet[outlets["far"]]
    assert (near.offered, near.accepted, near.declined, near.handed_over) == (5, 2, 1, 1)
    assert (far.offered, far.accepted, far.released, far.handed_over) == (1, 1, 1, 0)


async def test_window_bounds(sessions: Sessions) -> None:
    await seed(sessions)
    async with sessions() as session:
        later = await stats.compute(session, since=NOW + DAY, until=NOW + 2 * DAY)
        nothing = await stats.compute(session, since=NOW - 2 * DAY, until=NOW - DAY)
    assert later.created_by_kind == {"equipment": 1}
    assert later.closed == 0
    assert later.fulfilment_rate is None
    assert later.median_time_to_accept is None
    assert nothing.created == 0
    assert nothing.naloxone_kits == 0
    assert not nothing.by_outlet
