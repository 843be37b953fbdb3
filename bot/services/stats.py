"""Anonymous numbers for coordinators and funders, read from the daily counters.

Every request transition is counted into :mod:`bot.services.counts` when it happens (per day,
area or outlet, kind, item), and only those counters outlive the requests: the per-request
audit rows go with their request. So a report for last year still adds up after last year's
requests are gone, and a purge changes no number. The one exception is
:attr:`Stats.open_now`, a count of live rows (open requests are never purged).

Counters keep the day, so a window covers every (UTC) day it touches.

Small counts are kept exact, not suppressed or blurred: the counters must add up for funders
and stay the same through purges, and a count names no one by itself. What it can do, on a day
with a single request in an area, is describe that request (area, kind, items, outlet) as the
request row itself did while it lived; naming its person then takes another record placing one
person, and only that one, at the bot that day. Coordinators, who see these numbers, already
see the requests while they are open.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, time, timedelta

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.db.models import DailyCount, Item, Request
from bot.domain import OPEN_REQUEST_STATUSES, ItemCategory
from bot.services import counts, feedback, reversals

CLOSED = ("handed_over", "unrouted", "cancelled", "expired")
_CLOSING = {f"requests.{status}": status for status in CLOSED}
_PER_OUTLET = {
    "outlet.offered": "offered",
    "outlet.accepted": "accepted",
    "outlet.declined": "declined",
    "outlet.out_of_stock": "declined",
    "outlet.timed_out": "timed_out",
    "outlet.released": "released",
    "outlet.handed_over": "handed_over",
}
_MEASURES = sorted(
    {"requests.made", "requests.held", "accept.minutes", "outlet.packs", *_CLOSING, *_PER_OUTLET}
    | set(feedback.MEASURES)
    | {*reversals.MEASURES, reversals.GIVEN}
)


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
    """Numbers for the days ``[since, until)`` touches: no reference, person or code in here."""

    since: datetime
    until: datetime
    created_by_kind: Mapping[str, int] = field(default_factory=dict)
    closed_by_status: Mapping[str, int] = field(default_factory=dict)
    by_outlet: Mapping[int, OutletNumbers] = field(default_factory=dict)
    median_time_to_accept: timedelta | None = None
    naloxone_kits: int = 0
    open_now: int = 0
    # Unrouted, then held on the waiting list: counted by how they closed in the end.
    held: int = 0
    # After handovers: "up", "down" and each of feedback.REASONS, by name.
    feedback: Mapping[str, int] = field(default_factory=dict)
    # Naloxone kits peers recorded with /gave (handed out outside the bot).
    naloxone_kits_given: int = 0
    # Naloxone used, as people told us (/used): by area code, and by what happened.
    reversals_by_area: Mapping[str, int] = field(default_factory=dict)
    reversal_outcomes: Mapping[str, int] = field(default_factory=dict)
    # Of those, how many asked for a new kit at once.
    reversal_kits_asked: int = 0

    @property
    def reversals(self) -> int:
        """Uses of naloxone reported in the window."""
        return sum(self.reversals_by_area.values())

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
    """The numbers for the days from ``since``'s to the one just before ``until``."""
    await counts.flush(session)  # this transaction's own events count too
    last = until - timedelta(microseconds=1)
    rows = (
        await session.execute(
            select(
                DailyCount.measure,
                DailyCount.area_code,
                DailyCount.outlet_id,
                DailyCount.kind,
                DailyCount.item_code,
                DailyCount.bucket,
                func.sum(DailyCount.count).label("n"),
            )
            .where(
                DailyCount.measure.in_(_MEASURES),
                DailyCount.day >= counts.day_of(since),
                DailyCount.day <= counts.day_of(last),
            )
            .group_by(
                DailyCount.measure,
                DailyCount.area_code,
                DailyCount.outlet_id,
                DailyCount.kind,
                DailyCount.item_code,
                DailyCount.bucket,
            )
        )
    ).all()
    by_kind: dict[str, int] = defaultdict(int)
    by_status: dict[str, int] = defaultdict(int)
    by_outlet: dict[int, OutletNumbers] = defaultdict(OutletNumbers)
    waits: dict[int, int] = defaultdict(int)
    handed: dict[str, int] = defaultdict(int)
    rated: dict[str, int] = defaultdict(int)
    given: dict[str, int] = defaultdict(int)
    used: dict[str, int] = defaultdict(int)
    outcomes: dict[str, int] = defaultdict(int)
    held = kits_asked = 0
    for row in rows:
        n = int(row.n or 0)
        if row.measure == "requests.held":
            held += n
        elif row.measure == "requests.made":
            by_kind[row.kind or "unknown"] += n
        elif row.measure in _CLOSING:
            by_status[_CLOSING[row.measure]] += n
        elif row.measure in _PER_OUTLET and row.outlet_id:
            numbers = by_outlet[row.outlet_id]
            name = _PER_OUTLET[row.measure]
            setattr(numbers, name, getattr(numbers, name) + n)
        elif row.measure == "accept.minutes":
            waits[row.bucket] += n
        elif row.measure == "outlet.packs" and row.item_code:
            handed[row.item_code] += n
        elif row.measure in feedback.MEASURES:
            rated[row.measure.removeprefix("feedback.")] += n
        elif row.measure == reversals.GIVEN and row.item_code:
            given[row.item_code] += n
        elif row.measure == reversals.REPORTED:
            used[row.area_code or "unknown"] += n
        elif row.measure == reversals.OUTCOME:
            outcomes[row.kind or "unknown"] += n
        elif row.measure == reversals.KIT_ASKED:
            kits_asked += n
    if held:
        # A held request reopened: its close is whatever ended it later, not "unrouted"
        # (an unrouted one held just after midnight could make this go below zero).
        by_status["unrouted"] = max(0, by_status["unrouted"] - held)
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
        median_time_to_accept=_median_minutes(waits),
        naloxone_kits=await _naloxone_kits(session, handed),
        open_now=open_now or 0,
        held=held,
        feedback=dict(rated),
        naloxone_kits_given=await _naloxone_kits(session, given),
        reversals_by_area=dict(used),
        reversal_outcomes=dict(outcomes),
        reversal_kits_asked=kits_asked,
    )


def last_days(now: datetime, days: int) -> tuple[datetime, datetime]:
    """The window of ``/stats DAYS``: today, up to and including ``now`` (its events count),
    and the ``days - 1`` whole days before it."""
    start = datetime.combine(counts.day_of(now) - timedelta(days=days - 1), time(), tzinfo=UTC)
    return start, now + timedelta(microseconds=1)


def _median_minutes(waits: Mapping[int, int]) -> timedelta | None:
    """The median of a histogram of whole minutes (two middle values are averaged)."""
    total = sum(waits.values())
    if total <= 0:
        return None
    wanted = [(total - 1) // 2, total // 2]  # 0-based positions of the middle value(s)
    found: list[int] = []
    seen = 0
    for minutes, n in sorted(waits.items()):
        while wanted and wanted[0] < seen + n:
            found.append(minutes)
            wanted.pop(0)
        seen += n
    return timedelta(minutes=sum(found) / len(found))


async def _naloxone_kits(session: AsyncSession, packs: Mapping[str, int]) -> int:
    """Naloxone kits handed over: packs × pack size of the naloxone items."""
    if not packs:
        return 0
    sizes = {
        row.code: row.pack_size
        for row in await session.execute(
            select(Item.code, Item.pack_size).where(
                Item.code.in_(sorted(packs)), Item.category == ItemCategory.NALOXONE
            )
        )
    }
    return sum(n * sizes[code] for code, n in packs.items() if code in sizes)


__all__ = ["CLOSED", "OutletNumbers", "Stats", "compute", "last_days"]
