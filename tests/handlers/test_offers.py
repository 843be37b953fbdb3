"""dispatch(): what peers, people and coordinators are sent when a request is routed."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import select

from bot.content import load_content
from bot.core.messages import MAX_PAYLOAD_BYTES
from bot.core.words import Words
from bot.db.models import Request
from bot.domain import RequestKind
from bot.services.requests import RouteResult
from handlers import offers
from tests.handlers.peer_world import HERE, Sessions, make_world
from tests.support.chat import Clock
from tests.support.engine import CONTENT_DIR

# Words that must never be on a lock screen (the first line of a notice).
DRUG_WORDS = ("syringe", "needle", "naloxone", "drug", "inject", "kit", "overdose")


async def test_offer_notice_is_discreet_and_complete(sessions: Sessions) -> None:
    world = await make_world(sessions)
    await world.outlet("alpha", east_km=3.4)
    await world.peer("pat", "alpha")
    await world.peer("sam", "alpha")
    await world.peer("off", "alpha", on_shift=False)

    outcome = await world.request("ana", {"nalox_nasal": 1})

    assert outcome.result is RouteResult.OFFERED
    for who in ("pat", "sam"):
        offer = world.chat.last(who)
        first, *rest = offer.text.splitlines()
        assert first == "New pickup request"
        assert not any(word in first.lower() for word in DRUG_WORDS)
        assert rest == [
            f"Reference: {outcome.reference}",
            "1 × Naloxone nasal spray 1.8 mg",
            "Distance: ~3 km",
            "Please answer by 11:15.",
        ]
        assert [o.label for o in offer.options] == ["Accept", "Decline"]
        assert [o.payload for o in offer.options] == [
            f"off:a:{outcome.offer_id}",
            f"off:d:{outcome.offer_id}",
        ]
        assert all(len(o.payload.encode()) <= MAX_PAYLOAD_BYTES for o in offer.options)
    assert not any("pickup request" in r.text for r in world.chat.inbox("off"))
    # The precise location was used for routing only; the row holds the coarse cell.
    async with sessions() as session:
        request = await session.get_one(Request, outcome.request_id)
    assert (request.cell_lat, request.cell_lon) != HERE
    assert request.cell_lat is not None
    assert abs(request.cell_lat - HERE[0]) <= 0.01


async def test_deadline_shows_the_date_when_not_today(sessions: Sessions) -> None:
    # 23:55 in Vancouver: the 15-minute deadline is tomorrow there.
    world = await make_world(sessions, clock=Clock(datetime(2026, 11, 26, 7, 55, tzinfo=UTC)))
    await world.outlet("alpha")
    await world.peer("pat", "alpha")
    await world.request("ana")
    assert "Please answer by 2026-11-26 00:10." in world.chat.last("pat").text


async def test_unrouted_without_location_uses_the_area(sessions: Sessions) -> None:
    world = await make_world(sessions)
    await world.coordinator("cora")
    outcome = await world.request("ana", where=None)
    assert outcome.result is RouteResult.UNROUTED
    told = world.chat.last("ana").text.splitlines()
    assert told[0] == f"No peer outlet can take your request {outcome.reference} right now."
    assert told[1] == "Fixed services open now:"
    assert len(told) == 2 + offers.FIXED_SERVICES_SHOWN + 1
    assert told[-1] == "In an emergency call 911."
    for coordinator in ("coco", "cora"):
        assert world.chat.last(coordinator).text == (
            f"Request {outcome.reference} (equipment, area Strathcona) could not be routed."
        )


async def test_unrouted_when_nobody_is_on_shift(sessions: Sessions) -> None:
    world = await make_world(sessions)
    await world.outlet("alpha")
    await world.peer("pat", "alpha", on_shift=False)
    outcome = await world.request("ana", kind=RequestKind.NALOXONE)
    assert outcome.result is RouteResult.UNROUTED
    assert "(naloxone, area Strathcona)" in world.chat.last("coco").text
    assert not any("pickup request" in r.text for r in world.chat.inbox("pat"))


async def test_dispatch_of_a_closed_request_sends_nothing(sessions: Sessions) -> None:
    world = await make_world(sessions)
    await world.outlet("alpha")
    await world.peer("pat", "alpha")
    outcome = await world.request("ana")
    before = len(world.chat.inbox("pat"))
    async with sessions.begin() as session:
        scope = world.engine.scope(session)
        again = await offers.dispatch(scope, request_id=outcome.request_id)
    assert again.result is RouteResult.SKIPPED
    assert scope.outbound == []
    assert len(world.chat.inbox("pat")) == before


def test_fixed_services_open_now_or_nearest() -> None:
    content = load_content(CONTENT_DIR)
    # Wednesday 11:00 in Vancouver: nearest to the Downtown Eastside first, open ones only.
    day = datetime(2026, 11, 25, 19, 0, tzinfo=UTC)
    found = offers.fixed_services(
        content, area_code="dtes", cell=(None, None), referral_type=None, now=day
    )
    assert found.open_now
    assert found.listed[0].code == "hastings_clinic"
    assert all(s.is_open(day) for s in found.listed)
    # Kit or naloxone: the drug-checking counter next door is no place to get them.
    assert "drug_checking" not in {s.type for s in found.listed}
    # 03:00: only the night shelter is open.
    night = datetime(2026, 11, 25, 11, 0, tzinfo=UTC)
    found = offers.fixed_services(
        content, area_code=None, cell=(49.28, -123.10), referral_type=None, now=night
    )
    assert [s.code for s in found.listed] == ["night_shelter"]
    # A referral prefers its own type; with none open, the nearest are listed anyway.
    found = offers.fixed_services(
        content, area_code="dtes", cell=(None, None), referral_type="ost", now=night
    )
    assert not found.open_now
    assert {s.type for s in found.listed} == {"ost"}


def test_words() -> None:
    content = load_content(CONTENT_DIR)
    t = Words().for_locale("en")
    assert offers.rough_distance(t, 0.4) == "under 1 km"
    assert offers.rough_distance(t, 2.6) == "~3 km"
    assert offers.kind_label(t, RequestKind.REFERRAL) == "referral"
    assert offers.emergency_number(content, "nowhere") == "911"
    assert offers.area_name(content, None) is None
    now = datetime(2026, 11, 25, 19, 0, tzinfo=UTC)
    assert offers.local_time(now, "Not/AZone", now) == "19:00"


async def test_pending_offers_lists_only_live_ones(sessions: Sessions) -> None:
    world = await make_world(sessions)
    alpha = await world.outlet("alpha")
    await world.peer("pat", "alpha")
    first = await world.request("ana")
    second = await world.request("bob")
    await world.chat.press("pat", f"off:a:{first.offer_id}")
    async with sessions() as session:
        live = await offers.pending_offers(session, outlet_ids={alpha}, now=world.clock.now)
        assert live == [second.offer_id]
        assert await offers.pending_offers(session, outlet_ids=set(), now=world.clock.now) == []
        reference = await session.scalar(
            select(Request.reference).where(Request.id == second.request_id)
        )
    assert reference == second.reference
