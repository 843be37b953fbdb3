"""Logging set-up: plain lines on stderr, every handler behind the redaction filter."""

from __future__ import annotations

import logging
import sys

from bot.privacy import install_redaction

FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


def configure_logging(level: str = "INFO") -> None:
    """Send logs to stderr through the redaction filter (idempotent)."""
    root = logging.getLogger()
    if not any(getattr(h, "_hrbot", False) for h in root.handlers):
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter(FORMAT))
        handler._hrbot = True  # type: ignore[attr-defined]
        root.addHandler(handler)
    root.setLevel(level)
    install_redaction(root)
