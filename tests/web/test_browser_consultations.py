"""The console's *Consultations* page in a real headless Chromium, on both databases: a
coordinator writes a small consultation in English, Russian and Dari (the Dari boxes right to
left), saves it, opens it after the confirm step, and sees it open; the pages fit a phone."""

from __future__ import annotations

import pytest
from playwright.async_api import Page, expect
from sqlalchemy import select

from bot.db.models import Subscription
from bot.services import consultations
from bot.services.consultations import ConsultationStatus
from tests.support.browser import assert_no_third_party_requests
from tests.web.conftest import ConsoleBot
from tests.web.test_browser_console import (
    PHONE,
    direction,
    fits_the_screen,
    shots,
    sign_in,
    submit,
)

pytestmark = pytest.mark.asyncio(loop_scope="session")

TEXTS = {
    "title": ("Opening hours", "Часы работы", "ساعات کاری"),
    "intro": ("A few quick questions.", "Несколько вопросов.", "چند سوال کوتاه."),
    "q1-text": ("When suits you?", "Когда удобно?", "چه وقت مناسب است؟"),
    "q1-options": ("Morning\nEvening", "Утром\nВечером", "صبح\nشام"),
}


async def test_write_a_small_consultation_and_open_it(console_bot: ConsoleBot, page: Page) -> None:
    chat = console_bot.world.chat
    await chat.say("ana", "/alerts")
    await chat.tap("ana", "Add an area")
    await chat.say("ana", "Strathcona")
    await sign_in(page, console_bot, "coco")
    await page.set_viewport_size(PHONE)

    await page.locator("header nav").get_by_role("link", name="Consultations").click()
    await expect(page.locator("h1")).to_have_text("Consultations")
    await submit(page, "#new-consultation")
    await expect(page.locator("h1")).to_have_text("New consultation")
    assert await fits_the_screen(page)
    await shots(page, f"consultation-new-en-{console_bot.backend}")
    dari = page.locator("#title-fa_AF")
    assert await dari.evaluate("e => getComputedStyle(e).direction") == "rtl"
    assert await page.locator("#title-en").evaluate("e => getComputedStyle(e).direction") == "ltr"

    for field, words in TEXTS.items():
        if field == "q1-options":
            await page.locator("#question-1 summary").first.click()  # the choices fold away
        for code, text in zip(("en", "ru", "fa_AF"), words, strict=True):
            await page.locator(f"#{field}-{code}").fill(text)
    await page.locator("#q1-kind").select_option("one")
    await page.locator("#audience-areas").check()
    await page.locator("#area-strathcona").check()
    await submit(page, "#save")
    await expect(page.locator(".notice")).to_have_text("Saved.")
    await expect(page.locator("#status")).to_have_text("Draft")
    await expect(page.locator("#preview-fa_AF pre")).to_contain_text("صبح")

    await submit(page, "#open-now")
    await expect(page.locator("#confirm-count")).to_have_text(
        "Open it now? The invitation goes to 1 person."
    )
    await submit(page, "#confirm-yes")
    await expect(page.locator(".notice")).to_have_text("Open. The invitations are going out.")
    await expect(page.locator("#status")).to_have_text("Open")
    await expect(page.locator("#participants")).to_have_text("0")
    async with console_bot.sessions() as session:
        stored = await consultations.get(session, consultation_id=1)
    assert stored.status is ConsultationStatus.OPEN
    assert stored.areas == ("strathcona",)
    assert stored.questions[0].options[0] == {"en": "Morning", "ru": "Утром", "fa_AF": "صبح"}
    assert await fits_the_screen(page)

    # Ana answers in chat's place (the service the chat flow uses): one person, so the
    # results say only "fewer than 5", and the tables still fit the phone.
    async with console_bot.sessions.begin() as session:
        contact_id = await session.scalar(select(Subscription.contact_id))
        assert contact_id is not None
        await consultations.submit(
            session,
            consultation_id=1,
            contact_id=contact_id,
            area="strathcona",
            answers={"1": 1},
            finished=True,
            now=console_bot.clock.now,
            gazetteer=console_bot.engine.deps.content.gazetteer,
        )
    await page.reload()
    await expect(page.locator("#participants")).to_have_text("fewer than 5")
    evening = page.locator("#table-1 tbody tr").nth(1)
    await expect(evening.locator("th")).to_have_text("Evening")
    await expect(evening.locator("td")).to_have_text("fewer than 5")
    assert await fits_the_screen(page)
    await shots(page, f"consultation-open-en-{console_bot.backend}")

    # The list in Dari: right to left, the title in Dari.
    await page.locator("header select[name=locale]").select_option("fa_AF")
    await submit(page, "header form[action$='/language'] button")
    await page.goto(console_bot.url("/console/consultations"))
    assert await direction(page) == ("rtl", "rtl")
    await expect(page.locator("#consultation-1")).to_contain_text("ساعات کاری")
    assert await fits_the_screen(page)
    assert_no_third_party_requests(page, own=console_bot.base_url)
