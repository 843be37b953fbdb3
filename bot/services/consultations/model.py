"""What a consultation is, as the rest of the bot sees it: frozen views and the one error.

A consultation is a title, an intro and up to :data:`MAX_QUESTIONS` questions, every text in
every configured language (no fallback: an invitation is never in the wrong language), an
audience (everyone subscribed to any area, or the subscribers of some areas) and a closing
time. Kinds of question: ``one`` (one choice), ``many`` (several choices), ``scale`` (1–5 with
optional end labels) and ``text`` (a short free text). Every question may be skipped.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from bot.db.models import Consultation, ConsultationStatus

__all__ = [
    "MAX_DAYS",
    "MAX_OPTIONS",
    "MAX_QUESTIONS",
    "MIN_OPTIONS",
    "SCALE",
    "TEXT_ANSWER_CHARS",
    "ConsultationError",
    "ConsultationStatus",
    "ConsultationView",
    "Kind",
    "Question",
    "Texts",
    "view",
]

MAX_QUESTIONS = 10
MIN_OPTIONS = 2
MAX_OPTIONS = 8
SCALE = (1, 2, 3, 4, 5)
TEXT_ANSWER_CHARS = 300
MAX_DAYS = 90
MAX_OPEN = timedelta(days=MAX_DAYS)

# One text in every language: locale → words.
Texts = Mapping[str, str]


class Kind(StrEnum):
    ONE = "one"  # one choice
    MANY = "many"  # several choices
    SCALE = "scale"  # 1 to 5
    TEXT = "text"  # a short free text


class ConsultationError(ValueError):
    """Something a consultation cannot be or do. ``code`` is stable (for the console and
    tests); ``where`` names the field (``questions[2].options[1].ru``) when there is one; the
    message is a short English sentence for the CLI and the console."""

    def __init__(self, message: str, *, code: str, where: str = "") -> None:
        super().__init__(f"{where}: {message}" if where else message)
        self.code = code
        self.where = where


@dataclass(frozen=True, slots=True)
class Question:
    """One question. ``options`` for one/many; ``low``/``high`` end labels for a scale."""

    kind: Kind
    text: Texts
    options: tuple[Texts, ...] = ()
    low: Texts | None = None
    high: Texts | None = None

    def to_data(self) -> dict[str, Any]:
        data: dict[str, Any] = {"kind": self.kind.value, "text": dict(self.text)}
        if self.options:
            data["options"] = [dict(o) for o in self.options]
        if self.low is not None:
            data["low"] = dict(self.low)
        if self.high is not None:
            data["high"] = dict(self.high)
        return data

    @classmethod
    def from_data(cls, data: Mapping[str, Any]) -> Question:
        return cls(
            kind=Kind(data["kind"]),
            text=dict(data["text"]),
            options=tuple(dict(o) for o in data.get("options", ())),
            low=dict(data["low"]) if data.get("low") else None,
            high=dict(data["high"]) if data.get("high") else None,
        )


@dataclass(frozen=True, slots=True)
class ConsultationView:
    """A consultation as coordinators, the console and the conversations see it.

    ``areas`` is empty for everyone. ``participants`` counts finished answers (exact: shown
    to coordinators through :mod:`bot.services.suppression` only). ``summary`` maps a locale
    to the "what you told us" text once drafted.
    """

    id: int
    status: ConsultationStatus
    title: Texts
    intro: Texts
    questions: tuple[Question, ...]
    areas: tuple[str, ...]
    closes_at: datetime
    created_at: datetime
    opened_at: datetime | None
    closed_at: datetime | None
    invited: int
    participants: int
    summary: Texts | None
    summary_sent: int

    @property
    def everyone(self) -> bool:
        return not self.areas

    def is_open(self, now: datetime) -> bool:
        """Taking answers at ``now``."""
        return self.status is ConsultationStatus.OPEN and now < self.closes_at

    def content(self) -> dict[str, Any]:
        """The words, as stored (and as :func:`writing.validate` reads them back)."""
        return {
            "title": dict(self.title),
            "intro": dict(self.intro),
            "questions": [q.to_data() for q in self.questions],
        }


def pick(texts: Texts, locale: str | None, default: str = "en") -> str:
    """``texts`` in ``locale`` (every language is required, so this is only a guard)."""
    if locale is not None and locale in texts:
        return texts[locale]
    if default in texts:
        return texts[default]
    return next(iter(texts.values()), "")


def view(row: Consultation) -> ConsultationView:
    """The frozen view of a row."""
    content = row.content
    return ConsultationView(
        id=row.id,
        status=row.status,
        title=dict(content["title"]),
        intro=dict(content["intro"]),
        questions=tuple(Question.from_data(q) for q in content["questions"]),
        areas=tuple(row.areas or ()),
        closes_at=row.closes_at,
        created_at=row.created_at,
        opened_at=row.opened_at,
        closed_at=row.closed_at,
        invited=row.invited,
        participants=row.participants,
        summary=dict(row.summary) if row.summary is not None else None,
        summary_sent=row.summary_sent,
    )
