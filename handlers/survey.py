"""Answering a community consultation: one question at a time, every one skippable.

::

    invitation [Take part] [Not now]   or   /survey → the open ones
      → where are you? (optional: for results per area)
      → question 1 … question N  (each: its choices, Skip, Stop)
      → thanks (answers added to the totals)

Answers in progress live in the conversation state only (a free text masked as soon as it
is typed); nothing is written until the person finishes or stops, and then only counters and
masked texts that name no one (:func:`bot.services.consultations.submit`). Stop is one tap:
what was answered so far is kept, anonymously; with nothing answered yet nothing is kept and
the person may come back later. Leaving any other way (a command, the menu, silence) keeps
nothing.

Buttons: ``svi:<consultation>:take|later`` on invitations and the /survey list (no
conversation yet), ``sv:<run>:<action>[:<arg>]`` inside one.
"""

from __future__ import annotations

from datetime import UTC, timedelta, tzinfo
from enum import StrEnum
from typing import Any

from bot.core.context import Context
from bot.core.messages import Incoming, Option, Reply
from bot.core.routes import MenuCommand
from bot.core.words import Translator
from bot.services import consultations as cs
from handlers import alerts, ui
from handlers.routes import ModuleRoutes

FLOW = "survey"
PREFIX = "sv"
INVITE = "svi"


class Step(StrEnum):
    AREA = "area"
    QUESTION = "question"


# -- messages sent by the tick (rendered in each recipient's language) -----------------------


def invitation(consultation: cs.ConsultationView, tr: Translator, zone: tzinfo = UTC) -> Reply:
    """The one invitation: a first line that says nothing about drugs (lock screens).
    ``zone``: the city's, for the last day it is open."""
    title = cs.pick(consultation.title, tr.locale)
    text = "\n\n".join(
        (
            tr("We would like to hear from you."),
            f"{title}\n{cs.pick(consultation.intro, tr.locale)}",
            tr(
                "{n} short questions, anonymous: we keep only totals, never who answered what. "
                "Skip any question, stop any time. Open until {date}.",
                n=len(consultation.questions),
                date=last_day(consultation, zone),
            ),
        )
    )
    return Reply(
        text,
        (
            Option(tr("Take part"), f"{INVITE}:{consultation.id}:take"),
            Option(tr("Not now"), f"{INVITE}:{consultation.id}:later"),
        ),
        locale=tr.locale,
    )


def summary_message(consultation: cs.ConsultationView, tr: Translator) -> Reply:
    """The approved "what you told us", in the recipient's language."""
    text = (consultation.summary or {}).get(tr.locale) or cs.pick(
        consultation.summary or {}, tr.locale
    )
    thanks = tr("Thank you for taking part.")
    return Reply(f"{thanks}\n\n{text}", locale=tr.locale)


def last_day(consultation: cs.ConsultationView, zone: tzinfo = UTC) -> str:
    """The last day it is open (ISO): closing at midnight means open to the day before."""
    return (consultation.closes_at.astimezone(zone) - timedelta(minutes=1)).date().isoformat()


# -- finding one ------------------------------------------------------------------------------


async def on_command(msg: Incoming, ctx: Context) -> None:
    """``/survey``: the consultations this person may answer now."""
    found = await cs.open_for(ctx.session, contact_id=ctx.person.contact_id, now=ctx.now)
    if not found:
        ui.show_menu(
            ctx,
            ctx.tr(
                "No consultations are open for you right now. They go to people who get "
                "alerts for an area (/alerts)."
            ),
        )
        return
    options = [
        Option(cs.pick(c.title, ctx.tr.locale), f"{INVITE}:{c.id}:take", wide=True) for c in found
    ]
    ctx.reply(
        ctx.tr("Open consultations: anonymous, a few questions each. Choose one:"),
        [*options, ui.back_to_menu(ctx.tr)],
    )


async def on_invite(msg: Incoming, ctx: Context) -> None:
    """[Take part] / [Not now] on an invitation or the /survey list."""
    parts = (msg.option or "").split(":")
    if (
        len(parts) != 3
        or (number := ui.as_int(parts[1])) is None
        or parts[2]
        not in (
            "take",
            "later",
        )
    ):
        ui.expired(ctx)
        return
    if parts[2] == "later":
        ctx.reply(ctx.tr("All right. You can find it later with /survey."))
        return
    try:
        consultation = await cs.may_answer(
            ctx.session, consultation_id=number, contact_id=ctx.person.contact_id, now=ctx.now
        )
    except cs.ConsultationError as exc:
        ui.show_menu(ctx, _refusal(ctx, exc.code))
        return
    ctx.end()
    ctx.goto(FLOW, Step.AREA, run=ui.new_run(), cid=consultation.id, q=0, a={}, page=0)
    intro = cs.pick(consultation.intro, ctx.tr.locale)
    _show(ctx, consultation, lead=f"{cs.pick(consultation.title, ctx.tr.locale)}\n{intro}")


def _refusal(ctx: Context, code: str) -> str:
    if code == "answered":
        return ctx.tr("You have already answered this consultation. Thank you!")
    if code == "not_for_you":
        return ctx.tr("This consultation is not open to you.")
    return ctx.tr("This consultation has closed.")


# -- one question at a time -------------------------------------------------------------------


def _button(ctx: Context, label: str, action: str, arg: object = None, **kw: Any) -> Option:
    return Option(label, ui.payload(PREFIX, ui.run_tag(ctx), action, arg), **kw)


def _ways_out(ctx: Context, *, typed: bool = False) -> list[Option]:
    """Skip and Stop (on Signal typed as 0 and 00 where a free text is asked)."""
    return [
        _button(ctx, ctx.tr("Skip"), "skip", key="0" if typed else ""),
        _button(ctx, ctx.tr("Stop"), "stop", key="00" if typed else ""),
    ]


def _show(ctx: Context, consultation: cs.ConsultationView, *, lead: str = "") -> None:
    assert ctx.state is not None
    data = ctx.state.data
    tr = ctx.tr
    if ctx.state.step == Step.AREA:
        codes = cs.area_choices(consultation, ctx.deps.content.gazetteer)
        names = {a.code: a.name for a in ctx.deps.content.gazetteer.areas}
        choices = [_button(ctx, names.get(code, code), "area", code) for code in codes]
        page = ui.page(
            choices,
            int(data.get("page", 0)),
            more=ui.payload(PREFIX, ui.run_tag(ctx), "page"),
            back=_ways_out(ctx),
            tr=tr,
        )
        text = tr(
            "Which area are you mostly in? It is optional: it lets us show results per area, "
            "and only where enough people answered."
        )
        ctx.reply(f"{lead}\n\n{text}" if lead else text, page, columns=2)
        return
    number = int(data["q"])
    question = consultation.questions[number - 1]
    heading = tr("Question {n} of {total}", n=number, total=len(consultation.questions))
    text = f"{heading}\n{cs.pick(question.text, tr.locale)}"
    if lead:
        text = f"{lead}\n\n{text}"
    if question.kind is cs.Kind.ONE:
        options = [
            _button(ctx, cs.pick(o, tr.locale), "pick", i) for i, o in enumerate(question.options)
        ]
        ctx.reply(text, [*options, *_ways_out(ctx)])
    elif question.kind is cs.Kind.MANY:
        picked = set(data.get("picked", []))
        options = [
            _button(ctx, ("✓ " if i in picked else "") + cs.pick(o, tr.locale), "tog", i)
            for i, o in enumerate(question.options)
        ]
        done = _button(ctx, tr("Done"), "done")
        hint = tr("Choose all that apply, then Done.")
        ctx.reply(
            f"{text}\n{hint}",
            [*options, done, *_ways_out(ctx)],
        )
    elif question.kind is cs.Kind.SCALE:
        ends = []
        if question.low is not None:
            ends.append(f"1 = {cs.pick(question.low, tr.locale)}")
        if question.high is not None:
            ends.append(f"5 = {cs.pick(question.high, tr.locale)}")
        if ends:
            text = f"{text}\n({', '.join(ends)})"
        options = [_button(ctx, str(p), "pick", p) for p in cs.SCALE]
        ctx.reply(text, [*options, *_ways_out(ctx)], columns=5)
    else:
        hint = tr("Type your answer (up to {n} characters).", n=cs.TEXT_ANSWER_CHARS)
        ctx.reply(
            f"{text}\n{hint}",
            _ways_out(ctx, typed=True),
            typed=tr("your answer"),
        )


async def _current(ctx: Context) -> cs.ConsultationView | None:
    """The consultation of the conversation, if it still takes answers (else said, ended)."""
    assert ctx.state is not None
    number = ctx.state.data.get("cid")
    if not isinstance(number, int):
        ui.expired(ctx)
        return None
    try:
        return await cs.may_answer(
            ctx.session, consultation_id=number, contact_id=ctx.person.contact_id, now=ctx.now
        )
    except cs.ConsultationError as exc:
        ctx.end()
        ui.show_menu(ctx, _refusal(ctx, exc.code))
        return None


async def on_option(msg: Incoming, ctx: Context) -> None:
    """An ``sv:`` button."""
    press = ui.parse(msg.option, PREFIX)
    step = ui.current(ctx, FLOW, press)
    if press is None or step is None:
        ui.expired(ctx)
        return
    consultation = await _current(ctx)
    if consultation is None:
        return
    assert ctx.state is not None
    data = ctx.state.data
    if press.action == "stop":
        await _finish(ctx, consultation, finished=False)
        return
    if step == Step.AREA:
        codes = cs.area_choices(consultation, ctx.deps.content.gazetteer)
        if press.action == "page" and (page := ui.as_int(press.arg)) is not None:
            ctx.goto(FLOW, Step.AREA, page=page)
            _show(ctx, consultation)
        elif press.action == "area" and press.arg in codes:
            ctx.goto(FLOW, Step.AREA, area=press.arg)
            await _next(ctx, consultation)
        elif press.action == "skip":
            await _next(ctx, consultation)
        else:
            ui.expired(ctx)
        return
    number = int(data.get("q", 0))
    if not 1 <= number <= len(consultation.questions):
        ui.expired(ctx)
        return
    question = consultation.questions[number - 1]
    value = ui.as_int(press.arg)
    if press.action == "skip":
        await _answer(ctx, consultation, number, None)
    elif press.action == "pick" and question.kind is cs.Kind.ONE and value is not None:
        if value >= len(question.options):
            ui.expired(ctx)
            return
        await _answer(ctx, consultation, number, value)
    elif press.action == "pick" and question.kind is cs.Kind.SCALE and value in cs.SCALE:
        await _answer(ctx, consultation, number, value)
    elif press.action == "tog" and question.kind is cs.Kind.MANY and value is not None:
        if value >= len(question.options):
            ui.expired(ctx)
            return
        toggled = set(data.get("picked", [])) ^ {value}
        ctx.goto(FLOW, Step.QUESTION, picked=sorted(toggled))
        _show(ctx, consultation)
    elif press.action == "done" and question.kind is cs.Kind.MANY:
        chosen = sorted(set(data.get("picked", [])))
        if not chosen:
            _show(ctx, consultation, lead=ctx.tr("Choose at least one, or Skip."))
            return
        await _answer(ctx, consultation, number, chosen)
    else:
        ui.expired(ctx)


async def _answer(
    ctx: Context, consultation: cs.ConsultationView, number: int, value: object
) -> None:
    assert ctx.state is not None
    answers = dict(ctx.state.data.get("a", {}))
    answers[str(number)] = value
    ctx.goto(FLOW, Step.QUESTION, a=answers, picked=[])
    await _next(ctx, consultation)


async def _next(ctx: Context, consultation: cs.ConsultationView) -> None:
    assert ctx.state is not None
    number = int(ctx.state.data.get("q", 0)) + 1
    if number > len(consultation.questions):
        await _finish(ctx, consultation, finished=True)
        return
    ctx.goto(FLOW, Step.QUESTION, q=number, picked=[])
    _show(ctx, consultation)


async def _finish(ctx: Context, consultation: cs.ConsultationView, *, finished: bool) -> None:
    assert ctx.state is not None
    data = ctx.state.data
    answers: dict[str, Any] = dict(data.get("a", {}))
    area = data.get("area") if isinstance(data.get("area"), str) else None
    ctx.end()
    if not finished and all(value is None for value in answers.values()):
        ui.show_menu(
            ctx, ctx.tr("Stopped. Nothing was kept; you can take part later with /survey.")
        )
        return
    try:
        await cs.submit(
            ctx.session,
            consultation_id=consultation.id,
            contact_id=ctx.person.contact_id,
            area=area,
            answers=answers,
            finished=finished,
            now=ctx.now,
            gazetteer=ctx.deps.content.gazetteer,
        )
    except cs.ConsultationError as exc:
        ui.show_menu(ctx, _refusal(ctx, exc.code))
        return
    kept = ctx.tr(
        "Your answers were added to the totals. Nothing links them to you. When the "
        "consultation closes you will get a short summary of what people told us."
    )
    lead = ctx.tr("Thank you!") if finished else ctx.tr("Stopped. Thank you for what you answered.")
    ui.show_menu(ctx, f"{lead} {kept}")


async def on_input(msg: Incoming, ctx: Context) -> None:
    """Typed text: the answer to a free-text question, else ask again."""
    assert ctx.state is not None
    consultation = await _current(ctx)
    if consultation is None:
        return
    if alerts.is_stop(msg):  # STOP here means stop answering, not stop the alerts
        await _finish(ctx, consultation, finished=False)
        return
    number = int(ctx.state.data.get("q", 0))
    if ctx.state.step == Step.QUESTION and 1 <= number <= len(consultation.questions):
        question = consultation.questions[number - 1]
        if question.kind is cs.Kind.TEXT:
            text = cs.clean_text(msg.text or "", gazetteer=ctx.deps.content.gazetteer)
            if text:
                await _answer(ctx, consultation, number, text)
                return
    _show(ctx, consultation, lead=ui.please_choose(ctx))


async def on_unusable(msg: Incoming, ctx: Context) -> None:
    """A sticker, photo…: say what can be read, then the question again."""
    consultation = await _current(ctx)
    if consultation is not None:
        _show(ctx, consultation, lead=ui.unreadable(ctx))


ROUTES = ModuleRoutes(
    commands={"survey": on_command},
    options={PREFIX: on_option, INVITE: on_invite},
    flows={FLOW: on_input},
    unusable={FLOW: on_unusable},
    menu=(MenuCommand("survey", "Answer a community consultation"),),
)
