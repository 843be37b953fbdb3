"""Cleaning what people type, and recognising commands, the same way on every channel."""

from __future__ import annotations

import re
import unicodedata

MAX_INPUT_CHARS = 1000
_COMMAND = re.compile(r"^/([A-Za-z0-9_]{1,32})(?:@[A-Za-z0-9_]{1,64})?(?:\s+(.*))?$", re.DOTALL)
# Format characters (zero-width, bidi overrides) and controls can hide or reorder text.
_DROP_CATEGORIES = {"Cc", "Cf", "Cs", "Co", "Cn"}
_DIRECTION_MARKS = "\u200e\u200f\u2066\u2067\u2068\u2069"


def clean(text: str, *, limit: int = MAX_INPUT_CHARS) -> str:
    """NFC-normalise, drop control/format characters, fold whitespace, cut to ``limit``."""
    text = unicodedata.normalize("NFC", text[: limit * 4])
    kept = "".join(
        " " if ch in "\t\n\r" else ch
        for ch in text
        if ch in "\t\n\r" or unicodedata.category(ch) not in _DROP_CATEGORIES
    )
    return " ".join(kept.split())[:limit]


def parse_command(text: str) -> tuple[str, str] | None:
    """``"/Join@hrbot  ABC"`` → ``("join", "ABC")``; None when the text is not a command."""
    # Direction marks around a command copied from a right-to-left reply (bot.core.bidi).
    match = _COMMAND.match(text.strip().strip(_DIRECTION_MARKS).strip())
    if match is None:
        return None
    return match.group(1).lower(), clean(match.group(2) or "")
