from __future__ import annotations

import base64
import dataclasses

import pytest
from cryptography.fernet import Fernet

from bot.privacy.keys import Keys, derive_keys, generate_secret

SECRET = "x" * 32


def test_derives_four_distinct_32_byte_keys() -> None:
    keys = derive_keys(SECRET)
    assert len(keys.pseudonym) == 32
    assert len(keys.codes) == 32
    assert len(keys.staff) == 32
    assert len(base64.urlsafe_b64decode(keys.address)) == 32
    raw_address = base64.urlsafe_b64decode(keys.address)
    assert len({keys.pseudonym, keys.codes, keys.staff, raw_address}) == 4


def test_address_key_is_a_fernet_key() -> None:
    fernet = Fernet(derive_keys(SECRET).address)
    assert fernet.decrypt(fernet.encrypt(b"hi")) == b"hi"


def test_deterministic_and_secret_dependent() -> None:
    assert derive_keys(SECRET) == derive_keys(SECRET)
    other = derive_keys("y" * 32)
    mine = derive_keys(SECRET)
    assert other.pseudonym != mine.pseudonym
    assert other.address != mine.address
    assert other.codes != mine.codes


def test_str_and_bytes_secret_agree() -> None:
    assert derive_keys(SECRET) == derive_keys(SECRET.encode())


def test_surrounding_whitespace_is_ignored() -> None:
    assert derive_keys(SECRET + "\n") == derive_keys(SECRET)


@pytest.mark.parametrize("secret", ["", "short", "x" * 31, b"x" * 31, " " * 40, "x" * 31 + "\n"])
def test_rejects_short_secrets(secret: str | bytes) -> None:
    with pytest.raises(ValueError, match="secret key must be at least 32 characters"):
        derive_keys(secret)


def test_keys_are_frozen_and_hidden_from_repr() -> None:
    keys = derive_keys(SECRET)
    with pytest.raises(dataclasses.FrozenInstanceError):
        keys.codes = b""  # type: ignore[misc]
    text = repr(keys)
    assert keys.pseudonym.hex() not in text
    assert repr(keys.pseudonym) not in text
    assert keys.address.decode() not in text
    assert text.startswith(Keys.__name__)


def test_generate_secret_is_long_random_and_usable() -> None:
    first, second = generate_secret(), generate_secret()
    assert first != second
    assert len(first) >= 64
    assert first.isascii()
    assert first.strip() == first
    derive_keys(first)
