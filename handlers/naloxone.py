"""``/naloxone``: choose a kit (nasal, injectable, either), say where, confirm.

::

    kind → location (how-to card on request) → confirm → sent

"Either" means whichever kit the nearest available outlet has: on confirm both kits are looked
up from the person's (coarse) point and the nearer outlet's kit is asked for, nasal on a tie or
when neither is available (the request then goes unrouted like any other and the person gets
the fixed services). One kit per request: a second one is a second request.

Buttons: ``nal:<run>:<action>[:<arg>]``.
"""

from __future__ import annotations

from enum import StrEnum

from bot.core.context import Context
from bot.core.messages import Incoming, InputKind, Option
from bot.core.routes import MenuCommand
from bot.core.words import Translator
from bot.domain import RequestKind
from bot.privacy import AddressBox
from bot.services import requests, routing
from handlers import info, location, offers, ui
from handlers.routes import ModuleRoutes

FLOW = "naloxone"
PREFIX = "nal"
NASAL, INJECTABLE, EITHER = "nasal", "inj", "any"
ITEMS = {NASAL: "nalox_nasal", INJECTABLE: "nalox_inj"}
CARDS = {NASAL: "naloxone_nasal", INJECTABLE: "naloxone_injectable"}
KITS = 1


class Step(StrEnum):
    KIND = "kind"
    LOCATION = "location"
    CONFIRM = "confirm"


async def start(ctx: Context) -> None:
    """Begin a naloxone request (after checking the open-request limit)."""
    ctx.end()
    if await ui.open_requests(ctx) >= ui.MAX_OPEN_REQUESTS:
        ui.too_many(ctx)
        return
    ctx.goto(FLOW, Step.KIND, run=ui.new_run())
    _show(ctx)


async def on_command(msg: Incoming, ctx: Context) -> None:
    """``/naloxone``."""
    await start(ctx)


# --- state and words -----------------------------------------------------------------------------


def _kind(ctx: Context) -> str | None:
    kind = ctx.state.data.get("kind") if ctx.state else None
    return kind if kind in (NASAL, INJECTABLE, EITHER) else None


def _button(ctx: Context, label: str, action: str, arg: object = None) -> Option:
    return Option(label, ui.payload(PREFIX, ui.run_tag(ctx), action, arg))


def _kind_label(tr: Translator, kind: str) -> str:
    if kind == NASAL:
        return tr("Nasal spray")
    if kind == INJECTABLE:
        return tr("Shot kit (injectable)")
    return tr("Either")


def _howto_buttons(ctx: Context) -> list[Option]:
    kind = _kind(ctx)
    if kind in CARDS:
        return [_button(ctx, ctx.tr("How to use it"), "howto", kind)]
    return [
        _button(ctx, ctx.tr("How to use: nasal spray"), "howto", NASAL),
        _button(ctx, ctx.tr("How to use: shot kit"), "howto", INJECTABLE),
    ]


# --- rendering -----------------------------------------------------------------------------------


def _show(ctx: Context, hint: str = "") -> None:
    assert ctx.state is not None
    step = ctx.state.step
    if step == Step.KIND:
        text = ctx.tr("Which kind of kit?\nA nasal spray is the easiest to use.")
        options = [
            _button(ctx, _kind_label(ctx.tr, kind), "kind", kind)
            for kind in (NASAL, INJECTABLE, EITHER)
        ]
        # Told here, after a use, a replacement is one more choice away (handlers.reversals).
        used = Option(ctx.tr("I used naloxone"), f"{ui.MENU}:used")
        ctx.reply(f"{hint}\n\n{text}" if hint else text, [*options, used, ui.back_to_menu(ctx.tr)])
    elif step == Step.LOCATION:
        location.prompt(ctx, PREFIX, ui.run_tag(ctx), lead=hint, extra=_howto_buttons(ctx))
    else:
        _show_confirm(ctx, hint)


def _show_confirm(ctx: Context, hint: str) -> None:
    assert ctx.state is not None
    place = location.Place.from_data(ctx.state.data)
    area = ctx.deps.content.gazetteer.by_code(place.area_code) if place else None
    kind = _kind(ctx) or EITHER
    if kind == EITHER:
        kit = ctx.tr("- One kit: nasal spray or shot kit, whichever is nearer")
    else:
        spec = ctx.deps.content.catalogue.by_code(ITEMS[kind])
        kit = ui.item_line(ctx.tr, spec, KITS) if spec else _kind_label(ctx.tr, kind)
    lines = [ctx.tr("Please check your request:"), kit]
    if area is not None:
        lines.append(ctx.tr("Area: {area}", area=area.name))
    lines.append(ctx.tr("Send it?"))
    options = [
        _button(ctx, ctx.tr("Send request"), "yes"),
        _button(ctx, ctx.tr("Cancel"), "no"),
        *_howto_buttons(ctx),
    ]
    text = "\n".join(lines)
    ctx.reply(f"{hint}\n\n{text}" if hint else text, options, columns=2)


# --- actions -------------------------------------------------------------------------------------


async def on_option(msg: Incoming, ctx: Context) -> None:
    """A ``nal:`` button."""
    press = ui.parse(msg.option, PREFIX)
    step = ui.current(ctx, FLOW, press)
    if press is None or step is None:
        ui.expired(ctx)
    elif press.action == "kind" and step == Step.KIND and press.arg in (NASAL, INJECTABLE, EITHER):
        ctx.goto(FLOW, Step.LOCATION, kind=press.arg)
        _show(ctx)
    elif press.action == "howto" and step in (Step.LOCATION, Step.CONFIRM) and press.arg in CARDS:
        _show(ctx, info.card_text(ctx, CARDS[press.arg]))
    elif press.action in location.ACTIONS and step == Step.LOCATION:
        place = location.on_press(ctx, press, PREFIX)
        if place is not None:
            _to_confirm(ctx, place)
    elif press.action == "yes" and step == Step.CONFIRM:
        await _send(ctx)
    elif press.action == "no" and step == Step.CONFIRM:
        ctx.end()
        ui.show_menu(ctx, ctx.tr("Cancelled. Nothing was sent."))
    else:
        ui.expired(ctx)


def _to_confirm(ctx: Context, place: location.Place) -> None:
    ctx.goto(FLOW, Step.CONFIRM, **place.to_data())
    _show(ctx)


async def _send(ctx: Context) -> None:
    assert ctx.state is not None
    place = location.Place.from_data(ctx.state.data)
    kind = _kind(ctx)
    if place is None or kind is None:
        ui.expired(ctx)
        return
    await send_request(ctx, place, kind)


async def send_request(ctx: Context, place: location.Place, kind: str) -> None:
    """Ask for one kit of ``kind`` (NASAL, INJECTABLE or EITHER) at ``place`` and route it.

    Also the replacement kit after ``/used`` (:mod:`handlers.reversals`): the same request,
    routing, code and handover as one made here.
    """
    if await ui.open_requests(ctx) >= ui.MAX_OPEN_REQUESTS:
        ui.too_many(ctx)
        return
    ids = await ui.item_ids(ctx)
    if kind == EITHER:
        kind = await _nearer_kit(ctx, ids, place)
    request = await requests.create(
        ctx.session,
        contact_id=ctx.person.contact_id,
        kind=RequestKind.NALOXONE,
        items={ids[ITEMS[kind]]: KITS},
        area_code=place.area_code,
        cell=(place.lat, place.lon),
        ttl=ctx.deps.config.request_ttl,
        now=ctx.now,
        box=AddressBox(ctx.deps.keys.address),
        own_peers=ctx.person.peer_ids,  # never offered to the asker's own outlet role
    )
    outcome = await offers.dispatch(ctx, request_id=request.id, lat=place.lat, lon=place.lon)
    ui.sent(ctx, outcome, request.reference)


async def _nearer_kit(ctx: Context, ids: dict[str, int], place: location.Place) -> str:
    """The kit the nearest available outlet holds (nasal on a tie or when neither is)."""
    best: tuple[float, str] | None = None
    for kind in (NASAL, INJECTABLE):
        found = await routing.nearest_available(
            ctx.session,
            lat=place.lat,
            lon=place.lon,
            items={ids[ITEMS[kind]]: KITS},
            now=ctx.now,
            start=ctx.deps.routing,
        )
        if found and (best is None or found[0].distance_km < best[0]):
            best = (found[0].distance_km, kind)
    return best[1] if best else NASAL


async def on_input(msg: Incoming, ctx: Context) -> None:
    """Typed text or a shared location during a naloxone request."""
    assert ctx.state is not None
    step = ctx.state.step
    if step == Step.LOCATION:
        place = location.on_input(msg, ctx, PREFIX, ui.run_tag(ctx))
        if place is not None:
            _to_confirm(ctx, place)
    elif step not in set(Step):
        ui.expired(ctx)  # a step from an older version of this conversation
    elif msg.kind is InputKind.LOCATION and step == Step.CONFIRM:
        place = location.on_input(msg, ctx, PREFIX, ui.run_tag(ctx))  # moved: ask again for there
        if place is not None:
            _to_confirm(ctx, place)
    elif msg.kind is InputKind.LOCATION:
        _show(ctx, ctx.tr("Thanks. I'll ask where you are once you've chosen a kit."))
    else:
        _show(ctx, ui.please_choose(ctx))


async def on_unusable(msg: Incoming, ctx: Context) -> None:
    """A sticker, photo...: say what can be read, then this step's question and options."""
    assert ctx.state is not None
    if ctx.state.step in set(Step):
        _show(ctx, ui.unreadable(ctx))
    else:
        ui.expired(ctx)  # a step from an older version of this conversation


ROUTES = ModuleRoutes(
    commands={"naloxone": on_command},
    options={PREFIX: on_option},
    flows={FLOW: on_input},
    unusable={FLOW: on_unusable},
    menu=(MenuCommand("naloxone", "Ask for a naloxone kit"),),
)
