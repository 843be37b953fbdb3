"""The list last shown on Signal, kept as a row, with the bot's own routes: it goes with
``/forget``, whose last message is plain."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.db.models import Contact, ShownMenu
from bot.signal_emulator import SignalEmulator

Sessions = async_sessionmaker[AsyncSession]


async def _count(sessions: Sessions, table: type[ShownMenu] | type[Contact]) -> int:
    async with sessions() as session:
        return int(await session.scalar(select(func.count()).select_from(table)) or 0)


async def test_forget_leaves_no_list_behind(signal: SignalEmulator, sessions: Sessions) -> None:
    bob = signal.person("bob")
    await bob.say("/naloxone")
    assert await _count(sessions, ShownMenu) == 1
    [confirm] = await bob.say("/forget")
    assert confirm.text.startswith("Delete everything?")
    [done] = await bob.pick("Delete everything")
    assert done.text.startswith("Deleted.")
    assert await _count(sessions, Contact) == 0
    assert await _count(sessions, ShownMenu) == 0
