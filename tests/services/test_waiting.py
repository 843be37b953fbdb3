"""The waiting list's service: which outlet could take a request later, holding, place in line,
claiming oldest first."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.domain import RequestKind, RequestStatus
from bot.privacy import AddressBox
from bot.services import requests, waiting
from tests.services.factories import LAT, LON, NEVER, NOW, add_contact, add_item, add_outlet
from tests.support.engine import TEST_KEYS

Sessions = async_sessionmaker[AsyncSession]
TTL = timedelta(hours=24)
BOX = AddressBox(TEST_KEYS.address)


async def _unrouted(session: AsyncSession, item: int, contact: int | None = None) -> int:
    contact = contact or await add_contact(session)
    request = await requests.create(
        session,
        contact_id=contact,
        kind=RequestKind.EQUIPMENT,
        items={item: 2},
        area_code="test",
        cell=(LAT, LON),
        ttl=TTL,
        now=NOW,
    )
    outcome = await requests.route(
        session, request_id=request.id, offer_timeout=timedelta(minutes=15), now=NOW
    )
    assert outcome.result is requests.RouteResult.UNROUTED
    return request.id


async def test_prospect_is_the_earliest_opening_then_the_nearest(sessions: Sessions) -> None:
    async with sessions.begin() as session:
        item = await add_item(session, "syr")
        # 15:00 UTC on a Wednesday.
        later = await add_outlet(session, east_km=1, hours="daily 18:00-20:00", stock={item: 5})
        await add_outlet(session, east_km=2, hours="daily 20:00-22:00", stock={item: 5})
        await add_outlet(session, east_km=0.5, hours="daily 16:00-17:00", stock={item: 1})
        await add_outlet(session, east_km=0.5, hours=NEVER, stock={item: 5})
        await add_outlet(session, east_km=0.5, hours="daily 16:00-17:00", stock={item: 5}, peers=0)
        found = await waiting.prospect(
            session, lat=LAT, lon=LON, items={item: 2}, now=NOW, until=NOW + TTL
        )
        assert found is not None
        assert (found.outlet_id, found.opens_at) == (later.outlet_id, NOW + timedelta(hours=3))
        assert not found.open_now(NOW)
        # Nothing opens before the request would expire: nothing to hold for.
        assert (
            await waiting.prospect(
                session, lat=LAT, lon=LON, items={item: 2}, now=NOW, until=NOW + timedelta(hours=1)
            )
            is None
        )
        assert (
            await waiting.prospect(
                session, lat=None, lon=None, items={item: 2}, now=NOW, until=NOW + TTL
            )
            is None
        )


async def test_hold_place_in_line_and_claim_oldest_first(sessions: Sessions) -> None:
    async with sessions.begin() as session:
        item = await add_item(session, "syr")
        await add_outlet(session, stock={item: 5}, on_shift=False)
        ana, bo = await add_contact(session), await add_contact(session)
        first = await _unrouted(session, item, ana)
        second = await _unrouted(session, item, bo)
        # Only its own person can hold it.
        assert not (
            await waiting.hold(session, request_id=first, contact_id=bo, ttl=TTL, now=NOW, box=BOX)
        ).held
        later = NOW + timedelta(minutes=5)
        held_second = await waiting.hold(
            session, request_id=second, contact_id=bo, ttl=TTL, now=later, box=BOX
        )
        held_first = await waiting.hold(
            session, request_id=first, contact_id=ana, ttl=TTL, now=later, box=BOX
        )
        assert (held_second.place, held_first.place) == (1, 1)
        assert await waiting.place_in_line(session, request_id=second) == 2
        assert held_first.expires_at == later + TTL
        assert await waiting.claim(session, now=later) == [first, second]
        # Held once is enough: a second press changes nothing.
        assert not (
            await waiting.hold(
                session, request_id=first, contact_id=ana, ttl=TTL, now=later, box=BOX
            )
        ).held
        # Still nothing can take them: routing leaves them waiting.
        outcome = await requests.route(
            session, request_id=first, offer_timeout=timedelta(minutes=15), now=later
        )
        assert outcome.result is requests.RouteResult.WAITING
        [mine] = await requests.open_for_contact(session, contact_id=ana)
        assert mine.status is RequestStatus.WAITING
        assert mine.updated_at == later  # routing kept when it started waiting


async def test_hold_only_soon_after_the_unrouted_answer(sessions: Sessions) -> None:
    async with sessions.begin() as session:
        item = await add_item(session, "syr")
        contact = await add_contact(session)
        request_id = await _unrouted(session, item, contact)
        late = NOW + timedelta(hours=3)
        outcome = await waiting.hold(
            session, request_id=request_id, contact_id=contact, ttl=TTL, now=late, box=BOX
        )
        assert not outcome.held


async def test_claim_near_outlets_takes_only_requests_within_reach(sessions: Sessions) -> None:
    async with sessions.begin() as session:
        item = await add_item(session, "syr")
        here = await add_outlet(session, stock={item: 5}, on_shift=False)
        far = await add_outlet(session, north_km=200, stock={item: 5}, on_shift=False)
        contact = await add_contact(session)
        request_id = await _unrouted(session, item, contact)
        await waiting.hold(
            session, request_id=request_id, contact_id=contact, ttl=TTL, now=NOW, box=BOX
        )
        assert await waiting.claim(session, now=NOW, near=[here.outlet_id]) == [request_id]
        assert await waiting.claim(session, now=NOW, near=[far.outlet_id]) == []
        assert await waiting.claim(session, now=NOW, near=[]) == []
        assert await waiting.claim(session, now=NOW) == [request_id]
