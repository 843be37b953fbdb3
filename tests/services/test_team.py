"""The team: listing roles by handle, removing them at once, revoking invites, minting limits."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.db.models import (
    AuditEvent,
    ConsoleLink,
    ConsoleSession,
    Contact,
    Coordinator,
    Invite,
    Offer,
    PeerWorker,
    Request,
)
from bot.domain import RequestKind, Role
from bot.privacy import derive_keys
from bot.services import console_access, invites, requests, shifts, team
from bot.services.requests import AcceptResult, RouteResult
from bot.services.team import CoordinatorRemoval
from tests.services.factories import LAT, LON, NOW, add_contact, add_item, add_outlet

Sessions = async_sessionmaker[AsyncSession]
KEY = derive_keys("t" * 40).codes
TIMEOUT = timedelta(minutes=10)
TTL = timedelta(hours=6)


async def _coordinator(session: AsyncSession) -> int:
    contact_id = await add_contact(session)
    coordinator = Coordinator(contact_id=contact_id, created_at=NOW)
    session.add(coordinator)
    await session.flush()
    return coordinator.id


async def _offered(sessions: Sessions, person: int, kit: int) -> tuple[int, int]:
    """A new request routed to the nearest outlet: (request id, offer id)."""
    async with sessions.begin() as session:
        request = await requests.create(
            session,
            contact_id=person,
            kind=RequestKind.EQUIPMENT,
            items={kit: 2},
            area_code="test",
            cell=(LAT, LON),
            ttl=TTL,
            now=NOW,
        )
        outcome = await requests.route(
            session, request_id=request.id, lat=LAT, lon=LON, offer_timeout=TIMEOUT, now=NOW
        )
    assert outcome.result is RouteResult.OFFERED
    assert outcome.offer_id is not None
    return request.id, outcome.offer_id


async def _offer_statuses(sessions: Sessions, request_id: int) -> list[tuple[int, str]]:
    async with sessions() as session:
        rows = await session.execute(
            select(Offer.outlet_id, Offer.status)
            .where(Offer.request_id == request_id)
            .order_by(Offer.id)
        )
        return [(row.outlet_id, str(row.status)) for row in rows]


async def test_members_are_handles_by_outlet_with_a_day(sessions: Sessions) -> None:
    async with sessions.begin() as session:
        coordinator = await _coordinator(session)
        near = await add_outlet(session, peers=2)
        far = await add_outlet(session, east_km=3, peers=1, on_shift=False)
        gone = await add_outlet(session, east_km=5, peers=1, peer_active=False)
        await session.execute(update(Contact).values(last_seen_on=NOW.replace(hour=0)))
        listed = await team.members(session, now=NOW)
    assert [(m.role, m.id) for m in listed] == [
        (Role.COORDINATOR, coordinator),
        *((Role.PEER, p) for p in sorted(near.peer_ids + far.peer_ids)),
    ]
    assert gone.peer_ids[0] not in {m.id for m in listed}
    assert {m.last_seen_on for m in listed} == {NOW.replace(hour=0)}
    assert [m.on_shift for m in listed if m.role is Role.PEER] == [True, True, False]


async def test_a_page_of_members_is_counted_and_cut_in_sql(sessions: Sessions) -> None:
    async with sessions.begin() as session:
        coordinator = await _coordinator(session)
        first = await add_outlet(session, peers=3)
        second = await add_outlet(session, east_km=3, peers=2)
        await add_outlet(session, east_km=5, peers=1, peer_active=False)
        everyone = [m.id for m in await team.members(session, now=NOW) if m.role is Role.PEER]
        pages = [
            await team.members_page(session, now=NOW, page=page, page_size=2) for page in (1, 2, 3)
        ]
        past_the_end = await team.members_page(session, now=NOW, page=9, page_size=2)
        only_second = await team.members_page(session, now=NOW, outlet_id=second.outlet_id)
    # Coordinators on every page; peers in the same order as the whole list, two at a time.
    assert all([m.id for m in p.coordinators] == [coordinator] for p in pages)
    assert [m.id for p in pages for m in p.peers] == everyone
    assert [len(p.peers) for p in pages] == [2, 2, 1]
    assert {(p.peer_total, p.pages) for p in pages} == {(5, 3)}
    assert (past_the_end.page, [m.id for m in past_the_end.peers]) == (3, everyone[4:])
    assert [m.id for m in only_second.peers] == sorted(second.peer_ids)
    assert (only_second.peer_total, only_second.pages) == (2, 1)
    assert first.peer_ids[0] not in {m.id for m in only_second.peers}


async def test_removing_a_peer_releases_their_pickups_and_lapses_their_offers(
    sessions: Sessions,
) -> None:
    async with sessions.begin() as session:
        kit = await add_item(session, "kit")
        person = await add_contact(session)
        near = await add_outlet(session, stock={kit: 10})
        far = await add_outlet(session, east_km=2, stock={kit: 10})
    (pat,) = near.peer_ids
    held, held_offer = await _offered(sessions, person, kit)
    async with sessions.begin() as session:
        accepted = await requests.accept(
            session, offer_id=held_offer, peer_worker_id=pat, codes_key=KEY, now=NOW
        )
    assert accepted.result is AcceptResult.ACCEPTED
    waiting, _ = await _offered(sessions, person, kit)  # pending at the near outlet

    later = NOW + timedelta(minutes=1)
    async with sessions.begin() as session:
        removal = await team.remove_peer(
            session, peer_worker_id=pat, actor="coordinator", now=later
        )
        assert removal is not None
        # Routed on, as a release and a timeout do: the next outlet gets both.
        for request_id in removal.reroute:
            routed = await requests.route(
                session, request_id=request_id, offer_timeout=TIMEOUT, now=later
            )
            assert routed.outlet_id == far.outlet_id
    assert [r.request_id for r in removal.released] == [held]
    assert removal.released[0].contact_id == person
    assert removal.lapsed == (waiting,)
    assert await _offer_statuses(sessions, held) == [
        (near.outlet_id, "released"),
        (far.outlet_id, "pending"),
    ]
    assert await _offer_statuses(sessions, waiting) == [
        (near.outlet_id, "timed_out"),
        (far.outlet_id, "pending"),
    ]
    async with sessions() as session:
        assert await session.get(PeerWorker, pat) is None
        assert await shifts.on_shift_peers(session, outlet_id=near.outlet_id, now=later) == []
        events = (
            await session.execute(
                select(AuditEvent.actor, AuditEvent.subject, AuditEvent.detail).where(
                    AuditEvent.action == "team.removed"
                )
            )
        ).all()
    assert [tuple(e) for e in events] == [("coordinator", None, {"role": "peer", "lost": False})]
    # Removed means removed: a second removal, an accept or a shift finds nobody.
    async with sessions.begin() as session:
        again = await team.remove_peer(session, peer_worker_id=pat, actor="coordinator", now=later)
        assert again is None
        assert await shifts.start_shift(session, peer_worker_id=pat, hours=1, now=later) is None


async def test_offers_stay_while_someone_else_is_on_shift(sessions: Sessions) -> None:
    async with sessions.begin() as session:
        kit = await add_item(session, "kit")
        person = await add_contact(session)
        outlet = await add_outlet(session, stock={kit: 10}, peers=2)
    _request_id, offer_id = await _offered(sessions, person, kit)
    async with sessions.begin() as session:
        removal = await team.remove_peer(
            session, peer_worker_id=outlet.peer_ids[0], actor="peer", lost=True, now=NOW
        )
    assert removal is not None
    assert removal.reroute == ()
    async with sessions.begin() as session:
        kept = await requests.accept(
            session, offer_id=offer_id, peer_worker_id=outlet.peer_ids[1], codes_key=KEY, now=NOW
        )
    assert kept.result is AcceptResult.ACCEPTED


async def test_the_last_coordinator_stays_and_a_removed_ones_invites_go(
    sessions: Sessions,
) -> None:
    async with sessions.begin() as session:
        first = await _coordinator(session)
        second = await _coordinator(session)
        for by in (first, second):
            await invites.create(
                session,
                codes_key=KEY,
                role=Role.COORDINATOR,
                ttl=TTL,
                created_by_id=by,
                now=NOW,
            )
    async with sessions.begin() as session:
        assert (
            await team.remove_coordinator(
                session, coordinator_id=second, actor="coordinator", now=NOW
            )
            is CoordinatorRemoval.REMOVED
        )
        assert (
            await team.remove_coordinator(
                session, coordinator_id=second, actor="coordinator", now=NOW
            )
            is CoordinatorRemoval.GONE
        )
        assert (
            await team.remove_coordinator(
                session, coordinator_id=first, actor="coordinator", now=NOW
            )
            is CoordinatorRemoval.LAST
        )
    async with sessions() as session:
        assert list(await session.scalars(select(Coordinator.id))) == [first]
        assert list(await session.scalars(select(Invite.created_by_id))) == [first]


async def test_two_coordinators_removing_each_other_leave_one(sessions: Sessions) -> None:
    async with sessions.begin() as session:
        ids = [await _coordinator(session), await _coordinator(session)]

    async def remove(target: int) -> CoordinatorRemoval:
        async with sessions.begin() as session:
            return await team.remove_coordinator(
                session, coordinator_id=target, actor="coordinator", now=NOW
            )

    results = await asyncio.gather(*(remove(i) for i in ids), return_exceptions=True)
    async with sessions() as session:
        left = await session.scalar(select(func.count()).select_from(Coordinator))
    assert left == 1, results
    assert sorted(str(r) for r in results if isinstance(r, CoordinatorRemoval)) in (
        ["last", "removed"],
        ["removed"],  # SQLite: the loser may fail on the lock instead; nothing changed
    )


async def test_open_invites_are_listed_and_revoked(sessions: Sessions) -> None:
    async with sessions.begin() as session:
        outlet = await add_outlet(session, peers=0)
        peer_code = await invites.create(
            session, codes_key=KEY, role=Role.PEER, ttl=TTL, outlet_id=outlet.outlet_id, now=NOW
        )
        for ttl in (TTL, timedelta(hours=1)):
            await invites.create(session, codes_key=KEY, role=Role.COORDINATOR, ttl=ttl, now=NOW)
        await invites.create(
            session, codes_key=KEY, role=Role.COORDINATOR, ttl=timedelta(minutes=1), now=NOW
        )
    later = NOW + timedelta(minutes=30)
    async with sessions.begin() as session:
        listed = await team.open_invites(session, now=later)
    assert [(i.role, i.outlet_name) for i in listed] == [
        (Role.COORDINATOR, None),
        (Role.PEER, "Test outlet"),
        (Role.COORDINATOR, None),
    ]
    assert [i.expires_hour for i in listed] == [
        NOW + timedelta(hours=1),
        NOW + TTL,
        NOW + TTL,
    ]
    async with sessions.begin() as session:
        assert await team.revoke(session, invite_id=listed[1].id, actor="coordinator", now=later)
        assert not await team.revoke(
            session, invite_id=listed[1].id, actor="coordinator", now=later
        )
    async with sessions.begin() as session:
        contact = await add_contact(session)
    async with sessions.begin() as session:
        try:
            await invites.redeem(
                session, codes_key=KEY, code=peer_code, contact_id=contact, now=later
            )
        except invites.InviteError:
            pass
        else:  # pragma: no cover - the assertion below names it
            raise AssertionError("a revoked invite still enrols")
    async with sessions.begin() as session:
        assert await team.revoke(session, invite_id=None, actor="cli", now=later) == 2
        assert await team.open_invites(session, now=later) == []
        # The expired one was never open: left for its own purge, not counted as revoked.
        assert await session.scalar(select(func.count()).select_from(Invite)) == 1


async def test_coordinators_mint_one_open_coordinator_invite_at_a_time(
    sessions: Sessions,
) -> None:
    async with sessions.begin() as session:
        coordinator = await _coordinator(session)

    async def mint() -> str | None:
        async with sessions.begin() as session:
            return await team.mint_coordinator_invite(
                session, codes_key=KEY, ttl=TTL, created_by_id=coordinator, now=NOW
            )

    first = await mint()
    assert first is not None
    assert await mint() is None
    async with sessions.begin() as session:
        assert await team.revoke(session, invite_id=None, actor="coordinator", now=NOW) == 1
    assert await mint() is not None
    # Minting at once still leaves one open.
    async with sessions.begin() as session:
        await team.revoke(session, invite_id=None, actor="coordinator", now=NOW)
    minted = await asyncio.gather(*(mint() for _ in range(4)), return_exceptions=True)
    async with sessions() as session:
        assert await team.open_coordinator_invites(session, now=NOW) == 1
    assert sum(isinstance(code, str) for code in minted) == 1


async def test_removing_an_unknown_or_inactive_peer_changes_nothing(sessions: Sessions) -> None:
    async with sessions.begin() as session:
        outlet = await add_outlet(session, peer_active=False)
        before = await session.scalar(select(func.count()).select_from(Request))
        for peer_id in (outlet.peer_ids[0], 999_999):
            assert (
                await team.remove_peer(session, peer_worker_id=peer_id, actor="cli", now=NOW)
                is None
            )
        assert await session.scalar(select(func.count()).select_from(Request)) == before
        assert await session.scalar(select(func.count()).select_from(AuditEvent)) == 0


async def test_an_accept_racing_the_removal_never_leaves_a_pickup_with_nobody(
    sessions: Sessions,
) -> None:
    """Either the accept loses (the offer moves on) or it is released with the removal."""
    for _ in range(4):
        async with sessions.begin() as session:
            kit = await add_item(session, f"kit{_}")
            person = await add_contact(session)
            outlet = await add_outlet(session, stock={kit: 10})
        (peer,) = outlet.peer_ids
        request_id, offer_id = await _offered(sessions, person, kit)

        async def accept(peer: int = peer, offer_id: int = offer_id) -> object:
            async with sessions.begin() as session:
                return await requests.accept(
                    session, offer_id=offer_id, peer_worker_id=peer, codes_key=KEY, now=NOW
                )

        async def remove(peer: int = peer) -> object:
            async with sessions.begin() as session:
                return await team.remove_peer(
                    session, peer_worker_id=peer, actor="coordinator", now=NOW
                )

        await asyncio.gather(accept(), remove(), return_exceptions=True)
        async with sessions() as session:
            status = await session.scalar(select(Request.status).where(Request.id == request_id))
            holders = list(
                await session.scalars(
                    select(Offer.accepted_by_id).where(
                        Offer.request_id == request_id, Offer.status == "accepted"
                    )
                )
            )
        if str(status) == "accepted":
            # Only if the removal failed as a whole: the peer is still there to hand over.
            assert holders == [peer]
            async with sessions() as session:
                assert await session.get(PeerWorker, peer) is not None


async def test_a_removed_members_console_sessions_and_links_end(sessions: Sessions) -> None:
    """Whoever removes them (chat, console, /lost, the CLI): the service ends their sessions."""
    async with sessions.begin() as session:
        keep = await _coordinator(session)
        gone = await _coordinator(session)
        (peer_id,) = (await add_outlet(session)).peer_ids
        peer_contact = await session.scalar(
            select(PeerWorker.contact_id).where(PeerWorker.id == peer_id)
        )
        assert peer_contact is not None
        contacts_: dict[int, int] = {}
        for cid in (keep, gone):
            found = await session.scalar(
                select(Coordinator.contact_id).where(Coordinator.id == cid)
            )
            assert found is not None
            contacts_[cid] = found
        for contact_id in (*contacts_.values(), peer_contact):
            link = await console_access.mint_link(
                session, contact_id=contact_id, locale=None, now=NOW
            )
            assert await console_access.redeem(session, token=link, now=NOW) is not None
            await console_access.mint_link(session, contact_id=contact_id, locale=None, now=NOW)

    async def left() -> dict[int, int]:
        async with sessions() as session:
            rows = await session.execute(
                select(ConsoleSession.contact_id, func.count()).group_by(ConsoleSession.contact_id)
            )
            links = await session.scalar(
                select(func.count()).select_from(ConsoleLink).where(ConsoleLink.used_at.is_(None))
            )
            return {**{row[0]: row[1] for row in rows}, -1: int(links or 0)}

    async with sessions.begin() as session:
        assert await team.remove_peer(session, peer_worker_id=peer_id, actor="cli", now=NOW)
        assert (
            await team.remove_coordinator(session, coordinator_id=gone, actor="cli", now=NOW)
            is CoordinatorRemoval.REMOVED
        )
    assert await left() == {contacts_[keep]: 1, -1: 1}
