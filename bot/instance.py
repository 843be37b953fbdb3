"""One running bot per SQLite database; any number side by side on PostgreSQL.

SQLite suits one process: its write transactions take turns inside the process, not between
processes, and the engine keeps one person's messages in order only in-process (PostgreSQL
makes them wait for each other across instances). A second ``hrbot run`` on the same file
would also receive every Signal message a second time. So ``hrbot run`` on SQLite holds an
exclusive ``flock`` on a lock file *next to the database file* (``hrbot.sqlite3.lock``), and a
second refuses before it starts anything, whatever its channels.

Next to the database, not in the data folder: the lock guards the file. ``HRBOT_DATABASE_URL``
may put the file outside the data folder, or two data folders may name one file; and two
instances on PostgreSQL that share a data folder must not refuse each other. Commands other
than ``run`` (``outlets import``...) take no lock: they write the file briefly, in turn.

The kernel drops the lock when the process dies, so a crash never leaves it stale. It holds
on one host (and a shared volume); network file systems may not honour it.
"""

from __future__ import annotations

import fcntl
import os
from pathlib import Path
from typing import Final

from bot.settings import Settings

LOCK_SUFFIX: Final = ".lock"


class InstanceBusy(RuntimeError):
    """Another bot process runs on this SQLite database."""


class InstanceLock:
    """An exclusive ``flock`` on ``path``, taken without waiting."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._fd: int | None = None

    @property
    def held(self) -> bool:
        return self._fd is not None

    def acquire(self) -> None:
        """Take the lock (idempotent); raises :class:`InstanceBusy` when another process
        holds it."""
        if self._fd is not None:
            return
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise InstanceBusy(
                f"another hrbot instance is already running on the SQLite database {self.database}"
                "; only one may (use PostgreSQL, HRBOT_DATABASE_URL, to run several)"
            ) from None
        self._fd = fd

    def release(self) -> None:
        """Give the lock back (idempotent). The file stays: removing it would let a third
        process lock a new file while a second still waits on the old one."""
        fd, self._fd = self._fd, None
        if fd is not None:
            fcntl.flock(fd, fcntl.LOCK_UN)
            os.close(fd)

    @property
    def database(self) -> Path:
        """The database file this lock guards."""
        return self.path.with_name(self.path.name.removesuffix(LOCK_SUFFIX))


def instance_lock(settings: Settings) -> InstanceLock | None:
    """The lock ``hrbot run`` holds: beside the SQLite file; None on PostgreSQL (and for an
    in-memory SQLite database, which no other process can open)."""
    database = settings.sqlite_file
    if database is None:
        return None
    return InstanceLock(database.with_name(database.name + LOCK_SUFFIX))
