"""What coordinators read about alerts, in chat and in the console alike.

The labels of kinds, severities, lifetimes and fields, the questions for each field, how a
repeat rule and a delivery tally are said: one wording, so the ``/broadcast`` conversation and
the console's *Alerts* page never drift apart.
"""

from __future__ import annotations

from datetime import timedelta
from zoneinfo import ZoneInfo

from bot.core.words import Translator
from bot.domain import AlertKind
from bot.services.alerts import WHEN_FORMAT, AlertView, Pace, Reach, Recurrence, Tally

__all__ = [
    "day_names",
    "describe_repeat",
    "duration_label",
    "field_label",
    "field_prompt",
    "kind_label",
    "lifetime_label",
    "next_time",
    "paid_lines",
    "reach_line",
    "severity_label",
    "stars_label",
    "tally_line",
    "took_line",
    "unchecked_refusal",
    "went_free_line",
]


def kind_label(t: Translator, kind: AlertKind) -> str:
    """What a coordinator calls each kind."""
    if kind is AlertKind.BAD_BATCH:
        return t("Bad batch")
    if kind is AlertKind.SAFETY:
        return t("Safety message")
    return t("Service change")


def severity_label(t: Translator, severity: int) -> str:
    """1 advisory, 2 warning, 3 danger."""
    return {1: t("Advisory"), 2: t("Warning"), 3: t("Danger")}.get(severity, str(severity))


def lifetime_label(t: Translator, hours: int) -> str:
    """``6 hours`` or ``3 days``."""
    if hours % 24 == 0:
        return t.plural("{n} day", "{n} days", hours // 24)
    return t.plural("{n} hour", "{n} hours", hours)


def field_prompt(t: Translator, name: str) -> str:
    """The question for one structured field."""
    prompts = {
        "summary": t("What's happening? One message: what it is, where, what to do."),
        "sold_as": t("What is it sold as? (for example: down, benzo, crystal)"),
        "found_to_contain": t("What was it found to contain? (for example: nitazenes, xylazine)"),
        "appearance": t("What does it look like?"),
        "symptoms": t("What effects have people seen?"),
        "advice": t("What should people do?"),
    }
    return prompts[name]


def field_label(t: Translator, name: str) -> str:
    """What each structured field is called in a question."""
    labels = {
        "summary": t("What's happening"),
        "sold_as": t("Sold as"),
        "found_to_contain": t("Found to contain"),
        "appearance": t("Looks like"),
        "symptoms": t("Effects seen"),
        "advice": t("Advice"),
    }
    return labels[name]


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


def describe_repeat(t: Translator, rule: str, zone: str) -> str:
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


def tally_line(t: Translator, tally: Tally) -> str:
    """``Sent 3 · pending 4 · failed 0 · unreachable 0 · unknown 0``."""
    line = t(
        "Sent {sent} · pending {pending} · failed {failed} · unreachable {unreachable} · "
        "unknown {unknown}",
        sent=tally.sent,
        pending=tally.pending + tally.sending,
        failed=tally.failed,
        unreachable=tally.unreachable,
        unknown=tally.unknown,
    )
    if tally.expired:
        line += "\n" + t("Not sent, because it expired or was stopped first: {n}.", n=tally.expired)
    return line


def unchecked_refusal(t: Translator) -> str:
    """Why a draft from a community report cannot go out yet."""
    return t(
        "This draft comes from a community report: edit its text, or confirm that no one "
        "can be identified in it, before it goes out."
    )


def duration_label(t: Translator, seconds: float) -> str:
    """``40 s``, ``12 min`` or ``3 h``: rounded, as an estimate or a measure is read."""
    if seconds < 90:
        return t("{n} s", n=max(1, round(seconds)))
    minutes = round(seconds / 60)
    if minutes < 120:
        return t("{n} min", n=minutes)
    return t("{n} h", n=round(minutes / 60))


def reach_line(t: Translator, reach: Reach, pace: Pace, *, paid: bool) -> str:
    """``Reaches everyone in about 2 min``: each channel's recipients over its pace."""
    return t(
        "Reaches everyone in about {duration}.",
        duration=duration_label(t, reach.seconds(pace, paid=paid)),
    )


def paid_lines(t: Translator, reach: Reach, pace: Pace, *, paid: bool) -> list[str]:
    """What a paid broadcast would cost, and whether it is chosen or may be: nothing when
    paid broadcast is off (``HRBOT_PAID_BROADCAST_MAX_STARS=0``) and not chosen."""
    if pace.max_stars <= 0 and not paid:
        return []
    stars = stars_label(reach)
    cost = t.plural(
        "Paid broadcast: {n} Telegram message × 0.1 Stars = {stars} Stars (at most {cap}).",
        "Paid broadcast: {n} Telegram messages × 0.1 Stars = {stars} Stars (at most {cap}).",
        reach.paid_messages,
        stars=stars,
        cap=pace.max_stars,
    )
    if not reach.paid_allowed(pace):
        if paid:
            return [cost, t("Over the limit now: it will go out free, at the usual pace.")]
        return [cost, t("Not offered: over the limit, or no one on Telegram.")]
    if paid:
        return [cost, t("Chosen: it goes out as a paid broadcast, up to 1,000 messages a second.")]
    return [cost]


def stars_label(reach: Reach) -> str:
    """``60.0``: what a paid broadcast of ``reach`` costs, in Stars, to a tenth."""
    return f"{reach.stars:.1f}"


def took_line(t: Translator, took: timedelta) -> str:
    """How long it took from sending to the last delivery's outcome."""
    return t(
        "From sending to the last delivery: {duration}.",
        duration=duration_label(t, took.total_seconds()),
    )


def went_free_line(t: Translator, reference: str) -> str:
    """A paid alert over the cap at sending goes free: what its coordinator is told."""
    return t(
        "{ref} goes out as a free broadcast, at the usual pace: with the people it reaches "
        "now, a paid broadcast would cost more than the limit.",
        ref=reference,
    )
