"""Extraction: Babel reads the code (keywords below) and, through the extractors here, the
content files whose text people read (info cards, item names and units, kit names, referral
notes).

Content strings are message ids like any other, so one catalogue per language carries all of a
language's words, translators work in one tool, and a changed English card turns its
translation *fuzzy* (the check then fails until a translator looks again). Area, outlet and
service names are proper nouns and stay as written.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import IO, Any

import yaml
from babel.messages.catalog import Catalog
from babel.messages.extract import extract_from_dir
from babel.messages.frontend import parse_mapping_cfg

from bot.i18n import MAPPING_FILE

KEYWORDS: Mapping[str, Any] = {
    "tr": None,  # ctx.tr("...")
    "t": None,  # t("...") in render functions
    "N_": None,  # a constant translated later
    "plural": (1, 2),  # t.plural("{n} pack", "{n} packs", n)
    "pgettext": ((1, "c"), 2),  # t.pgettext("context", "...")
    "MenuCommand": (2,),  # MenuCommand("name", "description")
}
COMMENT_TAGS = ("TRANSLATORS:",)
# The card fields' placeholders, named for translators.
_CARD_NOTE = "Keep {emergency_number} and {city} as they are."
_SAFETY_NOTE = (
    "SAFETY: needs review by a native speaker. Until a reviewer sets "
    "`reviewed: {<locale>: true}` for this card in content/cards.yaml, the bot shows "
    "people a notice that the translation is not yet checked."
)

# (line, keyword or None, message, comments), what Babel expects from an extractor.
Extracted = tuple[int, str | None, str, list[str]]


def extract_catalogue(root: Path) -> Catalog:
    """Every message in the code and content under ``root``, as a template catalogue."""
    config = root / MAPPING_FILE
    with config.open(encoding="utf-8") as handle:
        mapping = parse_mapping_cfg(handle, str(config))  # type: ignore[no-untyped-call]
    method_map: list[tuple[str, str]] = mapping[0]
    options_map: dict[str, dict[str, Any]] = mapping[1]
    catalogue = Catalog(project="hrbot", charset="utf-8", fuzzy=False)
    for filename, lineno, message, comments, context in extract_from_dir(
        root,
        method_map,
        options_map,
        keywords=KEYWORDS,
        comment_tags=COMMENT_TAGS,
        strip_comment_tags=True,
    ):
        catalogue.add(
            message,
            None,
            [(Path(filename).as_posix(), lineno)],
            auto_comments=comments,
            context=context,
        )
    return catalogue


def _records(fileobj: IO[bytes], key: str) -> list[dict[str, Any]]:
    data = yaml.safe_load(fileobj)
    records = data.get(key) if isinstance(data, dict) else None
    if not isinstance(records, list):
        return []
    return [record for record in records if isinstance(record, dict)]


def _text(record: Mapping[str, Any], field: str) -> str | None:
    # The loaders strip surrounding whitespace: the message id must be what they produce.
    value = record.get(field)
    return value.strip() or None if isinstance(value, str) else None


def extract_cards(
    fileobj: IO[bytes], keywords: Sequence[str], comment_tags: Sequence[str], options: object
) -> Iterator[Extracted]:
    """Info cards (``content/cards.yaml``): each title and text."""
    for number, card in enumerate(_records(fileobj, "cards"), start=1):
        code = card.get("code", "?")
        title, text = _text(card, "title"), _text(card, "text")
        if title:
            note = f"Info card “{code}”: title. A button, and the first line on lock screens: "
            yield number, None, title, [note + "no drug words."]
        if text:
            comments = [f"Info card “{code}”: text. {_CARD_NOTE}"]
            if card.get("safety", True) is not False:
                comments.append(_SAFETY_NOTE)
            yield number, None, text, comments


def extract_items(
    fileobj: IO[bytes], keywords: Sequence[str], comment_tags: Sequence[str], options: object
) -> Iterator[Extracted]:
    """The item catalogue (``content/items.yaml``): names and units."""
    for number, item in enumerate(_records(fileobj, "items"), start=1):
        code = item.get("code", "?")
        name, unit = _text(item, "name"), _text(item, "unit")
        if name:
            yield number, None, name, [f"Item “{code}”: name (a button, at most 40 characters)."]
        if unit:
            note = (
                f"Item “{code}”: unit, after a number of units, as in “{{n}} pack ({{units}} "
                "{unit})” and “one pack is {size} {unit}”; pick a form that fits any count."
            )
            yield number, None, unit, [note]


def extract_kits(
    fileobj: IO[bytes], keywords: Sequence[str], comment_tags: Sequence[str], options: object
) -> Iterator[Extracted]:
    """Common kits (``content/kits.yaml``): names."""
    for number, kit in enumerate(_records(fileobj, "kits"), start=1):
        name = _text(kit, "name")
        if name:
            code = kit.get("code", "?")
            note = f"Kit “{code}”: name (a button, at most 40 characters): what is in the kit."
            yield number, None, name, [note]


def extract_referrals(
    fileobj: IO[bytes], keywords: Sequence[str], comment_tags: Sequence[str], options: object
) -> Iterator[Extracted]:
    """The referral directory (``content/referrals.yaml``): notes (names stay as written)."""
    for number, service in enumerate(_records(fileobj, "services"), start=1):
        notes = _text(service, "notes")
        if notes:
            code = service.get("code", "?")
            yield number, None, notes, [f"Referral service “{code}”: a note under its address."]
