"""Coordinators: enrolling peers and coordinators, outlets at a glance, anonymous numbers.

Everything here shows places and counts, never people: no contact, peer or request appears.
Anyone else gets one neutral line, whatever they typed after the command.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from datetime import timedelta

from sqlalchemy import select

from bot.core.context import Context
from bot.core.messages import Incoming, Option
from bot.core.words import Translator
from bot.db.models import Item, Outlet, PeerWorker, Stock
from bot.domain import RequestKind, Role
from bot.services import closures, invites, shifts, stats
from bot.services.routing import is_open
from bot.services.suppression import publish
from handlers import consult, offers
from handlers.routes import ModuleRoutes

DEFAULT_STATS_DAYS = 30
# Answered by handlers.team (buttons of the team's own prefix).
CONFIRM_COORDINATOR_INVITE = "tm:ic"
CANCEL = "tm:k"
MAX_STATS_DAYS = 3650


async def _require_coordinator(ctx: Context) -> bool:
    if ctx.person.is_coordinator:
        return True
    ctx.reply(ctx.tr("This command is for coordinators."))
    return False


async def invite(msg: Incoming, ctx: Context) -> None:
    """``/invite peer OUTLET_KEY`` or ``/invite coordinator``: a single-use, expiring code."""
    if not await _require_coordinator(ctx):
        return
    args = msg.args.split()
    role = args[0].lower() if args else ""
    outlet_name: str | None = None
    outlet_id: int | None = None
    if role == Role.PEER.value and len(args) == 2:
        row = (
            await ctx.session.execute(
                select(Outlet.id, Outlet.name).where(Outlet.key == args[1][:64])
            )
        ).first()
        if row is None:
            ctx.reply(ctx.tr("No outlet with that key. /outlets lists them."))
            return
        outlet_id, outlet_name = row.id, row.name
    elif role == Role.COORDINATOR.value and len(args) == 1:
        # A coordinator can remove anyone: asked first, capped, and every coordinator hears
        # of it (handlers.team).
        ctx.reply(
            ctx.tr(
                "A coordinator can remove anyone, see every outlet and send alerts to "
                "everyone. Make a coordinator invite? Only one can be open at a time, and "
                "every coordinator is told."
            ),
            (
                Option(ctx.tr("Yes, make it"), CONFIRM_COORDINATOR_INVITE),
                Option(ctx.tr("Cancel"), CANCEL),
            ),
            columns=2,
        )
        return
    else:
        ctx.reply(ctx.tr("Use /invite peer OUTLET_KEY or /invite coordinator."))
        return
    ttl = ctx.deps.config.invite_ttl
    code = await invites.create(
        ctx.session,
        codes_key=ctx.deps.keys.codes,
        role=Role(role),
        ttl=ttl,
        outlet_id=outlet_id,
        created_by_id=ctx.person.coordinator_id,
        now=ctx.now,
    )
    ctx.reply(invite_text(ctx, code, outlet_name=outlet_name))


def invite_text(ctx: Context, code: str, *, outlet_name: str | None) -> str:
    """What a coordinator is shown of a new invite: who it enrols, until when, the code."""
    ttl = ctx.deps.config.invite_ttl
    t = ctx.tr
    if outlet_name is not None:
        lines = [t("Invite for a peer worker at {outlet}.", outlet=outlet_name)]
    else:
        lines = [t("Invite for a coordinator.")]
    lines.append(
        t(
            "Single use, valid until {time} UTC. Pass it on privately.",
            time=(ctx.now + ttl).strftime("%Y-%m-%d %H:%M"),
        )
    )
    lines.append(t("Code: {code}", code=code))
    username = ctx.deps.config.bot_username
    if username:
        lines.append(
            t("Telegram: https://t.me/{bot}?start={code}", bot=username.lstrip("@"), code=code)
        )
    lines.append(t("Or send the bot: /join {code}", code=code))
    return "\n".join(lines)


async def outlets_command(msg: Incoming, ctx: Context) -> None:
    """``/outlets``: each outlet, active/open now, low items, peers on shift (a count)."""
    if not await _require_coordinator(ctx):
        return
    t = ctx.tr
    rows = (await ctx.session.scalars(select(Outlet).order_by(Outlet.key))).all()
    if not rows:
        ctx.reply(t("No outlets yet. Import them with the command line tool."))
        return
    staffed: Counter[int] = Counter(
        await ctx.session.scalars(
            select(PeerWorker.outlet_id).where(shifts.on_shift_clause(ctx.now))
        )
    )
    low: dict[int, list[int]] = {}
    for row in await ctx.session.execute(
        select(Stock.outlet_id, Stock.item_id)
        .where(Stock.quantity <= Stock.low_threshold)
        .order_by(Stock.outlet_id, Stock.item_id)
    ):
        low.setdefault(row.outlet_id, []).append(row.item_id)
    codes = await _item_codes(ctx, {i for ids in low.values() for i in ids})
    closed = await closures.closed_now(ctx.session, now=ctx.now)
    lines = []
    for outlet in rows:
        if not outlet.active:
            state = t("inactive")
        elif outlet.id in closed:
            state = t("closed for now (/closed)")
        elif is_open(outlet.hours, outlet.timezone, ctx.now):
            state = t("open now")
        else:
            state = t("closed now")
        line = t(
            "{key} — {name}: {state}, {n} on shift",
            key=outlet.key,
            name=outlet.name,
            state=state,
            n=staffed.get(outlet.id, 0),
        )
        if outlet.id in low:
            line += "; " + t(
                "low: {items}", items=", ".join(codes.get(i, "?") for i in low[outlet.id])
            )
        lines.append(line)
    ctx.reply("\n".join(lines))


async def _item_codes(ctx: Context, item_ids: set[int]) -> dict[int, str]:
    if not item_ids:
        return {}
    rows = await ctx.session.execute(select(Item.id, Item.code).where(Item.id.in_(item_ids)))
    return {row.id: row.code for row in rows}


async def stats_command(msg: Incoming, ctx: Context) -> None:
    """``/stats [days]``: anonymous numbers for the last ``days`` (default 30)."""
    if not await _require_coordinator(ctx):
        return
    arg = msg.args.strip()
    days = DEFAULT_STATS_DAYS
    if arg:
        if not (arg.isascii() and arg.isdigit() and 1 <= int(arg[:5]) <= MAX_STATS_DAYS):
            ctx.reply(ctx.tr("Use /stats or /stats DAYS (1 to {max}).", max=MAX_STATS_DAYS))
            return
        days = int(arg)
    since, until = stats.last_days(ctx.now, days)
    numbers = await stats.compute(ctx.session, since=since, until=until)
    names = {
        row.id: row.key
        for row in await ctx.session.execute(
            select(Outlet.id, Outlet.key).where(Outlet.id.in_(list(numbers.by_outlet)))
        )
    }
    areas = {area.code: area.name for area in ctx.deps.content.gazetteer.areas}
    text = render_stats(ctx.tr, numbers, days=days, outlet_keys=names, area_names=areas)
    consultations = await consult.stats_lines(ctx)
    ctx.reply("\n".join([text, *consultations]) if consultations else text)


def render_stats(
    t: Translator,
    numbers: stats.Stats,
    *,
    days: int,
    outlet_keys: dict[int, str],
    area_names: Mapping[str, str] | None = None,
) -> str:
    """The /stats text."""
    lines = [t("Last {days} days:", days=days)]
    kinds = ", ".join(
        f"{offers.kind_label(t, kind)} {numbers.created_by_kind.get(kind.value, 0)}"
        for kind in RequestKind
    )
    lines.append(t("Requests: {n} ({kinds})", n=numbers.created, kinds=kinds))
    closed = numbers.closed_by_status
    lines.append(
        t(
            "Closed: {handed} handed over, {unrouted} unrouted, {cancelled} cancelled, "
            "{expired} expired; {open} open now",
            handed=closed.get("handed_over", 0),
            unrouted=closed.get("unrouted", 0),
            cancelled=closed.get("cancelled", 0),
            expired=closed.get("expired", 0),
            open=numbers.open_now,
        )
    )
    rate = numbers.fulfilment_rate
    shown = f"{rate:.0%}" if rate is not None else t("no data")
    lines.append(t("Fulfilment: {rate}", rate=shown))
    wait = numbers.median_time_to_accept
    lines.append(
        t(
            "Median time to accept: {time}",
            time=_duration(t, wait) if wait is not None else t("no data"),
        )
    )
    lines.append(t("Naloxone kits handed out: {n}", n=numbers.naloxone_kits))
    lines.extend(_naloxone_lines(t, numbers, area_names or {}))
    rated = numbers.feedback
    lines.append(
        t(
            "Feedback after handover: 👍 {up}, 👎 {down} (waited too long {waited}, "
            "not what was asked for {not_asked}, felt unsafe {unsafe})",
            up=rated.get("up", 0),
            down=rated.get("down", 0),
            waited=rated.get("waited", 0),
            not_asked=rated.get("not_asked", 0),
            unsafe=rated.get("unsafe", 0),
        )
    )
    for outlet_id, n in sorted(
        numbers.by_outlet.items(), key=lambda kv: outlet_keys.get(kv[0], "")
    ):
        lines.append(
            t(
                "{outlet}: offered {offered}, accepted {accepted}, declined {declined}, "
                "timed out {timed_out}, released {released}, handed over {handed}",
                outlet=outlet_keys.get(outlet_id, f"#{outlet_id}"),
                offered=n.offered,
                accepted=n.accepted,
                declined=n.declined,
                timed_out=n.timed_out,
                released=n.released,
                handed=n.handed_over,
            )
        )
    return "\n".join(lines)


def _naloxone_lines(
    t: Translator, numbers: stats.Stats, area_names: Mapping[str, str]
) -> list[str]:
    """Kits out and naloxone used: published counts only (1 to 4 shows as "<5")."""
    bot, gave = numbers.naloxone_kits, numbers.naloxone_kits_given
    lines = [
        t(
            "Naloxone kits out: {n} ({bot} through the bot, {gave} recorded with /gave)",
            n=publish(bot + gave),
            bot=publish(bot),
            gave=publish(gave),
        )
    ]
    outcomes = numbers.reversal_outcomes
    lines.append(
        t(
            "Naloxone used (reported): {n}; woke up {woke}, ambulance came {ambulance}, "
            "not known {unknown}; new kit asked for {kits}",
            n=publish(numbers.reversals),
            woke=publish(outcomes.get("woke", 0)),
            ambulance=publish(outcomes.get("ambulance", 0)),
            unknown=publish(outcomes.get("unknown", 0)),
            kits=publish(numbers.reversal_kits_asked),
        )
    )
    for code, n in sorted(
        numbers.reversals_by_area.items(), key=lambda kv: area_names.get(kv[0], kv[0])
    ):
        lines.append(t("- {area}: {n}", area=area_names.get(code, code), n=publish(n)))
    return lines


def _duration(t: Translator, wait: timedelta) -> str:
    minutes = round(wait.total_seconds() / 60)
    if minutes < 1:
        return t("under a minute")
    if minutes < 120:
        return t("{n} min", n=minutes)
    return t("{n} h", n=round(minutes / 60))


ROUTES = ModuleRoutes(
    commands={"invite": invite, "outlets": outlets_command, "stats": stats_command},
)
