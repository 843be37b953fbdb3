"""*Reports*: the community reports review queue, as ``/reports`` offers it in chat.

Coordinators only. The page shows what the chat review shows and nothing more: the stored
text, which was masked before it was ever written (:mod:`bot.services.reports`), the area,
and the report's age no finer than the hour it is kept to; never who sent it. Its two
actions are the chat's own service calls, conditional updates both, so a report handled in
chat is gone here and two coordinators acting at once get one winner.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Final

from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from bot.core.words import N_, Translator
from bot.services import reports
from bot.services.reports import ReportStatus, ReportView
from bot.web.console.site import PREFIX, Console, NavEntry, View
from handlers.hidden_text import hidden_line

PAGE_SIZE: Final = 10
_MAX_ID: Final = 2**31 - 1  # anything larger is no row's id (and no database's integer)
_DAY: Final = timedelta(days=1)


def _as_id(raw: object) -> int | None:
    """A positive row id from a path or query value, or None."""
    if not isinstance(raw, str) or not raw.isascii() or not raw.isdigit() or len(raw) > 10:
        return None
    value = int(raw)
    return value if 0 < value <= _MAX_ID else None


def when(t: Translator, created_at: datetime, now: datetime) -> str:
    """How old a report is, no finer than it is stored (to the hour): "3 hours ago" within a
    day, else the day."""
    age = now - created_at
    if age < _DAY:
        hours = max(0, int(age.total_seconds() // 3600))
        if hours == 0:
            return t("less than an hour ago")
        return t.plural("{n} hour ago", "{n} hours ago", hours)
    return created_at.strftime("%Y-%m-%d")


@dataclass(frozen=True)
class Shown:
    """A report as the page lays it out: the stored (masked) fields and their words."""

    id: int
    reference: str
    area: str
    when: str  # "3 hours ago", or the day
    day: str  # ISO day, for <time datetime>
    sold_as: str
    what_happened: str
    appearance: str | None
    hidden: str  # what masking hid, in words ("" when nothing)


def _shown(view: View, report: ReportView) -> Shown:
    gazetteer = view.scope.deps.content.gazetteer
    area = gazetteer.by_code(report.area_code) if report.area_code else None
    return Shown(
        id=report.id,
        reference=report.reference,
        area=area.name if area is not None else view.t("not given"),
        when=when(view.t, report.created_at, view.now),
        day=report.created_at.strftime("%Y-%m-%d"),
        sold_as=report.sold_as,
        what_happened=report.what_happened,
        appearance=report.appearance,
        hidden=hidden_line(view.t, report.hidden),
    )


async def _queue(
    view: View, *, after_id: int | None, status: int = 200, error: str | None = None
) -> Response:
    waiting = await reports.queue(view.session, limit=PAGE_SIZE + 1, after_id=after_id)
    more = len(waiting) > PAGE_SIZE
    waiting = waiting[:PAGE_SIZE]
    return view.render(
        "reports.html",
        status=status,
        reports=[_shown(view, r) for r in waiting],
        total=await reports.count_new(view.session),
        after_id=after_id,
        next_after=waiting[-1].id if more else None,
        drafted=_as_id(view.request.query_params.get("alert")),
        error=error,
    )


async def queue_page(view: View) -> Response:
    """New reports, oldest first, a page at a time (``?after=<id>`` pages on, as chat does)."""
    raw = view.request.query_params.get("after")
    after_id = _as_id(raw) if raw is not None else None
    if raw is not None and after_id is None:
        return view.console.refuse(view.t, view.t("That page does not exist."), status=400)
    return await _queue(view, after_id=after_id)


def _not_found(view: View) -> Response:
    return view.console.refuse(view.t, view.t("There is no such report."), status=404)


async def report_page(view: View) -> Response:
    """One report waiting for review (a handled one is not shown again, as in chat)."""
    report_id = _as_id(view.request.path_params["report_id"])
    report = await reports.get(view.session, report_id=report_id) if report_id else None
    if report is None:
        return _not_found(view)
    if report.status is not ReportStatus.NEW:
        return view.console.refuse(view.t, _handled(view.t), status=410)
    return view.render("report.html", report=_shown(view, report))


def _handled(t: Translator) -> str:
    return t("That report was already handled, in chat or by another coordinator.")


async def _lost(view: View, report_id: int) -> Response:
    """The conditional update found nothing to change: no such report, or already handled."""
    if await reports.get(view.session, report_id=report_id) is None:
        return _not_found(view)
    return await _queue(view, after_id=None, status=409, error=_handled(view.t))


async def dismiss(view: View) -> Response:
    report_id = _as_id(view.request.path_params["report_id"])
    if report_id is None:
        return _not_found(view)
    if not await reports.dismiss(view.session, report_id=report_id, now=view.now):
        return await _lost(view, report_id)
    return view.redirect("/reports", done="dismissed")


async def to_draft(view: View) -> Response:
    report_id = _as_id(view.request.path_params["report_id"])
    if report_id is None:
        return _not_found(view)
    draft = await reports.to_draft(
        view.session,
        report_id=report_id,
        gazetteer=view.scope.deps.content.gazetteer,
        now=view.now,
        created_by_id=view.member.coordinator_id,
    )
    if draft is None:
        return await _lost(view, report_id)
    # The draft's number rides along so the notice can link to it; a number, never text.
    return RedirectResponse(f"{PREFIX}/reports?done=drafted&alert={draft.id}", status_code=303)


def routes(console: Console) -> list[BaseRoute]:
    console.nav.append(NavEntry("/reports", N_("Reports"), coordinator=True))
    return [
        Route("/reports", console.page(queue_page, coordinator=True), methods=["GET"]),
        Route("/reports/{report_id}", console.page(report_page, coordinator=True), methods=["GET"]),
        Route(
            "/reports/{report_id}/dismiss",
            console.page(dismiss, coordinator=True),
            methods=["POST"],
        ),
        Route(
            "/reports/{report_id}/draft",
            console.page(to_draft, coordinator=True),
            methods=["POST"],
        ),
    ]
