"""Daily counters for funders, counted when things happen: the only numbers kept for good.

Every audited event (:func:`bot.services.audit.record`) adds to these counters in the same
transaction as the event, and shift changes add to them without any event row at all. The
audit rows themselves are per-request records that go with their request (retention purge,
``/forget``); the counters were made when the event was, so deleting an audit row can never
lose or double a number, and nothing needs "rolling up" later.

A transaction's increments are gathered in the session and written at commit, in one
statement, sorted: on PostgreSQL an ``INSERT ... ON CONFLICT DO UPDATE`` locks the counter
row until commit, so two transactions taking the same rows in different orders (two
instances expiring requests of two areas) would deadlock; taken late and in one order, they
queue instead. :func:`flush` writes them early, for a reader in the same transaction.

Measures (dimensions; a count unless said):

- ``requests.made`` (area, kind); ``requests.packs`` (area, kind, item): packs asked for;
- ``requests.handed_over|unrouted|cancelled|expired|frozen`` (area, kind);
- ``requests.held`` (area, kind): unrouted requests the person then held on the waiting list
  (they close again later, so made = every close − held);
- ``cells.unrouted`` (area = the request's coarse cell code, kind): where nothing could take a
  request (every time it went unrouted, held or not), for the coverage view;
- ``outlet.offered|accepted|declined|out_of_stock|timed_out|released|handed_over|wrong_code``
  (outlet, kind); ``outlet.packs`` (outlet, kind, item): packs handed over;
- ``accept.minutes`` (kind, bucket = whole minutes from request to its first acceptance);
- ``shifts.started`` (outlet); ``stock.set`` (outlet, item);
- ``reversals.*`` (naloxone used, told with ``/used``) and ``outlet.given`` (kits handed out
  outside the bot, ``/gave``): see :mod:`bot.services.reversals`.

Small counts are kept as they are: see :mod:`bot.services.stats` for why.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import event, exists, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session, SessionTransaction
from sqlalchemy.sql import Executable

from bot.db.models import DailyCount, Item, Offer, Request, RequestItem
from bot.domain import OfferStatus
from bot.privacy.coarse import snap

__all__ = ["KEY_COLUMNS", "Key", "add", "count_event", "day_of", "flush", "upsert"]

_PENDING = "hrbot.daily_counts"
# The primary key, which the upsert conflicts on.
KEY_COLUMNS = ("day", "measure", "area_code", "outlet_id", "kind", "item_code", "bucket")
# Rows per INSERT: 8 parameters each, well under SQLite's and asyncpg's limits.
_ROWS_PER_STATEMENT = 500

REQUEST_CLOSED = {
    "request.handed_over": "requests.handed_over",
    "request.unrouted": "requests.unrouted",
    "request.cancelled": "requests.cancelled",
    "request.expired": "requests.expired",
    "request.frozen": "requests.frozen",
    # Not a close: an unrouted request the person then held (bot.services.waiting).
    "request.held": "requests.held",
}
PER_OUTLET = {
    "request.offered": "outlet.offered",
    "offer.accepted": "outlet.accepted",
    "offer.declined": "outlet.declined",
    "offer.out_of_stock": "outlet.out_of_stock",
    "offer.timed_out": "outlet.timed_out",
    "request.released": "outlet.released",
    "request.handed_over": "outlet.handed_over",
    "handover.wrong_code": "outlet.wrong_code",
}


@dataclass(frozen=True, order=True, slots=True)
class Key:
    """One counter: a day and the dimensions that apply (see the module docstring)."""

    day: date
    measure: str
    area_code: str = ""
    outlet_id: int = 0
    kind: str = ""
    item_code: str = ""
    bucket: int = 0


def day_of(now: datetime) -> date:
    """The UTC day of ``now``: no counter holds anything finer."""
    return (now.astimezone(UTC) if now.tzinfo else now).date()


def add(session: AsyncSession | Session, key: Key, n: int = 1) -> None:
    """Count ``n`` more for ``key`` when the session's transaction commits."""
    if n:
        pending: Counter[Key] = session.info.setdefault(_PENDING, Counter())
        pending[key] += n


async def flush(session: AsyncSession) -> None:
    """Write the increments gathered so far now (a reader in this transaction sees them)."""
    for statement in _take(session.sync_session):
        await session.execute(statement)


def upsert(dialect: str, counts: Mapping[Key, int]) -> list[Executable]:
    """``INSERT ... ON CONFLICT DO UPDATE SET count = count + new``, sorted by key, chunked.

    One statement per chunk: each counter row is added to atomically on SQLite and
    PostgreSQL, however many writers there are.
    """
    rows = [
        {
            "day": key.day,
            "measure": key.measure,
            "area_code": key.area_code,
            "outlet_id": key.outlet_id,
            "kind": key.kind,
            "item_code": key.item_code,
            "bucket": key.bucket,
            "count": n,
        }
        for key, n in sorted(counts.items())
        if n
    ]
    insert = pg_insert if dialect == "postgresql" else sqlite_insert
    statements: list[Executable] = []
    for start in range(0, len(rows), _ROWS_PER_STATEMENT):
        stmt = insert(DailyCount).values(rows[start : start + _ROWS_PER_STATEMENT])
        statements.append(
            stmt.on_conflict_do_update(
                index_elements=list(KEY_COLUMNS),
                set_={"count": DailyCount.count + stmt.excluded.count},
            )
        )
    return statements


def _take(session: Session) -> list[Executable]:
    pending: Counter[Key] | None = session.info.pop(_PENDING, None)
    if not pending:
        return []
    return upsert(session.get_bind().dialect.name, pending)


@event.listens_for(Session, "before_commit")
def _write_at_commit(session: Session) -> None:
    # Runs inside the commit, also for an AsyncSession (its sync session, in SQLAlchemy's
    # greenlet): the increments are part of the transaction they count.
    for statement in _take(session):
        session.execute(statement)


@event.listens_for(Session, "after_transaction_end")
def _drop_on_rollback(session: Session, transaction: SessionTransaction) -> None:
    # A rolled-back transaction's increments must not leak into the session's next one.
    if transaction.parent is None:
        session.info.pop(_PENDING, None)


async def count_event(
    session: AsyncSession,
    *,
    action: str,
    subject: str | None,
    detail: Mapping[str, Any],
    now: datetime,
) -> None:
    """Add what one audited event counts for (most events of a request count twice: once for
    its area, once for its outlet). Reads the request behind ``subject`` for its area, kind
    and items; events that count for nothing are ignored."""
    day = day_of(now)
    if action == "stock.set":
        outlet_id, item_id = detail.get("outlet_id"), detail.get("item_id")
        if isinstance(outlet_id, int) and isinstance(item_id, int):
            codes = await _item_codes(session, [item_id])
            add(
                session,
                Key(day, "stock.set", outlet_id=outlet_id, item_code=codes.get(item_id, "")),
            )
        return
    if subject is None or not (
        action == "request.created" or action in REQUEST_CLOSED or action in PER_OUTLET
    ):
        return
    request = (
        await session.execute(
            select(
                Request.id,
                Request.area_code,
                Request.kind,
                Request.current_outlet_id,
                Request.created_at,
                Request.cell_lat,
                Request.cell_lon,
            ).where(Request.reference == subject)
        )
    ).first()
    if request is None:
        return
    area, kind = request.area_code or "", str(getattr(request.kind, "value", request.kind))
    if action == "request.created":
        add(session, Key(day, "requests.made", area_code=area, kind=kind))
        for code, packs in await _packs(session, request.id):
            add(
                session,
                Key(day, "requests.packs", area_code=area, kind=kind, item_code=code),
                packs,
            )
    if action in REQUEST_CLOSED:
        add(session, Key(day, REQUEST_CLOSED[action], area_code=area, kind=kind))
        unrouted = action == "request.unrouted"
        if unrouted and request.cell_lat is not None and request.cell_lon is not None:
            cell = snap(request.cell_lat, request.cell_lon).code
            add(session, Key(day, "cells.unrouted", area_code=cell, kind=kind))
    if action in PER_OUTLET:
        outlet_id = detail.get("outlet_id", request.current_outlet_id)
        if not isinstance(outlet_id, int):
            return
        add(session, Key(day, PER_OUTLET[action], outlet_id=outlet_id, kind=kind))
        if action == "request.handed_over":
            for code, packs in await _packs(session, request.id):
                add(
                    session,
                    Key(day, "outlet.packs", outlet_id=outlet_id, kind=kind, item_code=code),
                    packs,
                )
        if action == "offer.accepted" and await _first_acceptance(session, request.id):
            wait = detail.get("wait_min")
            if not isinstance(wait, int) or isinstance(wait, bool):
                wait = int((now - request.created_at).total_seconds() // 60)
            add(session, Key(day, "accept.minutes", kind=kind, bucket=max(wait, 0)))


def count_shift(session: AsyncSession, *, outlet_id: int, now: datetime) -> None:
    """A peer went on shift (or extended one) at ``outlet_id``: counted, never logged."""
    add(session, Key(day_of(now), "shifts.started", outlet_id=outlet_id))


async def _packs(session: AsyncSession, request_id: int) -> list[tuple[str, int]]:
    rows = await session.execute(
        select(Item.code, RequestItem.packs)
        .join(Item, Item.id == RequestItem.item_id)
        .where(RequestItem.request_id == request_id)
        .order_by(Item.code)
    )
    return [(row.code, row.packs) for row in rows]


async def _item_codes(session: AsyncSession, item_ids: Iterable[int]) -> dict[int, str]:
    rows = await session.execute(select(Item.id, Item.code).where(Item.id.in_(list(item_ids))))
    return {row.id: row.code for row in rows}


async def _first_acceptance(session: AsyncSession, request_id: int) -> bool:
    """No earlier acceptance of this request: one would have been released (the only way an
    accepted request goes back to be offered again), so the wait counts once per request."""
    released = await session.scalar(
        select(exists().where(Offer.request_id == request_id, Offer.status == OfferStatus.RELEASED))
    )
    return not released
