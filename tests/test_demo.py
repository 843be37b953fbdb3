"""End to end: the real application and python-telegram-bot against the Bot API emulator.

/start → request → offer → accept → handover → stats, then a dump of every table and of
everything logged must hold no Telegram id, username, name, typed text or shared coordinate.
"""

from __future__ import annotations

import io
import logging
import os
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import MetaData, select
from sqlalchemy.ext.asyncio import AsyncEngine
from typer.testing import CliRunner

from bot.cli import app
from bot.demo import NEAR_MAIN_AND_HASTINGS, run_demo
from bot.emulator import TelegramEmulator
from bot.privacy import install_redaction


@pytest.fixture
def captured_logs() -> Iterator[io.StringIO]:
    """Everything logged at any level, through the redaction filter as in production."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
    handler.setLevel(logging.DEBUG)
    root = logging.getLogger()
    old_level = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    install_redaction(root)
    try:
        yield stream
    finally:
        root.removeHandler(handler)
        root.setLevel(old_level)


async def _dump(engine: AsyncEngine) -> str:
    """Every row of every table, as text."""
    async with engine.connect() as conn:
        metadata = MetaData()
        await conn.run_sync(metadata.reflect)
        rows = []
        for table in metadata.sorted_tables:
            for row in (await conn.execute(select(table))).all():
                rows.append(f"{table.name}: {row!r}")
    return "\n".join(rows)


async def test_journey_end_to_end_leaves_no_identifiers(
    db_url: str, engine: AsyncEngine, tmp_path: Path, captured_logs: io.StringIO
) -> None:
    printed: list[str] = []
    emulators: list[TelegramEmulator] = []
    result = await run_demo(
        data_dir=tmp_path, out=printed.append, database_url=db_url, emulator=emulators.append
    )
    assert result.handed_over
    transcript = "\n".join(printed)
    assert "New pickup request" in transcript
    assert f"Handed over {result.reference}" in transcript
    assert "Requests: 1 (equipment 1" in result.stats
    assert "Fulfilment: 100%" in result.stats

    [emu] = emulators
    assert emu.errors == [] or all(e.injected for e in emu.errors)
    people = [emu.user(name) for name in ("ana", "pat", "cora")]
    said = [m.group(1) for line in printed if (m := re.match(r"^\s*\w+ › (.+)$", line))]
    typed = [text for text in said if not text.startswith(("/", "[", "("))]
    join_codes = [text.split()[1] for text in said if text.startswith("/join ")]
    assert len(join_codes) == 2
    pickup_code = next(t for t in typed if re.fullmatch(r"\d{6}", t))

    dump = await _dump(engine)
    logs = captured_logs.getvalue()
    assert "main_hastings_peer" in dump  # the dump really holds rows
    for haystack, where in ((dump, "database"), (logs, "logs")):
        for person in people:
            assert str(person.id) not in haystack, f"Telegram id in {where}"
            assert re.search(rf"\b{person.first_name}\b", haystack) is None, f"name in {where}"
            if person.username:
                assert person.username not in haystack, f"username in {where}"
        for text in typed + join_codes:
            assert text not in haystack, f"typed text in {where}"
        assert pickup_code not in haystack, f"pickup code in {where}"
        for coordinate in NEAR_MAIN_AND_HASTINGS:
            assert str(coordinate) not in haystack, f"shared coordinate in {where}"


def test_kept_demo_database_is_the_one_commands_read(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`hrbot demo --keep DIR`, then `HRBOT_DATA_DIR=DIR hrbot outlets list` shows its outlets."""
    for name in [name for name in os.environ if name.startswith("HRBOT_")]:
        monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)
    kept = tmp_path / "kept"
    runner = CliRunner()
    demo = runner.invoke(app, ["demo", "--keep", str(kept)])
    assert demo.exit_code == 0, demo.output
    listing = runner.invoke(app, ["outlets", "list"], env={"HRBOT_DATA_DIR": str(kept)})
    assert listing.exit_code == 0, listing.output
    assert "main_hastings_peer" in listing.stdout
    assert len(listing.stdout.strip().splitlines()) == 8
