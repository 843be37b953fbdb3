"""Engine and session factory; SQLite gets the pragmas that make concurrent use safe, and its
write transactions are let in a few at a time (:class:`SqliteSessions`)."""

from __future__ import annotations

import asyncio
import weakref
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from sqlalchemy import event
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

SQLITE_BUSY_TIMEOUT_MS = 10_000
# Write transactions of one process let into SQLite at once: one writing, the others ready
# at the door (kept few, so SQLite's busy handler still polls quickly and none starves).
SQLITE_WRITERS_WAITING = 4


def make_engine(url: str, **kwargs: Any) -> AsyncEngine:
    """Create the async engine for ``url`` (sqlite+aiosqlite or postgresql+asyncpg)."""
    engine = create_async_engine(url, **kwargs)
    if engine.dialect.name == "sqlite":
        event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
    return engine


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    # WAL lets readers run beside one writer; busy_timeout waits instead of failing at once;
    # foreign keys are off by default in SQLite and /forget relies on ON DELETE CASCADE.
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def make_sessionmaker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    """Sessions that keep loaded attributes after commit (no lazy IO in async code)."""
    if engine.dialect.name == "sqlite":
        return SqliteSessions(engine, expire_on_commit=False)
    return async_sessionmaker(engine, expire_on_commit=False)


class SqliteSessions(async_sessionmaker[AsyncSession]):
    """On SQLite, at most :data:`SQLITE_WRITERS_WAITING` ``begin()`` transactions of this
    process are let in at once; the rest wait their turn in order.

    SQLite has one writer at a time and its busy handler polls with growing sleeps (up to
    100 ms), in no particular order: with dozens of updates handled at once, an unlucky
    transaction kept missing the lock for longer than the busy timeout ("database is locked",
    seen in ``bench.updates``). Letting in only a few keeps each wait short, while the next
    transaction is already at SQLite's door when the writer commits (a single-file lock
    here halved throughput: every hand-over went through the busy event loop). Waiting
    transactions hold no pooled connection. Other processes on the same file still rely on
    the busy timeout. A ``begin()`` nested in one the same task holds does not queue again.
    """

    def __init__(self, bind: AsyncEngine, **kwargs: Any) -> None:
        super().__init__(bind, **kwargs)
        # One per event loop: asyncio primitives must not be shared between loops.
        self._turns: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Semaphore] = (
            weakref.WeakKeyDictionary()
        )
        self._holders: weakref.WeakSet[asyncio.Task[Any]] = weakref.WeakSet()

    @asynccontextmanager
    async def _turn(self) -> AsyncIterator[None]:
        task = asyncio.current_task()
        if task is None or task in self._holders:
            yield
            return
        loop = asyncio.get_running_loop()
        turns = self._turns.get(loop)
        if turns is None:
            turns = self._turns[loop] = asyncio.Semaphore(SQLITE_WRITERS_WAITING)
        async with turns:
            self._holders.add(task)
            try:
                yield
            finally:
                self._holders.discard(task)

    @asynccontextmanager
    async def begin(self) -> AsyncIterator[AsyncSession]:  # type: ignore[override]
        """A session in a transaction, committed on success; waits for this process's turn."""
        async with self._turn(), super().begin() as session:
            yield session
