"""SQLite calls run on the event loop's thread, and what that relies on still holds."""

from __future__ import annotations

import asyncio
import logging
import threading
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.db.engine import make_engine, make_sessionmaker
from bot.db.sqlite_inline import InlineConnection


async def _threads_running_statements(url: str) -> set[int]:
    engine = make_engine(url)
    threads: set[int] = set()
    try:
        async with engine.connect() as conn:
            raw = await conn.get_raw_connection()
            driver = raw.driver_connection
            assert isinstance(driver, InlineConnection)
            # SQLite calls the trace callback on whichever thread runs the statement.
            driver._conn.set_trace_callback(lambda _sql: threads.add(threading.get_ident()))
            await conn.execute(text("CREATE TABLE t (n INTEGER)"))
            await conn.execute(text("INSERT INTO t VALUES (1), (2)"))
            assert (await conn.execute(text("SELECT sum(n) FROM t"))).scalar_one() == 3
            await conn.commit()
    finally:
        await engine.dispose()
    return threads


async def test_statements_run_on_the_loop_thread(tmp_path: Path) -> None:
    threads = await _threads_running_statements(f"sqlite+aiosqlite:///{tmp_path / 'a.db'}")
    assert threads == {threading.get_ident()}


async def test_a_memory_database_works_too() -> None:
    threads = await _threads_running_statements("sqlite+aiosqlite://")
    assert threads == {threading.get_ident()}


async def test_pragmas_apply_on_inline_connections(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite+aiosqlite:///{tmp_path / 'p.db'}")
    try:
        async with engine.connect() as conn:
            mode = (await conn.execute(text("PRAGMA journal_mode"))).scalar_one()
            keys = (await conn.execute(text("PRAGMA foreign_keys"))).scalar_one()
        assert (mode, keys) == ("wal", 1)
    finally:
        await engine.dispose()


@pytest.mark.parametrize("engines", [1, 2], ids=["one engine", "two engines on the file"])
async def test_a_writer_that_waits_mid_transaction_does_not_lock_out_the_next(
    tmp_path: Path, engines: int
) -> None:
    """The first writer awaits while holding SQLite's write lock: the second must wait its
    turn on the loop, not in SQLite's busy handler (which would block the loop, so the first
    could never commit: "database is locked" after the busy timeout). Two engines on one file
    in one process (two workers) take turns too."""
    made = [make_engine(f"sqlite+aiosqlite:///{tmp_path / 'w.db'}") for _ in range(engines)]
    first, second = make_sessionmaker(made[0]), make_sessionmaker(made[-1])
    order: list[str] = []
    try:
        async with first.begin() as session:
            await session.execute(text("CREATE TABLE t (who TEXT)"))

        async def write(sessions: async_sessionmaker[AsyncSession], who: str, pause: float) -> None:
            async with sessions.begin() as session:
                await session.execute(text("INSERT INTO t VALUES (:who)"), {"who": who})
                order.append(f"{who} wrote")
                await asyncio.sleep(pause)
            order.append(f"{who} committed")

        async with asyncio.timeout(5):
            await asyncio.gather(write(first, "first", 0.05), write(second, "second", 0))
        assert order == ["first wrote", "first committed", "second wrote", "second committed"]
    finally:
        for engine in made:
            await engine.dispose()


async def test_a_closed_connection_says_so(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite+aiosqlite:///{tmp_path / 'c.db'}")
    try:
        async with engine.connect() as conn:
            driver = (await conn.get_raw_connection()).driver_connection
            assert isinstance(driver, InlineConnection)
            await conn.invalidate()
        with pytest.raises(ValueError, match="closed"):
            await driver._execute(lambda: None)
    finally:
        await engine.dispose()


async def test_statement_parameters_reach_no_log(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """aiosqlite's worker logged every call with its arguments at DEBUG (statement parameters,
    so typed text); calls made here are not logged."""
    caplog.set_level(logging.DEBUG)
    engine = make_engine(f"sqlite+aiosqlite:///{tmp_path / 'l.db'}")
    try:
        async with engine.begin() as conn:
            await conn.execute(text("CREATE TABLE t (words TEXT)"))
            await conn.execute(text("INSERT INTO t VALUES (:w)"), {"w": "zebra-quartz"})
    finally:
        await engine.dispose()
    assert any(r.name == "aiosqlite" for r in caplog.records)  # its own thread still logs
    assert not [r for r in caplog.records if "zebra-quartz" in r.getMessage()]
