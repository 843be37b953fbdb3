"""*Numbers*: requests per week by kind, handed over vs unrouted, time to accept, naloxone kits
out, by area and by outlet, and the same aggregates as CSV (:mod:`bot.services.numbers`).

Coordinators only. Every count arrives here already fit to publish (``<5`` or rounded), so
nothing on the page or in the file can be more exact than the service allows. Each chart is
an inline SVG drawn on the server, followed by a table of the same numbers for those who would
rather read (and for screen readers). The by-outlet table is paged: with 1,000 outlets the
page reads only the outlets it shows.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Final

from markupsafe import Markup
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from bot.core.words import N_
from bot.services import numbers
from bot.services.numbers import KINDS, Numbers
from bot.services.suppression import SMALL_COUNT
from bot.web import charts
from bot.web.charts import Series
from bot.web.console.site import Console, NavEntry, View

PERIODS: Final = (12, 26, 52)  # weeks the page offers; the first is the default
OUTLETS_PER_PAGE: Final = 25
MAX_PAGE: Final = 10_000
KIND_NAMES: Final = {
    "equipment": N_("Equipment"),
    "naloxone": N_("Naloxone"),
    "referral": N_("Referral"),
}


def _weeks(view: View) -> int | None:
    raw = view.request.query_params.get("weeks")
    if raw is None:
        return PERIODS[0]
    return int(raw) if raw in {str(n) for n in PERIODS} else None


def _page(view: View) -> int | None:
    raw = view.request.query_params.get("page")
    if raw is None:
        return 1
    if not raw.isascii() or not raw.isdigit() or len(raw) > 5:
        return None
    page = int(raw)
    return page if 1 <= page <= MAX_PAGE else None


def _minutes(value: timedelta | None) -> int | None:
    return None if value is None else int(value.total_seconds() // 60)


def _charts(view: View, got: Numbers) -> dict[str, Markup]:
    """The four pictures, labels in the member's language, time running right to left in an
    RTL language."""
    t, rtl = view.t, view.t.rtl
    labels = [week.label for week in got.weeks]
    hidden = f"<{SMALL_COUNT}"
    made = charts.stacked_bars(
        ident="chart-requests",
        title=t("Requests per week by kind"),
        desc=t("Requests made each week, stacked by kind. The table below has the numbers."),
        labels=labels,
        series=[
            Series(t(KIND_NAMES[kind]), [w.tally.made[kind].value for w in got.weeks])
            for kind in KINDS
        ],
        hidden_text=hidden,
        rtl=rtl,
    )
    outcomes = charts.stacked_bars(
        ident="chart-outcomes",
        title=t("Handed over and unrouted per week"),
        desc=t("Requests handed over and requests no outlet could take, each week."),
        labels=labels,
        series=[
            Series(t("Handed over"), [w.tally.outcomes["handed_over"].value for w in got.weeks]),
            Series(t("Unrouted"), [w.tally.outcomes["unrouted"].value for w in got.weeks]),
        ],
        hidden_text=hidden,
        rtl=rtl,
    )
    waits = charts.line_chart(
        ident="chart-accept",
        title=t("Minutes to accept"),
        desc=t("Median and 90th percentile of minutes from request to acceptance, each week."),
        labels=labels,
        series=[
            Series(t("Median"), [_minutes(w.tally.median_to_accept) for w in got.weeks]),
            Series(t("90th percentile"), [_minutes(w.tally.p90_to_accept) for w in got.weeks]),
        ],
        rtl=rtl,
    )
    kits = charts.stacked_bars(
        ident="chart-kits",
        title=t("Naloxone kits handed out per week"),
        desc=t("Naloxone kits handed over at outlets each week."),
        labels=labels,
        series=[Series(t("Naloxone kits"), [w.tally.naloxone_kits.value for w in got.weeks])],
        hidden_text=hidden,
        rtl=rtl,
    )
    # The SVG is built from escaped text only (bot.web.charts): safe to place as markup.
    return {
        "requests": Markup(made),  # noqa: S704
        "outcomes": Markup(outcomes),  # noqa: S704
        "accept": Markup(waits),  # noqa: S704
        "kits": Markup(kits),  # noqa: S704
    }


async def numbers_page(view: View) -> Response:
    weeks, page = _weeks(view), _page(view)
    if weeks is None:
        return view.console.refuse(view.t, view.t("Choose 12, 26 or 52 weeks."), status=400)
    if page is None:
        return view.console.refuse(view.t, view.t("That page does not exist."), status=400)
    outlet_ids, outlet_count = await numbers.outlet_page(
        view.session, offset=(page - 1) * OUTLETS_PER_PAGE, limit=OUTLETS_PER_PAGE
    )
    got = await numbers.recent(view.session, now=view.now, weeks=weeks, outlet_ids=outlet_ids)
    gazetteer = view.console.engine.deps.content.gazetteer

    def area_name(code: str) -> str:
        if not code:
            return view.t("not given")
        area = gazetteer.by_code(code)
        return view.t(area.name) if area is not None else code

    return view.render(
        "numbers.html",
        numbers=got,
        weeks=weeks,
        periods=PERIODS,
        kinds=[(kind, view.t(KIND_NAMES[kind])) for kind in KINDS],
        charts=_charts(view, got),
        minutes=_minutes,
        area_name=area_name,
        page=page,
        pages=max(1, -(-outlet_count // OUTLETS_PER_PAGE)),
        outlet_count=outlet_count,
        last_day=got.until - timedelta(days=1),
    )


async def numbers_csv(view: View) -> Response:
    """The same aggregates (every outlet) as a CSV file to download."""
    weeks = _weeks(view)
    if weeks is None:
        return view.console.refuse(view.t, view.t("Choose 12, 26 or 52 weeks."), status=400)
    got = await numbers.recent(view.session, now=view.now, weeks=weeks)
    first, last = got.weeks[0].label, got.weeks[-1].label
    return Response(
        numbers.to_csv(got),
        media_type="text/csv; charset=utf-8",
        headers={
            "content-disposition": f'attachment; filename="hrbot-numbers-{first}-to-{last}.csv"'
        },
    )


def routes(console: Console) -> list[BaseRoute]:
    console.nav.append(NavEntry("/numbers", N_("Numbers"), coordinator=True))
    return [
        Route("/numbers", console.page(numbers_page, coordinator=True), methods=["GET"]),
        Route("/numbers.csv", console.page(numbers_csv, coordinator=True), methods=["GET"]),
    ]
