"""Append anonymous events to the audit log: roles and references, never people."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from bot.db.models import AuditEvent
from bot.privacy import hour_of


async def record(
    session: AsyncSession,
    *,
    actor: str,
    action: str,
    subject: str | None = None,
    detail: dict[str, Any] | None = None,
    now: datetime,
) -> None:
    """Add one event. ``actor`` is a role (cli, coordinator, peer, system), never an id.

    The event is kept for years, so only its hour is: an exact time would match the platform's
    record of the update behind it (or someone watching the outlet) and name the person.
    """
    session.add(
        AuditEvent(
            at=hour_of(now), actor=actor, action=action, subject=subject, detail=detail or {}
        )
    )
