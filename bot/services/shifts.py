"""Peer workers going on and off shift; a shift always has an end, so nobody stays on by mistake.

Routing only offers requests to outlets with a peer who is active, on shift and whose shift has
not ended yet, so an expired shift stops new offers at once even before the tick that switches
it off (:func:`end_expired_shifts`) has run.
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, or_, select, true, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.db.models import PeerWorker
from bot.services import counts

MAX_SHIFT_HOURS = 24.0


def on_shift_clause(now: datetime) -> ColumnElement[bool]:
    """SQL condition: this peer worker can take an offer at ``now``."""
    return (
        (PeerWorker.active == true())
        & (PeerWorker.on_shift == true())
        & or_(PeerWorker.shift_ends_at.is_(None), PeerWorker.shift_ends_at > now)
    )


async def start_shift(
    session: AsyncSession, *, peer_worker_id: int, hours: float, now: datetime
) -> datetime | None:
    """Go on shift for ``hours`` (extends a running shift); the end time, or None if not active."""
    if not 0 < hours <= MAX_SHIFT_HOURS:
        raise ValueError(f"a shift lasts more than 0 and at most {MAX_SHIFT_HOURS:g} hours")
    ends_at = now + timedelta(hours=hours)
    row = (
        await session.execute(
            update(PeerWorker)
            .where(PeerWorker.id == peer_worker_id, PeerWorker.active == true())
            .values(on_shift=True, shift_ends_at=ends_at)
            .returning(PeerWorker.outlet_id)
        )
    ).first()
    if row is None:
        return None
    # Counted per outlet and day, never logged: a row per shift, even to the hour, is when one
    # named outlet's peer works, which tells who they are to anyone who watches the outlet.
    counts.count_shift(session, outlet_id=row.outlet_id, now=now)
    return ends_at


async def end_shift(session: AsyncSession, *, peer_worker_id: int, now: datetime) -> bool:
    """Go off shift; False when the peer was not on shift."""
    row = (
        await session.execute(
            update(PeerWorker)
            .where(PeerWorker.id == peer_worker_id, PeerWorker.on_shift == true())
            .values(on_shift=False, shift_ends_at=None)
            .returning(PeerWorker.outlet_id)
        )
    ).first()
    return row is not None


async def end_expired_shifts(session: AsyncSession, *, now: datetime) -> list[int]:
    """Switch off every shift whose end has passed; the peer worker ids, to tell them."""
    rows = (
        await session.execute(
            update(PeerWorker)
            .where(
                PeerWorker.on_shift == true(),
                PeerWorker.shift_ends_at.is_not(None),
                PeerWorker.shift_ends_at <= now,
            )
            .values(on_shift=False, shift_ends_at=None)
            .returning(PeerWorker.id, PeerWorker.outlet_id)
        )
    ).all()
    return sorted(row.id for row in rows)


async def on_shift_peers(
    session: AsyncSession, *, outlet_id: int, now: datetime, exclude: Collection[int] = ()
) -> list[int]:
    """Ids of the outlet's peer workers who can take an offer now (the ones to notify),
    but for ``exclude`` (the asker's own roles)."""
    ids = await session.scalars(
        select(PeerWorker.id)
        .where(PeerWorker.outlet_id == outlet_id, on_shift_clause(now))
        .order_by(PeerWorker.id)
    )
    return [i for i in ids if i not in exclude]
