from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

from bot.content import Cards, ContentError, load_cards, load_content
from bot.content.cards import DISCREET_WORDS, REQUIRED_CARDS

Write = Callable[[str, str], Path]  # the `write` fixture (conftest.py)


GOOD = """\
cards:
  - code: overdose
    title: "Emergency: what to do"
    text: |
      Call {emergency_number}.
      Stay with them.
  - code: naloxone_nasal
    title: Nasal spray
    text: One spray in one nostril.
  - code: naloxone_injectable
    title: Shot kit
    text: Into the thigh muscle.
"""


def problems(path: Path) -> list[str]:
    with pytest.raises(ContentError) as info:
        load_cards(path)
    return [str(p) for p in info.value.problems]


def test_shipped_cards(content_dir: Path) -> None:
    cards = load_cards(content_dir / "cards.yaml")
    assert set(REQUIRED_CARDS) <= cards.codes
    for card in cards.cards:
        rendered = card.render(emergency_number="911", city="Vancouver")
        assert "{" not in rendered
        assert "}" not in rendered
        assert rendered.splitlines()[0] == card.title
        assert not any(word in card.title.casefold() for word in DISCREET_WORDS)
    assert "Call 911." in cards.get("overdose").render(emergency_number="911", city="V")
    assert load_content(content_dir).cards == cards


def test_lookup(write: Write) -> None:
    cards = load_cards(write("cards.yaml", GOOD))
    assert isinstance(cards, Cards)
    assert [c.code for c in cards.cards] == list(REQUIRED_CARDS)
    assert cards.by_code("nothing") is None
    overdose = cards.get("overdose")
    assert overdose.text == "Call {emergency_number}.\nStay with them."  # trailing newline stripped
    assert overdose.render(emergency_number="112", city="X") == (
        "Emergency: what to do\n\nCall 112.\nStay with them."
    )


def test_unknown_placeholder_and_lone_brace(write: Write) -> None:
    text = GOOD.replace("Call {emergency_number}.", "Call {police}.").replace(
        "Into the thigh muscle.", "Into the {thigh muscle."
    )
    path = write("cards.yaml", text)
    assert problems(path) == [
        f"{path}:4: cards[0].text: unknown placeholder {{police}} "
        "(allowed: {city}, {emergency_number})",
        f"{path}:12: cards[2].text: expected '}}' before end of string "
        "(write a literal brace twice: {{ or }})",
    ]


def test_literal_braces_may_be_doubled(write: Write) -> None:
    path = write("cards.yaml", GOOD.replace("Stay with them.", "Stay {{close}}."))
    card = load_cards(path).get("overdose")
    assert card.render(emergency_number="911", city="V").endswith("Stay {close}.")


def test_titles_must_be_discreet(write: Write) -> None:
    path = write("cards.yaml", GOOD.replace("title: Nasal spray", "title: Nasal naloxone"))
    assert problems(path) == [
        f"{path}:8: cards[1].title: title is shown on lock screens: avoid the word 'naloxone'"
    ]


def test_required_cards_and_duplicates(write: Write) -> None:
    path = write("cards.yaml", GOOD.replace("code: naloxone_injectable", "code: overdose"))
    assert problems(path) == [
        f"{path}:1: cards: missing required cards: naloxone_injectable",
        f"{path}:10: cards[2].code: duplicate code 'overdose' (first on line 2)",
    ]


def test_control_characters_and_length(write: Write) -> None:
    text = GOOD.replace("One spray in one nostril.", '"One spray\\u202e in one nostril."')
    text = text.replace("Into the thigh muscle.", "x" * 1501)
    path = write("cards.yaml", text)
    assert problems(path) == [
        f"{path}:9: cards[1].text: must not contain control characters",
        f"{path}:12: cards[2].text: String should have at most 1500 characters",
    ]


def test_unknown_field(write: Write) -> None:
    path = write(
        "cards.yaml", GOOD.replace("    title: Shot kit\n", "    title: Shot kit\n    x: 1\n")
    )
    assert problems(path) == [
        f"{path}:12: cards[2].x: unknown field (allowed: code, title, text, safety, reviewed)"
    ]


def test_load_content_needs_cards(content_dir: Path, tmp_path: Path, write: Write) -> None:
    for name in ("items.yaml", "areas.yaml", "referrals.yaml"):
        shutil.copy(content_dir / name, tmp_path / name)
    with pytest.raises(ContentError) as info:
        load_content(tmp_path)
    assert [str(p) for p in info.value.problems] == [f"{tmp_path / 'cards.yaml'}: file not found"]
    write("cards.yaml", GOOD)
    assert load_content(tmp_path).cards.codes == set(REQUIRED_CARDS)


def test_review_flags(write: Write) -> None:
    text = GOOD.replace(
        "    title: Nasal spray\n",
        "    title: Nasal spray\n    reviewed: {ru: true, fa_AF: false}\n",
    ).replace("    title: Shot kit\n", "    title: Shot kit\n    safety: false\n")
    cards = load_cards(write("cards.yaml", text))
    nasal, shot, overdose = (
        cards.get(c) for c in ("naloxone_nasal", "naloxone_injectable", "overdose")
    )
    assert not nasal.needs_review("ru")  # cleared by a reviewer
    assert nasal.needs_review("fa_AF")
    assert nasal.needs_review("uk")  # a language nobody has reviewed yet
    assert overdose.needs_review("ru")  # safety content unless it says otherwise
    assert not shot.needs_review("ru")  # not safety content
    assert not overdose.needs_review("en")  # the original


def test_review_flags_name_locales(write: Write) -> None:
    path = write(
        "cards.yaml",
        GOOD.replace(
            "    title: Shot kit\n", "    title: Shot kit\n    reviewed: {Russian: true}\n"
        ),
    )
    assert "cards[2].reviewed" in problems(path)[0]
