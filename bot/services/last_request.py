"""What "same as last time" repeats: the items and area of a contact's latest request.

Nothing is kept for this: it reads the request rows themselves, so it goes when they are purged
(:mod:`bot.services.retention`) or deleted by ``/forget``.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.db.models import Request, RequestItem
from bot.domain import RequestKind


@dataclass(frozen=True, slots=True)
class LastRequest:
    """What a contact last asked for: item id → packs, and the area it was for."""

    items: dict[int, int]
    area_code: str | None


async def last_request(
    session: AsyncSession, *, contact_id: int, kind: RequestKind
) -> LastRequest | None:
    """The contact's most recent request of ``kind`` that has items, or None."""
    latest = (
        select(Request.id, Request.area_code)
        .where(
            Request.contact_id == contact_id,
            Request.kind == kind,
            select(RequestItem.request_id).where(RequestItem.request_id == Request.id).exists(),
        )
        .order_by(Request.created_at.desc(), Request.id.desc())
        .limit(1)
    )
    row = (await session.execute(latest)).first()
    if row is None:
        return None
    items = await session.execute(
        select(RequestItem.item_id, RequestItem.packs).where(RequestItem.request_id == row.id)
    )
    packs = {item.item_id: item.packs for item in items.all()}
    return LastRequest(items=packs, area_code=row.area_code)
