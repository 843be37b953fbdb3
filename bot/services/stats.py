"""Anonymous numbers for coordinators and funders, computed from the audit log.

Every request transition writes an audit event (role, reference, kind, outlet, attempt: never a
person), and the audit log outlives the retention purge of request rows. So the numbers here
are read from the events alone, and a report for last year still adds up after last year's
requests are gone. The one exception is :attr:`Stats.open_now`, a count of live rows (open
requests are never purged).

Events are read for the window and folded in Python: the detail is JSON, whose operators
differ between SQLite and PostgreSQL, and a window's events are few (a handful per request).
"""

from __future__ import annotations

import statistics
from collections import Counter, defaultdict
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.db.models import AuditEvent, Item, Request
from bot.domain import OPEN_REQUEST_STATUSES, ItemCategory

CLOSED = ("handed_over", "unrouted", "cancelled", "expired")
_CLOSING = {f"request.{status}": status for status in CLOSED}
_PER_OUTLET = {
    "request.offered": "offered",
    "offer.accepted": "accepted",
    "offer.declined": "declined",
    "offer.out_of_stock": "declined",
    "offer.timed_out": "timed_out",
    "request.released": "released",
    "request.handed_over": "handed_over",
}
_ACTIONS = sorted({"request.created", *_CLOSING, *_PER_OUTLET})


@dataclass
class OutletNumbers:
    """What one outlet did with the offers it got (``declined`` includes out-of-stock)."""

    offered: int = 0
    accepted: int = 0
    declined: int = 0
    timed_out: int = 0
    released: int = 0
    handed_over: int = 0


@dataclass(frozen=True)
class Stats:
    """Aggregates over ``[since, until)``: no reference, person or code in here."""

    since: datetime
    until: datetime
    created_by_kind: Mapping[str, int] = field(default_factory=dict)
    closed_by_status: Mapping[str, int] = field(default_factory=dict)
    by_outlet: Mapping[int, OutletNumbers] = field(default_factory=dict)
    median_time_to_accept: timedelta | None = None
    naloxone_kits: int = 0
    open_now: int = 0

    @property
    def created(self) -> int:
        """Requests made in the window."""
        return sum(self.created_by_kind.values())

    @property
    def closed(self) -> int:
        """Requests closed in the window (handed over, unrouted, cancelled or expired)."""
        return sum(self.closed_by_status.values())

    @property
    def fulfilment_rate(self) -> float | None:
        """Handed over / closed, or None when nothing closed."""
        closed = self.closed
        return self.closed_by_status.get("handed_over", 0) / closed if closed else None


async def compute(session: AsyncSession, *, since: datetime, until: datetime) -> Stats:
    """The numbers for events at or after ``since`` and before ``until``."""
    rows = (
        await session.execute(
            select(AuditEvent.action, AuditEvent.subject, AuditEvent.at, AuditEvent.detail)
            .where(
                AuditEvent.action.in_(_ACTIONS),
                AuditEvent.at >= since,
                AuditEvent.at < until,
            )
            .order_by(AuditEvent.at, AuditEvent.id)
        )
    ).all()
    by_kind: Counter[str] = Counter()
    by_status: Counter[str] = Counter()
    by_outlet: dict[int, OutletNumbers] = defaultdict(OutletNumbers)
    accepted_at: list[tuple[str, datetime, int | None]] = []
    handed: list[Mapping[str, Any]] = []
    for row in rows:
        detail: Mapping[str, Any] = row.detail if isinstance(row.detail, Mapping) else {}
        if row.action == "request.created":
            by_kind[str(detail.get("kind", "unknown"))] += 1
        if row.action in _CLOSING:
            by_status[_CLOSING[row.action]] += 1
        outlet_id = detail.get("outlet_id")
        if row.action in _PER_OUTLET and isinstance(outlet_id, int):
            numbers = by_outlet[outlet_id]
            name = _PER_OUTLET[row.action]
            setattr(numbers, name, getattr(numbers, name) + 1)
        if row.action == "offer.accepted" and row.subject:
            wait = detail.get("wait_min")
            minutes = wait if isinstance(wait, int) and not isinstance(wait, bool) else None
            accepted_at.append((row.subject, row.at, minutes))
        if row.action == "request.handed_over":
            handed.append(detail)
    open_now = await session.scalar(
        select(func.count())
        .select_from(Request)
        .where(Request.status.in_(sorted(OPEN_REQUEST_STATUSES)))
    )
    return Stats(
        since=since,
        until=until,
        created_by_kind=dict(by_kind),
        closed_by_status=dict(by_status),
        by_outlet=dict(by_outlet),
        median_time_to_accept=await _median_to_accept(session, accepted_at, until),
        naloxone_kits=await _naloxone_kits(session, handed),
        open_now=open_now or 0,
    )


async def _median_to_accept(
    session: AsyncSession, accepted: list[tuple[str, datetime, int | None]], until: datetime
) -> timedelta | None:
    """Median time from a request being made to its first acceptance.

    Events are paired by reference. A reference can come back after its request was purged,
    so each acceptance pairs with the latest creation before it; a request accepted again after
    a release counts once, with its first acceptance. Events keep only their hour, so the wait
    is the acceptance's ``wait_min``; events written before it existed fall back to their times.
    """
    if not accepted:
        return None
    subjects = sorted({subject for subject, _, _ in accepted})
    created: dict[str, list[datetime]] = defaultdict(list)
    for chunk in _chunks(subjects, 500):
        for row in await session.execute(
            select(AuditEvent.subject, AuditEvent.at).where(
                AuditEvent.action == "request.created",
                AuditEvent.subject.in_(chunk),
                AuditEvent.at < until,
            )
        ):
            created[row.subject].append(row.at)
    first: dict[tuple[str, datetime], float] = {}
    for subject, at, minutes in accepted:
        made = max((c for c in created.get(subject, ()) if c <= at), default=None)
        if made is not None:
            key = (subject, made)
            # The first acceptance of a request is the one with the shortest wait.
            wait = (at - made).total_seconds() if minutes is None else minutes * 60.0
            first[key] = min(first.get(key, wait), wait)
    waits = sorted(first.values())
    if not waits:
        return None
    return timedelta(seconds=statistics.median(waits))


async def _naloxone_kits(session: AsyncSession, handed: list[Mapping[str, Any]]) -> int:
    """Naloxone kits in handed-over requests: packs × pack size of naloxone items."""
    packs: Counter[int] = Counter()
    for detail in handed:
        items = detail.get("items")
        if not isinstance(items, Mapping):
            continue
        for item_id, count in items.items():
            if str(item_id).isdigit() and isinstance(count, int):
                packs[int(item_id)] += count
    if not packs:
        return 0
    # Items are never deleted (old requests and events refer to them), so this always resolves.
    sizes = {
        row.id: row.pack_size
        for row in await session.execute(
            select(Item.id, Item.pack_size).where(
                Item.id.in_(sorted(packs)), Item.category == ItemCategory.NALOXONE
            )
        )
    }
    return sum(count * sizes[item_id] for item_id, count in packs.items() if item_id in sizes)


def _chunks(values: list[str], size: int) -> list[list[str]]:
    return [values[i : i + size] for i in range(0, len(values), size)]


__all__ = ["CLOSED", "OutletNumbers", "Stats", "compute"]
