"""The session factory: on SQLite, many concurrent write transactions all succeed (a few are
let in at a time); elsewhere it is SQLAlchemy's own."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncEngine

import bot.db.engine as db_engine
from bot.db.engine import SqliteSessions, make_sessionmaker
from bot.db.models import SeenUpdate


async def test_many_concurrent_writers_all_commit(engine: AsyncEngine) -> None:
    sessions = make_sessionmaker(engine)
    inside = peak = 0

    async def write(n: int) -> None:
        nonlocal inside, peak
        async with sessions.begin() as session:
            inside += 1
            peak = max(peak, inside)
            session.add(SeenUpdate(key=f"k{n}", seen_at=datetime.now(UTC)))
            await session.flush()
            await asyncio.sleep(0.002)  # other work inside the transaction
            inside -= 1

    await asyncio.gather(*(write(n) for n in range(120)))
    async with sessions() as session:
        assert await session.scalar(select(func.count()).select_from(SeenUpdate)) == 120
    if engine.dialect.name == "sqlite":
        assert isinstance(sessions, SqliteSessions)
        assert peak <= db_engine.SQLITE_WRITERS_WAITING
    else:
        assert not isinstance(sessions, SqliteSessions)


async def test_nested_begin_in_the_same_task_does_not_wait_for_itself(
    engine: AsyncEngine, monkeypatch: pytest.MonkeyPatch
) -> None:
    if engine.dialect.name != "sqlite":
        pytest.skip("only SQLite sessions take turns")
    monkeypatch.setattr(db_engine, "SQLITE_WRITERS_WAITING", 1)
    sessions = make_sessionmaker(engine)
    async with asyncio.timeout(5):
        async with sessions.begin() as outer:
            await outer.execute(text("SELECT 1"))
            async with sessions.begin() as inner:
                assert (await inner.execute(text("SELECT 2"))).scalar_one() == 2

        # The turn was given back: another task gets in.
        async def other() -> int:
            async with sessions.begin() as session:
                return int((await session.execute(text("SELECT 3"))).scalar_one())

        assert await asyncio.create_task(other()) == 3
