"""The console's *Outlets* pages over real HTTP: the paged list, one outlet's stock, and that a
change made here shows in the bot at once (routing, low-stock notices, pending offers)."""

from __future__ import annotations

import re

import httpx
from sqlalchemy import insert, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.db.models import AuditEvent, Outlet, Request, Stock
from bot.domain import OutletKind, RequestStatus
from bot.services.requests import RouteResult
from tests.handlers.peer_world import HERE, World
from tests.support.chat import texts
from tests.support.console import ConsoleWorld, console_world, csrf_of

Sessions = async_sessionmaker[AsyncSession]


async def _signed_in(cw: ConsoleWorld, browser: httpx.AsyncClient, who: str) -> str:
    await cw.sign_in(browser, who)
    return csrf_of((await browser.get("/console/outlets")).text)


async def _many_outlets(world: World, count: int) -> None:
    """``count`` outlets in two areas, named so that name order is easy to predict."""
    async with world.sessions.begin() as session:
        await session.execute(
            insert(Outlet),
            [
                {
                    "key": f"o{n:03d}",
                    "name": f"Site {n:03d}" if n % 2 else f"Corner {n:03d}",
                    "kind": OutletKind.PHARMACY,
                    "area_code": "dtes" if n % 3 else "gastown",
                    "latitude": HERE[0],
                    "longitude": HERE[1] + 0.01,
                    "timezone": "America/Vancouver",
                    "instructions": "",
                    "hours": "24/7",
                    "active": True,
                    "created_at": world.clock.now,
                }
                for n in range(count)
            ],
        )


def _names(html: str) -> list[str]:
    return re.findall(r'<td><a href="/console/outlets/\d+">([^<]+)</a></td>', html)


async def _stock_rows(world: World, outlet_key: str) -> dict[int, tuple[int, int, int, bool]]:
    async with world.sessions() as session:
        rows = await session.execute(
            select(
                Stock.item_id,
                Stock.quantity,
                Stock.reserved,
                Stock.low_threshold,
                Stock.low_notified,
            ).where(Stock.outlet_id == world.outlets[outlet_key])
        )
        return {r.item_id: (r.quantity, r.reserved, r.low_threshold, r.low_notified) for r in rows}


async def test_the_list_is_paged_filtered_by_area_and_searched_by_name(sessions: Sessions) -> None:
    async with console_world(sessions) as cw, cw.client() as browser:
        await _many_outlets(cw.world, 120)
        await _signed_in(cw, browser, "coco")

        first = (await browser.get("/console/outlets")).text
        assert "120 outlets" in first
        names = _names(first)
        assert len(names) == 50
        assert names == sorted(names)
        assert names[0] == "Corner 000"
        assert "Page 1 of 3" in first
        third = (await browser.get("/console/outlets?page=3")).text
        assert len(_names(third)) == 20
        assert _names(third)[-1] == "Site 119"
        past = await browser.get("/console/outlets?page=9")
        assert past.status_code == 200
        assert "No outlet matches." in past.text
        assert "120 outlets" in past.text

        gastown = (await browser.get("/console/outlets?area=gastown")).text
        assert "40 outlets" in gastown  # n % 3 == 0
        assert "Page 1 of 1" not in gastown  # one page: no pager
        searched = (await browser.get("/console/outlets", params={"q": "corner 01"})).text
        assert _names(searched) == [f"Corner {n:03d}" for n in range(10, 20, 2)]
        both = await browser.get("/console/outlets", params={"q": "site", "area": "gastown"})
        assert all(name.startswith("Site") for name in _names(both.text))
        assert "20 outlets" in both.text
        # LIKE wildcards are searched for, not obeyed; unknown areas and pages are ignored.
        assert "No outlet matches." in (await browser.get("/console/outlets?q=%25")).text
        odd = await browser.get("/console/outlets?area=nowhere&page=x")
        assert odd.status_code == 200
        assert "120 outlets" in odd.text


async def test_the_list_shows_open_now_and_stock_outs_and_renders_in_dari(
    sessions: Sessions,
) -> None:
    async with console_world(sessions) as cw, cw.client() as browser:
        world = cw.world
        alpha = await world.outlet("alpha", stock={"syr_1ml_29g": 0, "nalox_nasal": 3})
        closed = await world.outlet("beta", hours={"mon": ["09:00-09:01"]})
        csrf = await _signed_in(cw, browser, "coco")
        page = (await browser.get("/console/outlets")).text
        row = re.search(rf'<tr id="outlet-{alpha}"[^>]*>(.*?)</tr>', page, re.S)
        assert row is not None
        cells = re.findall(r"<td[^>]*>(.*?)</td>", row.group(1), re.S)
        assert cells[1:] == ["Strathcona", "Peer outlet", "yes", "open", "1", "1"]
        beta = re.search(rf'<tr id="outlet-{closed}"[^>]*>(.*?)</tr>', page, re.S)
        assert beta is not None
        assert "closed" in beta.group(1)

        done = await browser.post(
            "/console/language", data={"csrf": csrf, "locale": "fa_AF", "back": "/console/outlets"}
        )
        assert done.status_code == 303
        dari = (await browser.get("/console/outlets")).text
        assert '<html lang="fa-AF" dir="rtl">' in dari
        assert "محل‌ها" in dari  # "Outlets"
        one = await browser.get(f"/console/outlets/{alpha}")
        assert one.status_code == 200
        assert 'dir="rtl"' in one.text
        assert "Alpha table" in one.text


async def test_the_outlet_page_shows_details_stock_hours_closures_and_forecast(
    sessions: Sessions,
) -> None:
    async with console_world(sessions) as cw, cw.client() as browser:
        alpha = await cw.world.outlet("alpha", stock={"syr_1ml_29g": 20})
        await _signed_in(cw, browser, "coco")
        page = (await browser.get(f"/console/outlets/{alpha}")).text
        assert 'id="outlet-name">Alpha table<' in page
        assert "Ask for the alpha peer." in page
        assert 'id="quantity-syr_1ml_29g">20<' in page
        assert 'id="reserved-syr_1ml_29g">0<' in page
        assert 'id="threshold-syr_1ml_29g">5<' in page
        assert '<option value="nalox_nasal">' in page  # can be added
        for section in ("hours", "closures", "forecast"):
            assert f'<section id="{section}">' in page
        assert (await browser.get("/console/outlets/999999")).status_code == 404
        assert (await browser.get("/console/outlets/99999999999999")).status_code == 404


async def test_a_count_set_here_routes_the_next_request_elsewhere_and_tells_coordinators(
    sessions: Sessions,
) -> None:
    async with console_world(sessions) as cw, cw.client() as browser:
        world = cw.world
        alpha = await world.outlet("alpha", east_km=1)
        beta = await world.outlet("beta", east_km=3)
        await world.peer("pat", "alpha")
        await world.peer("bea", "beta")
        csrf = await _signed_in(cw, browser, "coco")

        before = await world.request("ana")
        assert before.result is RouteResult.OFFERED
        assert before.outlet_id == alpha

        syringes = world.items["syr_1ml_29g"]
        set_zero = await browser.post(
            f"/console/outlets/{alpha}/stock",
            data={"csrf": csrf, "item": "syr_1ml_29g", "quantity": "0", "low_threshold": "5"},
        )
        assert set_zero.status_code == 303
        assert set_zero.headers["location"] == f"/console/outlets/{alpha}?done=stock"
        assert (await _stock_rows(world, "alpha"))[syringes][:2] == (0, 0)
        lows = [r.text for r in world.chat.inbox("coco") if r.text.startswith("Low stock")]
        assert lows == ['Low stock at Alpha table: 1 ml syringe, 29G ½" fixed needle (0 left).']

        after = await world.request("ben")
        assert after.result is RouteResult.OFFERED
        assert after.outlet_id == beta

        # Restocked above the threshold: the low notice is armed again, and routing comes back.
        restock = await browser.post(
            f"/console/outlets/{alpha}/stock",
            data={"csrf": csrf, "item": "syr_1ml_29g", "quantity": "30", "low_threshold": "8"},
        )
        assert restock.status_code == 303
        assert (await _stock_rows(world, "alpha"))[syringes] == (30, 0, 8, False)
        again = await world.request("cam")
        assert again.outlet_id == alpha
        page = (await browser.get(restock.headers["location"])).text
        assert 'id="quantity-syr_1ml_29g">30<' in page
        assert "Saved." in page


async def test_a_restock_here_routes_held_requests_as_the_chat_does(sessions: Sessions) -> None:
    async with console_world(sessions) as cw, cw.client() as browser:
        world = cw.world
        alpha = await world.outlet("alpha", stock={"syr_1ml_29g": 1})  # two are asked for
        await world.outlet("next", east_km=3, stock={"syr_1ml_29g": 9})
        await world.peer("pat", "alpha")
        await world.peer("sam", "next", on_shift=False)
        csrf = await _signed_in(cw, browser, "coco")
        unrouted = await world.request("ana")
        assert unrouted.result is RouteResult.UNROUTED
        await world.chat.tap("ana", "Hold my request")
        assert await world.status(unrouted.request_id) == RequestStatus.WAITING
        await browser.post(
            f"/console/outlets/{alpha}/stock",
            data={"csrf": csrf, "item": "syr_1ml_29g", "quantity": "10", "low_threshold": "2"},
        )
        assert await world.status(unrouted.request_id) == RequestStatus.OFFERED
        assert world.chat.last("pat").text.startswith("New pickup request")
        assert world.chat.last("ana").text.startswith("Your held request")


async def test_items_are_added_and_withdrawn_unless_promised(sessions: Sessions) -> None:
    async with console_world(sessions) as cw, cw.client() as browser:
        world = cw.world
        alpha = await world.outlet("alpha", stock={"syr_1ml_29g": 20})
        await world.peer("pat", "alpha")
        csrf = await _signed_in(cw, browser, "coco")
        nalox = world.items["nalox_nasal"]
        added = await browser.post(
            f"/console/outlets/{alpha}/stock",
            data={"csrf": csrf, "item": "nalox_nasal", "quantity": "7", "low_threshold": "2"},
        )
        assert added.status_code == 303
        assert (await _stock_rows(world, "alpha"))[nalox] == (7, 0, 2, False)
        # Now it routes naloxone requests here.
        routed = await world.request("ana", {"nalox_nasal": 1})
        assert routed.outlet_id == alpha

        gone = await browser.post(
            f"/console/outlets/{alpha}/withdraw", data={"csrf": csrf, "item": "nalox_nasal"}
        )
        assert gone.status_code == 303
        assert nalox not in await _stock_rows(world, "alpha")
        none = await browser.post(
            f"/console/outlets/{alpha}/withdraw", data={"csrf": csrf, "item": "nalox_nasal"}
        )
        assert none.status_code == 422

        # An accepted request holds syringes: they cannot be withdrawn yet.
        offer = await world.request("ben", {"syr_1ml_29g": 2})
        await world.chat.tap("pat", "Accept")
        assert await world.status(offer.request_id) == RequestStatus.ACCEPTED
        held = await browser.post(
            f"/console/outlets/{alpha}/withdraw", data={"csrf": csrf, "item": "syr_1ml_29g"}
        )
        assert held.status_code == 409
        assert "2 packs are promised" in held.text
        assert (await _stock_rows(world, "alpha"))[world.items["syr_1ml_29g"]][:2] == (20, 2)


async def test_bad_input_is_refused_and_changes_nothing(sessions: Sessions) -> None:
    async with console_world(sessions) as cw, cw.client() as browser:
        world = cw.world
        alpha = await world.outlet("alpha", stock={"syr_1ml_29g": 20})
        csrf = await _signed_in(cw, browser, "coco")
        before = await _stock_rows(world, "alpha")
        for data in (
            {"item": "syr_1ml_29g", "quantity": "-1", "low_threshold": "5"},
            {"item": "syr_1ml_29g", "quantity": "ten", "low_threshold": "5"},
            {"item": "syr_1ml_29g", "quantity": "1.5", "low_threshold": "5"},
            {"item": "syr_1ml_29g", "quantity": "100001", "low_threshold": "5"},
            {"item": "syr_1ml_29g", "quantity": "3", "low_threshold": "-2"},
            {"item": "syr_1ml_29g", "low_threshold": "5"},
            {"item": "unicorn", "quantity": "3", "low_threshold": "5"},
            {"quantity": "3", "low_threshold": "5"},
        ):
            answer = await browser.post(
                f"/console/outlets/{alpha}/stock", data={"csrf": csrf, **data}
            )
            assert answer.status_code == 422, data
            assert 'id="error"' in answer.text
        assert await _stock_rows(world, "alpha") == before
        unknown = await browser.post(
            f"/console/outlets/{alpha}/withdraw", data={"csrf": csrf, "item": "unicorn"}
        )
        assert unknown.status_code == 422
        wrong = await browser.post(
            f"/console/outlets/{alpha}/active", data={"csrf": csrf, "active": "maybe"}
        )
        assert wrong.status_code == 422
        nowhere = await browser.post(
            "/console/outlets/999999/stock",
            data={"csrf": csrf, "item": "syr_1ml_29g", "quantity": "3", "low_threshold": "5"},
        )
        assert nowhere.status_code == 404
        assert await _stock_rows(world, "alpha") == before
        async with world.sessions() as session:
            audited = await session.scalar(
                select(AuditEvent.id).where(AuditEvent.action == "stock.set")
            )
        assert audited is None


async def test_a_forged_csrf_token_changes_nothing(sessions: Sessions) -> None:
    async with console_world(sessions) as cw, cw.client() as browser:
        alpha = await cw.world.outlet("alpha", stock={"syr_1ml_29g": 20})
        await _signed_in(cw, browser, "coco")
        before = await _stock_rows(cw.world, "alpha")
        forged = await browser.post(
            f"/console/outlets/{alpha}/stock",
            data={"csrf": "0" * 64, "item": "syr_1ml_29g", "quantity": "0", "low_threshold": "5"},
        )
        assert forged.status_code == 403
        assert await _stock_rows(cw.world, "alpha") == before


async def test_a_peer_sees_and_edits_only_their_own_outlet(sessions: Sessions) -> None:
    async with console_world(sessions) as cw, cw.client() as browser:
        world = cw.world
        alpha = await world.outlet("alpha", stock={"syr_1ml_29g": 20})
        beta = await world.outlet("beta", stock={"syr_1ml_29g": 20})
        await world.peer("pat", "alpha")
        csrf = await _signed_in(cw, browser, "pat")
        listed = (await browser.get("/console/outlets")).text
        assert _names(listed) == ["Alpha table"]
        assert "1 outlet" in listed
        assert (await browser.get(f"/console/outlets/{beta}")).status_code == 403
        before = await _stock_rows(world, "beta")
        refused = await browser.post(
            f"/console/outlets/{beta}/stock",
            data={"csrf": csrf, "item": "syr_1ml_29g", "quantity": "0", "low_threshold": "5"},
        )
        assert refused.status_code == 403
        withdrawn = await browser.post(
            f"/console/outlets/{beta}/withdraw", data={"csrf": csrf, "item": "syr_1ml_29g"}
        )
        assert withdrawn.status_code == 403
        assert await _stock_rows(world, "beta") == before

        own = await browser.get(f"/console/outlets/{alpha}")
        assert own.status_code == 200
        assert 'id="active-form"' not in own.text  # coordinators only
        done = await browser.post(
            f"/console/outlets/{alpha}/stock",
            data={"csrf": csrf, "item": "syr_1ml_29g", "quantity": "12", "low_threshold": "3"},
        )
        assert done.status_code == 303
        assert (await _stock_rows(world, "alpha"))[world.items["syr_1ml_29g"]][:3] == (12, 0, 3)
        deactivate = await browser.post(
            f"/console/outlets/{alpha}/active", data={"csrf": csrf, "active": "0"}
        )
        assert deactivate.status_code == 403
        async with world.sessions() as session:
            assert await session.scalar(select(Outlet.active).where(Outlet.id == alpha))
        # The chat's /stock shows what the console set: one system.
        assert "12" in texts(await world.chat.say("pat", "/stock"))


async def test_deactivating_moves_pending_offers_on_and_stops_routing(sessions: Sessions) -> None:
    async with console_world(sessions) as cw, cw.client() as browser:
        world = cw.world
        alpha = await world.outlet("alpha", east_km=1)
        beta = await world.outlet("beta", east_km=3)
        await world.peer("pat", "alpha")
        await world.peer("bea", "beta")
        csrf = await _signed_in(cw, browser, "coco")
        pending = await world.request("ana")
        assert pending.outlet_id == alpha

        off = await browser.post(
            f"/console/outlets/{alpha}/active", data={"csrf": csrf, "active": "0"}
        )
        assert off.status_code == 303
        async with world.sessions() as session:
            moved_to = await session.scalar(
                select(Request.current_outlet_id).where(Request.id == pending.request_id)
            )
        assert moved_to == beta
        assert any("Accept" in [o.label for o in r.options] for r in world.chat.inbox("bea"))
        assert (await world.request("ben")).outlet_id == beta
        page = (await browser.get(f"/console/outlets/{alpha}")).text
        assert "no: no requests come here" in page

        on = await browser.post(
            f"/console/outlets/{alpha}/active", data={"csrf": csrf, "active": "1"}
        )
        assert on.status_code == 303
        assert (await world.request("cam")).outlet_id == alpha
