"""Sign-in links and console sessions (bot.services.console_access) on a real database."""

from __future__ import annotations

import hashlib
from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.db.models import ConsoleLink, ConsoleSession
from bot.services import console_access
from tests.handlers.peer_world import make_world


async def test_a_link_is_traded_once_for_a_session_and_only_digests_are_stored(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    world = await make_world(sessions)
    staff = await _staff_contact(sessions)
    now = world.clock.now
    async with sessions.begin() as session:
        token = await console_access.mint_link(session, contact_id=staff, locale="ru", now=now)
    async with sessions.begin() as session:
        first = await console_access.redeem(session, token=token, now=now)
        second = await console_access.redeem(session, token=token, now=now)
    assert first is not None
    assert second is None
    async with sessions() as session:
        stored = list(await session.scalars(select(ConsoleLink.token_hash)))
        stored += list(await session.scalars(select(ConsoleSession.token_hash)))
        who = await console_access.member(session, token=first, now=now)
    assert token not in stored
    assert first not in stored
    assert hashlib.sha256(token.encode()).hexdigest() in stored
    assert who is not None
    assert who.is_coordinator
    assert who.locale == "ru"


async def test_sessions_end_idle_old_or_when_the_member_holds_no_role(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    world = await make_world(sessions)
    staff = await _staff_contact(sessions)
    now = world.clock.now

    async def new_session(at: object) -> str:
        async with sessions.begin() as session:
            token = await console_access.mint_link(session, contact_id=staff, locale=None, now=now)
            found = await console_access.redeem(session, token=token, now=now)
        assert found is not None
        return found

    async def who(token: str, at: timedelta) -> bool:
        async with sessions.begin() as session:
            return await console_access.member(session, token=token, now=now + at) is not None

    busy = await new_session(now)
    for minutes in range(0, 12 * 60, 20):  # used every 20 minutes: alive until the max age
        assert await who(busy, timedelta(minutes=minutes))
    assert not await who(busy, console_access.MAX_AGE)

    idle = await new_session(now)
    assert not await who(idle, console_access.IDLE_TIMEOUT)
    assert not await who(idle, timedelta(0))  # gone for good, not only late

    assert not await who("", timedelta(0))
    assert not await who("z" * 500, timedelta(0))

    async with sessions.begin() as session:
        assert await console_access.purge(session, now=now + timedelta(days=1)) >= 2
        assert list(await session.scalars(select(ConsoleLink))) == []


async def test_a_link_for_someone_without_a_role_opens_nothing(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    world = await make_world(sessions, coordinator=None)
    person = await world.contact_id("ana")  # no role at all
    async with sessions.begin() as session:
        token = await console_access.mint_link(
            session, contact_id=person, locale=None, now=world.clock.now
        )
        assert await console_access.redeem(session, token=token, now=world.clock.now) is None


async def _staff_contact(sessions: async_sessionmaker[AsyncSession]) -> int:
    from bot.db.models import Coordinator

    async with sessions() as session:
        found: int | None = await session.scalar(select(Coordinator.contact_id))
    assert found is not None
    return found
