"""Requests for supplies, naloxone or a referral, their items and the offers made to outlets."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, ForeignKey, Index, Integer, LargeBinary, String, false
from sqlalchemy.orm import Mapped, mapped_column

from bot.db.base import Base
from bot.db.models._columns import created_column, enum_column, when_column
from bot.domain import OfferStatus, RequestKind, RequestStatus


class Request(Base):
    """One ask from a contact. Location is kept only as a coarse area and grid cell."""

    __tablename__ = "requests"
    __table_args__ = (
        Index("ix_requests_status_expires", "status", "expires_at"),
        Index("ix_requests_contact_status", "contact_id", "status"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    reference: Mapped[str] = mapped_column(String(12), unique=True)
    contact_id: Mapped[int] = mapped_column(ForeignKey("contacts.id", ondelete="CASCADE"))
    kind: Mapped[RequestKind] = enum_column(RequestKind)
    status: Mapped[RequestStatus] = enum_column(RequestStatus, default=RequestStatus.NEW)
    area_code: Mapped[str | None] = mapped_column(String(32))
    cell_lat: Mapped[float | None] = mapped_column()
    cell_lon: Mapped[float | None] = mapped_column()
    referral_type: Mapped[str | None] = mapped_column(String(32))
    current_outlet_id: Mapped[int | None] = mapped_column(
        ForeignKey("outlets.id", ondelete="SET NULL")
    )
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    pickup_code_hash: Mapped[str | None] = mapped_column(String(64))
    # The code itself, sealed with the address key, only while accepted: /status shows it
    # again, so a lost message is not a lost pickup. Cleared when the request leaves `accepted`.
    pickup_code_sealed: Mapped[bytes | None] = mapped_column(LargeBinary)
    # Wrong pickup codes typed for this request, across taps and outlets: at the cap it is
    # frozen (no handover; coordinators are told).
    code_tries: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    # Whether the person answered "how was it?" after the handover: one answer per request.
    # Not what they answered: that goes only into the day's counters (feedback.*).
    # Server default only: inserts written for older revisions (tests/db) name no such column.
    feedback_given: Mapped[bool] = mapped_column(Boolean, server_default=false())
    # The peer-worker ids of the person who asked (usually none), sealed with the address key
    # and padded, on every request alike: routing never offers a request to its own maker,
    # even on a later cascade, and the dump shows no link from a request to a role. Cleared
    # when the request closes.
    requester_peers: Mapped[bytes | None] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = created_column()
    updated_at: Mapped[datetime | None] = when_column()
    accepted_at: Mapped[datetime | None] = when_column()
    closed_at: Mapped[datetime | None] = when_column()
    expires_at: Mapped[datetime] = when_column(nullable=False)


class RequestItem(Base):
    """How many packs of one item a request asks for."""

    __tablename__ = "request_items"

    request_id: Mapped[int] = mapped_column(
        ForeignKey("requests.id", ondelete="CASCADE"), primary_key=True
    )
    item_id: Mapped[int] = mapped_column(ForeignKey("items.id"), primary_key=True)
    packs: Mapped[int] = mapped_column(Integer)


class Offer(Base):
    """A request offered to one outlet's on-shift peers until a deadline."""

    __tablename__ = "offers"
    __table_args__ = (Index("ix_offers_status_deadline", "status", "deadline_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    request_id: Mapped[int] = mapped_column(ForeignKey("requests.id", ondelete="CASCADE"))
    outlet_id: Mapped[int] = mapped_column(ForeignKey("outlets.id", ondelete="CASCADE"))
    status: Mapped[OfferStatus] = enum_column(OfferStatus, default=OfferStatus.PENDING)
    accepted_by_id: Mapped[int | None] = mapped_column(
        ForeignKey("peer_workers.id", ondelete="SET NULL")
    )
    created_at: Mapped[datetime] = created_column()
    deadline_at: Mapped[datetime] = when_column(nullable=False)
    answered_at: Mapped[datetime | None] = when_column()
