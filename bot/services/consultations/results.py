"""Results: aggregates only, small cells hidden, free texts only in numbers.

Every count goes through :func:`bot.services.suppression.publish`, as the console's numbers
do: 1 to 4 is hidden (shown as "fewer than 5"), and every other count is rounded to the
nearest 5, so a hidden cell cannot be worked out by subtracting shown cells from a shown
total (the suppression module explains why rounding rather than complementary suppression).
An area gets its own breakdown only when at least 5 people who named it took part; the others
are only said to be "fewer than 5". Free texts of a question are listed only when at least 5
people wrote one, in alphabetical order (their stored order says nothing either way).
"""

from __future__ import annotations

import csv
import io
from collections import defaultdict
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.db.models import Consultation, ConsultationCount, ConsultationText
from bot.services.consultations.answering import ANSWERED, DONE, NO_AREA, SKIP, STOPPED
from bot.services.consultations.model import (
    SCALE,
    ConsultationError,
    ConsultationView,
    Kind,
    Question,
    pick,
    view,
)
from bot.services.suppression import SMALL_COUNT, Shown, publish

__all__ = ["AreaCount", "Breakdown", "QuestionResult", "Results", "results", "to_csv"]


@dataclass(frozen=True, slots=True)
class Breakdown:
    """One question's answers among some people: ``rows`` pairs a choice number (or a scale
    point) with its shown count, in the question's order."""

    answered: Shown
    skipped: Shown
    rows: tuple[tuple[int, Shown], ...]
    mean: float | None = None  # a scale's average overall, when at least 5 answered
    # The choice (or choices, when level) most people made, by the true counts, among
    # those at least 5 made: named in the summary, never with a number.
    top: tuple[int, ...] = ()


@dataclass(frozen=True, slots=True)
class QuestionResult:
    number: int
    question: Question
    overall: Breakdown
    by_area: Mapping[str, Breakdown]  # only areas with enough participants
    texts: tuple[str, ...]  # free texts, only when at least 5 were written
    texts_written: Shown


@dataclass(frozen=True, slots=True)
class AreaCount:
    area_code: str  # "" = did not say
    participants: Shown
    broken_down: bool  # whether its answers are shown apart


@dataclass(frozen=True, slots=True)
class Results:
    consultation: ConsultationView
    participants: Shown
    finished: Shown
    stopped: Shown
    areas: tuple[AreaCount, ...]
    questions: tuple[QuestionResult, ...]


Counts = Mapping[tuple[int, str], int]


async def results(session: AsyncSession, *, consultation_id: int) -> Results:
    """The consultation's results, fit to show coordinators (see the module docstring)."""
    row = await session.get(Consultation, consultation_id)
    if row is None:
        raise ConsultationError("no such consultation", code="not_found")
    consultation = view(row)
    by_area: dict[str, dict[tuple[int, str], int]] = defaultdict(dict)
    overall: dict[tuple[int, str], int] = defaultdict(int)
    for count in await session.scalars(
        select(ConsultationCount).where(ConsultationCount.consultation_id == consultation_id)
    ):
        by_area[count.area_code][(count.question, count.value)] = count.count
        overall[(count.question, count.value)] += count.count
    texts: dict[int, list[str]] = defaultdict(list)
    for number, text in await session.execute(
        select(ConsultationText.question, ConsultationText.text).where(
            ConsultationText.consultation_id == consultation_id
        )
    ):
        texts[number].append(text)

    def people(counts: Counts) -> int:
        return counts.get((0, DONE), 0) + counts.get((0, STOPPED), 0)

    shown_areas = sorted(
        code
        for code, counts in by_area.items()
        if code != NO_AREA and people(counts) >= SMALL_COUNT
    )
    areas = tuple(
        AreaCount(code, publish(people(counts)), code in shown_areas)
        for code, counts in sorted(by_area.items(), key=lambda kv: (kv[0] == NO_AREA, kv[0]))
    )
    questions = []
    for number, question in enumerate(consultation.questions, start=1):
        written = sorted(texts.get(number, []), key=str.casefold)
        questions.append(
            QuestionResult(
                number=number,
                question=question,
                overall=_breakdown(question, number, overall, mean=True),
                # No average per area: beside an area's hidden cells it would say too much.
                by_area={code: _breakdown(question, number, by_area[code]) for code in shown_areas},
                texts=tuple(written) if len(written) >= SMALL_COUNT else (),
                texts_written=publish(len(written)),
            )
        )
    return Results(
        consultation=consultation,
        participants=publish(people(overall)),
        finished=publish(overall.get((0, DONE), 0)),
        stopped=publish(overall.get((0, STOPPED), 0)),
        areas=areas,
        questions=tuple(questions),
    )


def _breakdown(question: Question, number: int, counts: Counts, *, mean: bool = False) -> Breakdown:
    answered = counts.get((number, ANSWERED), 0)
    keys: tuple[int, ...]
    if question.kind in (Kind.ONE, Kind.MANY):
        keys = tuple(range(len(question.options)))
    elif question.kind is Kind.SCALE:
        keys = SCALE
    else:
        keys = ()
    rows = tuple((key, publish(counts.get((number, str(key)), 0))) for key in keys)
    average = None
    if mean and question.kind is Kind.SCALE and answered >= SMALL_COUNT:
        total = sum(p * counts.get((number, str(p)), 0) for p in SCALE)
        average = round(total / answered, 1)
    exact = {key: counts.get((number, str(key)), 0) for key in keys}
    big = {key: n for key, n in exact.items() if n >= SMALL_COUNT}
    most = max(big.values(), default=0)
    return Breakdown(
        answered=publish(answered),
        skipped=publish(counts.get((number, SKIP), 0)),
        rows=rows,
        mean=average,
        top=tuple(key for key, n in big.items() if n == most),
    )


def choice_label(question: Question, key: int, locale: str | None) -> str:
    """What the choice ``key`` says in ``locale`` (a scale point is its number)."""
    if question.kind in (Kind.ONE, Kind.MANY) and 0 <= key < len(question.options):
        return pick(question.options[key], locale)
    return str(key)


# A spreadsheet runs a cell starting with one of these as a formula (OWASP "CSV injection").
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r", "\n")


def _safe(text: str) -> str:
    return "'" + text if text.startswith(_FORMULA_START) else text


def to_csv(
    found: Results,
    *,
    locale: str = "en",
    small: str = "fewer than 5",
    area_name: Callable[[str], str] = lambda code: code or "not given",
) -> str:
    """The results as CSV text: one row per question, area and answer; hidden counts read
    ``small``. Columns: question, kind, area, answer, count. Text a spreadsheet would run as
    a formula gets a leading ``'``."""
    out = io.StringIO()
    plain = csv.writer(out, lineterminator="\r\n")

    class _Safe:
        @staticmethod
        def writerow(row: list[str]) -> None:
            plain.writerow([_safe(value) for value in row])

    writer = _Safe()
    writer.writerow(["question", "kind", "area", "answer", "count"])

    def cell(shown: Shown) -> str:
        return small if shown.hidden else str(shown.value)

    writer.writerow(["0", "participants", "all", "all", cell(found.participants)])
    writer.writerow(["0", "participants", "all", "finished", cell(found.finished)])
    writer.writerow(["0", "participants", "all", "stopped", cell(found.stopped)])
    for place in found.areas:
        writer.writerow(
            ["0", "participants", area_name(place.area_code), "all", cell(place.participants)]
        )
    for result in found.questions:
        question = result.question
        text = pick(question.text, locale)
        label = f"{result.number}. {text}"
        groups = [("all", result.overall)] + [
            (area_name(code), breakdown) for code, breakdown in result.by_area.items()
        ]
        for area, breakdown in groups:
            writer.writerow(
                [label, question.kind.value, area, "answered", cell(breakdown.answered)]
            )
            writer.writerow([label, question.kind.value, area, "skipped", cell(breakdown.skipped)])
            for key, shown in breakdown.rows:
                writer.writerow(
                    [
                        label,
                        question.kind.value,
                        area,
                        choice_label(question, key, locale),
                        cell(shown),
                    ]
                )
            if breakdown.mean is not None:
                writer.writerow([label, question.kind.value, area, "mean", f"{breakdown.mean:.1f}"])
        for written in result.texts:
            writer.writerow([label, question.kind.value, "all", written, ""])
    return out.getvalue()
