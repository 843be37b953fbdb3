"""The composition root's database preparation with several instances."""

from __future__ import annotations

import asyncio
from pathlib import Path

from sqlalchemy import delete, func, select, text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.app import build_runtime, prepare_database
from bot.db.models import Item
from bot.settings import Settings

SECRET = "app-test-master-secret-" + "k" * 24


async def test_instances_starting_together_both_prepare_the_database(
    db_url: str, tmp_path: Path, sessions: async_sessionmaker[AsyncSession]
) -> None:
    """Two instances (a compose profile starts them at once) mirror the item catalogue into
    a database that has none yet: both start, and each item is there once. On PostgreSQL
    they take turns; without that, one failed on the items' unique code."""
    runtimes = [
        build_runtime(
            Settings(database_url=db_url, secret_key=SECRET, data_dir=tmp_path / f"data{n}")
        )
        for n in range(4)
    ]
    try:
        for runtime in runtimes:  # connected already: they all read the items at once
            async with runtime.sessions() as session:
                await session.execute(text("SELECT 1"))
        for _ in range(3):
            async with sessions.begin() as session:
                await session.execute(delete(Item))  # a catalogue none of them synced yet
            await asyncio.gather(*(prepare_database(r, auto_upgrade=False) for r in runtimes))
            async with sessions() as session:
                count = await session.scalar(select(func.count()).select_from(Item))
            assert count == len(runtimes[0].content.catalogue.items)
    finally:
        for runtime in runtimes:
            await runtime.close()
