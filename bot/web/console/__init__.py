"""The web console for coordinators and peers, mounted at ``/console`` in the web app.

Each page module offers ``routes(console)``, which adds its menu entry and returns its routes;
the menu follows the order of :data:`PAGES`. Styles are served from ``/console/static``: no page
asks anything of another site (see :data:`bot.web.console.site.SECURITY_HEADERS`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Final

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.routing import BaseRoute, Mount
from starlette.staticfiles import StaticFiles

from bot.core.engine import Engine
from bot.web.console import (
    alerts,
    consultations,
    numbers,
    outlets,
    reports,
    signin,
    team,
    today,
)
from bot.web.console.headers import SecurityHeaders
from bot.web.console.site import Console

STATIC: Final = Path(__file__).resolve().parents[1] / "static"
PAGES: Final = (today, outlets, team, alerts, consultations, reports, numbers)


def console_app(engine: Engine, *, secure_cookies: bool) -> Starlette:
    """The console's own app (mount it at ``/console``)."""
    console = Console(engine, secure_cookies=secure_cookies)
    routes: list[BaseRoute] = [*signin.routes(console)]
    for page in PAGES:
        routes.extend(page.routes(console))
    routes.append(Mount("/static", StaticFiles(directory=STATIC), name="static"))
    return Starlette(routes=routes, middleware=[Middleware(SecurityHeaders)])
