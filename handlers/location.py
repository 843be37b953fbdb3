"""The shared "where are you?" step of the supplies, naloxone and referral conversations.

The question offers the areas first (the first page of them as buttons: one tap), typing an
area's name or alias, a street or a landmark (a street through several areas asks which), and
sharing a location second: a shared location leaves a precise point
with the platform (Telegram keeps it in its cloud, out of reach of ``/forget``), so the channel
adds a line saying so. A Signal user can paste a maps link or ``lat, lon`` instead.

A precise point is never kept, not even in the conversation state: it is snapped at once to
the same grid cell the request stores (:data:`~bot.privacy.coarse.DEFAULT_CELL_DEG`) and routed
from the cell's centre. Only the choice of the nearest area reads the point itself, in memory.
A typed or chosen area stands for its centre (public, and named by the area code anyway).

This step has no buttons of its own: its payloads use the calling conversation's prefix and run
tag (``sup:<run>:area:dtes``, ``sup:<run>:areas:1``) so the stale-button check stays in one
place. The caller hands over its input while at the location step and continues with the
:class:`Place` it gets back; when it gets None, this module has already answered.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from bot.content import AreaSpec
from bot.core.context import Context
from bot.core.messages import Incoming, InputKind, Option
from bot.privacy.coarse import DEFAULT_CELL_DEG, snap, validate_location
from handlers import ui
from handlers.routes import ModuleRoutes

AREA = "area"  # choose an area: <prefix>:<run>:area:<code>
AREAS = "areas"  # a page of the area list: <prefix>:<run>:areas:<page>
ACTIONS = frozenset({AREA, AREAS})
LOOKUP_CHARS = 200  # the most of a typed place name that is looked up
# "49.28, -123.1" or a map link holding it: two decimals separated by a comma.
_COORDINATES = re.compile(r"(-?\d{1,3}(?:\.\d+)?)\s*,\s*(-?\d{1,3}(?:\.\d+)?)")

# Nothing to route here: the conversations that use this step own their buttons.
ROUTES = ModuleRoutes()


@dataclass(frozen=True, slots=True)
class Place:
    """Where a request is for: an area and a coarse point to route from."""

    area_code: str
    lat: float
    lon: float

    def to_data(self) -> dict[str, Any]:
        """For the conversation state (coarse values only)."""
        return {"area": self.area_code, "lat": self.lat, "lon": self.lon}

    @classmethod
    def from_data(cls, data: dict[str, Any]) -> Place | None:
        """The place kept in a conversation's state, if there is a sound one."""
        area, lat, lon = data.get("area"), _number(data.get("lat")), _number(data.get("lon"))
        if not isinstance(area, str) or lat is None or lon is None:
            return None
        return cls(area_code=area, lat=lat, lon=lon)


def _number(value: object) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value) if math.isfinite(value) else None


def of_area(area: AreaSpec) -> Place:
    """An area, routed from its centre."""
    return Place(area_code=area.code, lat=area.lat, lon=area.lon)


def prompt(
    ctx: Context,
    prefix: str,
    run: str,
    *,
    lead: str = "",
    extra: Sequence[Option] = (),
) -> None:
    """Ask where the person is: the first page of areas, ``extra``, then the way out.

    ``lead`` goes first. The reply asks for a location too, which the channel offers after
    the areas, with its own line on what sharing reveals there.
    """
    question = ctx.tr("Where are you?\nChoose your area.")
    text = f"{lead}\n\n{question}" if lead else question
    options = _area_page(ctx, prefix, run, 0, back=[*extra, ui.back_to_menu(ctx.tr)])
    # The one hint on what can be typed: the channel words it with its own way of choosing.
    typed = ctx.tr(
        "your area's name, a street or a landmark (for example Gastown or E Hastings St)"
    )
    ctx.reply(text, options, ask_location=True, columns=2, typed=typed)


def on_press(ctx: Context, press: ui.Press, prefix: str) -> Place | None:
    """An area-list button pressed at the location step."""
    gazetteer = ctx.deps.content.gazetteer
    if press.action == AREA:
        area = gazetteer.by_code(press.arg)
        if area is not None:
            return of_area(area)
        ui.expired(ctx)
        return None
    number = ui.as_int(press.arg)
    if number is None or number >= ui.pages_of(len(gazetteer.areas)):
        ui.expired(ctx)
        return None
    _area_list(ctx, prefix, press.run, number, ctx.tr("Choose your area:"))
    return None


def on_input(msg: Incoming, ctx: Context, prefix: str, run: str) -> Place | None:
    """Typed text or a shared location at the location step."""
    if msg.kind is InputKind.LOCATION:
        point = None if msg.location is None else (msg.location.lat, msg.location.lon)
        return _at_point(ctx, prefix, run, point)
    text = msg.text[:LOOKUP_CHARS]
    area = _find(ctx, text)
    if area is not None:
        return of_area(area)
    match = _COORDINATES.search(text)
    if match is not None:
        return _at_point(ctx, prefix, run, (float(match[1]), float(match[2])))
    places = ctx.deps.content.gazetteer.places(text)
    if len(places) == 1:
        return of_area(places[0])
    if places:
        # A street through several areas: those areas, and the rest of the list a tap away.
        _choose_among(ctx, prefix, run, text, places)
        return None
    if not text.strip():
        _area_list(ctx, prefix, run, 0, ctx.tr("Please type your area, or choose it:"))
        return None
    _area_list(
        ctx,
        prefix,
        run,
        0,
        ctx.tr(
            "I don't know a place called “{name}”. Type another name, or choose your area:",
            name=ui.quote(text),
        ),
    )
    return None


def _find(ctx: Context, text: str) -> AreaSpec | None:
    """The area a typed name means; "Main & Hastings" finds "Main and Hastings" too."""
    gazetteer = ctx.deps.content.gazetteer
    return gazetteer.find(text) or gazetteer.find(text.replace("&", " and "))


def _at_point(
    ctx: Context, prefix: str, run: str, point: tuple[float, float] | None
) -> Place | None:
    try:
        lat, lon = validate_location(*point) if point is not None else (math.nan, math.nan)
    except ValueError:
        lat = lon = math.nan
    if not (math.isfinite(lat) and math.isfinite(lon)):
        _area_list(
            ctx,
            prefix,
            run,
            0,
            ctx.tr("I couldn't read that location. Share it again, or choose your area:"),
        )
        return None
    # The cell the request will store, and nothing finer, is carried on (state, routing, the
    # services listed); the point itself only picks the area (a named place, stored anyway).
    cell = snap(lat, lon, DEFAULT_CELL_DEG)
    area = ctx.deps.content.gazetteer.nearest(lat, lon)
    if area is None:
        _outside(ctx, prefix, run)
        return None
    return Place(area_code=area.code, lat=cell.lat, lon=cell.lon)


def _outside(ctx: Context, prefix: str, run: str) -> None:
    """Out of every area: say so, with emergency advice that holds anywhere, and offer the areas.

    No services are listed: the nearest ones in the directory would be in another city, and the
    area's emergency number may not be the one where the person is.
    """
    lines = [
        ctx.tr(
            "That place is outside the areas this service covers ({city}).",
            city=ctx.deps.content.gazetteer.city.name,
        ),
        ctx.tr(
            "In an emergency, call the local emergency number now "
            "(112 works from most mobile phones)."
        ),
        ctx.tr("If you are in the area, choose it:"),
    ]
    _area_list(ctx, prefix, run, 0, "\n".join(lines))


def _choose_among(
    ctx: Context, prefix: str, run: str, text: str, areas: Sequence[AreaSpec]
) -> None:
    lead = ctx.tr(
        "“{name}” runs through more than one area. Which one are you in?", name=ui.quote(text)
    )
    choices = [Option(area.name, ui.payload(prefix, run, AREA, area.code)) for area in areas]
    back = [
        Option(ctx.tr("Other areas"), ui.payload(prefix, run, AREAS, 0)),
        ui.back_to_menu(ctx.tr),
    ]
    ctx.reply(lead, [*choices[: ui.PAGE_SIZE], *back], columns=2)


def _area_list(ctx: Context, prefix: str, run: str, number: int, lead: str) -> None:
    options = _area_page(ctx, prefix, run, number, back=[ui.back_to_menu(ctx.tr)])
    ctx.reply(lead, options, columns=2)


def _area_page(
    ctx: Context, prefix: str, run: str, number: int, *, back: Sequence[Option]
) -> tuple[Option, ...]:
    """Page ``number`` of the area buttons, then ``back``."""
    areas = ctx.deps.content.gazetteer.areas
    choices = [Option(area.name, ui.payload(prefix, run, AREA, area.code)) for area in areas]
    return ui.page(choices, number, more=ui.payload(prefix, run, AREAS), back=back, tr=ctx.tr)
