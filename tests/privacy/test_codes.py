from __future__ import annotations

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.privacy.codes import (
    ALPHABET,
    hash_code,
    new_invite_code,
    new_pickup_code,
    new_reference,
    normalise_code,
    verify_code,
)

KEY = b"c" * 32
_GROUPED = re.compile(rf"[{ALPHABET}]{{5}}-[{ALPHABET}]{{5}}")


def test_alphabet_is_unambiguous_crockford() -> None:
    assert len(ALPHABET) == len(set(ALPHABET)) == 32
    assert not set("ILOU") & set(ALPHABET)


def test_invite_code_format() -> None:
    codes = {new_invite_code() for _ in range(200)}
    assert all(_GROUPED.fullmatch(code) for code in codes)
    assert len(codes) == 200


def test_pickup_code_format() -> None:
    codes = [new_pickup_code() for _ in range(200)]
    assert all(re.fullmatch(r"\d{6}", code) for code in codes)
    assert len(set(codes)) > 150


def test_reference_format() -> None:
    refs = [new_reference() for _ in range(200)]
    assert all(re.fullmatch(rf"[{ALPHABET}]{{6}}", ref) for ref in refs)


@pytest.mark.parametrize(
    ("typed", "expected"),
    [
        ("abcde-fghjk", "ABCDEFGHJK"),
        (" k7f3 qx ", "K7F3QX"),
        ("o1l1i", "01111"),
        ("OIL", "011"),
        ("12 34\t56", "123456"),
        ("ABCDE–FGHJK", "ABCDEFGHJK"),  # en dash from autocorrect
        ("１２３４５６", "123456"),  # full-width digits
        ("", ""),
    ],
)
def test_normalise(typed: str, expected: str) -> None:
    assert normalise_code(typed) == expected


def test_verify_accepts_the_code_as_typed() -> None:
    code = "K7F30-1ABCD"
    stored = hash_code(KEY, code, purpose="invite")
    assert verify_code(KEY, code, stored, purpose="invite")
    assert verify_code(KEY, "k7f3o iabcd", stored, purpose="invite")
    assert verify_code(KEY, "K7F3O-LABCD", stored, purpose="invite")


def test_verify_rejects() -> None:
    stored = hash_code(KEY, "123456", purpose="pickup")
    assert not verify_code(KEY, "123457", stored, purpose="pickup")
    assert not verify_code(KEY, "", stored, purpose="pickup")
    assert not verify_code(KEY, " - ", stored, purpose="pickup")
    assert not verify_code(b"d" * 32, "123456", stored, purpose="pickup")
    assert not verify_code(KEY, "123456", stored, purpose="invite")
    assert not verify_code(KEY, "123456", "not a hash ü", purpose="pickup")


def test_purpose_separates_hashes() -> None:
    assert hash_code(KEY, "123456", purpose="invite") != hash_code(KEY, "123456", purpose="pickup")


def test_hash_is_keyed_hex_without_the_code() -> None:
    digest = hash_code(KEY, "123456", purpose="pickup")
    assert re.fullmatch(r"[0-9a-f]{64}", digest)
    assert "123456" not in digest
    assert hash_code(b"d" * 32, "123456", purpose="pickup") != digest


@pytest.mark.parametrize("purpose", ["", "Invite", "in vite", "pick\x00up"])
def test_rejects_bad_purpose(purpose: str) -> None:
    with pytest.raises(ValueError, match="purpose"):
        hash_code(KEY, "123456", purpose=purpose)


def test_rejects_empty_code_and_short_key() -> None:
    with pytest.raises(ValueError, match="code"):
        hash_code(KEY, " - ", purpose="pickup")
    with pytest.raises(ValueError, match="key"):
        hash_code(b"short", "123456", purpose="pickup")


_codes = st.one_of(
    st.builds(lambda _: new_invite_code(), st.integers()),
    st.builds(lambda _: new_pickup_code(), st.integers()),
    st.text(alphabet=ALPHABET, min_size=1, max_size=12),
)


@given(_codes, st.sampled_from(["invite", "pickup"]))
def test_verify_of_hash_holds(code: str, purpose: str) -> None:
    stored = hash_code(KEY, code, purpose=purpose)
    assert verify_code(KEY, code, stored, purpose=purpose)
    assert verify_code(KEY, code.lower().replace("0", "o"), stored, purpose=purpose)
