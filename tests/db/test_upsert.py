"""Insert-or-replace by key: the first call inserts, the next replaces the named columns."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.db.models import ShownMenu
from bot.db.upsert import upserts
from tests.services.factories import NOW

UPSERT = upserts(ShownMenu, "holder", ("sealed", "shown_at"))


async def test_inserts_then_replaces_one_row(sessions: async_sessionmaker[AsyncSession]) -> None:
    later = NOW + timedelta(hours=1)
    async with sessions.begin() as session:
        statement = UPSERT[session.get_bind().dialect.name]
        await session.execute(statement, {"holder": "a", "sealed": b"1", "shown_at": NOW})
        await session.execute(statement, {"holder": "b", "sealed": b"2", "shown_at": NOW})
        await session.execute(statement, {"holder": "a", "sealed": b"3", "shown_at": later})
    async with sessions() as session:
        rows = (
            await session.execute(
                select(ShownMenu.holder, ShownMenu.sealed, ShownMenu.shown_at).order_by(
                    ShownMenu.holder
                )
            )
        ).all()
    assert [tuple(row) for row in rows] == [("a", b"3", later), ("b", b"2", NOW)]
    assert set(UPSERT) == {"postgresql", "sqlite"}
