"""The options last shown on Signal, as rows: sealed, keyed apart from contacts, kept a day."""

from __future__ import annotations

from datetime import timedelta

from cryptography.fernet import Fernet
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.core.messages import Option
from bot.db.models import ShownMenu
from bot.privacy import AddressBox, pseudonym
from bot.services import shown_menus
from tests.services.factories import NOW

KEY = b"k" * 32
BOX = AddressBox(Fernet.generate_key())
ADDRESS = "2d5e1b7a-86c4-4c8e-9f0d-3b1f9a4c7e21"
MENU = (
    Option("Naloxone", "ask:naloxone"),
    Option("Syringes", "ask:syringes"),
    Option("Don't send", "x:cancel", key="0"),
)


async def _rows(sessions: async_sessionmaker[AsyncSession]) -> list[ShownMenu]:
    async with sessions() as session:
        return list(await session.scalars(select(ShownMenu)))


def test_the_holder_is_a_hash_of_its_own_not_the_contacts_pseudonym() -> None:
    holder = shown_menus.holder(KEY, ADDRESS)
    assert holder == shown_menus.holder(KEY, ADDRESS)
    assert holder != pseudonym(KEY, "signal", ADDRESS)
    assert holder != shown_menus.holder(b"j" * 32, ADDRESS)
    assert ADDRESS not in holder


async def test_a_list_is_sealed_read_back_and_replaced(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    holder = shown_menus.holder(KEY, ADDRESS)
    async with sessions.begin() as session:
        await shown_menus.save(session, holder=holder, box=BOX, options=MENU, now=NOW)
    async with sessions() as session:
        assert await shown_menus.load(session, holder=holder, box=BOX, now=NOW) == MENU
    [row] = await _rows(sessions)
    assert row.shown_at == NOW.replace(minute=0)  # the hour only
    for clear_text in (b"Naloxone", b"ask:naloxone", ADDRESS.encode()):
        assert clear_text not in row.sealed
    later = NOW + timedelta(minutes=5)
    async with sessions.begin() as session:
        await shown_menus.save(session, holder=holder, box=BOX, options=MENU[1:], now=later)
    async with sessions() as session:
        assert await shown_menus.load(session, holder=holder, box=BOX, now=later) == MENU[1:]
        # Someone else has no list.
        other = shown_menus.holder(KEY, "+16045550123")
        assert await shown_menus.load(session, holder=other, box=BOX, now=later) == ()
    assert len(await _rows(sessions)) == 1


async def test_clear_retires_the_list(sessions: async_sessionmaker[AsyncSession]) -> None:
    holder = shown_menus.holder(KEY, ADDRESS)
    async with sessions.begin() as session:
        await shown_menus.save(session, holder=holder, box=BOX, options=MENU, now=NOW)
        await shown_menus.clear(session, holder=holder)
        await shown_menus.clear(session, holder=holder)  # nothing there: no error
        assert await shown_menus.load(session, holder=holder, box=BOX, now=NOW) == ()
    assert await _rows(sessions) == []


async def test_a_list_over_a_day_old_reads_as_none_and_is_purged(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    old, fresh = shown_menus.holder(KEY, ADDRESS), shown_menus.holder(KEY, "+16045550123")
    async with sessions.begin() as session:
        await shown_menus.save(session, holder=old, box=BOX, options=MENU, now=NOW)
        await shown_menus.save(
            session, holder=fresh, box=BOX, options=MENU, now=NOW + timedelta(hours=2)
        )
    within = NOW.replace(minute=0) + shown_menus.MENU_KEPT
    async with sessions.begin() as session:
        assert await shown_menus.load(session, holder=old, box=BOX, now=within) == MENU
        assert await shown_menus.purge(session, now=within) == 0
    after = within + timedelta(seconds=1)
    async with sessions.begin() as session:
        assert await shown_menus.load(session, holder=old, box=BOX, now=after) == ()
        assert await shown_menus.purge(session, now=after) == 1
    assert [row.holder for row in await _rows(sessions)] == [fresh]


async def test_a_list_sealed_under_another_key_reads_as_none(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    holder = shown_menus.holder(KEY, ADDRESS)
    async with sessions.begin() as session:
        await shown_menus.save(session, holder=holder, box=BOX, options=MENU, now=NOW)
    stranger = AddressBox(Fernet.generate_key())
    async with sessions() as session:
        assert await shown_menus.load(session, holder=holder, box=stranger, now=NOW) == ()
        assert await session.scalar(select(func.count()).select_from(ShownMenu)) == 1
