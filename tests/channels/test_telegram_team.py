"""Removing a peer through the real python-telegram-bot client against the Telegram emulator:
the removed peer's old [Accept] and [Handed over] buttons and their commands change nothing."""

from __future__ import annotations

import re

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.content import load_outlets
from bot.core.engine import Engine
from bot.db.models import Offer, PeerWorker, Request
from bot.emulator import TelegramEmulator
from bot.emulator.people import FakeUser
from bot.services.outlets import import_outlets
from tests.channels.test_alert_languages import _coordinator
from tests.support.engine import CONTENT_DIR

OUTLET = "Main & Hastings peer table (demo)"


async def _ask_naloxone(person: FakeUser) -> None:
    await person.say("/naloxone")
    await person.tap("Shot kit (injectable)")
    await person.share_location(49.28071, -123.09843)
    await person.tap("Send request")


async def _state(sessions: async_sessionmaker[AsyncSession]) -> tuple[object, ...]:
    async with sessions() as session:
        requests_ = (await session.execute(select(Request.id, Request.status))).all()
        offers_ = (await session.execute(select(Offer.id, Offer.status))).all()
        peers = (await session.execute(select(PeerWorker.id))).all()
    return tuple(map(tuple, requests_)), tuple(map(tuple, offers_)), tuple(map(tuple, peers))


async def test_a_removed_peers_buttons_stop_working(
    bot: Engine, telegram: TelegramEmulator, sessions: async_sessionmaker[AsyncSession]
) -> None:
    content = bot.deps.content
    specs = load_outlets(CONTENT_DIR / "outlets.demo.yaml", content.catalogue, content.gazetteer)
    async with sessions.begin() as session:
        await import_outlets(session, specs=specs, catalogue=content.catalogue, now=bot.clock())
    coco = await _coordinator(bot, telegram)
    invite = await coco.say("/invite peer main_hastings_peer")
    code = re.search(r"Code: (\S+)", invite[-1].text)
    assert code is not None
    pat = telegram.user("pat")
    await pat.say(f"/join {code.group(1)}")
    await pat.say("/shift on")

    ana, bob = telegram.user("ana"), telegram.user("bob")
    await _ask_naloxone(ana)
    await telegram.wait_for(lambda: "New pickup request" in pat.last.text, what="ana's offer")
    accepted = await pat.tap("Accept")
    assert "You accepted" in accepted[-1].text
    held = pat.last
    await _ask_naloxone(bob)
    await telegram.wait_for(lambda: "New pickup request" in pat.last.text, what="bob's offer")
    pending = pat.last

    listed = await coco.say("/team")
    assert "pat" not in listed[-1].text
    assert f"Peer #1 · {OUTLET}" in listed[-1].text
    await coco.tap(f"Remove Peer #1 · {OUTLET}")
    waiting = len(ana.transcript)
    done = await coco.tap("Yes, remove")
    assert done[-1].text.startswith(f"Removed Peer #1 · {OUTLET}. Pickups released: 1.")
    await telegram.wait_for(lambda: len(ana.transcript) > waiting, what="ana's notice")
    assert any("can't happen at" in m.text for m in ana.transcript[waiting:])

    before = await _state(sessions)
    seen = len(pat.transcript)
    stale = await pat.press(pending.callback_data["Accept"], message=pending)
    assert [m.text for m in stale] == ["This offer is not for your outlet."]
    stale = await pat.press(held.callback_data["Handed over"], message=held)
    assert [m.text for m in stale] == ["This pickup is no longer open."]
    assert [m.text for m in await pat.say("/shift")] == ["This command is for peer workers."]
    assert [m.text for m in await pat.say("/offers")] == ["This command is for peer workers."]
    assert await _state(sessions) == before
    assert len(pat.transcript) == seen + 4
