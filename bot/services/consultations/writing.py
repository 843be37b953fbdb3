"""Writing a consultation: one plain dict, checked whole, from the CLI's YAML or the console.

The dict (see ``content/consultation.example.yaml``)::

    title: {en: ..., ru: ..., fa_AF: ...}
    intro: {en: ..., ru: ..., fa_AF: ...}
    areas: everyone            # or a list of area codes
    closes: 2026-12-31         # a date (open to the end of that day in the city), or a time
    questions:
      - kind: one | many       # with 2–8 options, each in every language
        text: {...}
        options: [{...}, {...}]
      - kind: scale            # 1–5; low/high end labels optional
        text: {...}
        low: {...}
        high: {...}
      - kind: text             # a short free text (≤ 300 characters), optional like all
        text: {...}

Any problem raises :class:`ConsultationError` naming the first one; nothing is saved.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from typing import Any

import yaml
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.db.models import Consultation, ConsultationStatus
from bot.services.consultations.model import (
    MAX_DAYS,
    MAX_OPEN,
    MAX_OPTIONS,
    MAX_QUESTIONS,
    MIN_OPTIONS,
    ConsultationError,
    ConsultationView,
    Kind,
    Question,
    Texts,
    view,
)

__all__ = [
    "LIMITS",
    "Draft",
    "create",
    "delete_draft",
    "load_yaml",
    "to_data",
    "update_draft",
    "validate",
]

LIMITS: Mapping[str, int] = {
    "title": 80,
    "intro": 500,
    "text": 300,  # a question
    "option": 60,
    "label": 40,  # a scale's end label
}
_KEYS = frozenset({"title", "intro", "areas", "closes", "questions"})
_QUESTION_KEYS = frozenset({"kind", "text", "options", "low", "high"})
EVERYONE = "everyone"
# Zero-width non-joiner and joiner: Dari and Persian spell words with them (می‌گیرید).
_JOINERS = frozenset("\u200c\u200d")


@dataclass(frozen=True, slots=True)
class Draft:
    """A checked consultation, not yet stored."""

    title: Texts
    intro: Texts
    questions: tuple[Question, ...]
    areas: tuple[str, ...]  # empty: everyone
    closes_at: datetime

    def content(self) -> dict[str, Any]:
        return {
            "title": dict(self.title),
            "intro": dict(self.intro),
            "questions": [q.to_data() for q in self.questions],
        }


def load_yaml(text: str) -> dict[str, Any]:
    """The dict in a YAML document; ConsultationError when it is not one."""
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" (line {mark.line + 1})" if mark is not None else ""
        raise ConsultationError(f"not valid YAML{where}", code="yaml") from None
    if not isinstance(data, dict):
        raise ConsultationError("expected a mapping with title, intro, questions…", code="shape")
    return data


def validate(
    data: Mapping[str, Any],
    *,
    languages: Collection[str],
    area_codes: Collection[str],
    now: datetime,
    zone: tzinfo = UTC,
) -> Draft:
    """Check ``data`` whole (see the module docstring) against the configured ``languages``
    and areas; ``closes`` must lie after ``now`` and at most 90 days ahead."""
    if not isinstance(data, Mapping):
        raise ConsultationError("expected a mapping", code="shape")
    unknown = sorted(str(k) for k in data if k not in _KEYS)
    if unknown:
        raise ConsultationError(f"unknown key {unknown[0][:32]!r}", code="unknown_key")
    langs = tuple(languages)
    title = _texts(data.get("title"), langs, "title", LIMITS["title"])
    intro = _texts(data.get("intro"), langs, "intro", LIMITS["intro"], multiline=True)
    questions = _questions(data.get("questions"), langs)
    areas = _areas(data.get("areas", EVERYONE), area_codes)
    closes_at = _closes(data.get("closes"), now=now, zone=zone)
    return Draft(title=title, intro=intro, questions=questions, areas=areas, closes_at=closes_at)


def _texts(
    value: Any, languages: tuple[str, ...], where: str, limit: int, *, multiline: bool = False
) -> dict[str, str]:
    if not isinstance(value, Mapping):
        raise ConsultationError(
            f"give the text in every language ({', '.join(languages)})",
            code="languages",
            where=where,
        )
    extra = sorted(str(k) for k in value if k not in languages)
    if extra:
        raise ConsultationError(
            f"unknown language {extra[0][:16]!r}", code="languages", where=where
        )
    texts: dict[str, str] = {}
    for locale in languages:
        raw = value.get(locale)
        if not isinstance(raw, str) or not raw.strip():
            raise ConsultationError("missing or empty", code="missing", where=f"{where}.{locale}")
        texts[locale] = _text(raw, f"{where}.{locale}", limit, multiline=multiline)
    return texts


def _text(raw: str, where: str, limit: int, *, multiline: bool) -> str:
    text = unicodedata.normalize("NFC", raw).strip()
    for ch in text:
        if (ch == "\n" and multiline) or ch in _JOINERS:
            continue
        # Control and format characters (bidi overrides, zero-width) can hide or reorder text.
        if unicodedata.category(ch) in ("Cc", "Cf", "Cs", "Co", "Cn"):
            raise ConsultationError("no control characters, please", code="control", where=where)
    if multiline:
        text = "\n".join(line.strip() for line in text.split("\n"))
        while "\n\n\n" in text:
            text = text.replace("\n\n\n", "\n\n")
    if len(text) > limit:
        raise ConsultationError(f"at most {limit} characters", code="length", where=where)
    return text


def _questions(value: Any, languages: tuple[str, ...]) -> tuple[Question, ...]:
    if not isinstance(value, list) or not value:
        raise ConsultationError("give at least one question", code="questions", where="questions")
    if len(value) > MAX_QUESTIONS:
        raise ConsultationError(
            f"at most {MAX_QUESTIONS} questions", code="questions", where="questions"
        )
    return tuple(_question(q, languages, f"questions[{i + 1}]") for i, q in enumerate(value))


def _question(value: Any, languages: tuple[str, ...], where: str) -> Question:
    if not isinstance(value, Mapping):
        raise ConsultationError("expected a mapping", code="shape", where=where)
    unknown = sorted(str(k) for k in value if k not in _QUESTION_KEYS)
    if unknown:
        raise ConsultationError(f"unknown key {unknown[0][:32]!r}", code="unknown_key", where=where)
    try:
        kind = Kind(str(value.get("kind")))
    except ValueError:
        raise ConsultationError(
            "kind must be one, many, scale or text", code="kind", where=f"{where}.kind"
        ) from None
    text = _texts(value.get("text"), languages, f"{where}.text", LIMITS["text"], multiline=True)
    options: tuple[Texts, ...] = ()
    low = high = None
    if kind in (Kind.ONE, Kind.MANY):
        raw = value.get("options")
        if not isinstance(raw, list) or not MIN_OPTIONS <= len(raw) <= MAX_OPTIONS:
            raise ConsultationError(
                f"give {MIN_OPTIONS} to {MAX_OPTIONS} options",
                code="options",
                where=f"{where}.options",
            )
        options = tuple(
            _texts(o, languages, f"{where}.options[{j + 1}]", LIMITS["option"])
            for j, o in enumerate(raw)
        )
        for locale in languages:
            labels = [o[locale].casefold() for o in options]
            if len(set(labels)) != len(labels):
                raise ConsultationError(
                    "two options read the same", code="options", where=f"{where}.options.{locale}"
                )
    elif "options" in value:
        raise ConsultationError(
            "options are for one or many", code="options", where=f"{where}.options"
        )
    if kind is Kind.SCALE:
        if value.get("low") is not None:
            low = _texts(value["low"], languages, f"{where}.low", LIMITS["label"])
        if value.get("high") is not None:
            high = _texts(value["high"], languages, f"{where}.high", LIMITS["label"])
    elif value.get("low") is not None or value.get("high") is not None:
        raise ConsultationError("end labels are for a scale", code="labels", where=where)
    return Question(kind=kind, text=text, options=options, low=low, high=high)


def _areas(value: Any, area_codes: Collection[str]) -> tuple[str, ...]:
    if value is None or value == EVERYONE or value == [EVERYONE]:
        return ()
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not value:
        raise ConsultationError(
            "areas: 'everyone' or a list of area codes", code="areas", where="areas"
        )
    codes: list[str] = []
    for item in value:
        code = str(item).strip()
        if code not in area_codes:
            raise ConsultationError(f"unknown area {code[:32]!r}", code="areas", where="areas")
        if code not in codes:
            codes.append(code)
    return tuple(codes)


def _closes(value: Any, *, now: datetime, zone: tzinfo) -> datetime:
    when: datetime
    if isinstance(value, datetime):
        when = value if value.tzinfo is not None else value.replace(tzinfo=zone)
    elif isinstance(value, date):
        when = _end_of(value, zone)
    elif isinstance(value, str):
        text = value.strip()
        try:
            if len(text) == 10:
                when = _end_of(date.fromisoformat(text), zone)
            else:
                parsed = datetime.fromisoformat(text)
                when = parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=zone)
        except ValueError:
            raise ConsultationError(
                "a date (2026-12-31) or a time (2026-12-31T18:00)", code="closes", where="closes"
            ) from None
    else:
        raise ConsultationError(
            "when it closes: a date (2026-12-31)", code="closes", where="closes"
        )
    when = when.astimezone(UTC)
    if when <= now:
        raise ConsultationError("must be in the future", code="closes", where="closes")
    if when - now > MAX_OPEN:
        raise ConsultationError(f"at most {MAX_DAYS} days from now", code="closes", where="closes")
    return when


def _end_of(day: date, zone: tzinfo) -> datetime:
    """Open until the end of ``day`` in the city: closes at the next midnight there."""
    return datetime.combine(day + timedelta(days=1), time(0, 0), tzinfo=zone)


def to_data(consultation: ConsultationView, *, zone: tzinfo = UTC) -> dict[str, Any]:
    """The plain dict of a stored consultation (what :func:`validate` reads), for editing."""
    data = consultation.content()
    data["areas"] = list(consultation.areas) if consultation.areas else EVERYONE
    data["closes"] = (
        consultation.closes_at.astimezone(zone).replace(tzinfo=None).isoformat(timespec="minutes")
    )
    return data


async def create(
    session: AsyncSession,
    *,
    data: Mapping[str, Any],
    languages: Collection[str],
    area_codes: Collection[str],
    now: datetime,
    zone: tzinfo = UTC,
) -> ConsultationView:
    """Check ``data`` and store it as a draft (not open, nobody invited yet)."""
    draft = validate(data, languages=languages, area_codes=area_codes, now=now, zone=zone)
    row = Consultation(
        status=ConsultationStatus.DRAFT,
        content=draft.content(),
        areas=list(draft.areas),
        created_at=now,
        closes_at=draft.closes_at,
        invitations_queued=False,
        invited=0,
        participants=0,
        summary_sent=0,
    )
    session.add(row)
    await session.flush()
    return view(row)


async def update_draft(
    session: AsyncSession,
    *,
    consultation_id: int,
    data: Mapping[str, Any],
    languages: Collection[str],
    area_codes: Collection[str],
    now: datetime,
    zone: tzinfo = UTC,
) -> ConsultationView:
    """Replace a draft's words, audience and closing time; only while it is a draft."""
    draft = validate(data, languages=languages, area_codes=area_codes, now=now, zone=zone)
    row = await _draft_row(session, consultation_id)
    row.content = draft.content()
    row.areas = list(draft.areas)
    row.closes_at = draft.closes_at
    await session.flush()
    return view(row)


async def delete_draft(session: AsyncSession, *, consultation_id: int) -> None:
    """Delete a consultation that was never opened."""
    await session.delete(await _draft_row(session, consultation_id))
    await session.flush()


async def _draft_row(session: AsyncSession, consultation_id: int) -> Consultation:
    row = await session.scalar(
        select(Consultation).where(Consultation.id == consultation_id).with_for_update()
    )
    if row is None:
        raise ConsultationError("no such consultation", code="not_found")
    if row.status is not ConsultationStatus.DRAFT:
        raise ConsultationError("only a draft can be changed", code="not_draft")
    return row
