"""Engine and session factory; SQLite gets the pragmas that make concurrent use safe, runs
its calls on the event loop's thread (:mod:`bot.db.sqlite_inline`), and its write
transactions take turns (:class:`SqliteSessions`)."""

from __future__ import annotations

import asyncio
import os
import sqlite3
import weakref
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import URL, event, make_url, text
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

from bot.db.sqlite_inline import inline_creator
from bot.privacy.files import PRIVATE_FILE, private_file, tighten

SQLITE_BUSY_TIMEOUT_MS = 10_000
# PostgreSQL connections one process keeps open, and at most uses (HRBOT_DATABASE_POOL_SIZE).
POSTGRES_POOL_SIZE = 10
# Write transactions of one process let into SQLite at once. One: calls run on the loop's
# thread, so a second writer of this process would wait in SQLite's busy handler, blocking
# the loop, while the first could not run to commit.
SQLITE_WRITERS_WAITING = 1


def make_engine(
    url: str | URL, *, pool_size: int = POSTGRES_POOL_SIZE, **kwargs: Any
) -> AsyncEngine:
    """Create the async engine for ``url`` (sqlite+aiosqlite or postgresql+asyncpg).

    On PostgreSQL the pool is fixed: ``pool_size`` connections, opened as needed and kept;
    more transactions at once wait for one. SQLAlchemy's default (5 kept, up to 10 more
    opened and closed again as load comes and goes) made a busy bot open a connection for
    1 update in 30 to 70: a TCP and authentication handshake here, a new server process
    there, each time (bench/updates.py's load on PostgreSQL: 2.8 → 2.3 ms of CPU per
    update). ``pool_size`` is not used on SQLite, whose write transactions take turns.

    Statement parameters are left out of SQLAlchemy's error messages: a logged database error
    must not carry what was being written (a masked report, an alert's words, a sealed address).
    """
    kwargs.setdefault("hide_parameters", True)
    parsed = make_url(url)
    backend = parsed.get_backend_name()
    if backend == "sqlite" and "async_creator" not in kwargs:
        kwargs["async_creator"] = inline_creator(parsed)
    database = sqlite_file(parsed)
    if database is not None and "async_creator" in kwargs:
        kwargs["async_creator"] = _private_first(database, kwargs["async_creator"])
    if backend == "postgresql" and kwargs.get("poolclass") is None:
        kwargs.setdefault("pool_size", pool_size)
        kwargs.setdefault("max_overflow", 0)
    engine = create_async_engine(parsed, **kwargs)
    if engine.dialect.name == "sqlite":
        event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
    return engine


def sqlite_file(url: URL) -> Path | None:
    """The file of an SQLite URL; None for another database or an in-memory one."""
    database = url.database
    if url.get_backend_name() != "sqlite" or not database or database == ":memory:":
        return None
    if database.startswith("file:") or url.query.get("uri") or "mode=memory" in database:
        return None  # an SQLite URI: whatever it names, SQLite opens it as it says
    return Path(database)


def _private_first(
    database: Path, creator: Callable[[], Awaitable[Any]]
) -> Callable[[], Awaitable[Any]]:
    """``creator``, after making ``database`` a 0600 file (created empty when missing).

    SQLite gives the WAL and shared-memory files it creates the database file's mode, so
    those are 0600 too; ones left by an older version with a looser mode are tightened.
    Without its folder nothing is created and the error is SQLite's own, as before.
    """

    async def create() -> Any:
        if not database.parent.is_dir():
            # SQLite's own answer, without starting aiosqlite: a failed aiosqlite connect
            # leaves its worker thread to stop later, and it then writes to a loop that may
            # be closed by then (a "Event loop is closed" error in that thread).
            raise sqlite3.OperationalError("unable to open database file")
        private_file(database)
        for side in ("-wal", "-shm", "-journal"):
            tighten(database.with_name(database.name + side), PRIVATE_FILE)
        return await creator()

    return create


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    # WAL lets readers run beside one writer; busy_timeout waits instead of failing at once;
    # foreign keys are off by default in SQLite and /forget relies on ON DELETE CASCADE.
    # secure_delete zeroes what a DELETE frees: without it a forgotten contact's sealed address
    # and a purged request stay readable in the file's free pages, for a thief with the key.
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA secure_delete=ON")
    cursor.close()


async def drop_old_page_images(sessions: async_sessionmaker[AsyncSession]) -> bool:
    """On SQLite, copy the write-ahead log into the database and empty it; no-op elsewhere.

    The log keeps every page as it was before each change until it is overwritten, deleted
    rows included, so what ``/forget`` and the retention purge removed would stay in the data
    folder for a while. Run after them (each tick); True when the log was emptied (False if a
    reader still needed it: the next tick tries again).
    """
    async with sessions.begin() as session:
        if session.get_bind().dialect.name != "sqlite":
            return False
        # Outside any SQLite transaction: pysqlite begins one only before a write.
        busy, _, _ = (await session.execute(text("PRAGMA wal_checkpoint(TRUNCATE)"))).one()
    return not busy


def make_sessionmaker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    """Sessions that keep loaded attributes after commit (no lazy IO in async code)."""
    if engine.dialect.name == "sqlite":
        return SqliteSessions(engine, expire_on_commit=False)
    return async_sessionmaker(engine, expire_on_commit=False)


@dataclass
class _Turns:
    """Who may write one SQLite file next, in one event loop."""

    gate: asyncio.Semaphore
    holders: weakref.WeakSet[asyncio.Task[Any]] = field(default_factory=weakref.WeakSet)


# Turns are per file, not per session factory: two engines on one file in one process (two
# outbox workers in the tests) would otherwise block each other in SQLite's busy handler, on
# the loop's thread. Per loop too: asyncio primitives must not be shared between loops. This
# mirrors SQLite's own locks, which belong to the process and the file.
_TURNS: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[str, _Turns]] = (
    weakref.WeakKeyDictionary()
)


class SqliteSessions(async_sessionmaker[AsyncSession]):
    """On SQLite, at most :data:`SQLITE_WRITERS_WAITING` ``begin()`` transactions on one
    database file are let in at once in this process; the rest wait their turn in order, on
    the event loop.

    SQLite has one writer at a time, and its busy handler sleeps on the calling thread: here
    the loop's (:mod:`bot.db.sqlite_inline`). A second writer of this process let in while
    the first awaits something would block the loop, and the first could never commit
    ("database is locked" after the busy timeout). Taking turns keeps every wait on the loop.
    Waiting transactions hold no pooled connection. Other processes on the same file still
    rely on the busy timeout. A ``begin()`` nested in one the same task holds does not queue
    again.
    """

    def __init__(self, bind: AsyncEngine, **kwargs: Any) -> None:
        super().__init__(bind, **kwargs)
        database = bind.url.database
        if not database or database == ":memory:" or "mode=memory" in database:
            self._file = f"memory:{id(bind)}"  # a database of this engine's alone
        else:
            self._file = os.path.realpath(database)

    @asynccontextmanager
    async def _turn(self) -> AsyncIterator[None]:
        task = asyncio.current_task()
        loop = asyncio.get_running_loop()
        files = _TURNS.setdefault(loop, {})
        turns = files.get(self._file)
        if turns is None:
            turns = files[self._file] = _Turns(asyncio.Semaphore(SQLITE_WRITERS_WAITING))
        if task is None or task in turns.holders:
            yield
            return
        async with turns.gate:
            turns.holders.add(task)
            try:
                yield
            finally:
                turns.holders.discard(task)

    @asynccontextmanager
    async def begin(self) -> AsyncIterator[AsyncSession]:  # type: ignore[override]
        """A session in a transaction, committed on success; waits for this file's turn."""
        async with self._turn(), super().begin() as session:
            yield session
