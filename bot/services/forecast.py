"""Days of stock left at each outlet, from what it handed over lately.

Current stock is the live ``stock`` row (:mod:`bot.services.stock`); use is the packs handed
over per outlet and item, counted per day when the handover happens (``outlet.packs`` in
:mod:`bot.services.counts`), so it survives the purge of the requests themselves. The mean daily
use over the last :data:`WINDOW_DAYS` days (today included) divides what is still available
(on the shelf, not promised to accepted requests). An outlet that opened within the window
looks slower than it is: the forecast errs towards "more days left" only there.

Two queries for every outlet at once: stock joined to items and active outlets, and one
``GROUP BY`` of the counters.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.db.models import DailyCount, Item, Outlet, Stock
from bot.services import counts

__all__ = ["LOW_DAYS", "WINDOW_DAYS", "Forecast", "StockState", "forecast"]

WINDOW_DAYS = 28
# Fewer days left than this is "low", whatever the outlet's own threshold says.
LOW_DAYS = 7


class StockState(StrEnum):
    STOCK_OUT = "stock-out"
    LOW = "low"
    OK = "ok"


@dataclass(frozen=True, slots=True)
class Forecast:
    """One item at one outlet: its count, recent use and how long it lasts."""

    outlet_id: int
    item_id: int
    item_code: str
    quantity: int
    reserved: int
    low_threshold: int
    daily_use: float  # packs handed over per day, mean over the window
    days_left: float | None  # None when nothing was handed over in the window
    state: StockState

    @property
    def available(self) -> int:
        """Packs on the shelf not promised to anyone (never below 0)."""
        return max(0, self.quantity - self.reserved)


async def forecast(
    session: AsyncSession,
    *,
    now: datetime,
    outlet_ids: Collection[int] | None = None,
    window_days: int = WINDOW_DAYS,
    low_days: int = LOW_DAYS,
) -> list[Forecast]:
    """Every stocked item of the active outlets (or only ``outlet_ids``), by outlet and item code.

    "stock-out" when nothing is available, "low" when at or below the outlet's threshold or
    lasting fewer than ``low_days`` days at the recent pace, else "ok".
    """
    if window_days < 1:
        raise ValueError("window_days must be at least 1")
    await counts.flush(session)
    stock = (
        select(
            Stock.outlet_id,
            Stock.item_id,
            Item.code,
            Stock.quantity,
            Stock.reserved,
            Stock.low_threshold,
        )
        .join(Item, Item.id == Stock.item_id)
        .join(Outlet, Outlet.id == Stock.outlet_id)
        .where(Outlet.active.is_(True))
    )
    today = counts.day_of(now)
    used = (
        select(DailyCount.outlet_id, DailyCount.item_code, func.sum(DailyCount.count).label("n"))
        .where(
            DailyCount.measure == "outlet.packs",
            DailyCount.day > today - timedelta(days=window_days),
            DailyCount.day <= today,
        )
        .group_by(DailyCount.outlet_id, DailyCount.item_code)
    )
    if outlet_ids is not None:
        wanted = sorted(set(outlet_ids))
        stock = stock.where(Stock.outlet_id.in_(wanted))
        used = used.where(DailyCount.outlet_id.in_(wanted))
    packs = {(row.outlet_id, row.item_code): int(row.n or 0) for row in await session.execute(used)}
    result = []
    for row in await session.execute(stock.order_by(Stock.outlet_id, Item.code)):
        daily_use = packs.get((row.outlet_id, row.code), 0) / window_days
        available = max(0, row.quantity - row.reserved)
        days_left = round(available / daily_use, 1) if daily_use > 0 else None
        if available <= 0:
            state = StockState.STOCK_OUT
        elif row.quantity <= row.low_threshold or (days_left is not None and days_left < low_days):
            state = StockState.LOW
        else:
            state = StockState.OK
        result.append(
            Forecast(
                outlet_id=row.outlet_id,
                item_id=row.item_id,
                item_code=row.code,
                quantity=row.quantity,
                reserved=row.reserved,
                low_threshold=row.low_threshold,
                daily_use=daily_use,
                days_left=days_left,
                state=state,
            )
        )
    return result
