"""Community consultations: short anonymous surveys whose answers are kept only as counts.

The service API (stable; the console and the chat flows both use it):

- :mod:`.model`: :class:`ConsultationView`, :class:`Question`, :class:`Kind`,
  :class:`ConsultationError` (``code``, ``where``), limits;
- :mod:`.writing`: :func:`validate` / :func:`create` / :func:`update_draft` /
  :func:`delete_draft` from one plain dict (the CLI's YAML, the console's form),
  :func:`load_yaml`, :func:`to_data`;
- :mod:`.lifecycle`: :func:`get`, :func:`list_all`, :func:`open_consultation`,
  :func:`close_consultation`, :func:`set_summary`, :func:`approve_summary`, and the tick's
  :func:`close_due`, :func:`queue_invitations`, :func:`send_summaries`, :func:`purge`;
- :mod:`.answering`: :func:`open_for`, :func:`may_answer`, :func:`submit`;
- :mod:`.results`: :func:`results` and :func:`to_csv`;
- :mod:`.closing`: :func:`draft_summary`, :func:`prepare_summaries` (draft and store).

Callers pass ``languages`` = the bot's locales (``words.locales``: all required),
``area_codes`` = ``content.gazetteer.codes``, ``zone`` = the city's time zone, and ``now``.
"""

from bot.services.consultations.answering import (
    answered,
    area_choices,
    clean_text,
    may_answer,
    open_for,
    submit,
)
from bot.services.consultations.closing import draft_summary, prepare_summaries
from bot.services.consultations.lifecycle import (
    Render,
    approve_summary,
    audience_size,
    close_consultation,
    close_due,
    get,
    list_all,
    open_consultation,
    purge,
    queue_invitations,
    send_summaries,
    set_summary,
    to_draft_summary,
)
from bot.services.consultations.model import (
    MAX_DAYS,
    MAX_OPTIONS,
    MAX_QUESTIONS,
    MIN_OPTIONS,
    SCALE,
    TEXT_ANSWER_CHARS,
    ConsultationError,
    ConsultationStatus,
    ConsultationView,
    Kind,
    Question,
    pick,
)
from bot.services.consultations.results import (
    AreaCount,
    Breakdown,
    QuestionResult,
    Results,
    choice_label,
    results,
    to_csv,
)
from bot.services.consultations.writing import (
    Draft,
    create,
    delete_draft,
    load_yaml,
    to_data,
    update_draft,
    validate,
)

__all__ = [
    "MAX_DAYS",
    "MAX_OPTIONS",
    "MAX_QUESTIONS",
    "MIN_OPTIONS",
    "SCALE",
    "TEXT_ANSWER_CHARS",
    "AreaCount",
    "Breakdown",
    "ConsultationError",
    "ConsultationStatus",
    "ConsultationView",
    "Draft",
    "Kind",
    "Question",
    "QuestionResult",
    "Render",
    "Results",
    "answered",
    "approve_summary",
    "area_choices",
    "audience_size",
    "choice_label",
    "clean_text",
    "close_consultation",
    "close_due",
    "create",
    "delete_draft",
    "draft_summary",
    "get",
    "list_all",
    "load_yaml",
    "may_answer",
    "open_consultation",
    "open_for",
    "pick",
    "prepare_summaries",
    "purge",
    "queue_invitations",
    "results",
    "send_summaries",
    "set_summary",
    "submit",
    "to_csv",
    "to_data",
    "to_draft_summary",
    "update_draft",
    "validate",
]
