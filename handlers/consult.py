"""``/consult``: coordinators list consultations, open and close them, read compact results
and approve the "what you told us" summary.

Consultations are written in the console or with ``hrbot consultation add FILE.yaml``; the
chat only runs them. Everything shown is counts through
:func:`bot.services.suppression.publish` ("fewer than 5"), never a person; free texts are
left to the console. Buttons: ``cn:<action>:<consultation>`` (checked against the role at
every press, so a forwarded button does nothing for anyone else).
"""

from __future__ import annotations

from datetime import timedelta
from zoneinfo import ZoneInfo

from bot.core.context import Context
from bot.core.messages import Incoming, Option
from bot.core.words import Translator
from bot.services import consultations as cs
from bot.services.suppression import Shown, publish
from handlers import ui
from handlers.routes import ModuleRoutes
from handlers.survey import last_day

PREFIX = "cn"
# /stats lists consultations open now or closed within this long.
RECENT = timedelta(days=30)


def shown(tr: Translator, count: Shown) -> str:
    """A published count in words: "fewer than 5" for a hidden one."""
    return tr("fewer than 5") if count.hidden else str(count.value)


def _status(tr: Translator, consultation: cs.ConsultationView) -> str:
    status = consultation.status
    if status is cs.ConsultationStatus.DRAFT:
        return tr.pgettext("consultation", "draft")
    if status is cs.ConsultationStatus.OPEN:
        return tr.pgettext("consultation", "open")
    if status is cs.ConsultationStatus.CLOSED:
        return tr("closed, summary to approve")
    if status is cs.ConsultationStatus.APPROVED:
        return tr("closed, summary being sent")
    return tr("closed, summary sent")


def _zone(ctx: Context) -> ZoneInfo:
    return ZoneInfo(ctx.deps.content.gazetteer.city.timezone)


def _line(ctx: Context, consultation: cs.ConsultationView) -> str:
    tr = ctx.tr
    return tr(
        "#{id} “{title}”: {status}; {n} answered; open until {date}",
        id=consultation.id,
        title=cs.pick(consultation.title, tr.locale),
        status=_status(tr, consultation),
        n=shown(tr, publish(consultation.participants)),
        date=last_day(consultation, _zone(ctx)),
    )


async def _require(ctx: Context) -> bool:
    if ctx.person.is_coordinator:
        return True
    ctx.reply(ctx.tr("This command is for coordinators."))
    return False


def _button(label: str, action: str, consultation_id: int) -> Option:
    return Option(label, f"{PREFIX}:{action}:{consultation_id}", wide=True)


def _buttons(tr: Translator, consultation: cs.ConsultationView) -> list[Option]:
    n = consultation.id
    status = consultation.status
    if status is cs.ConsultationStatus.DRAFT:
        return [_button(tr("Open #{id}", id=n), "open", n)]
    options = [_button(tr("Results #{id}", id=n), "results", n)]
    if status is cs.ConsultationStatus.OPEN:
        options.append(_button(tr("Close #{id} now", id=n), "close", n))
    if status is cs.ConsultationStatus.CLOSED:
        options.append(_button(tr("Summary #{id}", id=n), "summary", n))
    return options


async def on_command(msg: Incoming, ctx: Context) -> None:
    """``/consult``: every consultation with its status and how many answered."""
    if not await _require(ctx):
        return
    found = await cs.list_all(ctx.session)
    if not found:
        ctx.reply(
            ctx.tr(
                "No consultations yet. Write one in the console, or from a YAML file with "
                "hrbot consultation add FILE."
            )
        )
        return
    lines = [ctx.tr("Consultations:")] + [_line(ctx, c) for c in found[:10]]
    options = [o for c in found[:10] for o in _buttons(ctx.tr, c)]
    ctx.reply("\n".join(lines), options)


async def on_option(msg: Incoming, ctx: Context) -> None:
    """A ``cn:`` button."""
    if not await _require(ctx):
        return
    parts = (msg.option or "").split(":")
    number = ui.as_int(parts[2]) if len(parts) == 3 else None
    if number is None:
        ui.expired(ctx)
        return
    action = parts[1]
    try:
        consultation = await cs.get(ctx.session, consultation_id=number)
        if action == "open":
            size = await cs.audience_size(ctx.session, consultation_id=number)
            ctx.reply(
                ctx.tr(
                    "Open “{title}” now? {n} people will get one invitation.",
                    title=cs.pick(consultation.title, ctx.tr.locale),
                    n=size,
                ),
                [
                    _button(ctx.tr("Yes, open it"), "open!", number),
                    _button(ctx.tr("Cancel"), "list", number),
                ],
            )
        elif action == "open!":
            opened = await cs.open_consultation(ctx.session, consultation_id=number, now=ctx.now)
            ctx.reply(
                ctx.tr("Opened. Invitations go out in the next minutes.")
                + "\n"
                + _line(ctx, opened)
            )
        elif action == "close":
            ctx.reply(
                ctx.tr(
                    "Close “{title}” now? Nobody can answer after that.",
                    title=cs.pick(consultation.title, ctx.tr.locale),
                ),
                [
                    _button(ctx.tr("Yes, close it"), "close!", number),
                    _button(ctx.tr("Cancel"), "list", number),
                ],
            )
        elif action == "close!":
            await cs.close_consultation(ctx.session, consultation_id=number, now=ctx.now)
            translators = dict(ctx.deps.words.locales)
            await cs.prepare_summaries(ctx.session, translators=translators, consultation_id=number)
            closed = await cs.get(ctx.session, consultation_id=number)
            _show_summary(ctx, closed, lead=ctx.tr("Closed."))
        elif action == "results":
            await _show_results(ctx, number)
        elif action == "summary":
            _show_summary(ctx, consultation)
        elif action == "approve":
            await cs.approve_summary(ctx.session, consultation_id=number, now=ctx.now)
            ctx.reply(
                ctx.tr(
                    "Approved. The summary goes to everyone who took part, each in their "
                    "language; then the list of who took part is deleted."
                )
            )
        elif action == "list":
            await on_command(msg, ctx)
        else:
            ui.expired(ctx)
    except cs.ConsultationError as exc:
        ctx.reply(_error(ctx.tr, exc))


def _error(tr: Translator, exc: cs.ConsultationError) -> str:
    if exc.code == "not_found":
        return tr("No such consultation.")
    if exc.code == "closes":
        return tr("Its closing date has passed: change it in the console first.")
    if exc.code == "no_summary":
        return tr("The summary is not drafted yet; try again in a minute.")
    return tr("That cannot be done now: the consultation has moved on. /consult shows it.")


def _show_summary(ctx: Context, consultation: cs.ConsultationView, *, lead: str = "") -> None:
    tr = ctx.tr
    if consultation.summary is None:
        ctx.reply(tr("The summary is not drafted yet; try again in a minute."))
        return
    text = tr(
        "The summary participants will get (each in their language; you can edit it in "
        "the console):\n\n{summary}",
        summary=cs.pick(consultation.summary, tr.locale),
    )
    options = []
    if consultation.status is cs.ConsultationStatus.CLOSED:
        options.append(
            _button(tr("Approve and send #{id}", id=consultation.id), "approve", consultation.id)
        )
    ctx.reply(f"{lead}\n\n{text}" if lead else text, options)


async def _show_results(ctx: Context, consultation_id: int) -> None:
    ctx.reply(render_results(ctx, await cs.results(ctx.session, consultation_id=consultation_id)))


def render_results(ctx: Context, found: cs.Results) -> str:
    """The compact results for the chat: overall counts per question (free texts: how many
    were written; read them in the console)."""
    tr = ctx.tr
    locale = tr.locale
    consultation = found.consultation
    lines = [
        tr("Results of “{title}”", title=cs.pick(consultation.title, locale)),
        tr(
            "Took part: {n} (finished {done}, stopped {stopped})",
            n=shown(tr, found.participants),
            done=shown(tr, found.finished),
            stopped=shown(tr, found.stopped),
        ),
    ]
    names = {a.code: a.name for a in ctx.deps.content.gazetteer.areas}
    unnamed = tr("not given")
    areas = [
        f"{names.get(a.area_code, a.area_code) if a.area_code else unnamed} "
        f"{shown(tr, a.participants)}"
        for a in found.areas
    ]
    if areas:
        lines.append(tr("By area: {areas}", areas="; ".join(areas)))
    for result in found.questions:
        question = result.question
        lines.append("")
        lines.append(f"{result.number}. {cs.pick(question.text, locale)}")
        overall = result.overall
        if question.kind is cs.Kind.TEXT:
            lines.append(
                tr(
                    "Written answers: {n} (read them in the console)",
                    n=shown(tr, result.texts_written),
                )
            )
        else:
            for key, count in overall.rows:
                lines.append(f"- {cs.choice_label(question, key, locale)}: {shown(tr, count)}")
            if overall.mean is not None:
                lines.append(tr("Average: {mean} of 5", mean=format(overall.mean, ".1f")))
        lines.append(tr("Skipped: {n}", n=shown(tr, overall.skipped)))
    lines.append("")
    lines.append(tr("Counts are rounded to the nearest 5; fewer than 5 is never shown exactly."))
    return "\n".join(lines)


async def stats_lines(ctx: Context) -> list[str]:
    """For /stats: a line per consultation open now or closed in the last 30 days."""
    lines = []
    for consultation in await cs.list_all(ctx.session):
        if consultation.status is cs.ConsultationStatus.DRAFT:
            continue
        if consultation.closed_at is not None and consultation.closed_at < ctx.now - RECENT:
            continue
        lines.append(_line(ctx, consultation))
    if lines:
        lines.insert(0, ctx.tr("Consultations (/consult):"))
    return lines


ROUTES = ModuleRoutes(
    commands={"consult": on_command},
    options={PREFIX: on_option},
)
