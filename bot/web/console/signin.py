"""Signing in and out, and the console's language.

``GET /console/signin/<token>`` only shows a button: chat apps and link scanners fetch links
they see, and a GET that spent the single-use token would sign the member out of their own
link. The button POSTs the token, which is traded for a session (:func:`console_access.redeem`).
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from bot.services import console_access
from bot.web.console.site import COOKIE, PREFIX, Console, View, _accept_language, _same_origin


def routes(console: Console) -> list[BaseRoute]:
    async def ask(request: Request) -> Response:
        t = console.translator(_accept_language(request))
        return console.render("signin.html", t=t, token=request.path_params.get("token", ""))

    async def sign_in(request: Request) -> Response:
        t = console.translator(_accept_language(request))
        if not _same_origin(request):
            return console.refuse(t, t("This form came from another site."))
        form = await request.form(max_files=0, max_fields=4)
        token = form.get("token")
        engine = console.engine
        async with engine.sessions() as session, session.begin():
            session_token = await console_access.redeem(
                session, token=token if isinstance(token, str) else "", now=engine.clock()
            )
        if session_token is None:
            return console.refuse(
                t,
                t(
                    "This sign-in link has expired or was already used. Send /console to "
                    "the bot for a new one."
                ),
            )
        response = RedirectResponse(f"{PREFIX}/", status_code=303)
        console.set_session_cookie(response, session_token)
        return response

    async def sign_out(view: View) -> Response:
        await console_access.sign_out(view.session, token=view.request.cookies.get(COOKIE))
        response = console.render("message.html", t=view.t, message=view.t("You are signed out."))
        response.delete_cookie(COOKIE, path=PREFIX)
        return response

    async def language(view: View) -> Response:
        chosen = view.form.get("locale")
        token = view.request.cookies.get(COOKIE)
        if isinstance(chosen, str) and chosen in view.console.engine.deps.words.locales and token:
            await console_access.set_locale(view.session, token=token, locale=chosen, now=view.now)
        back = view.form.get("back")
        path = back if isinstance(back, str) and back.startswith(f"{PREFIX}/") else f"{PREFIX}/"
        return RedirectResponse(path, status_code=303)

    return [
        Route("/signin/{token}", ask, methods=["GET"]),
        Route("/signin", sign_in, methods=["POST"]),
        Route("/signout", console.page(sign_out), methods=["POST"]),
        Route("/language", console.page(language), methods=["POST"]),
    ]
