"""*Consultations* (coordinators): write a short anonymous survey in every language, open it
(the invitations go out), close it, read the results, and approve the "what you told us"
summary that goes back to the people who took part.

Everything goes through :mod:`bot.services.consultations`, as the chat flows and the CLI do:
the form posts the same plain dict the CLI's YAML gives (:func:`consultations.validate`), so a
consultation written here opens in chat and one written in chat shows here. Results arrive
already fit to show (counts under 5 hidden, the rest rounded; free texts masked and only when
enough people wrote one), and the page shows nothing finer.

The editor has a fixed :data:`~bot.services.consultations.MAX_QUESTIONS` question blocks, so it
needs no JavaScript: blocks left empty are ignored. Choices are typed one per line in each
language; line *n* in every language is choice *n*.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Final
from zoneinfo import ZoneInfo

from starlette.datastructures import FormData
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from bot.core.words import N_, Translator
from bot.services import consultations as service
from bot.services.consultations import (
    MAX_DAYS,
    MAX_OPTIONS,
    MAX_QUESTIONS,
    MIN_OPTIONS,
    ConsultationError,
    ConsultationStatus,
    ConsultationView,
    Kind,
    Results,
)
from bot.services.consultations.lifecycle import SUMMARY_CHARS
from bot.services.consultations.writing import EVERYONE, LIMITS
from bot.services.suppression import Shown, publish
from bot.web.console.site import PREFIX, Console, NavEntry, View

_MAX_ID: Final = 2**31 - 1
_SURE: Final = "yes"
_CHOICES: Final = (Kind.ONE, Kind.MANY)
# What a ConsultationError's ``where`` names: a part, its question and choice, its language.
_WHERE: Final = re.compile(
    r"^(?:(?P<part>title|intro|summary|areas|closes|questions)"
    r"|questions\[(?P<q>\d+)\](?:\.(?P<qpart>text|options|low|high|kind))?(?:\[(?P<o>\d+)\])?)"
    r"(?:\.(?P<locale>[A-Za-z_]+))?$"
)


# --- words --------------------------------------------------------------------------------------


def reference(consultation_id: int) -> str:
    """How the console names a consultation: #3, as /consult in chat does."""
    return f"#{consultation_id}"


def kind_label(t: Translator, kind: Kind) -> str:
    return {
        Kind.ONE: t("One choice"),
        Kind.MANY: t("Several choices"),
        Kind.SCALE: t("Scale from 1 to 5"),
        Kind.TEXT: t("Short free text"),
    }[kind]


def status_label(t: Translator, status: ConsultationStatus) -> str:
    return {
        ConsultationStatus.DRAFT: t("Draft"),
        ConsultationStatus.OPEN: t("Open"),
        ConsultationStatus.CLOSED: t("Closed"),
        ConsultationStatus.APPROVED: t("Closed · summary approved"),
        ConsultationStatus.DONE: t("Closed · summary sent"),
    }[status]


def shown(t: Translator, count: Shown) -> str:
    """A published count: "fewer than 5" for a hidden one."""
    return t("fewer than 5") if count.hidden else str(count.value)


@dataclass(frozen=True)
class Words:
    """What the pages need to name things in the reader's language."""

    t: Translator
    zone: ZoneInfo
    area_name: Callable[[str], str]
    writing: list[tuple[str, str, bool]]  # (locale, language name, right to left) to write in

    def audience(self, areas: tuple[str, ...]) -> str:
        if not areas:
            return self.t("everyone")
        return self.t.join([self.area_name(code) for code in areas])

    def closes(self, when: datetime) -> str:
        """When it closes, in the city's time: "end of 2026-12-20" for a local midnight (a
        closing day as the form and the CLI give it), else the day and minute."""
        local = when.astimezone(self.zone)
        if (local.hour, local.minute) == (0, 0):
            day = (local - timedelta(days=1)).date().isoformat()
            return self.t("end of {day} ({zone})", day=day, zone=self.zone.key)
        return f"{local.strftime('%Y-%m-%d %H:%M')} ({self.zone.key})"

    def language(self, locale: str) -> str:
        return next((name for code, name, _ in self.writing if code == locale), locale)


def _words(view: View) -> Words:
    t = view.t
    content = view.console.engine.deps.content
    gazetteer = content.gazetteer

    def area_name(code: str) -> str:
        if not code:
            return t("not given")
        area = gazetteer.by_code(code)
        return t(area.name) if area is not None else code

    locales = view.console.engine.deps.words.locales
    return Words(
        t=t,
        zone=ZoneInfo(gazetteer.city.timezone),
        area_name=area_name,
        writing=[(code, other.language_name, other.rtl) for code, other in locales.items()],
    )


def problem(words: Words, error: ConsultationError, blocks: list[int] | None = None) -> str:
    """What went wrong, in the reader's language (the service's message is English).
    ``blocks`` maps the n-th posted question to its block on the form (empty ones are
    skipped, so "question 2" of the service may be block 3)."""
    t, code = words.t, error.code
    found = _WHERE.match(error.where or "")
    part = qpart = locale = None
    number = option = 0
    if found is not None:
        part, qpart, locale = found["part"], found["qpart"], found["locale"]
        if found["q"]:
            n = int(found["q"])
            number = blocks[n - 1] if blocks and 0 < n <= len(blocks) else n
            part = "question"
        option = int(found["o"] or 0)
    if code == "not_found":
        return t("No consultation has that reference.")
    if code == "not_draft":
        return t("This consultation is not a draft any more: it cannot be changed.")
    if code == "status":
        return t("This consultation has moved on meanwhile. Nothing was changed.")
    if code == "questions":
        return t("Write at least one question, and at most {n}.", n=MAX_QUESTIONS)
    if code == "areas":
        return t("Choose at least one area, or everyone.")
    if code == "closes" and not error.where:  # opening a draft whose day has passed
        return t("Its closing day has passed: edit the draft and choose a later one.")
    if code == "closes":
        return t(
            "Choose a closing day after today, at most {n} days ahead.",
            n=MAX_DAYS,
        )
    if code == "kind" and number:
        return t("Question {n}: choose the kind of answer.", n=number)
    if code == "options" and number:
        if locale:
            return t(
                "Question {n}: two choices read the same in {language}.",
                n=number,
                language=words.language(locale),
            )
        return t(
            "Question {n}: give {least} to {most} choices, one per line, in every language.",
            n=number,
            least=MIN_OPTIONS,
            most=MAX_OPTIONS,
        )
    if code == "no_summary":
        return t("There is no summary to approve yet.")
    place = _place(t, part, qpart, number, option)
    if place and code in ("missing", "length", "control"):
        if locale:
            place = t("{place} in {language}", place=place, language=words.language(locale))
        if code == "missing":
            return t("{place} is empty. Write every text in every language.", place=place)
        if code == "length":
            return t("{place}: at most {n} characters.", place=place, n=_limit(part, qpart))
        return t("{place}: plain text only, please.", place=place)
    return t("Something in this consultation was not right. Nothing was saved.")


def _place(t: Translator, part: str | None, qpart: str | None, number: int, option: int) -> str:
    if part == "title":
        return t("The title")
    if part == "intro":
        return t("The introduction")
    if part == "summary":
        return t("The summary")
    if part != "question":
        return ""
    if qpart == "options" and option:
        return t("Question {n}, choice {m}", n=number, m=option)
    if qpart == "low":
        return t("Question {n}, the words for 1", n=number)
    if qpart == "high":
        return t("Question {n}, the words for 5", n=number)
    return t("Question {n}", n=number)


def _limit(part: str | None, qpart: str | None) -> int:
    if part == "summary":
        return SUMMARY_CHARS
    if part in ("title", "intro"):
        return LIMITS[part]
    return LIMITS[{"options": "option", "low": "label", "high": "label"}.get(qpart or "", "text")]


# --- the form and the plain dict --------------------------------------------------------------


def _blank_question(locales: list[str]) -> dict[str, Any]:
    empty = dict.fromkeys(locales, "")
    return {"kind": "", "text": dict(empty), "options": dict(empty), "low": dict(empty),
            "high": dict(empty)}  # fmt: skip


def blank_values(locales: list[str], closes_on: str) -> dict[str, Any]:
    """An empty form."""
    return {
        "title": dict.fromkeys(locales, ""),
        "intro": dict.fromkeys(locales, ""),
        "questions": [_blank_question(locales) for _ in range(MAX_QUESTIONS)],
        "audience": EVERYONE,
        "areas": [],
        "closes_on": closes_on,
    }


def form_values(form: FormData, locales: list[str]) -> dict[str, Any]:
    """What was posted, as the form shows it again (every value a string)."""

    def text(name: str) -> str:
        value = form.get(name)
        return value.replace("\r\n", "\n") if isinstance(value, str) else ""

    def texts(name: str) -> dict[str, str]:
        return {locale: text(f"{name}.{locale}") for locale in locales}

    questions = []
    for n in range(1, MAX_QUESTIONS + 1):
        questions.append(
            {
                "kind": text(f"q{n}.kind"),
                **{part: texts(f"q{n}.{part}") for part in ("text", "options", "low", "high")},
            }
        )
    return {
        "title": texts("title"),
        "intro": texts("intro"),
        "questions": questions,
        "audience": "areas" if form.get("audience") == "areas" else EVERYONE,
        "areas": [a for a in form.getlist("area") if isinstance(a, str)],
        "closes_on": text("closes_on").strip(),
    }


def _filled(texts: Mapping[str, str]) -> bool:
    return any(value.strip() for value in texts.values())


def to_plain(values: Mapping[str, Any]) -> tuple[dict[str, Any], list[int]]:
    """The dict :func:`consultations.validate` reads, and the form block of each question in
    it. A block with nothing in it is no question; choices count only for one/many, the end
    labels only for a scale (so changing a question's kind keeps what was typed, unused)."""
    questions: list[dict[str, Any]] = []
    blocks: list[int] = []
    for n, block in enumerate(values["questions"], start=1):
        kind = block["kind"]
        if not kind and not any(_filled(block[p]) for p in ("text", "options", "low", "high")):
            continue
        question: dict[str, Any] = {"kind": kind, "text": block["text"]}
        if kind in _CHOICES:
            lines = {
                locale: [line.strip() for line in typed.split("\n") if line.strip()]
                for locale, typed in block["options"].items()
            }
            most = max((len(found) for found in lines.values()), default=0)
            question["options"] = [
                {locale: found[j] if j < len(found) else "" for locale, found in lines.items()}
                for j in range(most)
            ]
        if kind == Kind.SCALE:
            for end in ("low", "high"):
                if _filled(block[end]):
                    question[end] = block[end]
        questions.append(question)
        blocks.append(n)
    areas = values["areas"] if values["audience"] == "areas" else EVERYONE
    plain = {
        "title": values["title"],
        "intro": values["intro"],
        "areas": areas,
        "closes": values["closes_on"],
        "questions": questions,
    }
    return plain, blocks


def values_of(consultation: ConsultationView, locales: list[str], zone: ZoneInfo) -> dict[str, Any]:
    """A stored draft as the form shows it."""
    values = blank_values(locales, _closing_day(consultation.closes_at, zone))
    values["title"] = {locale: consultation.title.get(locale, "") for locale in locales}
    values["intro"] = {locale: consultation.intro.get(locale, "") for locale in locales}
    for block, question in zip(values["questions"], consultation.questions, strict=False):
        block["kind"] = question.kind.value
        block["text"] = {locale: question.text.get(locale, "") for locale in locales}
        block["options"] = {
            locale: "\n".join(option.get(locale, "") for option in question.options)
            for locale in locales
        }
        for end in ("low", "high"):
            labels = getattr(question, end) or {}
            block[end] = {locale: labels.get(locale, "") for locale in locales}
    if consultation.areas:
        values["audience"] = "areas"
        values["areas"] = list(consultation.areas)
    return values


def _closing_day(closes_at: datetime, zone: ZoneInfo) -> str:
    """The day a consultation is open to the end of (it closes at the next local midnight)."""
    return (closes_at.astimezone(zone) - timedelta(microseconds=1)).date().isoformat()


# --- pages --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Row:
    """A consultation as the list and the pages show it."""

    id: int
    reference: str
    title: str
    state: str  # the status's value: draft, open, closed, approved, done
    status: str
    audience: str
    closes: str
    participants: str


def _row(words: Words, consultation: ConsultationView) -> Row:
    t = words.t
    return Row(
        id=consultation.id,
        reference=reference(consultation.id),
        title=service.pick(consultation.title, t.locale),
        state=consultation.status.value,
        status=status_label(t, consultation.status),
        audience=words.audience(consultation.areas),
        closes=words.closes(consultation.closes_at),
        participants=shown(t, publish(consultation.participants)),
    )


async def list_page(view: View) -> Response:
    words = _words(view)
    found = await service.list_all(view.session)  # one query, every column in it
    return view.render("consultations.html", rows=[_row(words, c) for c in found])


def _as_id(raw: object) -> int | None:
    if not isinstance(raw, str) or not raw.isascii() or not raw.isdigit() or len(raw) > 10:
        return None
    value = int(raw)
    return value if 0 < value <= _MAX_ID else None


async def _consultation(view: View) -> ConsultationView | None:
    consultation_id = _as_id(view.request.path_params.get("consultation_id"))
    if consultation_id is None:
        return None
    try:
        return await service.get(view.session, consultation_id=consultation_id)
    except ConsultationError:
        return None


def _not_found(view: View) -> Response:
    return view.console.refuse(view.t, view.t("No consultation has that reference."), status=404)


# --- writing ------------------------------------------------------------------------------------


def _render_editor(
    view: View,
    words: Words,
    values: Mapping[str, Any],
    *,
    consultation: ConsultationView | None = None,
    error: str = "",
    status: int = 200,
) -> Response:
    gazetteer = view.console.engine.deps.content.gazetteer
    action = (
        "/consultations/new" if consultation is None else f"/consultations/{consultation.id}/edit"
    )
    return view.render(
        "consultation_edit.html",
        status=status,
        error=error,
        values=values,
        consultation=_row(words, consultation) if consultation else None,
        action=f"{PREFIX}{action}",
        writing=words.writing,
        kinds=[(kind.value, kind_label(view.t, kind)) for kind in Kind],
        area_choices=[(a.code, words.area_name(a.code)) for a in gazetteer.areas],
        zone=words.zone.key,
    )


def _locales(words: Words) -> list[str]:
    return [code for code, _, _ in words.writing]


async def new_page(view: View) -> Response:
    words = _words(view)
    # A month from today, a common length for a consultation.
    default = (view.now.astimezone(words.zone) + timedelta(days=30)).date().isoformat()
    return _render_editor(view, words, blank_values(_locales(words), default))


async def _save(view: View, consultation: ConsultationView | None) -> Response:
    words = _words(view)
    values = form_values(view.form, _locales(words))
    plain, blocks = to_plain(values)
    gazetteer = view.console.engine.deps.content.gazetteer
    common: dict[str, Any] = {
        "data": plain,
        "languages": _locales(words),
        "area_codes": [a.code for a in gazetteer.areas],
        "now": view.now,
        "zone": words.zone,
    }
    try:
        if consultation is None:
            saved = await service.create(view.session, **common)
        else:
            saved = await service.update_draft(
                view.session, consultation_id=consultation.id, **common
            )
    except ConsultationError as error:
        # Nothing was written: the service checks the whole dict before it stores anything.
        return _render_editor(
            view,
            words,
            values,
            consultation=consultation,
            error=problem(words, error, blocks),
            status=400,
        )
    return view.redirect(f"/consultations/{saved.id}", done="saved")


async def create(view: View) -> Response:
    return await _save(view, None)


async def edit_page(view: View) -> Response:
    consultation = await _consultation(view)
    if consultation is None:
        return _not_found(view)
    words = _words(view)
    if consultation.status is not ConsultationStatus.DRAFT:
        return await _render_page(
            view,
            consultation,
            status=409,
            error=view.t("This consultation is not a draft any more: it cannot be changed."),
        )
    values = values_of(consultation, _locales(words), words.zone)
    return _render_editor(view, words, values, consultation=consultation)


async def edit(view: View) -> Response:
    consultation = await _consultation(view)
    if consultation is None:
        return _not_found(view)
    return await _save(view, consultation)


# --- one consultation ---------------------------------------------------------------------------


@dataclass(frozen=True)
class ResultTable:
    """One question's results as the page lays them out: a row per answer, a column for
    everyone and one per area with enough people; free texts when the service gives them."""

    n: int
    text: str
    kind: str
    columns: list[str]
    rows: list[tuple[str, list[str]]]
    free_texts: tuple[str, ...]
    free_note: str


@dataclass(frozen=True)
class Summary:
    """The closing summary: each language's text, and a line saying it was approved/sent."""

    approved: str
    texts: list[tuple[str, str, bool, str]]  # (locale, language, right to left, text)


def _questionnaire(consultation: ConsultationView, locale: str) -> str:
    """The consultation's words in one language, as plain lines (the draft's preview)."""
    pick = service.pick
    lines = [pick(consultation.title, locale), "", pick(consultation.intro, locale)]
    for n, question in enumerate(consultation.questions, start=1):
        lines += ["", f"{n}. {pick(question.text, locale)}"]
        lines += [f"   • {pick(option, locale)}" for option in question.options]
        if question.kind is Kind.SCALE:
            low = pick(question.low, locale) if question.low else ""
            high = pick(question.high, locale) if question.high else ""
            lines.append(f"   1 {low} … 5 {high}".rstrip())
    return "\n".join(lines)


def _tables(words: Words, found: Results) -> list[ResultTable]:
    t = words.t
    tables = []
    for result in found.questions:
        question = result.question
        areas = list(result.by_area)
        groups = [result.overall, *(result.by_area[code] for code in areas)]
        rows: list[tuple[str, list[str]]] = []
        for index, (key, _) in enumerate(result.overall.rows):
            label = service.choice_label(question, key, t.locale)
            if question.kind is Kind.SCALE:
                end = question.low if key == 1 else question.high if key == 5 else None
                if end:
                    label = f"{label} ({service.pick(end, t.locale)})"
            rows.append((label, [shown(t, group.rows[index][1]) for group in groups]))
        rows.append((t("Answered"), [shown(t, group.answered) for group in groups]))
        rows.append((t("Skipped"), [shown(t, group.skipped) for group in groups]))
        if question.kind is Kind.SCALE:
            rows.append(
                (t("Average"), [f"{g.mean:.1f}" if g.mean is not None else "–" for g in groups])
            )
        note = ""
        if question.kind is Kind.TEXT and not result.texts:
            if result.texts_written.value == 0:
                note = t("No one wrote an answer.")
            else:
                note = t("Fewer than 5 people wrote an answer, so none is shown.")
        elif result.texts:
            note = t("Anything that could identify someone was hidden before it was stored.")
        tables.append(
            ResultTable(
                n=result.number,
                text=service.pick(question.text, t.locale),
                kind=kind_label(t, question.kind),
                columns=[t("Everyone"), *(words.area_name(code) for code in areas)],
                rows=rows,
                free_texts=result.texts,
                free_note=note,
            )
        )
    return tables


def _summary(
    view: View, words: Words, consultation: ConsultationView, found: Results | None
) -> Summary | None:
    status = consultation.status
    if status in (ConsultationStatus.DRAFT, ConsultationStatus.OPEN):
        return None
    texts = consultation.summary
    if texts is None:  # the tick drafts one when it closes; until then, the same draft here
        assert found is not None
        texts = service.draft_summary(found, view.console.engine.deps.words.locales)
    approved = ""
    if status is ConsultationStatus.APPROVED:
        approved = words.t("Approved. It goes out to everyone who took part.")
    elif status is ConsultationStatus.DONE:
        approved = words.t(
            "Sent to everyone who took part ({n}).",
            n=shown(words.t, publish(consultation.summary_sent)),
        )
    return Summary(
        approved=approved,
        texts=[(code, name, rtl, texts.get(code, "")) for code, name, rtl in words.writing],
    )


async def _render_page(
    view: View,
    consultation: ConsultationView,
    *,
    status: int = 200,
    error: str = "",
    summary_texts: Mapping[str, str] | None = None,
) -> Response:
    words = _words(view)
    found = None
    if consultation.status is not ConsultationStatus.DRAFT:
        found = await service.results(view.session, consultation_id=consultation.id)
    summary = _summary(view, words, consultation, found)
    if summary is not None and summary_texts is not None:  # what was typed, kept on an error
        summary = Summary(
            summary.approved,
            [(c, n, r, summary_texts.get(c, "")) for c, n, r, _ in summary.texts],
        )
    return view.render(
        "consultation.html",
        status=status,
        error=error,
        item=_row(words, consultation),
        previews=[
            (code, name, rtl, _questionnaire(consultation, code))
            for code, name, rtl in words.writing
        ],
        results=_tables(words, found) if found is not None else None,
        areas=[
            (words.area_name(place.area_code), shown(words.t, place.participants))
            for place in found.areas
        ]
        if found is not None
        else [],
        summary=summary,
    )


async def consultation_page(view: View) -> Response:
    consultation = await _consultation(view)
    if consultation is None:
        return _not_found(view)
    return await _render_page(view, consultation)


async def _act(
    view: View, confirm: str, action: Callable[[ConsultationView], Any], done: str
) -> Response:
    """Ask first (a page saying what happens and to how many), then (``sure``) do it; on a
    ConsultationError show the consultation again with the reason (nothing was changed)."""
    consultation = await _consultation(view)
    if consultation is None:
        return _not_found(view)
    words = _words(view)
    if view.form.get("sure") != _SURE:
        count: int | str = 0
        if confirm == "open":
            count = await service.audience_size(view.session, consultation_id=consultation.id)
        elif confirm == "approve":
            count = shown(view.t, publish(consultation.participants))
        return view.render(
            "consultation_confirm.html",
            confirm=confirm,
            item=_row(words, consultation),
            count=count,
        )
    try:
        await action(consultation)
    except ConsultationError as error:
        fresh = await _consultation(view)
        return await _render_page(
            view, fresh or consultation, status=409, error=problem(words, error)
        )
    return view.redirect(f"/consultations/{consultation.id}", done=done)


async def open_(view: View) -> Response:
    async def go(consultation: ConsultationView) -> None:
        await service.open_consultation(view.session, consultation_id=consultation.id, now=view.now)

    return await _act(view, "open", go, "opened")


async def close(view: View) -> Response:
    async def go(consultation: ConsultationView) -> None:
        await service.close_consultation(
            view.session, consultation_id=consultation.id, now=view.now
        )
        # The summary's draft at once, rather than at the next tick.
        await service.prepare_summaries(
            view.session,
            translators=dict(view.console.engine.deps.words.locales),
            consultation_id=consultation.id,
        )

    return await _act(view, "close", go, "closed")


async def approve(view: View) -> Response:
    async def go(consultation: ConsultationView) -> None:
        if consultation.summary is None:  # closed by the tick, not drafted yet: as shown
            await service.prepare_summaries(
                view.session,
                translators=dict(view.console.engine.deps.words.locales),
                consultation_id=consultation.id,
            )
        await service.approve_summary(view.session, consultation_id=consultation.id, now=view.now)

    return await _act(view, "approve", go, "approved")


async def summary(view: View) -> Response:
    """Save the summary as edited; "then approve" goes on to the approve question."""
    consultation = await _consultation(view)
    if consultation is None:
        return _not_found(view)
    words = _words(view)
    locales = _locales(words)
    typed = {
        locale: value.replace("\r\n", "\n")
        for locale in locales
        if isinstance(value := view.form.get(f"summary.{locale}"), str)
    }
    try:
        saved = await service.set_summary(
            view.session, consultation_id=consultation.id, texts=typed, languages=locales
        )
    except ConsultationError as error:
        fresh = await _consultation(view)
        return await _render_page(
            view,
            fresh or consultation,
            status=400 if error.code in ("missing", "length", "control") else 409,
            error=problem(words, error),
            summary_texts=typed,
        )
    if view.form.get("then") == "approve":
        return view.render(
            "consultation_confirm.html",
            confirm="approve",
            item=_row(words, saved),
            count=shown(view.t, publish(saved.participants)),
        )
    return view.redirect(f"/consultations/{consultation.id}", done="saved")


async def results_csv(view: View) -> Response:
    """The results as a CSV file, with the same suppression as the page."""
    consultation = await _consultation(view)
    if consultation is None or consultation.status is ConsultationStatus.DRAFT:
        return _not_found(view)
    words = _words(view)
    found = await service.results(view.session, consultation_id=consultation.id)
    text = service.to_csv(
        found, locale=view.t.locale, small=view.t("fewer than 5"), area_name=words.area_name
    )
    name = f"hrbot-consultation-{consultation.id}.csv"
    return Response(
        text,
        media_type="text/csv; charset=utf-8",
        headers={"content-disposition": f'attachment; filename="{name}"'},
    )


async def discard(view: View) -> Response:
    """Delete a draft (asked first); no one was ever asked, so nothing else goes with it."""
    consultation = await _consultation(view)
    if consultation is None:
        return _not_found(view)
    words = _words(view)
    if view.form.get("sure") != _SURE:
        return view.render(
            "consultation_confirm.html", confirm="discard", item=_row(words, consultation), count=0
        )
    try:
        await service.delete_draft(view.session, consultation_id=consultation.id)
    except ConsultationError as error:
        return await _render_page(view, consultation, status=409, error=problem(words, error))
    return view.redirect("/consultations", done="discarded")


def routes(console: Console) -> list[BaseRoute]:
    console.nav.append(NavEntry("/consultations", N_("Consultations"), coordinator=True))

    def page(function: Any, method: str, path: str) -> Route:
        return Route(path, console.page(function, coordinator=True), methods=[method])

    one = "/consultations/{consultation_id}"
    return [
        page(list_page, "GET", "/consultations"),
        page(new_page, "GET", "/consultations/new"),
        page(create, "POST", "/consultations/new"),
        page(consultation_page, "GET", one),
        page(edit_page, "GET", f"{one}/edit"),
        page(edit, "POST", f"{one}/edit"),
        page(open_, "POST", f"{one}/open"),
        page(close, "POST", f"{one}/close"),
        page(summary, "POST", f"{one}/summary"),
        page(approve, "POST", f"{one}/approve"),
        page(discard, "POST", f"{one}/discard"),
        page(results_csv, "GET", f"{one}/results.csv"),
    ]
