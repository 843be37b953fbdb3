"""The "what you told us" summary, drafted from the results in every language.

The draft names, for each choice question, the answer most people gave (by the true counts,
among answers at least 5 people gave, and only as words: no number is repeated to
participants), and a scale's average. A coordinator may edit it and must approve it before
it is sent (:mod:`.lifecycle`).
"""

from __future__ import annotations

from collections.abc import Mapping

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.core.words import N_, Translator
from bot.db.models import Consultation, ConsultationStatus
from bot.services.consultations.lifecycle import SUMMARY_CHARS, to_draft_summary
from bot.services.consultations.model import Kind, pick
from bot.services.consultations.results import Results, choice_label, results

__all__ = ["draft_summary", "prepare_summaries"]


def _line(tr: Translator, results: Results, index: int) -> str | None:
    result = results.questions[index]
    question, overall = result.question, result.overall
    if overall.answered.hidden or not overall.answered.value:
        return None
    text = pick(question.text, tr.locale)
    if question.kind is Kind.SCALE and overall.mean is not None:
        return tr(
            "{question} On average: {mean} out of 5.",
            question=text,
            mean=format(overall.mean, ".1f"),
        )
    if question.kind in (Kind.ONE, Kind.MANY) and overall.top:
        best = [choice_label(question, key, tr.locale) for key in overall.top]
        return tr("{question} Most of you said: {answer}.", question=text, answer=tr.join(best))
    return None


def draft_summary(results: Results, translators: Mapping[str, Translator]) -> dict[str, str]:
    """One summary per locale (``translators`` keyed by locale)."""
    texts: dict[str, str] = {}
    for locale, tr in translators.items():
        title = pick(results.consultation.title, locale)
        lines = [
            tr("Thank you for answering “{title}”. What you told us:", title=title),
        ]
        for index in range(len(results.questions)):
            line = _line(tr, results, index)
            if line is not None:
                lines.append(f"• {line}")
        if len(lines) == 1:
            lines.append(tr("Too few people answered to share results without risk to anyone."))
        lines.append(tr(_CLOSING))
        text = "\n".join(lines)
        texts[locale] = text if len(text) <= SUMMARY_CHARS else text[: SUMMARY_CHARS - 1] + "…"
    return texts


_CLOSING = N_("We will use this to shape the service. Your answers were anonymous.")


async def prepare_summaries(
    session: AsyncSession,
    *,
    translators: Mapping[str, Translator],
    consultation_id: int | None = None,
) -> list[int]:
    """Draft and store the summary of every closed consultation that has none yet (or just
    ``consultation_id``); a summary a coordinator already wrote is never replaced. Returns
    the ids drafted. The tick calls this after closing; the console may call it at once."""
    query = select(Consultation.id).where(
        Consultation.status == ConsultationStatus.CLOSED, Consultation.summary.is_(None)
    )
    if consultation_id is not None:
        query = query.where(Consultation.id == consultation_id)
    drafted: list[int] = []
    for found_id in list(await session.scalars(query.order_by(Consultation.id))):
        found = await results(session, consultation_id=found_id)
        texts = draft_summary(found, translators)
        if await to_draft_summary(session, consultation_id=found_id, texts=texts):
            drafted.append(found_id)
    return drafted
