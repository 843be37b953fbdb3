"""The line that tells what masking hid, in each language the bot speaks."""

from __future__ import annotations

from bot.privacy.hidden_text import hidden_line
from bot.privacy.masking import Kind
from tests.support.engine import make_deps

WORDS = make_deps().words


def test_counts_in_english_russian_and_dari() -> None:
    found = {Kind.PHONE: 2, Kind.ADDRESS: 1, Kind.NAME: 5}
    assert hidden_line(WORDS.for_locale("en"), found) == (
        "Hidden so no one can be identified: 2 phone numbers, 1 address, and 5 names."
    )
    assert hidden_line(WORDS.for_locale("ru"), found) == (
        "Скрыто, чтобы никого нельзя было узнать: 2 номера телефона, 1 адрес и 5 имён."
    )
    dari = hidden_line(WORDS.for_locale("fa_AF"), {Kind.LINK: 1, Kind.USERNAME: 3})
    assert "پنهان شد تا هیچ کس شناخته نشود" in dari
    assert "لینک" in dari
    assert "نام کاربری" in dari


def test_nothing_hidden_says_nothing() -> None:
    assert hidden_line(WORDS.for_locale("en"), {}) == ""
