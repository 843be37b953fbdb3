"""The item mirror: sync_items, and ItemIds remembering code → id once the table mirrors it."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import event, select, update
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from bot.content import load_content
from bot.db.models import Item
from bot.services.catalogue import ItemIds, sync_items
from tests.support.engine import CONTENT_DIR

CATALOGUE = load_content(CONTENT_DIR).catalogue


@contextmanager
def counting(engine: AsyncEngine) -> Iterator[list[str]]:
    """Every SQL statement ``engine`` runs inside the block."""
    seen: list[str] = []

    def record(*args: Any) -> None:
        seen.append(args[2])

    event.listen(engine.sync_engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        event.remove(engine.sync_engine, "before_cursor_execute", record)


async def _table(sessions: async_sessionmaker[AsyncSession]) -> dict[str, int]:
    async with sessions() as session:
        return {row.code: row.id for row in await session.execute(select(Item.code, Item.id))}


async def test_ids_are_read_once_then_answered_from_memory(
    engine: AsyncEngine, sessions: async_sessionmaker[AsyncSession]
) -> None:
    async with sessions.begin() as session:
        synced = await sync_items(session, catalogue=CATALOGUE)
    ids = ItemIds()
    async with sessions() as session:
        assert await ids.get(session, CATALOGUE) == synced
    with counting(engine) as statements:
        async with sessions() as session:
            again = await ids.get(session, CATALOGUE)
    assert again == synced == await _table(sessions)
    assert statements == []
    again.clear()  # a caller's copy: changing it leaves the memory alone
    async with sessions() as session:
        assert await ids.get(session, CATALOGUE) == synced


async def test_ids_from_a_rolled_back_sync_are_not_kept(
    engine: AsyncEngine, sessions: async_sessionmaker[AsyncSession]
) -> None:
    ids = ItemIds()
    async with sessions() as session:  # never committed: the sync is rolled back
        first = await ids.get(session, CATALOGUE)
        assert set(first) == CATALOGUE.codes
        assert await ids.get(session, CATALOGUE) == first  # read back within the same sync
    assert await _table(sessions) == {}
    async with sessions.begin() as session:
        second = await ids.get(session, CATALOGUE)  # syncs again, for real this time
    assert second == await _table(sessions)
    async with sessions() as session:
        assert await ids.get(session, CATALOGUE) == second  # a clean read: now kept
    with counting(engine) as statements:
        async with sessions() as session:
            assert await ids.get(session, CATALOGUE) == second
    assert statements == []


async def test_a_drifted_table_is_synced_as_before(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    async with sessions.begin() as session:
        synced = await sync_items(session, catalogue=CATALOGUE)
        code = CATALOGUE.items[0].code
        await session.execute(update(Item).where(Item.code == code).values(active=False))
    ids = ItemIds()
    async with sessions.begin() as session:
        assert await ids.get(session, CATALOGUE) == synced
    async with sessions() as session:
        assert await session.scalar(select(Item.active).where(Item.code == code)) is True


async def test_clear_and_other_content_read_again(
    engine: AsyncEngine, sessions: async_sessionmaker[AsyncSession]
) -> None:
    async with sessions.begin() as session:
        synced = await sync_items(session, catalogue=CATALOGUE)
    ids = ItemIds()
    async with sessions() as session:
        await ids.get(session, CATALOGUE)
    ids.clear()
    with counting(engine) as statements:
        async with sessions() as session:
            assert await ids.get(session, CATALOGUE) == synced
    assert len(statements) == 1
    reloaded = load_content(CONTENT_DIR).catalogue  # equal content, another object
    with counting(engine) as statements:
        async with sessions() as session:
            assert await ids.get(session, reloaded) == synced
    assert len(statements) == 1
