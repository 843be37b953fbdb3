"""The engine and session factory: on SQLite, many concurrent write transactions all succeed
(a few are let in at a time); on PostgreSQL the connection pool is fixed."""

from __future__ import annotations

import asyncio
import os
import sqlite3
import stat
import threading
from datetime import UTC, datetime
from pathlib import Path

import pytest
from pydantic import SecretStr
from sqlalchemy import event, func, select, text
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker
from sqlalchemy.pool import QueuePool

import bot.db.engine as db_engine
from bot.app import build_runtime
from bot.db.engine import SqliteSessions, make_engine, make_sessionmaker
from bot.db.models import SeenUpdate
from bot.settings import Settings


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


async def test_postgres_pool_is_fixed_under_bursts(db_url: str) -> None:
    """Bursts of more transactions than the pool holds open no extra connections: they wait
    for one. (SQLAlchemy's default opened up to 10 more and closed them again after each
    burst, a new server process each time.)"""
    engine = make_engine(db_url, pool_size=3)
    if engine.dialect.name != "postgresql":
        await engine.dispose()
        pytest.skip("the pool size is PostgreSQL's; SQLite writes take turns")
    opened = 0

    def count(*_args: object) -> None:
        nonlocal opened
        opened += 1

    event.listen(engine.sync_engine, "connect", count)
    sessions = make_sessionmaker(engine)

    async def transaction() -> None:
        async with sessions.begin() as session:
            await session.execute(text("SELECT pg_sleep(0.01)"))

    try:
        for _burst in range(3):
            await asyncio.gather(*(transaction() for _ in range(12)))
        assert opened == 3
        pool = engine.pool
        assert isinstance(pool, QueuePool)
        assert (pool.checkedin(), pool.checkedout()) == (3, 0)  # all kept, none lost
    finally:
        await engine.dispose()


async def test_pool_size_setting_reaches_the_engine(tmp_path: Path) -> None:
    settings = Settings(
        data_dir=tmp_path,
        secret_key=SecretStr("s" * 48),
        database_url="postgresql+asyncpg://nobody@127.0.0.1:1/none",
        database_pool_size=4,
    )
    runtime = build_runtime(settings)  # nothing connects until first use
    try:
        pool = runtime.engine.pool
        assert isinstance(pool, QueuePool)
        assert (pool.size(), pool.overflow()) == (4, -4)  # -size: no extra connections
    finally:
        await runtime.close()


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


async def test_sqlite_files_are_private(tmp_path: Path) -> None:
    """The database and the WAL and shared-memory files SQLite makes beside it: 0600."""
    database = tmp_path / "hrbot.sqlite3"
    engine = make_engine(f"sqlite+aiosqlite:///{database}")
    try:
        async with engine.begin() as conn:
            await conn.execute(text("CREATE TABLE t (x INTEGER)"))
            await conn.execute(text("INSERT INTO t VALUES (1)"))
            wal, shm = (tmp_path / f"hrbot.sqlite3-{side}" for side in ("wal", "shm"))
            assert wal.exists()
            assert shm.exists()
            assert {_mode(p) for p in (database, wal, shm)} == {0o600}
    finally:
        await engine.dispose()


async def test_sqlite_files_an_older_version_left_open_are_made_private(tmp_path: Path) -> None:
    database = tmp_path / "hrbot.sqlite3"
    sides = [tmp_path / f"hrbot.sqlite3-{side}" for side in ("wal", "shm")]
    engine = make_engine(f"sqlite+aiosqlite:///{database}")
    try:
        async with engine.begin() as conn:
            await conn.execute(text("CREATE TABLE t (x INTEGER)"))
        await engine.dispose()
        for path in (database, *sides):
            path.touch()
            path.chmod(0o644)
        async with engine.connect() as conn:
            assert (await conn.execute(text("SELECT count(*) FROM t"))).scalar() == 0
        assert {_mode(p) for p in (database, *sides)} == {0o600}
    finally:
        await engine.dispose()


async def test_sqlite_in_a_missing_folder_is_not_created(tmp_path: Path) -> None:
    """Without its folder SQLite still says it cannot open the file; nothing is made."""
    threads = threading.active_count()
    engine = make_engine(f"sqlite+aiosqlite:///{tmp_path / 'nowhere' / 'hrbot.sqlite3'}")
    try:
        with pytest.raises(OperationalError, match="unable to open database file"):
            async with engine.connect():
                pass
    finally:
        await engine.dispose()
    assert os.listdir(tmp_path) == []
    assert threading.active_count() == threads  # no aiosqlite worker left to stop later


def _on_disk(folder: Path) -> bytes:
    return b"".join(path.read_bytes() for path in sorted(folder.iterdir()) if path.is_file())


async def test_deleted_rows_leave_no_trace_in_the_sqlite_files(tmp_path: Path) -> None:
    """A row deleted long after it was written (a /forget, a purge) is gone from the file
    and, once the tick has emptied the write-ahead log, from every file in the folder."""
    folder = tmp_path / "data"
    folder.mkdir()
    engine = make_engine(f"sqlite+aiosqlite:///{folder / 'hrbot.sqlite3'}")
    sessions = make_sessionmaker(engine)
    secret = b"sealed-address-of-someone-forgotten"
    try:
        async with sessions.begin() as session:
            await session.execute(text("CREATE TABLE t (id INTEGER PRIMARY KEY, v BLOB)"))
            for n in range(50):
                value = secret if n == 25 else f"someone-else-{n:03d}".encode() * 2
                await session.execute(text("INSERT INTO t (v) VALUES (:v)"), {"v": value})
        assert await db_engine.drop_old_page_images(sessions)  # long ago: in the file itself
        async with sessions.begin() as session:
            await session.execute(text("DELETE FROM t WHERE v = :v"), {"v": secret})
        assert secret in _on_disk(folder)  # the log still holds the page as it was
        assert await db_engine.drop_old_page_images(sessions)
        on_disk = _on_disk(folder)
        assert secret not in on_disk
        assert b"someone-else-024" in on_disk
    finally:
        await engine.dispose()


def test_sqlite_connections_zero_what_a_delete_frees(tmp_path: Path) -> None:
    """secure_delete: on by default in some SQLite builds (Debian's), off in others."""
    connection = sqlite3.connect(tmp_path / "x.sqlite3")
    try:
        connection.execute("PRAGMA secure_delete=OFF")
        db_engine._sqlite_pragmas(connection, None)
        assert connection.execute("PRAGMA secure_delete").fetchone() == (1,)
    finally:
        connection.close()


async def test_only_sqlite_has_a_log_to_empty(
    sessions: async_sessionmaker[AsyncSession], backend: str
) -> None:
    assert await db_engine.drop_old_page_images(sessions) is (backend == "sqlite")


async def test_a_database_error_does_not_carry_what_was_written(engine: AsyncEngine) -> None:
    secret = "what someone typed about 221B Main St"
    async with engine.begin() as conn:
        await conn.execute(text("CREATE TABLE probe (id INTEGER PRIMARY KEY, note TEXT)"))
        await conn.execute(text("INSERT INTO probe (id, note) VALUES (1, 'x')"))
    with pytest.raises(IntegrityError) as raised:
        async with engine.begin() as conn:
            await conn.execute(
                text("INSERT INTO probe (id, note) VALUES (:id, :note)"), {"id": 1, "note": secret}
            )
    assert secret not in str(raised.value)
    assert "hidden due to hide_parameters" in str(raised.value)
