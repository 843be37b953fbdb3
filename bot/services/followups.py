"""Which earlier alerts can still get an update or an all clear.

An alert can be followed up while it is *current*: an original alert (not itself an update, not
a recurring template) that went out (sending or sent), has not expired and has had no all clear
sent. Making and sending the follow-up is :func:`bot.services.alerts.create_follow_up` and
:func:`~bot.services.alerts.send_now`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from sqlalchemy import exists, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.expression import Exists

from bot.db.models import Alert, FollowUp
from bot.domain import AlertStatus
from bot.services import alerts
from bot.services.alerts import AlertError, AlertView

__all__ = ["NOTE_CHARS", "Sent", "Standing", "current", "note_fields", "send", "standing"]

NOTE_CHARS = 200  # an all clear's note: a line, not a second alert

_OUT = (AlertStatus.SENDING, AlertStatus.SENT)


class Standing(StrEnum):
    """Whether an alert can be followed up, or why not."""

    CURRENT = "current"
    UNKNOWN = "unknown"  # no such alert
    NOT_SENT = "not_sent"  # a draft, a schedule, a stopped one, a template or itself a follow-up
    EXPIRED = "expired"
    CLEARED = "cleared"  # an all clear for it went out


def _cleared() -> Exists:
    child = Alert.__table__.alias("child")
    return exists().where(
        child.c.parent_id == Alert.id,
        child.c.follow_up == FollowUp.ALL_CLEAR.value,
        child.c.status.in_([s.value for s in _OUT]),
    )


async def current(session: AsyncSession, *, now: datetime, limit: int = 8) -> list[AlertView]:
    """The current alerts, newest first."""
    ids = await session.scalars(
        select(Alert.id)
        .where(
            Alert.status.in_(list(_OUT)),
            Alert.parent_id.is_(None),
            Alert.recurrence.is_(None),
            Alert.issued_at.is_not(None),
            or_(Alert.expires_at.is_(None), Alert.expires_at > now),
            ~_cleared(),
        )
        .order_by(Alert.issued_at.desc(), Alert.id.desc())
        .limit(limit)
    )
    views = [await alerts.get(session, alert_id=alert_id) for alert_id in ids]
    return [view for view in views if view is not None]


async def standing(
    session: AsyncSession, *, alert_id: int, now: datetime
) -> tuple[Standing, AlertView | None]:
    """Whether ``alert_id`` can be followed up now, and the alert when it exists."""
    view = await alerts.get(session, alert_id=alert_id)
    if view is None:
        return Standing.UNKNOWN, None
    if (
        view.status not in _OUT
        or view.parent_id is not None
        or view.recurrence is not None
        or view.issued_at is None
    ):
        return Standing.NOT_SENT, view
    cleared = await session.scalar(select(Alert.id).where(Alert.id == alert_id, _cleared()))
    if cleared is not None:
        return Standing.CLEARED, view
    if view.expired(now):
        return Standing.EXPIRED, view
    return Standing.CURRENT, view


def note_fields(typed: str) -> dict[str, str]:
    """An all clear's optional note as the fields it carries (``advice``); AlertError when it
    is not one line of plain text within :data:`NOTE_CHARS`. Empty means no note."""
    try:
        note = alerts.check_text("advice", typed, NOTE_CHARS)
    except AlertError as error:
        raise AlertError(str(error), code="note", field="advice") from None
    return {"advice": note} if note else {}


@dataclass(frozen=True, slots=True)
class Sent:
    """What :func:`send` did: the parent's standing (CURRENT when it went out; else why
    not, and the draft was dropped) and how many people it goes to."""

    standing: Standing
    recipients: int = 0


async def send(
    session: AsyncSession, *, alert_id: int, now: datetime, max_paid_stars: int = 0
) -> Sent:
    """Send a draft now. A follow-up goes only while its parent is still current: one that
    ended meanwhile (another coordinator's all clear, expiry) drops the draft instead, so an
    alert is never cleared twice. Raises AlertError as :func:`alerts.send_now` does; a paid
    draft over ``max_paid_stars`` goes free, as there."""
    draft = await alerts.get(session, alert_id=alert_id)
    if draft is None:
        raise AlertError("no such alert")
    if draft.parent_id is not None:
        parent, _ = await standing(session, alert_id=draft.parent_id, now=now)
        if parent is not Standing.CURRENT:
            await alerts.cancel(session, alert_id=alert_id, now=now)
            return Sent(parent)
    count = await alerts.send_now(
        session, alert_id=alert_id, now=now, max_paid_stars=max_paid_stars
    )
    return Sent(Standing.CURRENT, count)
