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
