"""Domain vocabulary shared by services, handlers and models (no I/O here)."""

from __future__ import annotations

from enum import StrEnum


class Channel(StrEnum):
    TELEGRAM = "telegram"
    SIGNAL = "signal"


class Role(StrEnum):
    PEER = "peer"
    COORDINATOR = "coordinator"


class OutletKind(StrEnum):
    PEER = "peer"
    PHARMACY = "pharmacy"
    FIXED_SITE = "fixed_site"
    VAN = "van"


class ClosureReason(StrEnum):
    """Why an outlet is closed for a while (a code: no free text, so nothing personal)."""

    HOLIDAY = "holiday"
    CLOSED_TODAY = "closed_today"
    OTHER = "other"


class ItemCategory(StrEnum):
    EQUIPMENT = "equipment"
    NALOXONE = "naloxone"
    TEST_STRIPS = "test_strips"
    DISPOSAL = "disposal"


class RequestKind(StrEnum):
    EQUIPMENT = "equipment"
    NALOXONE = "naloxone"
    REFERRAL = "referral"


class RequestStatus(StrEnum):
    NEW = "new"
    # Nothing could take it yet; the person chose to hold it until something can.
    WAITING = "waiting"
    OFFERED = "offered"
    ACCEPTED = "accepted"
    HANDED_OVER = "handed_over"
    UNROUTED = "unrouted"
    CANCELLED = "cancelled"
    EXPIRED = "expired"


OPEN_REQUEST_STATUSES = frozenset(
    {RequestStatus.NEW, RequestStatus.WAITING, RequestStatus.OFFERED, RequestStatus.ACCEPTED}
)


class OfferStatus(StrEnum):
    PENDING = "pending"
    ACCEPTED = "accepted"
    DECLINED = "declined"
    TIMED_OUT = "timed_out"
    RELEASED = "released"
    WITHDRAWN = "withdrawn"
    HANDED_OVER = "handed_over"


class AlertKind(StrEnum):
    BAD_BATCH = "bad_batch"
    SAFETY = "safety"
    SERVICE_CHANGE = "service_change"


class AlertStatus(StrEnum):
    DRAFT = "draft"
    SCHEDULED = "scheduled"
    SENDING = "sending"
    SENT = "sent"
    CANCELLED = "cancelled"


class DeliveryStatus(StrEnum):
    PENDING = "pending"
    SENDING = "sending"
    SENT = "sent"
    FAILED = "failed"
    UNREACHABLE = "unreachable"
    UNKNOWN = "unknown"
    EXPIRED = "expired"
