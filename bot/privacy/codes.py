"""Short codes that people read out at a counter or type on an old phone.

Invite and pickup codes are secrets and are stored only as keyed hashes
(:func:`hash_code`); references are public labels for a request.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import unicodedata

__all__ = [
    "ALPHABET",
    "hash_code",
    "new_invite_code",
    "new_pickup_code",
    "new_reference",
    "normalise_code",
    "verify_code",
]

# Crockford base32: digits and uppercase letters without I, L, O (confused with 1 and 0)
# and U (avoids accidental words).
ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"

_PURPOSE = re.compile(r"[a-z][a-z0-9_]*")
# Whitespace and every Unicode dash (phones like to autocorrect "-" into "–").
_SEPARATORS = re.compile(r"[\s\-\u2010-\u2015\u2212\ufe58\ufe63\uff0d]+")
_CONFUSABLES = str.maketrans({"O": "0", "I": "1", "L": "1"})
_MIN_KEY_BYTES = 32


def _random(length: int) -> str:
    return "".join(secrets.choice(ALPHABET) for _ in range(length))


def new_invite_code() -> str:
    """A 10-character invite code (50 random bits), shown as ``XXXXX-XXXXX``."""
    code = _random(10)
    return f"{code[:5]}-{code[5:]}"


def new_pickup_code() -> str:
    """A 6-digit pickup code, e.g. ``"042917"``."""
    return f"{secrets.randbelow(1_000_000):06d}"


def new_reference() -> str:
    """A 6-character public request reference like ``K7F3QX`` (a label, not a secret)."""
    return _random(6)


def normalise_code(text: str) -> str:
    """Canonical form for comparing: uppercase, no spaces/dashes, O→0 and I/L→1."""
    # NFKC turns full-width and other compatibility forms ("１２３") into plain ASCII.
    folded = unicodedata.normalize("NFKC", text).upper()
    return _SEPARATORS.sub("", folded).translate(_CONFUSABLES)


def hash_code(key: bytes, code: str, *, purpose: str) -> str:
    """HMAC-SHA256 hex of the normalised code, domain-separated by ``purpose``.

    ``purpose`` (e.g. ``"invite"``, ``"pickup"``) keeps a hash made for one kind of code
    from ever matching another. Without the key a stored hash is useless, even though a
    6-digit code alone would be trivial to brute-force.
    """
    if len(key) < _MIN_KEY_BYTES:
        raise ValueError("code key must be at least 32 bytes")
    if not _PURPOSE.fullmatch(purpose):
        raise ValueError("purpose must be a lowercase word")
    normalised = normalise_code(code)
    if not normalised:
        raise ValueError("code must not be empty")
    message = f"{purpose}\x00{normalised}".encode()
    return hmac.new(key, message, hashlib.sha256).hexdigest()


def verify_code(key: bytes, code: str, stored_hash: str, *, purpose: str) -> bool:
    """Whether ``code`` (as typed) matches ``stored_hash``; constant-time comparison."""
    if not normalise_code(code):
        return False
    candidate = hash_code(key, code, purpose=purpose)
    return hmac.compare_digest(candidate.encode(), stored_hash.encode("utf-8", "replace"))
