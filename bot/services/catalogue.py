"""Mirror the item catalogue from content/ into the items table, and remember the ids."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import Row, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.content import Catalogue
from bot.db.models import Item
from bot.domain import ItemCategory

# Marks a session that ran sync_items: what it reads may not be committed yet.
_SYNCED = "hrbot.items_synced"


async def sync_items(session: AsyncSession, *, catalogue: Catalogue) -> dict[str, int]:
    """Insert new items, update changed ones, deactivate removed ones; return code → id.

    Items are never deleted: old requests and stock rows still refer to them.
    """
    session.info[_SYNCED] = True
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


class ItemIds:
    """Catalogue code → item id, read once per process and then answered from memory.

    The catalogue is loaded at start-up and never changes while the process runs, and item
    rows are never deleted or renumbered, so once the table is seen to mirror the catalogue the
    ids stay true. They are kept only from a read that needed no sync in the same transaction:
    ids a sync just inserted vanish if that transaction rolls back. The memory belongs to one
    catalogue object (other content reads afresh); :meth:`clear` forgets it, e.g. when the
    database is replaced under a running process. The composition root owns one (``Deps``).
    """

    def __init__(self) -> None:
        self._catalogue: Catalogue | None = None
        self._ids: dict[str, int] = {}

    async def get(self, session: AsyncSession, catalogue: Catalogue) -> dict[str, int]:
        """Code → id for every item row (as :func:`sync_items` returns), syncing if needed."""
        if self._catalogue is catalogue:
            return dict(self._ids)
        rows = (
            await session.execute(
                select(Item.code, Item.id, Item.category, Item.pack_size, Item.active)
            )
        ).all()
        if not _mirrors(rows, catalogue):
            return await sync_items(session, catalogue=catalogue)
        ids = {row.code: row.id for row in rows}
        if not session.info.get(_SYNCED):
            self._catalogue, self._ids = catalogue, ids
        return dict(ids)

    def clear(self) -> None:
        """Forget the ids: the next :meth:`get` reads the table again."""
        self._catalogue, self._ids = None, {}


def _mirrors(rows: Sequence[Row[str, int, ItemCategory, int, bool]], catalogue: Catalogue) -> bool:
    """Whether item rows are exactly what :func:`sync_items` would leave for ``catalogue``."""
    seen: set[str] = set()
    for row in rows:
        spec = catalogue.by_code(row.code)
        if spec is None:
            if row.active:
                return False
            continue
        if (row.category, row.pack_size, row.active) != (spec.category, spec.pack_size, True):
            return False
        seen.add(row.code)
    return len(seen) == len(catalogue.items)
