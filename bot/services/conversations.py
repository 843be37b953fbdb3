"""Where each contact is in a conversation, as a row (restarts and other instances agree)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Final

from sqlalchemy import Row, bindparam, delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.db.models import ConversationState
from bot.db.upsert import upserts


@dataclass
class State:
    """A flow name, a step within it, and small JSON-able data (no identifiers, no free text)."""

    flow: str
    step: str
    data: dict[str, Any] = field(default_factory=dict)


# What a state is read from: select these (alone, or joined into a bigger query) and pass
# the row to from_row().
COLUMNS = (
    ConversationState.flow,
    ConversationState.step,
    ConversationState.data,
    ConversationState.expires_at,
)


async def load(session: AsyncSession, *, contact_id: int, now: datetime) -> State | None:
    """The contact's current state, or None when there is none or it went stale."""
    row = (
        await session.execute(select(*COLUMNS).where(ConversationState.contact_id == contact_id))
    ).first()
    return await from_row(session, row, contact_id=contact_id, now=now)


async def from_row(
    session: AsyncSession, row: Row[Any] | None, *, contact_id: int, now: datetime
) -> State | None:
    """The state in ``row`` (read with :data:`COLUMNS`; all None when the contact has none).

    A lapsed state is deleted and reads as None.
    """
    if row is None or row.flow is None:
        return None
    if row.expires_at is not None and row.expires_at <= now:
        await _delete(session, contact_id)
        return None
    return State(flow=row.flow, step=row.step, data=dict(row.data))


async def save(
    session: AsyncSession, *, contact_id: int, state: State | None, now: datetime, ttl: timedelta
) -> None:
    """Store ``state`` (or remove it when None); it lapses after ``ttl`` of silence.

    One statement either way and no read first: this runs on every update.
    """
    if state is None:
        await _delete(session, contact_id)
        return
    await session.execute(
        _UPSERT[session.get_bind().dialect.name],
        {
            "contact_id": contact_id,
            "flow": state.flow,
            "step": state.step,
            "data": dict(state.data),
            "updated_at": now,
            "expires_at": now + ttl,
        },
    )


# save() runs on almost every update: built once (bot.db.upsert).
_UPSERT: Final = upserts(
    ConversationState, "contact_id", ("flow", "step", "data", "updated_at", "expires_at")
)
_DELETE: Final = delete(ConversationState).where(
    ConversationState.contact_id == bindparam("contact_id")
)


async def _delete(session: AsyncSession, contact_id: int) -> None:
    await session.execute(_DELETE, {"contact_id": contact_id})


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
