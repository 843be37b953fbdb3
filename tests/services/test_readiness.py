"""The counts behind the start-up warnings: outlets that can take requests, coordinators."""

from __future__ import annotations

from sqlalchemy import insert, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.db.models import Coordinator, Outlet
from bot.services.readiness import Readiness, readiness
from tests.services.factories import NEVER, NOW, add_contact, add_outlet

Sessions = async_sessionmaker[AsyncSession]


async def test_an_empty_database_has_nothing(sessions: Sessions) -> None:
    async with sessions() as session:
        found = await readiness(session, now=NOW, demo_keys={"main_hastings_peer"})
    assert found == Readiness(active_outlets=0, open_soon=0, staffed_outlets=0, coordinators=0)


async def test_counts(sessions: Sessions) -> None:
    # NOW is a Wednesday, 15:00 UTC.
    async with sessions.begin() as session:
        await add_outlet(session)  # open around the clock, one peer
        tomorrow = await add_outlet(session, hours={"thu": ["10:00-12:00"]}, peers=0)
        await add_outlet(session, hours={"tue": ["10:00-12:00"]}, peers=0)  # in six days
        await add_outlet(session, hours=NEVER, peer_active=False)  # its peer left
        await add_outlet(session, hours={"daily": ["10:00-12:00"]}, timezone="Nope/Nowhere")
        asleep = await add_outlet(session, active=False)  # open and staffed, but inactive
        for built, key in ((tomorrow, "main_hastings_peer"), (asleep, "drive_peer")):
            await session.execute(
                update(Outlet).where(Outlet.id == built.outlet_id).values(key=key)
            )
        for _ in range(2):
            contact_id = await add_contact(session)
            await session.execute(insert(Coordinator).values(contact_id=contact_id, created_at=NOW))
    async with sessions() as session:
        found = await readiness(
            session, now=NOW, demo_keys={"main_hastings_peer", "drive_peer", "gone"}
        )
    assert found == Readiness(
        active_outlets=5,
        open_soon=2,  # around the clock, and tomorrow morning; not next week, never, bad zone
        staffed_outlets=2,  # the round-the-clock one and the bad-zone one
        coordinators=2,
        demo_outlets=("main_hastings_peer",),  # the inactive demo outlet does no harm
    )


async def test_the_window_ends_before_the_next_opening(sessions: Sessions) -> None:
    async with sessions.begin() as session:
        await add_outlet(session, hours={"thu": ["15:00-16:00"]})  # exactly 24 h after NOW
    async with sessions() as session:
        assert (await readiness(session, now=NOW)).open_soon == 0
        assert (await readiness(session, now=NOW.replace(minute=1))).open_soon == 1
