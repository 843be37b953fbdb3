"""A seized disk image or a stolen backup of the data folder, attacked as finding 1 of issue 14
did: look for the key beside the database and open every reply address with it.

The data folder must not hold the key: a copy of it names no one. The key in the user config
folder does open them all, which shows the attack works.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import sqlite3
import stat
from datetime import UTC, datetime
from pathlib import Path

import pytest

from bot.app import build_runtime, prepare_database
from bot.domain import Channel
from bot.privacy import AddressBox, AddressUnreadable, derive_keys
from bot.services import contacts
from bot.settings import load_settings

NOW = datetime(2026, 11, 25, 19, 0, tzinfo=UTC)
PEOPLE = [str(7_000_000_001 + n) for n in range(7)]  # Telegram chat ids
_KEYLIKE = re.compile(rb"[A-Za-z0-9_\-+/=]{32,256}")


def _attack(folder: Path, sealed: list[bytes]) -> set[str]:
    """Every reply address opened by any key-like run of characters in any file of ``folder``."""
    opened: set[str] = set()
    for path in folder.rglob("*"):
        if not path.is_file():
            continue
        for candidate in set(_KEYLIKE.findall(path.read_bytes())):
            box = AddressBox(derive_keys(candidate.decode()).address)
            for token in sealed:
                with contextlib.suppress(AddressUnreadable):
                    opened.add(box.open(token))
    return opened


@pytest.fixture
def no_settings(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in [name for name in os.environ if name.startswith("HRBOT_")]:
        monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)


@pytest.mark.usefixtures("no_settings")
async def test_a_copy_of_the_data_folder_names_no_one(tmp_path: Path, config_home: Path) -> None:
    settings = load_settings()  # a default install: SQLite in the user data folder
    runtime = build_runtime(settings)  # generates the key, as `hrbot run` does
    try:
        await prepare_database(runtime)
        async with runtime.sessions.begin() as session:
            for person in PEOPLE:
                await contacts.find_or_create(
                    session,
                    pseudonym_key=runtime.keys.pseudonym,
                    box=runtime.box,
                    channel=Channel.TELEGRAM,
                    platform_id=person,
                    address=person,
                    now=NOW,
                )
    finally:
        await runtime.close()

    backup = tmp_path / "backup"
    shutil.copytree(settings.data_dir, backup)
    with sqlite3.connect(backup / "hrbot.sqlite3") as db:
        sealed = [row[0] for row in db.execute("SELECT reply_address FROM contacts")]
    assert len(sealed) == len(PEOPLE)
    dump = b"".join(p.read_bytes() for p in backup.rglob("*") if p.is_file())
    assert not any(person.encode() in dump for person in PEOPLE)  # nothing in clear

    assert _attack(backup, sealed) == set()
    assert _attack(config_home, sealed) == set(PEOPLE)  # the key, held apart, opens them all
    # ... and the data folder and its files are the owner's alone.
    assert stat.S_IMODE(settings.data_dir.stat().st_mode) == 0o700
    for path in settings.data_dir.iterdir():
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path.name
