"""The console in a real headless Chromium, on both databases: what a member sees and does.

Signing in by the link from chat, every page in English and in Dari (right to left, checked on
the rendered page), a removed peer's session and buttons stopping, an alert composed, sent and
followed to delivery, a stock count set in the browser changing where chat requests go, and
the refusals (a used or expired link, a forged CSRF token, a peer on coordinators' pages).
Every page fits a phone's width; screenshots of each, phone- and desktop-sized, when
``HRBOT_SCREENSHOTS`` names a folder.
"""

from __future__ import annotations

import asyncio
import os
import re
from collections.abc import AsyncIterator

import pytest
import pytest_asyncio
from playwright.async_api import (
    Browser,
    BrowserContext,
    Page,
    Response,
    ViewportSize,
    expect,
)

from bot.services.console_access import LINK_TTL
from bot.services.requests import RouteResult
from tests.support.browser import (
    SCREENSHOTS_ENV,
    assert_no_third_party_requests,
    screenshot,
    watch_requests,
)
from tests.support.chat import texts
from tests.web.conftest import ConsoleBot

pytestmark = pytest.mark.asyncio(loop_scope="session")

PHONE = ViewportSize(width=390, height=844)
DESKTOP = ViewportSize(width=1280, height=800)
SYRINGES = "syr_1ml_29g"
SESSION_ENDED = "your session has ended"


@pytest_asyncio.fixture(loop_scope="session")
async def other_context(chromium: Browser) -> AsyncIterator[BrowserContext]:
    """A second browser (its own cookies): another member, or the same link opened again."""
    ctx = await chromium.new_context()
    watch_requests(ctx)
    try:
        yield ctx
    finally:
        await ctx.close()


async def sign_in(page: Page, bot: ConsoleBot, who: str) -> None:
    """``who`` sends /console in chat, opens the link and presses Sign in: Today."""
    await page.goto(await bot.link(who))
    await page.get_by_role("button", name="Sign in").click()
    await page.wait_for_url(bot.url("/console/"))


async def submit(page: Page, button: str) -> Response:
    """Click ``button`` (a selector) that submits a form; the response the page landed on
    (after redirects)."""
    async with page.expect_navigation() as landed:
        await page.locator(button).click()
    response = await landed.value
    assert response is not None
    return response


async def choose_language(page: Page, locale: str) -> None:
    """Switch language with the form in the page's header."""
    await page.locator("header select[name=locale]").select_option(locale)
    await submit(page, "header form[action$='/language'] button")


async def direction(page: Page) -> tuple[str, str]:
    """(the document's ``dir``, the computed ``direction`` of ``<main>``)."""
    found = await page.evaluate(
        "() => [document.documentElement.dir,"
        " getComputedStyle(document.querySelector('main')).direction]"
    )
    return found[0], found[1]


async def shots(page: Page, name: str) -> None:
    """Screenshots of the page on a phone and on a desktop (only when asked for)."""
    if not os.environ.get(SCREENSHOTS_ENV):
        return
    for size, viewport in (("phone", PHONE), ("desktop", DESKTOP)):
        await page.set_viewport_size(viewport)
        await screenshot(page, f"console-{name}-{size}")
    await page.set_viewport_size(PHONE)


async def fits_the_screen(page: Page) -> bool:
    """Whether the page is no wider than the window (wide tables scroll inside themselves)."""
    return bool(
        await page.evaluate(
            "document.documentElement.scrollWidth <= document.documentElement.clientWidth"
        )
    )


async def alpha_and_beta(bot: ConsoleBot) -> tuple[int, int]:
    """Alpha (1 km away, peer ``pat``) and beta (3 km, peer ``bea``), both stocked."""
    world = bot.world
    alpha = await world.outlet("alpha", east_km=1, stock={SYRINGES: 20, "nalox_nasal": 3})
    beta = await world.outlet("beta", east_km=3)
    await world.peer("pat", "alpha")
    await world.peer("bea", "beta")
    return alpha, beta


async def stock(bot: ConsoleBot, outlet: str) -> tuple[int, int]:
    return await bot.world.stock(outlet, SYRINGES)


async def test_sign_in_by_link_lands_on_today_with_an_httponly_cookie(
    console_bot: ConsoleBot, page: Page, context: BrowserContext
) -> None:
    link = await console_bot.link("coco")
    await page.goto(link)
    await expect(page.locator("h1")).to_have_text("Sign in to the console")
    assert await context.cookies() == []  # opening the link signs no one in
    await page.get_by_role("button", name="Sign in").click()
    await page.wait_for_url(console_bot.url("/console/"))
    await expect(page.locator("h1")).to_have_text("Today")
    await expect(page.locator("header .who")).to_have_text("Coordinator #1")

    (cookie,) = await context.cookies()
    assert cookie["name"] == "hrbot_console"
    assert cookie["httpOnly"] is True
    assert cookie["sameSite"] == "Strict"
    assert cookie["path"] == "/console"
    assert "hrbot_console" not in await page.evaluate("document.cookie")
    assert_no_third_party_requests(page, own=console_bot.base_url)


async def test_every_page_renders_in_english_and_in_dari_right_to_left(
    console_bot: ConsoleBot, page: Page
) -> None:
    world = console_bot.world
    alpha, _ = await alpha_and_beta(console_bot)
    await world.request("ana")
    chat = world.chat
    await chat.say("rae", "/report")
    for said in ("down from @dave_sells", "strathcona", "went out fast, 3 doses", "pink"):
        await chat.say("rae", said)
    await chat.tap("rae", "Send report")
    await sign_in(page, console_bot, "coco")
    await page.set_viewport_size(PHONE)

    pages = {  # name: (path, a heading on it, in English)
        "today": ("/console/", "h1", "Today"),
        "outlets": ("/console/outlets", "h1", "Outlets"),
        "outlet": (f"/console/outlets/{alpha}", "#stock h2", "Items and stock"),
        "team": ("/console/team", "h1", "Team"),
        "alerts": ("/console/alerts", "h1", "Alerts"),
        "alert-new": ("/console/alerts/new", "h1", "New alert"),
        "consultations": ("/console/consultations", "h1", "Consultations"),
        "consultation-new": ("/console/consultations/new", "h1", "New consultation"),
        "reports": ("/console/reports", "h1", "Community reports"),
        "numbers": ("/console/numbers", "h1", "Numbers"),
    }
    dari = console_bot.engine.deps.words.for_locale("fa_AF")
    backend = console_bot.backend
    for locale in ("en", "fa_AF"):
        if locale != "en":
            await choose_language(page, locale)
        for name, (path, heading, title) in pages.items():
            answer = await page.goto(console_bot.url(path))
            assert answer is not None
            assert answer.status == 200, (name, locale)
            if locale == "en":
                assert await direction(page) == ("ltr", "ltr"), name
                await expect(page.locator(heading)).to_have_text(title)
            else:
                assert await direction(page) == ("rtl", "rtl"), name
                word = dari(title)
                assert re.search("[\u0600-\u06ff]", word), (title, word)  # Dari, not English
                await expect(page.locator(heading)).to_have_text(word)
                assert await page.evaluate("document.documentElement.lang") == "fa-AF"
            assert await fits_the_screen(page), (name, locale)  # on a phone
            assert_no_third_party_requests(page, own=console_bot.base_url)
            await shots(page, f"{name}-{locale}-{backend}")
    # The outlet's own data is shown as entered (the name), in the Dari frame.
    await page.goto(console_bot.url(f"/console/outlets/{alpha}"))
    await expect(page.locator("#outlet-name")).to_have_text("Alpha table")
    await expect(page.locator("#quantity-" + SYRINGES)).to_have_text("20")


async def test_a_removed_peer_is_out_and_their_buttons_stop(
    console_bot: ConsoleBot, page: Page, other_context: BrowserContext
) -> None:
    alpha, _ = await alpha_and_beta(console_bot)
    pats = await other_context.new_page()
    await sign_in(pats, console_bot, "pat")
    await expect(pats.locator("header .who")).to_contain_text("Alpha table")
    outlet = console_bot.url(f"/console/outlets/{alpha}")
    await pats.goto(outlet)
    second_tab = await other_context.new_page()
    await second_tab.goto(outlet)

    await sign_in(page, console_bot, "coco")
    await page.goto(console_bot.url("/console/team"))
    remove = page.locator("button[id^='remove-p-']").first
    button_id = await remove.get_attribute("id")
    assert button_id is not None
    row = f"#member-{button_id.removeprefix('remove-')}"
    await expect(page.locator(row)).to_contain_text("Alpha table")
    await submit(page, f"#{button_id}")
    await expect(page.locator("#confirm")).to_contain_text("At once: their shift ends")
    await pats.reload()  # asking changed nothing
    await expect(pats.locator("#outlet-name")).to_have_text("Alpha table")
    landed = await submit(page, "#confirm-yes")
    assert landed.url == console_bot.url("/console/team?done=removed")
    await expect(page.locator(".notice")).to_contain_text("Removed.")
    await expect(page.locator(row)).to_have_count(0)

    # Pat's next click, on a page loaded before: the session has ended, nothing changed.
    await pats.locator(f"#set-{SYRINGES} input[name=quantity]").fill("7")
    refused = await submit(pats, f"#set-{SYRINGES} button")
    assert refused.status == 403
    await expect(pats.locator("main")).to_contain_text(SESSION_ENDED)
    await expect(pats.locator("header")).to_have_count(0)  # no menu, no buttons
    # Every other button of theirs is dead too (another tab opened before the removal).
    refused = await submit(second_tab, f"#withdraw-{SYRINGES} button")
    assert refused.status == 403
    await expect(second_tab.locator("main")).to_contain_text(SESSION_ENDED)
    assert await stock(console_bot, "alpha") == (20, 0)
    again = await pats.goto(console_bot.url("/console/"))
    assert again is not None
    assert again.status == 403
    assert_no_third_party_requests(pats, own=console_bot.base_url)


async def test_compose_preview_send_and_see_it_delivered(
    console_bot: ConsoleBot, page: Page
) -> None:
    chat = console_bot.world.chat
    await chat.say("ana", "/alerts")
    await chat.tap("ana", "Add an area")
    await chat.say("ana", "Strathcona")
    before = len(chat.inbox("ana"))
    await sign_in(page, console_bot, "coco")

    await page.goto(console_bot.url("/console/alerts"))
    await submit(page, "#compose")
    await page.locator("#kind-bad_batch").check()
    await page.locator("#severity-3").check()
    await page.locator("#area-strathcona").check()
    await page.locator("#f-sold_as").fill("down")
    await page.locator("#f-found_to_contain").fill("nitazenes")
    await page.locator("#f-advice").fill("Don't use alone. Test a small amount first.")
    await submit(page, "#to-preview")
    preview = page.locator("#preview-text")
    await expect(preview).to_contain_text("Found to contain: nitazenes")
    await expect(page.locator("#audience")).to_have_text("If sent now, it goes to 1 person.")
    shown = await preview.inner_text()
    assert len(chat.inbox("ana")) == before  # a preview sends nothing

    await submit(page, "#send-now")
    await expect(page.locator(".notice")).to_have_text("Sending now.")
    # The page woke the bot's outbox; it delivers in the background: reload until it shows.
    progress = page.locator("#current-alerts .count").first
    for _ in range(100):
        await page.goto(console_bot.url("/console/alerts"))
        if await progress.count() and "1 of 1" in await progress.inner_text():
            break
        await asyncio.sleep(0.1)
    await expect(progress).to_have_text("1 of 1 delivered")
    assert await page.locator("#current-alerts progress").get_attribute("value") == "1"
    got = chat.inbox("ana")[before:]
    assert [r.text for r in got] == [shown]
    assert_no_third_party_requests(page, own=console_bot.base_url)


async def test_a_used_or_expired_link_is_refused(
    console_bot: ConsoleBot, page: Page, other_context: BrowserContext
) -> None:
    link = await console_bot.link("coco")
    await page.goto(link)
    await submit(page, "button[type=submit]")
    await expect(page.locator("h1")).to_have_text("Today")

    used = await other_context.new_page()
    await used.goto(link)
    refused = await submit(used, "button[type=submit]")
    assert refused.status == 403
    await expect(used.locator("main")).to_contain_text("expired or was already used")
    assert await other_context.cookies() == []

    late = await console_bot.link("coco")
    console_bot.clock.advance(seconds=LINK_TTL.total_seconds() + 1)
    await used.goto(late)
    refused = await submit(used, "button[type=submit]")
    assert refused.status == 403
    await expect(used.locator("main")).to_contain_text("expired or was already used")
    assert await other_context.cookies() == []
    answer = await used.goto(console_bot.url("/console/"))
    assert answer is not None
    assert answer.status == 403


async def test_a_forged_csrf_token_is_refused_and_changes_nothing(
    console_bot: ConsoleBot, page: Page
) -> None:
    alpha, _ = await alpha_and_beta(console_bot)
    await sign_in(page, console_bot, "coco")
    await page.goto(console_bot.url(f"/console/outlets/{alpha}"))
    form = f"#set-{SYRINGES}"
    await page.evaluate(
        "(form) => { document.querySelector(form + ' input[name=csrf]').value = '0'.repeat(64); }",
        form,
    )
    await page.locator(f"{form} input[name=quantity]").fill("0")
    refused = await submit(page, f"{form} button")
    assert refused.status == 403
    await expect(page.locator("main")).to_contain_text("This form has expired")
    assert await stock(console_bot, "alpha") == (20, 0)
    await page.goto(console_bot.url(f"/console/outlets/{alpha}"))  # still signed in
    await expect(page.locator(f"#quantity-{SYRINGES}")).to_have_text("20")


async def test_a_peer_is_refused_on_coordinators_pages(console_bot: ConsoleBot, page: Page) -> None:
    await alpha_and_beta(console_bot)
    await sign_in(page, console_bot, "pat")
    nav = page.locator("header nav")
    await expect(nav.get_by_role("link", name="Outlets")).to_have_count(1)
    await expect(nav.get_by_role("link", name="Team")).to_have_count(0)
    await expect(nav.get_by_role("link", name="Alerts")).to_have_count(0)
    for path in ("/console/team", "/console/alerts", "/console/alerts/new"):
        answer = await page.goto(console_bot.url(path))
        assert answer is not None
        assert answer.status == 403, path
        await expect(page.locator("main")).to_contain_text("This page is for coordinators.")


async def test_a_count_set_in_the_browser_routes_chat_requests_elsewhere(
    console_bot: ConsoleBot, page: Page
) -> None:
    world = console_bot.world
    alpha, beta = await alpha_and_beta(console_bot)
    first = await world.request("ana")
    assert first.result is RouteResult.OFFERED
    assert first.outlet_id == alpha

    await sign_in(page, console_bot, "pat")  # the peer at alpha counts the shelf
    await page.goto(console_bot.url(f"/console/outlets/{alpha}"))
    await page.locator(f"#set-{SYRINGES} input[name=quantity]").fill("0")
    landed = await submit(page, f"#set-{SYRINGES} button")
    assert landed.url == console_bot.url(f"/console/outlets/{alpha}?done=stock")
    await expect(page.locator(".notice")).to_have_text("Saved.")
    await expect(page.locator(f"#quantity-{SYRINGES}")).to_have_text("0")
    await expect(page.locator(f"#stock-{SYRINGES}")).to_have_class("out")

    bea_before = len(world.chat.inbox("bea"))
    after = await world.request("ben")
    assert after.result is RouteResult.OFFERED
    assert after.outlet_id == beta
    offered = texts(world.chat.inbox("bea")[bea_before:])
    assert offered.startswith("New pickup request")
    assert_no_third_party_requests(page, own=console_bot.base_url)
