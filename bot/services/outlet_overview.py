"""Outlets as the console's *Outlets* pages show them: a paged, filtered list and one outlet.

A page of the list costs three queries whatever the number of outlets: the page of outlets
(with the total, by a window count), the stock alarms of just those outlets, grouped, and
which of them a closure holds shut now.
A peer sees only their own outlets (``outlet_ids``); a coordinator passes None.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final, TypeVar

from sqlalchemy import Select, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.db.models import Item, Outlet, Stock
from bot.domain import OutletKind
from bot.services import closures
from bot.services.routing import is_open

PAGE_SIZE: Final = 50
MAX_SEARCH: Final = 120  # an outlet name is at most this long
MAX_ID: Final = 2**31 - 1  # ids are 32-bit: a longer number in a URL is no outlet

_Query = TypeVar("_Query", bound="Select[*tuple[Any, ...]]")


@dataclass(frozen=True, slots=True)
class OutletLine:
    """One outlet in the list."""

    id: int
    name: str
    area_code: str
    kind: OutletKind
    active: bool
    open_now: bool
    out: int  # items with nothing left to offer
    low: int  # items left, but at or below their threshold


@dataclass(frozen=True, slots=True)
class OutletList:
    lines: list[OutletLine]
    total: int  # outlets matching the filter, over all pages
    page: int  # 1-based
    pages: int


@dataclass(frozen=True, slots=True)
class StockLine:
    """One item an outlet offers (it has a stock row), with its live count."""

    item_id: int
    code: str
    quantity: int
    reserved: int
    low_threshold: int

    @property
    def available(self) -> int:
        return self.quantity - self.reserved

    @property
    def out(self) -> bool:
        return self.available <= 0

    @property
    def low(self) -> bool:
        return self.available <= self.low_threshold


@dataclass(frozen=True, slots=True)
class OutletDetail:
    id: int
    key: str
    name: str
    area_code: str
    kind: OutletKind
    instructions: str
    meets_nearby: bool
    active: bool
    open_now: bool
    hours: Any  # as stored; shown by the hours section (not this module's business)
    timezone: str
    stock: list[StockLine]
    not_offered: list[tuple[int, str]]  # (item id, code) of active items it could add


def _filtered(
    stmt: _Query, *, outlet_ids: Collection[int] | None, area: str | None, search: str | None
) -> _Query:
    if outlet_ids is not None:
        stmt = stmt.where(Outlet.id.in_(sorted(outlet_ids)))
    if area:
        stmt = stmt.where(Outlet.area_code == area)
    if search:
        stmt = stmt.where(Outlet.name.icontains(search[:MAX_SEARCH], autoescape=True))
    return stmt


async def outlet_list(
    session: AsyncSession,
    *,
    now: datetime,
    outlet_ids: Collection[int] | None,
    area: str | None = None,
    search: str | None = None,
    page: int = 1,
    page_size: int = PAGE_SIZE,
) -> OutletList:
    """One page of outlets by name (then id), with open-now and stock-out/low counts."""
    page = max(page, 1)
    stmt = _filtered(
        select(
            Outlet.id,
            Outlet.name,
            Outlet.area_code,
            Outlet.kind,
            Outlet.active,
            Outlet.hours,
            Outlet.timezone,
            func.count().over().label("total"),
        ),
        outlet_ids=outlet_ids,
        area=area,
        search=search,
    )
    rows = (
        await session.execute(
            stmt.order_by(Outlet.name, Outlet.id).limit(page_size).offset((page - 1) * page_size)
        )
    ).all()
    if rows:
        total = int(rows[0].total)
    elif page > 1:  # past the end: say how many there are
        total = int(
            await session.scalar(
                _filtered(
                    select(func.count()).select_from(Outlet),
                    outlet_ids=outlet_ids,
                    area=area,
                    search=search,
                )
            )
            or 0
        )
    else:
        total = 0
    alarms = await _alarm_counts(session, [row.id for row in rows])
    closed = await closures.closed_now(session, outlet_ids=[row.id for row in rows], now=now)
    lines = [
        OutletLine(
            id=row.id,
            name=row.name,
            area_code=row.area_code,
            kind=row.kind,
            active=bool(row.active),
            open_now=row.id not in closed and is_open(row.hours, row.timezone, now),
            out=alarms.get(row.id, (0, 0))[0],
            low=alarms.get(row.id, (0, 0))[1],
        )
        for row in rows
    ]
    pages = max(1, -(-total // page_size))
    return OutletList(lines=lines, total=total, page=page, pages=pages)


async def _alarm_counts(session: AsyncSession, outlet_ids: list[int]) -> dict[int, tuple[int, int]]:
    """outlet id → (items out, items low but not out), for these outlets only."""
    if not outlet_ids:
        return {}
    available = Stock.quantity - Stock.reserved
    rows = await session.execute(
        select(
            Stock.outlet_id,
            func.count().filter(available <= 0).label("out"),
            func.count().filter(available > 0).label("low"),
        )
        .where(Stock.outlet_id.in_(outlet_ids), available <= Stock.low_threshold)
        .group_by(Stock.outlet_id)
    )
    return {row.outlet_id: (int(row.out), int(row.low)) for row in rows}


async def exists(session: AsyncSession, *, outlet_id: int) -> bool:
    """Whether there is an outlet with this id (ids from a URL may be anything)."""
    if not 0 < outlet_id <= MAX_ID:
        return False
    return await session.scalar(select(Outlet.id).where(Outlet.id == outlet_id)) is not None


async def outlet_detail(
    session: AsyncSession, *, outlet_id: int, now: datetime
) -> OutletDetail | None:
    """One outlet with every item it offers and the catalogue items it does not; None if none."""
    outlet = await session.get(Outlet, outlet_id) if 0 < outlet_id <= MAX_ID else None
    if outlet is None:
        return None
    stock = [
        StockLine(row.item_id, row.code, row.quantity, row.reserved, row.low_threshold)
        for row in await session.execute(
            select(Stock.item_id, Item.code, Stock.quantity, Stock.reserved, Stock.low_threshold)
            .join(Item, Item.id == Stock.item_id)
            .where(Stock.outlet_id == outlet_id)
            .order_by(Item.code)
        )
    ]
    offered = {line.item_id for line in stock}
    not_offered = [
        (row.id, row.code)
        for row in await session.execute(
            select(Item.id, Item.code).where(Item.active.is_(True)).order_by(Item.code)
        )
        if row.id not in offered
    ]
    return OutletDetail(
        id=outlet.id,
        key=outlet.key,
        name=outlet.name,
        area_code=outlet.area_code,
        kind=outlet.kind,
        instructions=outlet.instructions,
        meets_nearby=bool(outlet.meets_nearby),
        active=bool(outlet.active),
        open_now=is_open(outlet.hours, outlet.timezone, now)
        and not await closures.closed_now(session, outlet_ids=[outlet.id], now=now),
        hours=outlet.hours,
        timezone=outlet.timezone,
        stock=stock,
        not_offered=not_offered,
    )


__all__ = [
    "PAGE_SIZE",
    "OutletDetail",
    "OutletLine",
    "OutletList",
    "StockLine",
    "exists",
    "outlet_detail",
    "outlet_list",
]
