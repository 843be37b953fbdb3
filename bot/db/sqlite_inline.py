"""SQLite connections for SQLAlchemy's aiosqlite dialect whose calls run on the event loop's
own thread.

aiosqlite hands every call (execute, fetch, commit...) to a worker thread and wakes the loop
when it is done: about 0.1 ms of thread hand-over per call, several calls per statement. On a
local WAL database a statement itself takes microseconds, so the hand-over was most of what
a transaction cost: five statements took 2.6 ms of CPU through aiosqlite, 0.5 ms inline (and
``bench/updates.py`` went from 8.4 to 5.3 ms of CPU per update).
Running the calls directly removes it: a transaction then runs from ``BEGIN`` to ``COMMIT``
without letting other tasks in.

What that needs, and where it is kept:

- A write lock held by this process is never waited on by the same loop (SQLite's busy
  handler would sleep on the loop thread while the holder can't run): write transactions of
  one process take turns, one at a time (:class:`bot.db.engine.SqliteSessions`).
- Another process holding the lock (a CLI command) makes the loop wait, up to the busy
  timeout; those transactions are short.
- aiosqlite's worker thread still opens and closes the connection, and runs SQLAlchemy's
  isolation-level switch; never at the same time as a call here (each is awaited), hence
  ``check_same_thread=False``. The subclass relies on aiosqlite's ``_execute``: the version is
  pinned in pyproject.toml and ``tests/db/test_sqlite_inline.py`` fails if calls hop threads.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Awaitable, Callable
from functools import partial
from typing import Any

import aiosqlite
from sqlalchemy.engine import URL


class InlineConnection(aiosqlite.Connection):
    """An aiosqlite connection that runs each call on the caller's thread."""

    def __init__(self, connector: Callable[[], sqlite3.Connection]) -> None:
        super().__init__(connector, iter_chunk_size=64)
        # Like SQLAlchemy does for aiosqlite: a connection never closed must not keep the
        # interpreter from exiting.
        self._thread.daemon = True

    async def _execute(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        if not self._running or not self._connection:
            raise ValueError("Connection closed")
        return fn(*args, **kwargs)


def inline_creator(url: URL) -> Callable[[], Awaitable[InlineConnection]]:
    """An ``async_creator`` for ``create_async_engine``: the same ``sqlite3.connect`` arguments
    SQLAlchemy derives from ``url``, on an :class:`InlineConnection`."""
    args, kwargs = url.get_dialect()().create_connect_args(url)
    connector = partial(sqlite3.connect, *args, **{**kwargs, "check_same_thread": False})

    async def create() -> InlineConnection:
        connection = InlineConnection(connector)
        await connection  # opens it on aiosqlite's thread
        return connection

    return create
