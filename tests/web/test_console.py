"""The console's frame over real HTTP: sign-in by link, the session cookie, CSRF and Origin
checks, a removed member shut out at the next click, security headers, nothing third-party."""

from __future__ import annotations

import re

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.services import console_access
from tests.support.chat import texts
from tests.support.console import console_world, csrf_of


async def test_a_link_signs_in_once_and_the_cookie_is_httponly_strict(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    async with console_world(sessions) as cw:
        token = await cw.link_token("coco")
        async with cw.client() as browser:
            # Opening the link does not spend it (link previews and scanners fetch links).
            shown = await browser.get(f"/console/signin/{token}")
            assert shown.status_code == 200
            assert f'value="{token}"' in shown.text
            answer = await browser.post("/console/signin", data={"token": token})
            assert answer.status_code == 303
            cookie = answer.headers["set-cookie"]
            assert cookie.startswith("hrbot_console=")
            assert "HttpOnly" in cookie
            assert "SameSite=strict" in cookie or "SameSite=Strict" in cookie
            assert "Path=/console" in cookie
            assert "Secure" not in cookie  # served over plain http here
            page = await browser.get("/console/")
            assert page.status_code == 200
            assert "Coordinator #" in page.text
        async with cw.client() as other:
            again = await other.post("/console/signin", data={"token": token})
            assert again.status_code == 403
            assert "already used" in again.text
            assert "set-cookie" not in again.headers
            assert (await other.get("/console/")).status_code == 403


async def test_behind_https_the_cookie_is_secure(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    async with console_world(sessions, public_url="https://hr.example.org") as cw:
        token = await cw.link_token("coco")
        async with cw.client() as browser:
            answer = await browser.post("/console/signin", data={"token": token})
            assert answer.status_code == 303
            assert "Secure" in answer.headers["set-cookie"]


async def test_an_expired_or_unknown_link_is_refused(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    async with console_world(sessions) as cw:
        token = await cw.link_token("coco")
        cw.world.clock.advance(seconds=console_access.LINK_TTL.total_seconds() + 1)
        async with cw.client() as browser:
            late = await browser.post("/console/signin", data={"token": token})
            assert late.status_code == 403
            forged = await browser.post("/console/signin", data={"token": "x" * 43})
            assert forged.status_code == 403
            assert (await browser.get("/console/")).status_code == 403


async def test_a_forged_csrf_token_or_another_origin_changes_nothing(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    async with console_world(sessions) as cw, cw.client() as browser:
        await cw.sign_in(browser, "coco")
        page = (await browser.get("/console/")).text
        csrf = csrf_of(page)
        assert re.search(r'<html lang="en" dir="ltr">', page)

        forged = await browser.post("/console/language", data={"csrf": "0" * 64, "locale": "ru"})
        assert forged.status_code == 403
        missing = await browser.post("/console/language", data={"locale": "ru"})
        assert missing.status_code == 403
        elsewhere = await browser.post(
            "/console/language",
            data={"csrf": csrf, "locale": "ru"},
            headers={"Origin": "https://evil.example"},
        )
        assert elsewhere.status_code == 403
        assert 'lang="en"' in (await browser.get("/console/")).text  # nothing changed

        done = await browser.post(
            "/console/language", data={"csrf": csrf, "locale": "fa_AF", "back": "/console/"}
        )
        assert done.status_code == 303
        dari = (await browser.get("/console/")).text
        assert '<html lang="fa-AF" dir="rtl">' in dari
        assert "امروز" in dari  # "Today"


async def test_a_removed_member_is_out_at_the_next_click(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    async with console_world(sessions) as cw, cw.client() as browser:
        world = cw.world
        await world.outlet("alpha")
        await world.peer("pat", "alpha")
        await cw.sign_in(browser, "pat")
        page = await browser.get("/console/")
        assert page.status_code == 200
        assert "Alpha table" in page.text
        csrf = csrf_of(page.text)

        # The coordinator removes pat in chat (/team); pat's very next request is refused.
        team = texts(await world.chat.say("coco", "/team"))
        assert "Peer #" in team
        await world.chat.tap(
            "coco",
            next(
                o.label
                for o in world.chat.last("coco").options
                if o.label.startswith("Remove Peer")
            ),
        )
        await world.chat.tap("coco", "Yes, remove")
        refused = await browser.get("/console/")
        assert refused.status_code == 403
        assert "session has ended" in refused.text
        posted = await browser.post("/console/language", data={"csrf": csrf, "locale": "ru"})
        assert posted.status_code == 403


async def test_a_session_ends_after_idling_and_at_sign_out(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    async with console_world(sessions) as cw, cw.client() as browser:
        await cw.sign_in(browser, "coco")
        cw.world.clock.advance(seconds=console_access.IDLE_TIMEOUT.total_seconds() - 60)
        assert (await browser.get("/console/")).status_code == 200  # still in: it was used
        cw.world.clock.advance(seconds=console_access.IDLE_TIMEOUT.total_seconds() - 60)
        assert (await browser.get("/console/")).status_code == 200
        cw.world.clock.advance(seconds=console_access.IDLE_TIMEOUT.total_seconds() + 1)
        assert (await browser.get("/console/")).status_code == 403

        await cw.sign_in(browser, "coco")
        csrf = csrf_of((await browser.get("/console/")).text)
        out = await browser.post("/console/signout", data={"csrf": csrf})
        assert out.status_code == 200
        assert "signed out" in out.text
        assert (await browser.get("/console/")).status_code == 403


async def test_pages_ask_nothing_of_other_sites_and_carry_security_headers(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    async with console_world(sessions) as cw, cw.client() as browser:
        await cw.sign_in(browser, "coco")
        page = await browser.get("/console/")
        policy = page.headers["content-security-policy"]
        assert "default-src 'none'" in policy
        assert "frame-ancestors 'none'" in policy
        assert page.headers["referrer-policy"] == "same-origin"
        assert page.headers["cache-control"] == "no-store"
        # Every address the page refers to is this app's own.
        for address in re.findall(r'(?:src|href|action)="([^"]*)"', page.text):
            assert address.startswith("/console/"), address
        css = await browser.get("/console/static/console.css")
        assert css.status_code == 200
        assert css.headers["content-type"].startswith("text/css")
        assert css.headers["x-content-type-options"] == "nosniff"


async def test_today_shows_open_requests_stock_outs_and_open_outlets_within_reach(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    async with console_world(sessions) as cw:
        world = cw.world
        await world.outlet("alpha", stock={"syr_1ml_29g": 20, "nalox_nasal": 0})
        await world.outlet("beta", east_km=3, stock={"syr_1ml_29g": 2, "nalox_nasal": 6})
        await world.peer("pat", "alpha")
        await world.request("ana")  # goes to alpha, the nearer
        async with cw.client() as coordinator:
            await cw.sign_in(coordinator, "coco")
            page = (await coordinator.get("/console/")).text
            assert re.search(r'id="open-requests">1<', page)
            assert re.search(r'id="open-outlets">2 of 2<', page)
            stock = page.split('id="stock-alarms"')[1].split("</table>")[0]
            assert "Alpha table" in stock  # naloxone out
            assert "Beta table" in stock  # syringes low
            assert 'id="reports-new">0<' in page
        async with cw.client() as peer:
            await cw.sign_in(peer, "pat")
            page = (await peer.get("/console/")).text
            assert re.search(r'id="open-outlets">1 of 1<', page)
            assert "Beta table" not in page  # only their own outlet
            assert "reports-new" not in page
