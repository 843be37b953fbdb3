"""Shapes of identifiers in free text, shared by log redaction and report masking.

One place for the patterns that recognise an e-mail address, an @username or a phone
number, so that :mod:`bot.privacy.redaction` (log records) and :mod:`bot.privacy.masking`
(community reports) agree on what an identifier looks like. ``\\d`` matches any decimal
digit, so Arabic-Indic and Persian digits (``۰۷۹۹…``) count as digits too.
"""

from __future__ import annotations

import re
from typing import Final

__all__ = [
    "EMAIL",
    "PHONE_INTERNATIONAL",
    "PHONE_NATIONAL",
    "PHONE_TRUNK",
    "USERNAME",
    "is_phone_length",
]

EMAIL: Final = re.compile(
    r"(?<![A-Za-z0-9._%+-])[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}"
)

# Telegram usernames: 5–32 of A-Z a-z 0-9 _ (3 here, to catch other platforms' handles too).
USERNAME: Final = re.compile(r"(?<![\w@.])@[A-Za-z0-9_]{3,32}")

# International numbers: "+" then 8–15 digits, with spaces, dashes, dots or brackets.
PHONE_INTERNATIONAL: Final = re.compile(r"\+(?:[\s().-]{0,3}\d){8,15}(?!\d)")

# National formats: "(604) 555-0199", "020 7946 0958". Not followed by ".digit", so IP
# addresses and version numbers are left alone.
PHONE_NATIONAL: Final = re.compile(
    r"(?<![\w+.])\(?\d{2,5}\)?[\s.-]{0,2}\d{3,4}[\s.-]\d{3,4}(?!\w|\.\d)"
)

# Trunk-prefix numbers split into groups: "07700 900123", "06 12 34 56 78". Only a phone when
# :func:`is_phone_length` says so.
PHONE_TRUNK: Final = re.compile(r"(?<![\w+.])\(?0\d{1,4}\)?(?:[\s.-]?\d{2,8}){1,4}(?!\w|\.\d)")


def is_phone_length(text: str) -> bool:
    """Whether ``text`` holds as many digits as a phone number with its area code (9–13)."""
    return 9 <= sum(c.isdigit() for c in text) <= 13
