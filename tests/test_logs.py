"""Logging as ``hrbot run`` sets it up: the redaction filter stands between records and stderr."""

from __future__ import annotations

import logging

import pytest

from bot.logs import FORMAT, _StderrHandler, configure_logging

RAW_ID = "5550001234"  # a Telegram chat id, as a handler holds it


@pytest.fixture
def root() -> logging.Logger:
    """The root logger; tests/conftest.py puts it back as it was after the test."""
    return logging.getLogger()


def test_run_logging_blanks_user_values(
    root: logging.Logger, capsys: pytest.CaptureFixture[str]
) -> None:
    configure_logging("INFO")  # what `hrbot run` calls, with the configured level
    [stderr] = [h for h in root.handlers if isinstance(h, _StderrHandler)]
    # Print extras as a structured formatter would, so a value that got through would show.
    stderr.setFormatter(
        logging.Formatter(FORMAT + " chat_id=%(chat_id)s", defaults={"chat_id": "-"})
    )
    log = logging.getLogger("bot.channels.telegram")

    log.warning("reply failed", extra={"chat_id": RAW_ID})  # the project's way
    log.warning("Forbidden: bot was blocked by the user %s", RAW_ID)  # a library's words

    err = capsys.readouterr().err
    assert RAW_ID not in err
    assert "reply failed chat_id=<redacted>" in err
    assert "blocked by the user <id>" in err
