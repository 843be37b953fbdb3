"""Alerts as coordinators survey them: current, scheduled, drafts and past, with progress.

One read of the same tables the outbox and ``/broadcast`` use, so an alert composed in chat
shows here with its deliveries as they complete. Progress is counted per alert in one
grouped query for the whole page (:func:`bot.services.alerts.tallies`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final

from sqlalchemy import and_, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.db.models import Alert
from bot.domain import AlertStatus
from bot.services import alerts
from bot.services.alerts import AlertView, Tally

__all__ = ["PAST_PAGE", "Board", "Row", "board"]

PAST_PAGE: Final = 20
_SHOWN: Final = 50  # current, scheduled and drafts are few; more than this is a mistake


@dataclass(frozen=True, slots=True)
class Row:
    """An alert and its deliveries so far."""

    alert: AlertView
    tally: Tally


@dataclass(frozen=True, slots=True)
class Board:
    current: list[Row]  # sending, or sent and not yet expired
    scheduled: list[Row]  # one-off schedules and repeating series
    drafts: list[Row]  # composed, not sent (a report-born one waits for its check)
    past: list[Row]  # expired, or stopped after it was scheduled or went out
    page: int
    more: bool  # an older page of past alerts exists


async def _ids(
    session: AsyncSession, where: Any, order: Any, *, limit: int, offset: int = 0
) -> list[int]:
    rows = await session.scalars(
        select(Alert.id).where(where).order_by(*order).limit(limit).offset(offset)
    )
    return list(rows)


async def board(session: AsyncSession, *, now: datetime, page: int = 0) -> Board:
    """Every section of the *Alerts* page; ``page`` counts pages of past alerts from 0."""
    live = or_(Alert.expires_at.is_(None), Alert.expires_at > now)
    gone_out = Alert.status.in_([AlertStatus.SENDING, AlertStatus.SENT])
    current = await _ids(
        session,
        and_(gone_out, Alert.recurrence.is_(None), live),
        [Alert.issued_at.desc(), Alert.id.desc()],
        limit=_SHOWN,
    )
    scheduled = await _ids(
        session, Alert.status == AlertStatus.SCHEDULED, [Alert.due_at, Alert.id], limit=_SHOWN
    )
    drafts = await _ids(session, Alert.status == AlertStatus.DRAFT, [Alert.id.desc()], limit=_SHOWN)
    past_where = or_(
        and_(gone_out, ~live),
        and_(gone_out, Alert.recurrence.is_not(None)),  # a series that ended
        # Stopped once it was scheduled or out; a draft dropped at its preview never was.
        and_(
            Alert.status == AlertStatus.CANCELLED,
            or_(Alert.issued_at.is_not(None), Alert.due_at.is_not(None)),
        ),
    )
    page = max(page, 0)
    past = await _ids(
        session,
        past_where,
        [Alert.id.desc()],
        limit=PAST_PAGE + 1,
        offset=page * PAST_PAGE,
    )
    more = len(past) > PAST_PAGE
    past = past[:PAST_PAGE]
    every = [*current, *scheduled, *drafts, *past]
    views = {v.id: v for v in await alerts.get_many(session, alert_ids=every)}
    counts = await alerts.tallies(session, alert_ids=every)

    def rows(ids: list[int]) -> list[Row]:
        return [Row(views[i], counts[i]) for i in ids if i in views]

    return Board(
        current=rows(current),
        scheduled=rows(scheduled),
        drafts=rows(drafts),
        past=rows(past),
        page=page,
        more=more,
    )
