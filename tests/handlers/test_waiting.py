"""The waiting list as transcripts: the unrouted answer's buttons, holding, and held requests
routed by a shift start, a restock and the clock, oldest first and exactly once."""

from __future__ import annotations

import asyncio
import time

import pytest
from sqlalchemy import func, select

from bot.db.models import DailyCount, Offer, Request
from handlers import waiting as held_requests
from handlers.due import run_due
from tests.handlers.peer_world import Sessions, World, make_world, offer_payload
from tests.support.chat import texts

BUTTONS = ["Hold my request", "Naloxone how-to", "Services open now", "Emergency"]


def labels(world: World, who: str) -> list[str]:
    return [o.label for o in world.chat.last(who).options]


async def held(world: World, who: str) -> str:
    """``who`` asks, nothing can take it, and they hold it; their answer's text."""
    outcome = await world.request(who)
    assert outcome.result.value == "unrouted"
    assert labels(world, who) == BUTTONS
    return texts(await world.chat.tap(who, "Hold my request"))


async def offers_in_order(world: World) -> list[str]:
    """References of every offer made, oldest first."""
    async with world.sessions() as session:
        rows = await session.scalars(
            select(Request.reference).join(Offer, Offer.request_id == Request.id).order_by(Offer.id)
        )
        return list(rows)


async def statuses(world: World) -> list[str]:
    async with world.sessions() as session:
        rows = await session.scalars(select(Request.status).order_by(Request.id))
        return [str(s) for s in rows]


async def test_unrouted_answer_offers_to_hold_until_a_peer_is_on_shift(sessions: Sessions) -> None:
    world = await make_world(sessions)
    await world.outlet("hub", name="Strathcona outlet")  # open all day, in stock
    await world.peer("pat", "hub", on_shift=False)
    await world.request("ana")
    told = world.chat.last("ana").text
    assert told.startswith("No peer outlet can take your request")
    assert "Strathcona outlet has what you asked for, but nobody is on shift there right now" in (
        told
    )
    assert "911" in told
    assert labels(world, "ana") == BUTTONS


async def test_earliest_opening_in_the_outlets_time_zone(sessions: Sessions) -> None:
    # 11:00 on a Wednesday in Vancouver: the outlet opens on Thursday at 10:00 there.
    world = await make_world(sessions)
    await world.outlet("hub", name="Strathcona outlet", hours="thu 10:00-12:00")
    await world.peer("pat", "hub")
    await world.request("ana")
    assert (
        "The earliest is Strathcona outlet, opening Thu 10:00. Hold your request until then?"
        in world.chat.last("ana").text
    )


async def test_no_hold_button_when_nothing_could_take_it_later(sessions: Sessions) -> None:
    world = await make_world(sessions)
    await world.outlet("far", east_km=80)  # out of reach
    await world.outlet("empty", stock={"swab": 5})  # never had the item
    await world.peer("pat", "far", on_shift=False)
    await world.request("ana")
    assert labels(world, "ana") == BUTTONS[1:]
    assert "Hold your request" not in world.chat.last("ana").text
    services = texts(await world.chat.tap("ana", "Services open now"))
    # Wednesday 11:00: the demo clinic is open and hands out naloxone kits.
    assert services.startswith("Services open now:")
    assert "Hastings Street Community Clinic (demo)" in services
    assert "naloxone kits" in services
    assert "Call 911" in texts(await world.chat.press("ana", "menu:emergency"))


async def test_held_requests_go_out_oldest_first_exactly_once_when_a_peer_comes_on_shift(
    sessions: Sessions,
) -> None:
    world = await make_world(sessions)
    await world.outlet("hub")
    await world.peer("pat", "hub", on_shift=False)
    assert "number 1 in line" in await held(world, "ana")
    world.clock.advance(minutes=1)
    assert "number 2 in line" in await held(world, "bo")
    assert await statuses(world) == ["waiting", "waiting"]
    assert await offers_in_order(world) == []
    ana, bo = (r.reference for r in await _requests(world))

    started = time.perf_counter()
    shift = await world.chat.say("pat", "/shift on")
    elapsed_ms = (time.perf_counter() - started) * 1000
    print(f"wait-to-route after /shift on: {elapsed_ms:.1f} ms, within the same update")

    assert "Held requests waiting near your outlet: 2" in texts(shift)
    # Both offers reached the peer with that very update, the older request first.
    new = [r.text for r in world.chat.inbox("pat") if r.text.startswith("New pickup request")]
    assert [ana in new[0], bo in new[1]] == [True, True]
    assert await offers_in_order(world) == [ana, bo]
    assert await statuses(world) == ["offered", "offered"]
    assert f"Your held request {ana} has gone to a peer" in world.chat.last("ana").text
    # Nothing routes them again: not the next tick, not another shift start.
    await run_due(world.engine)
    await world.chat.say("pat", "/shift on")
    assert await offers_in_order(world) == [ana, bo]


async def test_a_held_request_goes_out_when_the_outlet_opens_by_the_clock(
    sessions: Sessions,
) -> None:
    world = await make_world(sessions)
    await world.outlet("hub", hours="daily 14:00-18:00")  # closed at 11:00
    await world.peer("pat", "hub")  # on shift for 8 hours
    await held(world, "ana")
    report = await run_due(world.engine)
    assert report.held_offered == 0
    assert await statuses(world) == ["waiting"]
    world.clock.advance(hours=3)  # 14:00 in Vancouver
    report = await run_due(world.engine)
    assert report.held_offered == 1
    assert await statuses(world) == ["offered"]
    assert world.chat.last("pat").text.startswith("New pickup request")
    assert (await run_due(world.engine)).held_offered == 0
    assert len(await offers_in_order(world)) == 1


async def test_a_restock_routes_a_held_request(sessions: Sessions) -> None:
    world = await make_world(sessions)
    await world.outlet("hub", stock={"syr_1ml_29g": 1})  # one pack; two are asked for
    await world.outlet("next", east_km=3, stock={"syr_1ml_29g": 9})
    await world.peer("pat", "hub")
    await world.peer("sam", "next", on_shift=False)
    await held(world, "ana")
    await world.chat.say("pat", "/stock syr_1ml_29g 10")
    assert await statuses(world) == ["offered"]
    assert world.chat.last("pat").text.startswith("New pickup request")


async def test_status_and_cancel_while_waiting(sessions: Sessions) -> None:
    world = await make_world(sessions)
    await world.outlet("hub")
    await world.peer("pat", "hub", on_shift=False)
    await held(world, "ana")
    assert "On the waiting list, number 1 in line." in texts(await world.chat.say("ana", "/status"))
    await world.chat.say("ana", "/cancel")
    done = texts(await world.chat.tap("ana", "Yes, cancel it"))
    assert "is cancelled" in done
    assert await statuses(world) == ["cancelled"]
    await world.chat.say("pat", "/shift on")
    assert await offers_in_order(world) == []


async def test_a_waiting_request_expires_with_the_request_lifetime(sessions: Sessions) -> None:
    world = await make_world(sessions)
    await world.outlet("hub")
    await world.peer("pat", "hub", on_shift=False)
    await held(world, "ana")
    world.clock.advance(seconds=world.engine.deps.config.request_ttl.total_seconds() + 60)
    report = await run_due(world.engine)
    assert report.expired == 1
    assert await statuses(world) == ["expired"]
    assert "has expired" in world.chat.last("ana").text
    # The hold button no longer works once it is closed for good.
    again = texts(await world.chat.press("ana", f"wt:hold:{(await _requests(world))[0].id}"))
    assert "can no longer be held" in again


async def test_someone_elses_request_cannot_be_held(sessions: Sessions) -> None:
    world = await make_world(sessions)
    await world.outlet("hub")
    await world.peer("pat", "hub", on_shift=False)
    await world.request("ana")
    [request] = await _requests(world)
    assert "can no longer be held" in texts(await world.chat.press("eve", f"wt:hold:{request.id}"))
    assert "expired" in texts(await world.chat.press("eve", "wt:hold:x"))
    assert await statuses(world) == ["unrouted"]


async def test_coordinators_get_one_digest_when_waits_pile_up(sessions: Sessions) -> None:
    world = await make_world(sessions)
    await world.outlet("hub")
    await world.peer("pat", "hub", on_shift=False)
    for who in ("ana", "bo", "cy"):
        await held(world, who)
    before = len(world.chat.inbox("coco"))
    await run_due(world.engine)
    assert len(world.chat.inbox("coco")) == before  # not waited long enough yet
    world.clock.advance(minutes=31)
    assert (await run_due(world.engine)).digests == 1
    digest = world.chat.last("coco").text
    assert digest.startswith("Waiting list: 3 held requests have waited over 30 minutes")
    assert "Strathcona: 3" in digest
    world.clock.advance(minutes=10)
    assert (await run_due(world.engine)).digests == 0
    world.clock.advance(hours=1)
    assert (await run_due(world.engine)).digests == 1


async def test_held_requests_are_counted(sessions: Sessions) -> None:
    world = await make_world(sessions)
    await world.outlet("hub")
    await world.peer("pat", "hub", on_shift=False)
    await held(world, "ana")
    async with world.sessions() as session:
        rows = await session.execute(
            select(DailyCount.measure, func.sum(DailyCount.count)).group_by(DailyCount.measure)
        )
        counts = {row[0]: row[1] for row in rows}
    assert counts["requests.unrouted"] == 1
    assert counts["requests.held"] == 1
    # /stats counts each request once, by how it closed in the end: held is not closed.
    assert "Closed: 0 handed over, 0 unrouted, 0 cancelled, 0 expired; 1 open now" in texts(
        await world.chat.say("coco", "/stats")
    )
    await world.chat.say("ana", "/cancel")
    await world.chat.tap("ana", "Yes, cancel it")
    assert "Closed: 0 handed over, 0 unrouted, 1 cancelled, 0 expired; 0 open now" in texts(
        await world.chat.say("coco", "/stats")
    )


async def _requests(world: World) -> list[Request]:
    async with world.sessions() as session:
        return list(await session.scalars(select(Request).order_by(Request.id)))


async def test_a_declined_held_request_goes_back_on_the_waiting_list(sessions: Sessions) -> None:
    world = await make_world(sessions)
    await world.outlet("hub")
    await world.outlet("next", east_km=3)
    await world.peer("pat", "hub", on_shift=False)
    await world.peer("sam", "next", on_shift=False)
    await held(world, "ana")
    await world.chat.say("pat", "/shift on")
    offer = next(r for r in world.chat.inbox("pat") if r.text.startswith("New pickup request"))
    told = len(world.chat.inbox("ana"))
    await world.chat.press("pat", offer_payload(offer, "Decline"))
    assert await statuses(world) == ["waiting"]
    assert len(world.chat.inbox("ana")) == told  # no dead end: still held, nothing to say
    await world.chat.say("sam", "/shift on")
    assert await statuses(world) == ["offered"]
    assert world.chat.last("sam").text.startswith("New pickup request")
    # The outlet that declined is not asked again.
    await run_due(world.engine)
    assert len([r for r in world.chat.inbox("pat") if r.text.startswith("New pickup")]) == 1


async def test_two_ticks_at_once_route_a_held_request_once(sessions: Sessions) -> None:
    world = await make_world(sessions)
    await world.outlet("hub", hours="daily 14:00-18:00")
    await world.peer("pat", "hub")
    await held(world, "ana")
    await held(world, "bo")
    world.clock.advance(hours=3)
    reports = list(await asyncio.gather(run_due(world.engine), run_due(world.engine)))
    # SQLite lets one writer in at a time: a tick that found it busy tries again next time.
    reports.append(await run_due(world.engine))
    assert sum(r.held_offered for r in reports) == 2
    assert len(await offers_in_order(world)) == 2
    assert await statuses(world) == ["offered", "offered"]


async def test_held_requests_that_fit_nowhere_do_not_hide_younger_ones(
    sessions: Sessions, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(held_requests, "BATCH", 2)
    world = await make_world(sessions)
    await world.outlet("hub", stock={"syr_1ml_29g": 10, "nalox_nasal": 6})
    await world.outlet("later", east_km=5, stock={"swab": 10}, hours="daily 14:00-18:00")
    await world.peer("pat", "hub", on_shift=False)
    await world.peer("sam", "later")
    for who in ("ana", "bo"):  # syringes: only the hub has them, and nobody is on shift there
        await held(world, who)
    await world.request("cy", {"swab": 1})
    await world.chat.tap("cy", "Hold my request")
    world.clock.advance(hours=3)  # the swab outlet opens
    report = await run_due(world.engine)
    assert (report.held_seen, report.held_offered) == (3, 1)
    assert await statuses(world) == ["waiting", "waiting", "offered"]
