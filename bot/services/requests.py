"""The request state machine: create, route, accept, decline, time out, release, hand over.

::

    new → offered → accepted → handed_over
            │  ↑ (decline / timeout / out of stock / release → new → route again)
            ├──┘
            └→ unrouted (no outlet left) → waiting (the person holds it; see services/waiting.py)
                                              └→ offered (something can take it now)
    any open state → cancelled (by the person) | expired

Every transition is one conditional ``UPDATE ... WHERE id = :id AND status = :expected ...
RETURNING``: of two peers tapping Accept at once exactly one gets a row back. The caller owns
the transaction and commits; ``now`` is always passed in so tests control the clock.

Lock order. Every transition first updates the *request* row, then its offers, then stock rows
(ascending item id). On PostgreSQL that makes concurrent transitions queue on the request row
instead of deadlocking; on SQLite, starting with a write takes the database's write lock before
anything is read inside the transaction, which avoids "database is locked" on upgrade.

After decline, timeout, an accept that finds the stock gone, or release, the request is back in
``new`` and the caller calls :func:`route` again; outlets that already had an offer for the
request are never offered it twice. The first attempt may route from a point the caller
holds (a chosen area's centre; a shared location arrives already snapped to the stored cell);
later attempts use the stored coarse cell.

A request that took :data:`MAX_CODE_TRIES` wrong pickup codes is frozen: it stays
``accepted`` (the person can still cancel, it expires as usual) but no code hands it over.

Audit events name the actor's role, the request reference and kind/outlet/attempt: never a
contact, peer worker, code or location.

Times. While a request is open its deadlines are exact by need, and ``expires_at`` is its
creation time plus the lifetime anyway, so ``created_at`` stays exact too (the time to accept is
measured from it). A closed row is kept for the retention period, where an exact time would match
the platform's record of the update that wrote it: closing cuts every time of the request and its
offers to the hour (:func:`_settle`).
"""

from __future__ import annotations

import json
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from sqlalchemy import Row, case, exists, func, insert, select, true, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from bot.db.models import AuditEvent, Offer, PeerWorker, Request, RequestItem
from bot.domain import OPEN_REQUEST_STATUSES, OfferStatus, RequestKind, RequestStatus
from bot.privacy import (
    AddressBox,
    AddressUnreadable,
    hash_code,
    hour_of,
    new_pickup_code,
    new_reference,
    snap,
    verify_code,
)
from bot.services import audit, routing, shifts, stock
from bot.services.stock import LowStock

PICKUP_PURPOSE = "pickup"
# Wrong pickup codes a request takes, over all taps of [Handed over]; then it is frozen. With
# 6-digit codes, 5 guesses succeed once in 200,000 requests.
MAX_CODE_TRIES = 5
_REFERENCE_ATTEMPTS = 8
_OPEN = sorted(OPEN_REQUEST_STATUSES)
_TAKEN = (OfferStatus.ACCEPTED, OfferStatus.HANDED_OVER)


class RequestError(Exception):
    """A request that cannot be created as asked; the message is safe to show."""


# --- outcomes ------------------------------------------------------------------------------------


class RouteResult(StrEnum):
    OFFERED = "offered"
    UNROUTED = "unrouted"
    # A held request (``waiting``) that still nothing can take: it stays on the waiting list.
    WAITING = "waiting"
    # The request was not in `new` (cancelled, expired, or another instance routed it first).
    SKIPPED = "skipped"


@dataclass(frozen=True, slots=True)
class RouteOutcome:
    """What :func:`route` did; on ``offered``, whom to notify."""

    result: RouteResult
    request_id: int
    reference: str | None = None
    offer_id: int | None = None
    outlet_id: int | None = None
    peer_worker_ids: tuple[int, ...] = ()
    attempt: int = 0
    # From the location given to route(); shown to the person, never stored.
    distance_km: float | None = None
    # On ``offered``, what the offer says (item id → packs, in id order; its deadline), so
    # the notice needs no second read of what route() just wrote.
    items: tuple[tuple[int, int], ...] = ()
    deadline_at: datetime | None = None


class AcceptResult(StrEnum):
    ACCEPTED = "accepted"
    ALREADY_TAKEN = "already_taken"
    NOT_YOURS = "not_yours"
    EXPIRED = "expired"
    # The outlet could not reserve the items after all: treated as a decline, re-route.
    OUT_OF_STOCK = "out_of_stock"


@dataclass(frozen=True, slots=True)
class AcceptOutcome:
    """What :func:`accept` did. ``code`` is set once, on ``accepted``, for the person only."""

    result: AcceptResult
    request_id: int | None = None
    reference: str | None = None
    outlet_id: int | None = None
    code: str | None = field(default=None, repr=False)


class AnswerResult(StrEnum):
    DONE = "done"
    NOT_YOURS = "not_yours"
    # The offer or request is no longer in the state this action needs.
    GONE = "gone"


@dataclass(frozen=True, slots=True)
class AnswerOutcome:
    """What :func:`decline` or :func:`release` did; on ``done`` the request needs routing."""

    result: AnswerResult
    request_id: int | None = None
    reference: str | None = None


class HandoverResult(StrEnum):
    HANDED_OVER = "handed_over"
    WRONG_CODE = "wrong_code"
    # Too many wrong codes for this request: no code hands it over any more.
    FROZEN = "frozen"
    NOT_YOURS = "not_yours"
    NOT_ACCEPTED = "not_accepted"


@dataclass(frozen=True, slots=True)
class HandoverOutcome:
    """What :func:`handover` did; ``low_stock`` lists items coordinators must now hear about;
    ``just_frozen``: this wrong code froze the request (coordinators must hear about it)."""

    result: HandoverResult
    reference: str | None = None
    low_stock: tuple[LowStock, ...] = ()
    just_frozen: bool = False


@dataclass(frozen=True, slots=True)
class CancelOutcome:
    """What :func:`cancel` did; ``outlet_id`` is the outlet whose peers held an offer."""

    cancelled: bool
    reference: str | None = None
    outlet_id: int | None = None
    was_accepted: bool = False


# --- transitions ---------------------------------------------------------------------------------


async def create(
    session: AsyncSession,
    *,
    contact_id: int,
    kind: RequestKind,
    items: Mapping[int, int],
    area_code: str | None,
    cell: tuple[float, float] | None,
    referral_type: str | None = None,
    ttl: timedelta,
    now: datetime,
    box: AddressBox | None = None,
    own_peers: Collection[int] = (),
) -> Request:
    """A new request (status ``new``) with its items and a fresh public reference.

    ``cell`` is snapped to the coarse grid here whatever the caller passed, so a precise
    location can never reach the table. With ``box``, ``own_peers`` (the asker's peer-worker
    ids, often none) is stored sealed, so that :func:`route` never offers the request to them.
    """
    if any(packs <= 0 for packs in items.values()):
        raise RequestError("every item needs at least one pack")
    if ttl <= timedelta(0):
        raise RequestError("a request needs a positive lifetime")
    coarse = snap(*cell) if cell is not None else None
    values: dict[str, Any] = {
        "contact_id": contact_id,
        "kind": kind,
        "status": RequestStatus.NEW,
        "area_code": area_code,
        "cell_lat": coarse.lat if coarse else None,
        "cell_lon": coarse.lon if coarse else None,
        "referral_type": referral_type,
        "requester_peers": seal_peers(box, own_peers) if box is not None else None,
        "attempts": 0,
        "created_at": now,
        "updated_at": now,
        "expires_at": now + ttl,
    }
    dialect = session.get_bind().dialect.name
    upsert = pg_insert if dialect == "postgresql" else sqlite_insert
    request: Request | None = None
    for _ in range(_REFERENCE_ATTEMPTS):
        # ON CONFLICT DO NOTHING turns a (rare) reference collision into "no row" instead of an
        # error that would poison the caller's transaction (savepoints are unreliable on SQLite).
        # RETURNING the whole row: no second read for what was just written.
        request = await session.scalar(
            upsert(Request)
            .values(reference=new_reference(), **values)
            .on_conflict_do_nothing(index_elements=["reference"])
            .returning(Request)
        )
        if request is not None:
            break
    if request is None:
        raise RuntimeError("could not find a free request reference")
    if items:
        await session.execute(
            insert(RequestItem),
            [
                {"request_id": request.id, "item_id": item_id, "packs": packs}
                for item_id, packs in sorted(items.items())
            ],
        )
    await audit.record(
        session,
        actor="person",
        action="request.created",
        subject=request.reference,
        detail={"kind": kind.value},
        now=now,
    )
    return request


async def route(
    session: AsyncSession,
    *,
    request_id: int,
    lat: float | None = None,
    lon: float | None = None,
    offer_timeout: timedelta,
    now: datetime,
    start: routing.StartRadius | None = None,
    box: AddressBox | None = None,
) -> RouteOutcome:
    """Offer a ``new`` or ``waiting`` request to the nearest available outlet not tried yet.

    ``lat``/``lon`` is the point for the first attempt (used here, in memory); leave them out
    for later attempts and the stored coarse cell is used. With no outlet left, or no
    location at all, a ``new`` request becomes ``unrouted`` and a ``waiting`` one stays on
    the waiting list (outcome ``waiting``, nothing written). A waiting request skips only
    outlets that declined it: one whose offer lapsed may have someone on shift now. With
    ``box``, the asker's own peer roles (sealed by :func:`create`) are never offered it: an
    outlet only they staff is skipped, and they are left out of the peers to notify.
    """
    # Claim the request first: a second router (another instance) waits here, then finds it
    # no longer `new`/`waiting` and skips. A waiting request keeps its `updated_at` (when it
    # was held): that is how long it has waited.
    claimed = (
        await session.execute(
            update(Request)
            .where(
                Request.id == request_id,
                Request.status.in_((RequestStatus.NEW, RequestStatus.WAITING)),
                Request.expires_at > now,
            )
            .values(
                updated_at=case(
                    (Request.status == RequestStatus.WAITING, Request.updated_at), else_=now
                )
            )
            .returning(
                Request.status,
                Request.reference,
                Request.kind,
                Request.attempts,
                Request.cell_lat,
                Request.cell_lon,
                Request.requester_peers,
            )
        )
    ).first()
    if claimed is None:
        return RouteOutcome(result=RouteResult.SKIPPED, request_id=request_id)
    own = open_peers(box, claimed.requester_peers) if box is not None else ()
    reference, kind = claimed.reference, RequestKind(claimed.kind)
    waiting = claimed.status == RequestStatus.WAITING
    if lat is None or lon is None:
        lat, lon = claimed.cell_lat, claimed.cell_lon
    tried: set[int] = set()
    if claimed.attempts:  # every offer counted one attempt: none yet, none to read
        tried.update(await tried_outlets(session, request_id=request_id, waiting=waiting))
    candidates: list[routing.Candidate] = []
    items: dict[int, int] = {}
    if lat is not None and lon is not None:
        items = await _items(session, request_id)
        candidates = await routing.nearest_available(
            session,
            lat=lat,
            lon=lon,
            items=items,
            now=now,
            exclude=tried,
            exclude_peers=own,
            start=start,
        )
    if not candidates and not waiting and await was_held(session, reference=reference):
        # Held, offered, then declined or lapsed: back on the waiting list, not closed.
        await session.execute(
            update(Request)
            .where(Request.id == request_id, Request.status == RequestStatus.NEW)
            .values(status=RequestStatus.WAITING, current_outlet_id=None)
        )
        waiting = True
    if not candidates and waiting:
        return RouteOutcome(
            result=RouteResult.WAITING,
            request_id=request_id,
            reference=reference,
            attempt=claimed.attempts,
        )
    if not candidates:
        await session.execute(
            update(Request)
            .where(Request.id == request_id, Request.status == RequestStatus.NEW)
            .values(status=RequestStatus.UNROUTED, closed_at=now, current_outlet_id=None)
        )
        await _settle(session, [request_id])
        await _audit(
            session,
            "system",
            "request.unrouted",
            reference,
            now,
            kind=kind,
            attempt=claimed.attempts,
        )
        return RouteOutcome(
            result=RouteResult.UNROUTED,
            request_id=request_id,
            reference=reference,
            attempt=claimed.attempts,
        )
    best = candidates[0]
    attempt = await session.scalar(
        update(Request)
        .where(Request.id == request_id, Request.status == claimed.status)
        .values(
            status=RequestStatus.OFFERED,
            current_outlet_id=best.outlet_id,
            attempts=Request.attempts + 1,
        )
        .returning(Request.attempts)
    )
    deadline_at = now + offer_timeout
    offer_id = await session.scalar(
        insert(Offer)
        .values(
            request_id=request_id,
            outlet_id=best.outlet_id,
            status=OfferStatus.PENDING,
            created_at=now,
            deadline_at=deadline_at,
        )
        .returning(Offer.id)
    )
    peers = await shifts.on_shift_peers(session, outlet_id=best.outlet_id, now=now, exclude=own)
    await _audit(
        session,
        "system",
        "request.offered",
        reference,
        now,
        kind=kind,
        outlet_id=best.outlet_id,
        attempt=attempt,
    )
    return RouteOutcome(
        result=RouteResult.OFFERED,
        request_id=request_id,
        reference=reference,
        offer_id=offer_id,
        outlet_id=best.outlet_id,
        peer_worker_ids=tuple(peers),
        attempt=attempt or 0,
        distance_km=best.distance_km,
        items=tuple(sorted(items.items())),
        deadline_at=deadline_at,
    )


async def accept(
    session: AsyncSession,
    *,
    offer_id: int,
    peer_worker_id: int,
    codes_key: bytes,
    now: datetime,
    box: AddressBox | None = None,
) -> AcceptOutcome:
    """A peer takes an offer: one winner, stock reserved, a pickup code for the person.

    The peer is re-authorised (active, at the offer's outlet): buttons can be forged or stale.
    If the outlet cannot reserve every item after all (a recount since routing), the accept is
    undone within this transaction, the offer counts as declined, and the outcome is
    ``out_of_stock`` with the request back in ``new`` for the caller to route again.
    The keyed hash of the code is stored to check it at handover; with ``box`` the code is
    also kept sealed while the request stays accepted, for ``/status`` (:func:`pickup_code`).
    """
    offer = (
        await session.execute(select(Offer.request_id, Offer.outlet_id).where(Offer.id == offer_id))
    ).first()
    if offer is None or not await _peer_at(session, peer_worker_id, offer.outlet_id):
        return AcceptOutcome(result=AcceptResult.NOT_YOURS)
    code = new_pickup_code()
    won = (
        await session.execute(
            update(Request)
            .where(
                Request.id == offer.request_id,
                Request.status == RequestStatus.OFFERED,
                Request.current_outlet_id == offer.outlet_id,
                Request.expires_at > now,
                exists().where(
                    Offer.id == offer_id,
                    Offer.status == OfferStatus.PENDING,
                    Offer.deadline_at > now,
                ),
                _peer_clause(peer_worker_id, offer.outlet_id),
            )
            .values(
                status=RequestStatus.ACCEPTED,
                accepted_at=now,
                updated_at=now,
                pickup_code_hash=hash_code(codes_key, code, purpose=PICKUP_PURPOSE),
                pickup_code_sealed=box.seal(code) if box is not None else None,
            )
            .returning(Request.reference, Request.kind, Request.attempts, Request.created_at)
        )
    ).first()
    if won is None:
        status = await session.scalar(select(Offer.status).where(Offer.id == offer_id))
        taken = status in _TAKEN
        return AcceptOutcome(
            result=AcceptResult.ALREADY_TAKEN if taken else AcceptResult.EXPIRED,
            request_id=offer.request_id,
        )
    reference, kind = won.reference, RequestKind(won.kind)
    await session.execute(
        update(Offer)
        .where(Offer.id == offer_id, Offer.status == OfferStatus.PENDING)
        .values(status=OfferStatus.ACCEPTED, accepted_by_id=peer_worker_id, answered_at=now)
    )
    items = await _items(session, offer.request_id)
    if not await stock.reserve(session, outlet_id=offer.outlet_id, items=items):
        await session.execute(
            update(Request)
            .where(Request.id == offer.request_id, Request.status == RequestStatus.ACCEPTED)
            .values(
                status=RequestStatus.NEW,
                accepted_at=None,
                pickup_code_hash=None,
                pickup_code_sealed=None,
                current_outlet_id=None,
            )
        )
        await session.execute(
            update(Offer).where(Offer.id == offer_id).values(status=OfferStatus.DECLINED)
        )
        await _audit(
            session,
            "peer",
            "offer.out_of_stock",
            reference,
            now,
            kind=kind,
            outlet_id=offer.outlet_id,
            attempt=won.attempts,
        )
        return AcceptOutcome(
            result=AcceptResult.OUT_OF_STOCK,
            request_id=offer.request_id,
            reference=reference,
            outlet_id=offer.outlet_id,
        )
    await _audit(
        session,
        "peer",
        "offer.accepted",
        reference,
        now,
        kind=kind,
        outlet_id=offer.outlet_id,
        attempt=won.attempts,
        # The stats' time to accept, to the minute: the event's own time is only the hour.
        wait_min=int((now - won.created_at).total_seconds() // 60),
    )
    return AcceptOutcome(
        result=AcceptResult.ACCEPTED,
        request_id=offer.request_id,
        reference=reference,
        outlet_id=offer.outlet_id,
        code=code,
    )


async def decline(
    session: AsyncSession, *, offer_id: int, peer_worker_id: int, now: datetime
) -> AnswerOutcome:
    """A peer turns a pending offer down; the request goes back to ``new`` to be routed on."""
    offer = (
        await session.execute(select(Offer.request_id, Offer.outlet_id).where(Offer.id == offer_id))
    ).first()
    if offer is None or not await _peer_at(session, peer_worker_id, offer.outlet_id):
        return AnswerOutcome(result=AnswerResult.NOT_YOURS)
    back = await _back_to_new(
        session,
        request_id=offer.request_id,
        offer_id=offer_id,
        outlet_id=offer.outlet_id,
        extra=_peer_clause(peer_worker_id, offer.outlet_id),
    )
    if back is None:
        return AnswerOutcome(result=AnswerResult.GONE, request_id=offer.request_id)
    await session.execute(
        update(Offer)
        .where(Offer.id == offer_id, Offer.status == OfferStatus.PENDING)
        .values(status=OfferStatus.DECLINED, answered_at=now)
    )
    await _audit(
        session,
        "peer",
        "offer.declined",
        back.reference,
        now,
        kind=RequestKind(back.kind),
        outlet_id=offer.outlet_id,
        attempt=back.attempts,
    )
    return AnswerOutcome(
        result=AnswerResult.DONE, request_id=offer.request_id, reference=back.reference
    )


async def timeout_due(session: AsyncSession, *, now: datetime, limit: int = 100) -> list[int]:
    """Time out pending offers past their deadline; the request ids to route again.

    Safe with several instances: on PostgreSQL the due requests are locked ``FOR UPDATE SKIP
    LOCKED`` (another claimer skips them), and every change is conditional, so an offer that
    someone else already handled (or that a peer accepted just in time) is left alone.
    """
    due = (
        await session.execute(
            select(Offer.id, Offer.request_id, Offer.outlet_id)
            .join(Request, Request.id == Offer.request_id)
            .where(Offer.status == OfferStatus.PENDING, Offer.deadline_at <= now)
            .order_by(Offer.deadline_at, Offer.id)
            .limit(limit)
            # Lock the request rows, not the offers: the same order as every other transition.
            .with_for_update(skip_locked=True, of=Request)
        )
    ).all()
    return await _time_out(session, due, now)


async def lapse_pending(session: AsyncSession, *, outlet_id: int, now: datetime) -> list[int]:
    """Time out the outlet's pending offers now, as if their deadline had passed; the request
    ids to route again. For an outlet left with nobody to answer (its last peer on shift was
    removed): waiting for the deadline would only keep the person waiting."""
    pending = (
        await session.execute(
            select(Offer.id, Offer.request_id, Offer.outlet_id)
            .join(Request, Request.id == Offer.request_id)
            .where(Offer.outlet_id == outlet_id, Offer.status == OfferStatus.PENDING)
            .order_by(Offer.deadline_at, Offer.id)
            .with_for_update(of=Request)
        )
    ).all()
    return await _time_out(session, pending, now)


async def _time_out(
    session: AsyncSession, due: Sequence[Row[int, int, int]], now: datetime
) -> list[int]:
    """Pending offers (id, request_id, outlet_id) → ``timed_out``; the requests to route again."""
    rerouted: list[int] = []
    for offer in due:
        back = await _back_to_new(
            session, request_id=offer.request_id, offer_id=offer.id, outlet_id=offer.outlet_id
        )
        timed_out = await session.scalar(
            update(Offer)
            .where(Offer.id == offer.id, Offer.status == OfferStatus.PENDING)
            .values(status=OfferStatus.TIMED_OUT, answered_at=now)
            .returning(Offer.id)
        )
        if back is None or timed_out is None:
            # Already handled elsewhere, or an orphan offer of a closed request: just closed.
            continue
        rerouted.append(offer.request_id)
        await _audit(
            session,
            "system",
            "offer.timed_out",
            back.reference,
            now,
            kind=RequestKind(back.kind),
            outlet_id=offer.outlet_id,
            attempt=back.attempts,
        )
    return rerouted


async def release(
    session: AsyncSession, *, request_id: int, peer_worker_id: int, now: datetime
) -> AnswerOutcome:
    """After accepting, a peer can't hand over after all: reservation given back, route again.

    Any active peer of the accepting outlet may release (shifts change hands).
    """
    outlet_id = await session.scalar(
        select(PeerWorker.outlet_id).where(
            PeerWorker.id == peer_worker_id, PeerWorker.active == true()
        )
    )
    if outlet_id is None:
        return AnswerOutcome(result=AnswerResult.NOT_YOURS)
    back = (
        await session.execute(
            update(Request)
            .where(
                Request.id == request_id,
                Request.status == RequestStatus.ACCEPTED,
                Request.current_outlet_id == outlet_id,
                _peer_clause(peer_worker_id, outlet_id),
            )
            .values(
                status=RequestStatus.NEW,
                current_outlet_id=None,
                accepted_at=None,
                pickup_code_hash=None,
                pickup_code_sealed=None,
                updated_at=now,
            )
            .returning(Request.reference, Request.kind, Request.attempts)
        )
    ).first()
    if back is None:
        current = await session.scalar(
            select(Request.current_outlet_id).where(Request.id == request_id)
        )
        mine = current == outlet_id
        return AnswerOutcome(
            result=AnswerResult.GONE if mine else AnswerResult.NOT_YOURS, request_id=request_id
        )
    await session.execute(
        update(Offer)
        .where(
            Offer.request_id == request_id,
            Offer.outlet_id == outlet_id,
            Offer.status == OfferStatus.ACCEPTED,
        )
        .values(status=OfferStatus.RELEASED, answered_at=now)
    )
    await stock.unreserve(session, outlet_id=outlet_id, items=await _items(session, request_id))
    await _audit(
        session,
        "peer",
        "request.released",
        back.reference,
        now,
        kind=RequestKind(back.kind),
        outlet_id=outlet_id,
        attempt=back.attempts,
    )
    return AnswerOutcome(result=AnswerResult.DONE, request_id=request_id, reference=back.reference)


async def handover(
    session: AsyncSession,
    *,
    request_id: int,
    peer_worker_id: int,
    code: str,
    codes_key: bytes,
    now: datetime,
) -> HandoverOutcome:
    """The person shows the pickup code; on a match the items leave the shelf.

    ``quantity`` and ``reserved`` drop together; items that now crossed their low-stock
    threshold (for the first time since the last restock) are returned for coordinators.
    """
    outlet_id = await session.scalar(
        select(PeerWorker.outlet_id).where(
            PeerWorker.id == peer_worker_id, PeerWorker.active == true()
        )
    )
    current = (
        await session.execute(
            select(
                Request.reference,
                Request.status,
                Request.current_outlet_id,
                Request.pickup_code_hash,
                Request.code_tries,
            ).where(Request.id == request_id)
        )
    ).first()
    if outlet_id is None or current is None or current.current_outlet_id != outlet_id:
        return HandoverOutcome(result=HandoverResult.NOT_YOURS)
    if current.status != RequestStatus.ACCEPTED or current.pickup_code_hash is None:
        return HandoverOutcome(result=HandoverResult.NOT_ACCEPTED)
    if current.code_tries >= MAX_CODE_TRIES:
        # Not even checked: a guesser learns nothing from the answer.
        return HandoverOutcome(result=HandoverResult.FROZEN, reference=current.reference)
    if not verify_code(codes_key, code, current.pickup_code_hash, purpose=PICKUP_PURPOSE):
        # Counted per reference (to spot guessing); nothing about the code or who typed it.
        await audit.record(
            session, actor="peer", action="handover.wrong_code", subject=current.reference, now=now
        )
        # One statement: concurrent wrong codes each count (never read-then-write).
        tries = await session.scalar(
            update(Request)
            .where(Request.id == request_id)
            .values(code_tries=Request.code_tries + 1, updated_at=now)
            .returning(Request.code_tries)
        )
        if tries is not None and tries >= MAX_CODE_TRIES:
            just_frozen = tries == MAX_CODE_TRIES
            if just_frozen:
                await audit.record(
                    session,
                    actor="peer",
                    action="request.frozen",
                    subject=current.reference,
                    now=now,
                )
            return HandoverOutcome(
                result=HandoverResult.FROZEN, reference=current.reference, just_frozen=just_frozen
            )
        return HandoverOutcome(result=HandoverResult.WRONG_CODE, reference=current.reference)
    done = (
        await session.execute(
            update(Request)
            .where(
                Request.id == request_id,
                Request.status == RequestStatus.ACCEPTED,
                Request.current_outlet_id == outlet_id,
                # The very code just verified: a release and re-accept in between changes it.
                Request.pickup_code_hash == current.pickup_code_hash,
                Request.code_tries < MAX_CODE_TRIES,
                _peer_clause(peer_worker_id, outlet_id),
            )
            .values(
                status=RequestStatus.HANDED_OVER,
                closed_at=now,
                updated_at=now,
                pickup_code_sealed=None,
            )
            .returning(Request.reference, Request.kind, Request.attempts)
        )
    ).first()
    if done is None:
        return HandoverOutcome(result=HandoverResult.NOT_ACCEPTED)
    await session.execute(
        update(Offer)
        .where(
            Offer.request_id == request_id,
            Offer.outlet_id == outlet_id,
            Offer.status == OfferStatus.ACCEPTED,
        )
        .values(status=OfferStatus.HANDED_OVER)
    )
    await _settle(session, [request_id])
    items = await _items(session, request_id)
    low = await stock.consume(session, outlet_id=outlet_id, items=items)
    await _audit(
        session,
        "peer",
        "request.handed_over",
        done.reference,
        now,
        kind=RequestKind(done.kind),
        outlet_id=outlet_id,
        attempt=done.attempts,
        items={str(item_id): packs for item_id, packs in sorted(items.items())},
    )
    return HandoverOutcome(
        result=HandoverResult.HANDED_OVER, reference=done.reference, low_stock=tuple(low)
    )


async def cancel(
    session: AsyncSession, *, request_id: int, contact_id: int, now: datetime
) -> CancelOutcome:
    """The person withdraws their own open request: offers withdrawn, reservation released."""
    done = (
        await session.execute(
            update(Request)
            .where(
                Request.id == request_id,
                Request.contact_id == contact_id,
                Request.status.in_(_OPEN),
            )
            .values(
                status=RequestStatus.CANCELLED,
                closed_at=now,
                updated_at=now,
                pickup_code_sealed=None,
            )
            .returning(Request.reference, Request.kind, Request.attempts)
        )
    ).first()
    if done is None:
        return CancelOutcome(cancelled=False)
    outlet_id, was_accepted = await _withdraw(session, request_id, now)
    await _settle(session, [request_id])
    await _audit(
        session,
        "person",
        "request.cancelled",
        done.reference,
        now,
        kind=RequestKind(done.kind),
        outlet_id=outlet_id,
        attempt=done.attempts,
    )
    return CancelOutcome(
        cancelled=True, reference=done.reference, outlet_id=outlet_id, was_accepted=was_accepted
    )


async def expire_due(session: AsyncSession, *, now: datetime, limit: int = 500) -> list[int]:
    """Expire open requests past ``expires_at``; releases reservations. The expired ids."""
    due = (
        select(Request.id)
        .where(Request.status.in_(_OPEN), Request.expires_at <= now)
        .order_by(Request.id)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    rows = (
        await session.execute(
            update(Request)
            .where(Request.id.in_(due.scalar_subquery()), Request.status.in_(_OPEN))
            .values(
                status=RequestStatus.EXPIRED, closed_at=now, updated_at=now, pickup_code_sealed=None
            )
            .returning(Request.id, Request.reference, Request.kind, Request.attempts)
        )
    ).all()
    for row in sorted(rows, key=lambda r: r.id):
        outlet_id, _ = await _withdraw(session, row.id, now)
        await _audit(
            session,
            "system",
            "request.expired",
            row.reference,
            now,
            kind=RequestKind(row.kind),
            outlet_id=outlet_id,
            attempt=row.attempts,
        )
    await _settle(session, [row.id for row in rows])
    return sorted(row.id for row in rows)


def pickup_code(request: Request, box: AddressBox) -> str | None:
    """An accepted request's pickup code, for its own person to see again; None when none is
    kept (not accepted, or accepted before codes were kept, or the key changed)."""
    if request.status != RequestStatus.ACCEPTED or request.pickup_code_sealed is None:
        return None
    try:
        return box.open(request.pickup_code_sealed)
    except AddressUnreadable:
        return None


async def open_for_contact(session: AsyncSession, *, contact_id: int) -> list[Request]:
    """The contact's open requests, oldest first."""
    rows = await session.scalars(
        select(Request)
        .where(Request.contact_id == contact_id, Request.status.in_(_OPEN))
        .order_by(Request.created_at, Request.id)
    )
    return list(rows)


async def was_held(session: AsyncSession, *, reference: str) -> bool:
    """Whether the open request ``reference`` was ever held on the waiting list (its
    ``request.held`` event; a reference is unique among live requests)."""
    return bool(
        await session.scalar(
            select(
                exists().where(AuditEvent.subject == reference, AuditEvent.action == "request.held")
            )
        )
    )


async def tried_outlets(
    session: AsyncSession, *, request_id: int, waiting: bool = False
) -> set[int]:
    """Outlets routing must not offer the request again: every one that had an offer, or
    for a held (``waiting``) request only those that declined it."""
    query = select(Offer.outlet_id).where(Offer.request_id == request_id)
    if waiting:
        query = query.where(Offer.status == OfferStatus.DECLINED)
    return set(await session.scalars(query))


async def items_of(session: AsyncSession, *, request_id: int) -> dict[int, int]:
    """The request's items: item id → packs."""
    return await _items(session, request_id)


# --- helpers -------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Back:
    reference: str
    kind: str
    attempts: int


async def _back_to_new(
    session: AsyncSession,
    *,
    request_id: int,
    offer_id: int,
    outlet_id: int,
    extra: Any = None,
) -> _Back | None:
    """``offered`` → ``new`` while this exact offer is still pending (decline and timeout)."""
    conditions = [
        Request.id == request_id,
        Request.status == RequestStatus.OFFERED,
        Request.current_outlet_id == outlet_id,
        exists().where(Offer.id == offer_id, Offer.status == OfferStatus.PENDING),
    ]
    if extra is not None:
        conditions.append(extra)
    row = (
        await session.execute(
            update(Request)
            .where(*conditions)
            .values(status=RequestStatus.NEW, current_outlet_id=None)
            .returning(Request.reference, Request.kind, Request.attempts)
        )
    ).first()
    if row is None:
        return None
    return _Back(reference=row.reference, kind=row.kind, attempts=row.attempts)


async def _withdraw(
    session: AsyncSession, request_id: int, now: datetime
) -> tuple[int | None, bool]:
    """Withdraw a closed request's live offer; give back stock if it was accepted.

    Returns the outlet that held the offer (its peers should hear) and whether it had accepted.
    """
    accepted = (
        await session.execute(
            update(Offer)
            .where(Offer.request_id == request_id, Offer.status == OfferStatus.ACCEPTED)
            .values(status=OfferStatus.WITHDRAWN, answered_at=now)
            .returning(Offer.outlet_id)
        )
    ).first()
    if accepted is not None:
        await stock.unreserve(
            session, outlet_id=accepted.outlet_id, items=await _items(session, request_id)
        )
        return accepted.outlet_id, True
    pending = (
        await session.execute(
            update(Offer)
            .where(Offer.request_id == request_id, Offer.status == OfferStatus.PENDING)
            .values(status=OfferStatus.WITHDRAWN, answered_at=now)
            .returning(Offer.outlet_id)
        )
    ).first()
    return (pending.outlet_id if pending is not None else None), False


async def _items(session: AsyncSession, request_id: int) -> dict[int, int]:
    rows = await session.execute(
        select(RequestItem.item_id, RequestItem.packs).where(RequestItem.request_id == request_id)
    )
    return {row.item_id: row.packs for row in rows}


def _peer_clause(peer_worker_id: int, outlet_id: int) -> Any:
    """SQL: the peer worker is active and belongs to the outlet (checked inside the UPDATE)."""
    return exists().where(
        PeerWorker.id == peer_worker_id,
        PeerWorker.outlet_id == outlet_id,
        PeerWorker.active == true(),
    )


async def _peer_at(session: AsyncSession, peer_worker_id: int, outlet_id: int) -> bool:
    count = await session.scalar(
        select(func.count())
        .select_from(PeerWorker)
        .where(
            PeerWorker.id == peer_worker_id,
            PeerWorker.outlet_id == outlet_id,
            PeerWorker.active == true(),
        )
    )
    return bool(count)


# Sealed peer ids are padded to this many bytes (or a multiple): every request's token has
# the same length whoever asked, so its size does not tell a peer's request from anyone's.
_PEERS_PAD = 64


def seal_peers(box: AddressBox, peer_ids: Collection[int]) -> bytes:
    """``peer_ids`` sealed for :attr:`Request.requester_peers` (padded; see _PEERS_PAD)."""
    text = json.dumps(sorted(set(peer_ids)), separators=(",", ":"))
    size = -(-max(len(text), 1) // _PEERS_PAD) * _PEERS_PAD
    return box.seal(text.ljust(size))


def open_peers(box: AddressBox, token: bytes | None) -> tuple[int, ...]:
    """The peer ids :func:`seal_peers` sealed; none when there is no token or it is
    unreadable (a changed key: routing then just does not know, as before)."""
    if token is None:
        return ()
    try:
        ids = json.loads(box.open(token))
    except (AddressUnreadable, ValueError):
        return ()
    return tuple(i for i in ids if isinstance(i, int))


async def _settle(session: AsyncSession, request_ids: list[int]) -> None:
    """Cut the times of just-closed requests and their offers to the hour (see the module doc).

    Read and written back by primary key: SQLite and PostgreSQL truncate dates differently.
    """
    if not request_ids:
        return
    for model, columns in _SETTLED:
        key = Request.id if model is Request else Offer.request_id
        rows = (
            await session.execute(
                select(model.id, *(getattr(model, c) for c in columns)).where(key.in_(request_ids))
            )
        ).all()
        if rows:
            await session.execute(
                update(model),
                [
                    {
                        "id": row.id,
                        **{
                            c: None if row[i + 1] is None else hour_of(row[i + 1])
                            for i, c in enumerate(columns)
                        },
                        # Closed: no more routing, so no more need to know whose it was.
                        **({"requester_peers": None} if model is Request else {}),
                    }
                    for row in rows
                ],
            )


_SETTLED: tuple[tuple[type[Request] | type[Offer], tuple[str, ...]], ...] = (
    (Request, ("created_at", "updated_at", "accepted_at", "closed_at", "expires_at")),
    (Offer, ("created_at", "deadline_at", "answered_at")),
)


async def _audit(
    session: AsyncSession,
    actor: str,
    action: str,
    reference: str | None,
    now: datetime,
    *,
    kind: RequestKind,
    outlet_id: int | None = None,
    attempt: int | None = None,
    **extra: Any,
) -> None:
    detail: dict[str, Any] = {"kind": kind.value}
    if outlet_id is not None:
        detail["outlet_id"] = outlet_id
    if attempt is not None:
        detail["attempt"] = attempt
    detail.update(extra)
    await audit.record(
        session, actor=actor, action=action, subject=reference, detail=detail, now=now
    )
