"""``/report`` (anyone, anonymous: a bad batch) and ``/reports`` (coordinators: review them).

::

    /report → sold as → rough area (or Skip) → what happened → appearance (or Skip)
            → confirm → stored; coordinators get "New community report" (nothing about who)
    /reports → new reports, each with [Make draft alert] [Dismiss]
             → a draft goes straight to the /broadcast preview, where it must be edited or
               confirmed ("no one can be identified") before Send now / Schedule are offered

The report row holds no contact (see :mod:`bot.services.reports`); the conversation state keeps
the answers only until the report is sent or dropped, and only masked: each answer is masked
as it arrives (phones, addresses, names...), so the person confirms what will be kept, and the
words that could identify someone are never written anywhere, not even in the state.

Buttons: ``rp:<run>:<action>[:<arg>]`` and ``rq:<run>:<draft|dismiss>:<report id>``.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from bot.core.context import Context
from bot.core.messages import Incoming, InputKind, Option, Reply
from bot.core.routes import MenuCommand
from bot.core.words import Translator
from bot.privacy.hidden_text import hidden_line
from bot.privacy.masking import hidden
from bot.services import reports
from handlers import broadcast, offers, ui
from handlers.alerts import area_name
from handlers.routes import ModuleRoutes

FLOW = "report"
PREFIX = "rp"
REVIEW_FLOW = "reports"
REVIEW_PREFIX = "rq"
REVIEW_PAGE = 5
LOOKUP_CHARS = 200
NO_AREA = "-"


class Step(StrEnum):
    SOLD_AS = "sold_as"
    AREA = "area"
    WHAT = "what"
    APPEARANCE = "appearance"
    CONFIRM = "confirm"


def _data(ctx: Context) -> dict[str, Any]:
    assert ctx.state is not None
    return ctx.state.data


def _run(ctx: Context) -> str:
    return str(_data(ctx).get("run", ""))


def _ask(ctx: Context, hint: str, text: str, options: list[Option], columns: int = 1) -> None:
    ctx.reply(f"{hint}\n\n{text}" if hint else text, options, columns=columns)


def _quit_option(ctx: Context) -> Option:
    return Option(ctx.tr("Cancel"), ui.payload(PREFIX, _run(ctx), "quit"))


# --- /report -------------------------------------------------------------------------------------


async def on_report(msg: Incoming, ctx: Context) -> None:
    """``/report``."""
    ctx.end()
    ctx.goto(FLOW, Step.SOLD_AS, run=ui.new_run())
    lead = ctx.tr(
        "Report a bad batch. It is anonymous: nobody who reads it can see who sent it.\n"
        "Coordinators may use it to warn others."
    )
    _ask_sold_as(ctx, lead)


def _ask_sold_as(ctx: Context, hint: str = "") -> None:
    ctx.goto(FLOW, Step.SOLD_AS)
    text = ctx.tr("What was it sold as? (for example: down, benzo, crystal)")
    _ask(ctx, hint, text, [_quit_option(ctx)])


def _ask_area(ctx: Context, number: int = 0, hint: str = "") -> None:
    ctx.goto(FLOW, Step.AREA)
    run = _run(ctx)
    choices = [
        Option(area.name, ui.payload(PREFIX, run, "area", area.code))
        for area in ctx.deps.content.gazetteer.areas
    ]
    back = [
        Option(ctx.tr("Rather not say"), ui.payload(PREFIX, run, "area", NO_AREA)),
        _quit_option(ctx),
    ]
    options = ui.page(choices, number, more=ui.payload(PREFIX, run, "page"), back=back, tr=ctx.tr)
    text = ctx.tr("Roughly where was it? Type the area or choose it.")
    _ask(ctx, hint, text, list(options), columns=2)


def _ask_what(ctx: Context, hint: str = "") -> None:
    ctx.goto(FLOW, Step.WHAT)
    text = ctx.tr("What happened? (effects, overdoses, anything odd)")
    _ask(ctx, hint, text, [_quit_option(ctx)])


def _ask_appearance(ctx: Context, hint: str = "") -> None:
    ctx.goto(FLOW, Step.APPEARANCE)
    text = ctx.tr("What does it look like? (colour, texture, packaging) Or Skip.")
    options = [Option(ctx.tr("Skip"), ui.payload(PREFIX, _run(ctx), "skip")), _quit_option(ctx)]
    _ask(ctx, hint, text, options, columns=2)


def _confirm(ctx: Context, hint: str = "") -> None:
    ctx.goto(FLOW, Step.CONFIRM)
    data = _data(ctx)
    area = data.get("area")
    lines = [
        ctx.tr("Your report:"),
        ctx.tr("Sold as: {value}", value=str(data.get("sold_as", ""))),
        ctx.tr(
            "Area: {area}",
            area=area_name(ctx, area) if isinstance(area, str) else ctx.tr("not given"),
        ),
        ctx.tr("What happened: {value}", value=str(data.get("what", ""))),
    ]
    if isinstance(data.get("appearance"), str):
        lines.append(ctx.tr("Looks like: {value}", value=str(data["appearance"])))
    masked = hidden(*(str(data.get(k) or "") for k in ("sold_as", "what", "appearance")))
    if masked:
        lines += ["", hidden_line(ctx.tr, masked)]
    options = [
        Option(ctx.tr("Send report"), ui.payload(PREFIX, _run(ctx), "send")),
        _quit_option(ctx),
    ]
    _ask(ctx, hint, "\n".join(lines), options, columns=2)


def _clean(ctx: Context, name: str, typed: str) -> str | None:
    """The typed text as the reports service would store it (masked), or None if unusable."""
    try:
        text = reports.clean_field(name, typed, gazetteer=ctx.deps.content.gazetteer)
    except reports.ReportError:
        text = ""
    return text or None


def _unusable(ctx: Context, name: str) -> str:
    return ctx.tr(
        "That can't be used: plain text only, up to {n} characters. Please type it again.",
        n=reports.LIMITS[name],
    )


async def _submit(ctx: Context) -> None:
    data = _data(ctx)
    area = data.get("area")
    appearance = data.get("appearance")
    try:
        await reports.submit(
            ctx.session,
            sold_as=str(data.get("sold_as", "")),
            what_happened=str(data.get("what", "")),
            area_code=area if isinstance(area, str) else None,
            appearance=appearance if isinstance(appearance, str) else None,
            gazetteer=ctx.deps.content.gazetteer,
            now=ctx.now,
            # Only the key can check it, and only /forget does: to delete the sender's reports.
            author_tag=await reports.author_tag_of(
                ctx.session, key=ctx.deps.keys.pseudonym, contact_id=ctx.person.contact_id
            ),
        )
    except reports.ReportError:
        ctx.end()
        ui.show_menu(ctx, ctx.tr("Something in the report was not right. Nothing was sent."))
        return
    ctx.end()
    for contact_id in await offers.coordinator_contacts(ctx.session):
        ctx.notify(contact_id, _notice)
    ui.show_menu(
        ctx,
        ctx.tr(
            "Thank you. Your report was sent. Coordinators can't see who sent it, "
            "and /forget deletes it."
        ),
    )


def _notice(t: Translator) -> Reply:
    return Reply(t("New community report. See /reports."))


async def on_option(msg: Incoming, ctx: Context) -> None:
    """An ``rp:`` button."""
    press = ui.parse(msg.option, PREFIX)
    step = ui.current(ctx, FLOW, press)
    if press is None or step is None:
        ui.expired(ctx)
    elif press.action == "quit":
        ctx.end()
        ui.show_menu(ctx, ctx.tr("Stopped. Nothing was sent."))
    elif press.action == "area" and step == Step.AREA:
        if press.arg == NO_AREA:
            ctx.goto(FLOW, Step.WHAT, area=None)
            _ask_what(ctx)
        elif ctx.deps.content.gazetteer.by_code(press.arg) is not None:
            ctx.goto(FLOW, Step.WHAT, area=press.arg)
            _ask_what(ctx)
        else:
            ui.expired(ctx)
    elif press.action == "page" and step == Step.AREA:
        number = ui.as_int(press.arg)
        if number is None or number >= ui.pages_of(len(ctx.deps.content.gazetteer.areas)):
            ui.expired(ctx)
        else:
            _ask_area(ctx, number)
    elif press.action == "skip" and step == Step.APPEARANCE:
        ctx.goto(FLOW, Step.CONFIRM, appearance=None)
        _confirm(ctx)
    elif press.action == "send" and step == Step.CONFIRM:
        await _submit(ctx)
    else:
        ui.expired(ctx)


async def on_input(msg: Incoming, ctx: Context) -> None:
    """Typed answers; anything else gets the question again."""
    assert ctx.state is not None
    step = ctx.state.step
    typed = msg.text if msg.kind is InputKind.TEXT else ""
    if step == Step.SOLD_AS:
        text = _clean(ctx, "sold_as", typed)
        if text is None:
            _ask_sold_as(ctx, _unusable(ctx, "sold_as"))
        else:
            ctx.goto(FLOW, Step.AREA, sold_as=text)
            _ask_area(ctx)
    elif step == Step.AREA:
        area = ctx.deps.content.gazetteer.find(typed[:LOOKUP_CHARS])
        if area is None:
            _ask_area(ctx, 0, ctx.tr("I don't know that area. Choose it, or Rather not say."))
        else:
            ctx.goto(FLOW, Step.WHAT, area=area.code)
            _ask_what(ctx)
    elif step == Step.WHAT:
        text = _clean(ctx, "what_happened", typed)
        if text is None:
            _ask_what(ctx, _unusable(ctx, "what_happened"))
        else:
            ctx.goto(FLOW, Step.APPEARANCE, what=text)
            _ask_appearance(ctx)
    elif step == Step.APPEARANCE:
        text = _clean(ctx, "appearance", typed)
        if text is None:
            _ask_appearance(ctx, _unusable(ctx, "appearance"))
        else:
            ctx.goto(FLOW, Step.CONFIRM, appearance=text)
            _confirm(ctx)
    else:
        _confirm(ctx, ui.please_choose(ctx))


# --- /reports ------------------------------------------------------------------------------------


async def on_reports(msg: Incoming, ctx: Context) -> None:
    """``/reports``: the review queue."""
    if broadcast.refuse(ctx):
        return
    ctx.end()
    ctx.goto(REVIEW_FLOW, "list", run=ui.new_run())
    await _review(ctx)


async def _review(ctx: Context, lead: str = "") -> None:
    waiting = await reports.queue(ctx.session, limit=REVIEW_PAGE)
    blocks = [lead] if lead else []
    if not waiting:
        ctx.end()
        blocks.append(ctx.tr("No new community reports."))
        ctx.reply("\n\n".join(blocks))
        return
    run = _run(ctx)
    options = []
    for report in waiting:
        area = area_name(ctx, report.area_code) if report.area_code else ctx.tr("not given")
        lines = [
            ctx.tr(
                "{ref} · {area} · {time} UTC",
                ref=report.reference,
                area=area,
                time=report.created_at.strftime("%Y-%m-%d %H:00"),
            ),
            ctx.tr("Sold as: {value}", value=report.sold_as),
            ctx.tr("What happened: {value}", value=report.what_happened),
        ]
        if report.appearance:
            lines.append(ctx.tr("Looks like: {value}", value=report.appearance))
        if report.hidden:
            lines.append(hidden_line(ctx.tr, report.hidden))
        blocks.append("\n".join(lines))
        options += [
            Option(
                ctx.tr("Make draft alert {ref}", ref=report.reference),
                ui.payload(REVIEW_PREFIX, run, "draft", report.id),
            ),
            Option(
                ctx.tr("Dismiss {ref}", ref=report.reference),
                ui.payload(REVIEW_PREFIX, run, "dismiss", report.id),
            ),
        ]
    ctx.reply("\n\n".join(blocks), options, columns=2)


async def on_review_option(msg: Incoming, ctx: Context) -> None:
    """An ``rq:`` button."""
    if broadcast.refuse(ctx):
        return
    press = ui.parse(msg.option, REVIEW_PREFIX)
    step = ui.current(ctx, REVIEW_FLOW, press)
    report_id = ui.as_int(press.arg) if press is not None else None
    if press is None or step is None or report_id is None:
        ui.expired(ctx)
    elif press.action == "dismiss":
        if await reports.dismiss(ctx.session, report_id=report_id, now=ctx.now):
            await _review(ctx, ctx.tr("R{id} is dismissed.", id=report_id))
        else:
            await _review(ctx, ctx.tr("That report was already reviewed."))
    elif press.action == "draft":
        draft = await reports.to_draft(
            ctx.session,
            report_id=report_id,
            gazetteer=ctx.deps.content.gazetteer,
            now=ctx.now,
            created_by_id=ctx.person.coordinator_id,
        )
        if draft is None:
            await _review(ctx, ctx.tr("That report was already reviewed."))
        else:
            ctx.end()
            await broadcast.show_preview(ctx, draft)
    else:
        ui.expired(ctx)


async def on_review_input(msg: Incoming, ctx: Context) -> None:
    """Typed text under ``/reports``: list again."""
    if broadcast.refuse(ctx):
        return
    await _review(ctx, ui.please_choose(ctx))


ROUTES = ModuleRoutes(
    commands={"report": on_report, "reports": on_reports},
    options={PREFIX: on_option, REVIEW_PREFIX: on_review_option},
    flows={FLOW: on_input, REVIEW_FLOW: on_review_input},
    staff_flows=frozenset({REVIEW_FLOW}),
    menu=(
        MenuCommand("report", "Report a bad batch (anonymous)"),
        MenuCommand("reports", "Coordinators: community reports"),
    ),
)
