"""One master secret, split into independent keys with HKDF-SHA256.

Each purpose gets its own ``info`` label, so the pseudonym key, the staff-pseudonym key, the
address-encryption key and the code-hashing key are unrelated to one another: leaking one (say,
in a debugging session) reveals neither the master secret nor the others.
"""

from __future__ import annotations

import base64
import secrets
from dataclasses import dataclass, field

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

__all__ = ["MIN_SECRET_LENGTH", "Keys", "derive_keys", "generate_secret"]

MIN_SECRET_LENGTH = 32

# Changing any of these changes every pseudonym and makes every stored address unreadable.
_SALT = b"hrbot/v1"
_INFO_PSEUDONYM = b"hrbot/pseudonym/v1"
_INFO_ADDRESS = b"hrbot/address/v1"
_INFO_CODES = b"hrbot/codes/v1"
_INFO_STAFF = b"hrbot/staff-pseudonym/v1"


@dataclass(frozen=True, slots=True)
class Keys:
    """Subkeys derived from the master secret. ``repr`` never shows them."""

    pseudonym: bytes = field(repr=False)
    address: bytes = field(repr=False)  # urlsafe-base64 32-byte Fernet key
    codes: bytes = field(repr=False)
    # Pseudonyms of staff contacts: a peer's or coordinator's role hangs on a contact of its
    # own, found under this key, so nothing stored joins their own requests to their role.
    staff: bytes = field(repr=False)


def _hkdf(secret: bytes, info: bytes) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=_SALT, info=info).derive(secret)


def derive_keys(secret: str | bytes) -> Keys:
    """Derive the per-purpose keys from ``secret`` (at least 32 characters/bytes).

    Surrounding whitespace is ignored: a trailing newline in a secrets file must not
    silently change every pseudonym.
    """
    stripped = secret.strip()
    # Counted in characters for text and in bytes for bytes, as the message says.
    if len(stripped) < MIN_SECRET_LENGTH:
        raise ValueError("secret key must be at least 32 characters")
    material = stripped.encode("utf-8") if isinstance(stripped, str) else stripped
    return Keys(
        pseudonym=_hkdf(material, _INFO_PSEUDONYM),
        address=base64.urlsafe_b64encode(_hkdf(material, _INFO_ADDRESS)),
        codes=_hkdf(material, _INFO_CODES),
        staff=_hkdf(material, _INFO_STAFF),
    )


def generate_secret() -> str:
    """A fresh master secret: 48 random bytes, urlsafe-base64 (64 characters)."""
    return secrets.token_urlsafe(48)
