"""Conversation state rows: saved by upsert, read back, removed, lapsing after their TTL."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.db.models import ConversationState
from bot.services import conversations
from bot.services.conversations import State
from tests.services.factories import NOW, add_contact

TTL = timedelta(hours=2)


async def test_save_inserts_then_updates_one_row(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    async with sessions.begin() as session:
        contact_id = await add_contact(session)
        await conversations.save(
            session, contact_id=contact_id, state=State("supplies", "items"), now=NOW, ttl=TTL
        )
    later = NOW + timedelta(minutes=5)
    async with sessions.begin() as session:
        state = State("supplies", "where", {"run": "ab12", "packs": {"syringes": 2}})
        await conversations.save(session, contact_id=contact_id, state=state, now=later, ttl=TTL)
    async with sessions() as session:
        loaded = await conversations.load(session, contact_id=contact_id, now=later)
        row = await session.get_one(ConversationState, contact_id)
        count = await session.scalar(select(func.count()).select_from(ConversationState))
    assert loaded == state
    assert (row.updated_at, row.expires_at, count) == (later, later + TTL, 1)


async def test_none_removes_and_a_lapsed_state_is_gone(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    async with sessions.begin() as session:
        ana, bob = await add_contact(session), await add_contact(session)
        for contact_id in (ana, bob):
            await conversations.save(
                session, contact_id=contact_id, state=State("x", "y"), now=NOW, ttl=TTL
            )
    async with sessions.begin() as session:
        await conversations.save(session, contact_id=ana, state=None, now=NOW, ttl=TTL)
        assert await conversations.load(session, contact_id=ana, now=NOW) is None
        assert await conversations.load(session, contact_id=bob, now=NOW + TTL) is None
    async with sessions() as session:
        assert await session.scalar(select(func.count()).select_from(ConversationState)) == 0
