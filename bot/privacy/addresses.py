"""Reply addresses (chat ids, Signal numbers/UUIDs) encrypted at rest with Fernet.

A seized database or a stolen backup holds only tokens; without the address key they
cannot be turned back into a way to reach a person. A Fernet token carries a time in the
clear, normally the instant it was made: that second would match the platform's record of the
message that made it (a contact's first message, a peer's accept). Tokens here carry 0
instead; nothing reads the time (no token is given a lifetime).
"""

from __future__ import annotations

from collections.abc import Sequence

from cryptography.fernet import Fernet, InvalidToken, MultiFernet

__all__ = ["AddressBox", "AddressUnreadable"]

# The time every token carries (1970-01-01): none of the sealing's.
_NO_TIME = 0


class AddressUnreadable(Exception):
    """A stored address token cannot be decrypted (wrong key, tampered or corrupt)."""


def _fernet(key: bytes | str) -> Fernet:
    try:
        return Fernet(key)
    except (ValueError, TypeError):
        # Fernet's own message is fine, but never let the key near a traceback.
        raise ValueError("address key must be 32 url-safe base64-encoded bytes") from None


class AddressBox:
    """Seal and open reply addresses.

    ``key`` seals; ``old_keys`` (newest first) are only tried when opening, so keys can be
    rotated: add the new key, keep the old ones until :meth:`rotate` has rewritten every
    stored token, then drop them.
    """

    __slots__ = ("_fernet",)

    def __init__(self, key: bytes | str, old_keys: Sequence[bytes | str] = ()) -> None:
        if isinstance(old_keys, bytes | str):
            raise TypeError("old_keys must be a sequence of keys")
        self._fernet = MultiFernet([_fernet(key), *(_fernet(k) for k in old_keys)])

    def __repr__(self) -> str:
        return "AddressBox(<keys hidden>)"

    def seal(self, address: str) -> bytes:
        """Encrypt ``address`` into a Fernet token (random IV: equal addresses differ), timed 0."""
        if not isinstance(address, str) or not address:
            raise ValueError("address must be a non-empty string")
        return self._fernet.encrypt_at_time(address.encode("utf-8"), _NO_TIME)

    def open(self, token: bytes | None) -> str:
        """Decrypt a token made by :meth:`seal` with this key or one of the old keys (no
        token, an address dropped while nothing was open, is unreadable too)."""
        if token is None:
            raise AddressUnreadable("no reply address is stored")
        try:
            return self._fernet.decrypt(token).decode("utf-8")
        except (InvalidToken, UnicodeDecodeError, TypeError):
            raise AddressUnreadable("stored reply address cannot be decrypted") from None

    def rotate(self, token: bytes) -> bytes:
        """Re-encrypt a token under the current key, timed 0 (an older token's time goes)."""
        try:
            return self._fernet.encrypt_at_time(self._fernet.decrypt(token), _NO_TIME)
        except (InvalidToken, TypeError):
            raise AddressUnreadable("stored reply address cannot be decrypted") from None
