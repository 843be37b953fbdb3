"""Mirror the item catalogue from content/ into the items table."""

from __future__ import annotations

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.content import Catalogue
from bot.db.models import Item


async def sync_items(session: AsyncSession, *, catalogue: Catalogue) -> dict[str, int]:
    """Insert new items, update changed ones, deactivate removed ones; return code → id.

    Items are never deleted: old requests and stock rows still refer to them.
    """
    existing = {item.code: item for item in (await session.scalars(select(Item))).all()}
    for spec in catalogue.items:
        row = existing.get(spec.code)
        if row is None:
            row = Item(code=spec.code, category=spec.category, pack_size=spec.pack_size)
            session.add(row)
            existing[spec.code] = row
        else:
            row.category, row.pack_size, row.active = spec.category, spec.pack_size, True
    gone = set(existing) - {spec.code for spec in catalogue.items}
    if gone:
        await session.execute(update(Item).where(Item.code.in_(gone)).values(active=False))
    await session.flush()
    return {code: row.id for code, row in existing.items()}
