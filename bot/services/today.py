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

from sqlalchemy import ColumnElement, and_, false, func, or_, select, true
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
    open_now, open_count, outlets_count = await _open_outlets(session, now, outlet_ids)
    alarms, alarm_count = await _stock_alarms(session, outlet_ids)
    return Today(
        requests_by_status=requests_by_status,
        unrouted_24h=int(unrouted or 0),
        outlets_open=open_now,
        outlets_open_count=open_count,
        outlets_count=outlets_count,
        stock_alarms=alarms,
        stock_alarm_count=alarm_count,
        sending=await _sending(session),
        reports_new=None if outlet_ids is not None else await _reports_new(session),
    )


async def _open_outlets(
    session: AsyncSession, now: datetime, outlet_ids: Collection[int] | None
) -> tuple[list[tuple[int, str]], int, int]:
    """(the first LIST_LIMIT open outlets by name, how many are open, how many active).

    Outlets share a few schedules: each distinct (hours, time zone) is counted in SQL and asked
    once whether it is open, instead of every outlet being loaded and asked. Outlets inside a
    one-off closure (few at any time) are left out first."""
    active = [Outlet.active.is_(True)]
    if outlet_ids is not None:
        active.append(Outlet.id.in_(list(outlet_ids)))
    total = int(await session.scalar(select(func.count()).select_from(Outlet).where(*active)) or 0)
    where = list(active)
    closed = await closures.closed_now(session, outlet_ids=outlet_ids, now=now)
    if closed:
        where.append(Outlet.id.not_in(sorted(closed)))
    schedules = (
        await session.execute(
            select(Outlet.hours, Outlet.timezone, func.count().label("n"))
            .where(*where)
            .group_by(Outlet.hours, Outlet.timezone)
        )
    ).all()
    is_open_now = [row for row in schedules if is_open(row.hours, row.timezone, now)]
    if not is_open_now:
        return [], 0, total
    # One IN list per time zone (zones are few): a flat OR per schedule would nest one level
    # per term, and SQLite refuses expressions deeper than 1,000.
    by_zone: dict[str, list[str]] = {}
    for row in is_open_now:
        by_zone.setdefault(row.timezone, []).append(row.hours)
    opened = or_(
        false(),
        *(
            and_(Outlet.timezone == zone, Outlet.hours.in_(texts))
            for zone, texts in sorted(by_zone.items())
        ),
    )
    listed = await session.execute(
        select(Outlet.id, Outlet.name)
        .where(*where, opened)
        .order_by(Outlet.name, Outlet.id)
        .limit(LIST_LIMIT)
    )
    return [(row.id, row.name) for row in listed], sum(row.n for row in is_open_now), total


async def _stock_alarms(
    session: AsyncSession, outlet_ids: Collection[int] | None
) -> tuple[list[StockAlarm], int]:
    """The first LIST_LIMIT alarms (stock-outs first) and how many there are."""
    available = Stock.quantity - Stock.reserved
    alarming = [Outlet.active.is_(True), available <= Stock.low_threshold]
    if outlet_ids is not None:
        alarming.append(Stock.outlet_id.in_(list(outlet_ids)))
    stmt = (
        select(Outlet.id, Outlet.name, Item.code, available.label("available"), Stock.low_threshold)
        .join(Outlet, Outlet.id == Stock.outlet_id)
        .join(Item, Item.id == Stock.item_id)
        .where(*alarming)
        .order_by(available, Outlet.name, Item.code)
        .limit(LIST_LIMIT)
    )
    total = await session.scalar(
        select(func.count())
        .select_from(Stock)
        .join(Outlet, Outlet.id == Stock.outlet_id)
        .where(*alarming)
    )
    found = [
        StockAlarm(row[0], row[1], row[2], int(row[3]), int(row[4]))
        for row in (await session.execute(stmt)).all()
    ]
    return found, int(total or 0)


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
