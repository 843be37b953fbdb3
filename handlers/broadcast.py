"""Coordinators: ``/broadcast`` (compose, preview, send or schedule an alert) and ``/scheduled``.

::

    /broadcast → [🚨 Urgent warning] [New alert] [Update an earlier alert] [All clear]
    Urgent warning (or /urgent) → one area → one message → preview
               (:mod:`handlers.broadcast_urgent`)
    New alert → kind → severity → areas (several + Done, or Everywhere)
               → sold as → found to contain → appearance → symptoms → advice (each skippable)
               → how long it stays current → preview → [Send now] [Schedule…] [Cancel]
    Schedule… → [Once] → typed local date and time (YYYY-MM-DD HH:MM, the areas' time zone)
              → [Repeat…] → weekdays and a local time (:mod:`handlers.broadcast_repeat`)
    Update / All clear → :mod:`handlers.broadcast_followup`
    Send now → live progress with [Refresh] (:mod:`handlers.broadcast_progress`)
    Add photo → :mod:`handlers.broadcast_photo`
    A draft from a community report: edit or confirm it first (:mod:`handlers.broadcast_check`)
    Preview → [Add details…] → a field, how serious, how long, areas (:mod:`handlers.broadcast_add`)
    /broadcast update A12 | allclear A12 | status A12 → straight there
    /scheduled → scheduled alerts and repeating series, each with [Cancel]

What a coordinator types is alert content: it is stored in the alert (that is its purpose) and
never logged. Each step that answers a button replaces the flow's message (one message on
screen, no stale buttons; see :func:`handlers.broadcast_common.ask`). The draft is made only
at the preview, so a conversation left half-way leaves nothing behind. Validation is the
alerts service's.

Buttons: ``bc:<run>:<action>[:<arg>]``, ``sch:<run>:cancel:<alert id>`` and
``bcp:<tag>:refresh:<alert id>``. Every press is re-authorised (coordinators only).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

from bot.core.context import Context
from bot.core.messages import Incoming, InputKind, Option
from bot.core.routes import MenuCommand
from bot.db.models import EVERYWHERE, FollowUp
from bot.domain import AlertKind, AlertStatus
from bot.services import alerts
from bot.services.alert_words import (
    describe_repeat,
    lifetime_label,
    next_time,
    severity_label,
    unchecked_refusal,
)
from bot.services.alerts import LIFETIME_CHOICES, AlertError, AlertView
from handlers import (
    broadcast_add,
    broadcast_check,
    broadcast_details,
    broadcast_followup,
    broadcast_languages_preview,
    broadcast_paid,
    broadcast_photo,
    broadcast_progress,
    broadcast_repeat,
    broadcast_urgent,
    ui,
)
from handlers.alerts import area_name
from handlers.broadcast_common import (
    COMPOSED,
    FLOW,
    PREFIX,
    WHEN_FORMAT,
    Step,
    draft_of,
    field_prompt,
    kind_label,
    refuse,
)
from handlers.broadcast_common import ask as _ask
from handlers.broadcast_common import data as _data
from handlers.broadcast_common import fields as _fields
from handlers.broadcast_common import run as _run
from handlers.routes import ModuleRoutes

__all__ = ["FLOW", "PREFIX", "ROUTES", "kind_label", "refuse", "show_preview", "start"]

# What the preview of a draft that may go out adds under Send now and Schedule…: each section
# gives lines and buttons (its buttons answered by its own module, through on_option).
Section = Callable[[Context, AlertView, str], tuple[list[str], list[Option]]]
PREVIEW_SECTIONS: tuple[Section, ...] = (
    broadcast_add.preview_section,
    broadcast_languages_preview.preview_section,
)

SCHEDULED_FLOW = "scheduled"
SCHEDULED_PREFIX = "sch"


# --- state ---------------------------------------------------------------------------------------


def _areas(ctx: Context) -> list[str]:
    areas = _data(ctx).get("areas")
    return [a for a in areas if isinstance(a, str)] if isinstance(areas, list) else []


# --- steps ---------------------------------------------------------------------------------------


async def start(ctx: Context) -> None:
    """Begin: a new alert, or a follow-up to an earlier one."""
    if refuse(ctx):
        return
    ctx.end()
    ctx.goto(FLOW, Step.MODE, run=ui.new_run(), areas=[], fields={})
    _ask_mode(ctx)


def _ask_mode(ctx: Context, hint: str = "") -> None:
    run = _run(ctx)
    options = [
        Option(ctx.tr("🚨 Urgent warning"), ui.payload(PREFIX, run, "mode", "urgent")),
        Option(ctx.tr("New alert"), ui.payload(PREFIX, run, "mode", "new")),
        Option(ctx.tr("Update an earlier alert"), ui.payload(PREFIX, run, "mode", "update")),
        Option(ctx.tr("All clear"), ui.payload(PREFIX, run, "mode", "clear")),
        Option(ctx.tr("Cancel"), ui.payload(PREFIX, run, "quit")),
    ]
    _ask(ctx, hint, ctx.tr("A new alert, or a follow-up to one that went out?"), options)


def _ask_kind(ctx: Context, hint: str = "") -> None:
    ctx.goto(FLOW, Step.KIND)
    run = _run(ctx)
    options = [
        Option(kind_label(ctx.tr, kind), ui.payload(PREFIX, run, "kind", kind.value))
        for kind in AlertKind
    ]
    options.append(Option(ctx.tr("Cancel"), ui.payload(PREFIX, run, "quit")))
    _ask(ctx, hint, ctx.tr("What kind of alert?"), options)


def _ask_severity(ctx: Context, hint: str = "") -> None:
    ctx.goto(FLOW, Step.SEVERITY)
    run = _run(ctx)
    options = [
        Option(severity_label(ctx.tr, n), ui.payload(PREFIX, run, "sev", n))
        for n in alerts.SEVERITIES
    ]
    _ask(ctx, hint, ctx.tr("How serious is it?"), options)


def _ask_areas(ctx: Context, number: int = 0, hint: str = "") -> None:
    ctx.goto(FLOW, Step.AREAS, page=number)
    run = _run(ctx)
    chosen = set(_areas(ctx))
    choices = [
        Option(
            ("✓ " if area.code in chosen else "") + area.name,
            ui.payload(PREFIX, run, "area", area.code),
        )
        for area in ctx.deps.content.gazetteer.areas
    ]
    back = [
        Option(ctx.tr("Everywhere"), ui.payload(PREFIX, run, "every")),
        Option(ctx.tr("Done"), ui.payload(PREFIX, run, "done")),
    ]
    options = ui.page(choices, number, more=ui.payload(PREFIX, run, "page"), back=back, tr=ctx.tr)
    text = ctx.tr("Which areas? Choose each one, then Done.")
    _ask(ctx, hint, text, list(options), columns=2)


def _ask_field(ctx: Context, index: int, hint: str = "") -> None:
    ctx.goto(FLOW, Step.FIELD, field=index)
    run = _run(ctx)
    name = COMPOSED[index]
    text = ctx.tr(
        "{question}\nType it (up to {n} characters), or Skip.",
        question=field_prompt(ctx.tr, name),
        n=alerts.FIELD_LIMITS[name],
    )
    options = [
        Option(ctx.tr("Skip"), ui.payload(PREFIX, run, "skip", index)),
        Option(ctx.tr("Cancel"), ui.payload(PREFIX, run, "quit")),
    ]
    _ask(ctx, hint, text, options, columns=2)


def _ask_lifetime(ctx: Context, hint: str = "") -> None:
    ctx.goto(FLOW, Step.LIFETIME)
    run = _run(ctx)
    options = [
        Option(lifetime_label(ctx.tr, hours), ui.payload(PREFIX, run, "ttl", hours))
        for hours in LIFETIME_CHOICES
    ]
    _ask(ctx, hint, ctx.tr("How long should it stay current?"), options, columns=2)


async def _next_field(ctx: Context, index: int) -> None:
    """Ask the field after ``index``, or move on once all are asked."""
    if index + 1 < len(COMPOSED):
        _ask_field(ctx, index + 1)
        return
    try:
        alerts.validate_fields(_fields(ctx))
    except AlertError:
        ctx.goto(FLOW, Step.FIELD, fields={})
        hint = ctx.tr(
            "An alert needs at least one field, and at most {n} characters in all. "
            "Let's fill them in again.",
            n=alerts.MAX_FIELDS_TOTAL,
        )
        _ask_field(ctx, 0, hint)
        return
    _ask_lifetime(ctx)


async def _preview(ctx: Context, hours: int) -> None:
    """Make the draft and show exactly what people will receive."""
    try:
        draft = await alerts.create_draft(
            ctx.session,
            kind=AlertKind(str(_data(ctx).get("kind"))),
            severity=int(_data(ctx).get("severity", 0)),
            areas=_areas(ctx),
            fields=_fields(ctx),
            gazetteer=ctx.deps.content.gazetteer,
            now=ctx.now,
            lifetime=timedelta(hours=hours),
            created_by_id=ctx.person.coordinator_id,
            locale=ctx.tr.locale,
        )
    except (AlertError, ValueError):
        ctx.end()
        ctx.reply(ctx.tr("Something in this alert was not right. Nothing was saved. /broadcast"))
        return
    await show_preview(ctx, draft)


async def show_preview(ctx: Context, draft: AlertView, hint: str = "") -> None:
    """The draft as recipients will read it, then Send now / Schedule / Cancel (and its
    other languages: :mod:`handlers.broadcast_languages`)."""
    if ctx.state is None or ctx.state.flow != FLOW:
        ctx.end()
        ctx.goto(FLOW, Step.PREVIEW, run=ui.new_run())
    ctx.goto(FLOW, Step.PREVIEW, alert=draft.id)
    run = _run(ctx)
    content = ctx.deps.content
    shown = await alerts.preview(
        ctx.session,
        alert_id=draft.id,
        t=ctx.tr,
        gazetteer=content.gazetteer,
        cards=content.cards,
        directory=content.directory,
        now=ctx.now,
    )
    lines = [
        ctx.tr("Preview of {ref}: this is exactly what people will get.", ref=draft.reference),
        "———",
        shown.text,
        "———",
        ctx.tr.plural(
            "If sent now, it goes to {n} person.",
            "If sent now, it goes to {n} people.",
            shown.recipients,
        ),
    ]
    if draft.needs_check:
        # From a community report: nothing to send or schedule until it is edited or checked.
        extra, first = broadcast_check.preview_section(ctx, draft)
    else:
        extra, first = (
            [],
            [
                Option(ctx.tr("Send now"), ui.payload(PREFIX, run, "send", draft.id)),
                Option(ctx.tr("Schedule…"), ui.payload(PREFIX, run, "later", draft.id)),
            ],
        )
        for section in PREVIEW_SECTIONS:
            more_lines, more_options = section(ctx, draft, run)
            extra += more_lines
            first += more_options
        photo_lines, photo = await broadcast_photo.preview_options(ctx, draft, run)
        extra += photo_lines
        first += photo
        first += broadcast_details.preview_options(ctx, draft, run)
    # How long it takes, what paid would cost, and [Paid broadcast] once it may go out.
    paid_lines, paid = await broadcast_paid.preview_section(
        ctx, draft, run, choose=not draft.needs_check
    )
    lines += paid_lines
    first += paid
    lines += extra
    options = [*first, Option(ctx.tr("Cancel"), ui.payload(PREFIX, run, "drop", draft.id))]
    _ask(ctx, hint, "\n".join(lines), options)


async def _send(ctx: Context, draft: AlertView) -> None:
    await alerts.send_now(
        ctx.session,
        alert_id=draft.id,
        now=ctx.now,
        max_paid_stars=ctx.deps.config.pace.max_stars,
    )
    ctx.wake_outbox()
    ctx.end()
    sent = await alerts.get(ctx.session, alert_id=draft.id)
    assert sent is not None
    await broadcast_progress.show(ctx, sent, broadcast_paid.went_free(ctx, draft, sent))


def _ask_how(ctx: Context, draft: AlertView, hint: str = "") -> None:
    ctx.goto(FLOW, Step.HOW)
    run = _run(ctx)
    options = [
        Option(ctx.tr("Once"), ui.payload(PREFIX, run, "once", draft.id)),
        Option(ctx.tr("Repeat…"), ui.payload(PREFIX, run, "repeat", draft.id)),
        Option(ctx.tr("Cancel"), ui.payload(PREFIX, run, "drop", draft.id)),
    ]
    _ask(ctx, hint, ctx.tr("Send it once, or repeat it?"), options, columns=2)


def _ask_when(ctx: Context, draft: AlertView, hint: str = "") -> None:
    ctx.goto(FLOW, Step.WHEN)
    zone = alerts.zone_for(draft.areas, ctx.deps.content.gazetteer)
    example = (ctx.now + timedelta(days=1)).astimezone(zone).strftime("%Y-%m-%d 18:00")
    text = ctx.tr(
        "When should it go out? Type the local date and time ({zone}) like {example}.",
        zone=zone.key,
        example=example,
    )
    options = [Option(ctx.tr("Cancel"), ui.payload(PREFIX, _run(ctx), "drop", draft.id))]
    _ask(ctx, hint, text, options)


async def _schedule(ctx: Context, draft: AlertView, typed: str) -> None:
    gazetteer = ctx.deps.content.gazetteer
    zone = alerts.zone_for(draft.areas, gazetteer)
    try:
        view, at = await alerts.schedule_local(
            ctx.session, alert_id=draft.id, typed=typed, gazetteer=gazetteer, now=ctx.now
        )
    except AlertError:
        _ask_when(
            ctx,
            draft,
            ctx.tr("That is not a date and time in the future, within a year. Try again."),
        )
        return
    ctx.wake_outbox()  # its timer: it goes out at its minute, not at the tick after
    ctx.end()
    ctx.reply(
        ctx.tr(
            "{ref} is scheduled for {when} ({zone}). /scheduled lists it.",
            ref=view.reference,
            when=at.strftime(WHEN_FORMAT),
            zone=zone.key,
        )
    )


async def _quit(ctx: Context) -> None:
    alert_id = _data(ctx).get("alert")
    if isinstance(alert_id, int):
        await alerts.cancel(ctx.session, alert_id=alert_id, now=ctx.now)
    ctx.end()
    ctx.reply(ctx.tr("Cancelled. Nothing was sent."), in_place=True)


# --- entry points --------------------------------------------------------------------------------


async def on_broadcast(msg: Incoming, ctx: Context) -> None:
    """``/broadcast``, or ``/broadcast update|allclear|status A12``."""
    if refuse(ctx):
        return
    word, _, rest = msg.args.strip().partition(" ")
    word = word.lower()
    if not word:
        await start(ctx)
        return
    ctx.end()
    if word == "update":
        await broadcast_followup.direct(ctx, FollowUp.UPDATE, rest)
    elif word in ("allclear", "all-clear", "clear"):
        await broadcast_followup.direct(ctx, FollowUp.ALL_CLEAR, rest)
    elif word == "status":
        await broadcast_progress.status(ctx, rest)
    else:
        ctx.reply(
            ctx.tr(
                "Use /broadcast, or /broadcast update A12, /broadcast allclear A12, "
                "/broadcast status A12."
            )
        )


async def on_urgent(msg: Incoming, ctx: Context) -> None:
    """``/urgent``: an urgent warning straight away (as /broadcast → Urgent warning)."""
    if refuse(ctx):
        return
    ctx.end()
    ctx.goto(FLOW, Step.URGENT_AREA, run=ui.new_run(), areas=[], fields={})
    broadcast_urgent.ask_area(ctx)


async def on_option(msg: Incoming, ctx: Context) -> None:
    """A ``bc:`` button."""
    if refuse(ctx):
        return
    press = ui.parse(msg.option, PREFIX)
    step = ui.current(ctx, FLOW, press)
    if press is None or step is None:
        ui.expired(ctx)
        return
    action, arg = press.action, press.arg
    if action == "quit" or (action == "drop" and step in (Step.PREVIEW, Step.HOW, Step.WHEN)):
        await _quit(ctx)
        return
    for part in (broadcast_repeat, broadcast_followup, broadcast_urgent):
        if await part.on_option(ctx, step, action, arg):
            return
    back = broadcast_followup.show_preview if step == Step.FU_PREVIEW else show_preview
    if await broadcast_paid.on_option(ctx, step, action, arg, back):
        return
    for with_preview in (broadcast_check, broadcast_add, broadcast_details, broadcast_photo):
        if await with_preview.on_option(ctx, step, action, arg, show_preview):
            return
    if action == "mode" and step == Step.MODE and arg == "new":
        _ask_kind(ctx)
    elif action == "mode" and step == Step.MODE and arg == "urgent":
        broadcast_urgent.ask_area(ctx)
    elif action == "mode" and step == Step.MODE:
        await _on_follow_mode(ctx, arg)
    elif action == "kind" and step == Step.KIND and arg in {k.value for k in AlertKind}:
        ctx.goto(FLOW, Step.SEVERITY, kind=arg)
        _ask_severity(ctx)
    elif action == "sev" and step == Step.SEVERITY and ui.as_int(arg) in alerts.SEVERITIES:
        ctx.goto(FLOW, Step.AREAS, severity=ui.as_int(arg))
        _ask_areas(ctx)
    elif step == Step.AREAS and action in ("area", "page", "every", "done"):
        _on_areas(ctx, action, arg)
    elif action == "skip" and step == Step.FIELD and ui.as_int(arg) == _data(ctx).get("field"):
        await _next_field(ctx, int(arg))
    elif action == "ttl" and step == Step.LIFETIME and ui.as_int(arg) in LIFETIME_CHOICES:
        await _preview(ctx, int(arg))
    elif (action in ("send", "later") and step == Step.PREVIEW) or (
        action in ("once", "repeat") and step == Step.HOW
    ):
        draft = await draft_of(ctx, arg)
        if draft is None:
            ctx.end()
            ui.expired(ctx)
        elif draft.needs_check:
            await show_preview(ctx, draft, unchecked_refusal(ctx.tr))
        elif action == "send":
            await _send(ctx, draft)
        elif action == "later":
            _ask_how(ctx, draft)
        elif action == "once":
            _ask_when(ctx, draft)
        else:
            ctx.goto(FLOW, Step.DAYS, days=[])
            broadcast_repeat.ask_days(ctx)
    else:
        ui.expired(ctx)


async def _on_follow_mode(ctx: Context, arg: str) -> None:
    if arg == "update":
        await broadcast_followup.choose(ctx, FollowUp.UPDATE)
    elif arg == "clear":
        await broadcast_followup.choose(ctx, FollowUp.ALL_CLEAR)
    else:
        ui.expired(ctx)


def _on_areas(ctx: Context, action: str, arg: str) -> None:
    chosen = _areas(ctx)
    page = ui.as_int(str(_data(ctx).get("page", 0))) or 0
    if action == "area" and ctx.deps.content.gazetteer.by_code(arg) is not None:
        chosen = [c for c in chosen if c != arg] if arg in chosen else [*chosen, arg]
        ctx.goto(FLOW, Step.AREAS, areas=chosen)
        _ask_areas(ctx, page)
    elif action == "page" and (number := ui.as_int(arg)) is not None:
        _ask_areas(ctx, min(number, ui.pages_of(len(ctx.deps.content.gazetteer.areas)) - 1))
    elif action == "every":
        ctx.goto(FLOW, Step.FIELD, areas=[EVERYWHERE])
        _ask_field(ctx, 0)
    elif action == "done" and chosen:
        _ask_field(ctx, 0)
    elif action == "done":
        _ask_areas(ctx, page, ctx.tr("Choose at least one area, or Everywhere."))
    else:
        ui.expired(ctx)


async def on_input(msg: Incoming, ctx: Context) -> None:
    """Typed text while composing: a field's content or a schedule time; else ask again."""
    if refuse(ctx):
        return
    assert ctx.state is not None
    step = ctx.state.step
    if await broadcast_photo.on_input(ctx, msg, step, show_preview):
        return
    typed = msg.text if msg.kind is InputKind.TEXT else ""
    if step == Step.FIELD:
        await _on_field(ctx, typed)
        return
    if await broadcast_repeat.on_input(ctx, step, typed):
        return
    if await broadcast_followup.on_input(ctx, step, typed):
        return
    for with_preview in (broadcast_check, broadcast_urgent, broadcast_add):
        if await with_preview.on_input(ctx, step, typed, show_preview):
            return
    if await broadcast_details.on_input(ctx, step):
        return
    hint = ui.please_choose(ctx)
    if step in (Step.WHEN, Step.PREVIEW, Step.HOW):
        alert_id = _data(ctx).get("alert")
        draft = await draft_of(ctx, alert_id)
        if draft is None:
            ctx.end()
            ui.expired(ctx)
        elif step == Step.WHEN and typed:
            await _schedule(ctx, draft, typed)
        elif step == Step.HOW:
            _ask_how(ctx, draft, hint)
        else:
            await show_preview(ctx, draft, hint)
    elif step == Step.MODE:
        _ask_mode(ctx, hint)
    elif step == Step.SEVERITY:
        _ask_severity(ctx, hint)
    elif step == Step.AREAS:
        _ask_areas(ctx, ui.as_int(str(_data(ctx).get("page", 0))) or 0, hint)
    elif step == Step.LIFETIME:
        _ask_lifetime(ctx, hint)
    else:
        _ask_kind(ctx, hint)


async def _on_field(ctx: Context, typed: str) -> None:
    index = _data(ctx).get("field")
    if not isinstance(index, int) or not 0 <= index < len(COMPOSED):
        ctx.end()
        ui.expired(ctx)
        return
    name = COMPOSED[index]
    limit = alerts.FIELD_LIMITS[name]
    try:
        text = alerts.check_field(name, typed)
    except AlertError:
        text = None
    if not text:
        hint = ctx.tr(
            "That can't be used: plain text only, up to {n} characters. Type it again, or Skip.",
            n=limit,
        )
        _ask_field(ctx, index, hint)
        return
    ctx.goto(FLOW, Step.FIELD, fields={**_fields(ctx), name: text})
    await _next_field(ctx, index)


# --- /scheduled ----------------------------------------------------------------------------------


async def on_scheduled(msg: Incoming, ctx: Context) -> None:
    """``/scheduled``: alerts waiting to go out, each with Cancel."""
    if refuse(ctx):
        return
    ctx.end()
    ctx.goto(SCHEDULED_FLOW, "list", run=ui.new_run())
    await _list_scheduled(ctx)


async def _list_scheduled(ctx: Context, lead: str = "") -> None:
    waiting = await alerts.list_alerts(ctx.session, statuses=[AlertStatus.SCHEDULED])
    lines = [lead] if lead else []
    if not waiting:
        ctx.end()
        lines.append(ctx.tr("No alerts are scheduled."))
        ctx.reply("\n\n".join(lines))
        return
    run = _run(ctx)
    lines.append(ctx.tr("Scheduled alerts:"))
    options = []
    for view in waiting:
        zone = alerts.zone_for(view.areas, ctx.deps.content.gazetteer)
        when = view.due_at.astimezone(zone).strftime(WHEN_FORMAT) if view.due_at else "?"
        areas = ", ".join(area_name(ctx, code) for code in view.areas)
        if view.recurrence:
            line = ctx.tr(
                "{ref} · {kind} · {areas} · {rule} · next {when}",
                ref=view.reference,
                kind=kind_label(ctx.tr, view.kind),
                areas=areas,
                rule=describe_repeat(ctx.tr, view.recurrence, view.timezone or zone.key),
                when=next_time(ctx.tr, view, zone),
            )
        else:
            line = ctx.tr(
                "{ref} · {kind} · {areas} · {when} ({zone})",
                ref=view.reference,
                kind=kind_label(ctx.tr, view.kind),
                areas=areas,
                when=when,
                zone=zone.key,
            )
        lines.append(line)
        label = ctx.tr("Cancel {ref}", ref=view.reference)
        options.append(Option(label, ui.payload(SCHEDULED_PREFIX, run, "cancel", view.id)))
    ctx.reply("\n".join(lines), options)


async def on_scheduled_option(msg: Incoming, ctx: Context) -> None:
    """A ``sch:`` button."""
    if refuse(ctx):
        return
    press = ui.parse(msg.option, SCHEDULED_PREFIX)
    step = ui.current(ctx, SCHEDULED_FLOW, press)
    alert_id = ui.as_int(press.arg) if press is not None else None
    if press is None or step is None or press.action != "cancel" or alert_id is None:
        ui.expired(ctx)
        return
    view = await alerts.get(ctx.session, alert_id=alert_id)
    if view is None or view.status is not AlertStatus.SCHEDULED:
        await _list_scheduled(ctx, ctx.tr("That alert is no longer scheduled."))
        return
    await alerts.cancel(ctx.session, alert_id=alert_id, now=ctx.now)
    if view.recurrence:
        # Only the template is stopped: occurrences already sent are alerts of their own.
        lead = ctx.tr(
            "{ref} is cancelled: it will not repeat. Alerts it already sent are unchanged.",
            ref=view.reference,
        )
    else:
        lead = ctx.tr("{ref} is cancelled.", ref=view.reference)
    await _list_scheduled(ctx, lead)


async def on_scheduled_input(msg: Incoming, ctx: Context) -> None:
    """Typed text under ``/scheduled``: list again."""
    if refuse(ctx):
        return
    await _list_scheduled(ctx, ui.please_choose(ctx))


ROUTES = ModuleRoutes(
    commands={"broadcast": on_broadcast, "urgent": on_urgent, "scheduled": on_scheduled},
    options={
        PREFIX: on_option,
        SCHEDULED_PREFIX: on_scheduled_option,
        broadcast_progress.PREFIX: broadcast_progress.on_refresh,
    },
    flows={FLOW: on_input, SCHEDULED_FLOW: on_scheduled_input},
    staff_flows=frozenset({FLOW, SCHEDULED_FLOW}),
    # A photo (the photo step) or a sticker: on_input decides (handlers.broadcast_photo).
    unusable={FLOW: on_input},
    menu=(
        MenuCommand("broadcast", "Coordinators: send an alert"),
        MenuCommand("urgent", "Coordinators: urgent warning"),
        MenuCommand("scheduled", "Coordinators: scheduled alerts"),
    ),
)
