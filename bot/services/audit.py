"""Append anonymous events to the audit log: roles and references, never people."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from bot.db.models import AuditEvent


async def record(
    session: AsyncSession,
    *,
    actor: str,
    action: str,
    subject: str | None = None,
    detail: dict[str, Any] | None = None,
    now: datetime,
) -> None:
    """Add one event. ``actor`` is a role (cli, coordinator, peer, system), never an id."""
    session.add(
        AuditEvent(at=now, actor=actor, action=action, subject=subject, detail=detail or {})
    )
