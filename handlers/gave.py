"""``/gave N ITEM``: a peer records kits handed out outside the bot, so the count is whole.

``ITEM`` is a catalogue code (``nalox_nasal``) or a word of one that names a single item
(``nasal``). The packs come off the peer's own outlet's shelf as a handover's would, and are
counted per outlet and item (:func:`bot.services.reversals.give_out`); a peer at several
outlets names one first: ``/gave OUTLET_KEY 2 nasal``.
"""

from __future__ import annotations

from sqlalchemy import select

from bot.core.context import Context
from bot.core.messages import Incoming
from bot.db.models import Item, Outlet
from bot.services import reversals
from handlers import offers, peer
from handlers.routes import ModuleRoutes

# The most one /gave records: a table's hand-outs in one go, not a delivery.
MAX_GIVEN = 50


def find_item(ctx: Context, name: str) -> str | None:
    """The catalogue code ``name`` means: a code, or a word of exactly one code."""
    name = name.lower()
    specs = ctx.deps.content.catalogue.items
    if any(spec.code == name for spec in specs):
        return name
    matches = [spec.code for spec in specs if name in spec.code.split("_")]
    return matches[0] if len(matches) == 1 else None


def _usage(ctx: Context) -> None:
    ctx.reply(ctx.tr("Use /gave NUMBER ITEM, e.g. /gave 2 nasal (1 to {max}).", max=MAX_GIVEN))


async def gave_command(msg: Incoming, ctx: Context) -> None:
    """``/gave [OUTLET_KEY] N ITEM``."""
    if not ctx.person.is_peer:
        ctx.reply(ctx.tr("This command is for peer workers."))
        return
    args = msg.args.split()
    enrolments = await peer.enrolments(ctx.session, ctx.person.peer_ids)
    if not enrolments:
        ctx.reply(ctx.tr("This command is for peer workers."))
        return
    outlet_id = enrolments[0].outlet_id
    if len(args) == 3 and not args[0].isdigit():
        key = args.pop(0)[:64]
        wanted = await ctx.session.scalar(select(Outlet.id).where(Outlet.key == key))
        if wanted not in {e.outlet_id for e in enrolments}:
            ctx.reply(ctx.tr("You can only record kits for your own outlet."))
            return
        outlet_id = int(wanted)
    elif len(enrolments) > 1:
        ctx.reply(ctx.tr("You work at several outlets: send /gave OUTLET_KEY NUMBER ITEM."))
        return
    if len(args) != 2:
        _usage(ctx)
        return
    count = args[0]
    if not (count.isascii() and count.isdigit() and len(count) <= 3):
        _usage(ctx)
        return
    packs = int(count)
    if not 1 <= packs <= MAX_GIVEN:
        _usage(ctx)
        return
    code = find_item(ctx, args[1])
    item_id = await ctx.session.scalar(select(Item.id).where(Item.code == code)) if code else None
    if code is None or item_id is None:
        ctx.reply(ctx.tr("Unknown item. Send /stock to see your outlet's codes."))
        return
    done = await reversals.give_out(
        ctx.session, outlet_id=outlet_id, item_id=item_id, item_code=code, packs=packs, now=ctx.now
    )
    names = await offers.item_names(ctx.session, ctx.deps.content, [item_id])
    name = ctx.tr(names.get(item_id, code))
    if done.quantity is None:
        ctx.reply(
            ctx.tr(
                "Not recorded: your outlet doesn't have {n} of {item} free in /stock. "
                "Update the count with /stock first.",
                n=packs,
                item=name,
            )
        )
        return
    await offers.announce_low_stock(ctx, done.low)
    ctx.reply(
        ctx.tr(
            "Recorded: {n} × {item} given out. {left} left.", n=packs, item=name, left=done.quantity
        )
    )


ROUTES = ModuleRoutes(commands={"gave": gave_command})
