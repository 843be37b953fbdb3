"""Offering requests to outlets, and the notices that go with it.

:func:`dispatch` routes a ``new`` request (first time, or again after a decline, a timeout, a
release or an accept that found the stock gone) and queues the messages that follow:

- offered → every on-shift peer of the outlet gets the offer with [Accept] [Decline];
- unrouted → the person gets the nearest fixed services open now and the emergency number,
  with buttons: [Hold my request] when an outlet that fits could take it later (see
  handlers/waiting.py), the naloxone how-to, services open now, emergency; coordinators get
  an anonymous line (reference, kind, area: never who asked).

The notices that follow an accept (pickup details and the code, to the person) and a handover
(low stock, to coordinators) live here too, with the lookups and wording helpers that peer,
person and due-work handlers share.
Every notice is a render function: it is worded in the recipient's language when it is sent,
after the transaction commits.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.content import Content, OpeningHours, ReferralService, haversine_km
from bot.content.hours import stored
from bot.core.context import Render, Scope
from bot.core.messages import Option, Reply
from bot.core.words import Translator
from bot.db.models import Coordinator, Item, Offer, Outlet, PeerWorker, Request
from bot.domain import OfferStatus, RequestKind, RequestStatus
from bot.privacy import AddressBox
from bot.services import requests, shifts, waiting
from bot.services.relay import Side
from bot.services.requests import RouteOutcome, RouteResult
from bot.services.stock import LowStock
from handlers import relay, ui
from handlers.routes import ModuleRoutes

# Offer buttons: "off:a:<offer id>" accepts, "off:d:<offer id>" declines. Only an offer id:
# who presses is re-authorised by requests.accept/decline, so a forged id gets nowhere.
OFFER_PREFIX = "off"
ACCEPT = "a"
DECLINE = "d"
# Fixed services listed to a person nobody could serve.
FIXED_SERVICES_SHOWN = 3
# The unrouted answer's own buttons, answered in handlers/waiting.py: "wt:hold:<request id>"
# holds the request on the waiting list, "wt:open:<request id>" lists services open now.
WAIT_PREFIX = "wt"
HOLD = "hold"
OPEN_NOW = "open"
# The info card behind [Naloxone how-to].
NALOXONE_CARD = "naloxone_nasal"

# Option routes live in handlers.peer (peers press them); this module only sends.
ROUTES = ModuleRoutes()


def accept_payload(offer_id: int) -> str:
    """Button data for accepting ``offer_id``."""
    return f"{OFFER_PREFIX}:{ACCEPT}:{offer_id}"


def decline_payload(offer_id: int) -> str:
    """Button data for declining ``offer_id``."""
    return f"{OFFER_PREFIX}:{DECLINE}:{offer_id}"


# --- dispatch --------------------------------------------------------------------------------


async def dispatch(
    scope: Scope, *, request_id: int, lat: float | None = None, lon: float | None = None
) -> RouteOutcome:
    """Route a ``new`` request to the nearest available outlet and queue the notices.

    ``lat``/``lon`` is the point of the first routing only: a chosen area's centre, or the
    coarse cell of a shared location (see handlers/location.py); later cascades leave them out
    and the stored coarse cell is used. On ``unrouted``
    the person is told here (fixed services, emergency number), so callers need not.
    """
    outcome = await requests.route(
        scope.session,
        request_id=request_id,
        lat=lat,
        lon=lon,
        offer_timeout=scope.deps.config.offer_timeout,
        now=scope.now,
        start=scope.deps.routing,
        box=AddressBox(scope.deps.keys.address),  # opens the asker's own roles, to skip them
    )
    if outcome.result is RouteResult.OFFERED:
        await _announce_offer(scope, outcome)
    elif outcome.result is RouteResult.UNROUTED:
        await _announce_unrouted(scope, request_id)
    return outcome


@dataclass(frozen=True, slots=True)
class OfferView:
    """What a peer is shown of an offer: no person, no location beyond a rough distance."""

    offer_id: int
    reference: str
    items: tuple[tuple[str, int], ...]  # (item name, packs)
    deadline: datetime
    timezone: str
    distance_km: float | None = None


def offer_reply(t: Translator, view: OfferView, now: datetime) -> Reply:
    """The offer as a peer sees it, with [Accept] [Decline]."""
    # The first line is what a lock screen shows: nothing about drugs or equipment.
    lines = [
        t("New pickup request"),
        t("Reference: {ref}", ref=view.reference),
        *item_lines(t, view.items),
    ]
    if view.distance_km is not None:
        lines.append(t("Distance: {distance}", distance=rough_distance(t, view.distance_km)))
    lines.append(
        t(
            "Please answer by {time}.",
            time=local_time(view.deadline, view.timezone, now),
        )
    )
    return Reply(
        text="\n".join(lines),
        options=(
            Option(t("Accept"), accept_payload(view.offer_id)),
            Option(t("Decline"), decline_payload(view.offer_id)),
        ),
        columns=2,
    )


async def offer_view(
    session: AsyncSession, content: Content, *, offer_id: int, distance_km: float | None = None
) -> OfferView | None:
    """An offer as peers see it, or None when it does not exist."""
    row = (
        await session.execute(
            select(Offer.request_id, Offer.deadline_at, Request.reference, Outlet.timezone)
            .join(Request, Request.id == Offer.request_id)
            .join(Outlet, Outlet.id == Offer.outlet_id)
            .where(Offer.id == offer_id)
        )
    ).first()
    if row is None:
        return None
    items = await named_items(session, content, request_id=row.request_id)
    return OfferView(
        offer_id=offer_id,
        reference=row.reference,
        items=items,
        deadline=row.deadline_at,
        timezone=row.timezone,
        distance_km=distance_km,
    )


async def pending_offers(
    session: AsyncSession, *, outlet_ids: Collection[int], now: datetime
) -> list[int]:
    """Ids of the offers the outlets can still answer, oldest first."""
    if not outlet_ids:
        return []
    ids = await session.scalars(
        select(Offer.id)
        .join(Request, Request.id == Offer.request_id)
        .where(
            Offer.outlet_id.in_(sorted(outlet_ids)),
            Offer.status == OfferStatus.PENDING,
            Offer.deadline_at > now,
            Request.status == RequestStatus.OFFERED,
            Request.current_outlet_id == Offer.outlet_id,
        )
        .order_by(Offer.created_at, Offer.id)
    )
    return list(ids)


async def _announce_offer(scope: Scope, outcome: RouteOutcome) -> None:
    assert outcome.offer_id is not None
    assert outcome.reference is not None
    assert outcome.deadline_at is not None
    # Built from what route() just wrote: only the outlet's time zone and item names are read.
    session = scope.session
    timezone = await session.scalar(select(Outlet.timezone).where(Outlet.id == outcome.outlet_id))
    names = await item_names(session, scope.deps.content, [i for i, _ in outcome.items])
    view = OfferView(
        offer_id=outcome.offer_id,
        reference=outcome.reference,
        items=tuple((names.get(item_id, "?"), packs) for item_id, packs in outcome.items),
        deadline=outcome.deadline_at,
        timezone=timezone or "UTC",
        distance_km=outcome.distance_km,
    )
    now = scope.now
    for contact_id in await peer_contacts(scope.session, outcome.peer_worker_ids):
        scope.notify(contact_id, lambda t: offer_reply(t, view, now))


async def _announce_unrouted(scope: Scope, request_id: int) -> None:
    request = await scope.session.get(Request, request_id)
    if request is None:  # pragma: no cover - route() just closed it
        return
    content, now = scope.deps.content, scope.now
    kind, reference, area_code = RequestKind(request.kind), request.reference, request.area_code
    services = fixed_services(
        content,
        area_code=area_code,
        cell=(request.cell_lat, request.cell_lon),
        referral_type=request.referral_type if kind is RequestKind.REFERRAL else None,
        now=now,
    )
    emergency = emergency_number(content, area_code)
    later = await waiting.prospect_for(
        scope.session, request_id=request_id, now=now, ttl=scope.deps.config.request_ttl
    )
    naloxone_card = content.cards.by_code(NALOXONE_CARD)

    def to_person(t: Translator) -> Reply:
        lines = [t("No peer outlet can take your request {ref} right now.", ref=reference)]
        if services.open_now:
            lines.append(t("Fixed services open now:"))
        elif services.listed:
            lines.append(t("Nearest fixed services (none is open right now):"))
        for service in services.listed:
            lines.append(service_line(t, service))
        lines.append(t("In an emergency call {number}.", number=emergency))
        options = []
        if later is not None:
            lines.append(hold_question(t, later, now))
            options.append(Option(t("Hold my request"), f"{WAIT_PREFIX}:{HOLD}:{request_id}"))
        if naloxone_card is not None:
            options.append(Option(t("Naloxone how-to"), f"inf:{naloxone_card.code}"))
        options += [
            Option(t("Services open now"), f"{WAIT_PREFIX}:{OPEN_NOW}:{request_id}"),
            Option(t("Emergency"), f"{ui.MENU}:emergency"),
        ]
        return Reply("\n".join(lines), tuple(options))

    scope.notify(request.contact_id, to_person)
    area = area_name(content, area_code)

    def to_coordinator(t: Translator) -> Reply:
        return Reply(
            t(
                "Request {ref} ({kind}, area {area}) could not be routed.",
                ref=reference,
                kind=kind_label(t, kind),
                area=area if area is not None else t("unknown"),
            )
        )

    for contact_id in await coordinator_contacts(scope.session):
        scope.notify(contact_id, to_coordinator)


def hold_question(t: Translator, later: waiting.Prospect, now: datetime) -> str:
    """Which outlet could take the request soonest, and when (in its own time zone)."""
    if later.open_now(now):
        return t(
            "{outlet} has what you asked for, but nobody is on shift there right now. "
            "Hold your request until someone is?",
            outlet=later.name,
        )
    return t(
        "The earliest is {outlet}, opening {when}. Hold your request until then?",
        outlet=later.name,
        when=opening_time(t, later.opens_at, later.timezone, now),
    )


def opening_time(t: Translator, at: datetime, timezone: str, now: datetime) -> str:
    """``10:00`` today, else ``Thu 10:00``, in the place's time zone."""
    try:
        zone = ZoneInfo(timezone)
    except (ValueError, ZoneInfoNotFoundError):
        zone = ZoneInfo("UTC")
    local = at.astimezone(zone)
    if local.date() == now.astimezone(zone).date():
        return local.strftime("%H:%M")
    days = (t("Mon"), t("Tue"), t("Wed"), t("Thu"), t("Fri"), t("Sat"), t("Sun"))
    return f"{days[local.weekday()]} {local.strftime('%H:%M')}"


# --- other notices about a request ----------------------------------------------------------


async def announce_accepted(scope: Scope, *, request_id: int, outlet_id: int, code: str) -> None:
    """Tell the person where and when to pick up, with their pickup code (sent once)."""
    request = await scope.session.get_one(Request, request_id)
    outlet = await scope.session.get_one(Outlet, outlet_id)
    reference, name, instructions = request.reference, outlet.name, outlet.instructions
    hours = _hours(outlet.hours)
    until, timezone, now = request.expires_at, outlet.timezone, scope.now
    meets = outlet.meets_nearby

    def render(t: Translator) -> Reply:
        lines = [
            t("Your request {ref} was accepted.", ref=reference),
            t("Where: {name}", name=name),
        ]
        if instructions:
            lines.append(instructions)
        if hours is not None:
            lines.append(t("Opening hours: {hours}", hours=ui.describe_hours(t, hours)))
        lines += [
            t("Please come by {time}.", time=local_time(until, timezone, now)),
            t("Your pickup code: {code}", code=code),
            t("Show or tell this code to the peer. Keep it to yourself."),
        ]
        options = relay.line_options(t, request_id, Side.PERSON)
        if meets:
            lines.append(t("This outlet's peers can also meet you nearby: choose below."))
            options = relay.meet_options(t, request_id) + options
        lines.append(relay.line_hint(t, Side.PERSON))
        return Reply("\n".join(lines), options, columns=2)

    scope.notify(request.contact_id, render)


async def announce_low_stock(scope: Scope, low: Iterable[LowStock]) -> None:
    """Tell coordinators, once per crossing, that an outlet is running low on an item."""
    items = list(low)
    if not items:
        return
    names = await item_names(scope.session, scope.deps.content, [x.item_id for x in items])
    outlets = {
        row.id: row.name
        for row in await scope.session.execute(
            select(Outlet.id, Outlet.name).where(Outlet.id.in_({x.outlet_id for x in items}))
        )
    }
    coordinators = await coordinator_contacts(scope.session)
    for entry in items:
        render = _low_stock_notice(
            outlets.get(entry.outlet_id, "?"), names.get(entry.item_id, "?"), entry.quantity
        )
        for contact_id in coordinators:
            scope.notify(contact_id, render)


def _low_stock_notice(outlet: str, item: str, left: int) -> Render:
    def render(t: Translator) -> Reply:
        return Reply(
            t(
                "Low stock at {outlet}: {item} ({left} left).",
                outlet=outlet,
                item=t(item),
                left=left,
            )
        )

    return render


# --- lookups ---------------------------------------------------------------------------------


async def peer_contacts(session: AsyncSession, peer_worker_ids: Collection[int]) -> list[int]:
    """Contact ids of peer workers (to send them notices)."""
    if not peer_worker_ids:
        return []
    ids = await session.scalars(
        select(PeerWorker.contact_id)
        .where(PeerWorker.id.in_(sorted(peer_worker_ids)))
        .order_by(PeerWorker.id)
    )
    return list(dict.fromkeys(ids))


async def on_shift_contacts(session: AsyncSession, *, outlet_id: int, now: datetime) -> list[int]:
    """Contact ids of the outlet's peers who are on shift now."""
    peers = await shifts.on_shift_peers(session, outlet_id=outlet_id, now=now)
    return await peer_contacts(session, peers)


async def coordinator_contacts(session: AsyncSession) -> list[int]:
    """Contact ids of every coordinator."""
    return list(await session.scalars(select(Coordinator.contact_id).order_by(Coordinator.id)))


async def item_names(
    session: AsyncSession, content: Content, item_ids: Collection[int]
) -> dict[int, str]:
    """Display names by item id (catalogue name, or the code for an item since removed)."""
    if not item_ids:
        return {}
    rows = await session.execute(select(Item.id, Item.code).where(Item.id.in_(set(item_ids))))
    names = {}
    for row in rows:
        spec = content.catalogue.by_code(row.code)
        names[row.id] = spec.name if spec is not None else row.code
    return names


async def named_items(
    session: AsyncSession, content: Content, *, request_id: int
) -> tuple[tuple[str, int], ...]:
    """The request's items as (name, packs), in item id order."""
    items = await requests.items_of(session, request_id=request_id)
    names = await item_names(session, content, items)
    return tuple((names.get(item_id, "?"), packs) for item_id, packs in sorted(items.items()))


@dataclass(frozen=True, slots=True)
class FixedServices:
    """Services to list for someone no outlet could serve."""

    listed: tuple[ReferralService, ...]
    open_now: bool


def fixed_services(
    content: Content,
    *,
    area_code: str | None,
    cell: tuple[float | None, float | None],
    referral_type: str | None,
    now: datetime,
    limit: int = FIXED_SERVICES_SHOWN,
) -> FixedServices:
    """The nearest directory services open now (or, if none is, the nearest ones).

    Distance is from the request's coarse cell, else its area's centre; a referral request
    prefers services of its own type, and any other leaves drug-checking services out.
    """
    origin: tuple[float, float] | None = None
    if cell[0] is not None and cell[1] is not None:
        origin = (cell[0], cell[1])
    elif area_code is not None and (area := content.gazetteer.by_code(area_code)) is not None:
        origin = (area.lat, area.lon)
    services = list(content.directory.services)
    if referral_type is not None:
        same = [s for s in services if s.type == referral_type]
        services = same or services
    else:
        # Kit or naloxone: a drug-checking counter tests drugs, it is not where to get them.
        services = [s for s in services if s.type != "drug_checking"] or services
    if origin is not None:
        lat, lon = origin
        services.sort(key=lambda s: _distance(lat, lon, s))
    open_now = [s for s in services if s.is_open(now)]
    if open_now:
        return FixedServices(listed=tuple(open_now[:limit]), open_now=True)
    return FixedServices(listed=tuple(services[:limit]), open_now=False)


def _distance(lat: float, lon: float, service: ReferralService) -> float:
    return haversine_km(lat, lon, service.lat, service.lon)


def emergency_number(content: Content, area_code: str | None) -> str:
    """The area's emergency number, else the city's."""
    area = content.gazetteer.by_code(area_code) if area_code else None
    return area.emergency_number if area is not None else content.gazetteer.city.emergency_number


def area_name(content: Content, area_code: str | None) -> str | None:
    """A coarse area's name, or None."""
    area = content.gazetteer.by_code(area_code) if area_code else None
    return area.name if area is not None else None


# --- words -----------------------------------------------------------------------------------


def kind_label(t: Translator, kind: RequestKind) -> str:
    """A request kind in words."""
    if kind is RequestKind.NALOXONE:
        return t("naloxone")
    if kind is RequestKind.REFERRAL:
        return t("referral")
    return t("equipment")


def item_lines(t: Translator, items: Iterable[tuple[str, int]]) -> list[str]:
    """``2 × Name`` lines."""
    # Names are the catalogue's English names, translated like any message.
    return [t("{packs} × {name}", packs=packs, name=t(name)) for name, packs in items]


def rough_distance(t: Translator, km: float) -> str:
    """A distance rounded so it says how far, not where: "under 1 km", "~3 km"."""
    if km < 1:
        return t("under 1 km")
    return t("~{km} km", km=round(km))


def local_time(at: datetime, timezone: str, now: datetime) -> str:
    """``HH:MM`` in the place's time zone, with the date when it is not today there."""
    try:
        zone = ZoneInfo(timezone)
    except (ValueError, ZoneInfoNotFoundError):
        zone = ZoneInfo("UTC")
    local, today = at.astimezone(zone), now.astimezone(zone)
    if local.date() == today.date():
        return local.strftime("%H:%M")
    return local.strftime("%Y-%m-%d %H:%M")


def service_line(t: Translator, service: ReferralService) -> str:
    """``Name — address (hours)``, with the phone number when there is one."""
    line = t(
        "{name} — {address} ({hours})",
        name=service.name,
        address=service.address,
        hours=ui.describe_hours(t, service.hours),
    )
    if service.phone:
        line += " " + t("tel. {phone}", phone=service.phone)
    if service.naloxone:
        line += " " + t("· naloxone kits")
    return line


def _hours(hours: str) -> OpeningHours | None:
    return stored(hours)
