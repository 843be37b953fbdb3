"""Contacts are found by pseudonym; nothing identifying is stored in clear; /forget cascades."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.db.models import Contact, Subscription
from bot.domain import Channel
from bot.privacy import AddressBox, derive_keys
from bot.services import contacts

KEYS = derive_keys("k" * 40)
BOX = AddressBox(KEYS.address)
NOW = datetime(2026, 11, 25, 19, 0, tzinfo=UTC)


async def _contact(session: AsyncSession, channel: Channel, platform_id: str) -> Contact:
    return await contacts.find_or_create(
        session,
        pseudonym_key=KEYS.pseudonym,
        box=BOX,
        channel=channel,
        platform_id=platform_id,
        address=platform_id,
        now=NOW,
    )


async def test_same_person_same_contact_other_channel_other_contact(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    async with sessions.begin() as session:
        first = await _contact(session, Channel.TELEGRAM, "987654321")
        again = await _contact(session, Channel.TELEGRAM, "987654321")
        signal = await _contact(session, Channel.SIGNAL, "987654321")
    assert first.id == again.id
    assert signal.id != first.id
    assert BOX.open(first.reply_address) == "987654321"


async def test_no_platform_id_in_clear_anywhere(sessions: async_sessionmaker[AsyncSession]) -> None:
    async with sessions.begin() as session:
        await _contact(session, Channel.TELEGRAM, "555123456789")
    async with sessions() as session:
        rows = (await session.execute(text("SELECT * FROM contacts"))).all()
    dump = repr(rows)
    assert "555123456789" not in dump
    assert b"555123456789" not in b"".join(r.reply_address for r in rows)


async def test_concurrent_first_messages_make_one_contact(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    async def once() -> int:
        async with sessions.begin() as session:
            return (await _contact(session, Channel.SIGNAL, "uuid-1")).id

    ids = await asyncio.gather(*(once() for _ in range(8)))
    assert len(set(ids)) == 1
    async with sessions() as session:
        assert await session.scalar(select(func.count()).select_from(Contact)) == 1


async def test_forget_removes_contact_and_what_hangs_on_it(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    async with sessions.begin() as session:
        contact = await _contact(session, Channel.TELEGRAM, "42424242")
        session.add(Subscription(contact_id=contact.id, area_code="strathcona", created_at=NOW))
    async with sessions.begin() as session:
        assert await contacts.forget(session, contact_id=contact.id)
    async with sessions() as session:
        assert await session.scalar(select(func.count()).select_from(Contact)) == 0
        assert await session.scalar(select(func.count()).select_from(Subscription)) == 0
    async with sessions.begin() as session:
        assert not await contacts.forget(session, contact_id=contact.id)
