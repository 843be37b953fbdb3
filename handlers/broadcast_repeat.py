"""Repeating an alert: Schedule… → Repeat… → weekdays (or Every day) → a typed local time.

::

    [Mon] [Tue] … [Sun] (toggle) [Every day] [Done] [Cancel] → "At what time? 18:00"
    → scheduled: "every Friday at 18:00, America/Vancouver time", next on Fri 2026-11-27 18:00

The rule is the alerts service's :class:`~bot.services.alerts.Recurrence` in the areas' zone;
each occurrence goes out as its own alert. ``/scheduled`` lists the series and cancels it.
"""

from __future__ import annotations

from bot.core.context import Context
from bot.services import alerts
from bot.services.alert_words import day_names, describe_repeat, next_time
from bot.services.alerts import AlertError, AlertView
from handlers import ui
from handlers.broadcast_common import FLOW, Step, ask, button, data, own_draft


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
    rule = alerts.repeat_rule(_chosen(ctx), typed)
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
            rule=describe_repeat(ctx.tr, rule, zone.key),
            next=next_time(ctx.tr, view, zone),
        )
    )
    return True
