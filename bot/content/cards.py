"""Info cards: short harm-reduction texts (overdose response, naloxone use, safer use...).

A card's ``title`` is its menu label and the first line people see, so it must be discreet on a
lock screen: no drug words. Texts may use the placeholders in :data:`PLACEHOLDERS` (filled in
when shown) and nothing else; a literal brace is written twice (``{{``).

Cards are written in English and translated in the language catalogues like every other message
(the English title and text are the message ids). A card is safety content unless it says
``safety: false``: its translation into a language counts as unchecked until a native speaker
has reviewed it and ``reviewed: {<locale>: true}`` says so; until then people are told.
"""

from __future__ import annotations

import string
import unicodedata
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any

from pydantic import AfterValidator, Field, PrivateAttr, StringConstraints, model_validator

from bot.content.errors import Problem
from bot.content.fields import Code, ShortName, Spec
from bot.content.source import Document, read_yaml, validate

__all__ = [
    "DISCREET_WORDS",
    "PLACEHOLDERS",
    "REQUIRED_CARDS",
    "Card",
    "Cards",
    "load_cards",
]

PLACEHOLDERS = frozenset({"emergency_number", "city"})
"""What a card text may name in braces: ``{emergency_number}``, ``{city}``."""

REQUIRED_CARDS = ("overdose", "naloxone_nasal", "naloxone_injectable")
"""Cards the conversations open directly (/emergency, the naloxone how-to)."""

DISCREET_WORDS = (
    "overdose",
    "naloxone",
    "narcan",
    "drug",
    "opioid",
    "heroin",
    "fentanyl",
    "nitazene",
    "xylazine",
    "cocaine",
    "crack",
    "meth",
    "inject",
    "needle",
    "syringe",
)
"""Words a title (a lock-screen first line) must not contain."""

SOURCE_LANGUAGE = "en"
"""Cards are written in English; other languages translate them."""

_MAX_TEXT = 1500


def _plain_lines(value: str) -> str:
    # Newlines shape a card; any other control or format character could hide text.
    for ch in value:
        if ch != "\n" and unicodedata.category(ch) in ("Cc", "Cf", "Cs"):
            raise ValueError("must not contain control characters")
    return value


def _known_placeholders(value: str) -> str:
    try:
        fields = [name for _, name, _, _ in string.Formatter().parse(value) if name is not None]
    except ValueError as exc:  # a lone brace
        raise ValueError(f"{exc} (write a literal brace twice: {{{{ or }}}})") from None
    unknown = sorted({name for name in fields if name not in PLACEHOLDERS})
    if unknown:
        allowed = ", ".join("{" + name + "}" for name in sorted(PLACEHOLDERS))
        raise ValueError(f"unknown placeholder {{{unknown[0]}}} (allowed: {allowed})")
    return value


def _discreet(value: str) -> str:
    lowered = value.casefold()
    found = [word for word in DISCREET_WORDS if word in lowered]
    if found:
        raise ValueError(f"title is shown on lock screens: avoid the word {found[0]!r}")
    return value


CardText = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=_MAX_TEXT),
    AfterValidator(_plain_lines),
    AfterValidator(_known_placeholders),
]
Title = Annotated[ShortName, AfterValidator(_discreet)]


LocaleCode = Annotated[str, StringConstraints(pattern=r"^[a-z]{2,3}(_[A-Za-z0-9]{2,8})?$")]


class Card(Spec):
    """One info card: a discreet title and a short text."""

    code: Code
    title: Title
    text: CardText
    safety: bool = True
    reviewed: Mapping[LocaleCode, bool] = Field(default_factory=dict)

    def needs_review(self, locale: str) -> bool:
        """Whether a translation into ``locale`` still waits for a native speaker's review."""
        if locale.split("_")[0] == SOURCE_LANGUAGE:
            return False  # the original, which the programme's own reviewers wrote
        return self.safety and not self.reviewed.get(locale, False)

    def render(self, **values: str) -> str:
        """The title and the text with placeholders filled in."""
        return f"{self.title}\n\n{self.text.format(**values)}"


class Cards(Spec):
    """Every card, in file order, with lookup by code."""

    cards: tuple[Card, ...] = Field(min_length=1)
    _by_code: dict[str, Card] = PrivateAttr(default_factory=dict)

    @model_validator(mode="after")
    def _complete(self) -> Cards:
        codes = [card.code for card in self.cards]
        repeated = sorted({code for code in codes if codes.count(code) > 1})
        if repeated:
            raise ValueError(f"duplicate card codes: {', '.join(repeated)}")
        missing = [code for code in REQUIRED_CARDS if code not in codes]
        if missing:
            raise ValueError(f"missing required cards: {', '.join(missing)}")
        return self

    def model_post_init(self, context: Any, /) -> None:
        self._by_code = {card.code: card for card in self.cards}

    @property
    def codes(self) -> frozenset[str]:
        """Every card code."""
        return frozenset(self._by_code)

    def by_code(self, code: str) -> Card | None:
        """The card with this code, or None (codes arrive from untrusted button data)."""
        return self._by_code.get(code)

    def get(self, code: str) -> Card:
        """A card the loader guarantees (one of :data:`REQUIRED_CARDS`)."""
        return self._by_code[code]


def _missing_required(document: Document) -> list[Problem]:
    """Name the missing required cards at the ``cards`` key (validation says it only once)."""
    cards = document.data.get("cards")
    if not isinstance(cards, list):
        return []
    codes = {card.get("code") for card in cards if isinstance(card, dict)}
    missing = [code for code in REQUIRED_CARDS if code not in codes]
    if not missing:
        return []
    return [document.problem(("cards",), f"missing required cards: {', '.join(missing)}")]


def load_cards(path: Path) -> Cards:
    """Load and validate ``cards.yaml`` (top-level key ``cards``)."""
    document = read_yaml(path)
    problems = document.duplicates("cards", "code") + _missing_required(document)
    return validate(document, Cards, problems=problems)
