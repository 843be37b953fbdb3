"""The console's alert page: the time to reach everyone, a paid broadcast chosen within the
cap (checked again at sending), and the measured time once the alert finished."""

from __future__ import annotations

import asyncio

import httpx
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.services import alerts
from bot.services.alerts import Pace
from tests.support.alerts import add_subscribers
from tests.support.console import console_world, csrf_of
from tests.web.test_console_alerts import _compose, _subscribe

Sessions = async_sessionmaker[AsyncSession]


async def _others(sessions: Sessions, n: int, start: int = 0) -> None:
    async with sessions.begin() as session:
        await add_subscribers(
            session, [f"other-{i}" for i in range(start, start + n)], ["strathcona"]
        )


async def _post(browser: httpx.AsyncClient, path: str, data: dict[str, object]) -> httpx.Response:
    """POST a form of the alert's page with that page's CSRF token."""
    page = await browser.get(path.rsplit("/", 1)[0])
    return await browser.post(path, data={"csrf": csrf_of(page.text), **data})


async def _paid(sessions: Sessions, alert_id: int = 1) -> bool:
    async with sessions() as session:
        view = await alerts.get(session, alert_id=alert_id)
    assert view is not None
    return view.paid


async def test_without_a_cap_only_the_time_is_shown(sessions: Sessions) -> None:
    async with console_world(sessions) as cw, cw.client() as browser:
        await _subscribe(cw, "ana", "Strathcona")
        await cw.sign_in(browser, "coco")
        await _compose(browser)
        page = (await browser.get("/console/alerts/1")).text
        assert "Reaches everyone in about 1 s." in page
        assert "Paid broadcast" not in page
        assert 'id="paid-form"' not in page


async def test_paid_chosen_within_the_cap_then_over_it_at_sending_it_goes_free(
    sessions: Sessions,
) -> None:
    async with console_world(sessions, pace=Pace(max_stars=1)) as cw, cw.client() as browser:
        await _subscribe(cw, "ana", "Strathcona")
        await _others(sessions, 2)
        await cw.sign_in(browser, "coco")
        await _compose(browser)
        page = (await browser.get("/console/alerts/1")).text
        assert "Paid broadcast: 3 Telegram messages × 0.1 Stars = 0.3 Stars (at most 1)." in page
        assert 'id="paid-choice">Choose paid broadcast<' in page

        chosen = await _post(browser, "/console/alerts/1/paid", {"paid": "yes"})
        assert chosen.status_code == 303
        assert await _paid(sessions)
        page = (await browser.get("/console/alerts/1")).text
        assert "Chosen: it goes out as a paid broadcast, up to 1,000 messages a second." in page
        assert 'id="paid-choice">Send it free instead<' in page

        await _others(sessions, 8, start=2)  # 11 now: 1.1 Stars, over the cap
        refused = await _post(browser, "/console/alerts/1/paid", {"paid": "yes"})
        assert refused.status_code == 422  # chosen again now: refused, the choice stands
        assert "(at most 1)." in refused.text
        assert await _paid(sessions)
        sent = await _post(browser, "/console/alerts/1/send", {})
        assert sent.headers["location"] == "/console/alerts/1?done=free"
        assert not await _paid(sessions)
        page = (await browser.get(sent.headers["location"])).text
        assert "Sending now, as a free broadcast" in page

        for _ in range(200):
            page = (await browser.get("/console/alerts/1")).text
            if 'id="took"' in page:
                break
            await asyncio.sleep(0.05)
        assert "From sending to the last delivery: " in page


async def test_over_the_cap_paid_cannot_be_chosen(sessions: Sessions) -> None:
    async with console_world(sessions, pace=Pace(max_stars=1)) as cw, cw.client() as browser:
        await _others(sessions, 11)
        await cw.sign_in(browser, "coco")
        await _compose(browser)
        page = (await browser.get("/console/alerts/1")).text
        assert "Not offered: over the limit, or no one on Telegram." in page
        assert 'id="paid-form"' not in page
        forced = await _post(browser, "/console/alerts/1/paid", {"paid": "yes"})
        assert forced.status_code == 422
        assert "A paid broadcast is not possible for this alert now" in forced.text
        assert not await _paid(sessions)
