"""Masking report text: phones, addresses, names, usernames, e-mails, links, in three languages."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.privacy.masking import MARKERS, Kind, hidden, mask

PHONE, ADDRESS, NAME = MARKERS[Kind.PHONE], MARKERS[Kind.ADDRESS], MARKERS[Kind.NAME]
AREAS = ("Downtown Eastside", "Strathcona", "Main and Hastings", "Oppenheimer")


def test_the_report_from_the_issue() -> None:
    masked = mask("my friend Dave Smith OD'd at 123 Main St apt 4, phone 604-555-0199")
    assert masked.text == f"my friend {NAME} OD'd at {ADDRESS}, phone {PHONE}"
    assert masked.found == {Kind.PHONE: 1, Kind.ADDRESS: 1, Kind.NAME: 1}
    assert masked.changed


# The same numbers the `phonenumbers` library was measured on (see the module docstring).
@pytest.mark.parametrize(
    "number",
    [
        "604-555-0199",
        "(604) 555-0199",
        "604.555.0199",
        "+1 604 555 0199",
        "555-0199",
        "6045550199",
        "8 (912) 345-67-89",
        "+7 912 345 67 89",
        "345-67-89",
        "۰۷۹۹۱۲۳۴۵۶",
        "0799 123 456",
        "+93 79 912 3456",
        "07700 900123",
        "020 7946 0958",
    ],
)
def test_phone_formats(number: str) -> None:
    for text in (f"call {number} now", f"звони {number}, срочно", f"شماره {number} است"):
        masked = mask(text)
        assert number not in masked.text
        assert masked.found == {Kind.PHONE: 1}, text


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("dave.smith@example.org wrote", f"{MARKERS[Kind.EMAIL]} wrote"),
        ("ask @dave_s99 for it", f"ask {MARKERS[Kind.USERNAME]} for it"),
        ("see https://t.me/dave_s99.", f"see {MARKERS[Kind.LINK]}."),
        ("t.me/dave_s99 or www.example.com/x", f"{MARKERS[Kind.LINK]} or {MARKERS[Kind.LINK]}"),
        ("his page dave-smith.ru", f"his page {MARKERS[Kind.LINK]}"),
        ("4 E Hastings Street, unit 12", ADDRESS),
        ("at 1234B 5th Ave #12 last night", f"at {ADDRESS} last night"),
        ("she lives in apt 4", f"she lives in {ADDRESS}"),
        ("a guy named dave sold it", f"a guy named {NAME} sold it"),
        ("Saw Dave Smith yesterday", f"Saw {NAME} yesterday"),
        ("his name is Dave", f"his name is {NAME}"),
        # Russian
        (
            "Мой друг Саша передознулся на ул. Ленина, д. 5, кв. 12",
            f"Мой друг {NAME} передознулся на {ADDRESS}",
        ),
        ("продавал Иван Петров у метро", f"продавал {NAME} у метро"),
        ("парня зовут саша", f"парня зовут {NAME}"),
        ("в доме 3 человека, дом 14", f"в доме 3 человека, {ADDRESS}"),
        (
            "пиши @ivan_p или ivan@mail.ru",
            f"пиши {MARKERS[Kind.USERNAME]} или {MARKERS[Kind.EMAIL]}",
        ),
        # Dari
        ("یک نفر به نام احمد در خانه نمبر ۱۲", f"یک نفر به نام {NAME} در {ADDRESS}"),
        ("اسمش کریم است", f"اسمش {NAME} است"),
        ("در کوچه ۵ فروخته شد", f"در {ADDRESS} فروخته شد"),
        ("لینک https://example.af/x", f"لینک {MARKERS[Kind.LINK]}"),
    ],
)
def test_kinds_in_three_languages(text: str, expected: str) -> None:
    assert mask(text, keep=AREAS).text == expected


@pytest.mark.parametrize(
    "text",
    [
        "Two friends went out fast, naloxone took 3 doses",
        "3 doses at the Drive",
        "bad stuff around Main and Hastings",  # an intersection is an area
        "sold on Main St near Oppenheimer Park",  # a street without a number too
        "Downtown Eastside, Strathcona",
        "The Blue Pills were bad",
        "he called 911, then called an ambulance",
        "My friend went down, we gave him 2 doses",
        "on 25.11.2026 at 19:00 (2026-11-25), 0.5 mg, 1.5mg, 40 mg",
        "Вчера в парке Победы было плохо 5 человекам",
        "داروی آبی رنگ، دو نفر بیهوش شدند",
    ],
)
def test_what_stays(text: str) -> None:
    masked = mask(text, keep=AREAS)
    assert (masked.text, masked.found) == (text, {})
    assert not masked.changed


def test_keep_protects_area_names_from_the_name_rule() -> None:
    assert mask("near Commercial Drive Station").text == "near Commercial Drive Station"
    assert mask("by Grandview Woodland").text == f"by {NAME}"
    assert mask("by Grandview Woodland", keep=["grandview  woodland"]).found == {}


def test_hidden_counts_the_markers_again() -> None:
    masked = mask("Dave Smith 604-555-0199 or 604-555-0100, apt 4, my friend Ann")
    assert masked.found == {Kind.PHONE: 2, Kind.ADDRESS: 1, Kind.NAME: 2}
    assert hidden(masked.text) == masked.found
    assert hidden("nothing here") == {}


@given(st.text(max_size=200))
def test_masking_is_idempotent_and_counted(text: str) -> None:
    once = mask(text)
    twice = mask(once.text)
    assert twice.text == once.text
    assert twice.found == {}
    for kind, n in once.found.items():
        assert hidden(once.text)[kind] >= n
