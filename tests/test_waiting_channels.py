"""The waiting list through the real clients: a person on Signal holds a request nobody could
take, and a peer on Telegram going on shift gets it at once (the person hears on Signal)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.channels.signal import Reconnect, SignalChannel, SignalPacing
from bot.channels.telegram import TelegramChannel
from bot.content import load_outlets
from bot.core.engine import Engine
from bot.core.ratelimit import RateLimiter
from bot.db.models import Outlet, Request
from bot.domain import RequestStatus, Role
from bot.emulator import TelegramEmulator
from bot.services import invites
from bot.services.outlets import import_outlets
from bot.signal_emulator import SignalEmulator
from handlers.routes import build_routes
from tests.support.chat import Clock
from tests.support.engine import CONTENT_DIR, TEST_KEYS, make_engine

SYRINGES = '1 ml syringe, 29G ½" fixed needle'


@dataclass
class World:
    engine: Engine
    telegram: TelegramEmulator
    signal: SignalEmulator
    sessions: async_sessionmaker[AsyncSession]

    async def peer_invite(self) -> str:
        async with self.sessions.begin() as session:
            outlet_id = await session.scalar(
                select(Outlet.id).where(Outlet.key == "main_hastings_peer")
            )
            return await invites.create(
                session,
                codes_key=TEST_KEYS.codes,
                role=Role.PEER,
                ttl=self.engine.deps.config.invite_ttl,
                outlet_id=outlet_id,
                now=self.engine.clock(),
            )

    async def statuses(self) -> list[RequestStatus]:
        async with self.sessions() as session:
            return list(await session.scalars(select(Request.status).order_by(Request.id)))


@pytest.fixture
async def world(sessions: async_sessionmaker[AsyncSession]) -> AsyncIterator[World]:
    clock = Clock()  # a Wednesday, 11:00 in Vancouver: the Main & Hastings table is open
    engine = make_engine(sessions, build_routes(), clock=clock)
    engine.limiter = RateLimiter(burst=100)
    content = engine.deps.content
    specs = load_outlets(CONTENT_DIR / "outlets.demo.yaml", content.catalogue, content.gazetteer)
    async with sessions.begin() as session:
        await import_outlets(session, specs=specs, catalogue=content.catalogue, now=clock())
    async with TelegramEmulator(seed=5) as tg, SignalEmulator(seed=5) as sig:
        telegram = TelegramChannel(engine, token=tg.token, base_url=tg.base_url, poll_timeout=1)
        signal = SignalChannel(
            engine,
            number=sig.number,
            service=sig.service,
            pacing=SignalPacing(recipient_burst=50, recipient_interval=0.001, global_interval=0),
            reconnect=Reconnect(initial=0.02, maximum=0.2),
            ready_timeout=5,
        )
        await telegram.start()
        await signal.start()
        try:
            await sig.wait_for_receivers()
            yield World(engine=engine, telegram=tg, signal=sig, sessions=sessions)
        finally:
            await signal.stop()
            await telegram.stop()


async def test_signal_person_holds_and_a_telegram_peer_on_shift_gets_it(world: World) -> None:
    pat = world.telegram.user("pat")
    await pat.say(f"/join {await world.peer_invite()}")  # enrolled, not on shift

    ana = world.signal.person("ana")
    await ana.say("/supplies")
    await ana.pick("Kit for injecting and smoking")
    await ana.pick(SYRINGES)
    await ana.pick("2")
    await ana.pick("Done: choose where")
    await ana.say("DTES")
    answer = await ana.pick("Send request")
    told = answer[-1].text
    assert "No peer outlet can take your request" in told
    assert "nobody is on shift there right now" in told
    for label in ("Hold my request", "Naloxone how-to", "Services open now", "Emergency"):
        assert label in told  # Signal: a numbered list
    held = await ana.pick("Hold my request")
    assert "number 1 in line" in held[-1].text
    assert await world.statuses() == [RequestStatus.WAITING]

    before, heard = len(pat.transcript), len(ana.inbox)
    await pat.say("/shift")
    await pat.tap("Go on shift")
    await world.telegram.wait_for(
        lambda: any(m.text.startswith("New pickup request") for m in pat.transcript[before:]),
        what="the offer",
    )
    await world.signal.wait_for(lambda: len(ana.inbox) > heard, what="the person's notice")
    assert "has gone to a peer" in ana.inbox[-1].text
    assert await world.statuses() == [RequestStatus.OFFERED]
