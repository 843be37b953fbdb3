"""*Outlets*: the list (paged, by area and name) and one outlet with its live stock.

Coordinators see and edit every outlet; a peer only their own (``member.may_manage``). Stock,
hours and closure edits go through :mod:`handlers.outlet_changes`, the same code as the chat's
``/stock`` and ``/closed``, so a change made here has the chat's effects at once (routing,
low-stock notices, pending offers moving on, held requests routed). Coordinators also see where
requests went unrouted lately (coarse cells and areas, small counts hidden) under the list.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any, Final
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import select
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from bot.content.hours import stored
from bot.core.words import N_
from bot.db.models import Item
from bot.domain import ClosureReason, OutletKind
from bot.services import closures, coverage, forecast, outlet_hours, outlet_overview, stock
from bot.services.closures import ClosureError
from bot.services.forecast import StockState
from bot.services.outlet_hours import HoursError
from bot.services.outlet_overview import MAX_SEARCH
from bot.web import charts
from bot.web.console.site import Console, NavEntry, View
from handlers import offers, outlet_changes, ui

KINDS: Final = {
    OutletKind.PEER: N_("Peer outlet"),
    OutletKind.PHARMACY: N_("Pharmacy"),
    OutletKind.FIXED_SITE: N_("Fixed site"),
    OutletKind.VAN: N_("Van"),
}
MAX_PAGE: Final = 10_000
MAX_HOURS: Final = 500  # characters of OSM opening_hours text
COVERAGE_DAYS: Final = 28
HOURS_EXAMPLE: Final = "Mo-Fr 10:00-18:00; Sa 12:00-16:00; PH off"
REASONS: Final = {
    ClosureReason.HOLIDAY: N_("holiday"),
    ClosureReason.CLOSED_TODAY: N_("closed"),
    ClosureReason.OTHER: N_("other"),
}
STATES: Final = {
    StockState.STOCK_OUT: N_("stock-out"),
    StockState.LOW: N_("low"),
    StockState.OK: N_("ok"),
}


def _actor(view: View) -> str:
    return "coordinator" if view.member.is_coordinator else "peer"


@dataclass(frozen=True)
class _Names:
    """Areas, items and kinds named in the member's language (both templates use them)."""

    view: View

    def area(self, code: str) -> str:
        area = self.view.console.engine.deps.content.gazetteer.by_code(code)
        return self.view.t(area.name) if area is not None else code

    def item(self, code: str) -> str:
        spec = self.view.console.engine.deps.content.catalogue.by_code(code)
        return self.view.t(spec.name) if spec is not None else code

    def kind(self, kind: OutletKind) -> str:
        return self.view.t(KINDS.get(kind, str(kind)))


def _render(view: View, template: str, *, status: int = 200, **values: Any) -> Response:
    names = _Names(view)
    return view.render(
        template,
        status=status,
        area_name=names.area,
        item_name=names.item,
        kind_name=names.kind,
        **values,
    )


async def list_page(view: View) -> Response:
    query = view.request.query_params
    areas = view.console.engine.deps.content.gazetteer.codes
    area = query.get("area", "")
    area = area if area in areas else ""
    search = query.get("q", "").strip()[:MAX_SEARCH]
    raw_page = query.get("page", "1")
    page = int(raw_page) if raw_page.isascii() and raw_page.isdigit() else 1
    page = min(max(page, 1), MAX_PAGE)
    member = view.member
    listing = await outlet_overview.outlet_list(
        view.session,
        now=view.now,
        outlet_ids=None if member.is_coordinator else member.outlet_ids,
        area=area or None,
        search=search or None,
        page=page,
    )
    area_name = _Names(view).area
    area_choices = sorted(((code, area_name(code)) for code in areas), key=lambda a: a[1])
    gaps = await _coverage(view) if member.is_coordinator else None
    return _render(
        view,
        "outlets.html",
        listing=listing,
        area=area,
        search=search,
        areas=area_choices,
        gaps=gaps,
        cell_name=cell_name,
        gap_grid=_gap_grid(view, gaps) if gaps is not None else "",
    )


async def _coverage(view: View) -> coverage.Coverage:
    """Unrouted requests over the last COVERAGE_DAYS UTC days, today included."""
    today: date = view.now.date()
    return await coverage.coverage(
        view.session, since=today - timedelta(days=COVERAGE_DAYS - 1), until=today + timedelta(1)
    )


def cell_name(gap: coverage.CellGap) -> str:
    """A coarse cell by its centre, to two decimals (the cell is about 2 km: no finer)."""
    return f"{gap.lat:.2f}, {gap.lon:.2f}"


def _gap_grid(view: View, gaps: coverage.Coverage) -> str:
    t = view.t
    return charts.cell_grid(
        ident="coverage-grid",
        title=t("Unrouted requests by cell"),
        desc=t("Each square is a cell of about 2 km, north up; darker means more."),
        cells=[
            charts.Cell(gap.row, gap.col, gap.unrouted.value, cell_name(gap)) for gap in gaps.cells
        ],
        rtl=view.t.rtl,
    )


async def _outlet_page(
    view: View, outlet_id: int, *, error: str | None = None, status: int = 200
) -> Response:
    detail = await outlet_overview.outlet_detail(view.session, outlet_id=outlet_id, now=view.now)
    if detail is None:
        return _no_such_outlet(view)
    t, now = view.t, view.now
    listed = await closures.current_and_upcoming(view.session, outlet_id=outlet_id, now=now)
    hours = stored(detail.hours)
    state = outlet_hours.describe(
        hours,
        timezone=detail.timezone,
        now=now,
        closures=[(c.starts_at, c.ends_at) for c in listed],
    )
    ahead = {
        line.item_code: line
        for line in await forecast.forecast(view.session, now=now, outlet_ids=[outlet_id])
    }
    local_today = now.astimezone(_zone(detail.timezone)).date()
    return _render(
        view,
        "outlet.html",
        status=status,
        outlet=detail,
        error=error,
        default_threshold=stock.DEFAULT_LOW_THRESHOLD,
        hours_text=hours.text if hours is not None else "",
        hours_words=ui.describe_hours(t, hours) if hours is not None else t("unreadable"),
        hours_now=ui.hours_now_text(t, state, now),
        hours_example=HOURS_EXAMPLE,
        closures=[
            (
                c,
                offers.local_time(c.starts_at, detail.timezone, now),
                offers.local_time(c.ends_at, detail.timezone, now),
                t(REASONS[c.reason]),
                c.active(now),
            )
            for c in listed
        ],
        closed_now=any(c.active(now) for c in listed),
        today=local_today.isoformat(),
        forecast=ahead,
        state_name=lambda state: t(STATES[state]),
    )


def _zone(timezone: str) -> ZoneInfo:
    try:
        return ZoneInfo(timezone)
    except (ValueError, OSError, ZoneInfoNotFoundError):
        return ZoneInfo("UTC")


def _outlet_id(view: View) -> int | None:
    """The outlet in the path, if this member may manage it (None: refuse)."""
    outlet_id: int = view.request.path_params["outlet_id"]
    return outlet_id if view.member.may_manage(outlet_id) else None


async def _exists(view: View, outlet_id: int) -> bool:
    return await outlet_overview.exists(view.session, outlet_id=outlet_id)


def _no_such_outlet(view: View) -> Response:
    return view.console.refuse(view.t, view.t("There is no such outlet."), status=404)


def _not_yours(view: View) -> Response:
    return view.console.refuse(view.t, view.t("You can only see and change your own outlet."))


async def outlet_page(view: View) -> Response:
    outlet_id = _outlet_id(view)
    if outlet_id is None:
        return _not_yours(view)
    return await _outlet_page(view, outlet_id)


async def _item(view: View, code: object) -> int | None:
    """The id of an item in the catalogue by its code (forms carry codes)."""
    if (
        not isinstance(code, str)
        or view.console.engine.deps.content.catalogue.by_code(code) is None
    ):
        return None
    found: int | None = await view.session.scalar(
        select(Item.id).where(Item.code == code, Item.active.is_(True))
    )
    return found


def _number(value: object) -> int | None:
    return stock.parse_count(value) if isinstance(value, str) else None


async def set_stock(view: View) -> Response:
    """Set an item's count and low-stock threshold; an item not offered yet is added."""
    outlet_id = _outlet_id(view)
    if outlet_id is None:
        return _not_yours(view)
    if not await _exists(view, outlet_id):
        return _no_such_outlet(view)
    form = view.form
    item_id = await _item(view, form.get("item"))
    if item_id is None:
        return await _outlet_page(
            view, outlet_id, error=view.t("Choose an item from the list."), status=422
        )
    quantity = _number(form.get("quantity"))
    threshold_given = form.get("low_threshold", "")
    threshold = _number(threshold_given) if threshold_given != "" else None
    if quantity is None or (threshold_given != "" and threshold is None):
        return await _outlet_page(
            view,
            outlet_id,
            error=view.t("Please give a whole number from 0 to {max}.", max=stock.MAX_COUNT),
            status=422,
        )
    await outlet_changes.set_count(
        view.scope,
        outlet_id=outlet_id,
        item_id=item_id,
        quantity=quantity,
        low_threshold=threshold,
        actor=_actor(view),
    )
    return view.redirect(f"/outlets/{outlet_id}", done="stock")


async def withdraw(view: View) -> Response:
    """Stop offering an item (refused while accepted requests hold packs of it)."""
    outlet_id = _outlet_id(view)
    if outlet_id is None:
        return _not_yours(view)
    if not await _exists(view, outlet_id):
        return _no_such_outlet(view)
    item_id = await _item(view, view.form.get("item"))
    held = (
        None
        if item_id is None
        else await stock.withdraw(
            view.session, outlet_id=outlet_id, item_id=item_id, now=view.now, actor=_actor(view)
        )
    )
    if held is None:
        return await _outlet_page(
            view, outlet_id, error=view.t("This outlet does not offer that item."), status=422
        )
    if held:
        return await _outlet_page(
            view,
            outlet_id,
            error=view.t.plural(
                "{n} pack is promised to an accepted request: it can be removed once it is "
                "handed over or released.",
                "{n} packs are promised to accepted requests: it can be removed once they are "
                "handed over or released.",
                held,
            ),
            status=409,
        )
    return view.redirect(f"/outlets/{outlet_id}", done="withdrawn")


async def set_active(view: View) -> Response:
    """Open or close the outlet to routing (coordinators only)."""
    outlet_id: int = view.request.path_params["outlet_id"]
    if not await _exists(view, outlet_id):
        return _no_such_outlet(view)
    wanted = view.form.get("active")
    if wanted not in ("1", "0"):
        return await _outlet_page(
            view, outlet_id, error=view.t("Choose active or inactive."), status=422
        )
    await outlet_changes.set_active(
        view.scope, outlet_id=outlet_id, active=wanted == "1", actor=_actor(view)
    )
    return view.redirect(f"/outlets/{outlet_id}", done="active")


async def _managed(view: View) -> int | Response:
    """The outlet in the path if this member may manage it and it exists, else the refusal."""
    outlet_id = _outlet_id(view)
    if outlet_id is None:
        return _not_yours(view)
    if not await _exists(view, outlet_id):
        return _no_such_outlet(view)
    return outlet_id


async def set_hours(view: View) -> Response:
    """Replace the opening hours (OSM syntax); unreadable text changes nothing."""
    outlet_id = await _managed(view)
    if isinstance(outlet_id, Response):
        return outlet_id
    text = view.form.get("hours", "")
    text = text.strip() if isinstance(text, str) else ""
    problem = (
        "too long" if len(text) > MAX_HOURS else outlet_hours.validate(text) if text else "empty"
    )
    if problem is not None:
        return await _outlet_page(
            view,
            outlet_id,
            error=view.t(
                "These hours cannot be read. Write them like this: {example}",
                example=HOURS_EXAMPLE,
            ),
            status=422,
        )
    try:
        await outlet_changes.set_hours(
            view.scope, outlet_id=outlet_id, text=text, actor=_actor(view)
        )
    except HoursError:
        return await _outlet_page(
            view, outlet_id, error=view.t("These hours cannot be read."), status=422
        )
    return view.redirect(f"/outlets/{outlet_id}", done="hours")


def _day(value: object) -> date | None:
    if not isinstance(value, str) or len(value) != 10:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        return None


async def close(view: View) -> Response:
    """Close the outlet: for the rest of today, tomorrow, or whole days (holiday or other)."""
    outlet_id = await _managed(view)
    if isinstance(outlet_id, Response):
        return outlet_id
    form, actor = view.form, _actor(view)
    when = form.get("when")
    try:
        if when == "today":
            if await closures.closed_now(view.session, outlet_ids=[outlet_id], now=view.now):
                return view.redirect(f"/outlets/{outlet_id}", done="closed")  # closed already
            await outlet_changes.close_today(view.scope, outlet_id=outlet_id, actor=actor)
        elif when == "tomorrow":
            await outlet_changes.close_tomorrow(view.scope, outlet_id=outlet_id, actor=actor)
        elif when == "days":
            first, last = _day(form.get("first")), _day(form.get("last"))
            reason = form.get("reason")
            if first is None or last is None or reason not in ("holiday", "other"):
                raise ClosureError("bad form")
            starts_at, ends_at = await closures.days_span(
                view.session, outlet_id=outlet_id, first=first, last=last
            )
            await outlet_changes.close(
                view.scope,
                outlet_id=outlet_id,
                starts_at=starts_at,
                ends_at=ends_at,
                reason=ClosureReason(reason),
                actor=actor,
            )
        else:
            raise ClosureError("bad form")
    except ClosureError:
        return await _outlet_page(
            view,
            outlet_id,
            error=view.t(
                "Choose a first and a last day, not in the past, at most {days} days apart, "
                "and a reason.",
                days=closures.MAX_LENGTH.days,
            ),
            status=422,
        )
    return view.redirect(f"/outlets/{outlet_id}", done="closed")


async def reopen(view: View) -> Response:
    """Cancel one closure (current: the outlet opens again now; upcoming: it will not happen)."""
    outlet_id = await _managed(view)
    if isinstance(outlet_id, Response):
        return outlet_id
    raw = view.form.get("closure", "")
    closure_id = int(raw) if isinstance(raw, str) and raw.isascii() and raw.isdigit() else 0
    if not 0 < closure_id <= outlet_overview.MAX_ID or not await outlet_changes.reopen(
        view.scope, outlet_id=outlet_id, closure_id=closure_id, actor=_actor(view)
    ):
        return await _outlet_page(
            view, outlet_id, error=view.t("That closure is over or was cancelled."), status=422
        )
    return view.redirect(f"/outlets/{outlet_id}", done="reopened")


def routes(console: Console) -> list[BaseRoute]:
    console.nav.append(NavEntry("/outlets", N_("Outlets"), coordinator=False))
    return [
        Route("/outlets", console.page(list_page), methods=["GET"]),
        Route("/outlets/{outlet_id:int}", console.page(outlet_page), methods=["GET"]),
        Route("/outlets/{outlet_id:int}/stock", console.page(set_stock), methods=["POST"]),
        Route("/outlets/{outlet_id:int}/withdraw", console.page(withdraw), methods=["POST"]),
        Route("/outlets/{outlet_id:int}/hours", console.page(set_hours), methods=["POST"]),
        Route("/outlets/{outlet_id:int}/close", console.page(close), methods=["POST"]),
        Route("/outlets/{outlet_id:int}/reopen", console.page(reopen), methods=["POST"]),
        Route(
            "/outlets/{outlet_id:int}/active",
            console.page(set_active, coordinator=True),
            methods=["POST"],
        ),
    ]
