"""The status file the running bot keeps, and how `hrbot health` judges it."""

from __future__ import annotations

import json
import os
import socket
import stat
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bot.health import (
    STALE_TICKS,
    STATUS_FILE,
    Check,
    Status,
    StatusError,
    judge,
    probe_database,
    read_status,
    write_status,
)

NOW = datetime(2026, 11, 25, 19, 0, tzinfo=UTC)
TICK = 15.0


def status(*, ago: float | None = 5, **channels: bool) -> Status:
    return Status(
        written_at=NOW - timedelta(seconds=ago or 0),
        tick_seconds=TICK,
        last_tick_at=None if ago is None else NOW - timedelta(seconds=ago),
        channels=channels,
    )


def test_status_round_trips_through_the_file(tmp_path: Path) -> None:
    path = tmp_path / "data" / STATUS_FILE
    assert read_status(path) is None
    written = status(telegram=True, signal=False)
    write_status(path, written)
    assert read_status(path) == written
    assert [p.name for p in path.parent.iterdir()] == [STATUS_FILE]  # no temporary file left
    write_status(path, status(ago=None))  # replaced whole
    assert read_status(path) == status(ago=None)


def test_the_status_file_is_private(tmp_path: Path) -> None:
    """0600 in a 0700 folder, also over a file an older version left readable by all."""
    path = tmp_path / "data" / STATUS_FILE
    write_status(path, status(telegram=True))
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    path.chmod(0o644)
    (path.parent / f".{STATUS_FILE}.{os.getpid()}.tmp").write_text("left over")
    write_status(path, status(telegram=False))
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert read_status(path) == status(telegram=False)


@pytest.mark.parametrize(
    "text",
    ["", "not json", "[]", '{"format": 99}', '{"format": 1, "written_at": "x"}'],
)
def test_an_unreadable_status_file_is_one_line(tmp_path: Path, text: str) -> None:
    path = tmp_path / STATUS_FILE
    path.write_text(text)
    with pytest.raises(StatusError) as raised:
        read_status(path)
    assert str(raised.value) == f"{path} is not a status file this version writes"


def test_the_status_file_holds_nothing_about_people() -> None:
    data = json.loads(status(telegram=True).to_json())
    assert set(data) == {"format", "written_at", "tick_seconds", "last_tick_at", "channels"}
    assert data["channels"] == {"telegram": True}  # names and flags: no username, no number


def test_healthy_bot() -> None:
    checks = judge(status(telegram=True, signal=True), channels=["telegram", "signal"], now=NOW)
    assert [str(c) for c in checks] == [
        "bot: last good tick 5 s ago",
        "telegram: connected",
        "signal: connected",
    ]
    assert all(c.ok for c in checks)


def test_no_status_file_is_unhealthy() -> None:
    assert judge(None, channels=["telegram"], now=NOW) == [
        Check("bot", False, "no status file: is `hrbot run` running?")
    ]


def test_a_channel_down_or_not_run_is_unhealthy() -> None:
    checks = judge(status(telegram=False), channels=["telegram", "signal"], now=NOW)
    assert [(c.ok, str(c)) for c in checks] == [
        (True, "bot: last good tick 5 s ago"),
        (False, "telegram: not connected"),
        (False, "signal: not run by the bot"),
    ]


def test_a_stale_status_is_unhealthy() -> None:
    limit = STALE_TICKS * TICK
    fresh = judge(status(ago=limit, telegram=True), channels=["telegram"], now=NOW)
    assert fresh[0].ok
    [bot, _] = judge(status(ago=limit + 1, telegram=True), channels=["telegram"], now=NOW)
    assert not bot.ok
    assert str(bot) == f"bot: last good tick {limit + 1:.0f} s ago (stale after {limit:g} s)"


def test_a_bot_still_connecting_is_unhealthy() -> None:
    [bot, telegram] = judge(status(ago=None, telegram=False), channels=["telegram"], now=NOW)
    assert (bot.ok, str(bot)) == (False, "bot: starting: no good tick yet (status 0 s old)")
    assert not telegram.ok


async def test_database_probe(db_url: str, tmp_path: Path) -> None:
    assert await probe_database(db_url) == Check("database", True, "answers")
    missing = tmp_path / "nowhere.sqlite3"
    assert await probe_database(f"sqlite+aiosqlite:///{missing}") == Check(
        "database", False, f"no database file at {missing}"
    )
    assert not missing.exists()  # reported, not created
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    refused = await probe_database(f"postgresql+asyncpg://hrbot:secret@127.0.0.1:{port}/hrbot")
    assert refused == Check("database", False, "does not answer (connection refused)")
    assert str(await probe_database("nonsense")) == "database: unreadable URL (HRBOT_DATABASE_URL)"
