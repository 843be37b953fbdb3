"""``/status`` (the person's open requests) and ``/cancel`` (withdraw one).

::

    /cancel → (one open request) confirm → cancelled
            → (several)          pick → confirm → cancelled

An accepted request shows its pickup code again (kept sealed while accepted, see
:func:`bot.services.requests.pickup_code`): a lost message must not be a lost pickup.
``/cancel`` typed in the middle of making a request stops that instead (it was never sent).

Buttons: ``st:<run>:pick:<request id>``, ``st:<run>:yes:<request id>``, ``st:<run>:keep``;
the id is re-checked against the person's own open requests on every press.
"""

from __future__ import annotations

from enum import StrEnum
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from bot.content import ServiceType
from bot.content.hours import stored
from bot.core.context import Context
from bot.core.messages import Incoming, Option, Reply
from bot.core.routes import MenuCommand
from bot.core.words import Translator
from bot.db.models import Outlet, Request
from bot.domain import RequestKind, RequestStatus
from bot.privacy import AddressBox
from bot.services import closures, requests, waiting
from bot.services import relay as relay_lines
from bot.services.requests import CancelOutcome
from handlers import naloxone, offers, referral, relay, supplies, ui
from handlers.routes import ModuleRoutes

FLOW = "cancel"
PREFIX = "st"
# Conversations that build a request: /cancel there means "stop", nothing was sent yet.
BUILDING = frozenset({supplies.FLOW, naloxone.FLOW, referral.FLOW})


class Step(StrEnum):
    PICK = "pick"
    CONFIRM = "confirm"


# --- /status -------------------------------------------------------------------------------------


async def show(ctx: Context) -> None:
    """List the person's open requests."""
    ctx.end()
    open_requests = await requests.open_for_contact(ctx.session, contact_id=ctx.person.contact_id)
    if not open_requests:
        ui.show_menu(ctx, ctx.tr("You have no open requests."))
        return
    names = {item_id: code for code, item_id in (await ui.item_ids(ctx)).items()}
    blocks = [await _describe(ctx, request, names) for request in open_requests]
    text = "\n\n".join([ctx.tr("Your open requests:"), *blocks])
    # An accepted request's masked line (see handlers/relay.py), while it is open.
    options = [
        Option(ctx.tr("Write to the peer · {ref}", ref=r.reference), f"{relay.PREFIX}:m:{r.id}")
        for r in open_requests
        if r.status == RequestStatus.ACCEPTED
        and (line := await relay_lines.find(ctx.session, request_id=r.id)) is not None
        and not line.closed
    ]
    options += [Option(ctx.tr("Cancel a request"), f"{ui.MENU}:cancel"), ui.back_to_menu(ctx.tr)]
    ctx.reply(text, options)


async def _describe(ctx: Context, request: Request, names: dict[int, str]) -> str:
    lines = [f"{request.reference} · {_kind_words(ctx.tr, request)}"]
    items = await requests.items_of(ctx.session, request_id=request.id)
    for item_id, packs in sorted(items.items()):
        spec = ctx.deps.content.catalogue.by_code(names.get(item_id, ""))
        if spec is not None:
            lines.append(ui.item_line(ctx.tr, spec, packs))
    if request.status == RequestStatus.ACCEPTED and request.current_outlet_id is not None:
        lines += await _pickup(ctx, request, request.current_outlet_id)
    elif request.status == RequestStatus.WAITING:
        place = await waiting.place_in_line(ctx.session, request_id=request.id)
        lines.append(ctx.tr("On the waiting list, number {n} in line.", n=place))
    else:
        lines.append(_status_words(ctx.tr, request.status))
    return "\n".join(lines)


def _kind_words(tr: Translator, request: Request) -> str:
    if request.kind == RequestKind.NALOXONE:
        return tr("naloxone")
    if request.kind == RequestKind.REFERRAL:
        kind = next((t for t in ServiceType if t.value == request.referral_type), None)
        if kind is None:
            return tr("a peer to go with you")
        return tr("a peer to go with you: {kind}", kind=referral.type_label(tr, kind))
    return tr("supplies")


def _status_words(tr: Translator, status: RequestStatus) -> str:
    if status == RequestStatus.OFFERED:
        return tr("Waiting for a peer to answer.")
    if status == RequestStatus.ACCEPTED:
        return tr("Accepted by a peer.")
    return tr("Being passed to a peer.")


async def _pickup(ctx: Context, request: Request, outlet_id: int) -> list[str]:
    """Where and until when to pick up: the outlet's public name and hours, not its code."""
    outlet = await ctx.session.get(Outlet, outlet_id)
    if outlet is None:
        return [_status_words(ctx.tr, RequestStatus.ACCEPTED)]
    lines = [ctx.tr("Accepted. Pick up at: {outlet}", outlet=outlet.name)]
    hours = stored(outlet.hours)
    try:
        zone = ZoneInfo(outlet.timezone)
    except (ValueError, ZoneInfoNotFoundError):
        hours = None  # a broken row must not hide the request; the time to come by still shows
    if hours is not None:
        if await closures.closed_now(ctx.session, outlet_ids=[outlet_id], now=ctx.now):
            lines.append(ctx.tr("Closed for now: please check with the peer before you go."))
        else:
            lines.append(ui.hours_line(ctx.tr, hours, zone, ctx.now))
    until = offers.local_time(request.expires_at, outlet.timezone, ctx.now)
    code = requests.pickup_code(request, AddressBox(ctx.deps.keys.address))
    if code is None:  # accepted before codes were kept, or the key changed
        lines.append(ctx.tr("Please come by {time}. Show the code you were sent.", time=until))
        return lines
    lines += [
        ctx.tr("Please come by {time}.", time=until),
        ctx.tr("Your pickup code: {code}", code=code),
        ctx.tr("Show or tell this code to the peer. Keep it to yourself."),
    ]
    return lines


async def on_status(msg: Incoming, ctx: Context) -> None:
    """``/status``."""
    await show(ctx)


# --- /cancel -------------------------------------------------------------------------------------


async def start_cancel(ctx: Context) -> None:
    """Stop a request being made, or choose an open one to cancel."""
    if ctx.state is not None and ctx.state.flow in BUILDING:
        ctx.end()
        ui.show_menu(
            ctx, ctx.tr("Stopped. Nothing was sent.\nTo cancel a sent request, send /cancel.")
        )
        return
    ctx.end()
    ctx.goto(FLOW, Step.PICK, run=ui.new_run())
    await _pick(ctx)


async def _pick(ctx: Context, hint: str = "") -> None:
    """Confirm the only open request, or list them to choose from."""
    open_requests = await requests.open_for_contact(ctx.session, contact_id=ctx.person.contact_id)
    if not open_requests:
        ctx.end()
        ui.show_menu(ctx, ctx.tr("You have no open requests to cancel."))
        return
    if len(open_requests) == 1:
        _confirm(ctx, open_requests[0], hint)
        return
    run = ui.run_tag(ctx)
    options = [
        Option(f"{r.reference} · {_kind_words(ctx.tr, r)}", ui.payload(PREFIX, run, "pick", r.id))
        for r in open_requests
    ]
    options += [Option(ctx.tr("Keep them all"), ui.payload(PREFIX, run, "keep"))]
    text = ctx.tr("Which request do you want to cancel?")
    ctx.reply(f"{hint}\n\n{text}" if hint else text, options)


def _confirm(ctx: Context, request: Request, hint: str = "") -> None:
    ctx.goto(FLOW, Step.CONFIRM, request=request.id)
    run = ui.run_tag(ctx)
    text = ctx.tr(
        "Cancel request {ref}?\n({kind})", ref=request.reference, kind=_kind_words(ctx.tr, request)
    )
    options = [
        Option(ctx.tr("Yes, cancel it"), ui.payload(PREFIX, run, "yes", request.id)),
        Option(ctx.tr("Keep it"), ui.payload(PREFIX, run, "keep")),
    ]
    ctx.reply(f"{hint}\n\n{text}" if hint else text, options, columns=2)


async def _own_open(ctx: Context, arg: str) -> Request | None:
    """One of the person's own open requests, by the id in a button; None for anything else."""
    request_id = ui.as_int(arg)
    if request_id is None:
        return None
    mine = await requests.open_for_contact(ctx.session, contact_id=ctx.person.contact_id)
    return next((r for r in mine if r.id == request_id), None)


async def on_option(msg: Incoming, ctx: Context) -> None:
    """An ``st:`` button."""
    press = ui.parse(msg.option, PREFIX)
    step = ui.current(ctx, FLOW, press)
    if press is None or step is None:
        ui.expired(ctx)
    elif press.action == "keep":
        ctx.end()
        ui.show_menu(ctx, ctx.tr("Kept. Nothing was changed."))
    elif press.action == "pick" and step == Step.PICK:
        request = await _own_open(ctx, press.arg)
        if request is None:
            ui.expired(ctx)
        else:
            _confirm(ctx, request)
    elif press.action == "yes" and step == Step.CONFIRM:
        await _cancel(ctx, press.arg)
    else:
        ui.expired(ctx)


async def _cancel(ctx: Context, arg: str) -> None:
    assert ctx.state is not None
    if ui.as_int(arg) != ctx.state.data.get("request"):
        ui.expired(ctx)
        return
    request = await _own_open(ctx, arg)
    ctx.end()
    if request is None:
        ui.show_menu(ctx, ctx.tr("That request is no longer open; nothing to cancel."))
        return
    outcome = await cancel_request(ctx, request.id)
    if not outcome.cancelled:
        ui.show_menu(ctx, ctx.tr("That request is no longer open; nothing to cancel."))
        return
    ui.show_menu(ctx, ctx.tr("Request {ref} is cancelled.", ref=outcome.reference))


async def cancel_request(ctx: Context, request_id: int) -> CancelOutcome:
    """Cancel one of the person's requests and tell the outlet that held it."""
    outcome = await requests.cancel(
        ctx.session, request_id=request_id, contact_id=ctx.person.contact_id, now=ctx.now
    )
    if outcome.cancelled and outcome.outlet_id is not None and outcome.reference is not None:
        reference, accepted = outcome.reference, outcome.was_accepted
        peers = await offers.on_shift_contacts(
            ctx.session, outlet_id=outcome.outlet_id, now=ctx.now
        )
        for contact_id in peers:
            ctx.notify(contact_id, lambda t: _cancelled_notice(t, reference, accepted))
    return outcome


def _cancelled_notice(t: Translator, reference: str, accepted: bool) -> Reply:
    if accepted:
        return Reply(
            t(
                "Request {ref} was cancelled: no need to hand over, and its items are free again.",
                ref=reference,
            )
        )
    return Reply(t("Offer {ref} is no longer open; no need to answer.", ref=reference))


async def on_cancel(msg: Incoming, ctx: Context) -> None:
    """``/cancel``."""
    await start_cancel(ctx)


async def on_input(msg: Incoming, ctx: Context) -> None:
    """Typed text or a location while choosing what to cancel: ask again."""
    await _reask(ctx, ui.please_choose(ctx))


async def on_unusable(msg: Incoming, ctx: Context) -> None:
    """A sticker, photo...: say what can be read, and ask again."""
    await _reask(ctx, ui.unreadable(ctx))


async def _reask(ctx: Context, hint: str) -> None:
    assert ctx.state is not None
    if ctx.state.step == Step.CONFIRM:
        request = await _own_open(ctx, str(ctx.state.data.get("request")))
        if request is not None:
            _confirm(ctx, request, hint)
            return
    ctx.goto(FLOW, Step.PICK)
    await _pick(ctx, hint)


ROUTES = ModuleRoutes(
    commands={"status": on_status, "cancel": on_cancel},
    options={PREFIX: on_option},
    flows={FLOW: on_input},
    unusable={FLOW: on_unusable},
    menu=(
        MenuCommand("status", "Your open requests"),
        MenuCommand("cancel", "Cancel a request"),
    ),
)
