"""Catalogues per locale: lookup, plural forms, placeholders, right-to-left output, fallback."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from bot.content import ContentError
from bot.core.bidi import FSI, PDI, RLM, strip_marks
from bot.core.words import DEFAULT_LOCALE, Words, discover_locales, po_path
from tests.support.engine import CONTENT_DIR, shipped_words

LOCALES = CONTENT_DIR / "locales"
PACKS = ("{n} pack ({units} {unit})", "{n} packs ({units} {unit})")


def test_shipped_languages_are_discovered() -> None:
    assert discover_locales(LOCALES) == ("en", "fa_AF", "ru")
    words = shipped_words()
    assert set(words.locales) == {"en", "fa_AF", "ru"}
    assert [t.language_name for t in words.locales.values()] == ["English", "دری", "Русский"]


def test_english_only_without_a_directory() -> None:
    words = Words()
    assert set(words.locales) == {DEFAULT_LOCALE}
    assert words.for_locale("ru")("Send it?") == "Send it?"


@pytest.mark.parametrize(
    ("hint", "locale"),
    [
        ("ru", "ru"),
        ("ru-RU", "ru"),
        ("RU_ru", "ru"),
        ("fa", "fa_AF"),  # Telegram's code for Persian: Dari is the Persian we have
        ("fa-AF", "fa_AF"),
        ("fa-IR", "fa_AF"),
        ("prs", "fa_AF"),  # ISO 639-3 Dari
        ("en-GB", "en"),
        ("pt-BR", "en"),  # no catalogue: English
        ("", "en"),
        (None, "en"),
    ],
)
def test_platform_hints_resolve(hint: str | None, locale: str) -> None:
    assert shipped_words().resolve(hint) == locale
    assert shipped_words().for_locale(hint).locale == locale


def test_russian_has_three_plural_forms() -> None:
    t = shipped_words().for_locale("ru")
    forms = {n: t.plural(*PACKS, n, units=n * 10, unit="шприцы") for n in (1, 2, 5, 11, 21, 22)}
    assert forms[1] == "1 упаковка (шприцы, 10 шт.)"
    assert forms[21] == "21 упаковка (шприцы, 210 шт.)"
    assert forms[2] == "2 упаковки (шприцы, 20 шт.)"
    assert forms[22] == "22 упаковки (шприцы, 220 шт.)"
    assert forms[5] == "5 упаковок (шприцы, 50 шт.)"
    assert forms[11] == "11 упаковок (шприцы, 110 шт.)"


def test_dari_plurals_and_placeholders_are_isolated() -> None:
    t = shipped_words().for_locale("fa")
    one = t.plural(*PACKS, 1, units=10, unit="سرنج")
    assert one == f"{FSI}1{PDI} بسته ({FSI}10{PDI} سرنج)"
    assert strip_marks(t.plural(*PACKS, 3, units=30, unit="سرنج")) == "3 بسته (30 سرنج)"


def test_lists_are_joined_as_each_language_writes_them() -> None:
    words = shipped_words()
    days = ["Mon", "Wed", "Fri"]
    assert words.for_locale("en").join(days) == "Mon, Wed, and Fri"
    assert words.for_locale("ru").join(days) == "Mon, Wed и Fri"
    assert strip_marks(words.for_locale("fa_AF").join(days)) == "Mon، Wed، و Fri"
    assert words.for_locale("ru").join(["один"]) == "один"
    assert words.for_locale("ru").join([]) == ""


def test_named_placeholders_fill_in_any_order() -> None:
    text = "Closed now, opens {when}. Hours: {hours}"
    ru = shipped_words().for_locale("ru")(text, hours="Пн–Пт 10:00–18:00", when="Чт 10:00")
    assert ru == "Сейчас закрыто, откроется Чт 10:00. Часы: Пн–Пт 10:00–18:00"


def test_right_to_left_output_keeps_codes_numbers_and_commands_in_order() -> None:
    t = shipped_words().for_locale("fa_AF")
    assert t.rtl
    assert not shipped_words().for_locale("ru").rtl
    sent = t(
        "Request sent. Reference: {ref}\n"
        "A peer near you has been asked. You'll get the pickup place and a code here.\n"
        "/status to check, /cancel to cancel.",
        ref="K7F-29Q",
    )
    first, _, last = sent.split("\n")
    assert f"{FSI}K7F-29Q{PDI}" in first  # the reference reads as one left-to-right run
    # A line that starts with a command gets a right-to-left mark, so it is laid out RTL.
    assert last.startswith(f"{RLM}{FSI}/status{PDI}")
    assert f"{FSI}/cancel{PDI}" in last
    # Emergency numbers and times as well.
    assert f"{FSI}112{PDI}" in t("In an emergency call {number}.", number="112")
    assert f"{FSI}10:00{PDI}" in t("Please come by {time}.", time="10:00")


def test_left_to_right_languages_get_no_marks() -> None:
    for locale in ("en", "ru"):
        text = shipped_words().for_locale(locale)("Reference: {ref}", ref="K7F-29Q")
        assert text == strip_marks(text)


def test_missing_translation_falls_back_to_english(tmp_path: Path) -> None:
    locales = tmp_path / "locales"
    shutil.copytree(LOCALES, locales)
    path = po_path(locales, "ru")
    catalogue = path.read_text(encoding="utf-8")
    path.write_text(
        catalogue.replace('msgstr "Отправить?"', 'msgstr ""'), encoding="utf-8"
    )  # untranslated
    t = Words(locales).for_locale("ru")
    assert t("Send it?") == "Send it?"
    assert t("Send request") == "Отправить заявку"
    assert not t.has("Send it?")
    assert t.has("Send request")
    # A message no catalogue knows, and an English fallback in a right-to-left locale.
    assert t("Not in any catalogue: {x}", x=1) == "Not in any catalogue: 1"
    assert Words(locales).for_locale("fa")("Not in any catalogue: {x}", x=1) == (
        "Not in any catalogue: 1"
    )


def test_fuzzy_translations_are_not_used(tmp_path: Path) -> None:
    locales = tmp_path / "locales"
    shutil.copytree(LOCALES, locales)
    path = po_path(locales, "ru")
    text = path.read_text(encoding="utf-8").replace(
        'msgid "Send it?"', '#, fuzzy\nmsgid "Send it?"'
    )
    path.write_text(text, encoding="utf-8")
    assert Words(locales).for_locale("ru")("Send it?") == "Send it?"


def test_a_broken_catalogue_stops_start_up_with_one_line(tmp_path: Path) -> None:
    locales = tmp_path / "locales"
    shutil.copytree(LOCALES, locales)
    path = po_path(locales, "ru")
    path.write_text(path.read_text(encoding="utf-8") + "\ngarbage line\n", encoding="utf-8")
    with pytest.raises(ContentError, match=r"hrbot\.po"):
        Words(locales)


def test_only_the_listed_locales() -> None:
    words = Words(LOCALES, ("ru",))
    assert set(words.locales) == {"en", "ru"}
    assert words.for_locale("fa").locale == "en"
