"""Where each contact is in a conversation, as a row (restarts and other instances agree)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.db.models import ConversationState


@dataclass
class State:
    """A flow name, a step within it, and small JSON-able data (no identifiers, no free text)."""

    flow: str
    step: str
    data: dict[str, Any] = field(default_factory=dict)


async def load(session: AsyncSession, *, contact_id: int, now: datetime) -> State | None:
    """The contact's current state, or None when there is none or it went stale."""
    row = await session.get(ConversationState, contact_id)
    if row is None:
        return None
    if row.expires_at is not None and row.expires_at <= now:
        await session.delete(row)
        return None
    return State(flow=row.flow, step=row.step, data=dict(row.data))


async def save(
    session: AsyncSession, *, contact_id: int, state: State | None, now: datetime, ttl: timedelta
) -> None:
    """Store ``state`` (or remove it when None); it lapses after ``ttl`` of silence."""
    row = await session.get(ConversationState, contact_id)
    if state is None:
        if row is not None:
            await session.delete(row)
        return
    if row is None:
        row = ConversationState(contact_id=contact_id, flow=state.flow, step=state.step)
        session.add(row)
    row.flow, row.step, row.data = state.flow, state.step, dict(state.data)
    row.updated_at, row.expires_at = now, now + ttl


async def purge_stale(session: AsyncSession, *, now: datetime) -> int:
    """Delete lapsed states; returns how many."""
    result = await session.execute(
        delete(ConversationState)
        .where(ConversationState.expires_at <= now)
        .returning(ConversationState.contact_id)
    )
    return len(result.all())


async def current_flow(session: AsyncSession, *, contact_id: int) -> str | None:
    """Just the flow name, for routing decisions."""
    return await session.scalar(
        select(ConversationState.flow).where(ConversationState.contact_id == contact_id)
    )
