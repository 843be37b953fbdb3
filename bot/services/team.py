"""The team: who holds a staff role, removing a role at once, and the invites still open.

A role is removed by deleting its row, not by marking it inactive: a removed peer or
coordinator then leaves nothing in the database that ties their contact to an outlet or to the
service, and every check that looks for an active peer row or a coordinator row (the engine,
every request transition, every coordinator command) refuses them from the next update on.
Invites are revoked the same way: the row goes.

Removing either role also ends the member's console sessions and unused sign-in links
(:func:`bot.services.console_access.sign_out_everywhere`), whoever removes them (chat, console,
``/lost`` or the CLI).

Removing a peer worker ends their shift with the row, releases every pickup they accepted and
did not hand over (the person is told by the caller, as on a release), and, when nobody else
at the outlet is on shift, times out the outlet's pending offers at once so they cascade to
the next outlet (:func:`bot.services.requests.lapse_pending`). The caller routes the requests
this returns. A coordinator cannot remove the last coordinator: the service always keeps one.

Coordinator invites are few: at most :data:`MAX_OPEN_COORDINATOR_INVITES` open at a time from
the chat (the CLI, the operator's tool, is not limited), and a coordinator's open invites go
with them when they are removed. A phone that was seized can then mint one more coordinator at
most, and every coordinator hears of it (see handlers/staff.py).

Audit rows name roles only: who acted (coordinator, peer, cli) and which role was removed.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from sqlalchemy import ColumnElement, Row, Select, delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.db.models import Contact, Coordinator, Invite, Offer, Outlet, PeerWorker, Request
from bot.domain import OfferStatus, RequestStatus, Role
from bot.privacy import hour_of
from bot.services import audit, console_access, invites, requests, shifts
from bot.services.requests import AnswerResult

MAX_OPEN_COORDINATOR_INVITES = 1
PAGE_SIZE = 50  # peers per page of the console's Team page


@dataclass(frozen=True, slots=True)
class Member:
    """One staff role as coordinators see it: a handle, never a person.

    ``id`` is the peer worker or coordinator row id (the handle's number); ``last_seen_on``
    is the day the contact last wrote, never a time.
    """

    role: Role
    id: int
    outlet_id: int | None
    outlet_name: str | None
    last_seen_on: datetime | None
    on_shift: bool = False


@dataclass(frozen=True, slots=True)
class TeamPage:
    """Every coordinator (they are few) and one page of peer workers."""

    coordinators: list[Member]
    peers: list[Member]
    peer_total: int  # active peers matching the filter, on every page
    page: int
    pages: int


@dataclass(frozen=True, slots=True)
class Released:
    """A pickup the removed peer had accepted: the person must hear it moves on."""

    request_id: int
    reference: str
    contact_id: int


@dataclass(frozen=True, slots=True)
class PeerRemoval:
    """What removing a peer worker did; ``reroute`` lists the requests to route again."""

    outlet_id: int
    outlet_name: str
    released: tuple[Released, ...] = ()
    lapsed: tuple[int, ...] = ()

    @property
    def reroute(self) -> tuple[int, ...]:
        return tuple(r.request_id for r in self.released) + self.lapsed


class CoordinatorRemoval(StrEnum):
    REMOVED = "removed"
    LAST = "last"  # the only coordinator left: kept
    GONE = "gone"  # no such coordinator (already removed, or a forged id)


@dataclass(frozen=True, slots=True)
class OpenInvite:
    """An invite nobody has used yet; ``expires_hour`` is its expiry cut to the hour."""

    id: int
    role: Role
    outlet_name: str | None
    expires_hour: datetime


# --- who ---------------------------------------------------------------------------------------


async def members(session: AsyncSession, *, now: datetime) -> list[Member]:
    """Every coordinator (by id), then every peer worker by outlet name and id."""
    found = await _coordinators(session)
    rows = await session.execute(_peers(now).where(PeerWorker.active.is_(True)))
    return found + [_peer(row) for row in rows]


def _peers(now: datetime) -> Select[int, int, str, datetime | None, bool]:
    """Peer workers with their outlet, last active day and shift, by outlet name and id."""
    return (
        select(
            PeerWorker.id,
            PeerWorker.outlet_id,
            Outlet.name,
            Contact.last_seen_on,
            shifts.on_shift_clause(now).label("on_shift"),
        )
        .join(Outlet, Outlet.id == PeerWorker.outlet_id)
        .join(Contact, Contact.id == PeerWorker.contact_id)
        .order_by(Outlet.name, Outlet.id, PeerWorker.id)
    )


def _peer(row: Row[int, int, str, datetime | None, bool]) -> Member:
    return Member(Role.PEER, row.id, row.outlet_id, row.name, row.last_seen_on, bool(row.on_shift))


async def _coordinators(session: AsyncSession) -> list[Member]:
    rows = await session.execute(
        select(Coordinator.id, Contact.last_seen_on)
        .join(Contact, Contact.id == Coordinator.contact_id)
        .order_by(Coordinator.id)
    )
    return [Member(Role.COORDINATOR, row.id, None, None, row.last_seen_on) for row in rows]


async def members_page(
    session: AsyncSession,
    *,
    now: datetime,
    outlet_id: int | None = None,
    page: int = 1,
    page_size: int = PAGE_SIZE,
) -> TeamPage:
    """Every coordinator, and page ``page`` (from 1) of the active peer workers by outlet name
    and id, only those of ``outlet_id`` when given. Counted and cut in SQL: a network of a
    thousand outlets has well over a thousand peers."""
    page = max(page, 1)
    where: list[ColumnElement[bool]] = [PeerWorker.active.is_(True)]
    if outlet_id is not None:
        where.append(PeerWorker.outlet_id == outlet_id)
    total = int(
        await session.scalar(select(func.count()).select_from(PeerWorker).where(*where)) or 0
    )
    pages = max(1, -(-total // page_size))
    page = min(page, pages)
    rows = await session.execute(
        _peers(now).where(*where).limit(page_size).offset((page - 1) * page_size)
    )
    peers = [_peer(row) for row in rows]
    return TeamPage(await _coordinators(session), peers, total, page, pages)


async def member(session: AsyncSession, *, role: Role, member_id: int) -> Member | None:
    """One current member, or None (removed, or a forged id)."""
    if role is Role.COORDINATOR:
        row = (
            await session.execute(
                select(Coordinator.id, Contact.last_seen_on)
                .join(Contact, Contact.id == Coordinator.contact_id)
                .where(Coordinator.id == member_id)
            )
        ).first()
        return None if row is None else Member(Role.COORDINATOR, row.id, None, None, None)
    peer = (
        await session.execute(
            select(PeerWorker.id, PeerWorker.outlet_id, Outlet.name)
            .join(Outlet, Outlet.id == PeerWorker.outlet_id)
            .where(PeerWorker.id == member_id, PeerWorker.active.is_(True))
        )
    ).first()
    return None if peer is None else Member(Role.PEER, peer.id, peer.outlet_id, peer.name, None)


# --- removing ----------------------------------------------------------------------------------


async def remove_peer(
    session: AsyncSession, *, peer_worker_id: int, actor: str, lost: bool = False, now: datetime
) -> PeerRemoval | None:
    """Remove a peer worker at once; None when there is no such active peer.

    Their accepted pickups are released while the row still exists (a release is any active
    peer of the outlet's to make), then the row goes, then the outlet's pending offers lapse
    if nobody there is left on shift.
    """
    peer = (
        await session.execute(
            select(PeerWorker.outlet_id, PeerWorker.contact_id, Outlet.name)
            .join(Outlet, Outlet.id == PeerWorker.outlet_id)
            .where(PeerWorker.id == peer_worker_id, PeerWorker.active.is_(True))
            # Locked (PostgreSQL): an accept by this peer that is under way commits first
            # (its offer refers to the row), so the pickups read below include it; a later
            # one waits, then finds the row gone.
            .with_for_update(of=PeerWorker)
        )
    ).first()
    if peer is None:
        return None
    held = await session.execute(
        select(Request.id, Request.contact_id)
        .join(Offer, Offer.request_id == Request.id)
        .where(
            Offer.accepted_by_id == peer_worker_id,
            Offer.status == OfferStatus.ACCEPTED,
            Request.status == RequestStatus.ACCEPTED,
        )
        .order_by(Request.id)
    )
    released: list[Released] = []
    for row in held.all():
        outcome = await requests.release(
            session, request_id=row.id, peer_worker_id=peer_worker_id, now=now
        )
        if outcome.result is AnswerResult.DONE and outcome.reference is not None:
            released.append(Released(row.id, outcome.reference, row.contact_id))
    gone = await session.scalar(
        delete(PeerWorker).where(PeerWorker.id == peer_worker_id).returning(PeerWorker.id)
    )
    if gone is None:  # pragma: no cover - removed by someone else in between
        return None
    await console_access.sign_out_everywhere(session, contact_id=peer.contact_id)
    lapsed: list[int] = []
    if not await shifts.on_shift_peers(session, outlet_id=peer.outlet_id, now=now):
        lapsed = await requests.lapse_pending(session, outlet_id=peer.outlet_id, now=now)
    await _audit_removed(session, actor=actor, role=Role.PEER, lost=lost, now=now)
    return PeerRemoval(
        outlet_id=peer.outlet_id,
        outlet_name=peer.name,
        released=tuple(released),
        lapsed=tuple(lapsed),
    )


async def remove_coordinator(
    session: AsyncSession, *, coordinator_id: int, actor: str, lost: bool = False, now: datetime
) -> CoordinatorRemoval:
    """Remove a coordinator at once, with the invites they made that nobody used yet.

    Never the last one. Every coordinator row is locked first (PostgreSQL), so two
    coordinators removing each other at once cannot leave none; SQLite writes one at a time.
    """
    ids = list(await session.scalars(_lock_coordinators()))
    if coordinator_id not in ids:
        return CoordinatorRemoval.GONE
    if len(ids) <= 1:
        return CoordinatorRemoval.LAST
    await session.execute(
        delete(Invite).where(Invite.created_by_id == coordinator_id, Invite.used_at.is_(None))
    )
    contact_id = await session.scalar(
        delete(Coordinator)
        .where(Coordinator.id == coordinator_id)
        .returning(Coordinator.contact_id)
    )
    if contact_id is not None:
        await console_access.sign_out_everywhere(session, contact_id=contact_id)
    await _audit_removed(session, actor=actor, role=Role.COORDINATOR, lost=lost, now=now)
    return CoordinatorRemoval.REMOVED


async def _audit_removed(
    session: AsyncSession, *, actor: str, role: Role, lost: bool, now: datetime
) -> None:
    await audit.record(
        session,
        actor=actor,
        action="team.removed",
        detail={"role": role.value, "lost": lost},
        now=now,
    )


def _lock_coordinators() -> Select[int]:
    """Every coordinator id, locked (``FOR UPDATE`` on PostgreSQL, dropped on SQLite)."""
    return select(Coordinator.id).order_by(Coordinator.id).with_for_update()


# --- invites -----------------------------------------------------------------------------------


async def open_invites(session: AsyncSession, *, now: datetime) -> list[OpenInvite]:
    """Invites not used and not expired, soonest expiry first."""
    rows = await session.execute(
        select(Invite.id, Invite.role, Invite.expires_at, Outlet.name)
        .outerjoin(Outlet, Outlet.id == Invite.outlet_id)
        .where(Invite.used_at.is_(None), Invite.expires_at > now)
        .order_by(Invite.expires_at, Invite.id)
    )
    return [OpenInvite(row.id, Role(row.role), row.name, hour_of(row.expires_at)) for row in rows]


async def revoke(session: AsyncSession, *, invite_id: int | None, actor: str, now: datetime) -> int:
    """Revoke one open invite (``invite_id``) or every open one (None); how many went."""
    statement = delete(Invite).where(Invite.used_at.is_(None), Invite.expires_at > now)
    if invite_id is not None:
        statement = statement.where(Invite.id == invite_id)
    gone = len((await session.execute(statement.returning(Invite.id))).all())
    if gone:
        await audit.record(
            session, actor=actor, action="invite.revoked", detail={"count": gone}, now=now
        )
    return gone


async def open_coordinator_invites(session: AsyncSession, *, now: datetime) -> int:
    """How many coordinator invites are open now."""
    count = await session.scalar(
        select(func.count())
        .select_from(Invite)
        .where(
            Invite.role == Role.COORDINATOR,
            Invite.used_at.is_(None),
            Invite.expires_at > now,
        )
    )
    return int(count or 0)


async def mint_coordinator_invite(
    session: AsyncSession,
    *,
    codes_key: bytes,
    ttl: timedelta,
    created_by_id: int,
    now: datetime,
) -> str | None:
    """A coordinator invite made in the chat; None while :data:`MAX_OPEN_COORDINATOR_INVITES`
    are open (revoke one, or wait for it to be used or to expire).

    The coordinator rows are locked first, so two coordinators minting at once on PostgreSQL
    count one after the other (SQLite writes one at a time anyway).
    """
    await session.execute(_lock_coordinators())
    if await open_coordinator_invites(session, now=now) >= MAX_OPEN_COORDINATOR_INVITES:
        return None
    code = await invites.create(
        session,
        codes_key=codes_key,
        role=Role.COORDINATOR,
        ttl=ttl,
        created_by_id=created_by_id,
        now=now,
    )
    await audit.record(
        session,
        actor="coordinator",
        action="invite.created",
        detail={"role": "coordinator"},
        now=now,
    )
    return code


async def outlet_choices(session: AsyncSession) -> list[tuple[int, str]]:
    """(id, name) of every outlet a peer invite may be for, by name."""
    rows = await session.execute(select(Outlet.id, Outlet.name).order_by(Outlet.name, Outlet.id))
    return [(row.id, row.name) for row in rows]


async def mint_peer_invite(
    session: AsyncSession,
    *,
    codes_key: bytes,
    ttl: timedelta,
    outlet_id: int,
    created_by_id: int | None,
    now: datetime,
) -> str | None:
    """A peer invite for an outlet, as chat's ``/invite peer`` makes; None: no such outlet."""
    if await session.scalar(select(Outlet.id).where(Outlet.id == outlet_id)) is None:
        return None
    return await invites.create(
        session,
        codes_key=codes_key,
        role=Role.PEER,
        ttl=ttl,
        outlet_id=outlet_id,
        created_by_id=created_by_id,
        now=now,
    )
