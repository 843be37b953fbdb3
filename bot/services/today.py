"""What needs attention now, for the console's *Today* page: counts and short lists only.

A coordinator sees every outlet; a peer sees only their own (``outlet_ids``). Nothing here
names a person: requests are counted by status, outlets and items are named, alerts are shown
by number with their progress.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Final

from sqlalchemy import ColumnElement, and_, func, select, true
from sqlalchemy.ext.asyncio import AsyncSession

from bot.db.models import Alert, Delivery, Item, Offer, Outlet, Report, ReportStatus, Request, Stock
from bot.domain import AlertStatus, DeliveryStatus, RequestStatus
from bot.services import closures
from bot.services.routing import is_open

UNROUTED_WINDOW: Final = timedelta(hours=24)
LIST_LIMIT: Final = 50  # rows per list on the page; the count says how many in all


@dataclass(frozen=True)
class StockAlarm:
    """An item at an outlet that is out (``available == 0``) or at/below its threshold."""

    outlet_id: int
    outlet_name: str
    item_code: str
    available: int
    low_threshold: int

    @property
    def out(self) -> bool:
        return self.available <= 0


@dataclass(frozen=True)
class Sending:
    """An alert on its way out: how many of its deliveries are done."""

    alert_id: int
    done: int
    total: int


@dataclass(frozen=True)
class Today:
    requests_by_status: dict[RequestStatus, int]
    unrouted_24h: int
    outlets_open: list[tuple[int, str]]  # (id, name), at most LIST_LIMIT
    outlets_open_count: int
    outlets_count: int
    stock_alarms: list[StockAlarm]  # stock-outs first, at most LIST_LIMIT
    stock_alarm_count: int
    sending: list[Sending]
    reports_new: int | None  # None for peers: the review queue is coordinators' work

    @property
    def open_requests(self) -> int:
        return sum(self.requests_by_status.values())


OPEN: Final = (
    RequestStatus.NEW,
    RequestStatus.WAITING,
    RequestStatus.OFFERED,
    RequestStatus.ACCEPTED,
)


def _at_outlets(outlet_ids: Collection[int] | None) -> ColumnElement[bool]:
    if outlet_ids is None:
        return true()
    return Request.current_outlet_id.in_(list(outlet_ids))


async def snapshot(
    session: AsyncSession, *, now: datetime, outlet_ids: Collection[int] | None
) -> Today:
    """Today's picture; ``outlet_ids`` None for everything (a coordinator)."""
    by_status = dict(
        (
            await session.execute(
                select(Request.status, func.count())
                .where(Request.status.in_(OPEN), _at_outlets(outlet_ids))
                .group_by(Request.status)
            )
        ).all()
    )
    requests_by_status = {status: int(by_status.get(status, 0)) for status in OPEN}
    unrouted = await session.scalar(
        select(func.count())
        .select_from(Request)
        .where(
            Request.status == RequestStatus.UNROUTED,
            Request.created_at >= now - UNROUTED_WINDOW,
        )
    )
    if outlet_ids is not None:
        # Unrouted requests have no outlet: a peer sees those that were offered to theirs.
        unrouted = await session.scalar(
            select(func.count(func.distinct(Request.id)))
            .select_from(Request)
            .join(Offer, Offer.request_id == Request.id)
            .where(
                Request.status == RequestStatus.UNROUTED,
                Request.created_at >= now - UNROUTED_WINDOW,
                Offer.outlet_id.in_(list(outlet_ids)),
            )
        )
    outlets = select(Outlet.id, Outlet.name, Outlet.hours, Outlet.timezone).where(
        Outlet.active.is_(True)
    )
    if outlet_ids is not None:
        outlets = outlets.where(Outlet.id.in_(list(outlet_ids)))
    rows = (await session.execute(outlets.order_by(Outlet.name, Outlet.id))).all()
    closed = await closures.closed_now(session, outlet_ids=[row.id for row in rows], now=now)
    open_now = [
        (row.id, row.name)
        for row in rows
        if row.id not in closed and is_open(row.hours, row.timezone, now)
    ]
    alarms = await _stock_alarms(session, outlet_ids)
    return Today(
        requests_by_status=requests_by_status,
        unrouted_24h=int(unrouted or 0),
        outlets_open=open_now[:LIST_LIMIT],
        outlets_open_count=len(open_now),
        outlets_count=len(rows),
        stock_alarms=alarms[:LIST_LIMIT],
        stock_alarm_count=len(alarms),
        sending=await _sending(session),
        reports_new=None if outlet_ids is not None else await _reports_new(session),
    )


async def _stock_alarms(
    session: AsyncSession, outlet_ids: Collection[int] | None
) -> list[StockAlarm]:
    available = Stock.quantity - Stock.reserved
    stmt = (
        select(Outlet.id, Outlet.name, Item.code, available.label("available"), Stock.low_threshold)
        .join(Outlet, Outlet.id == Stock.outlet_id)
        .join(Item, Item.id == Stock.item_id)
        .where(Outlet.active.is_(True), available <= Stock.low_threshold)
        .order_by(available, Outlet.name, Item.code)
    )
    if outlet_ids is not None:
        stmt = stmt.where(Stock.outlet_id.in_(list(outlet_ids)))
    return [
        StockAlarm(row[0], row[1], row[2], int(row[3]), int(row[4]))
        for row in (await session.execute(stmt)).all()
    ]


async def _sending(session: AsyncSession) -> list[Sending]:
    finished = Delivery.status.not_in((DeliveryStatus.PENDING, DeliveryStatus.SENDING))
    rows = (
        await session.execute(
            select(
                Delivery.alert_id,
                func.count().label("total"),
                func.count().filter(finished).label("done"),
            )
            .join(Alert, and_(Alert.id == Delivery.alert_id, Alert.status == AlertStatus.SENDING))
            .group_by(Delivery.alert_id)
            .order_by(Delivery.alert_id)
        )
    ).all()
    return [Sending(row.alert_id, int(row.done), int(row.total)) for row in rows]


async def _reports_new(session: AsyncSession) -> int:
    found = await session.scalar(
        select(func.count()).select_from(Report).where(Report.status == ReportStatus.NEW)
    )
    return int(found or 0)


__all__ = ["Sending", "StockAlarm", "Today", "snapshot"]
