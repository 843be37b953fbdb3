"""Stock counts per outlet and item: setting counts, reserving for accepted requests, low-stock.

``quantity`` is what is on the shelf, ``reserved`` what is promised to accepted requests; an
outlet can take a request when ``quantity - reserved`` covers it. Every change is a single
conditional ``UPDATE`` so concurrent accepts and handovers never oversell.

Rows are always touched in ascending ``item_id`` order, so two transactions changing the same
outlet's stock lock its rows in the same order and cannot deadlock each other (PostgreSQL).
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import ColumnElement, case, delete, false, literal, select, true, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import InstrumentedAttribute

from bot.db.models import Stock
from bot.services import audit

DEFAULT_LOW_THRESHOLD = 5
MAX_COUNT = 100_000  # packs of one item at one outlet, as typed by a person


def parse_count(text: str) -> int | None:
    """A count as typed in chat or a form: a whole number from 0 to :data:`MAX_COUNT`."""
    text = text.strip()
    if not text.isascii() or not text.isdigit() or len(text) > 6:
        return None
    value = int(text)
    return value if value <= MAX_COUNT else None


@dataclass(frozen=True, slots=True)
class StockLevel:
    """One item's count at an outlet."""

    item_id: int
    quantity: int
    reserved: int
    low_threshold: int
    low_notified: bool

    @property
    def available(self) -> int:
        """Packs not yet promised to anyone (negative after a recount found less than promised)."""
        return self.quantity - self.reserved

    @property
    def is_low(self) -> bool:
        """At or below the threshold coordinators asked to be told about."""
        return self.quantity <= self.low_threshold


@dataclass(frozen=True, slots=True)
class LowStock:
    """An item whose count just fell to or below its threshold (coordinators are told once)."""

    outlet_id: int
    item_id: int
    quantity: int
    low_threshold: int


async def set_quantity(
    session: AsyncSession,
    *,
    outlet_id: int,
    item_id: int,
    quantity: int,
    now: datetime,
    low_threshold: int | None = None,
    actor: str = "peer",
) -> tuple[StockLevel, list[LowStock]]:
    """Set the shelf count after a delivery or a recount; create the row if the item is new here.

    Restocking above the threshold re-arms the low-stock notice; a recount that lands at or below
    it reports the crossing (once), exactly as a handover would. A count below ``reserved`` is
    accepted (stock does go missing): the outlet simply gets no new requests for that item until
    restocked, and handovers never drive the count negative.
    """
    if quantity < 0:
        raise ValueError("quantity must not be negative")
    if low_threshold is not None and low_threshold < 0:
        raise ValueError("low_threshold must not be negative")
    values: dict[str, object] = {"quantity": quantity}
    if low_threshold is not None:
        values["low_threshold"] = low_threshold
    threshold: ColumnElement[int] | InstrumentedAttribute[int] = (
        Stock.low_threshold if low_threshold is None else literal(low_threshold)
    )
    # Restocked above the threshold: the next crossing gets reported again.
    values["low_notified"] = case(
        (literal(quantity) > threshold, false()), else_=Stock.low_notified
    )
    changed = await session.execute(
        update(Stock)
        .where(Stock.outlet_id == outlet_id, Stock.item_id == item_id)
        .values(values)
        .returning(Stock.item_id)
    )
    if changed.first() is None:
        session.add(
            Stock(
                outlet_id=outlet_id,
                item_id=item_id,
                quantity=quantity,
                reserved=0,
                low_threshold=DEFAULT_LOW_THRESHOLD if low_threshold is None else low_threshold,
                low_notified=False,
            )
        )
        await session.flush()
    low = await mark_low(session, outlet_id=outlet_id, item_ids=[item_id])
    await audit.record(
        session,
        actor=actor,
        action="stock.set",
        detail={"outlet_id": outlet_id, "item_id": item_id, "quantity": quantity},
        now=now,
    )
    level = (await levels(session, outlet_id=outlet_id, item_ids=[item_id]))[0]
    return level, low


async def withdraw(
    session: AsyncSession, *, outlet_id: int, item_id: int, now: datetime, actor: str | None = None
) -> int | None:
    """Stop offering an item at an outlet: its stock row goes, so routing no longer chooses the
    outlet for it. Refused while accepted requests hold packs of it.

    Returns 0 when withdrawn, the packs still promised when refused, None when the outlet did
    not offer the item. ``actor`` given: the withdrawal is audited.
    """
    gone = await session.scalar(
        delete(Stock)
        .where(Stock.outlet_id == outlet_id, Stock.item_id == item_id, Stock.reserved == 0)
        .returning(Stock.item_id)
    )
    if gone is not None:
        if actor is not None:
            await audit.record(
                session,
                actor=actor,
                action="stock.withdraw",
                detail={"outlet_id": outlet_id, "item_id": item_id},
                now=now,
            )
        return 0
    reserved: int | None = await session.scalar(
        select(Stock.reserved).where(Stock.outlet_id == outlet_id, Stock.item_id == item_id)
    )
    return reserved


async def levels(
    session: AsyncSession, *, outlet_id: int, item_ids: Collection[int] | None = None
) -> list[StockLevel]:
    """The outlet's stock rows (optionally only ``item_ids``), by item id."""
    stmt = select(
        Stock.item_id, Stock.quantity, Stock.reserved, Stock.low_threshold, Stock.low_notified
    ).where(Stock.outlet_id == outlet_id)
    if item_ids is not None:
        stmt = stmt.where(Stock.item_id.in_(list(item_ids)))
    rows = (await session.execute(stmt.order_by(Stock.item_id))).all()
    return [
        StockLevel(
            item_id=row.item_id,
            quantity=row.quantity,
            reserved=row.reserved,
            low_threshold=row.low_threshold,
            low_notified=bool(row.low_notified),
        )
        for row in rows
    ]


async def reserve(session: AsyncSession, *, outlet_id: int, items: Mapping[int, int]) -> bool:
    """Promise ``items`` (item id → packs) at the outlet: all of them or none.

    Each item is one ``UPDATE ... WHERE quantity - reserved >= :n``; if one cannot be covered the
    ones already reserved in this call are given back, so the caller's transaction is left as if
    nothing happened and it can go on (no savepoint needed).
    """
    done: dict[int, int] = {}
    for item_id, packs in sorted(items.items()):
        result = await session.execute(
            update(Stock)
            .where(
                Stock.outlet_id == outlet_id,
                Stock.item_id == item_id,
                Stock.quantity - Stock.reserved >= packs,
            )
            .values(reserved=Stock.reserved + packs)
            .returning(Stock.item_id)
        )
        if result.first() is None:
            await unreserve(session, outlet_id=outlet_id, items=done)
            return False
        done[item_id] = packs
    return True


async def unreserve(session: AsyncSession, *, outlet_id: int, items: Mapping[int, int]) -> None:
    """Give back a reservation (release, cancel, expiry); never below zero."""
    for item_id, packs in sorted(items.items()):
        await session.execute(
            update(Stock)
            .where(Stock.outlet_id == outlet_id, Stock.item_id == item_id)
            .values(reserved=_minus(Stock.reserved, packs))
        )


async def consume(
    session: AsyncSession, *, outlet_id: int, items: Mapping[int, int]
) -> list[LowStock]:
    """Hand reserved packs over: quantity and reserved both go down in one statement per item.

    Returns the items that crossed their low-stock threshold because of it (first time only).
    """
    for item_id, packs in sorted(items.items()):
        await session.execute(
            update(Stock)
            .where(Stock.outlet_id == outlet_id, Stock.item_id == item_id)
            .values(quantity=_minus(Stock.quantity, packs), reserved=_minus(Stock.reserved, packs))
        )
    return await mark_low(session, outlet_id=outlet_id, item_ids=list(items))


async def mark_low(
    session: AsyncSession, *, outlet_id: int, item_ids: Collection[int]
) -> list[LowStock]:
    """Flag the items now at or below their threshold that were not flagged yet, and return them.

    The flag flips false→true in a conditional ``UPDATE``, so however many handovers race, each
    crossing is reported exactly once; restocking above the threshold clears it again.
    """
    if not item_ids:
        return []
    rows = (
        await session.execute(
            update(Stock)
            .where(
                Stock.outlet_id == outlet_id,
                Stock.item_id.in_(sorted(item_ids)),
                Stock.low_notified == false(),
                Stock.quantity <= Stock.low_threshold,
            )
            .values(low_notified=true())
            .returning(Stock.item_id, Stock.quantity, Stock.low_threshold)
        )
    ).all()
    return sorted(
        (
            LowStock(
                outlet_id=outlet_id,
                item_id=row.item_id,
                quantity=row.quantity,
                low_threshold=row.low_threshold,
            )
            for row in rows
        ),
        key=lambda low: low.item_id,
    )


def _minus(column: InstrumentedAttribute[int], amount: int) -> ColumnElement[int]:
    """``column - amount`` floored at zero, portable to SQLite and PostgreSQL."""
    return case((column >= amount, column - amount), else_=0)
