"""An alert with a photo across Telegram and Signal: the whole bot, both fake servers.

A coordinator on Telegram composes a bad-batch alert through ``/broadcast`` and attaches a
phone photo that carries EXIF (GPS position, camera make and model), XMP, an ICC profile and a
comment. A subscriber on Telegram and one on Signal receive it; the fake servers, which refuse
any image that still carries hidden data, confirm the photo arrived and carries none. On both
databases, only the re-encoded JPEG was stored, and nothing of the original is left anywhere.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.channels.signal import Reconnect, SignalChannel, SignalPacing
from bot.channels.telegram import TelegramChannel
from bot.core.engine import Engine
from bot.core.ratelimit import RateLimiter
from bot.db.base import utcnow
from bot.db.models import AlertPhoto
from bot.domain import Role
from bot.emulator import FakeUser, TelegramEmulator
from bot.privacy import AddressBox
from bot.privacy.images import hidden_data
from bot.runner import BotService
from bot.services import invites
from bot.services.outbox import FanoutConfig, fanout_for
from bot.signal_emulator import FakePerson, SignalEmulator
from handlers.routes import build_routes
from tests.support.engine import TEST_KEYS, make_deps
from tests.support.images import tagged_jpeg

CONTAINS = "nitazenes"


@dataclass
class Town:
    engine: Engine
    telegram: TelegramEmulator
    signal: SignalEmulator
    coco: FakeUser
    tina: FakeUser
    sam: FakePerson


async def _invite(engine: Engine) -> str:
    async with engine.sessions.begin() as session:
        return await invites.create(
            session,
            codes_key=TEST_KEYS.codes,
            role=Role.COORDINATOR,
            ttl=engine.deps.config.invite_ttl,
            now=engine.clock(),
        )


@pytest.fixture
async def town(sessions: async_sessionmaker[AsyncSession]) -> AsyncIterator[Town]:
    engine = Engine(
        sessions=sessions,
        deps=make_deps(),
        box=AddressBox(TEST_KEYS.address),
        routes=build_routes(),
        clock=utcnow,
    )
    engine.limiter = RateLimiter(burst=100)
    fanout_for(engine, FanoutConfig(budget=2.0, backoff_base=0.2, backoff_cap=2.0))
    async with TelegramEmulator(seed=8) as tg, SignalEmulator(seed=8) as sig:
        telegram = TelegramChannel(engine, token=tg.token, base_url=tg.base_url, poll_timeout=1)
        signal = SignalChannel(
            engine,
            number=sig.number,
            service=sig.service,
            pacing=SignalPacing(recipient_burst=50, recipient_interval=0.001, global_interval=0),
            reconnect=Reconnect(initial=0.02, maximum=0.2),
            ready_timeout=5,
        )
        service = BotService(engine, [telegram, signal], tick_seconds=3600)
        await service.start()
        stop = asyncio.Event()

        async def clock() -> None:
            while not stop.is_set():
                await service.tick()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), 0.2)

        ticking = asyncio.create_task(clock())
        try:
            await sig.wait_for_receivers()
            coco, tina, sam = tg.user("coco"), tg.user("tina"), sig.person("sam")
            await coco.say(f"/join {await _invite(engine)}")
            await tina.say("/alerts")
            await tina.tap("Add an area")
            await tina.say("Strathcona")
            await sam.say("/alerts")
            await sam.pick("Add an area")
            await sam.say("Gastown")
            yield Town(engine, tg, sig, coco, tina, sam)
        finally:
            stop.set()
            await ticking
            await service.stop()


async def test_a_photo_with_gps_and_xmp_arrives_on_both_platforms_without_them(
    town: Town,
) -> None:
    coco, tg, sig = town.coco, town.telegram, town.signal
    # As large as a phone's photo: megabytes each way, so every body-size limit is crossed.
    original = tagged_jpeg((2400, 1800), noisy=True)
    assert len(original) > 2_000_000
    assert {"exif", "xmp", "icc"} <= set(hidden_data(original))

    await coco.say("/broadcast")
    for label in ("New alert", "Bad batch", "Danger", "Strathcona", "Gastown", "Done"):
        await coco.tap(label)
    await coco.say("down")
    await coco.say(CONTAINS)
    await coco.tap("Skip")
    await coco.tap("Skip")
    await coco.say("Don't use alone.")
    await coco.tap("1 day")
    [ask] = await coco.tap("Add photo")
    assert ask.text.startswith("Send the photo now")
    [preview] = await coco.send_photo(original, caption="the bag it came in")
    assert "A photo is attached" in preview.text
    assert "If sent now, it goes to 2 people." in preview.text
    await coco.tap("Send now")

    def arrived() -> bool:
        on_tg = any(m.photo is not None for m in town.tina.transcript) and any(
            CONTAINS in m.text for m in town.tina.transcript
        )
        on_sig = any(m.attachments for m in town.sam.inbox)
        return on_tg and on_sig

    await tg.wait_for(arrived, what="the photo on both platforms", within=20)
    # Telegram: the photo (its caption the discreet heading), then the text.
    [photo] = [m for m in town.tina.transcript if m.photo is not None]
    assert photo.photo is not None
    assert hidden_data(photo.photo) == []
    assert CONTAINS not in photo.text
    texts = [m for m in town.tina.transcript if CONTAINS in m.text]
    assert len(texts) == 1
    assert town.tina.transcript.index(photo) + 1 == town.tina.transcript.index(texts[0])
    # Signal: one message, text and photo together.
    [message] = [m for m in town.sam.inbox if m.attachments]
    assert CONTAINS in message.text
    [(content_type, data)] = message.attachments
    assert content_type == "image/jpeg"
    assert hidden_data(data) == []
    assert data == photo.photo  # the same stripped copy went to both
    # Neither fake server saw a photo with hidden data, and the coordinator's caption (like
    # the original's bytes) went nowhere.
    assert tg.metadata_refused == []
    assert sig.metadata_refused == []
    assert not any("the bag it came in" in m.text for m in town.tina.transcript)
    assert not any("the bag it came in" in m.text for m in town.sam.inbox)

    async with town.engine.sessions() as session:
        [stored] = list(await session.scalars(select(AlertPhoto.jpeg)))
    assert stored == data
    for marker in (b"Exif", b"http://ns.adobe.com/xap", b"<x:xmpmeta", b"SecretCam"):
        assert marker not in stored
