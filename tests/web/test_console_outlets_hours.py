"""The outlet page's hours, closures and forecast, and the coverage view, over real HTTP: a
change made here routes the bot's next request as the chat's ``/closed`` would (one system).

The clock is 2026-11-25 19:00 UTC: Wednesday 11:00 in Vancouver, where the outlets are."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import httpx
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.db.models import AuditEvent, DailyCount, Offer, Outlet, OutletClosure, Request
from bot.domain import OfferStatus, RequestStatus
from bot.services import closures
from bot.services.requests import RouteResult
from tests.handlers.peer_world import World
from tests.support.chat import texts
from tests.support.console import ConsoleWorld, console_world, csrf_of

Sessions = async_sessionmaker[AsyncSession]


async def _signed_in(cw: ConsoleWorld, browser: httpx.AsyncClient, who: str) -> str:
    await cw.sign_in(browser, who)
    return csrf_of((await browser.get("/console/outlets")).text)


async def _hours(world: World, outlet_id: int) -> str:
    async with world.sessions() as session:
        hours = await session.scalar(select(Outlet.hours).where(Outlet.id == outlet_id))
    assert hours is not None
    return hours


async def _closures(world: World, outlet_id: int) -> list[tuple[int, str]]:
    async with world.sessions() as session:
        rows = await session.execute(
            select(OutletClosure.id, OutletClosure.reason)
            .where(OutletClosure.outlet_id == outlet_id)
            .order_by(OutletClosure.starts_at)
        )
        return [(row.id, str(row.reason)) for row in rows]


def _utc(at: datetime) -> str:
    aware = at if at.tzinfo is not None else at.replace(tzinfo=UTC)
    return aware.astimezone(UTC).strftime("%Y-%m-%d %H:%M")


def _text(html: str, ident: str) -> str:
    found = re.search(rf'id="{ident}"[^>]*>(.*?)</', html, re.S)
    assert found is not None, ident
    return re.sub(r"<[^>]+>", "", found.group(1)).strip()


async def test_hours_set_here_change_open_now_and_routing(sessions: Sessions) -> None:
    async with console_world(sessions) as cw, cw.client() as browser:
        world = cw.world
        alpha = await world.outlet("alpha", east_km=1)
        beta = await world.outlet("beta", east_km=3)
        await world.peer("pat", "alpha")
        await world.peer("bea", "beta")
        csrf = await _signed_in(cw, browser, "coco")
        page = (await browser.get(f"/console/outlets/{alpha}")).text
        assert _text(page, "hours-text") == "24/7"
        assert _text(page, "hours-now") == "Open now."

        # Open only in the evening: closed now (11:00 there), so requests go to beta.
        done = await browser.post(
            f"/console/outlets/{alpha}/hours",
            data={"csrf": csrf, "hours": "Mo-Fr 16:00-20:00; Sa 12:00-16:00"},
        )
        assert done.status_code == 303
        assert await _hours(world, alpha) == "Mo-Fr 16:00-20:00; Sa 12:00-16:00"
        page = (await browser.get(done.headers["location"])).text
        assert _text(page, "hours-now") == "Closed now, opens 16:00."
        assert _text(page, "hours-words") == "Mon–Fri 16:00–20:00; Sat 12:00–16:00"
        assert "Saved." in page
        listed = (await browser.get("/console/outlets")).text
        row = re.search(rf'<tr id="outlet-{alpha}"[^>]*>(.*?)</tr>', listed, re.S)
        assert row is not None
        assert ">closed<" in row.group(1)
        moved = await world.request("ana")
        assert moved.outlet_id == beta

        # Open from 10:00: open now, closes 16:00; routing comes back.
        await browser.post(
            f"/console/outlets/{alpha}/hours", data={"csrf": csrf, "hours": "Mo-Su 10:00-16:00"}
        )
        page = (await browser.get(f"/console/outlets/{alpha}")).text
        assert _text(page, "hours-now") == "Open now, closes 16:00."
        assert (await world.request("ben")).outlet_id == alpha
        async with world.sessions() as session:
            audited = await session.scalar(
                select(func.count()).where(AuditEvent.action == "outlet.hours")
            )
        assert audited == 2


async def test_opening_hours_route_held_requests(sessions: Sessions) -> None:
    async with console_world(sessions) as cw, cw.client() as browser:
        world = cw.world
        alpha = await world.outlet("alpha", hours="Mo-Su 16:00-20:00")  # opens later today
        await world.peer("pat", "alpha")
        csrf = await _signed_in(cw, browser, "coco")
        unrouted = await world.request("ana")
        assert unrouted.result is RouteResult.UNROUTED
        await world.chat.tap("ana", "Hold my request")
        assert await world.status(unrouted.request_id) == RequestStatus.WAITING
        await browser.post(f"/console/outlets/{alpha}/hours", data={"csrf": csrf, "hours": "24/7"})
        assert await world.status(unrouted.request_id) == RequestStatus.OFFERED
        assert world.chat.last("pat").text.startswith("New pickup request")


async def test_unreadable_hours_are_refused_and_change_nothing(sessions: Sessions) -> None:
    async with console_world(sessions) as cw, cw.client() as browser:
        world = cw.world
        alpha = await world.outlet("alpha")
        csrf = await _signed_in(cw, browser, "coco")
        before = await _hours(world, alpha)
        for text in ("Mo-Fr 25:00-26:00", "whenever", "", "Mo 10:00-12:00; " * 60):
            answer = await browser.post(
                f"/console/outlets/{alpha}/hours", data={"csrf": csrf, "hours": text}
            )
            assert answer.status_code == 422, text
            assert "These hours cannot be read" in _text(answer.text, "error")
        assert await _hours(world, alpha) == before
        forged = await browser.post(
            f"/console/outlets/{alpha}/hours", data={"csrf": "0" * 64, "hours": "off"}
        )
        assert forged.status_code == 403
        assert await _hours(world, alpha) == before


async def test_closed_today_moves_the_offer_on_and_reopening_routes_again(
    sessions: Sessions,
) -> None:
    async with console_world(sessions) as cw, cw.client() as browser:
        world = cw.world
        alpha = await world.outlet("alpha", east_km=1)
        beta = await world.outlet("beta", east_km=3)
        await world.peer("pat", "alpha")
        await world.peer("bea", "beta")
        csrf = await _signed_in(cw, browser, "coco")
        pending = await world.request("ana")
        assert pending.outlet_id == alpha

        closed = await browser.post(
            f"/console/outlets/{alpha}/close", data={"csrf": csrf, "when": "today"}
        )
        assert closed.status_code == 303
        async with world.sessions() as session:
            offers = (
                await session.execute(
                    select(Offer.outlet_id, Offer.status)
                    .where(Offer.request_id == pending.request_id)
                    .order_by(Offer.id)
                )
            ).all()
        assert [(o.outlet_id, o.status) for o in offers] == [
            (alpha, OfferStatus.TIMED_OUT),
            (beta, OfferStatus.PENDING),
        ]
        assert "New pickup request" in world.chat.last("bea").text
        assert (await world.request("ben")).outlet_id == beta
        page = (await browser.get(f"/console/outlets/{alpha}")).text
        assert _text(page, "hours-now").startswith("Closed for now, opens")
        [(closure_id, reason)] = await _closures(world, alpha)
        assert reason == "closed_today"
        assert f'id="reopen-{closure_id}"' in page
        assert 'id="close-today"' not in page  # closed already
        listed = (await browser.get("/console/outlets")).text
        row = re.search(rf'<tr id="outlet-{alpha}"[^>]*>(.*?)</tr>', listed, re.S)
        assert row is not None
        assert ">closed<" in row.group(1)
        today = (await browser.get("/console/")).text
        assert "Alpha table" not in today  # not among the outlets open now
        # The chat sees the same closure.
        assert "Closed for now" in texts(await world.chat.say("pat", "/closed"))

        reopened = await browser.post(
            f"/console/outlets/{alpha}/reopen", data={"csrf": csrf, "closure": str(closure_id)}
        )
        assert reopened.status_code == 303
        assert await _closures(world, alpha) == []
        assert (await world.request("cam")).outlet_id == alpha
        again = await browser.post(
            f"/console/outlets/{alpha}/reopen", data={"csrf": csrf, "closure": str(closure_id)}
        )
        assert again.status_code == 422


async def test_reopening_routes_held_requests(sessions: Sessions) -> None:
    async with console_world(sessions) as cw, cw.client() as browser:
        world = cw.world
        alpha = await world.outlet("alpha")
        await world.peer("pat", "alpha")
        csrf = await _signed_in(cw, browser, "coco")
        await browser.post(f"/console/outlets/{alpha}/close", data={"csrf": csrf, "when": "today"})
        unrouted = await world.request("ana")
        assert unrouted.result is RouteResult.UNROUTED
        await world.chat.tap("ana", "Hold my request")
        [(closure_id, _)] = await _closures(world, alpha)
        await browser.post(
            f"/console/outlets/{alpha}/reopen", data={"csrf": csrf, "closure": str(closure_id)}
        )
        assert await world.status(unrouted.request_id) == RequestStatus.OFFERED


async def test_closed_tomorrow_and_on_holidays(sessions: Sessions) -> None:
    async with console_world(sessions) as cw, cw.client() as browser:
        world = cw.world
        alpha = await world.outlet("alpha")
        csrf = await _signed_in(cw, browser, "coco")
        tomorrow = await browser.post(
            f"/console/outlets/{alpha}/close", data={"csrf": csrf, "when": "tomorrow"}
        )
        assert tomorrow.status_code == 303
        holiday = await browser.post(
            f"/console/outlets/{alpha}/close",
            data={
                "csrf": csrf,
                "when": "days",
                "first": "2026-12-24",
                "last": "2026-12-26",
                "reason": "holiday",
            },
        )
        assert holiday.status_code == 303
        async with world.sessions() as session:
            rows = (
                await session.execute(
                    select(OutletClosure.starts_at, OutletClosure.ends_at, OutletClosure.reason)
                    .where(OutletClosure.outlet_id == alpha)
                    .order_by(OutletClosure.starts_at)
                )
            ).all()
        spans = [(_utc(r.starts_at), _utc(r.ends_at), str(r.reason)) for r in rows]
        # Local midnights in Vancouver (UTC-8).
        assert spans == [
            ("2026-11-26 08:00", "2026-11-27 08:00", "closed_today"),
            ("2026-12-24 08:00", "2026-12-27 08:00", "holiday"),
        ]
        page = (await browser.get(f"/console/outlets/{alpha}")).text
        assert _text(page, "hours-now") == "Open now, closes Thu 00:00."
        upcoming = [cid for cid, _ in await _closures(world, alpha)]
        assert all(f'id="cancel-{cid}"' in page for cid in upcoming)
        assert "(holiday)" in page
        cancelled = await browser.post(
            f"/console/outlets/{alpha}/reopen", data={"csrf": csrf, "closure": str(upcoming[1])}
        )
        assert cancelled.status_code == 303
        assert [cid for cid, _ in await _closures(world, alpha)] == upcoming[:1]

        before = await _closures(world, alpha)
        for data in (
            {"when": "days", "first": "2026-12-26", "last": "2026-12-24", "reason": "holiday"},
            {"when": "days", "first": "2026-01-01", "last": "2026-01-02", "reason": "holiday"},
            {"when": "days", "first": "2026-12-01", "last": "2027-06-01", "reason": "other"},
            {"when": "days", "first": "2026-12-01", "last": "2026-12-02", "reason": "party"},
            {"when": "days", "first": "tomorrow", "last": "2026-12-02", "reason": "other"},
            {"when": "someday"},
        ):
            answer = await browser.post(
                f"/console/outlets/{alpha}/close", data={"csrf": csrf, **data}
            )
            assert answer.status_code == 422, data
            assert 'id="error"' in answer.text
        assert await _closures(world, alpha) == before


async def test_a_peer_closes_their_own_outlet_not_another(sessions: Sessions) -> None:
    async with console_world(sessions) as cw, cw.client() as browser:
        world = cw.world
        alpha = await world.outlet("alpha")
        beta = await world.outlet("beta")
        await world.peer("pat", "alpha")
        csrf = await _signed_in(cw, browser, "pat")
        for path, data in (
            ("close", {"when": "today"}),
            ("hours", {"hours": "off"}),
            ("reopen", {"closure": "1"}),
        ):
            refused = await browser.post(
                f"/console/outlets/{beta}/{path}", data={"csrf": csrf, **data}
            )
            assert refused.status_code == 403, path
        assert await _closures(world, beta) == []
        own = await browser.post(
            f"/console/outlets/{alpha}/close", data={"csrf": csrf, "when": "today"}
        )
        assert own.status_code == 303
        assert len(await _closures(world, alpha)) == 1
        async with world.sessions() as session:
            actor = await session.scalar(select(OutletClosure.created_by))
        assert actor == "peer"
        # Another outlet's closure cannot be cancelled through their own outlet's page.
        async with world.sessions.begin() as session:
            await closures.close_today(
                session, outlet_id=beta, actor="coordinator", now=world.clock.now
            )
        [(theirs, _)] = await _closures(world, beta)
        sideways = await browser.post(
            f"/console/outlets/{alpha}/reopen", data={"csrf": csrf, "closure": str(theirs)}
        )
        assert sideways.status_code == 422
        assert await _closures(world, beta) == [(theirs, "closed_today")]
        assert "coverage" not in (await browser.get("/console/outlets")).text  # coordinators'


async def test_the_forecast_shows_days_left_and_state(sessions: Sessions) -> None:
    async with console_world(sessions) as cw, cw.client() as browser:
        world = cw.world
        alpha = await world.outlet("alpha", stock={"syr_1ml_29g": 20, "nalox_nasal": 0})
        await world.peer("pat", "alpha")
        await _signed_in(cw, browser, "coco")
        # 28 packs handed over in the last 4 weeks: one a day, 20 left → 20 days.
        async with world.sessions.begin() as session:
            session.add_all(
                DailyCount(
                    day=(world.clock.now - timedelta(days=back)).date(),
                    measure="outlet.packs",
                    outlet_id=alpha,
                    kind="equipment",
                    item_code="syr_1ml_29g",
                    count=2,
                )
                for back in range(14)
            )
        page = (await browser.get(f"/console/outlets/{alpha}")).text
        assert _text(page, "days-syr_1ml_29g") == "20.0"
        assert _text(page, "state-syr_1ml_29g") == "ok"
        assert _text(page, "days-nalox_nasal") == "—"
        assert _text(page, "state-nalox_nasal") == "stock-out"


async def test_coverage_shows_where_requests_went_unrouted_small_counts_hidden(
    sessions: Sessions,
) -> None:
    async with console_world(sessions) as cw, cw.client() as browser:
        world = cw.world
        await world.outlet("alpha", stock={"nalox_nasal": 5})  # no syringes anywhere
        await _signed_in(cw, browser, "coco")
        before = (await browser.get("/console/outlets")).text
        assert 'id="no-gaps"' in before
        for who in ("ana", "ben"):
            assert (await world.request(who)).result is RouteResult.UNROUTED
        page = (await browser.get("/console/outlets")).text
        area = re.search(r'<tr id="gap-area-strathcona">(.*?)</tr>', page, re.S)
        assert area is not None
        assert "&lt;5" in area.group(1)
        assert "2</td>" not in area.group(1)  # the real count never shows
        cells = re.search(r'<table id="coverage-cells">(.*?)</table>', page, re.S)
        assert cells is not None
        assert "49.29, -123.09" in cells.group(1)
        assert '<rect class="cell hidden"' in page
        assert "http" not in page.split('id="coverage"')[1].replace(
            "http://www.w3.org/2000/svg", ""
        )


async def test_the_sections_render_in_dari(sessions: Sessions) -> None:
    async with console_world(sessions) as cw, cw.client() as browser:
        world = cw.world
        alpha = await world.outlet("alpha")
        csrf = await _signed_in(cw, browser, "coco")
        await browser.post(f"/console/outlets/{alpha}/close", data={"csrf": csrf, "when": "today"})
        done = await browser.post(
            "/console/language", data={"csrf": csrf, "locale": "fa_AF", "back": "/console/outlets"}
        )
        assert done.status_code == 303
        page = (await browser.get(f"/console/outlets/{alpha}")).text
        assert '<html lang="fa-AF" dir="rtl">' in page
        assert "ساعات کار" in page  # "Opening hours"
        assert "بسته‌بودن‌ها" in page  # "Closures"
        listed = (await browser.get("/console/outlets")).text
        assert 'id="coverage"' in listed
        assert dict(await _count_requests(world)) == {}  # nothing routed by rendering pages


async def _count_requests(world: World) -> list[tuple[str, int]]:
    async with world.sessions() as session:
        rows = await session.execute(select(Request.status, func.count()).group_by(Request.status))
        return [(str(row[0]), int(row[1])) for row in rows]
