"""Anonymous daily counters: what funders need, kept after the per-request rows are gone."""

from __future__ import annotations

from datetime import date

from sqlalchemy import Date, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from bot.db.base import Base


class DailyCount(Base):
    """How many times ``measure`` happened on ``day`` (UTC) for one combination of dimensions.

    A dimension that does not apply holds ``""`` (or ``0`` for ``outlet_id`` and ``bucket``),
    never NULL: the columns form the primary key, which an upsert conflicts on, and NULLs are
    never equal in a key. No column can name a person, a request or a time finer than the day.
    ``bucket`` is the value a distribution is counted by (minutes to accept), else 0.
    """

    __tablename__ = "daily_counts"
    __table_args__ = (
        # The console reads a measure over a range of days (a year of them): this answers it
        # from the index alone, without a lookup into the table for every row.
        Index(
            "ix_daily_counts_measure_day",
            "measure",
            "day",
            "kind",
            "bucket",
            "item_code",
            "area_code",
            "outlet_id",
            "count",
        ),
    )

    day: Mapped[date] = mapped_column(Date, primary_key=True)
    measure: Mapped[str] = mapped_column(String(32), primary_key=True)
    area_code: Mapped[str] = mapped_column(String(32), primary_key=True, default="")
    # No foreign key: the numbers outlive whatever they count.
    outlet_id: Mapped[int] = mapped_column(
        Integer, primary_key=True, default=0, autoincrement=False
    )
    kind: Mapped[str] = mapped_column(String(16), primary_key=True, default="")
    item_code: Mapped[str] = mapped_column(String(24), primary_key=True, default="")
    bucket: Mapped[int] = mapped_column(Integer, primary_key=True, default=0, autoincrement=False)
    count: Mapped[int] = mapped_column(Integer, nullable=False)


class WeeklyCount(Base):
    """The daily counters of one whole ISO week (``week`` is its Monday), summed, for readers
    of long ranges (:mod:`bot.services.rollup`): a year is 53 rows per key instead of 371.

    Keyed like :class:`DailyCount`, plus the week's totals: rows with ``area_code = "*"``
    (never a real code) hold each measure summed over every area and outlet, and over every
    kind (``kind = "*"``) except for ``requests.made``, so a chart of a year reads a few
    thousand rows, not a hundred thousand. Readers pick ``area_code = "*"`` *or*
    ``area_code != "*"``, never both. Written once per week by the due-work clock, after
    the week is over, and never changed.
    """

    __tablename__ = "weekly_counts"
    __table_args__ = (
        Index(
            "ix_weekly_counts_measure_week",
            "measure",
            "week",
            "outlet_id",
            "kind",
            "bucket",
            "item_code",
            "area_code",
            "count",
        ),
        # A chart of a year reads only the weeks' totals (area "*").
        Index(
            "ix_weekly_counts_totals",
            "area_code",
            "measure",
            "week",
            "kind",
            "bucket",
            "item_code",
            "count",
        ),
        # The console's by-outlet table reads a page of outlets at a time.
        Index("ix_weekly_counts_outlet", "outlet_id", "measure", "week", "item_code", "count"),
    )

    week: Mapped[date] = mapped_column(Date, primary_key=True)
    measure: Mapped[str] = mapped_column(String(32), primary_key=True)
    area_code: Mapped[str] = mapped_column(String(32), primary_key=True, default="")
    outlet_id: Mapped[int] = mapped_column(
        Integer, primary_key=True, default=0, autoincrement=False
    )
    kind: Mapped[str] = mapped_column(String(16), primary_key=True, default="")
    item_code: Mapped[str] = mapped_column(String(24), primary_key=True, default="")
    bucket: Mapped[int] = mapped_column(Integer, primary_key=True, default=0, autoincrement=False)
    count: Mapped[int] = mapped_column(Integer, nullable=False)


class WeeklyRollup(Base):
    """A week whose daily counters are in :class:`WeeklyCount` (a week with none too, so an
    empty week is not rolled again and again). Its row is the claim: two instances rolling
    at once insert it, and only the one that did writes the week."""

    __tablename__ = "weekly_rollups"

    week: Mapped[date] = mapped_column(Date, primary_key=True)


class OutletRunningTotal(Base):
    """What one outlet did over every rolled week from the first one up to and including
    ``week`` (its Monday), so that the by-outlet totals of a run of weeks are two rows per
    outlet, not one per week (:mod:`bot.services.running`).

    Written in week order by the rollup, after ``week`` is rolled, and never changed: a row for
    every outlet counted so far, each week, ``rows`` the weekly counter rows summed (an outlet
    listed for a range is one with a counter in it, even a count of 0). The row of outlet 0
    (never an outlet) marks the week as written, even when no outlet counted anything yet.
    ``declined`` includes out of stock, as the console shows it; packs are not here.
    """

    __tablename__ = "outlet_running_totals"

    week: Mapped[date] = mapped_column(Date, primary_key=True)
    outlet_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    rows: Mapped[int] = mapped_column(Integer, nullable=False)
    offered: Mapped[int] = mapped_column(Integer, nullable=False)
    accepted: Mapped[int] = mapped_column(Integer, nullable=False)
    declined: Mapped[int] = mapped_column(Integer, nullable=False)
    timed_out: Mapped[int] = mapped_column(Integer, nullable=False)
    handed_over: Mapped[int] = mapped_column(Integer, nullable=False)
