"""Answering: who may, and adding one person's finished answers to the counters.

Answers in progress live in the person's conversation state only. :func:`submit` writes, in
one transaction, the participant row (consultation, contact: one answer per person, enforced
by its primary key) and *separately* adds each answer to ``consultation_counts`` and each free
text, masked, to ``consultation_texts`` under a random id. Counters and texts carry no contact,
no time and no id shared with the participant row, so nothing stored joins a person to what
they answered. (Residual: a table's physical row order follows insertion order; see
docs/consultations.md.)
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Table, exists, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from bot.content import Gazetteer
from bot.core.text import clean
from bot.db.models import (
    EVERYWHERE,
    Consultation,
    ConsultationCount,
    ConsultationParticipant,
    ConsultationStatus,
    ConsultationText,
    Subscription,
)
from bot.services.consultations.model import (
    SCALE,
    TEXT_ANSWER_CHARS,
    ConsultationError,
    ConsultationView,
    Kind,
    Question,
    view,
)
from bot.services.reports import mask_text

__all__ = [
    "ANSWERED",
    "DONE",
    "NO_AREA",
    "SKIP",
    "STOPPED",
    "answered",
    "area_choices",
    "clean_text",
    "get_open",
    "may_answer",
    "open_for",
    "submit",
]

# Values of question 0 (participants) and the per-question bookkeeping values.
DONE = "done"
STOPPED = "stopped"
ANSWERED = "*"
SKIP = "skip"
NO_AREA = ""  # the person did not say where


async def open_for(
    session: AsyncSession, *, contact_id: int, now: datetime
) -> list[ConsultationView]:
    """Open consultations the contact may answer now (in the audience, not yet answered)."""
    rows = await session.scalars(
        select(Consultation)
        .where(
            Consultation.status == ConsultationStatus.OPEN,
            Consultation.closes_at > now,
            ~exists().where(
                ConsultationParticipant.consultation_id == Consultation.id,
                ConsultationParticipant.contact_id == contact_id,
            ),
        )
        .order_by(Consultation.closes_at, Consultation.id)
    )
    areas = set(
        await session.scalars(
            select(Subscription.area_code).where(Subscription.contact_id == contact_id)
        )
    )
    return [view(row) for row in rows if _in_audience(row.areas, areas)]


def _in_audience(consultation_areas: list[str] | None, subscribed: set[str]) -> bool:
    if not subscribed:
        return False  # everyone = everybody who opted in to messages for some area
    if not consultation_areas or EVERYWHERE in subscribed:
        return True
    return bool(subscribed.intersection(consultation_areas))


async def get_open(
    session: AsyncSession, *, consultation_id: int, now: datetime
) -> ConsultationView:
    """The consultation if it takes answers now; ConsultationError ``closed`` if not."""
    row = await session.get(Consultation, consultation_id)
    if row is None:
        raise ConsultationError("no such consultation", code="not_found")
    consultation = view(row)
    if not consultation.is_open(now):
        raise ConsultationError("this consultation is closed", code="closed")
    return consultation


async def answered(session: AsyncSession, *, consultation_id: int, contact_id: int) -> bool:
    """Whether the contact has already answered."""
    found = await session.scalar(
        select(ConsultationParticipant.contact_id).where(
            ConsultationParticipant.consultation_id == consultation_id,
            ConsultationParticipant.contact_id == contact_id,
        )
    )
    return found is not None


async def may_answer(
    session: AsyncSession, *, consultation_id: int, contact_id: int, now: datetime
) -> ConsultationView:
    """The consultation, if this contact may answer it now; else ConsultationError with code
    ``closed``, ``not_for_you`` or ``answered``."""
    consultation = await get_open(session, consultation_id=consultation_id, now=now)
    areas = set(
        await session.scalars(
            select(Subscription.area_code).where(Subscription.contact_id == contact_id)
        )
    )
    if not _in_audience(list(consultation.areas), areas):
        raise ConsultationError("not for this contact", code="not_for_you")
    if await answered(session, consultation_id=consultation_id, contact_id=contact_id):
        raise ConsultationError("already answered", code="answered")
    return consultation


def clean_text(text: str, *, gazetteer: Gazetteer) -> str:
    """A free-text answer as it is kept: one line, at most 300 characters, masked as reports
    are (numbers, names, handles, links hidden; area names kept). May come back empty."""
    short = clean(text, limit=TEXT_ANSWER_CHARS)
    return mask_text(short, gazetteer=gazetteer).text[: TEXT_ANSWER_CHARS + 20].strip()


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _values(question: Question, answer: Any) -> list[str] | None:
    """The counter values ``answer`` adds for ``question``; None when it is not usable."""
    if question.kind is Kind.ONE:
        if _is_int(answer) and 0 <= answer < len(question.options):
            return [str(answer)]
        return None
    if question.kind is Kind.MANY:
        if isinstance(answer, list) and answer:
            picked = sorted({a for a in answer if isinstance(a, int) and not isinstance(a, bool)})
            if picked and all(0 <= a < len(question.options) for a in picked):
                return [str(a) for a in picked]
        return None
    if question.kind is Kind.SCALE:
        if isinstance(answer, int) and not isinstance(answer, bool) and answer in SCALE:
            return [str(answer)]
        return None
    return None  # text: counted as answered, kept apart


async def submit(
    session: AsyncSession,
    *,
    consultation_id: int,
    contact_id: int,
    area: str | None,
    answers: Mapping[str, Any],
    finished: bool,
    now: datetime,
    gazetteer: Gazetteer,
) -> None:
    """Record one person's answers (see the module docstring).

    ``answers`` maps a question number (``"1"``…) to an int (one, scale), a list of ints
    (many), a str (text) or None (skipped); questions missing from it were never reached (the
    person stopped). ``finished`` says whether they reached the end. Raises ConsultationError
    ``answered`` when this contact already answered (nothing is written), ``closed`` when the
    consultation no longer takes answers, ``not_for_you`` when outside its audience.
    """
    consultation = await may_answer(
        session, consultation_id=consultation_id, contact_id=contact_id, now=now
    )
    dialect = session.get_bind().dialect.name
    insert = pg_insert if dialect == "postgresql" else sqlite_insert
    won = await session.scalar(
        insert(cast(Table, ConsultationParticipant.__table__))
        .values(consultation_id=consultation_id, contact_id=contact_id)
        .on_conflict_do_nothing()
        .returning(ConsultationParticipant.__table__.c.contact_id)
    )
    if won is None:  # a second device or a double tap got there first
        raise ConsultationError("already answered", code="answered")
    where = area if area is not None and area in _areas_of(consultation, gazetteer) else NO_AREA
    adds: dict[tuple[int, str], int] = {(0, DONE if finished else STOPPED): 1}
    texts: list[tuple[int, str]] = []
    for number, question in enumerate(consultation.questions, start=1):
        key = str(number)
        if key not in answers:
            continue  # never reached
        answer = answers[key]
        if answer is None:
            adds[(number, SKIP)] = 1
            continue
        if question.kind is Kind.TEXT:
            text = clean_text(answer, gazetteer=gazetteer) if isinstance(answer, str) else ""
            if not text:
                adds[(number, SKIP)] = 1
                continue
            adds[(number, ANSWERED)] = 1
            texts.append((number, text))
            continue
        values = _values(question, answer)
        if values is None:
            adds[(number, SKIP)] = 1
            continue
        adds[(number, ANSWERED)] = 1
        for value in values:
            adds[(number, value)] = 1
    await _add_counts(session, consultation_id, where, adds)
    for number, text in texts:
        session.add(
            ConsultationText(
                id=secrets.token_hex(16),
                consultation_id=consultation_id,
                question=number,
                text=text,
            )
        )
    await session.execute(
        update(Consultation)
        .where(Consultation.id == consultation_id)
        .values(participants=Consultation.participants + 1)
    )
    await session.flush()


def _areas_of(consultation: ConsultationView, gazetteer: Gazetteer) -> frozenset[str]:
    """The areas a person may say they are in: the consultation's, or all for everyone."""
    return frozenset(consultation.areas) if consultation.areas else gazetteer.codes


async def _add_counts(
    session: AsyncSession, consultation_id: int, area: str, adds: Mapping[tuple[int, str], int]
) -> None:
    table = cast(Table, ConsultationCount.__table__)
    dialect = session.get_bind().dialect.name
    insert = pg_insert if dialect == "postgresql" else sqlite_insert
    rows = [
        {
            "consultation_id": consultation_id,
            "question": question,
            "value": value,
            "area_code": area,
            "count": n,
        }
        for (question, value), n in sorted(adds.items())
    ]
    statement = insert(table).values(rows)
    await session.execute(
        statement.on_conflict_do_update(
            index_elements=["consultation_id", "question", "value", "area_code"],
            set_={"count": table.c.count + statement.excluded.count},
        )
    )


def area_choices(consultation: ConsultationView, gazetteer: Gazetteer) -> tuple[str, ...]:
    """The area codes offered when asking where someone is, in the gazetteer's order."""
    allowed = _areas_of(consultation, gazetteer)
    return tuple(a.code for a in gazetteer.areas if a.code in allowed)
