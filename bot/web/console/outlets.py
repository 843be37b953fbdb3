"""*Outlets*: the list (paged, by area and name) and one outlet with its live stock.

Coordinators see and edit every outlet; a peer only their own (``member.may_manage``). Stock
edits go through :mod:`handlers.outlet_changes`, the same code as the chat's ``/stock``, so a
count set here has the chat's effects at once (routing, low-stock notices, held requests).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final

from sqlalchemy import select
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from bot.core.words import N_
from bot.db.models import Item
from bot.domain import OutletKind
from bot.services import outlet_overview, stock
from bot.services.outlet_overview import MAX_SEARCH
from bot.web.console.site import Console, NavEntry, View
from handlers import outlet_changes

KINDS: Final = {
    OutletKind.PEER: N_("Peer outlet"),
    OutletKind.PHARMACY: N_("Pharmacy"),
    OutletKind.FIXED_SITE: N_("Fixed site"),
    OutletKind.VAN: N_("Van"),
}
MAX_PAGE: Final = 10_000


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
    return _render(
        view,
        "outlets.html",
        listing=listing,
        area=area,
        search=search,
        areas=area_choices,
    )


async def _outlet_page(
    view: View, outlet_id: int, *, error: str | None = None, status: int = 200
) -> Response:
    detail = await outlet_overview.outlet_detail(view.session, outlet_id=outlet_id, now=view.now)
    if detail is None:
        return _no_such_outlet(view)
    return _render(
        view,
        "outlet.html",
        status=status,
        outlet=detail,
        error=error,
        default_threshold=stock.DEFAULT_LOW_THRESHOLD,
    )


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


def routes(console: Console) -> list[BaseRoute]:
    console.nav.append(NavEntry("/outlets", N_("Outlets"), coordinator=False))
    return [
        Route("/outlets", console.page(list_page), methods=["GET"]),
        Route("/outlets/{outlet_id:int}", console.page(outlet_page), methods=["GET"]),
        Route("/outlets/{outlet_id:int}/stock", console.page(set_stock), methods=["POST"]),
        Route("/outlets/{outlet_id:int}/withdraw", console.page(withdraw), methods=["POST"]),
        Route(
            "/outlets/{outlet_id:int}/active",
            console.page(set_active, coordinator=True),
            methods=["POST"],
        ),
    ]
