"""The Numbers page in a real headless Chromium, on both databases (issue 16: "export CSV").

Requests made in chat write the daily counters, with more added as the services count them;
the coordinator sees the charts, switches the period and downloads the CSV, in which small
counts show only as "<5". A peer is refused the page and the file.
"""

from __future__ import annotations

import asyncio
import csv
import io
from datetime import date

import pytest
from playwright.async_api import Page, expect

from bot.domain import RequestKind
from bot.services import counts
from bot.services.counts import Key
from bot.services.numbers import CSV_HEADER
from bot.services.requests import RouteResult
from tests.support.browser import assert_no_third_party_requests
from tests.web.conftest import ConsoleBot
from tests.web.test_browser_console import SYRINGES, fits_the_screen, shots, sign_in

pytestmark = pytest.mark.asyncio(loop_scope="session")

W47 = date(2026, 11, 16)  # Monday of 2026-W47; the test clock is Wednesday 25 Nov 2026 (W48)
CHARTS = ("requests", "outcomes", "accept", "kits")
SMALL = {"1", "2", "3", "4"}


async def seed(bot: ConsoleBot) -> int:
    """Alpha (peer ``pat``) stocks syringes only: one request offered there and one for
    naloxone unrouted, in chat this week; last week's bigger counts as the services add
    them. The outlet's id."""
    world = bot.world
    alpha = await world.outlet("alpha", stock={SYRINGES: 20})
    await world.peer("pat", "alpha")
    assert (await world.request("ana")).result is RouteResult.OFFERED
    unrouted = await world.request("ben", {"nalox_nasal": 1}, kind=RequestKind.NALOXONE)
    assert unrouted.result is RouteResult.UNROUTED
    async with world.sessions.begin() as session:
        area = "strathcona"
        for key, n in (
            (Key(W47, "requests.made", area_code=area, kind="equipment"), 37),  # 35
            (Key(W47, "requests.made", area_code=area, kind="naloxone"), 3),  # <5
            (Key(W47, "requests.handed_over", area_code=area, kind="equipment"), 23),  # 25
            (Key(W47, "requests.unrouted", area_code=area, kind="equipment"), 2),  # <5
            (Key(W47, "outlet.offered", outlet_id=alpha, kind="equipment"), 12),  # 10
            (Key(W47, "outlet.handed_over", outlet_id=alpha, kind="equipment"), 4),  # <5
        ):
            counts.add(session, key, n)
    return alpha


async def test_coordinator_sees_charts_switches_period_and_downloads_the_csv(
    console_bot: ConsoleBot, page: Page
) -> None:
    alpha = await seed(console_bot)
    await sign_in(page, console_bot, "coco")
    await page.get_by_role("link", name="Numbers").click()
    await page.wait_for_url(console_bot.url("/console/numbers"))
    await expect(page.locator("h1")).to_have_text("Numbers")
    for chart in CHARTS:  # a picture each, named by its title
        svg = page.locator(f"#{chart} figure svg[role=img]")
        await expect(svg).to_have_count(1)
        await expect(svg).to_be_visible()
        assert await svg.get_attribute("aria-labelledby") == (
            f"chart-{chart}-title chart-{chart}-desc"
        )
    await expect(page.locator("#period-12")).to_have_attribute("aria-current", "page")
    await expect(page.locator("#total-made")).to_have_text("40")  # 35 + <5 + this week's 2
    await expect(page.locator(f"#outlet-{alpha} td").nth(5)).to_have_text("<5")  # handed over
    # The tables behind the pictures open on a tap.
    await page.locator("#requests summary").click()
    await expect(page.locator("#table-requests")).to_be_visible()
    assert await fits_the_screen(page)

    await page.locator("#period-26").click()
    await page.wait_for_url(console_bot.url("/console/numbers?weeks=26"))
    await expect(page.locator("#period-26")).to_have_attribute("aria-current", "page")
    await expect(page.locator("#period-12")).not_to_have_attribute("aria-current", "page")
    await expect(page.locator("#table-kits tbody tr")).to_have_count(26)
    await expect(page.locator("#csv-link")).to_have_attribute(
        "href", "/console/numbers.csv?weeks=26"
    )

    async with page.expect_download() as downloading:
        await page.locator("#csv-link").click()
    download = await downloading.value
    assert download.suggested_filename == "hrbot-numbers-2026-W23-to-2026-W48.csv"
    assert download.suggested_filename.endswith(".csv")
    path = await download.path()
    text = (await asyncio.to_thread(path.read_bytes)).decode("utf-8")  # as sent, \r\n kept
    assert text.startswith(",".join(CSV_HEADER) + "\r\n")
    rows = list(csv.DictReader(io.StringIO(text)))
    assert {r["week"] for r in rows if r["scope"] == "week"} >= {"2026-W23", "2026-W47", "2026-W48"}
    w47 = {r["measure"]: r["value"] for r in rows if r["week"] == "2026-W47"}
    assert w47["made.equipment"] == "35"
    assert w47["made.naloxone"] == "<5"
    assert w47["closed.unrouted"] == "<5"
    w48 = {r["measure"]: r["value"] for r in rows if r["week"] == "2026-W48"}
    assert w48["made.equipment"] == "<5"  # ana's request, in chat
    assert w48["closed.unrouted"] == "<5"  # ben's
    outlet = {r["measure"]: r["value"] for r in rows if r["outlet_id"] == str(alpha)}
    assert outlet["handed_over"] == "<5"
    counted = [r for r in rows if "minutes" not in r["measure"]]
    assert counted
    assert not [r for r in counted if r["value"] in SMALL]  # no exact count under 5
    assert_no_third_party_requests(page, own=console_bot.base_url)


async def test_numbers_in_dari_runs_right_to_left_on_a_phone(
    console_bot: ConsoleBot, page: Page
) -> None:
    await seed(console_bot)
    await sign_in(page, console_bot, "coco")
    await page.set_viewport_size({"width": 390, "height": 844})
    await page.locator("header select[name=locale]").select_option("fa_AF")
    async with page.expect_navigation():
        await page.locator("header form[action$='/language'] button").click()
    await page.goto(console_bot.url("/console/numbers"))
    await expect(page.locator("h1")).to_have_text("ارقام")
    for chart in CHARTS:
        svg = page.locator(f"#{chart} figure svg[role=img]")
        assert await svg.get_attribute("direction") == "rtl"
    for table in ("requests", "outcomes", "accept", "kits"):
        await page.locator(f"#{table} summary").click()
    assert await fits_the_screen(page)
    # Week labels (2026-W47) stay whole and left to right inside the right-to-left table.
    week = page.locator("#table-requests tbody th").last
    await expect(week).to_have_text("2026-W48")
    assert await week.evaluate(
        "th => [getComputedStyle(th).direction, getComputedStyle(th).whiteSpace]"
    ) == ["ltr", "nowrap"]
    assert await page.evaluate("getComputedStyle(document.querySelector('main')).direction") == (
        "rtl"
    )
    await shots(page, f"numbers-open-fa_AF-{console_bot.backend}")
    assert_no_third_party_requests(page, own=console_bot.base_url)


async def test_a_peer_is_refused_numbers_and_its_csv(console_bot: ConsoleBot, page: Page) -> None:
    await seed(console_bot)
    await sign_in(page, console_bot, "pat")
    await expect(page.locator("header nav").get_by_role("link", name="Numbers")).to_have_count(0)
    for path in ("/console/numbers", "/console/numbers.csv", "/console/numbers.csv?weeks=52"):
        answer = await page.goto(console_bot.url(path))
        assert answer is not None
        assert answer.status == 403, path
        await expect(page.locator("main")).to_contain_text("This page is for coordinators.")
