"""Shared pieces of the person-facing conversations: menu, buttons, small renderers.

Button payloads look like ``<prefix>:<run>:<action>[:<argument>]``. ``run`` is a short random
tag stored with the conversation when it starts, so a button from an earlier conversation (or a
forged one) never matches the current state: it gets "That button has expired" (on Signal
"That choice…") and changes nothing. Payloads carry codes and numbers, never anything about
who pressed them.
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from bot.content import ItemSpec, OpeningHours
from bot.core.context import Context
from bot.core.messages import Option
from bot.core.words import Translator
from bot.domain import Channel
from bot.services import requests
from bot.services.outlet_hours import HoursNow

MENU = "menu"
PAGE_SIZE = 6  # choices per message (plus More and Back): old phones show few buttons
MAX_OPEN_REQUESTS = 3
QUOTE_CHARS = 40  # the most of anything a person typed that is ever shown back


# --- menu ----------------------------------------------------------------------------------------


def menu_options(tr: Translator) -> tuple[Option, ...]:
    """The main menu."""
    return (
        Option(tr("Supplies"), f"{MENU}:supplies"),
        Option(tr("Naloxone"), f"{MENU}:naloxone"),
        Option(tr("Referral"), f"{MENU}:referral"),
        Option(tr("My requests"), f"{MENU}:status"),
        Option(tr("Info"), f"{MENU}:info"),
        Option(tr("Emergency"), f"{MENU}:emergency"),
    )


def back_to_menu(tr: Translator) -> Option:
    """The way out of any conversation."""
    return Option(tr("Back to menu"), f"{MENU}:main")


def show_menu(ctx: Context, text: str) -> None:
    """Reply ``text`` with the main menu under it."""
    ctx.reply(text, menu_options(ctx.tr), columns=2)


def unreadable(ctx: Context) -> str:
    """What to say to a sticker, photo, voice note...: nothing in it is read or kept.

    Worded for the channel: Signal has no buttons and no location button."""
    if ctx.person.channel is Channel.SIGNAL:
        return ctx.tr("I can only read text: a number from the list, words, or a map link.")
    return ctx.tr("I can only read text, buttons and locations.")


def expired(ctx: Context) -> None:
    """A stale or forged button: say so, show the menu, change nothing."""
    show_menu(ctx, expired_words(ctx, menu=True))


# Words about choosing, worded for the channel: Signal shows numbered lists, not buttons, so
# its people never read "button" or "tap" (every handler says these through here).


def please_choose(ctx: Context) -> str:
    """Input the step cannot use: ask for one of its choices again."""
    if ctx.person.channel is Channel.SIGNAL:
        return ctx.tr("Please choose one of the options.")
    return ctx.tr("Please choose one of the buttons.")


def no_longer_valid(ctx: Context) -> str:
    """A choice that belongs to something already over (a request, a line, an invite)."""
    if ctx.person.channel is Channel.SIGNAL:
        return ctx.tr("That choice is no longer valid.")
    return ctx.tr("That button is no longer valid.")


def not_for_you(ctx: Context) -> str:
    """A choice meant for someone else (another peer's offer)."""
    if ctx.person.channel is Channel.SIGNAL:
        return ctx.tr("That choice is not for you.")
    return ctx.tr("This button is not for you.")


def expired_words(ctx: Context, *, menu: bool = False) -> str:
    """A stale choice from an earlier conversation (``menu``: the menu follows)."""
    if ctx.person.channel is Channel.SIGNAL:
        if menu:
            return ctx.tr("That choice has expired. Here is the menu.")
        return ctx.tr("That choice has expired.")
    if menu:
        return ctx.tr("That button has expired. Here is the menu.")
    return ctx.tr("That button has expired.")


# --- conversation state --------------------------------------------------------------------------


def new_run() -> str:
    """A fresh tag for a conversation's buttons."""
    return secrets.token_hex(2)


def run_tag(ctx: Context) -> str:
    """The current conversation's run tag ("" outside a conversation)."""
    return str(ctx.state.data.get("run", "")) if ctx.state else ""


@dataclass(frozen=True, slots=True)
class Press:
    """A button press split into its parts."""

    run: str
    action: str
    arg: str = ""


def parse(payload: str | None, prefix: str) -> Press | None:
    """``"sup:1a2b:item:fts"`` → ``Press("1a2b", "item", "fts")``; None when malformed."""
    parts = (payload or "").split(":", 3)
    if len(parts) < 3 or parts[0] != prefix or not parts[1] or not parts[2]:
        return None
    return Press(run=parts[1], action=parts[2], arg=parts[3] if len(parts) == 4 else "")


def current(ctx: Context, flow: str, press: Press | None) -> str | None:
    """The step the conversation ``flow`` is at, if ``press`` belongs to it; else None."""
    state = ctx.state
    if press is None or state is None or state.flow != flow:
        return None
    if state.data.get("run") != press.run:
        return None
    return state.step


def payload(prefix: str, run: str, action: str, arg: object = None) -> str:
    """Build a button payload."""
    return f"{prefix}:{run}:{action}" if arg is None else f"{prefix}:{run}:{action}:{arg}"


def as_int(text: str) -> int | None:
    """A small non-negative integer from button data, or None."""
    if not text.isascii() or not text.isdigit() or len(text) > 9:
        return None
    return int(text)


# --- lists ---------------------------------------------------------------------------------------


def page(
    choices: Sequence[Option],
    number: int,
    *,
    more: str,
    back: Sequence[Option],
    size: int = PAGE_SIZE,
    tr: Translator,
) -> tuple[Option, ...]:
    """One page of ``choices`` then ``back``; ``more`` is a payload stem for page numbers."""
    pages = pages_of(len(choices), size)
    number = min(max(number, 0), pages - 1)
    shown = list(choices[number * size : (number + 1) * size])
    if number + 1 < pages:
        shown.append(Option(tr("More ›"), f"{more}:{number + 1}"))
    if number > 0:
        shown.append(Option(tr("‹ Previous"), f"{more}:{number - 1}"))
    return (*shown, *back)


def pages_of(count: int, size: int = PAGE_SIZE) -> int:
    """How many pages ``count`` choices fill."""
    return max(1, -(-count // size))


# --- words ---------------------------------------------------------------------------------------


def quote(text: str, limit: int = QUOTE_CHARS) -> str:
    """Something a person typed, cut short enough to show back."""
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def packs_text(tr: Translator, spec: ItemSpec, packs: int) -> str:
    """``2 packs (20 syringes)``."""
    return tr.plural(
        "{n} pack ({units} {unit})",
        "{n} packs ({units} {unit})",
        packs,
        units=packs * spec.pack_size,
        unit=tr(spec.unit),
    )


def item_line(tr: Translator, spec: ItemSpec, packs: int) -> str:
    """``- Alcohol swabs: 2 packs (40 swabs)``, or ``- Sharps bin × 2`` for single things."""
    if spec.pack_size == 1:
        return tr("- {name} × {n}", name=tr(spec.name), n=packs)
    return tr("- {name}: {packs}", name=tr(spec.name), packs=packs_text(tr, spec, packs))


def hours_line(tr: Translator, hours: OpeningHours, zone: ZoneInfo, now: datetime) -> str:
    """``Open now`` or ``Opens Thu 10:00``, then the weekly hours."""
    weekly = describe_hours(tr, hours)
    if hours.is_open(now, zone):
        return tr("Open now. Hours: {hours}", hours=weekly)
    opens = hours.next_open(now, zone)
    if opens is None:
        return tr("Closed. Hours: {hours}", hours=weekly)
    local = opens.astimezone(zone)
    when = local.strftime("%H:%M")
    if local.date() != now.astimezone(zone).date():
        when = f"{_weekday(tr, local.weekday())} {when}"
    return tr("Closed now, opens {when}. Hours: {hours}", when=when, hours=weekly)


def hours_now_text(tr: Translator, state: HoursNow, now: datetime) -> str:
    """``Open now, closes 18:00`` / ``Closed now, opens Tue 10:00`` (from outlet_hours.describe).

    Times are shown as they are (in the outlet's zone); the day only when it is not today there.
    """
    if state.open:
        if state.closes_at is None:
            return tr("Open now.")
        return tr("Open now, closes {when}.", when=_when(tr, state.closes_at, now))
    if state.opens_at is None:
        return tr("Closed now.")
    when = _when(tr, state.opens_at, now)
    if state.closure:
        return tr("Closed for now, opens {when}.", when=when)
    return tr("Closed now, opens {when}.", when=when)


def _when(tr: Translator, local: datetime, now: datetime) -> str:
    when = local.strftime("%H:%M")
    if local.date() != now.astimezone(local.tzinfo).date():
        when = f"{_weekday(tr, local.weekday())} {when}"
    return when


def _weekday(tr: Translator, day: int) -> str:
    return _weekdays(tr)[day]


def _weekdays(tr: Translator) -> tuple[str, ...]:
    return (tr("Mon"), tr("Tue"), tr("Wed"), tr("Thu"), tr("Fri"), tr("Sat"), tr("Sun"))


def describe_hours(tr: Translator, hours: OpeningHours) -> str:
    """Weekly hours in the reader's words: ``Mon–Fri 10:00–18:00, Sat 12:00–16:00``."""
    return hours.describe(
        day_titles=_weekdays(tr),
        daily=tr("Daily"),
        always=tr("24/7"),
        closed=tr("Closed"),
        whole_day=tr("24h"),
    )


# --- requests ------------------------------------------------------------------------------------


async def item_ids(ctx: Context) -> dict[str, int]:
    """Catalogue code → item id (mirrored at start-up, then remembered per process)."""
    return await ctx.deps.items.get(ctx.session, ctx.deps.content.catalogue)


async def open_requests(ctx: Context) -> int:
    """How many open requests the person has."""
    return len(await requests.open_for_contact(ctx.session, contact_id=ctx.person.contact_id))


def too_many(ctx: Context) -> None:
    """Refuse a new request: the person already has the most allowed open at once."""
    ctx.end()
    show_menu(
        ctx,
        ctx.tr(
            "You already have {n} open requests, the most at one time.\n"
            "See them with /status, or cancel one with /cancel.",
            n=MAX_OPEN_REQUESTS,
        ),
    )


def sent(ctx: Context, outcome: requests.RouteOutcome, reference: str) -> None:
    """Tell the person what happens next with the request just made.

    On ``unrouted`` dispatch has already queued the answer (fixed services, emergency number),
    so nothing is added here.
    """
    ctx.end()
    if outcome.result is requests.RouteResult.UNROUTED:
        return
    if outcome.result is requests.RouteResult.OFFERED:
        text = ctx.tr(
            "Request sent. Reference: {ref}\n"
            "A peer near you has been asked. You'll get the pickup place and a code here.\n"
            "/status to check, /cancel to cancel.",
            ref=reference,
        )
    else:  # routed by someone else meanwhile, or already expired: /status tells which
        text = ctx.tr("Request saved. Reference: {ref}\n/status to check.", ref=reference)
    ctx.reply(text)
