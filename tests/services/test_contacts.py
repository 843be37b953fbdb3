"""Contacts are found by pseudonym; nothing identifying is stored in clear; /forget cascades."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import func, insert, select, text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.db.models import (
    Contact,
    ConversationState,
    Coordinator,
    Delivery,
    PeerWorker,
    PendingMessage,
    Request,
    Subscription,
)
from bot.domain import AlertKind, Channel, DeliveryStatus, RequestKind, RequestStatus
from bot.privacy import AddressBox, derive_keys
from bot.services import alerts, contacts
from tests.services.factories import add_contact, add_outlet
from tests.support.engine import make_deps

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


async def test_idle_addresses_are_dropped_and_busy_ones_kept(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    """Issue 14, finding 2: everything that may still write to a contact keeps its address;
    a contact with none of them loses it (the pseudonym and the row stay)."""
    gazetteer = make_deps().content.gazetteer
    async with sessions.begin() as session:
        ids = {
            name: await add_contact(session)
            for name in (
                "open_request",
                "just_closed",
                "subscribed",
                "peer",
                "coordinator",
                "talking",
                "queued",
                "alert_due",
                "idle",
                "closed_long_ago",
            )
        }
        outlet = await add_outlet(session, peers=0)

        def request(name: str, status: RequestStatus, closed: object) -> Any:
            return insert(Request).values(
                reference=name[:12].upper(),
                contact_id=ids[name],
                kind=RequestKind.EQUIPMENT,
                status=status,
                attempts=0,
                created_at=NOW,
                closed_at=closed,
                expires_at=NOW + timedelta(days=1),
            )

        await session.execute(request("open_request", RequestStatus.OFFERED, None))
        await session.execute(request("just_closed", RequestStatus.CANCELLED, NOW))
        await session.execute(
            request("closed_long_ago", RequestStatus.CANCELLED, NOW - timedelta(hours=3))
        )
        session.add(Subscription(contact_id=ids["subscribed"], area_code="dtes", created_at=NOW))
        session.add(PeerWorker(contact_id=ids["peer"], outlet_id=outlet.outlet_id, created_at=NOW))
        session.add(Coordinator(contact_id=ids["coordinator"], created_at=NOW))
        session.add(
            ConversationState(
                contact_id=ids["talking"], flow="supplies", step="x", data={}, updated_at=NOW
            )
        )
        session.add(
            PendingMessage(
                contact_id=ids["queued"],
                sealed=b"x",
                created_at=NOW,
                due_at=NOW,
                expires_at=NOW + timedelta(hours=1),
            )
        )
        draft = await alerts.create_draft(
            session,
            kind=AlertKind.BAD_BATCH,
            severity=3,
            areas=["dtes"],
            fields={"sold_as": "down"},
            gazetteer=gazetteer,
            now=NOW,
        )
        session.add(
            Delivery(
                alert_id=draft.id,
                contact_id=ids["alert_due"],
                channel=Channel.TELEGRAM,
                status=DeliveryStatus.PENDING,
            )
        )
    async with sessions.begin() as session:
        dropped = await contacts.drop_idle_addresses(session, now=NOW + timedelta(minutes=5))
    async with sessions() as session:
        kept = dict((await session.execute(select(Contact.id, Contact.reply_address))).all())
    by_name = {name: kept[i] is not None for name, i in ids.items()}
    assert by_name == {
        "open_request": True,
        "just_closed": True,
        "subscribed": True,
        "peer": True,
        "coordinator": True,
        "talking": True,
        "queued": True,
        "alert_due": True,
        "idle": False,
        "closed_long_ago": False,
    }
    assert dropped == 2
    assert len(kept) == len(ids)  # the rows (pseudonyms) stay
