"""Append anonymous events to the audit log: roles and references, never people.

An event row is a per-request record, kept only while its request is (see
:mod:`bot.services.retention` and ``/forget``); what funders need is counted from it into
:mod:`bot.services.counts` when it is recorded, in the same transaction, and kept there.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import delete
from sqlalchemy.ext.asyncio import AsyncSession

from bot.db.models import AuditEvent
from bot.privacy import hour_of
from bot.services import counts


async def record(
    session: AsyncSession,
    *,
    actor: str,
    action: str,
    subject: str | None = None,
    detail: dict[str, Any] | None = None,
    now: datetime,
) -> None:
    """Add one event and count it. ``actor`` is a role (cli, coordinator, peer, system), never
    an id.

    The row outlives the update behind it, so only its hour is kept: an exact time would match
    the platform's record of that update (or someone watching the outlet) and name the person.
    """
    detail = detail or {}
    session.add(
        AuditEvent(at=hour_of(now), actor=actor, action=action, subject=subject, detail=detail)
    )
    await counts.count_event(session, action=action, subject=subject, detail=detail, now=now)


async def forget_subjects(session: AsyncSession, *, references: list[str]) -> int:
    """Delete the events about these request references (their counts stay); how many.

    Call it while the requests still exist: a reference is unique among live requests, so no
    other request's events can share it then.
    """
    done = 0
    for start in range(0, len(references), 500):
        chunk = references[start : start + 500]
        result = await session.execute(
            delete(AuditEvent).where(AuditEvent.subject.in_(chunk)).returning(AuditEvent.id)
        )
        done += len(result.all())
    return done
