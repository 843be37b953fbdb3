"""Where requests went unrouted: by coarse cell and by area, small counts hidden.

Counted when a request goes unrouted (``cells.unrouted`` and ``requests.unrouted`` in
:mod:`bot.services.counts`), every time it does, held on the waiting list or not: the question
is where nothing could take a request, not how it closed. Only the coarse cell's code (about
2 km, :mod:`bot.privacy.coarse`) is ever counted; a request without a location counts for its
area only. Counts pass through :func:`bot.services.suppression.publish` like every number the
console shows.
"""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass
from datetime import date

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.db.models import DailyCount
from bot.services import counts
from bot.services.suppression import Shown, publish

__all__ = ["AreaGap", "CellGap", "Coverage", "coverage"]

_CELL = re.compile(r"c(?P<deg>[0-9.]+):(?P<i>-?[0-9]+):(?P<j>-?[0-9]+)")


@dataclass(frozen=True, slots=True)
class CellGap:
    """A grid cell: ``row``/``col`` are its latitude/longitude indices (north is a higher row),
    ``lat``/``lon`` its centre, for laying cells out as a grid or naming them on a map."""

    code: str
    row: int
    col: int
    lat: float
    lon: float
    unrouted: Shown


@dataclass(frozen=True, slots=True)
class AreaGap:
    """An area's unrouted requests."""

    area_code: str
    unrouted: Shown


@dataclass(frozen=True, slots=True)
class Coverage:
    """Days ``[since, until)``; cells and areas with any unrouted request, most first."""

    since: date
    until: date
    cells: tuple[CellGap, ...]
    areas: tuple[AreaGap, ...]
    total: Shown


def _order(shown: Shown) -> int:
    # Hidden counts (1-4) after every shown one, before none.
    return -(shown.value if shown.value is not None else 1)


async def coverage(session: AsyncSession, *, since: date, until: date) -> Coverage:
    """Unrouted requests for the UTC days ``since`` up to, not including, ``until``."""
    if until <= since:
        raise ValueError("until must be after since")
    await counts.flush(session)
    rows = await session.execute(
        select(DailyCount.measure, DailyCount.area_code, func.sum(DailyCount.count).label("n"))
        .where(
            DailyCount.measure.in_(["cells.unrouted", "requests.unrouted"]),
            DailyCount.day >= since,
            DailyCount.day < until,
        )
        .group_by(DailyCount.measure, DailyCount.area_code)
    )
    cells: dict[str, int] = defaultdict(int)
    areas: dict[str, int] = defaultdict(int)
    for row in rows:
        (cells if row.measure == "cells.unrouted" else areas)[row.area_code] += int(row.n or 0)
    gaps = []
    for code, n in cells.items():
        found = _CELL.fullmatch(code)
        if found is None or n <= 0:
            continue
        deg, i, j = float(found["deg"]), int(found["i"]), int(found["j"])
        gaps.append(
            CellGap(
                code=code,
                row=i,
                col=j,
                lat=round((i + 0.5) * deg, 9),
                lon=round((j + 0.5) * deg, 9),
                unrouted=publish(n),
            )
        )
    area_gaps = [AreaGap(code, publish(n)) for code, n in areas.items() if n > 0]
    return Coverage(
        since=since,
        until=until,
        cells=tuple(sorted(gaps, key=lambda g: (_order(g.unrouted), g.code))),
        areas=tuple(sorted(area_gaps, key=lambda a: (_order(a.unrouted), a.area_code))),
        total=publish(sum(areas.values())),
    )
