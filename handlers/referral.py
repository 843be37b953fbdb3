"""``/referral``: find the nearest services of a kind, and ask a peer to go along if wanted.

::

    type → location → results ─(Ask a peer to go with me)→ sent

The results are the nearest three services of the type from the directory, with address,
whether they are open now (else when they open) and phone. Asking a peer creates a referral
request (no items) that is routed like any other.

Buttons: ``ref:<run>:<action>[:<arg>]``.
"""

from __future__ import annotations

from enum import StrEnum

from bot.content import ReferralService, ServiceType
from bot.core.context import Context
from bot.core.messages import Incoming, InputKind, Option
from bot.core.routes import MenuCommand
from bot.core.words import Translator
from bot.domain import RequestKind
from bot.privacy import AddressBox
from bot.services import requests
from handlers import location, offers, ui
from handlers.routes import ModuleRoutes

FLOW = "referral"
PREFIX = "ref"
SHOWN = 3


class Step(StrEnum):
    TYPE = "type"
    LOCATION = "location"
    RESULTS = "results"


async def start(ctx: Context) -> None:
    """Begin looking for a service."""
    ctx.end()
    ctx.goto(FLOW, Step.TYPE, run=ui.new_run())
    _show(ctx)


async def on_command(msg: Incoming, ctx: Context) -> None:
    """``/referral``."""
    await start(ctx)


# --- state and words -----------------------------------------------------------------------------


def _type(ctx: Context) -> ServiceType | None:
    raw = ctx.state.data.get("type") if ctx.state else None
    return next((t for t in ServiceType if t.value == raw), None)


def _button(ctx: Context, label: str, action: str, arg: object = None) -> Option:
    return Option(label, ui.payload(PREFIX, ui.run_tag(ctx), action, arg))


def type_label(tr: Translator, service_type: ServiceType) -> str:
    """A kind of service in words."""
    labels = {
        ServiceType.NURSING_MEDICAL: tr("Nurse or doctor"),
        ServiceType.HIV_HCV_TESTING: tr("HIV and hepatitis C testing"),
        ServiceType.OST: tr("Opioid substitution treatment"),
        ServiceType.MENTAL_HEALTH: tr("Mental health"),
        ServiceType.HOUSING: tr("Housing"),
        ServiceType.DRUG_CHECKING: tr("Drug checking"),
        ServiceType.SUPERVISED_CONSUMPTION: tr("Supervised consumption"),
    }
    return labels[service_type]


def _service_block(ctx: Context, number: int, service: ReferralService) -> str:
    lines = [
        f"{number}. {service.name}",
        service.address,
        ui.hours_line(ctx.tr, service.hours, service.zone, ctx.now),
    ]
    if service.phone:
        lines.append(ctx.tr("Phone: {phone}", phone=service.phone))
    if service.notes:
        lines.append(ctx.tr(service.notes))
    return "\n".join(lines)


# --- rendering -----------------------------------------------------------------------------------


def _show(ctx: Context, hint: str = "") -> None:
    assert ctx.state is not None
    step = ctx.state.step
    if step == Step.TYPE:
        text = ctx.tr("What kind of help are you looking for?")
        options = [_button(ctx, type_label(ctx.tr, t), "type", t.value) for t in ServiceType]
        ctx.reply(f"{hint}\n\n{text}" if hint else text, [*options, ui.back_to_menu(ctx.tr)])
    elif step == Step.LOCATION:
        location.prompt(ctx, PREFIX, ui.run_tag(ctx), lead=hint)
    else:
        _show_results(ctx, hint)


def _show_results(ctx: Context, hint: str) -> None:
    assert ctx.state is not None
    service_type = _type(ctx)
    place = location.Place.from_data(ctx.state.data)
    area = ctx.deps.content.gazetteer.by_code(place.area_code) if place else None
    if service_type is None or place is None or area is None:
        ui.expired(ctx)
        return
    found = ctx.deps.content.directory.nearest(service_type, place.lat, place.lon, SHOWN)
    label = type_label(ctx.tr, service_type)
    if found:
        # The kind of help stays off the first line, which a lock screen shows.
        head = ctx.tr("Services near {area}\n{kind}:", kind=label, area=area.name)
        blocks = [_service_block(ctx, n, s) for n, s in enumerate(found, start=1)]
        text = "\n\n".join([head, *blocks])
    else:
        text = ctx.tr("Nothing is listed yet for this kind of help.")
    text += "\n\n" + ctx.tr("A peer can go with you if you like.")
    options = [
        _button(ctx, ctx.tr("Ask a peer to go with me"), "escort"),
        ui.back_to_menu(ctx.tr),
    ]
    ctx.reply(f"{hint}\n\n{text}" if hint else text, options)


# --- actions -------------------------------------------------------------------------------------


async def on_option(msg: Incoming, ctx: Context) -> None:
    """A ``ref:`` button."""
    press = ui.parse(msg.option, PREFIX)
    step = ui.current(ctx, FLOW, press)
    if press is None or step is None:
        ui.expired(ctx)
    elif press.action == "type" and step == Step.TYPE and press.arg in set(ServiceType):
        ctx.goto(FLOW, Step.LOCATION, type=press.arg)
        _show(ctx)
    elif press.action in location.ACTIONS and step == Step.LOCATION:
        place = location.on_press(ctx, press, PREFIX)
        if place is not None:
            _to_results(ctx, place)
    elif press.action == "escort" and step == Step.RESULTS:
        await _escort(ctx)
    else:
        ui.expired(ctx)


def _to_results(ctx: Context, place: location.Place) -> None:
    ctx.goto(FLOW, Step.RESULTS, **place.to_data())
    _show(ctx)


async def _escort(ctx: Context) -> None:
    """Ask a peer to go along: a referral request, routed like the others."""
    assert ctx.state is not None
    place = location.Place.from_data(ctx.state.data)
    service_type = _type(ctx)
    if place is None or service_type is None:
        ui.expired(ctx)
        return
    if await ui.open_requests(ctx) >= ui.MAX_OPEN_REQUESTS:
        ui.too_many(ctx)
        return
    request = await requests.create(
        ctx.session,
        contact_id=ctx.person.contact_id,
        kind=RequestKind.REFERRAL,
        items={},
        area_code=place.area_code,
        cell=(place.lat, place.lon),
        referral_type=service_type.value,
        ttl=ctx.deps.config.request_ttl,
        now=ctx.now,
        box=AddressBox(ctx.deps.keys.address),
        own_peers=ctx.person.peer_ids,  # never offered to the asker's own outlet role
    )
    outcome = await offers.dispatch(ctx, request_id=request.id, lat=place.lat, lon=place.lon)
    ui.sent(ctx, outcome, request.reference)


async def on_input(msg: Incoming, ctx: Context) -> None:
    """Typed text or a shared location while looking for a service."""
    assert ctx.state is not None
    step = ctx.state.step
    if step == Step.LOCATION or (step == Step.RESULTS and msg.kind is InputKind.LOCATION):
        place = location.on_input(msg, ctx, PREFIX, ui.run_tag(ctx))
        if place is not None:
            _to_results(ctx, place)
    elif step not in set(Step):
        ui.expired(ctx)  # a step from an older version of this conversation
    elif msg.kind is InputKind.LOCATION:
        _show(ctx, ctx.tr("Thanks. I'll ask where you are once you've chosen a kind of help."))
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
    commands={"referral": on_command},
    options={PREFIX: on_option},
    flows={FLOW: on_input},
    unusable={FLOW: on_unusable},
    menu=(MenuCommand("referral", "Find a service: nurse, testing, treatment, housing"),),
)
