"""The console's *Reports* page over real HTTP: the review queue with chat's masking, Dismiss
and Make a draft alert with chat's effects, one system with the chat review, one winner when
two coordinators act at once, and refusals (a peer, a forged form, a bad id)."""

from __future__ import annotations

import asyncio
import re

import httpx
from sqlalchemy import func, select

from bot.db.models import Alert, Coordinator, Delivery, Report, ReportStatus
from bot.domain import AlertKind, AlertStatus
from bot.services import reports
from tests.handlers.peer_world import Sessions, World
from tests.support.chat import texts
from tests.support.console import ConsoleWorld, console_world, csrf_of

PHONE = "604-555-0199"
STREET = "123 Main St apt 4"
IDENTIFYING = f"my friend Dave Smith OD'd at {STREET}, phone {PHONE}"
HANDLED = "already handled"


async def _report(world: World, *, what: str = "went out fast, 3 doses", who: str = "ana") -> None:
    """``who`` sends a report in chat, as people do."""
    chat = world.chat
    await chat.say(who, "/report")
    await chat.say(who, "down from @dave_sells")
    await chat.say(who, "strathcona")
    await chat.say(who, what)
    await chat.say(who, "pink")
    [done] = await chat.tap(who, "Send report")
    assert done.text.startswith("Thank you.")


async def _stored(sessions: Sessions, report_id: int) -> Report:
    async with sessions() as session:
        return await session.get_one(Report, report_id)


async def _count(sessions: Sessions, model: type[Alert] | type[Delivery]) -> int:
    async with sessions() as session:
        return int(await session.scalar(select(func.count()).select_from(model)) or 0)


async def _signed_in(cw: ConsoleWorld, browser: httpx.AsyncClient, who: str = "coco") -> str:
    """Sign ``who`` in and return the CSRF token of the queue page."""
    await cw.sign_in(browser, who)
    page = await browser.get("/console/reports")
    assert page.status_code == 200, page.text
    return csrf_of(page.text)


def _block(page: str, report_id: int) -> str:
    """The article of one report on the page."""
    return page.split(f'id="report-{report_id}"')[1].split("</article>")[0]


async def test_the_queue_shows_masked_text_only_in_english_and_dari(sessions: Sessions) -> None:
    async with console_world(sessions) as cw, cw.client() as browser:
        world = cw.world
        await _report(world, what=IDENTIFYING)
        await cw.sign_in(browser, "coco")

        today = (await browser.get("/console/")).text
        assert 'href="/console/reports"' in today  # the "Reports to review" card

        page = (await browser.get("/console/reports")).text
        assert '<html lang="en" dir="ltr">' in page
        assert re.search(r'id="reports-count">1 report to review\.<', page)
        block = _block(page, 1)
        assert "R1" in block
        assert "Strathcona" in block
        assert "my friend [👤] OD&#39;d at [🏠], phone [📞]" in block
        assert "down from [@]" in block
        assert "Hidden so no one can be identified: 1 phone number, 1 address, 1 name" in block
        for secret in (PHONE, "555", "Main St", "Dave", "Smith", "dave_sells"):
            assert secret not in page, secret
        # Its age, no finer than the hour it is kept to: never a time of day.
        assert "less than an hour ago" in block
        assert not re.search(r"\d{1,2}:\d{2}", page)
        assert 'id="dismiss-1"' in block
        assert 'id="draft-1"' in block

        # Hours later (signed in afresh: a session idles out after 30 minutes), then days.
        world.clock.advance(hours=3)
        await cw.sign_in(browser, "coco")
        assert "3 hours ago" in _block((await browser.get("/console/reports")).text, 1)
        world.clock.advance(days=2)
        await cw.sign_in(browser, "coco")
        page = (await browser.get("/console/reports")).text
        day = re.search(r'<time datetime="(\d{4}-\d\d-\d\d)">\1</time>', _block(page, 1))
        assert day is not None

        one = (await browser.get("/console/reports/1")).text
        assert "phone [📞]" in _block(one, 1)
        assert PHONE not in one

        csrf = csrf_of(page)
        changed = await browser.post(
            "/console/language",
            data={"csrf": csrf, "locale": "fa_AF", "back": "/console/reports"},
        )
        assert changed.status_code == 303
        dari = (await browser.get("/console/reports")).text
        assert '<html lang="fa-AF" dir="rtl">' in dari
        assert "گزارش‌های مردم" in dari  # "Community reports"
        assert "phone [📞]" in _block(dari, 1)
        assert PHONE not in dari


async def test_dismiss_here_and_the_report_is_gone_in_chat(sessions: Sessions) -> None:
    async with console_world(sessions) as cw, cw.client() as browser:
        world = cw.world
        await _report(world)
        await _report(world, what="very sleepy for hours")
        # coco has the chat review open with both reports' buttons.
        [listed] = await world.chat.say("coco", "/reports")
        assert listed.text.startswith("R1 ")
        csrf = await _signed_in(cw, browser)

        done = await browser.post("/console/reports/1/dismiss", data={"csrf": csrf})
        assert done.status_code == 303
        assert done.headers["location"] == "/console/reports?done=dismissed"
        page = (await browser.get(done.headers["location"])).text
        assert 'id="dismissed"' in page
        assert 'id="report-1"' not in page
        assert 'id="report-2"' in page
        stored = await _stored(sessions, 1)
        assert stored.status is ReportStatus.DISMISSED
        assert stored.reviewed_at is not None

        # The chat's old button finds it handled; a fresh /reports lists only R2.
        [late] = await world.chat.tap("coco", "Make draft alert R1")
        assert late.text.startswith("That report was already reviewed.")
        assert await _count(sessions, Alert) == 0
        assert texts(await world.chat.say("coco", "/reports")).startswith("R2 ")


async def test_a_report_handled_in_chat_is_gone_here(sessions: Sessions) -> None:
    async with console_world(sessions) as cw, cw.client() as browser:
        world = cw.world
        await _report(world)
        await _report(world, what="very sleepy for hours")
        csrf = await _signed_in(cw, browser)  # the page shows R1 and R2 with their buttons

        await world.chat.say("coco", "/reports")
        await world.chat.tap("coco", "Dismiss R1")
        [preview] = await world.chat.tap("coco", "Make draft alert R2")
        assert preview.text.startswith("Preview of A1")

        page = (await browser.get("/console/reports")).text
        assert 'id="report-1"' not in page
        assert 'id="report-2"' not in page
        assert 'id="no-reports"' in page
        for report_id, action in ((1, "dismiss"), (2, "draft"), (1, "draft")):
            late = await browser.post(f"/console/reports/{report_id}/{action}", data={"csrf": csrf})
            assert late.status_code == 409
            assert HANDLED in late.text
        gone = await browser.get("/console/reports/2")
        assert gone.status_code == 410
        assert HANDLED in gone.text
        assert (await _stored(sessions, 1)).status is ReportStatus.DISMISSED
        assert (await _stored(sessions, 2)).status is ReportStatus.DRAFTED
        assert await _count(sessions, Alert) == 1


async def test_a_draft_alert_made_here_is_the_one_chat_makes(sessions: Sessions) -> None:
    async with console_world(sessions) as cw, cw.client() as browser:
        world = cw.world
        await world.chat.say("bo", "/alerts")
        await world.chat.tap("bo", "Add an area")
        await world.chat.say("bo", "Strathcona")
        await _report(world, what=IDENTIFYING)
        before = len(world.chat.inbox("bo"))
        csrf = await _signed_in(cw, browser)

        made = await browser.post("/console/reports/1/draft", data={"csrf": csrf})
        assert made.status_code == 303
        assert made.headers["location"] == "/console/reports?done=drafted&alert=1"
        page = (await browser.get(made.headers["location"])).text
        notice = page.split('id="drafted"')[1].split("</span>")[0]
        assert "Draft alert #1 created." in notice
        assert 'href="/console/alerts/1"' in notice
        assert 'id="report-1"' not in page

        stored = await _stored(sessions, 1)
        assert (stored.status, stored.alert_id) == (ReportStatus.DRAFTED, 1)
        async with sessions() as session:
            alert = await session.get_one(Alert, 1)
        assert alert.kind is AlertKind.BAD_BATCH
        assert alert.status is AlertStatus.DRAFT
        assert alert.needs_check  # held until a coordinator edits or checks it, as from chat
        async with sessions() as session:
            coco = await session.scalar(select(Coordinator.id))
        assert alert.created_by_id == coco  # as chat records it
        assert alert.fields["symptoms"] == stored.what_happened
        assert "[📞]" in alert.fields["symptoms"]
        # Nothing is sent: the draft waits on the Alerts page.
        assert await _count(sessions, Delivery) == 0
        assert len(world.chat.inbox("bo")) == before


async def test_two_coordinators_at_once_get_one_winner(sessions: Sessions) -> None:
    async with console_world(sessions) as cw, cw.client() as first, cw.client() as second:
        world = cw.world
        await world.coordinator("cora")
        await _report(world)
        csrf_first = await _signed_in(cw, first, "coco")
        csrf_second = await _signed_in(cw, second, "cora")

        answers = await asyncio.gather(
            first.post("/console/reports/1/dismiss", data={"csrf": csrf_first}),
            second.post("/console/reports/1/draft", data={"csrf": csrf_second}),
        )
        codes = sorted(a.status_code for a in answers)
        assert codes == [303, 409], codes
        loser = next(a for a in answers if a.status_code == 409)
        assert HANDLED in loser.text
        dismissed = answers[0].status_code == 303
        stored = await _stored(sessions, 1)
        assert stored.status is (ReportStatus.DISMISSED if dismissed else ReportStatus.DRAFTED)
        assert await _count(sessions, Alert) == (0 if dismissed else 1)


async def test_the_queue_is_paged_oldest_first(sessions: Sessions) -> None:
    async with console_world(sessions) as cw, cw.client() as browser:
        world = cw.world
        gazetteer = world.engine.deps.content.gazetteer
        async with sessions.begin() as session:
            for n in range(12):
                await reports.submit(
                    session,
                    sold_as="down",
                    what_happened=f"report number {n + 1}",
                    area_code=None,
                    gazetteer=gazetteer,
                    now=world.clock.now,
                )
        await cw.sign_in(browser, "coco")
        page = (await browser.get("/console/reports")).text
        assert re.search(r'id="reports-count">12 reports to review\.<', page)
        shown = [int(n) for n in re.findall(r'<article class="report" id="report-(\d+)"', page)]
        assert shown == list(range(1, 11))
        assert "not given" in _block(page, 1)  # no area named
        assert 'href="/console/reports?after=10" id="next-page"' in page
        assert 'id="first-page"' not in page
        rest = (await browser.get("/console/reports?after=10")).text
        shown = [int(n) for n in re.findall(r'<article class="report" id="report-(\d+)"', rest)]
        assert shown == [11, 12]
        assert 'id="next-page"' not in rest
        assert 'id="first-page"' in rest


async def test_peers_forged_forms_and_bad_ids_are_refused_and_change_nothing(
    sessions: Sessions,
) -> None:
    async with console_world(sessions) as cw, cw.client() as coordinator, cw.client() as peer:
        world = cw.world
        await world.outlet("alpha")
        await world.peer("pat", "alpha")
        await _report(world)

        await cw.sign_in(peer, "pat")
        home = (await peer.get("/console/")).text
        assert 'href="/console/reports"' not in home  # neither in the menu nor on Today
        refused = await peer.get("/console/reports")
        assert refused.status_code == 403
        assert "This page is for coordinators." in refused.text
        assert (await peer.get("/console/reports/1")).status_code == 403
        peer_csrf = csrf_of(home)
        for action in ("dismiss", "draft"):
            answer = await peer.post(f"/console/reports/1/{action}", data={"csrf": peer_csrf})
            assert answer.status_code == 403

        csrf = await _signed_in(cw, coordinator)
        forged = await coordinator.post("/console/reports/1/dismiss", data={"csrf": "0" * 64})
        assert forged.status_code == 403
        elsewhere = await coordinator.post(
            "/console/reports/1/draft",
            data={"csrf": csrf},
            headers={"Origin": "https://evil.example"},
        )
        assert elsewhere.status_code == 403

        for path in ("/console/reports/999", "/console/reports/abc", "/console/reports/0"):
            missing = await coordinator.get(path)
            assert missing.status_code == 404, path
            assert "There is no such report." in missing.text
            assert 'class="report"' not in missing.text
        for path in (
            "/console/reports/999/dismiss",
            "/console/reports/x/draft",
            "/console/reports/99999999999999999999/dismiss",
        ):
            missing = await coordinator.post(path, data={"csrf": csrf})
            assert missing.status_code == 404, path
            assert "There is no such report." in missing.text
        bad_page = await coordinator.get("/console/reports?after=-1")
        assert bad_page.status_code == 400

        stored = await _stored(sessions, 1)
        assert (stored.status, stored.reviewed_at, stored.alert_id) == (
            ReportStatus.NEW,
            None,
            None,
        )
        assert await _count(sessions, Alert) == 0
        assert 'id="report-1"' in (await coordinator.get("/console/reports")).text
