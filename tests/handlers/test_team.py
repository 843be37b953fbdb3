"""The team as transcripts: /team by handle, removing staff at once, invites, /lost.

A removed member's old buttons ([Accept], [Handed over]), a code typed mid-handover and their
commands all change nothing and get one short answer.
"""

from __future__ import annotations

import re

from sqlalchemy import func, select

from bot.db.models import Coordinator, Invite, Offer, PeerWorker, Request
from bot.domain import OfferStatus
from tests.handlers.peer_world import Sessions, World, make_world, offer_payload
from tests.support.chat import texts

HANDLE = re.compile(r"Peer #(\d+) · Alpha table")


async def _alpha_and_beta(sessions: Sessions) -> World:
    """Coordinators coco and cora; pat at alpha (nearer), sam at beta; both on shift."""
    world = await make_world(sessions)
    await world.coordinator("cora")
    await world.outlet("alpha", east_km=1)
    await world.outlet("beta", east_km=3)
    await world.peer("pat", "alpha")
    await world.peer("sam", "beta")
    return world


async def _snapshot(sessions: Sessions) -> tuple[object, ...]:
    async with sessions() as session:
        requests_ = (
            await session.execute(
                select(Request.id, Request.status, Request.current_outlet_id).order_by(Request.id)
            )
        ).all()
        offers_ = (await session.execute(select(Offer.id, Offer.status).order_by(Offer.id))).all()
        peers = (await session.execute(select(PeerWorker.id, PeerWorker.on_shift))).all()
    return tuple(map(tuple, requests_)), tuple(map(tuple, offers_)), tuple(map(tuple, peers))


async def test_team_shows_handles_by_outlet_never_people(sessions: Sessions) -> None:
    world = await _alpha_and_beta(sessions)
    await world.chat.say("sam", "/shift off")
    shown = await world.chat.say("coco", "/team")
    text = texts(shown)
    assert text.splitlines() == [
        "Team: coordinators 2, peers 2 (page 1 of 1).",
        "Coordinators:",
        "  Coordinator #1 · you · last active today",
        "  Coordinator #2 · last active today",
        "Alpha table:",
        "  Peer #1 · Alpha table · on shift · last active today",
        "Beta table:",
        "  Peer #2 · Beta table · last active today",
    ]
    assert [o.label for o in shown[-1].options] == [
        "Remove Coordinator #1",
        "Remove Coordinator #2",
        "Remove Peer #1 · Alpha table",
        "Remove Peer #2 · Beta table",
        "Open invites",
    ]
    world.clock.advance(days=2)
    later = texts(await world.chat.say("cora", "/team"))
    assert "Coordinator #1 · last active 2026-11-25" in later
    assert "Coordinator #2 · you · last active today" in later
    # A peer learns their own handle, to give a coordinator if the phone is lost.
    assert "Your handle: Peer #1 · Alpha table." in texts(await world.chat.say("pat", "/team"))
    assert texts(await world.chat.say("eve", "/team")) == "This command is for coordinators."
    assert texts(await world.chat.press("eve", "tm:y:p:1")) == ("This command is for coordinators.")
    assert texts(await world.chat.press("pat", "tm:y:p:2")) == ("This command is for coordinators.")


async def test_team_pages_on_a_small_screen(sessions: Sessions) -> None:
    world = await make_world(sessions)
    await world.outlet("alpha")
    for n in range(10):
        await world.peer(f"peer{n}", "alpha", on_shift=False)
    first = await world.chat.say("coco", "/team")
    assert first[-1].text.startswith("Team: coordinators 1, peers 10 (page 1 of 2).")
    assert len(first[-1].options) == 8 + 2  # 8 members, More, Open invites
    second = await world.chat.tap("coco", "More ▶")
    assert second[-1].text.startswith("Team: coordinators 1, peers 10 (page 2 of 2).")
    assert "Peer #10 · Alpha table" in second[-1].text
    assert [o.label for o in second[-1].options][-2:] == ["◀ Back", "Open invites"]


async def test_removing_a_peer_is_at_once_and_their_buttons_stop(sessions: Sessions) -> None:
    world = await _alpha_and_beta(sessions)
    held = await world.request("ana")
    assert held.outlet_id == world.outlets["alpha"]
    await world.chat.tap("pat", "Accept")
    handed_over = offer_payload(world.chat.last("pat"), "Handed over")
    waiting = await world.request("bob")
    assert waiting.outlet_id == world.outlets["alpha"]
    stale_accept = offer_payload(world.chat.last("pat"), "Accept")
    # Pat is half-way through a handover when the phone is taken.
    await world.chat.press("pat", handed_over)
    sam_before = len(world.chat.inbox("sam"))

    (peer_id,) = HANDLE.findall(texts(await world.chat.say("coco", "/team")))
    asked = await world.chat.tap("coco", f"Remove Peer #{peer_id} · Alpha table")
    assert texts(asked).startswith(f"Remove Peer #{peer_id} · Alpha table? At once:")
    assert [o.label for o in asked[-1].options] == ["Yes, remove", "Keep"]
    done = await world.chat.tap("coco", "Yes, remove")
    assert texts(done) == (
        f"Removed Peer #{peer_id} · Alpha table. Pickups released: 1. Offers moved on: 1."
    )
    # The person whose pickup pat held is told, as on a release; both requests go to beta.
    assert "can't happen at Alpha table after all" in world.chat.last("ana").text
    offered = world.chat.inbox("sam")[sam_before:]
    assert [r.text.splitlines()[0] for r in offered] == ["New pickup request"] * 2
    assert {held.reference, waiting.reference} <= set(re.findall(r"[A-Z0-9]{6}", texts(offered)))
    assert world.chat.last("cora").text == (
        f"Coordinator #1 removed Peer #{peer_id} · Alpha table. Pickups released: 1. "
        "Offers moved on: 1."
    )
    assert await world.stock("alpha", "syr_1ml_29g") == (20, 0)  # the reservation went back

    # Everything pat still has in hand now does nothing.
    before = await _snapshot(sessions)
    inbox = len(world.chat.inbox("pat"))
    assert texts(await world.chat.say("pat", "123456")) == "This pickup is no longer open."
    assert texts(await world.chat.press("pat", stale_accept)) == (
        "This offer is not for your outlet."
    )
    assert texts(await world.chat.press("pat", handed_over)) == "This pickup is no longer open."
    for command in ("/shift", "/shift on", "/offers"):
        assert texts(await world.chat.say("pat", command)) == "This command is for peer workers."
    assert texts(await world.chat.say("pat", "/stock")) == "This command is for peer workers."
    assert texts(await world.chat.press("pat", "shf:on")) == "This command is for peer workers."
    assert await _snapshot(sessions) == before
    assert len(world.chat.inbox("pat")) == inbox + 8  # one short answer each, nothing else
    assert texts(await world.chat.press("coco", f"tm:y:p:{peer_id}")) == (
        "Already removed: nothing changed."
    )


async def test_coordinators_remove_each_other_but_never_the_last(sessions: Sessions) -> None:
    world = await make_world(sessions)
    await world.coordinator("cora")
    await world.chat.say("coco", "/team")
    await world.chat.tap("coco", "Remove Coordinator #2")
    assert texts(await world.chat.tap("coco", "Yes, remove")) == "Removed Coordinator #2."
    # The removed member is not told: their phone may be in other hands.
    assert "removed" not in texts(world.chat.inbox("cora"))
    for command in (
        "/stats",
        "/team",
        "/invite peer alpha",
        "/invite coordinator",
        "/outlets",
        "/broadcast",
        "/reports",
        "/scheduled",
    ):
        assert texts(await world.chat.say("cora", command)) == "This command is for coordinators."
    assert texts(await world.chat.say("cora", "/stock")) == "This command is for peer workers."
    assert texts(await world.chat.press("cora", "tm:ic")) == "This command is for coordinators."
    assert texts(await world.chat.press("cora", "tm:i")) == "This command is for coordinators."

    # Alone now: removing yourself asks plainly, and the service keeps its last coordinator.
    await world.chat.say("coco", "/team")
    asked = await world.chat.tap("coco", "Remove Coordinator #1")
    assert texts(asked).startswith("This is you. Remove your own coordinator role?")
    kept = await world.chat.tap("coco", "Yes, remove me")
    assert "is the only coordinator, so the role stays" in texts(kept)
    assert "Last 30 days" in texts(await world.chat.say("coco", "/stats"))


async def test_removing_yourself_when_another_remains(sessions: Sessions) -> None:
    world = await make_world(sessions)
    await world.coordinator("cora")
    await world.chat.say("cora", "/team")
    await world.chat.tap("cora", "Remove Coordinator #2")
    assert texts(await world.chat.tap("cora", "Yes, remove me")) == "Removed Coordinator #2."
    assert texts(await world.chat.say("cora", "/stats")) == "This command is for coordinators."
    async with sessions() as session:
        assert list(await session.scalars(select(Coordinator.id))) == [1]


async def test_coordinator_invites_are_confirmed_capped_and_announced(
    sessions: Sessions,
) -> None:
    world = await make_world(sessions)
    await world.coordinator("cora")
    asked = await world.chat.say("coco", "/invite coordinator")
    assert "Make a coordinator invite?" in texts(asked)
    assert texts(await world.chat.tap("coco", "Cancel")) == "OK, nothing changed."
    async with sessions() as session:
        open_ = select(func.count()).select_from(Invite).where(Invite.used_at.is_(None))
        assert await session.scalar(open_) == 0

    await world.chat.say("coco", "/invite coordinator")
    made = texts(await world.chat.tap("coco", "Yes, make it"))
    assert made.startswith("Invite for a coordinator.")
    assert world.chat.last("cora").text == (
        "Coordinator #1 made a coordinator invite, valid until 2026-11-28 19:00 UTC. If that "
        "was not agreed, revoke it: /team, Open invites."
    )
    await world.chat.say("cora", "/invite coordinator")
    assert "already open" in texts(await world.chat.tap("cora", "Yes, make it"))
    code = re.search(r"Code: (\S+)", made)
    assert code is not None
    assert "You're now a coordinator" in texts(
        await world.chat.say("cleo", f"/join {code.group(1)}")
    )
    # Used: the next one may be made.
    await world.chat.say("cora", "/invite coordinator")
    assert "Invite for a coordinator." in texts(await world.chat.tap("cora", "Yes, make it"))


async def test_open_invites_are_listed_and_revoked(sessions: Sessions) -> None:
    world = await make_world(sessions)
    await world.outlet("alpha")
    first = await world.invite_code("coco", "alpha")
    second = await world.invite_code("coco", "alpha")
    await world.chat.say("coco", "/team")
    listed = await world.chat.tap("coco", "Open invites")
    assert texts(listed).splitlines() == [
        "Open invites (unused):",
        "Invite #2: peer at Alpha table, until about 2026-11-28 19:00 UTC",
        "Invite #3: peer at Alpha table, until about 2026-11-28 19:00 UTC",
    ]
    assert texts(await world.chat.tap("coco", "Revoke #2")) == (
        "Invites revoked: 1. Their codes no longer work."
    )
    assert "not valid" in texts(await world.chat.say("pat", f"/join {first}"))
    await world.chat.press("coco", "tm:i")
    await world.chat.tap("coco", "Revoke all")
    assert texts(await world.chat.tap("coco", "Yes, revoke all")) == (
        "Invites revoked: 1. Their codes no longer work."
    )
    assert "not valid" in texts(await world.chat.say("pat", f"/join {second}"))
    assert texts(await world.chat.press("coco", "tm:i")) == "No open invites."
    assert texts(await world.chat.press("coco", "tm:x:2")) == (
        "No such open invite: nothing changed."
    )


async def test_lost_phone_removes_its_roles_and_tells_coordinators(sessions: Sessions) -> None:
    world = await make_world(sessions)
    await world.outlet("alpha")
    await world.peer("pat", "alpha")
    request = await world.request("ana")
    assert texts(await world.chat.say("eve", "/lost")) == (
        "This is for peer workers and coordinators."
    )
    asked = await world.chat.say("pat", "/lost")
    assert "lost or taken" in texts(asked)
    assert texts(await world.chat.tap("pat", "Yes, remove my roles")) == (
        "Done: this phone no longer holds those roles."
    )
    assert world.chat.last("coco").text == (
        "Peer #1 · Alpha table reported a lost phone and was removed. Pickups released: 0. "
        "Offers moved on: 1."
    )
    # Nobody else at alpha: the offer moved on (here, to nobody: fixed services instead).
    assert await world.status(request.request_id) == "unrouted"
    assert texts(await world.chat.say("pat", "/shift")) == "This command is for peer workers."
    assert texts(await world.chat.press("pat", "tm:ly")) == (
        "This is for peer workers and coordinators."
    )
    async with sessions() as session:
        assert await session.scalar(select(func.count()).select_from(PeerWorker)) == 0
        statuses = list(await session.scalars(select(Offer.status)))
    assert statuses == [OfferStatus.TIMED_OUT]


async def test_the_last_coordinators_lost_phone_keeps_the_role(sessions: Sessions) -> None:
    world = await make_world(sessions)
    await world.chat.say("coco", "/lost")
    kept = texts(await world.chat.tap("coco", "Yes, remove my roles"))
    assert kept.startswith("You are the only coordinator, so that role stays")
    await world.coordinator("cora")
    await world.chat.say("coco", "/lost")
    assert texts(await world.chat.tap("coco", "Yes, remove my roles")) == (
        "Done: this phone no longer holds those roles."
    )
    assert world.chat.last("cora").text.startswith(
        "Coordinator #1 reported a lost phone and was removed."
    )
    assert texts(await world.chat.say("coco", "/stats")) == "This command is for coordinators."
