"""The waiting list through the real clients: a person on Signal holds a request nobody could
take, and a peer on Telegram going on shift gets it at once (the person hears on Signal)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.domain import RequestStatus
from tests.support.cross_channel import World, cross_channel_world

SYRINGES = '1 ml syringe, 29G ½" fixed needle'


@pytest.fixture
async def world(sessions: async_sessionmaker[AsyncSession]) -> AsyncIterator[World]:
    async with cross_channel_world(sessions, seed=5) as world:
        yield world


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
