"""Stable, keyed pseudonyms for platform accounts.

The database never holds a Telegram id or a Signal number/UUID, only
``HMAC-SHA256(key, channel NUL id)``. Without the key a pseudonym cannot be reversed, and
it cannot be recomputed from a guessed phone number or id either.
"""

from __future__ import annotations

import hashlib
import hmac
import re

__all__ = ["pseudonym"]

_CHANNEL = re.compile(r"[a-z][a-z0-9_]*")
_MIN_KEY_BYTES = 32


def pseudonym(key: bytes, channel: str, platform_id: str | int) -> str:
    """Return the 64-hex-character pseudonym of ``platform_id`` on ``channel``.

    ``channel`` is a lowercase word such as ``"telegram"`` or ``"signal"``. ``platform_id``
    must be the account's *stable* id: the numeric user id on Telegram; on Signal the
    account UUID whenever the platform provides one (a phone number can change hands or be
    hidden), falling back to the number only when no UUID is known. The same account must
    always be passed in the same form, since ``"+44…"`` and the UUID give different results.
    """
    if len(key) < _MIN_KEY_BYTES:
        raise ValueError("pseudonym key must be at least 32 bytes")
    if not isinstance(channel, str) or not _CHANNEL.fullmatch(channel):
        raise ValueError("channel must be a lowercase word")
    if isinstance(platform_id, bool) or not isinstance(platform_id, str | int):
        raise ValueError("platform id must be a string or an integer")
    ident = str(platform_id)
    if not ident:
        raise ValueError("platform id must not be empty")
    # The channel can never contain NUL, so the split point is unambiguous:
    # ("tele", "gram1") and ("telegram", "1") encode differently.
    message = f"{channel}\x00{ident}".encode()
    return hmac.new(key, message, hashlib.sha256).hexdigest()
