from __future__ import annotations

import base64

import pytest
from cryptography.fernet import Fernet, MultiFernet

from bot.privacy.addresses import AddressBox, AddressUnreadable

ADDRESS = "+447700900123"


@pytest.fixture
def key() -> bytes:
    return Fernet.generate_key()


def test_round_trip(key: bytes) -> None:
    box = AddressBox(key)
    assert box.open(box.seal(ADDRESS)) == ADDRESS


def test_round_trip_unicode_and_str_key(key: bytes) -> None:
    box = AddressBox(key.decode())
    assert box.open(box.seal("chat:-1001234567890/δ")) == "chat:-1001234567890/δ"


def test_token_does_not_contain_plaintext(key: bytes) -> None:
    token = AddressBox(key).seal(ADDRESS)
    assert ADDRESS.encode() not in token
    assert b"447700900123" not in token
    assert base64.urlsafe_b64encode(ADDRESS.encode()).rstrip(b"=") not in token


def test_same_address_seals_differently(key: bytes) -> None:
    box = AddressBox(key)
    assert box.seal(ADDRESS) != box.seal(ADDRESS)


def test_other_key_cannot_read(key: bytes) -> None:
    token = AddressBox(key).seal(ADDRESS)
    with pytest.raises(AddressUnreadable) as info:
        AddressBox(Fernet.generate_key()).open(token)
    assert ADDRESS not in str(info.value)
    assert token.decode() not in str(info.value)
    assert info.value.__cause__ is None
    assert info.value.__suppress_context__


def test_tampered_token_is_unreadable(key: bytes) -> None:
    box = AddressBox(key)
    raw = bytearray(base64.urlsafe_b64decode(box.seal(ADDRESS)))
    raw[-40] ^= 0x01
    with pytest.raises(AddressUnreadable):
        box.open(base64.urlsafe_b64encode(bytes(raw)))


@pytest.mark.parametrize("token", [b"", b"not a token", "text-not-bytes"])
def test_garbage_is_unreadable(key: bytes, token: bytes) -> None:
    with pytest.raises(AddressUnreadable):
        AddressBox(key).open(token)


def test_rotation_old_tokens_still_open(key: bytes) -> None:
    new = Fernet.generate_key()
    old_token = AddressBox(key).seal(ADDRESS)
    # The underlying MultiFernet contract the box relies on...
    assert MultiFernet([Fernet(new), Fernet(key)]).decrypt(old_token) == ADDRESS.encode()
    # ...and the box itself.
    rotating = AddressBox(new, old_keys=[key])
    assert rotating.open(old_token) == ADDRESS
    # New tokens use the new key only.
    assert AddressBox(new).open(rotating.seal(ADDRESS)) == ADDRESS
    with pytest.raises(AddressUnreadable):
        AddressBox(key).open(rotating.seal(ADDRESS))


def test_rotate_rewrites_under_new_key(key: bytes) -> None:
    new = Fernet.generate_key()
    old_token = AddressBox(key).seal(ADDRESS)
    rotated = AddressBox(new, old_keys=[key]).rotate(old_token)
    assert AddressBox(new).open(rotated) == ADDRESS
    with pytest.raises(AddressUnreadable):
        AddressBox(Fernet.generate_key()).rotate(old_token)


def test_invalid_key_message_hides_key() -> None:
    with pytest.raises(ValueError, match="address key") as info:
        AddressBox(b"secret-but-not-a-fernet-key")
    assert "secret-but-not" not in str(info.value)


def test_old_keys_must_be_a_sequence(key: bytes) -> None:
    with pytest.raises(TypeError):
        AddressBox(key, old_keys=key)  # type: ignore[arg-type]


def test_rejects_empty_address(key: bytes) -> None:
    with pytest.raises(ValueError, match="address"):
        AddressBox(key).seal("")


def test_repr_hides_keys(key: bytes) -> None:
    assert key.decode() not in repr(AddressBox(key))


def test_tokens_carry_no_time(key: bytes) -> None:
    """A Fernet token's clear timestamp would be the second the person's message arrived."""
    box = AddressBox(Fernet.generate_key(), old_keys=[key])
    old = Fernet(key).encrypt(ADDRESS.encode())  # as tokens were sealed before: timed now
    for token in (box.seal(ADDRESS), box.rotate(old)):
        assert base64.urlsafe_b64decode(token)[1:9] == bytes(8)
        assert box.open(token) == ADDRESS
