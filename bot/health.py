"""The running bot's health, published as a small file that another process can judge.

``hrbot run`` rewrites ``<data dir>/status.json`` at start, at every tick of its clock and at
stop; ``hrbot health`` (a Docker ``HEALTHCHECK``) reads it. The file holds channel names, whether
each answered at the last tick, and when the last tick's due work all succeeded: nothing about
people. A file, not a port: the probe needs no server in the bot and works the same for SQLite
and PostgreSQL; staleness covers a bot that hangs or died without a word.
"""

from __future__ import annotations

import asyncio
import json
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Final

from sqlalchemy import make_url, text
from sqlalchemy.exc import ArgumentError

from bot.channels.errors import failure_reason
from bot.db.engine import make_engine
from bot.privacy.files import PRIVATE_FILE, private_dir

STATUS_FILE: Final = "status.json"
FORMAT: Final = 1
STALE_TICKS: Final = 4
"""A status whose last good tick is older than this many ticks is stale: the bot hangs, died,
or cannot reach its database (due work fails)."""


class StatusError(Exception):
    """The status file cannot be read; the message is one line."""


@dataclass(frozen=True)
class Status:
    """What the running bot says about itself."""

    written_at: datetime
    tick_seconds: float
    last_tick_at: datetime | None  # the last tick whose due work all succeeded
    channels: Mapping[str, bool] = field(default_factory=dict)  # name → answered at last check

    def to_json(self) -> str:
        return json.dumps(
            {
                "format": FORMAT,
                "written_at": self.written_at.isoformat(),
                "tick_seconds": self.tick_seconds,
                "last_tick_at": self.last_tick_at.isoformat() if self.last_tick_at else None,
                "channels": dict(self.channels),
            },
            sort_keys=True,
        )

    @classmethod
    def from_json(cls, text: str) -> Status:
        """Parse :meth:`to_json`'s output; ValueError (or KeyError, TypeError) when it is not."""
        data = json.loads(text)
        if data.get("format") != FORMAT:
            raise ValueError("unknown status format")
        last = data["last_tick_at"]
        channels = data["channels"]
        if not isinstance(channels, dict) or not all(
            isinstance(k, str) and isinstance(v, bool) for k, v in channels.items()
        ):
            raise ValueError("channels must map names to true or false")
        return cls(
            written_at=datetime.fromisoformat(data["written_at"]),
            tick_seconds=float(data["tick_seconds"]),
            last_tick_at=datetime.fromisoformat(last) if last is not None else None,
            channels=channels,
        )


def write_status(path: Path, status: Status) -> None:
    """Replace the file at ``path`` atomically: a reader sees the old or the new, whole.

    The file is 0600 in a 0700 folder, like everything in the data folder.
    """
    private_dir(path.parent)
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, PRIVATE_FILE)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(status.to_json() + "\n")
    os.chmod(temporary, PRIVATE_FILE)  # one left by an older version keeps its mode otherwise
    os.replace(temporary, path)


def read_status(path: Path) -> Status | None:
    """The status at ``path``; None when there is none; StatusError when it is unreadable."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise StatusError(f"cannot read {path}: {exc.strerror or exc}") from None
    try:
        return Status.from_json(text)
    except (ValueError, KeyError, TypeError, AttributeError):
        raise StatusError(f"{path} is not a status file this version writes") from None


@dataclass(frozen=True)
class Check:
    """One line of ``hrbot health``: what was checked, whether it passed, and how it stands."""

    name: str
    ok: bool
    detail: str

    def __str__(self) -> str:
        return f"{self.name}: {self.detail}"


def judge(status: Status | None, *, channels: Sequence[str], now: datetime) -> list[Check]:
    """The bot's checks from its status: its clock ticks, and each channel in ``channels``
    (the configured ones) answered at the last tick."""
    if status is None:
        return [Check("bot", False, "no status file: is `hrbot run` running?")]
    checks = [_tick_check(status, now)]
    for name in channels:
        connected = status.channels.get(name)
        if connected is None:
            checks.append(Check(name, False, "not run by the bot"))
        else:
            checks.append(Check(name, connected, "connected" if connected else "not connected"))
    return checks


def _tick_check(status: Status, now: datetime) -> Check:
    limit = STALE_TICKS * status.tick_seconds
    if status.last_tick_at is None:
        age = (now - status.written_at).total_seconds()
        return Check("bot", False, f"starting: no good tick yet (status {_seconds(age)} old)")
    age = (now - status.last_tick_at).total_seconds()
    if age > limit:
        return Check("bot", False, f"last good tick {_seconds(age)} ago (stale after {limit:g} s)")
    return Check("bot", True, f"last good tick {_seconds(age)} ago")


def _seconds(value: float) -> str:
    return f"{max(0.0, value):.0f} s"


async def probe_database(url: str, *, within: float = 5.0) -> Check:
    """Whether the database answers ``SELECT 1`` within ``within`` seconds."""
    missing = _missing_sqlite_file(url)
    if missing is not None:
        return missing
    engine = make_engine(url, pool_size=1)
    try:
        async with asyncio.timeout(within):
            async with engine.connect() as connection:
                await connection.execute(text("SELECT 1"))
    except TimeoutError:
        return Check("database", False, f"no answer within {within:g} s")
    except Exception as exc:  # refused, wrong password, no such database...
        return Check("database", False, f"does not answer ({failure_reason(exc)})")
    finally:
        await engine.dispose()
    return Check("database", True, "answers")


def _missing_sqlite_file(url: str) -> Check | None:
    """A failed check for an unreadable URL or a missing SQLite file: reported, not created
    (connecting would create an empty database)."""
    try:
        parsed = make_url(url)
    except ArgumentError:
        return Check("database", False, "unreadable URL (HRBOT_DATABASE_URL)")
    path = parsed.database
    if parsed.get_backend_name() != "sqlite" or not path or path.startswith("file:"):
        return None
    if Path(path).exists():
        return None
    return Check("database", False, f"no database file at {path}")
