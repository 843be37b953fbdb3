"""Coordinator commands: invites, outlets at a glance, anonymous numbers; refusal for others."""

from __future__ import annotations

import re
from datetime import timedelta

from sqlalchemy import select

from bot.core.context import Config
from bot.db.models import AuditEvent
from bot.services import retention
from tests.handlers.peer_world import Sessions, make_world
from tests.support.chat import texts

REFUSAL = "This command is for coordinators."


async def test_others_are_refused_whatever_they_type(sessions: Sessions) -> None:
    world = await make_world(sessions)
    await world.outlet("alpha")
    await world.peer("pat", "alpha")
    for who in ("eve", "pat"):
        for command in (
            "/invite",
            "/invite peer alpha",
            "/invite coordinator",
            "/outlets",
            "/stats",
            "/stats 7",
        ):
            assert texts(await world.chat.say(who, command)) == REFUSAL


async def test_invite_peer_with_deep_link(sessions: Sessions) -> None:
    world = await make_world(sessions, config=Config(bot_username="hrbot_demo_bot"))
    await world.outlet("alpha")
    answer = texts(await world.chat.say("coco", "/invite peer alpha"))
    code = re.search(r"Code: (\S+)", answer)
    assert code is not None
    assert answer.startswith("Invite for a peer worker at Alpha table.")
    assert "Single use, valid until 2026-11-28 19:00 UTC" in answer
    assert f"https://t.me/hrbot_demo_bot?start={code.group(1)}" in answer
    assert f"/join {code.group(1)}" in answer
    assert "peer worker at Alpha table" in texts(
        await world.chat.say("pat", f"/join {code.group(1)}")
    )


async def test_invite_coordinator_and_usage(sessions: Sessions) -> None:
    world = await make_world(sessions)
    assert "Make a coordinator invite?" in texts(
        await world.chat.say("coco", "/invite coordinator")
    )
    answer = texts(await world.chat.tap("coco", "Yes, make it"))
    assert answer.startswith("Invite for a coordinator.")
    assert "t.me" not in answer  # no bot username known
    code = re.search(r"Code: (\S+)", answer)
    assert code is not None
    assert "You're now a coordinator" in texts(
        await world.chat.say("cora", f"/join {code.group(1)}")
    )
    assert "Last 30 days" in texts(await world.chat.say("cora", "/stats"))
    usage = "Use /invite peer OUTLET_KEY or /invite coordinator."
    for command in ("/invite", "/invite admin", "/invite peer", "/invite coordinator x"):
        assert texts(await world.chat.say("coco", command)) == usage
    assert texts(await world.chat.say("coco", "/invite peer nowhere")) == (
        "No outlet with that key. /outlets lists them."
    )


async def test_outlets_shows_places_and_counts_only(sessions: Sessions) -> None:
    world = await make_world(sessions)
    assert "No outlets yet" in texts(await world.chat.say("coco", "/outlets"))
    await world.outlet("alpha", stock={"syr_1ml_29g": 20, "nalox_nasal": 2}, low_threshold=3)
    await world.outlet("beta", hours={"daily": "closed"})
    await world.peer("pat", "alpha")
    await world.peer("sam", "alpha")
    await world.peer("bea", "beta", on_shift=False)
    lines = texts(await world.chat.say("coco", "/outlets")).splitlines()
    assert lines == [
        "alpha — Alpha table: open now, 2 on shift; low: nalox_nasal",
        "beta — Beta table: closed now, 0 on shift",
    ]


async def test_stats_after_some_requests(sessions: Sessions) -> None:
    world = await make_world(sessions)
    await world.outlet("alpha", east_km=1)
    await world.outlet("beta", east_km=2)
    await world.peer("pat", "alpha")
    await world.peer("bea", "beta")
    first = await world.request("ana", {"nalox_nasal": 2})
    await world.chat.tap("pat", "Decline")
    world.clock.advance(minutes=4)
    await world.chat.tap("bea", "Accept")
    code = re.search(r"code: ([0-9]{6})", world.chat.last("ana").text)
    assert code is not None
    await world.chat.tap("bea", "Handed over")
    await world.chat.say("bea", code.group(1))
    await world.request("bob", where=None)  # unrouted
    assert first.reference is not None

    lines = texts(await world.chat.say("coco", "/stats 7")).splitlines()
    assert lines == [
        "Last 7 days:",
        "Requests: 2 (equipment 2, naloxone 0, referral 0)",
        "Closed: 1 handed over, 1 unrouted, 0 cancelled, 0 expired; 0 open now",
        "Fulfilment: 50%",
        "Median time to accept: 4 min",
        "Naloxone kits handed out: 2",
        "Naloxone kits out: <5 (<5 through the bot, 0 recorded with /gave)",
        "Naloxone used (reported): 0; woke up 0, ambulance came 0, not known 0; "
        "new kit asked for 0",
        "Feedback after handover: 👍 0, 👎 0 (waited too long 0, not what was asked for 0, "
        "felt unsafe 0)",
        "alpha: offered 1, accepted 0, declined 1, timed out 0, released 0, handed over 0",
        "beta: offered 1, accepted 1, declined 0, timed out 0, released 0, handed over 1",
    ]
    # The retention purge takes the closed requests and their events: no number changes.
    world.clock.advance(hours=2)
    async with sessions.begin() as session:
        purged = await retention.purge(session, now=world.clock.now, retention=timedelta(hours=1))
    assert (purged.requests, purged.events) == (2, 0)
    async with sessions() as session:
        assert (await session.scalars(select(AuditEvent.subject))).all() == []
    assert texts(await world.chat.say("coco", "/stats 7")).splitlines() == lines
    for bad in ("/stats 0", "/stats x", "/stats 99999999999999", "/stats -3"):
        assert texts(await world.chat.say("coco", bad)) == "Use /stats or /stats DAYS (1 to 3650)."
    empty = texts(await world.chat.say("coco", "/stats 1"))
    assert "Fulfilment: 50%" in empty
    world.clock.advance(days=3)
    empty = texts(await world.chat.say("coco", "/stats 1"))
    assert "Fulfilment: no data" in empty
    assert "Median time to accept: no data" in empty
