"""Requests made, routed, accepted and closed through the real services, on a clock the test moves.

Used by the Numbers, forecast and coverage tests: the counters they read are written by the
services as the events happen, exactly as in production.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import insert
from sqlalchemy.ext.asyncio import AsyncSession

from bot.db.models import Item
from bot.domain import ItemCategory, RequestKind
from bot.privacy import derive_keys
from bot.services import requests
from tests.services.factories import LAT, LON, add_contact, add_item, add_outlet

KEY = derive_keys("s" * 40).codes
TIMEOUT = timedelta(minutes=15)
TTL = timedelta(hours=6)


@dataclass
class World:
    """One outlet (one peer on shift) stocking ``kit`` and ``nalox``; ``missing`` is an item no
    outlet holds, so a request for it goes unrouted."""

    session: AsyncSession
    person: int
    outlet_id: int
    peer_id: int
    kit: int
    nalox: int
    missing: int

    async def _new(
        self,
        at: datetime,
        items: dict[int, int],
        kind: RequestKind,
        *,
        area: str = "test",
        cell: tuple[float, float] | None = (LAT, LON),
    ) -> int:
        request = await requests.create(
            self.session,
            contact_id=self.person,
            kind=kind,
            items=items,
            area_code=area,
            cell=cell,
            ttl=TTL,
            now=at,
        )
        return request.id

    async def accepted(
        self,
        at: datetime,
        *,
        wait: timedelta = timedelta(minutes=5),
        kind: RequestKind = RequestKind.EQUIPMENT,
        packs: int = 1,
        area: str = "test",
    ) -> tuple[int, str]:
        """Made at ``at`` and accepted ``wait`` later (stock reserved): (request id, code)."""
        item = self.nalox if kind is RequestKind.NALOXONE else self.kit
        request_id = await self._new(at, {item: packs}, kind, area=area)
        offer = await requests.route(
            self.session, request_id=request_id, offer_timeout=TIMEOUT, now=at
        )
        assert offer.offer_id is not None, offer
        accepted = await requests.accept(
            self.session,
            offer_id=offer.offer_id,
            peer_worker_id=self.peer_id,
            codes_key=KEY,
            now=at + wait,
        )
        assert accepted.code is not None
        return request_id, accepted.code

    async def handed_over(
        self,
        at: datetime,
        *,
        wait: timedelta = timedelta(minutes=5),
        kind: RequestKind = RequestKind.EQUIPMENT,
        packs: int = 1,
        area: str = "test",
    ) -> None:
        """Made at ``at``, accepted ``wait`` later, handed over at once."""
        request_id, code = await self.accepted(at, wait=wait, kind=kind, packs=packs, area=area)
        done = await requests.handover(
            self.session,
            request_id=request_id,
            peer_worker_id=self.peer_id,
            code=code,
            codes_key=KEY,
            now=at + wait,
        )
        assert done.result is requests.HandoverResult.HANDED_OVER, done

    async def unrouted(
        self,
        at: datetime,
        *,
        area: str = "test",
        cell: tuple[float, float] | None = (LAT, LON),
        kind: RequestKind = RequestKind.EQUIPMENT,
    ) -> None:
        """Made at ``at`` for an item nobody holds: unrouted at once."""
        request_id = await self._new(at, {self.missing: 1}, kind, area=area, cell=cell)
        outcome = await requests.route(
            self.session, request_id=request_id, offer_timeout=TIMEOUT, now=at
        )
        assert outcome.result is requests.RouteResult.UNROUTED, outcome

    async def cancelled(self, at: datetime) -> None:
        request_id = await self._new(at, {self.kit: 1}, RequestKind.REFERRAL)
        await requests.cancel(self.session, request_id=request_id, contact_id=self.person, now=at)

    async def expired(self, at: datetime) -> None:
        """Made at ``at``, never answered, expired when its lifetime ends."""
        await self._new(at, {self.kit: 1}, RequestKind.EQUIPMENT, cell=None)
        await requests.expire_due(self.session, now=at + TTL)


async def make_world(session: AsyncSession, *, kit_stock: int = 10_000) -> World:
    kit = await add_item(session, "kit")
    nalox_id = await session.scalar(
        insert(Item)
        .values(code="nalox", category=ItemCategory.NALOXONE, pack_size=2, active=True)
        .returning(Item.id)
    )
    assert nalox_id is not None
    missing = await add_item(session, "rare")
    outlet = await add_outlet(session, stock={kit: kit_stock, nalox_id: 10_000})
    return World(
        session=session,
        person=await add_contact(session),
        outlet_id=outlet.outlet_id,
        peer_id=outlet.peer_ids[0],
        kit=kit,
        nalox=nalox_id,
        missing=missing,
    )
