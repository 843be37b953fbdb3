"""Repeating an alert: Schedule… → Repeat… → weekdays (or Every day) → a typed local time.

::

    [Mon] [Tue] … [Sun] (toggle) [Every day] [Done] [Cancel] → "At what time? 18:00"
    → scheduled: "every Friday at 18:00, America/Vancouver time", next on Fri 2026-11-27 18:00

The rule is the alerts service's :class:`~bot.services.alerts.Recurrence` in the areas' zone;
each occurrence goes out as its own alert. ``/scheduled`` lists the series and cancels it.
"""

from __future__ import annotations

import re
from zoneinfo import ZoneInfo

from bot.core.context import Context
from bot.core.words import Translator
from bot.services import alerts
from bot.services.alerts import AlertError, AlertView, Recurrence
from handlers import ui
from handlers.broadcast_common import FLOW, WHEN_FORMAT, Step, ask, button, data, own_draft

_DAY_CODES = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
# 18:00, 9:30, 18.00 or 18h00; anything longer is not a time.
_TIME = re.compile(r"([01]?\d|2[0-3])[:.h]([0-5]\d)")
TIME_CHARS = 12


def day_names(t: Translator) -> tuple[str, ...]:
    return (
        t("Monday"),
        t("Tuesday"),
        t("Wednesday"),
        t("Thursday"),
        t("Friday"),
        t("Saturday"),
        t("Sunday"),
    )


def describe(t: Translator, rule: str, zone: str) -> str:
    """``every Friday at 18:00, America/Vancouver time``."""
    recurrence = Recurrence.parse(rule)
    clock = f"{recurrence.at.hour:02d}:{recurrence.at.minute:02d}"
    if len(recurrence.weekdays) == 7:
        return t("every day at {time}, {zone} time", time=clock, zone=zone)
    names = [day_names(t)[d] for d in sorted(recurrence.weekdays)]
    days = t.join(names)
    return t("every {days} at {time}, {zone} time", days=days, time=clock, zone=zone)


def next_time(t: Translator, view: AlertView, zone: ZoneInfo) -> str:
    """``Friday 2026-11-27 18:00``: the next occurrence, local."""
    if view.due_at is None:
        return "?"
    local = view.due_at.astimezone(zone)
    return f"{day_names(t)[local.weekday()]} {local.strftime(WHEN_FORMAT)}"


def _chosen(ctx: Context) -> list[int]:
    days = data(ctx).get("days")
    return (
        sorted({d for d in days if isinstance(d, int) and 0 <= d < 7})
        if isinstance(days, list)
        else []
    )


def ask_days(ctx: Context, hint: str = "") -> None:
    """Which weekdays: toggles, Every day, Done."""
    ctx.goto(FLOW, Step.DAYS)
    chosen = set(_chosen(ctx))
    options = [
        button(ctx, ("✓ " if day in chosen else "") + name, "day", day)
        for day, name in enumerate(day_names(ctx.tr))
    ]
    options += [
        button(ctx, ctx.tr("Every day"), "daily"),
        button(ctx, ctx.tr("Done"), "days"),
        button(ctx, ctx.tr("Cancel"), "quit"),
    ]
    text = ctx.tr("Repeat on which days? Choose each one, then Done.")
    ask(ctx, hint, text, options, columns=2)


def _ask_time(ctx: Context, draft: AlertView, hint: str = "") -> None:
    ctx.goto(FLOW, Step.TIME)
    zone = alerts.zone_for(draft.areas, ctx.deps.content.gazetteer)
    text = ctx.tr("At what time? Type the local time ({zone}) like 18:00.", zone=zone.key)
    ask(ctx, hint, text, [button(ctx, ctx.tr("Cancel"), "quit")])


async def on_option(ctx: Context, step: str, action: str, arg: str) -> bool:
    """A press while choosing days; False when it is not one of ours."""
    if step != Step.DAYS or action not in ("day", "daily", "days"):
        return False
    draft = await own_draft(ctx)
    if draft is None:
        return True
    day = ui.as_int(arg)
    if action == "day" and day is not None and day < 7:
        chosen = _chosen(ctx)
        ctx.goto(
            FLOW,
            Step.DAYS,
            days=[d for d in chosen if d != day] if day in chosen else [*chosen, day],
        )
        ask_days(ctx)
    elif action == "daily":
        ctx.goto(FLOW, Step.TIME, days=list(range(7)))
        _ask_time(ctx, draft)
    elif action == "days" and _chosen(ctx):
        _ask_time(ctx, draft)
    elif action == "days":
        ask_days(ctx, ctx.tr("Choose at least one day, or Every day."))
    else:
        ui.expired(ctx)
    return True


def _rule(days: list[int], typed: str) -> str | None:
    """``weekly:fri@18:00`` from the chosen days and a typed time; None if it is not a time."""
    typed = typed.strip()
    match = _TIME.fullmatch(typed) if len(typed) <= TIME_CHARS else None
    if match is None or not days:
        return None
    clock = f"{int(match[1]):02d}:{match[2]}"
    if len(days) == 7:
        return f"daily@{clock}"
    return "weekly:" + ",".join(_DAY_CODES[d] for d in days) + f"@{clock}"


async def on_input(ctx: Context, step: str, typed: str) -> bool:
    """Typed text while repeating; False when the step is not ours."""
    if step not in (Step.DAYS, Step.TIME):
        return False
    draft = await own_draft(ctx)
    if draft is None:
        return True
    if step == Step.DAYS:
        ask_days(ctx, ui.please_choose(ctx))
        return True
    rule = _rule(_chosen(ctx), typed)
    if rule is None:
        _ask_time(ctx, draft, ctx.tr("That is not a time. Type hours and minutes, like 18:00."))
        return True
    gazetteer = ctx.deps.content.gazetteer
    try:
        view = await alerts.schedule_recurring(
            ctx.session, alert_id=draft.id, rule=rule, gazetteer=gazetteer, now=ctx.now
        )
    except AlertError:  # stopped or scheduled meanwhile (another tap, another device)
        ctx.end()
        ui.expired(ctx)
        return True
    zone = alerts.zone_for(view.areas, gazetteer)
    ctx.wake_outbox()  # its timer: each occurrence goes out at its minute
    ctx.end()
    ctx.reply(
        ctx.tr(
            "{ref} will go out {rule}. Next: {next}. /scheduled lists it and can stop it.",
            ref=view.reference,
            rule=describe(ctx.tr, rule, zone.key),
            next=next_time(ctx.tr, view, zone),
        )
    )
    return True
