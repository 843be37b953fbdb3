"""Opening hours and closures set in a real headless Chromium, on both databases, and chat
requests routed accordingly (issue 16: "set hours and a closure and see routing change").

The clock is Wednesday 11:00 in Vancouver, where the outlets are. Screenshots of the closed
outlet in English and Dari, phone and desktop, when ``HRBOT_SCREENSHOTS`` names a folder.
"""

from __future__ import annotations

import pytest
from playwright.async_api import Page, expect
from sqlalchemy import select

from bot.db.models import Offer
from bot.domain import OfferStatus
from tests.support.browser import assert_no_third_party_requests
from tests.web.conftest import ConsoleBot
from tests.web.test_browser_console import (
    alpha_and_beta,
    choose_language,
    direction,
    fits_the_screen,
    shots,
    sign_in,
    submit,
)

pytestmark = pytest.mark.asyncio(loop_scope="session")


async def pending_at(bot: ConsoleBot, request_id: int | None) -> int | None:
    """The outlet a request's pending offer is at (None: none pending)."""
    async with bot.sessions() as session:
        found: int | None = await session.scalar(
            select(Offer.outlet_id).where(
                Offer.request_id == request_id, Offer.status == OfferStatus.PENDING
            )
        )
    return found


async def test_set_hours_and_a_closure_and_see_routing_change(
    console_bot: ConsoleBot, page: Page
) -> None:
    world = console_bot.world
    alpha, beta = await alpha_and_beta(console_bot)
    outlet_page = console_bot.url(f"/console/outlets/{alpha}")
    await sign_in(page, console_bot, "coco")
    await page.goto(outlet_page)
    await expect(page.locator("#hours-now")).to_have_text("Open now.")

    # Evening hours: closed at 11:00, so the next request goes to beta.
    await page.locator("#hours-input").fill("Mo-Fr 16:00-20:00")
    landed = await submit(page, "#hours-save")
    assert landed.url == f"{outlet_page}?done=hours"
    await expect(page.locator("#hours-now")).to_have_text("Closed now, opens 16:00.")
    await expect(page.locator("#outlet-open")).to_have_text("closed")
    assert (await world.request("ana")).outlet_id == beta

    # Unreadable hours: refused on the page, nothing changed.
    await page.locator("#hours-input").fill("whenever")
    refused = await submit(page, "#hours-save")
    assert refused.status == 422
    await expect(page.locator("#error")).to_contain_text("These hours cannot be read")
    await page.goto(outlet_page)
    await expect(page.locator("#hours-text")).to_have_text("Mo-Fr 16:00-20:00")

    # Always open again: requests come back to alpha.
    await page.locator("#hours-input").fill("24/7")
    await submit(page, "#hours-save")
    await expect(page.locator("#hours-now")).to_have_text("Open now.")
    waiting = await world.request("ben")
    assert waiting.outlet_id == alpha

    # Closed for the rest of today: ben's waiting offer moves on to beta, and so does the next.
    await submit(page, "#close-today")
    await expect(page.locator("#hours-now")).to_contain_text("Closed for now, opens")
    await expect(page.locator("#closure-list li")).to_have_count(1)
    assert await pending_at(console_bot, waiting.request_id) == beta
    assert (await world.request("cam")).outlet_id == beta
    await shots(page, f"outlet-hours-closed-en-{console_bot.backend}")
    # The same closed outlet in Dari, right to left (and a screenshot of it), then back.
    await choose_language(page, "fa_AF")
    await page.goto(outlet_page)
    assert await direction(page) == ("rtl", "rtl")
    await expect(page.locator("#closure-list li")).to_have_count(1)
    assert await fits_the_screen(page)
    await shots(page, f"outlet-hours-closed-fa_AF-{console_bot.backend}")
    await choose_language(page, "en")
    await page.goto(outlet_page)

    # Reopened: routing comes back to alpha.
    await submit(page, "#closure-list button")
    await expect(page.locator("#no-closures")).to_be_visible()
    await expect(page.locator("#hours-now")).to_have_text("Open now.")
    assert (await world.request("dee")).outlet_id == alpha
    assert_no_third_party_requests(page, own=console_bot.base_url)
