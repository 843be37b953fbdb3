"""Peer workers: joining with an invite, shifts, answering offers, handing over, stock.

Buttons carry only ids (an offer, a request, an outlet and item) and every press is
re-authorised against the database: the services check that the peer is active at the outlet,
and that the request is still in the state the button was made for. Peers never see who asked:
a reference, the items, and a check of the code the person shows.

Payloads::

    off:a:<offer>   accept            off:d:<offer>   decline
    pk:h:<request>  handed over       pk:r:<request>  release (asks to confirm)
    pk:rr:<request> release, sure     pk:k            keep it
    shf:on / shf:off                  stk:<outlet>:<item>  set one count
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.core.context import Context
from bot.core.messages import Incoming, InputKind, Option, Reply
from bot.core.words import Translator
from bot.db.models import Item, Offer, Outlet, PeerWorker, Request
from bot.domain import RequestStatus, Role
from bot.privacy import AddressBox, normalise_code
from bot.services import contacts, invites, requests, shifts, stock, waiting
from bot.services.invites import InviteError
from bot.services.relay import Side
from bot.services.requests import AcceptResult, AnswerResult, HandoverResult
from bot.services.stock import MAX_COUNT, parse_count
from handlers import feedback, offers, outlet_changes, relay, ui
from handlers import waiting as held_requests
from handlers.routes import ModuleRoutes

FLOW = "peer"
STEP_CODE = "code"
STEP_COUNT = "count"
PICKUP_PREFIX = "pk"
SHIFT_PREFIX = "shf"
STOCK_PREFIX = "stk"
# Wrong codes allowed per tap of "Handed over"; then the peer checks with the person first.
# Per request, over all taps, requests.MAX_CODE_TRIES freezes it.
MAX_CODE_TRIES = 3
# Ids fit a 32-bit column: a longer number is forged and would upset PostgreSQL.
_ID = r"([0-9]{1,9})"
_OFFER = re.compile(rf"off:([ad]):{_ID}")
_PICKUP = re.compile(rf"pk:(h|r|rr):{_ID}")
_STOCK = re.compile(rf"stk:{_ID}:{_ID}")
_PICKUP_CODE = re.compile(r"[0-9]{6}")


# --- joining ---------------------------------------------------------------------------------


async def join_with_code(msg: Incoming, ctx: Context, code: str) -> None:
    """Redeem an invite: the contact becomes a peer worker at its outlet, or a coordinator.

    Also the target of ``/start CODE`` deep links. A bad, used or expired code changes nothing.
    The role goes to the sender's staff contact (created here, with its own sealed address),
    never to the contact that holds their own requests (see Person).
    """
    code = code.strip()
    if not code:
        ctx.reply(ctx.tr("Send /join followed by your invite code."))
        return
    staff_id = ctx.person.staff_contact_id
    if staff_id is None:
        staff_id = await contacts.staff_contact(
            ctx.session,
            keys=ctx.deps.keys,
            channel=msg.channel,
            platform_id=msg.sender_id,
            address=msg.address,
            locale=ctx.person.locale,
            now=ctx.now,
        )
    try:
        redeemed = await invites.redeem(
            ctx.session,
            codes_key=ctx.deps.keys.codes,
            code=code[:64],
            contact_id=staff_id,
            now=ctx.now,
        )
    except InviteError:
        if ctx.person.staff_contact_id is None:  # made for nothing: no trace of the attempt
            await contacts.forget(ctx.session, contact_id=staff_id)
        ctx.reply(ctx.tr("That code is not valid, already used or expired."))
        return
    ctx.end()
    if redeemed.role is Role.COORDINATOR:
        ctx.reply(
            ctx.tr(
                "You're now a coordinator. /invite peer OUTLET_KEY enrols a peer worker, "
                "/outlets lists outlets, /stats shows numbers."
            )
        )
        return
    name = await ctx.session.scalar(select(Outlet.name).where(Outlet.id == redeemed.outlet_id))
    ctx.reply(
        ctx.tr(
            "You're now a peer worker at {outlet}. Send /shift to go on shift: offers come "
            "only while you're on shift. /stock shows your outlet's counts.",
            outlet=name or "?",
        )
    )


async def join(msg: Incoming, ctx: Context) -> None:
    """``/join CODE``."""
    await join_with_code(msg, ctx, msg.args)


# --- shifts ----------------------------------------------------------------------------------


async def shift(msg: Incoming, ctx: Context) -> None:
    """``/shift``: where and whether I'm on shift, with a button to switch; ``/shift on|off``."""
    if not await _require_peer(ctx):
        return
    arg = msg.args.strip().lower()
    if arg in ("on", "off"):
        await _set_shift(ctx, on=arg == "on")
        return
    enrolments = await _enrolments(ctx)
    on = any(e.on_shift_at(ctx.now) for e in enrolments)
    pending = await offers.pending_offers(
        ctx.session, outlet_ids={e.outlet_id for e in enrolments}, now=ctx.now
    )
    lines = [_shift_line(ctx.tr, e, ctx.now) for e in enrolments]
    lines.append(ctx.tr("Pending offers: {n}", n=len(pending)))
    button = (
        Option(ctx.tr("Go off shift"), f"{SHIFT_PREFIX}:off")
        if on
        else Option(ctx.tr("Go on shift"), f"{SHIFT_PREFIX}:on")
    )
    ctx.reply("\n".join(lines), (button,))


async def shift_button(msg: Incoming, ctx: Context) -> None:
    """``shf:on`` / ``shf:off``."""
    if not await _require_peer(ctx):
        return
    if msg.option not in (f"{SHIFT_PREFIX}:on", f"{SHIFT_PREFIX}:off"):
        ctx.reply(ui.no_longer_valid(ctx))
        return
    await _set_shift(ctx, on=msg.option == f"{SHIFT_PREFIX}:on")


async def _set_shift(ctx: Context, *, on: bool) -> None:
    if not on:
        for peer_id in ctx.person.peer_ids:
            await shifts.end_shift(ctx.session, peer_worker_id=peer_id, now=ctx.now)
        ctx.reply(
            ctx.tr("You're off shift. No new offers until you start again."),
            (Option(ctx.tr("Go on shift"), f"{SHIFT_PREFIX}:on"),),
        )
        return
    for peer_id in ctx.person.peer_ids:
        await shifts.start_shift(
            ctx.session, peer_worker_id=peer_id, hours=ctx.deps.config.shift_hours, now=ctx.now
        )
    enrolments = await _enrolments(ctx)
    outlet_ids = {e.outlet_id for e in enrolments}
    pending = await offers.pending_offers(ctx.session, outlet_ids=outlet_ids, now=ctx.now)
    held = await waiting.waiting_near(ctx.session, outlet_ids=outlet_ids)
    lines = [_shift_line(ctx.tr, e, ctx.now) for e in enrolments]
    lines.append(ctx.tr("Pending offers: {n}", n=len(pending)))
    if held:
        lines.append(ctx.tr("Held requests waiting near your outlet: {n}", n=held))
    ctx.reply("\n".join(lines), (Option(ctx.tr("Go off shift"), f"{SHIFT_PREFIX}:off"),))
    # Offers made before this shift started went to nobody here yet: show them now.
    await _show_offers(ctx, pending)
    # Held requests need no tick: this update offers them (oldest first), in this transaction.
    if held:
        await held_requests.route_held(ctx, near=outlet_ids)


def _shift_line(t: Translator, e: Enrolment, now: datetime) -> str:
    if e.on_shift_at(now) and e.shift_ends_at is not None:
        return t(
            "{outlet}: on shift until {time}.",
            outlet=e.outlet_name,
            time=offers.local_time(e.shift_ends_at, e.timezone, now),
        )
    if e.on_shift_at(now):
        return t("{outlet}: on shift.", outlet=e.outlet_name)
    return t("{outlet}: off shift.", outlet=e.outlet_name)


# --- offers ----------------------------------------------------------------------------------


async def list_offers(msg: Incoming, ctx: Context) -> None:
    """``/offers``: the offers my outlet can still answer."""
    if not await _require_peer(ctx):
        return
    outlet_ids = {e.outlet_id for e in await _enrolments(ctx)}
    pending = await offers.pending_offers(ctx.session, outlet_ids=outlet_ids, now=ctx.now)
    if not pending:
        ctx.reply(ctx.tr("No pending offers for your outlet."))
        return
    await _show_offers(ctx, pending)


async def _show_offers(ctx: Context, offer_ids: list[int]) -> None:
    for offer_id in offer_ids:
        view = await offers.offer_view(ctx.session, ctx.deps.content, offer_id=offer_id)
        if view is not None:
            ctx.replies.append(offers.offer_reply(ctx.tr, view, ctx.now))


async def offer_button(msg: Incoming, ctx: Context) -> None:
    """``off:a:<offer>`` accepts, ``off:d:<offer>`` declines; exactly one peer wins an accept."""
    match = _OFFER.fullmatch(msg.option or "")
    if match is None:
        ctx.reply(ui.no_longer_valid(ctx))
        return
    if not ctx.person.is_peer:
        ctx.reply(ctx.tr("This offer is not for your outlet."))
        return
    action, offer_id = match.group(1), int(match.group(2))
    offer = (
        await ctx.session.execute(
            select(Offer.outlet_id, Request.contact_id)
            .join(Request, Request.id == Offer.request_id)
            .where(Offer.id == offer_id)
        )
    ).first()
    peer_id = await _my_peer_at(ctx, offer.outlet_id if offer is not None else None)
    if peer_id is None:
        ctx.reply(ctx.tr("This offer is not for your outlet."))
        return
    if action == offers.ACCEPT and offer is not None and offer.contact_id == ctx.person.contact_id:
        # Routing never offers it to them; an old button or a second outlet role must not
        # let a peer hand supplies to themselves either.
        ctx.reply(ctx.tr("You can't accept your own request."))
        return
    if action == offers.ACCEPT:
        await _accept(ctx, offer_id, peer_id)
    else:
        await _decline(ctx, offer_id, peer_id)


async def _accept(ctx: Context, offer_id: int, peer_id: int) -> None:
    outcome = await requests.accept(
        ctx.session,
        offer_id=offer_id,
        peer_worker_id=peer_id,
        codes_key=ctx.deps.keys.codes,
        now=ctx.now,
        box=AddressBox(ctx.deps.keys.address),  # keeps the code sealed for /status
    )
    if outcome.result is AcceptResult.ACCEPTED:
        assert outcome.request_id is not None
        assert outcome.outlet_id is not None
        assert outcome.code is not None
        await offers.announce_accepted(
            ctx, request_id=outcome.request_id, outlet_id=outcome.outlet_id, code=outcome.code
        )
        ctx.replies.append(await _accepted_reply(ctx, outcome.request_id))
    elif outcome.result is AcceptResult.ALREADY_TAKEN:
        winner = await ctx.session.scalar(select(Offer.accepted_by_id).where(Offer.id == offer_id))
        if winner == peer_id:  # a double tap: don't tell them someone else has it
            ctx.reply(ctx.tr("You already accepted this request."))
        else:
            ctx.reply(ctx.tr("Already taken by another peer."))
    elif outcome.result is AcceptResult.OUT_OF_STOCK:
        assert outcome.request_id is not None
        ctx.reply(
            ctx.tr(
                "Your outlet doesn't have enough stock for {ref}; it goes to another outlet. "
                "Please check /stock.",
                ref=outcome.reference,
            )
        )
        await offers.dispatch(ctx, request_id=outcome.request_id)
    elif outcome.result is AcceptResult.NOT_YOURS:
        ctx.reply(ctx.tr("This offer is not for your outlet."))
    else:
        ctx.reply(ctx.tr("This offer is no longer open."))


async def _accepted_reply(ctx: Context, request_id: int) -> Reply:
    reference = await ctx.session.scalar(select(Request.reference).where(Request.id == request_id))
    items = await offers.named_items(ctx.session, ctx.deps.content, request_id=request_id)
    t = ctx.tr
    lines = [
        t("You accepted {ref}.", ref=reference),
        *offers.item_lines(t, items),
        t("When the person comes, choose Handed over and type the code they show you."),
        relay.line_hint(t, Side.PEER),
    ]
    # Handed over, the masked line, Release (see handlers.relay).
    return Reply("\n".join(lines), relay.line_options(t, request_id, Side.PEER), columns=2)


async def _decline(ctx: Context, offer_id: int, peer_id: int) -> None:
    outcome = await requests.decline(
        ctx.session, offer_id=offer_id, peer_worker_id=peer_id, now=ctx.now
    )
    if outcome.result is AnswerResult.DONE:
        assert outcome.request_id is not None
        ctx.reply(ctx.tr("Declined {ref}. It goes to the next outlet.", ref=outcome.reference))
        await offers.dispatch(ctx, request_id=outcome.request_id)
    elif outcome.result is AnswerResult.NOT_YOURS:
        ctx.reply(ctx.tr("This offer is not for your outlet."))
    else:
        ctx.reply(ctx.tr("This offer is no longer open."))


# --- handing over and releasing --------------------------------------------------------------


async def pickup_button(msg: Incoming, ctx: Context) -> None:
    """Handed over (asks for the code), release (asks to confirm), or keep."""
    if msg.option == f"{PICKUP_PREFIX}:k":
        ctx.end()
        ctx.reply(ctx.tr("OK, nothing changed."))
        return
    match = _PICKUP.fullmatch(msg.option or "")
    if match is None:
        ctx.reply(ui.no_longer_valid(ctx))
        return
    action, request_id = match.group(1), int(match.group(2))
    held = await _held_here(ctx, request_id)
    if held is None:
        ctx.reply(ctx.tr("This pickup is no longer open."))
        return
    reference, peer_id = held
    if action == "h":
        if await _frozen(ctx, request_id):
            ctx.reply(_frozen_text(ctx, reference))
            return
        ctx.goto(FLOW, STEP_CODE, request_id=request_id, tries=0)
        ctx.reply(ctx.tr("Type the pickup code for {ref}.", ref=reference))
    elif action == "r":
        ctx.reply(
            ctx.tr("Release {ref}? It will be offered to another outlet.", ref=reference),
            (
                Option(ctx.tr("Yes, release"), f"{PICKUP_PREFIX}:rr:{request_id}"),
                Option(ctx.tr("Keep it"), f"{PICKUP_PREFIX}:k"),
            ),
            columns=2,
        )
    else:
        await _release(ctx, request_id, peer_id)


async def _release(ctx: Context, request_id: int, peer_id: int) -> None:
    outlet_id = await ctx.session.scalar(
        select(PeerWorker.outlet_id).where(PeerWorker.id == peer_id)
    )
    contact_id = await ctx.session.scalar(
        select(Request.contact_id).where(Request.id == request_id)
    )
    outcome = await requests.release(
        ctx.session, request_id=request_id, peer_worker_id=peer_id, now=ctx.now
    )
    if outcome.result is not AnswerResult.DONE:
        ctx.reply(ctx.tr("This pickup is no longer open."))
        return
    ctx.end()
    outlet = await ctx.session.scalar(select(Outlet.name).where(Outlet.id == outlet_id))
    reference = outcome.reference
    ctx.reply(ctx.tr("Released {ref}.", ref=reference))
    if contact_id is not None:
        ctx.notify(
            contact_id,
            lambda t: Reply(
                t(
                    "Your pickup {ref} can't happen at {outlet} after all, and its code no "
                    "longer works. We're looking for another outlet.",
                    ref=reference,
                    outlet=outlet or "?",
                )
            ),
        )
    await offers.dispatch(ctx, request_id=request_id)


async def peer_input(msg: Incoming, ctx: Context) -> None:
    """Free input inside the peer flow: a pickup code, or a stock count."""
    state = ctx.state
    step = state.step if state is not None else ""
    if step == STEP_CODE:
        await _check_code(msg, ctx)
    elif step == STEP_COUNT:
        await _type_count(msg, ctx)
    else:
        ctx.end()
        ctx.reply(ctx.tr("Send /shift, /offers or /stock."))


async def _check_code(msg: Incoming, ctx: Context) -> None:
    assert ctx.state is not None
    request_id, tries = _int(ctx.state.data.get("request_id")), _int(ctx.state.data.get("tries"))
    code = normalise_code(msg.text) if msg.kind is InputKind.TEXT else ""
    if not _PICKUP_CODE.fullmatch(code):
        ctx.reply(ctx.tr("A pickup code is 6 digits. Please type it again."))
        return
    held = await _held_here(ctx, request_id)
    if held is None:
        ctx.end()
        ctx.reply(ctx.tr("This pickup is no longer open."))
        return
    reference, peer_id = held
    contact_id = await ctx.session.scalar(
        select(Request.contact_id).where(Request.id == request_id)
    )
    outcome = await requests.handover(
        ctx.session,
        request_id=request_id,
        peer_worker_id=peer_id,
        code=code,
        codes_key=ctx.deps.keys.codes,
        now=ctx.now,
    )
    if outcome.result is HandoverResult.WRONG_CODE:
        tries += 1
        if tries >= MAX_CODE_TRIES:
            ctx.end()
            ctx.reply(
                ctx.tr(
                    "That code doesn't match. Check it with the person, "
                    "then choose Handed over again."
                ),
                (Option(ctx.tr("Handed over"), f"{PICKUP_PREFIX}:h:{request_id}"),),
            )
        else:
            ctx.goto(FLOW, STEP_CODE, request_id=request_id, tries=tries)
            ctx.reply(ctx.tr("That code doesn't match. Please type it again."))
        return
    ctx.end()
    if outcome.result is HandoverResult.FROZEN:
        ctx.reply(_frozen_text(ctx, reference))
        if outcome.just_frozen:
            await _announce_frozen(ctx, request_id, reference)
        return
    if outcome.result is not HandoverResult.HANDED_OVER:
        ctx.reply(ctx.tr("This pickup is no longer open."))
        return
    ctx.reply(ctx.tr("Handed over {ref}. Thank you!", ref=reference))
    if contact_id is not None:
        # With 👍 / 👎 under it (handlers.feedback): counted, never stored per request.
        ctx.notify(contact_id, lambda t: feedback.ask(t, request_id, reference))
    await offers.announce_low_stock(ctx, outcome.low_stock)


async def _frozen(ctx: Context, request_id: int) -> bool:
    tries = await ctx.session.scalar(select(Request.code_tries).where(Request.id == request_id))
    return tries is not None and tries >= requests.MAX_CODE_TRIES


def _frozen_text(ctx: Context, reference: str) -> str:
    return ctx.tr(
        "Too many wrong codes for {ref}: it can no longer be handed over. A coordinator has "
        "been told.",
        ref=reference,
    )


async def _announce_frozen(ctx: Context, request_id: int, reference: str) -> None:
    """Tell every coordinator, once, that a request took too many wrong pickup codes."""
    outlet = await ctx.session.scalar(
        select(Outlet.name)
        .join(Request, Request.current_outlet_id == Outlet.id)
        .where(Request.id == request_id)
    )

    def render(t: Translator) -> Reply:
        return Reply(
            t(
                "Pickup {ref} at {outlet} is frozen after too many wrong codes. It can no "
                "longer be handed over; the person can still cancel it.",
                ref=reference,
                outlet=outlet or "?",
            )
        )

    for contact_id in await offers.coordinator_contacts(ctx.session):
        ctx.notify(contact_id, render)


async def _held_here(ctx: Context, request_id: int) -> tuple[str, int] | None:
    """(reference, my peer id) when the request is accepted at one of my outlets."""
    if not ctx.person.is_peer:
        return None
    row = (
        await ctx.session.execute(
            select(Request.reference, Request.current_outlet_id).where(
                Request.id == request_id, Request.status == RequestStatus.ACCEPTED
            )
        )
    ).first()
    if row is None:
        return None
    peer_id = await _my_peer_at(ctx, row.current_outlet_id)
    return None if peer_id is None else (row.reference, peer_id)


# --- stock -----------------------------------------------------------------------------------


async def stock_command(msg: Incoming, ctx: Context) -> None:
    """``/stock`` shows counts; ``/stock CODE N`` sets one; coordinators add an outlet key.

    ``/stock OUTLET_KEY`` and ``/stock OUTLET_KEY CODE N`` work for a coordinator (any outlet)
    and for a peer enrolled at several outlets.
    """
    if not ctx.person.is_peer and not ctx.person.is_coordinator:
        ctx.reply(ctx.tr("This command is for peer workers."))
        return
    args = msg.args.split()
    outlet_id: int | None = None
    if args:
        outlet_id = await _outlet_by_key(ctx, args[0])
        if outlet_id is not None:
            args = args[1:]
    if outlet_id is None:
        enrolments = await _enrolments(ctx)
        if not enrolments:
            ctx.reply(ctx.tr("Send /stock OUTLET_KEY to see an outlet's stock."))
            return
        if not args and len(enrolments) > 1:
            for e in enrolments:
                ctx.replies.append(await _stock_reply(ctx, e.outlet_id))
            return
        outlet_id = enrolments[0].outlet_id
    if not args:
        ctx.replies.append(await _stock_reply(ctx, outlet_id))
        return
    if len(args) != 2:
        ctx.reply(ctx.tr("Use /stock CODE NUMBER, e.g. /stock nalox_inj 6."))
        return
    item_id = await _item_by_code(ctx, args[0])
    if item_id is None:
        ctx.reply(ctx.tr("Unknown item code. Send /stock to see the codes."))
        return
    count = parse_count(args[1])
    if count is None:
        ctx.reply(ctx.tr("Please give a whole number from 0 to {max}.", max=MAX_COUNT))
        return
    await _set_count(ctx, outlet_id, item_id, count)


async def stock_button(msg: Incoming, ctx: Context) -> None:
    """``stk:<outlet>:<item>``: ask for the new count of one item."""
    match = _STOCK.fullmatch(msg.option or "")
    if match is None:
        ctx.reply(ui.no_longer_valid(ctx))
        return
    outlet_id, item_id = int(match.group(1)), int(match.group(2))
    if not await _may_stock(ctx, outlet_id):
        ctx.reply(ui.not_for_you(ctx))
        return
    names = await offers.item_names(ctx.session, ctx.deps.content, [item_id])
    if item_id not in names:
        ctx.reply(ui.no_longer_valid(ctx))
        return
    ctx.goto(FLOW, STEP_COUNT, outlet_id=outlet_id, item_id=item_id)
    ctx.reply(ctx.tr("Type the new count for {item}.", item=names[item_id]))


async def _type_count(msg: Incoming, ctx: Context) -> None:
    assert ctx.state is not None
    outlet_id = _int(ctx.state.data.get("outlet_id"))
    item_id = _int(ctx.state.data.get("item_id"))
    count = parse_count(msg.text) if msg.kind is InputKind.TEXT else None
    if count is None:
        ctx.reply(ctx.tr("Please give a whole number from 0 to {max}.", max=MAX_COUNT))
        return
    ctx.end()
    if not await _may_stock(ctx, outlet_id):
        ctx.reply(ui.not_for_you(ctx))
        return
    await _set_count(ctx, outlet_id, item_id, count)


async def _set_count(ctx: Context, outlet_id: int, item_id: int, count: int) -> None:
    level = await outlet_changes.set_count(
        ctx,
        outlet_id=outlet_id,
        item_id=item_id,
        quantity=count,
        actor="peer" if await _my_peer_at(ctx, outlet_id) is not None else "coordinator",
    )
    names = await offers.item_names(ctx.session, ctx.deps.content, [item_id])
    text = ctx.tr("{item}: now {n}.", item=names.get(item_id, "?"), n=level.quantity)
    if level.reserved:
        text += " " + ctx.tr("{n} promised to accepted requests.", n=level.reserved)
    ctx.reply(text)


async def _stock_reply(ctx: Context, outlet_id: int) -> Reply:
    t = ctx.tr
    name = await ctx.session.scalar(select(Outlet.name).where(Outlet.id == outlet_id))
    levels = await stock.levels(ctx.session, outlet_id=outlet_id)
    codes = {
        row.id: row.code
        for row in await ctx.session.execute(
            select(Item.id, Item.code).where(Item.id.in_([lv.item_id for lv in levels]))
        )
    }
    lines = [t("Stock at {outlet}:", outlet=name or "?")]
    for level in levels:
        line = t("{code}: {n}", code=codes.get(level.item_id, "?"), n=level.quantity)
        if level.reserved:
            line += " " + t("({n} promised)", n=level.reserved)
        if level.is_low:
            line += " " + t("· low")
        lines.append(line)
    if not levels:
        lines.append(t("Nothing counted yet."))
    lines.append(t("Set a count: /stock CODE NUMBER, or choose an item."))
    options = tuple(
        Option(
            f"{codes.get(level.item_id, '?')} ({level.quantity})",
            f"{STOCK_PREFIX}:{outlet_id}:{level.item_id}",
        )
        for level in levels
    )
    return Reply("\n".join(lines), options, columns=2)


async def _may_stock(ctx: Context, outlet_id: int) -> bool:
    if ctx.person.is_coordinator:
        return await ctx.session.get(Outlet, outlet_id) is not None
    return await _my_peer_at(ctx, outlet_id) is not None


async def _outlet_by_key(ctx: Context, key: str) -> int | None:
    """The outlet with this key, if the person may manage its stock."""
    outlet_id = await ctx.session.scalar(select(Outlet.id).where(Outlet.key == key[:64]))
    if outlet_id is None or not await _may_stock(ctx, outlet_id):
        return None
    return outlet_id


async def _item_by_code(ctx: Context, code: str) -> int | None:
    if ctx.deps.content.catalogue.by_code(code.lower()) is None:
        return None
    return await ctx.session.scalar(select(Item.id).where(Item.code == code.lower()))


# --- helpers ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Enrolment:
    """One active enrolment of a peer worker, with what /shift shows about it."""

    peer_id: int
    outlet_id: int
    outlet_name: str
    timezone: str
    on_shift: bool
    shift_ends_at: datetime | None

    def on_shift_at(self, now: datetime) -> bool:
        """On a shift that has not ended at ``now``."""
        return self.on_shift and (self.shift_ends_at is None or self.shift_ends_at > now)


async def _enrolments(ctx: Context) -> list[Enrolment]:
    return await enrolments(ctx.session, ctx.person.peer_ids)


async def enrolments(session: AsyncSession, peer_ids: tuple[int, ...]) -> list[Enrolment]:
    """The active enrolments among ``peer_ids``, by peer id."""
    if not peer_ids:
        return []
    rows = await session.execute(
        select(
            PeerWorker.id,
            PeerWorker.outlet_id,
            PeerWorker.on_shift,
            PeerWorker.shift_ends_at,
            Outlet.name,
            Outlet.timezone,
        )
        .join(Outlet, Outlet.id == PeerWorker.outlet_id)
        .where(PeerWorker.id.in_(peer_ids), PeerWorker.active.is_(True))
        .order_by(PeerWorker.id)
    )
    return [
        Enrolment(
            row.id, row.outlet_id, row.name, row.timezone, bool(row.on_shift), row.shift_ends_at
        )
        for row in rows
    ]


async def _my_peer_at(ctx: Context, outlet_id: int | None) -> int | None:
    if outlet_id is None or not ctx.person.peer_ids:
        return None
    peer_id: int | None = await ctx.session.scalar(
        select(PeerWorker.id).where(
            PeerWorker.id.in_(ctx.person.peer_ids),
            PeerWorker.outlet_id == outlet_id,
            PeerWorker.active.is_(True),
        )
    )
    return peer_id


async def _require_peer(ctx: Context) -> bool:
    if ctx.person.is_peer:
        return True
    ctx.reply(ctx.tr("This command is for peer workers."))
    return False


def _int(value: object) -> int:
    # State data is JSON we wrote ourselves, but a hand-edited or old row must not crash us.
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


ROUTES = ModuleRoutes(
    commands={
        "join": join,
        "shift": shift,
        "offers": list_offers,
        "stock": stock_command,
    },
    options={
        offers.OFFER_PREFIX: offer_button,
        PICKUP_PREFIX: pickup_button,
        SHIFT_PREFIX: shift_button,
        STOCK_PREFIX: stock_button,
    },
    flows={FLOW: peer_input},
    staff_flows=frozenset({FLOW}),
)
