"""Every table, imported in one place so metadata (and Alembic) sees them all."""

from bot.db.models.alerts import (
    EVERYWHERE,
    Alert,
    AlertArea,
    AlertPhoto,
    Delivery,
    FollowUp,
    Subscription,
)
from bot.db.models.audit import AuditEvent, SeenUpdate
from bot.db.models.console import ConsoleLink, ConsoleSession
from bot.db.models.consultations import (
    Consultation,
    ConsultationCount,
    ConsultationParticipant,
    ConsultationStatus,
    ConsultationText,
)
from bot.db.models.counts import DailyCount, OutletRunningTotal, WeeklyCount, WeeklyRollup
from bot.db.models.menus import ShownMenu
from bot.db.models.notices import PendingMessage
from bot.db.models.outlets import Item, Outlet, OutletClosure, Stock
from bot.db.models.people import Contact, ConversationState, Coordinator, Invite, PeerWorker
from bot.db.models.relay import RelayLine
from bot.db.models.reports import Report, ReportStatus
from bot.db.models.requests import Offer, Request, RequestItem

__all__ = [
    "EVERYWHERE",
    "Alert",
    "AlertArea",
    "AlertPhoto",
    "AuditEvent",
    "ConsoleLink",
    "ConsoleSession",
    "Consultation",
    "ConsultationCount",
    "ConsultationParticipant",
    "ConsultationStatus",
    "ConsultationText",
    "Contact",
    "ConversationState",
    "Coordinator",
    "DailyCount",
    "Delivery",
    "FollowUp",
    "Invite",
    "Item",
    "Offer",
    "Outlet",
    "OutletClosure",
    "OutletRunningTotal",
    "PeerWorker",
    "PendingMessage",
    "RelayLine",
    "Report",
    "ReportStatus",
    "Request",
    "RequestItem",
    "SeenUpdate",
    "ShownMenu",
    "Stock",
    "Subscription",
    "WeeklyCount",
    "WeeklyRollup",
]
