"""Who wrote something, in a form only the key can check: a salted, keyed hash.

A community report keeps a tag of its author so that the author's ``/forget`` can delete it.
Without the key the tag is 48 random-looking bytes: it names no one, and since every tag has
its own salt, two reports by one person do not even look alike. With the key, a tag can only
be checked against a pseudonym one already has (one HMAC per report), never read back.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

__all__ = ["TAG_BYTES", "author_tag", "is_author"]

_SALT_BYTES = 16
TAG_BYTES = _SALT_BYTES + hashlib.sha256().digest_size
# Apart from every other use of the key: a pseudonym's message is "channel NUL id", and no
# channel contains a slash.
_LABEL = b"hrbot/author/v1\x00"


def author_tag(key: bytes, pseudonym: str) -> bytes:
    """A fresh tag for ``pseudonym`` (a contact's pseudonym): salt then MAC."""
    salt = secrets.token_bytes(_SALT_BYTES)
    return salt + _mac(key, salt, pseudonym)


def is_author(key: bytes, pseudonym: str, tag: bytes | None) -> bool:
    """Whether ``tag`` was made by :func:`author_tag` for ``pseudonym`` with ``key``."""
    if not isinstance(tag, bytes) or len(tag) != TAG_BYTES:
        return False
    salt, mac = tag[:_SALT_BYTES], tag[_SALT_BYTES:]
    return hmac.compare_digest(mac, _mac(key, salt, pseudonym))


def _mac(key: bytes, salt: bytes, pseudonym: str) -> bytes:
    return hmac.new(key, _LABEL + salt + pseudonym.encode(), hashlib.sha256).digest()
