"""The Signal list benchmark, small: both modes on SQLite (and PostgreSQL when set) answer
every digit with the option it picks, and the baseline really keeps its lists off the database.

``python -m bench.signal_lists`` is the full-size run; this keeps it working."""

from __future__ import annotations

import pytest

from bench.signal_lists import main


async def test_both_modes_read_every_digit(capsys: pytest.CaptureFixture[str]) -> None:
    rows = await main(["--people", "4", "--rounds", "1"])
    assert [row.mode for row in rows][:2] == ["memory", "rows"]
    for row in rows:
        assert (row.messages, row.misread) == (12, 0)
        assert len(row.latencies) == 12
        assert row.stored == (4 if row.mode == "rows" else 0)
    assert "median of the rounds" in capsys.readouterr().out
