from __future__ import annotations

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.privacy.pseudonym import pseudonym

KEY = b"k" * 32
OTHER_KEY = b"j" * 32


def test_stable_for_same_channel_and_id() -> None:
    assert pseudonym(KEY, "telegram", 123456789) == pseudonym(KEY, "telegram", 123456789)


def test_int_and_str_id_agree() -> None:
    assert pseudonym(KEY, "telegram", 123456789) == pseudonym(KEY, "telegram", "123456789")


def test_64_lowercase_hex_chars() -> None:
    assert re.fullmatch(r"[0-9a-f]{64}", pseudonym(KEY, "signal", "uuid-1"))


def test_differs_across_channels_ids_and_keys() -> None:
    base = pseudonym(KEY, "telegram", 1)
    assert pseudonym(KEY, "signal", 1) != base
    assert pseudonym(KEY, "telegram", 2) != base
    assert pseudonym(OTHER_KEY, "telegram", 1) != base


def test_encoding_is_unambiguous() -> None:
    assert pseudonym(KEY, "tele", "gram1") != pseudonym(KEY, "telegram", "1")


def test_does_not_contain_the_id() -> None:
    assert "123456789" not in pseudonym(KEY, "telegram", 123456789)


@pytest.mark.parametrize("channel", ["", "Telegram", "tele gram", "tele\x00gram", "1tg", "sígnal"])
def test_rejects_bad_channel(channel: str) -> None:
    with pytest.raises(ValueError, match="channel"):
        pseudonym(KEY, channel, 1)


@pytest.mark.parametrize("platform_id", ["", True, None, 1.5])
def test_rejects_bad_id(platform_id: object) -> None:
    with pytest.raises(ValueError, match="platform id"):
        pseudonym(KEY, "telegram", platform_id)  # type: ignore[arg-type]


def test_rejects_short_key() -> None:
    with pytest.raises(ValueError, match="key"):
        pseudonym(b"short", "telegram", 1)


_channels = st.from_regex(r"[a-z][a-z0-9_]{0,9}", fullmatch=True)
_ids = st.one_of(st.text(min_size=1, max_size=20), st.integers())


@given(st.lists(st.tuples(_channels, _ids), min_size=2, max_size=30))
def test_distinct_pairs_never_collide(pairs: list[tuple[str, str | int]]) -> None:
    # int and str forms of the same id are the same account on purpose.
    distinct = {(channel, str(ident)) for channel, ident in pairs}
    outputs = {pseudonym(KEY, channel, ident) for channel, ident in distinct}
    assert len(outputs) == len(distinct)
