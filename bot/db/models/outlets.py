"""Where supplies are handed over: outlets, the item catalogue mirror, and stock."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    false,
    func,
)
from sqlalchemy.orm import Mapped, mapped_column

from bot.db.base import Base
from bot.db.models._columns import created_column, enum_column, when_column
from bot.domain import ClosureReason, ItemCategory, OutletKind


class Outlet(Base):
    """A peer-run secondary NSP point, pharmacy, fixed site or van.

    Its exact position is used for routing only; people see ``area_code`` until a peer accepts.
    """

    __tablename__ = "outlets"
    __table_args__ = (
        # The routing query prefilters on a latitude band, then longitude (SQLite; PostgreSQL
        # uses ix_outlets_point below).
        Index("ix_outlets_active_lat_lon", "active", "latitude", "longitude"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(120))
    kind: Mapped[OutletKind] = enum_column(OutletKind)
    area_code: Mapped[str] = mapped_column(String(32))
    latitude: Mapped[float] = mapped_column(Float)
    longitude: Mapped[float] = mapped_column(Float)
    timezone: Mapped[str] = mapped_column(String(64))
    instructions: Mapped[str] = mapped_column(Text, default="")
    # OpenStreetMap opening_hours syntax in the outlet's own zone (see bot.content.hours).
    hours: Mapped[str] = mapped_column(String(255), default="closed")
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    # Outreach: besides pickup here, its peers meet a person nearby, at a public place the
    # person names through the masked line (see bot/services/relay.py).
    meets_nearby: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    created_at: Mapped[datetime] = created_column()
    updated_at: Mapped[datetime | None] = when_column()


# PostgreSQL only: a GiST box search visits just the box, where the B-tree above walks the whole
# latitude band (built-in geometry, no PostGIS).
Index(
    "ix_outlets_point",
    func.point(Outlet.longitude, Outlet.latitude),
    postgresql_using="gist",
).ddl_if(dialect="postgresql")


class Item(Base):
    """One catalogue entry, mirrored from content/ so stock and requests can refer to it."""

    __tablename__ = "items"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(24), unique=True)
    category: Mapped[ItemCategory] = enum_column(ItemCategory)
    pack_size: Mapped[int] = mapped_column(Integer)
    active: Mapped[bool] = mapped_column(Boolean, default=True)


class Stock(Base):
    """How many packs of an item an outlet holds; ``reserved`` is promised to accepted requests."""

    __tablename__ = "stock"
    __table_args__ = (
        CheckConstraint("quantity >= 0", name="quantity_not_negative"),
        CheckConstraint("reserved >= 0", name="reserved_not_negative"),
        # Covers routing's "enough left?" test: answered from the index, no table read.
        Index("ix_stock_available", "outlet_id", "item_id", "quantity", "reserved"),
    )

    outlet_id: Mapped[int] = mapped_column(
        ForeignKey("outlets.id", ondelete="CASCADE"), primary_key=True
    )
    item_id: Mapped[int] = mapped_column(
        ForeignKey("items.id", ondelete="CASCADE"), primary_key=True
    )
    quantity: Mapped[int] = mapped_column(Integer, default=0)
    reserved: Mapped[int] = mapped_column(Integer, default=0)
    low_threshold: Mapped[int] = mapped_column(Integer, default=5)
    # Set when coordinators were told the count crossed the threshold; cleared on restock.
    low_notified: Mapped[bool] = mapped_column(Boolean, default=False)


class OutletClosure(Base):
    """A one-off closure: the outlet counts as closed in ``[starts_at, ends_at)`` whatever its
    hours say.

    ``created_by`` is the role that set it (peer, coordinator, web, cli), as in the audit log.
    Rows are deleted by the retention sweep once they have ended.
    """

    __tablename__ = "outlet_closures"
    __table_args__ = (
        CheckConstraint("ends_at > starts_at", name="closure_ends_after_start"),
        # Routing asks "is this outlet closed now?": outlet first, then the end.
        Index("ix_outlet_closures_outlet_ends", "outlet_id", "ends_at", "starts_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    outlet_id: Mapped[int] = mapped_column(ForeignKey("outlets.id", ondelete="CASCADE"))
    starts_at: Mapped[datetime] = created_column()
    ends_at: Mapped[datetime] = created_column()
    reason: Mapped[ClosureReason] = enum_column(ClosureReason)
    created_by: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime] = created_column()
