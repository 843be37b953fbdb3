"""The console's *Alerts* page over real HTTP: compose, the exact preview, send (the bot
delivers at once), progress, schedule, repeat, update, all clear, the masking check, and what
is refused. The people are real chat subscribers (``/alerts`` in chat)."""

from __future__ import annotations

import asyncio
import html
import re
from datetime import UTC, datetime

import httpx
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.db.models import Alert
from bot.domain import AlertKind, AlertStatus
from bot.services import alerts
from tests.support.console import ConsoleWorld, console_world, csrf_of

Sessions = async_sessionmaker[AsyncSession]
WARNING = {
    "kind": "bad_batch",
    "severity": "3",
    "area": "strathcona",
    "sold_as": "down",
    "found_to_contain": "nitazenes",
    "appearance": "",
    "symptoms": "",
    "advice": "Don't use alone. Test a small amount first.",
    "lifetime": "24",
}
_PRE = re.compile(r'<pre class="alert-text" id="preview-text"[^>]*>(.*?)</pre>', re.S)


async def _subscribe(cw: ConsoleWorld, who: str, area: str) -> None:
    await cw.world.chat.say(who, "/alerts")
    await cw.world.chat.tap(who, "Add an area")
    await cw.world.chat.say(who, area)


async def _post(browser: httpx.AsyncClient, path: str, data: dict[str, object]) -> httpx.Response:
    """POST a console form with the CSRF token of the page it is on."""
    page = await browser.get(path.rsplit("/", 1)[0] if path.endswith(_ACTIONS) else path)
    return await browser.post(path, data={"csrf": csrf_of(page.text), **data})


_ACTIONS = (
    "/send",
    "/schedule",
    "/repeat",
    "/check",
    "/cancel",
    "/update",
    "/clear",
    "/edit",
    "/language",
    "/details",
)


async def _compose(browser: httpx.AsyncClient, **changes: str) -> httpx.Response:
    return await _post(browser, "/console/alerts/new", {**WARNING, **changes})


def _preview(page: str) -> str:
    found = _PRE.search(page)
    assert found is not None, page
    return html.unescape(found.group(1))


async def _received(cw: ConsoleWorld, who: str, count: int) -> str:
    """Wait for the bot to have sent ``who`` ``count`` alert messages; the newest one."""
    for _ in range(200):
        got = [r.text for r in cw.world.chat.inbox(who) if "community group" in r.text]
        if len(got) >= count:
            return got[-1]
        await asyncio.sleep(0.05)
    raise AssertionError(f"{who} got {len(got)} alerts")


async def _count_alerts(sessions: Sessions) -> int:
    async with sessions() as session:
        return int(await session.scalar(select(func.count()).select_from(Alert)) or 0)


async def _view(sessions: Sessions, alert_id: int) -> alerts.AlertView:
    async with sessions() as session:
        view = await alerts.get(session, alert_id=alert_id)
    assert view is not None
    return view


async def _progress(browser: httpx.AsyncClient, text: str) -> str:
    """The alerts list once it shows ``text`` (the outbox finishes in the background)."""
    for _ in range(200):
        page = (await browser.get("/console/alerts")).text
        if text in page:
            return page
        await asyncio.sleep(0.05)
    raise AssertionError(page)


async def test_compose_preview_send_and_progress(sessions: Sessions) -> None:
    async with console_world(sessions) as cw, cw.client() as browser:
        await _subscribe(cw, "ana", "Strathcona")
        await _subscribe(cw, "bo", "Kitsilano")
        await cw.sign_in(browser, "coco")
        form = await browser.get("/console/alerts/new")
        assert form.status_code == 200
        assert 'id="area-strathcona"' in form.text

        made = await _compose(browser)
        assert made.status_code == 303
        assert made.headers["location"] == "/console/alerts/1"
        page = (await browser.get("/console/alerts/1")).text
        shown = _preview(page)
        assert shown.startswith("🔴 Urgent notice from your community group")
        assert "Found to contain: nitazenes" in shown
        assert "If sent now, it goes to 1 person." in page
        assert 'id="preview-fa_AF"' in page
        assert 'id="preview-ru"' in page
        assert cw.world.chat.inbox("ana")[-1].text != shown  # nothing went out yet

        sent = await _post(browser, "/console/alerts/1/send", {})
        assert sent.status_code == 303
        assert sent.headers["location"] == "/console/alerts/1?done=sent"
        # The outbox was woken: the subscriber gets exactly the preview, and only she does.
        assert await _received(cw, "ana", 1) == shown
        assert not any("nitazenes" in r.text for r in cw.world.chat.inbox("bo"))

        listed = await _progress(browser, "1 of 1 delivered")
        assert 'id="current-alerts"' in listed
        assert '<progress max="1" value="1" id="progress-1">' in listed
        assert "Sent 1 · pending 0 · failed 0 · unreachable 0" in listed
        detail = (await browser.get("/console/alerts/1")).text
        assert 'id="update-form"' in detail
        assert 'id="clear-form"' in detail


async def test_an_alert_sent_in_chat_shows_with_its_progress(sessions: Sessions) -> None:
    async with console_world(sessions) as cw, cw.client() as browser:
        chat = cw.world.chat
        await _subscribe(cw, "ana", "Gastown")
        await chat.say("coco", "/broadcast")
        for label in ("New alert", "Safety message", "Advisory", "Gastown", "Done"):
            await chat.tap("coco", label)
        for _ in range(4):
            await chat.tap("coco", "Skip")
        await chat.say("coco", "Carry naloxone this weekend.")
        await chat.tap("coco", "1 day")
        await chat.tap("coco", "Send now")
        await _received(cw, "ana", 1)
        await cw.sign_in(browser, "coco")
        listed = await _progress(browser, "1 of 1 delivered")
        row = listed[listed.index('id="alert-1"') :]
        assert "Safety message" in row[:600]
        assert "Gastown" in row[:600]


async def test_bad_input_is_refused_and_nothing_is_made(sessions: Sessions) -> None:
    async with console_world(sessions) as cw, cw.client() as browser:
        await cw.sign_in(browser, "coco")
        empty = await _compose(browser, sold_as="", found_to_contain="", advice=" ")
        assert empty.status_code == 422
        assert "Fill in at least one of the texts." in empty.text
        assert 'value="strathcona" id="area-strathcona" checked' in empty.text  # kept
        unknown = await _compose(browser, area="atlantis")
        assert unknown.status_code == 422
        assert "Choose areas from the list." in unknown.text
        none = await _compose(browser, area="")
        assert "Choose at least one area, or Everywhere." in none.text
        hidden = await _compose(browser, sold_as="down\u202enwod")
        assert hidden.status_code == 422
        assert "Sold as: plain text only, up to 200 characters." in hidden.text
        assert "Choose how serious it is." in (await _compose(browser, severity="9")).text
        assert await _count_alerts(sessions) == 0

        assert (await _compose(browser)).status_code == 303
        past = await _post(browser, "/console/alerts/1/schedule", {"when": "2026-11-20T18:00"})
        assert past.status_code == 422
        assert "That is not a date and time in the future, within a year." in past.text
        garbled = await _post(browser, "/console/alerts/1/schedule", {"when": "soon"})
        assert garbled.status_code == 422
        no_day = await _post(browser, "/console/alerts/1/repeat", {"at": "18:00"})
        assert "Choose at least one day and a time, like 18:00." in no_day.text
        assert (await _view(sessions, 1)).status is AlertStatus.DRAFT
        assert await _count_alerts(sessions) == 1


async def test_schedule_in_local_time_repeat_and_cancel(sessions: Sessions) -> None:
    async with console_world(sessions) as cw, cw.client() as browser:
        await cw.sign_in(browser, "coco")
        await _compose(browser)
        done = await _post(browser, "/console/alerts/1/schedule", {"when": "2026-11-26T18:00"})
        assert done.headers["location"] == "/console/alerts/1?done=scheduled"
        view = await _view(sessions, 1)
        assert view.status is AlertStatus.SCHEDULED
        # 18:00 in Vancouver (the area's zone) is 02:00 UTC the next day.
        assert view.due_at == datetime(2026, 11, 27, 2, 0, tzinfo=UTC)
        listed = (await browser.get("/console/alerts")).text
        assert "2026-11-26 18:00 (America/Vancouver)" in listed
        assert 'id="scheduled-alerts"' in listed

        await _compose(browser)
        repeated = await _post(browser, "/console/alerts/2/repeat", {"day": ["4"], "at": "18:30"})
        assert repeated.status_code == 303
        assert (await _view(sessions, 2)).recurrence == "weekly:fri@18:30"
        page = (await browser.get("/console/alerts/2")).text
        assert "every Friday at 18:30, America/Vancouver time" in page

        cancelled = await _post(browser, "/console/alerts/1/cancel", {})
        assert cancelled.headers["location"] == "/console/alerts/1?done=cancelled"
        assert (await _view(sessions, 1)).status is AlertStatus.CANCELLED
        again = await _post(browser, "/console/alerts/1/cancel", {})
        assert again.status_code == 422


async def test_update_and_all_clear_reach_those_who_got_it(sessions: Sessions) -> None:
    async with console_world(sessions) as cw, cw.client() as browser:
        await _subscribe(cw, "ana", "Strathcona")
        await cw.sign_in(browser, "coco")
        await _compose(browser)
        await _post(browser, "/console/alerts/1/send", {})
        await _received(cw, "ana", 1)

        empty = await _post(browser, "/console/alerts/1/update", {"symptoms": ""})
        assert empty.status_code == 422
        made = await _post(browser, "/console/alerts/1/update", {"symptoms": "Long blackouts"})
        assert made.headers["location"] == "/console/alerts/2"
        page = (await browser.get("/console/alerts/2")).text
        shown = _preview(page)
        assert shown.startswith("🔁 Update to an earlier notice")
        assert "It goes to 1 person who got A1." in page
        assert 'id="schedule-form"' not in page  # an update goes now, as in chat
        await _post(browser, "/console/alerts/2/send", {})
        assert await _received(cw, "ana", 2) == shown

        clear = await _post(browser, "/console/alerts/1/clear", {"note": "It's over."})
        assert clear.headers["location"] == "/console/alerts/3"
        shown = _preview((await browser.get("/console/alerts/3")).text)
        await _post(browser, "/console/alerts/3/send", {})
        assert await _received(cw, "ana", 3) == shown
        assert shown.startswith("✅ All clear")
        after = (await browser.get("/console/alerts/1")).text
        assert 'id="clear-form"' not in after  # it is over: no second all clear
        refused = await browser.post(
            "/console/alerts/1/clear", data={"csrf": csrf_of(after), "note": ""}
        )
        assert refused.status_code == 422
        assert await _count_alerts(sessions) == 3


async def test_a_draft_from_a_report_needs_the_check(sessions: Sessions) -> None:
    async with console_world(sessions) as cw, cw.client() as browser:
        async with sessions.begin() as session:
            await alerts.create_draft(
                session,
                kind=AlertKind.BAD_BATCH,
                severity=2,
                areas=["gastown"],
                fields={"sold_as": "down", "advice": "Call [phone] if you see it."},
                gazetteer=cw.world.engine.deps.content.gazetteer,
                now=cw.world.clock(),
                needs_check=True,
            )
        await cw.sign_in(browser, "coco")
        page = (await browser.get("/console/alerts/1")).text
        assert 'id="check-form"' in page
        assert 'id="send-form"' not in page
        forced = await _post(browser, "/console/alerts/1/send", {})
        assert forced.status_code == 422
        assert "comes from a community report" in forced.text
        unconfirmed = await _post(browser, "/console/alerts/1/check", {})
        assert unconfirmed.status_code == 422
        assert (await _view(sessions, 1)).needs_check
        checked = await _post(browser, "/console/alerts/1/check", {"confirm": "yes"})
        assert checked.headers["location"] == "/console/alerts/1?done=checked"
        assert 'id="send-form"' in (await browser.get("/console/alerts/1")).text


async def test_edit_a_report_draft_and_write_it_in_another_language(sessions: Sessions) -> None:
    async with console_world(sessions) as cw, cw.client() as browser:
        async with sessions.begin() as session:
            await alerts.create_draft(
                session,
                kind=AlertKind.BAD_BATCH,
                severity=2,
                areas=["gastown"],
                fields={"sold_as": "down", "advice": "Ask the tall guy at the corner."},
                gazetteer=cw.world.engine.deps.content.gazetteer,
                now=cw.world.clock(),
                needs_check=True,
            )
        await cw.sign_in(browser, "coco")
        emptied = await _post(browser, "/console/alerts/1/edit", {"sold_as": "", "advice": ""})
        assert emptied.status_code == 422
        assert (await _view(sessions, 1)).needs_check
        edited = await _post(
            browser, "/console/alerts/1/edit", {"sold_as": "down", "advice": "Don't use alone."}
        )
        assert edited.status_code == 303
        view = await _view(sessions, 1)
        assert not view.needs_check  # new wording is the check, as in chat
        assert view.fields["advice"] == "Don't use alone."

        written = await _post(
            browser,
            "/console/alerts/1/language",
            {"locale": "ru", "advice": "Не употребляйте в одиночку."},
        )
        assert written.status_code == 303
        page = (await browser.get("/console/alerts/1")).text
        assert "Also written in: Русский" in page
        russian = page[page.index('id="preview-ru"') :]
        assert "Не употребляйте в одиночку." in russian[:3000]
        assert "Sold as: down" in _preview(page)
        base = await _post(browser, "/console/alerts/1/language", {"locale": "en", "advice": "x"})
        assert base.status_code == 422


async def test_peers_and_forged_forms_are_refused(sessions: Sessions) -> None:
    async with console_world(sessions) as cw:
        await cw.world.outlet("alpha")
        await cw.world.peer("pat", "alpha")
        async with cw.client() as peer:
            await cw.sign_in(peer, "pat")
            csrf = csrf_of((await peer.get("/console/")).text)
            assert 'href="/console/alerts"' not in (await peer.get("/console/")).text
            assert (await peer.get("/console/alerts")).status_code == 403
            assert (await peer.get("/console/alerts/new")).status_code == 403
            posted = await peer.post("/console/alerts/new", data={"csrf": csrf, **WARNING})
            assert posted.status_code == 403
        async with cw.client() as browser:
            await cw.sign_in(browser, "coco")
            forged = await browser.post("/console/alerts/new", data={"csrf": "0" * 64, **WARNING})
            assert forged.status_code == 403
        assert await _count_alerts(sessions) == 0


async def test_dari_renders_right_to_left(sessions: Sessions) -> None:
    async with console_world(sessions) as cw, cw.client() as browser:
        await cw.sign_in(browser, "coco")
        csrf = csrf_of((await browser.get("/console/alerts")).text)
        await browser.post("/console/language", data={"csrf": csrf, "locale": "fa_AF"})
        listed = (await browser.get("/console/alerts")).text
        assert '<html lang="fa-AF" dir="rtl">' in listed
        assert "هشدار" in listed  # "alert"
        new = await browser.get("/console/alerts/new")
        assert new.status_code == 200
        assert 'dir="rtl"' in new.text
        made = await _compose(browser)
        page = (await browser.get(made.headers["location"])).text
        assert "🔴" in _preview(page)
