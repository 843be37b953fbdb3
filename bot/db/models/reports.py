"""Community reports of a bad batch: anonymous, reviewed by coordinators, purged on retention.

A report holds no contact id, pseudonym or address. ``author_tag`` is a salted keyed hash of
its author's pseudonym (:mod:`bot.privacy.authorship`): without the key it ties the report to
no one, with it only the author's own ``/forget`` uses it, to delete their reports. Its time
is kept to the hour only, so it cannot be matched to one message in a platform's records.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import ForeignKey, Index, LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column

from bot.db.base import Base
from bot.db.models._columns import created_column, enum_column, when_column


class ReportStatus(StrEnum):
    NEW = "new"
    DISMISSED = "dismissed"
    DRAFTED = "drafted"  # turned into a draft alert


class Report(Base):
    """What someone saw: what it was sold as, roughly where, what happened."""

    __tablename__ = "reports"
    __table_args__ = (Index("ix_reports_status_created", "status", "created_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    status: Mapped[ReportStatus] = enum_column(ReportStatus, default=ReportStatus.NEW)
    sold_as: Mapped[str] = mapped_column(String(200))
    area_code: Mapped[str | None] = mapped_column(String(32))
    what_happened: Mapped[str] = mapped_column(String(1000))
    appearance: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[datetime] = created_column()
    reviewed_at: Mapped[datetime | None] = when_column()
    alert_id: Mapped[int | None] = mapped_column(ForeignKey("alerts.id", ondelete="SET NULL"))
    # None for reports sent before authors were tagged.
    author_tag: Mapped[bytes | None] = mapped_column(LargeBinary(48))
