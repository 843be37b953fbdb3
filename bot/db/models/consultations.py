"""Community consultations: short anonymous surveys, answers kept only as aggregates.

Nothing here joins a person to an answer. ``consultation_participants`` says only that a
contact took part (one answer per person, and where the closing summary goes); it has no time,
no id shared with anything else, and goes once the summary is sent, on ``/forget`` and with the
contact. Answers are added to ``consultation_counts`` (consultation × question × value × area →
count) when a person finishes, and free texts are kept masked in ``consultation_texts`` under a
random id, with no contact and no time.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, Boolean, ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from bot.db.base import Base
from bot.db.models._columns import created_column, enum_column, when_column


class ConsultationStatus(StrEnum):
    DRAFT = "draft"  # written, not yet open
    OPEN = "open"  # taking answers until closes_at
    CLOSED = "closed"  # no more answers; the summary waits for a coordinator
    APPROVED = "approved"  # summary approved; the tick sends it to participants
    DONE = "done"  # summary sent, participants forgotten


class Consultation(Base):
    """One consultation: its words in every language (``content``), audience and dates.

    ``areas`` is a list of area codes; empty means everyone subscribed to any area.
    ``participants`` is a plain count (kept after the participant rows go); ``summary`` maps a
    locale to the "what you told us" text.
    """

    __tablename__ = "consultations"
    __table_args__ = (Index("ix_consultations_status_closes", "status", "closes_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    status: Mapped[ConsultationStatus] = enum_column(
        ConsultationStatus, default=ConsultationStatus.DRAFT
    )
    content: Mapped[dict[str, Any]] = mapped_column(JSON)
    areas: Mapped[list[str]] = mapped_column(JSON, default=list)
    created_at: Mapped[datetime] = created_column()
    closes_at: Mapped[datetime] = when_column(nullable=False)
    opened_at: Mapped[datetime | None] = when_column()
    closed_at: Mapped[datetime | None] = when_column()
    invitations_queued: Mapped[bool] = mapped_column(Boolean, default=False)
    invited: Mapped[int] = mapped_column(Integer, default=0)
    participants: Mapped[int] = mapped_column(Integer, default=0)
    summary: Mapped[dict[str, str] | None] = mapped_column(JSON(none_as_null=True))
    summary_sent: Mapped[int] = mapped_column(Integer, default=0)


class ConsultationParticipant(Base):
    """That a contact has answered a consultation: nothing else (no time, no answer)."""

    __tablename__ = "consultation_participants"

    consultation_id: Mapped[int] = mapped_column(
        ForeignKey("consultations.id", ondelete="CASCADE"), primary_key=True
    )
    contact_id: Mapped[int] = mapped_column(
        ForeignKey("contacts.id", ondelete="CASCADE"), primary_key=True, index=True
    )


class ConsultationCount(Base):
    """How many chose ``value`` for ``question`` in ``area_code`` ("" = area not given).

    ``question`` 0 counts participants (value ``done`` or ``stopped``); for the others,
    ``value`` is a choice number, a scale point, ``*`` (answered at all) or ``skip``.
    """

    __tablename__ = "consultation_counts"

    consultation_id: Mapped[int] = mapped_column(
        ForeignKey("consultations.id", ondelete="CASCADE"), primary_key=True
    )
    question: Mapped[int] = mapped_column(Integer, primary_key=True)
    value: Mapped[str] = mapped_column(String(8), primary_key=True)
    area_code: Mapped[str] = mapped_column(String(32), primary_key=True)
    count: Mapped[int] = mapped_column(Integer, default=0)


class ConsultationText(Base):
    """One free-text answer, masked as reports are, under a random id: no contact, no time."""

    __tablename__ = "consultation_texts"
    __table_args__ = (Index("ix_consultation_texts_question", "consultation_id", "question"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    consultation_id: Mapped[int] = mapped_column(ForeignKey("consultations.id", ondelete="CASCADE"))
    question: Mapped[int] = mapped_column(Integer)
    text: Mapped[str] = mapped_column(String(600))
