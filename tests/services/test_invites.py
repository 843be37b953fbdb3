"""Invites are single-use, expiring, stored hashed, and race-safe."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.db.models import Coordinator, Invite, Outlet, PeerWorker
from bot.domain import Channel, OutletKind, Role
from bot.privacy import AddressBox, derive_keys
from bot.services import contacts, invites

KEYS = derive_keys("s" * 40)
BOX = AddressBox(KEYS.address)
NOW = datetime(2026, 11, 25, 19, 0, tzinfo=UTC)


async def _contact_id(sessions: async_sessionmaker[AsyncSession], platform_id: str) -> int:
    async with sessions.begin() as session:
        contact = await contacts.find_or_create(
            session,
            pseudonym_key=KEYS.pseudonym,
            box=BOX,
            channel=Channel.TELEGRAM,
            platform_id=platform_id,
            address=platform_id,
            now=NOW,
        )
        return contact.id


async def _new_code(
    sessions: async_sessionmaker[AsyncSession], role: Role = Role.COORDINATOR, **kw: object
) -> str:
    async with sessions.begin() as session:
        return await invites.create(
            session,
            codes_key=KEYS.codes,
            role=role,
            ttl=timedelta(hours=1),
            now=NOW,
            **kw,  # type: ignore[arg-type]
        )


async def test_code_is_stored_only_hashed(sessions: async_sessionmaker[AsyncSession]) -> None:
    code = await _new_code(sessions)
    async with sessions() as session:
        stored = (await session.scalars(select(Invite))).one()
    assert code not in stored.code_hash
    assert code.replace("-", "") not in stored.code_hash


async def test_redeem_once_makes_coordinator(sessions: async_sessionmaker[AsyncSession]) -> None:
    code = await _new_code(sessions)
    who = await _contact_id(sessions, "1001")
    async with sessions.begin() as session:
        redeemed = await invites.redeem(
            session, codes_key=KEYS.codes, code=code.lower(), contact_id=who, now=NOW
        )
    assert redeemed.role is Role.COORDINATOR
    other = await _contact_id(sessions, "1002")
    with pytest.raises(invites.InviteError, match="already used"):
        async with sessions.begin() as session:
            await invites.redeem(
                session, codes_key=KEYS.codes, code=code, contact_id=other, now=NOW
            )
    async with sessions() as session:
        assert await session.scalar(select(func.count()).select_from(Coordinator)) == 1


async def test_expired_and_garbage_codes_are_refused(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    async with sessions.begin() as session:
        code = await invites.create(
            session,
            codes_key=KEYS.codes,
            role=Role.COORDINATOR,
            ttl=timedelta(minutes=5),
            now=NOW - timedelta(hours=1),
        )
    who = await _contact_id(sessions, "1003")
    for attempt in (code, "", "💉💉💉", "x" * 5000):
        with pytest.raises(invites.InviteError):
            async with sessions.begin() as session:
                await invites.redeem(
                    session, codes_key=KEYS.codes, code=attempt, contact_id=who, now=NOW
                )
    async with sessions() as session:
        assert await session.scalar(select(func.count()).select_from(Coordinator)) == 0


async def test_peer_invite_enrols_at_outlet(sessions: async_sessionmaker[AsyncSession]) -> None:
    async with sessions.begin() as session:
        outlet = Outlet(
            key="o1",
            name="O1",
            kind=OutletKind.PEER,
            area_code="a",
            latitude=49.0,
            longitude=-123.0,
            timezone="America/Vancouver",
            instructions="",
            hours="closed",
            created_at=NOW,
        )
        session.add(outlet)
    with pytest.raises(invites.InviteError):
        await _new_code(sessions, Role.PEER)
    code = await _new_code(sessions, Role.PEER, outlet_id=outlet.id)
    who = await _contact_id(sessions, "2001")
    async with sessions.begin() as session:
        redeemed = await invites.redeem(
            session, codes_key=KEYS.codes, code=code, contact_id=who, now=NOW
        )
    assert redeemed == invites.Redeemed(role=Role.PEER, outlet_id=outlet.id)
    async with sessions() as session:
        peer = (await session.scalars(select(PeerWorker))).one()
    assert (peer.contact_id, peer.outlet_id, peer.on_shift) == (who, outlet.id, False)


async def test_twenty_racers_one_winner(sessions: async_sessionmaker[AsyncSession]) -> None:
    code = await _new_code(sessions)
    racers = [await _contact_id(sessions, f"30{i:02d}") for i in range(20)]

    async def attempt(contact_id: int) -> bool:
        try:
            async with sessions.begin() as session:
                await invites.redeem(
                    session, codes_key=KEYS.codes, code=code, contact_id=contact_id, now=NOW
                )
        except invites.InviteError:
            return False
        return True

    results = await asyncio.gather(*(attempt(c) for c in racers))
    assert results.count(True) == 1
    async with sessions() as session:
        assert await session.scalar(select(func.count()).select_from(Coordinator)) == 1
