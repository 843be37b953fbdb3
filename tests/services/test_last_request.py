"""What "same as last time" repeats: read from the request rows, gone with them."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.domain import RequestKind
from bot.services import requests
from bot.services.last_request import LastRequest, last_request
from tests.services.factories import LAT, LON, NOW, add_contact, add_item


async def _ask(
    session: AsyncSession, person: int, kind: RequestKind, items: dict[int, int], *, hours: int
) -> int:
    request = await requests.create(
        session,
        contact_id=person,
        kind=kind,
        items=items,
        area_code=f"area{hours}",
        cell=(LAT, LON),
        ttl=timedelta(hours=6),
        now=NOW + timedelta(hours=hours),
    )
    return request.id


async def test_the_newest_request_of_the_kind(sessions: async_sessionmaker[AsyncSession]) -> None:
    async with sessions.begin() as session:
        ana, bo = await add_contact(session), await add_contact(session)
        swab, spoon, nalox = [await add_item(session, c) for c in ("swab", "spoon", "nalox")]
        assert await last_request(session, contact_id=ana, kind=RequestKind.EQUIPMENT) is None
        await _ask(session, ana, RequestKind.EQUIPMENT, {swab: 1}, hours=0)
        await _ask(session, ana, RequestKind.EQUIPMENT, {swab: 2, spoon: 1}, hours=1)
        await _ask(session, ana, RequestKind.NALOXONE, {nalox: 1}, hours=2)
        await _ask(session, bo, RequestKind.EQUIPMENT, {spoon: 3}, hours=3)
        last = await last_request(session, contact_id=ana, kind=RequestKind.EQUIPMENT)
        assert last == LastRequest(items={swab: 2, spoon: 1}, area_code="area1")
        naloxone = await last_request(session, contact_id=ana, kind=RequestKind.NALOXONE)
        assert naloxone is not None
        assert naloxone.items == {nalox: 1}
