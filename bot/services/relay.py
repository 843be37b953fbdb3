"""The masked line between a person and the peer who accepted their request.

Open from the accept until the request leaves ``accepted`` (handover, cancel, expiry, release)
or either side closes it. Messages pass through, never stay: the text is masked
(:func:`bot.privacy.masking.mask`), handed to the caller to send after commit and forgotten.
What is kept is in :class:`~bot.db.models.RelayLine`: closed or not, pickup or meet, and a
per-side count for the rate limit. A message the channel refuses for now is queued sealed by
:mod:`bot.services.notices` and deleted once sent, like any other notice.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Final

from sqlalchemy import case, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from bot.content import Gazetteer
from bot.db.models import Offer, Outlet, PeerWorker, RelayLine, Request
from bot.domain import OfferStatus, RequestStatus
from bot.privacy import hour_of
from bot.privacy.masking import mask
from bot.services import shifts

# Messages per side and line in one clock hour (the hour only is kept, as for every time).
LIMIT: Final = 20
# Longest free text passed on: a line is for "running late", not a conversation.
MAX_CHARS: Final = 200
_SPACES = re.compile(r"\s+")


class Side(StrEnum):
    """Who is writing on a line."""

    PERSON = "person"
    PEER = "peer"


class Quick(StrEnum):
    """Quick replies, worded in the reader's own language when delivered."""

    ON_MY_WAY = "way"
    LATE = "late"
    HERE = "here"
    CANT = "cant"


class Sent(StrEnum):
    """What :func:`count` decided."""

    OK = "ok"
    CLOSED = "closed"
    LIMITED = "limited"


@dataclass(frozen=True, slots=True)
class Line:
    """An open (or closed by a side) line of an accepted request."""

    request_id: int
    offer_id: int
    reference: str
    outlet_id: int
    person_contact_id: int
    accepted_by_id: int | None
    closed: bool
    meet: bool
    meets_nearby: bool


async def find(session: AsyncSession, *, request_id: int) -> Line | None:
    """The line of ``request_id`` while it is accepted; None once it is not."""
    row = (
        await session.execute(
            select(
                Request.reference,
                Request.contact_id,
                Request.current_outlet_id,
                Offer.id.label("offer_id"),
                Offer.accepted_by_id,
                Outlet.meets_nearby,
                RelayLine.closed,
                RelayLine.meet,
            )
            .join(
                Offer,
                (Offer.request_id == Request.id)
                & (Offer.outlet_id == Request.current_outlet_id)
                & (Offer.status == OfferStatus.ACCEPTED),
            )
            .join(Outlet, Outlet.id == Offer.outlet_id)
            .outerjoin(RelayLine, RelayLine.offer_id == Offer.id)
            .where(Request.id == request_id, Request.status == RequestStatus.ACCEPTED)
            .order_by(Offer.id.desc())
            .limit(1)
        )
    ).first()
    if row is None:
        return None
    return Line(
        request_id=request_id,
        offer_id=row.offer_id,
        reference=row.reference,
        outlet_id=row.current_outlet_id,
        person_contact_id=row.contact_id,
        accepted_by_id=row.accepted_by_id,
        closed=bool(row.closed),
        meet=bool(row.meet),
        meets_nearby=bool(row.meets_nearby),
    )


async def side_of(
    session: AsyncSession, line: Line, *, contact_id: int, peer_ids: tuple[int, ...]
) -> Side | None:
    """Which side of ``line`` the sender is on: the person who asked, or an active peer of
    the outlet holding it (any of them, as for Handed over); None for anyone else."""
    if contact_id == line.person_contact_id:
        return Side.PERSON
    if not peer_ids:
        return None
    found = await session.scalar(
        select(PeerWorker.id).where(
            PeerWorker.id.in_(peer_ids),
            PeerWorker.outlet_id == line.outlet_id,
            PeerWorker.active.is_(True),
        )
    )
    return Side.PEER if found is not None else None


async def peer_contacts(session: AsyncSession, line: Line, *, now: datetime) -> list[int]:
    """Where the person's messages go: the staff contact of the peer who accepted, or, if
    they are no longer active there, of the outlet's peers on shift."""
    if line.accepted_by_id is not None:
        contact_id = await session.scalar(
            select(PeerWorker.contact_id).where(
                PeerWorker.id == line.accepted_by_id,
                PeerWorker.outlet_id == line.outlet_id,
                PeerWorker.active.is_(True),
            )
        )
        if contact_id is not None:
            return [contact_id]
    peers = await shifts.on_shift_peers(session, outlet_id=line.outlet_id, now=now)
    if not peers:
        return []
    ids = await session.scalars(
        select(PeerWorker.contact_id)
        .where(PeerWorker.id.in_(sorted(peers)))
        .order_by(PeerWorker.id)
    )
    return list(dict.fromkeys(ids))


async def _ensure(session: AsyncSession, offer_id: int) -> None:
    insert = pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
    await session.execute(
        insert(RelayLine)
        .values(offer_id=offer_id, closed=False, meet=False, person_sent=0, peer_sent=0)
        .on_conflict_do_nothing(index_elements=["offer_id"])
    )


async def count(session: AsyncSession, line: Line, *, side: Side, now: datetime) -> Sent:
    """Count one message from ``side``; LIMITED past :data:`LIMIT` this hour, CLOSED if a side
    closed the line. One conditional UPDATE: two messages at once cannot both pass the cap."""
    await _ensure(session, line.offer_id)
    hour = hour_of(now)
    column = RelayLine.person_sent if side is Side.PERSON else RelayLine.peer_sent
    counted = await session.scalar(
        update(RelayLine)
        .where(
            RelayLine.offer_id == line.offer_id,
            RelayLine.closed.is_(False),
            (RelayLine.hour_at.is_(None)) | (RelayLine.hour_at != hour) | (column < LIMIT),
        )
        .values(
            {
                column: case((RelayLine.hour_at == hour, column + 1), else_=1),
                RelayLine.hour_at: hour,
            }
        )
        .returning(RelayLine.offer_id)
    )
    if counted is not None:
        return Sent.OK
    closed = await session.scalar(
        select(RelayLine.closed).where(RelayLine.offer_id == line.offer_id)
    )
    return Sent.CLOSED if closed else Sent.LIMITED


async def close(session: AsyncSession, line: Line) -> bool:
    """Close the line; True if this call closed it (False: it already was)."""
    await _ensure(session, line.offer_id)
    closed = await session.scalar(
        update(RelayLine)
        .where(RelayLine.offer_id == line.offer_id, RelayLine.closed.is_(False))
        .values(closed=True)
        .returning(RelayLine.offer_id)
    )
    return closed is not None


async def choose(session: AsyncSession, line: Line, *, meet: bool) -> None:
    """Record pickup (False) or meet nearby (True); meet only where the outlet offers it."""
    await _ensure(session, line.offer_id)
    await session.execute(
        update(RelayLine)
        .where(RelayLine.offer_id == line.offer_id)
        .values(meet=meet and line.meets_nearby)
    )


def clean(text: str) -> str | None:
    """Free text as it may be passed on: whitespace folded; None when empty or too long."""
    folded = _SPACES.sub(" ", text).strip()
    if not folded or len(folded) > MAX_CHARS:
        return None
    return folded


def masked(text: str, *, gazetteer: Gazetteer) -> str:
    """``text`` with phone numbers, @names, links, addresses and names hidden; area names kept
    (a meeting place is agreed by them)."""
    keep = [gazetteer.city.name]
    for area in gazetteer.areas:
        keep += [area.name, *area.aliases]
    return mask(text, keep=keep).text
