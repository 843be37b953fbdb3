"""One-tap feedback after a handover (👍 / 👎, and for 👎 an optional reason).

Kept only as the day's counters (:mod:`bot.services.counts`): ``feedback.up``,
``feedback.down`` and one ``feedback.<reason>`` per reason. The request row keeps only that it
was answered (``feedback_given``), never the answer, so one request is answered once, and the
row (with the flag) goes at the retention purge like the rest of it.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.db.models import Request
from bot.domain import RequestStatus
from bot.services import counts

UP = "feedback.up"
DOWN = "feedback.down"
# Why a 👎, in the order offered: waited too long, not what I asked for, felt unsafe.
REASONS = ("waited", "not_asked", "unsafe")
MEASURES = (UP, DOWN, *(f"feedback.{reason}" for reason in REASONS))


async def rate(
    session: AsyncSession, *, request_id: int, contact_id: int, good: bool, now: datetime
) -> bool:
    """Count 👍 (``good``) or 👎 for a request ``contact_id`` made and got handed over.

    False, counting nothing, when the request is not theirs, not handed over, gone, or already
    answered: one conditional UPDATE, so two taps at once count once.
    """
    answered = await session.execute(
        update(Request)
        .where(
            Request.id == request_id,
            Request.contact_id == contact_id,
            Request.status == RequestStatus.HANDED_OVER,
            Request.feedback_given.is_(False),
        )
        .values(feedback_given=True)
        .returning(Request.id)
    )
    if answered.first() is None:
        return False
    counts.add(session, counts.Key(counts.day_of(now), UP if good else DOWN))
    return True


def add_reason(session: AsyncSession, *, reason: str, now: datetime) -> None:
    """Count one reason given for a 👎 (the caller allows one per 👎)."""
    if reason not in REASONS:
        raise ValueError(f"unknown feedback reason {reason!r}")
    counts.add(session, counts.Key(counts.day_of(now), f"feedback.{reason}"))
