"""``/closed``: one-off closures in chat. Peers close their own outlet, coordinators any outlet.

``/closed`` (a peer's outlets) or ``/closed OUTLET_KEY`` shows whether the outlet is open, its
current and upcoming closures, and buttons to close it for the rest of today or tomorrow, or to
reopen it now. Closing at once moves the offers waiting there for a peer's answer on to the next
outlet (accepted pickups stay: a peer holds them); reopening routes held requests nearby.

Payloads (each press is re-authorised)::

    cls:t:<outlet>  rest of today     cls:m:<outlet>  tomorrow
    cls:o:<outlet>  reopen now        cls:x:<closure> cancel an upcoming closure
"""

from __future__ import annotations

import re
from datetime import datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import select

from bot.core.context import Context
from bot.core.messages import Incoming, Option
from bot.core.words import Translator
from bot.db.models import Outlet, OutletClosure, PeerWorker
from bot.domain import ClosureReason
from bot.services import closures, outlet_hours
from bot.services.closures import Closure, ClosureError
from handlers import offers, outlet_changes, ui
from handlers.routes import ModuleRoutes

PREFIX = "cls"
_PAYLOAD = re.compile(rf"{PREFIX}:([tmox]):([0-9]{{1,9}})")
ACTOR_PEER = "peer"
ACTOR_COORDINATOR = "coordinator"


async def closed_command(msg: Incoming, ctx: Context) -> None:
    """``/closed [OUTLET_KEY]``: the outlet's state and closures, with what can be done."""
    if not ctx.person.is_peer and not ctx.person.is_coordinator:
        ctx.reply(ctx.tr("This command is for peer workers."))
        return
    key = msg.args.strip()
    if key:
        outlet_id = await ctx.session.scalar(select(Outlet.id).where(Outlet.key == key[:64]))
        if outlet_id is None or not await _may_close(ctx, outlet_id):
            ctx.reply(ctx.tr("No outlet with that key that you look after."))
            return
        await _show(ctx, outlet_id)
        return
    mine = await _my_outlets(ctx)
    if not mine:
        ctx.reply(ctx.tr("Send /closed OUTLET_KEY to close an outlet or open it again."))
        return
    for outlet_id in mine:
        await _show(ctx, outlet_id)


async def closed_button(msg: Incoming, ctx: Context) -> None:
    """A ``cls:`` button: close today / tomorrow, reopen now, cancel one closure."""
    match = _PAYLOAD.fullmatch(msg.option or "")
    if match is None:
        ctx.reply(ui.no_longer_valid(ctx))
        return
    action, ident = match.group(1), int(match.group(2))
    if action == "x":
        outlet_id = await ctx.session.scalar(
            select(OutletClosure.outlet_id).where(OutletClosure.id == ident)
        )
        if outlet_id is None:
            ctx.reply(ui.no_longer_valid(ctx))
            return
    else:
        outlet_id = ident
    if not await _may_close(ctx, outlet_id):
        ctx.reply(ui.not_for_you(ctx))
        return
    actor = ACTOR_COORDINATOR if ctx.person.is_coordinator else ACTOR_PEER
    try:
        if action == "t" and await closures.closed_now(
            ctx.session, outlet_ids=[outlet_id], now=ctx.now
        ):
            pass  # a second tap of the same button: closed already
        elif action == "t":
            closed = await outlet_changes.close_today(ctx, outlet_id=outlet_id, actor=actor)
            ctx.reply(_moved(ctx.tr, len(closed.lapsed)))
        elif action == "m":
            await outlet_changes.close_tomorrow(ctx, outlet_id=outlet_id, actor=actor)
        elif action == "o":
            await outlet_changes.reopen_now(ctx, outlet_id=outlet_id, actor=actor)
        else:
            await outlet_changes.reopen(ctx, outlet_id=outlet_id, closure_id=ident, actor=actor)
    except ClosureError:
        ctx.reply(ui.no_longer_valid(ctx))
        return
    await _show(ctx, outlet_id)


async def _show(ctx: Context, outlet_id: int) -> None:
    t = ctx.tr
    outlet = await ctx.session.get_one(Outlet, outlet_id)
    listed = await closures.current_and_upcoming(ctx.session, outlet_id=outlet_id, now=ctx.now)
    state = outlet_hours.describe(
        outlet.hours,
        timezone=outlet.timezone,
        now=ctx.now,
        closures=[(c.starts_at, c.ends_at) for c in listed],
    )
    lines = [t("{outlet}: {state}", outlet=outlet.name, state=ui.hours_now_text(t, state, ctx.now))]
    if listed:
        lines.append(t("Closures:"))
        lines += [_closure_line(t, c, outlet.timezone, ctx.now) for c in listed]
    else:
        lines.append(t("No closures planned."))
    active = any(c.active(ctx.now) for c in listed)
    options = []
    if not active:
        options.append(Option(t("Closed for the rest of today"), f"{PREFIX}:t:{outlet_id}"))
    tomorrow = closures.local_midnight(ctx.now, _zone(outlet.timezone), days=1)
    if not any(c.starts_at <= tomorrow < c.ends_at for c in listed):
        options.append(Option(t("Closed tomorrow"), f"{PREFIX}:m:{outlet_id}"))
    if active:
        options.append(Option(t("Reopen now"), f"{PREFIX}:o:{outlet_id}"))
    options += [
        Option(
            t("Cancel the closure from {start}", start=_local(c.starts_at, outlet, ctx.now)),
            f"{PREFIX}:x:{c.id}",
        )
        for c in listed
        if not c.active(ctx.now)
    ][:3]
    ctx.reply("\n".join(lines), options)


def _closure_line(t: Translator, closure: Closure, timezone: str, now: datetime) -> str:
    reason = {
        ClosureReason.HOLIDAY: t("holiday"),
        ClosureReason.CLOSED_TODAY: t("closed"),
        ClosureReason.OTHER: t("closed"),
    }[closure.reason]
    return t(
        "- {start} to {end} ({reason})",
        start=offers.local_time(closure.starts_at, timezone, now),
        end=offers.local_time(closure.ends_at, timezone, now),
        reason=reason,
    )


def _local(at: datetime, outlet: Outlet, now: datetime) -> str:
    return offers.local_time(at, outlet.timezone, now)


def _moved(t: Translator, n: int) -> str:
    if not n:
        return t("Closed for the rest of today. No new offers come here until it reopens.")
    return t.plural(
        "Closed for the rest of today. {n} waiting offer was moved to another outlet.",
        "Closed for the rest of today. {n} waiting offers were moved to other outlets.",
        n,
    )


def _zone(timezone: str) -> ZoneInfo:
    try:
        return ZoneInfo(timezone)
    except (ValueError, OSError, ZoneInfoNotFoundError):
        return ZoneInfo("UTC")


async def _may_close(ctx: Context, outlet_id: int) -> bool:
    """Coordinators any outlet; a peer only one they are active at."""
    if ctx.person.is_coordinator:
        return await ctx.session.get(Outlet, outlet_id) is not None
    return outlet_id in await _my_outlets(ctx)


async def _my_outlets(ctx: Context) -> list[int]:
    if not ctx.person.peer_ids:
        return []
    return list(
        await ctx.session.scalars(
            select(PeerWorker.outlet_id)
            .where(PeerWorker.id.in_(ctx.person.peer_ids), PeerWorker.active.is_(True))
            .order_by(PeerWorker.outlet_id)
            .distinct()
        )
    )


ROUTES = ModuleRoutes(
    commands={"closed": closed_command},
    options={PREFIX: closed_button},
)
