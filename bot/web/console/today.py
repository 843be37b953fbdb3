"""*Today*: what needs attention now (:mod:`bot.services.today`)."""

from __future__ import annotations

from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from bot.core.words import N_
from bot.services import today
from bot.web.console.site import Console, NavEntry, View


async def today_page(view: View) -> Response:
    member = view.member
    outlet_ids = None if member.is_coordinator else member.outlet_ids
    picture = await today.snapshot(view.session, now=view.now, outlet_ids=outlet_ids)
    catalogue = view.console.engine.deps.content.catalogue

    def item_name(code: str) -> str:
        spec = catalogue.by_code(code)
        return view.t(spec.name) if spec is not None else code

    return view.render("today.html", today=picture, item_name=item_name)


def routes(console: Console) -> list[BaseRoute]:
    console.nav.append(NavEntry("/", N_("Today"), coordinator=False))
    return [Route("/", console.page(today_page), methods=["GET"])]
