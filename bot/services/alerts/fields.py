"""Checking what a coordinator writes: the structured fields, translations, severity, lifetime
and areas. A new alert field starts here (:data:`FIELD_LIMITS`)."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping, Sequence
from datetime import timedelta
from typing import Final

from bot.content import Gazetteer
from bot.db.models import (
    EVERYWHERE,
)
from bot.services.alerts.model import AlertError
from bot.services.subscriptions import SubscriptionError, validate_areas

# Structured fields, in the order they are shown, with their longest accepted length.
FIELD_LIMITS: Final[Mapping[str, int]] = {
    # "What's happening": the one free-text message of an urgent warning (what, where, what to do).
    "summary": 600,
    "sold_as": 200,
    "found_to_contain": 200,
    "appearance": 200,
    "symptoms": 500,
    "advice": 1000,
}


# All fields together: with the overdose steps, a long area list, "current until", the
# confidence line and advice for every route of use, the text stays under Telegram's 4096 in
# every shipped language (about 3,600 at most), so it goes as one message (a split one could
# repeat its first part when the second is retried). The nearest sites fill what is left and
# give way first (render.MESSAGE_LIMIT).
MAX_FIELDS_TOTAL: Final = 1500


# Fields that may span lines; the others are one line.
_MULTILINE: Final = frozenset({"summary", "symptoms", "advice"})


SEVERITIES: Final = (1, 2, 3)


# How sure the group is: confirmed by drug checking, seen by peers, or a community report not
# confirmed. No value: the alert says nothing about it.
CONFIDENCES: Final = ("checked", "peers", "community")


# Routes of use an alert may give advice for, in the order they are shown.
ROUTES: Final = ("smoked", "injected", "snorted", "swallowed")


# Languages an alert may be written in besides its first (each adds up to MAX_FIELDS_TOTAL).
MAX_LANGUAGES: Final = 12


_LOCALE: Final = re.compile(r"[a-z]{2,3}(?:_[A-Z]{2})?")


DEFAULT_LIFETIME: Final = timedelta(hours=72)


# How long an alert may stay current, as coordinators are offered it (hours).
LIFETIME_CHOICES: Final = (6, 24, 72, 168)


MIN_LIFETIME: Final = timedelta(hours=1)


MAX_LIFETIME: Final = timedelta(days=30)


def check_text(name: str, value: str, limit: int, *, multiline: bool = False) -> str:
    """``value`` trimmed and NFC-normalised; AlertError if it holds control or format
    characters (a newline is fine when ``multiline``) or is longer than ``limit``."""
    text = unicodedata.normalize("NFC", value).strip()
    for ch in text:
        if ch == "\n" and multiline:
            continue
        # Control and format characters (bidi overrides, zero-width) can hide or reorder text.
        if unicodedata.category(ch) in ("Cc", "Cf", "Cs", "Co"):
            raise AlertError(f"{name}: no control characters, please", code="field", field=name)
    if multiline:
        text = re.sub(r"\n{3,}", "\n\n", "\n".join(line.strip() for line in text.split("\n")))
    if len(text) > limit:
        raise AlertError(f"{name}: at most {limit} characters", code="field", field=name)
    return text


def check_field(name: str, value: str) -> str:
    """One structured field checked as :func:`validate_fields` checks it (may come back empty)."""
    if name not in FIELD_LIMITS:
        raise AlertError(f"unknown field {name[:32]!r}")
    return check_text(name, value, FIELD_LIMITS[name], multiline=name in _MULTILINE)


def validate_fields(fields: Mapping[str, str | None]) -> dict[str, str]:
    """Known fields only, trimmed, within their lengths, no control characters; empty ones
    dropped. At least one must remain."""
    clean: dict[str, str] = {}
    for name, value in fields.items():
        if name not in FIELD_LIMITS:
            raise AlertError(f"unknown field {name[:32]!r}")
        if value is None:
            continue
        if not isinstance(value, str):
            raise AlertError(f"{name}: text expected")
        text = check_text(name, value, FIELD_LIMITS[name], multiline=name in _MULTILINE)
        if text:
            clean[name] = text
    if not clean:
        raise AlertError("an alert needs at least one field filled in", code="empty")
    if sum(len(text) for text in clean.values()) > MAX_FIELDS_TOTAL:
        raise AlertError(
            f"at most {MAX_FIELDS_TOTAL} characters in all fields together", code="total"
        )
    return {name: clean[name] for name in FIELD_LIMITS if name in clean}


def check_locale(locale: object) -> str:
    """A locale code as catalogues name them (``ru``, ``fa_AF``); AlertError otherwise."""
    if not isinstance(locale, str) or _LOCALE.fullmatch(locale) is None:
        raise AlertError("a language is a code like ru or fa_AF", code="language")
    return locale


def validate_translation(
    base: Mapping[str, str], texts: Mapping[str, str | None]
) -> dict[str, str]:
    """One language's texts checked exactly as :func:`validate_fields` checks the base, for
    fields the base has filled only; empty ones dropped (they fall back to the base text).
    The text a recipient then reads (these plus base fallbacks) must fit the same total."""
    clean: dict[str, str] = {}
    for name, value in texts.items():
        if value is None:
            continue
        if not isinstance(value, str):
            raise AlertError(f"{str(name)[:32]}: text expected")
        text = check_field(name, value)
        if text and name not in base:
            raise AlertError(f"{name}: the alert has no such text to write again")
        if text:
            clean[name] = text
    if sum(len(clean.get(name, text)) for name, text in base.items()) > MAX_FIELDS_TOTAL:
        raise AlertError(f"at most {MAX_FIELDS_TOTAL} characters in all fields together")
    return {name: clean[name] for name in FIELD_LIMITS if name in clean}


def validate_translations(
    base: Mapping[str, str],
    translations: Mapping[str, Mapping[str, str | None]],
    *,
    base_locale: str | None,
) -> dict[str, dict[str, str]]:
    """Every language's texts (:func:`validate_translation`); languages left empty dropped.
    No language may be the base one itself, and there are at most :data:`MAX_LANGUAGES`."""
    clean: dict[str, dict[str, str]] = {}
    for locale, texts in translations.items():
        if check_locale(locale) == base_locale:
            raise AlertError("the alert is already written in that language", code="language")
        if not isinstance(texts, Mapping):
            raise AlertError("texts per field expected")
        written = validate_translation(base, texts)
        if written:
            clean[locale] = written
    if len(clean) > MAX_LANGUAGES:
        raise AlertError(f"at most {MAX_LANGUAGES} languages besides the first")
    return clean


def check_confidence(confidence: str | None) -> str | None:
    """One of :data:`CONFIDENCES`, or None (no line); AlertError otherwise."""
    if confidence is None:
        return None
    if confidence not in CONFIDENCES:
        raise AlertError(
            "confidence is checked, peers or community", code="confidence", field="confidence"
        )
    return confidence


def check_routes(routes: Sequence[str]) -> tuple[str, ...]:
    """Routes of use among :data:`ROUTES`, each once, in their fixed order; AlertError for
    any other word."""
    if isinstance(routes, str):  # a lone string is not a list of routes
        raise AlertError("routes are a list", code="routes", field="routes")
    chosen = set(routes)
    if not chosen <= set(ROUTES):
        raise AlertError(
            "routes are smoked, injected, snorted or swallowed", code="routes", field="routes"
        )
    return tuple(route for route in ROUTES if route in chosen)


def _check_severity(severity: int) -> int:
    if severity not in SEVERITIES:
        raise AlertError("severity is 1 (advisory), 2 (warning) or 3 (danger)", code="severity")
    return severity


def _check_lifetime(lifetime: timedelta) -> int:
    if not MIN_LIFETIME <= lifetime <= MAX_LIFETIME:
        raise AlertError("an alert stays current between 1 hour and 30 days", code="lifetime")
    return int(lifetime.total_seconds())


def _check_areas(areas: Sequence[str], gazetteer: Gazetteer) -> list[str]:
    if not any(code.strip() for code in areas):
        raise AlertError("choose at least one area", code="no_area")
    try:
        codes = validate_areas(areas, gazetteer)
    except SubscriptionError as exc:
        raise AlertError(str(exc), code="area") from None
    return [EVERYWHERE] if EVERYWHERE in codes else codes
