"""Rows for service tests: items, contacts, outlets with stock and peers (no content loader)."""

from __future__ import annotations

import math
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import insert
from sqlalchemy.ext.asyncio import AsyncSession

from bot.content.hours import OpeningHours
from bot.db.models import Contact, Item, Outlet, PeerWorker, Stock
from bot.domain import Channel, ItemCategory, OutletKind

# A Wednesday, mid-afternoon UTC: the default clock of these tests.
NOW = datetime(2026, 11, 25, 15, 0, tzinfo=UTC)
ALWAYS: dict[str, Any] = {"daily": ["00:00-24:00"]}
NEVER: dict[str, Any] = {"daily": "closed"}
# A centre to put things around (not a real place of anyone's).
LAT, LON = 49.25, -123.10
KM_LAT = 1 / 111.195  # degrees of latitude per km


@dataclass(frozen=True)
class Built:
    """An outlet and its peer workers."""

    outlet_id: int
    peer_ids: tuple[int, ...]


async def add_item(session: AsyncSession, code: str, pack_size: int = 10) -> int:
    """An item in the catalogue mirror."""
    item_id: int | None = await session.scalar(
        insert(Item)
        .values(code=code, category=ItemCategory.EQUIPMENT, pack_size=pack_size, active=True)
        .returning(Item.id)
    )
    assert item_id is not None
    return item_id


async def add_contact(session: AsyncSession) -> int:
    """A contact with a random pseudonym and an opaque (fake) sealed address."""
    contact_id: int | None = await session.scalar(
        insert(Contact)
        .values(
            pseudonym=secrets.token_hex(16),
            channel=Channel.TELEGRAM,
            reply_address=b"sealed",
            reachable=True,
            created_at=NOW,
        )
        .returning(Contact.id)
    )
    assert contact_id is not None
    return contact_id


async def add_outlet(
    session: AsyncSession,
    *,
    north_km: float = 0.0,
    east_km: float = 0.0,
    lat: float | None = None,
    lon: float | None = None,
    hours: Mapping[str, Any] | str = ALWAYS,
    timezone: str = "UTC",
    active: bool = True,
    stock: Mapping[int, int] | None = None,
    reserved: Mapping[int, int] | None = None,
    low_threshold: int = 5,
    peers: int = 1,
    on_shift: bool = True,
    peer_active: bool = True,
    shift_ends_at: datetime | None = None,
) -> Built:
    """An outlet ``north_km``/``east_km`` from the centre (or at ``lat``/``lon``), with stock and
    ``peers`` peer workers (each with its own contact)."""
    if lat is None:
        lat = LAT + north_km * KM_LAT
    if lon is None:
        lon = LON + east_km * KM_LAT / math.cos(math.radians(LAT))
    outlet_id = await session.scalar(
        insert(Outlet)
        .values(
            key=f"o{secrets.token_hex(6)}",
            name="Test outlet",
            kind=OutletKind.PEER,
            area_code="test",
            latitude=lat,
            longitude=lon,
            timezone=timezone,
            instructions="",
            hours=stored_hours(hours),
            active=active,
            created_at=NOW,
        )
        .returning(Outlet.id)
    )
    assert outlet_id is not None
    reserved = reserved or {}
    for item_id, quantity in (stock or {}).items():
        await session.execute(
            insert(Stock).values(
                outlet_id=outlet_id,
                item_id=item_id,
                quantity=quantity,
                reserved=reserved.get(item_id, 0),
                low_threshold=low_threshold,
                low_notified=False,
            )
        )
    peer_ids = []
    for _ in range(peers):
        contact_id = await add_contact(session)
        peer_id = await session.scalar(
            insert(PeerWorker)
            .values(
                contact_id=contact_id,
                outlet_id=outlet_id,
                active=peer_active,
                on_shift=on_shift,
                shift_ends_at=shift_ends_at,
                created_at=NOW,
            )
            .returning(PeerWorker.id)
        )
        assert peer_id is not None
        peer_ids.append(peer_id)
    return Built(outlet_id=outlet_id, peer_ids=tuple(peer_ids))


def stored_hours(hours: Mapping[str, Any] | str) -> str:
    """Hours as the database holds them (OSM text); unreadable text is kept as it is, so tests
    can check that a broken row counts as closed."""
    try:
        return OpeningHours.parse(hours).text
    except ValueError:
        return hours if isinstance(hours, str) else repr(hours)
