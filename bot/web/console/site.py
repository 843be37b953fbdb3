"""The console's frame: sign-in checks, CSRF, one transaction per page, rendering.

Every page is an async function of a :class:`View`, wrapped by :meth:`Console.page`, which

- reads the session cookie and asks :func:`console_access.member` who it belongs to, afresh on
  every request (a member removed a second ago is out now);
- refuses a peer on a coordinators' page (403), and any POST whose CSRF token or ``Origin`` is
  wrong (403), before the page runs;
- runs the page in one database transaction on the engine's clock, and after it commits
  delivers what the page queued for the bot to send (:meth:`Scope.notify`) and wakes the
  alert outbox, exactly as a chat handler's work is finished.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Final
from urllib.parse import urlsplit

import jinja2
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response

from bot.core.context import Scope
from bot.core.engine import Engine
from bot.core.words import Translator
from bot.services import console_access
from bot.services.console_access import Member

COOKIE: Final = "hrbot_console"
PREFIX: Final = "/console"
TEMPLATES: Final = Path(__file__).resolve().parents[1] / "templates"
# The largest form, the consultation editor, posts 13 boxes per language for each of its 10
# questions, plus the title, intro and ticked areas: 157 with three languages and every area
# ticked, 283 with six languages.
MAX_FORM_FIELDS: Final = 400

PageFunction = Callable[["View"], Awaitable[Response]]


@dataclass(frozen=True)
class NavEntry:
    """A page in the console's menu."""

    path: str  # under /console
    title: str  # English, marked with N_ where declared, translated when shown
    coordinator: bool  # only coordinators see it


def csrf_token(session_token: str) -> str:
    """The CSRF token of a session: derived from the session's secret, so it needs no storage
    and a page from another session cannot forge it."""
    return hmac.new(session_token.encode(), b"hrbot console csrf", hashlib.sha256).hexdigest()


def _is_rtl(t: Translator) -> bool:
    return t.rtl


@dataclass
class View:
    """What a page function gets: who is asking, a transaction, the clock, the translator."""

    console: Console
    request: Request
    member: Member
    scope: Scope
    t: Translator
    csrf: str
    form_data: FormData | None = None
    notices: list[str] = field(default_factory=list)

    @property
    def session(self) -> AsyncSession:
        return self.scope.session

    @property
    def now(self) -> datetime:
        return self.scope.now

    @property
    def form(self) -> FormData:
        """The POSTed form (already checked for CSRF)."""
        assert self.form_data is not None, "form read on a GET page"
        return self.form_data

    def render(self, template: str, *, status: int = 200, **values: Any) -> HTMLResponse:
        """A page from ``templates/console/<template>`` in the member's language."""
        return self.console.render(
            template,
            t=self.t,
            status=status,
            member=self.member,
            csrf=self.csrf,
            path=self.request.url.path,
            notice=self.request.query_params.get("done"),
            **values,
        )

    def redirect(self, path: str, *, done: str | None = None) -> RedirectResponse:
        """Back to a console page after a POST (303: the browser GETs it), with an optional
        short confirmation code shown there (codes, not text: nothing typed rides in a URL)."""
        url = f"{PREFIX}{path}"
        if done:
            url += f"?done={done}"
        return RedirectResponse(url, status_code=303)


class Console:
    """The console for one engine: its pages, menu and templates."""

    def __init__(self, engine: Engine, *, secure_cookies: bool) -> None:
        self.engine = engine
        self.secure_cookies = secure_cookies
        self.nav: list[NavEntry] = []  # filled by each page module's routes()
        self.env = jinja2.Environment(
            loader=jinja2.FileSystemLoader(TEMPLATES),
            autoescape=True,
            undefined=jinja2.StrictUndefined,
            auto_reload=False,
            trim_blocks=True,
            lstrip_blocks=True,
        )

    # --- rendering ------------------------------------------------------------------------

    def translator(self, locale: str | None) -> Translator:
        return self.engine.deps.words.for_locale(locale)

    def languages(self) -> list[tuple[str, str]]:
        """(code, the language's own name) of every loaded language."""
        return [(code, t.language_name) for code, t in self.engine.deps.words.locales.items()]

    def render(
        self, template: str, *, t: Translator, status: int = 200, **values: Any
    ) -> HTMLResponse:
        values.setdefault("member", None)
        values.setdefault("csrf", "")
        values.setdefault("path", "")
        values.setdefault("notice", None)
        html = self.env.get_template(f"console/{template}").render(
            t=t,
            plural=t.plural,
            lang=t.locale.replace("_", "-"),
            rtl=_is_rtl(t),
            nav=self.nav,
            prefix=PREFIX,
            languages=self.languages(),
            **values,
        )
        return HTMLResponse(html, status_code=status)

    def refuse(self, t: Translator, message: str, *, status: int = 403) -> HTMLResponse:
        """A short page saying why not (a link to sign in again where that helps)."""
        return self.render("message.html", t=t, status=status, message=message)

    # --- the frame ------------------------------------------------------------------------

    def page(
        self, function: PageFunction, *, coordinator: bool = False
    ) -> Callable[[Request], Awaitable[Response]]:
        """Wrap a page function (see the module docstring)."""

        async def endpoint(request: Request) -> Response:
            token = request.cookies.get(COOKIE)
            hinted = self.translator(_accept_language(request))
            form: FormData | None = None
            if request.method == "POST":
                if not _same_origin(request):
                    return self.refuse(hinted, hinted("This form came from another site."))
                if token is None:  # signed out, or a page left open after the session ended
                    return self.signed_out(hinted)
                form = await request.form(max_files=0, max_fields=MAX_FORM_FIELDS)
                given = form.get("csrf")
                if not isinstance(given, str) or not hmac.compare_digest(given, csrf_token(token)):
                    return self.refuse(
                        hinted, hinted("This form has expired. Go back and reload the page.")
                    )
            engine = self.engine
            async with engine.sessions() as session, session.begin():
                now = engine.clock()
                member = await console_access.member(session, token=token, now=now)
                if member is None:
                    response: Response = self.signed_out(hinted)
                else:
                    t = self.translator(member.locale)
                    if coordinator and not member.is_coordinator:
                        return self.refuse(t, t("This page is for coordinators."))
                    assert token is not None
                    scope = engine.scope(session, now)
                    view = View(self, request, member, scope, t, csrf_token(token), form)
                    response = await function(view)
            if member is None:
                response.delete_cookie(COOKIE, path=PREFIX)
                return response
            await engine.deliver(scope.outbound)
            if scope.wakes_outbox:
                engine.wake_outbox()
            return response

        return endpoint

    def signed_out(self, t: Translator) -> HTMLResponse:
        return self.refuse(
            t,
            t(
                "You are not signed in, or your session has ended. Send /console to the bot "
                "for a new sign-in link."
            ),
        )

    def set_session_cookie(self, response: Response, token: str) -> None:
        response.set_cookie(
            COOKIE,
            token,
            path=PREFIX,
            httponly=True,
            secure=self.secure_cookies,
            samesite="strict",
        )


def _accept_language(request: Request) -> str | None:
    """The browser's first language, for pages shown before sign-in."""
    header = request.headers.get("accept-language", "")
    first = header.split(",")[0].split(";")[0].strip()
    return first or None


def _same_origin(request: Request) -> bool:
    """A POST must come from a page of this site: its Origin (or, failing that, Referer) must
    name this host. Browsers send Origin on every POST; no header at all is a non-browser
    client, which still needs the CSRF token."""
    source = request.headers.get("origin") or request.headers.get("referer")
    if source is None:
        return True
    if source == "null":
        return False
    return urlsplit(source).netloc == request.headers.get("host", "")


SECURITY_HEADERS: Final[Mapping[bytes, bytes]] = {
    # Everything a page needs comes from this app: nothing from elsewhere can even be asked.
    b"content-security-policy": (
        b"default-src 'none'; style-src 'self'; img-src 'self' data:; form-action 'self'; "
        b"frame-ancestors 'none'; base-uri 'none'"
    ),
    # The sign-in URL carries its token; no page tells another site where it came from.
    # Not "no-referrer": under it browsers send ``Origin: null`` with every POST, and the
    # same-origin check refuses the console's own forms; same-origin keeps the real Origin
    # on our own POSTs and sends nothing to anyone else.
    b"referrer-policy": b"same-origin",
    b"x-content-type-options": b"nosniff",
    b"cache-control": b"no-store",
    b"x-frame-options": b"DENY",
}
