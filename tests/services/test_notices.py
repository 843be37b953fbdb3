"""Replies and notices a channel refused are queued sealed and delivered once it is back.

Real clients (python-telegram-bot, signalbot) against their emulators, one engine and database;
the tick's pump (:func:`run_notices_due`) is called by hand on the test's fixed clock.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.channels.signal import Reconnect, SignalChannel, SignalPacing
from bot.channels.telegram import TelegramChannel
from bot.content import load_outlets
from bot.core.context import Outbound
from bot.core.engine import Engine
from bot.core.messages import Reply
from bot.core.ratelimit import RateLimiter
from bot.core.words import Translator
from bot.db.models import Contact, Outlet, PendingMessage
from bot.domain import Role
from bot.emulator import FakeUser, TelegramEmulator
from bot.privacy import pseudonym
from bot.services import invites
from bot.services.notices import REPLY_TTL, NoticeTick, open_reply, run_notices_due
from bot.services.outlets import import_outlets
from bot.signal_emulator import SignalEmulator
from handlers.routes import build_routes
from tests.support.chat import Clock
from tests.support.engine import CONTENT_DIR, TEST_KEYS, make_engine

SYRINGES = '1 ml syringe, 29G ½" fixed needle'
PICKUP = re.compile(r"Your pickup code: (\d{6})")
WELCOME = "anonymous by design"  # in the /start answer


@dataclass
class World:
    engine: Engine
    clock: Clock
    telegram: TelegramEmulator
    signal: SignalEmulator
    signal_channel: SignalChannel
    sessions: async_sessionmaker[AsyncSession]

    async def pump(self) -> NoticeTick:
        return await run_notices_due(self.engine)

    async def queued(self) -> list[PendingMessage]:
        async with self.sessions() as session:
            rows = await session.scalars(select(PendingMessage).order_by(PendingMessage.id))
            return list(rows.all())

    async def until_queued(self, count: int) -> list[PendingMessage]:
        """The queue once it holds ``count`` rows waiting for the tick (a row the engine
        still has in hand, journaled while it sends it, does not count)."""
        for _ in range(250):
            rows = [row for row in await self.queued() if row.lease_until is None]
            if len(rows) >= count:
                return rows
            await asyncio.sleep(0.02)
        raise AssertionError(f"expected {count} queued message(s), got {len(rows)}")

    async def contact_id(self, channel: str, sender_id: str) -> int:
        alias = pseudonym(TEST_KEYS.pseudonym, channel, sender_id)
        async with self.sessions() as session:
            found = await session.scalar(select(Contact.id).where(Contact.pseudonym == alias))
        assert found is not None
        return found

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
                now=self.clock(),
            )


@pytest.fixture
async def world(sessions: async_sessionmaker[AsyncSession]) -> AsyncIterator[World]:
    clock = Clock(Clock().now.replace(hour=19))  # 11:00 in Vancouver: demo outlets are open
    engine = make_engine(sessions, build_routes(), clock=clock)
    engine.limiter = RateLimiter(burst=100)
    content = engine.deps.content
    specs = load_outlets(CONTENT_DIR / "outlets.demo.yaml", content.catalogue, content.gazetteer)
    async with sessions.begin() as session:
        await import_outlets(session, specs=specs, catalogue=content.catalogue, now=clock())
    async with TelegramEmulator(seed=5) as tg, SignalEmulator(seed=5) as sig:
        # max_retries=0: a 429 comes straight back instead of being slept off inside PTB.
        telegram = TelegramChannel(
            engine, token=tg.token, base_url=tg.base_url, poll_timeout=1, max_retries=0
        )
        signal = SignalChannel(
            engine,
            number=sig.number,
            service=sig.service,
            pacing=SignalPacing(recipient_burst=50, recipient_interval=0.001, global_interval=0),
            reconnect=Reconnect(initial=0.02, maximum=0.2),
            challenge_recheck=3600,  # no probe during the test unless it solves the captcha
            ready_timeout=20,  # a loaded CI machine: a 5 s wait failed there once
        )
        await telegram.start()
        try:  # a Signal start that fails must not leave Telegram's connections open
            await signal.start()
            await sig.wait_for_receivers()
            yield World(engine, clock, tg, sig, signal, sessions)
        finally:
            await signal.stop()
            await telegram.stop()


async def _started(world: World, name: str) -> FakeUser:
    user = world.telegram.user(name)
    [welcome] = await user.say("/start")
    assert WELCOME in welcome.text.lower()
    return user


def _notice(text: str) -> Callable[[Translator], Reply]:
    return lambda t: Reply(text)


async def test_a_reply_meeting_a_429_arrives_after_retry_after(world: World) -> None:
    ana = world.telegram.user("ana")
    world.telegram.fail_next("sendMessage", status=429, retry_after=3)
    await ana.say("/start", expect=0)
    [row] = await world.until_queued(1)
    assert ana.texts == []
    assert WELCOME.encode() not in row.sealed  # sealed, not in clear
    assert row.expires_at == world.clock() + REPLY_TTL  # a conversational answer: short-lived

    world.clock.advance(seconds=2)
    assert await world.pump() == NoticeTick()  # not before Telegram's retry_after
    assert ana.texts == []
    world.clock.advance(seconds=1)
    report = await world.pump()
    assert (report.sent, report.unknown) == (1, 0)
    assert len(ana.texts) == 1
    assert WELCOME in ana.texts[0].lower()
    assert ana.last.buttons  # the menu's buttons survived the queue
    assert await world.queued() == []


@pytest.mark.parametrize("status", [500, 502])
async def test_a_notice_meeting_a_5xx_arrives_with_back_off(world: World, status: int) -> None:
    ana = await _started(world, "ana")
    ana_id = await world.contact_id("telegram", str(ana.id))
    world.telegram.fail_next("sendMessage", status=status, count=2)
    await world.engine.deliver([Outbound(ana_id, _notice("Your request K7F3QX was accepted."))])
    [row] = await world.queued()
    assert row.expires_at == world.clock() + world.engine.deps.config.request_ttl

    world.clock.advance(seconds=5)  # past the first back-off (2-2.5 s): Telegram still fails
    report = await world.pump()
    assert (report.sent, report.retried) == (0, 1)
    world.clock.advance(seconds=5)
    assert (await world.pump()).sent == 1
    assert ana.texts[-1] == "Your request K7F3QX was accepted."
    assert ana.texts.count("Your request K7F3QX was accepted.") == 1


async def test_a_notice_meeting_a_refused_connection_arrives_when_telegram_is_back(
    world: World,
) -> None:
    ana = await _started(world, "ana")
    ana_id = await world.contact_id("telegram", str(ana.id))
    await world.telegram.stop()  # nothing listens: the request cannot have been sent
    await asyncio.sleep(0.2)
    await world.engine.deliver([Outbound(ana_id, _notice("Offer K7F3QX is yours."))])
    [row] = await world.queued()
    assert not row.doubtful
    world.clock.advance(seconds=5)
    assert (await world.pump()).retried == 1  # still down

    await world.telegram.start()  # the same port
    world.clock.advance(seconds=5)
    report = await world.pump()
    assert (report.sent, report.unknown) == (1, 0)
    assert ana.texts[-1] == "Offer K7F3QX is yours."
    assert await world.queued() == []


async def test_a_send_that_may_have_arrived_is_resent_and_counted_unknown(world: World) -> None:
    ana = await _started(world, "ana")
    ana_id = await world.contact_id("telegram", str(ana.id))
    world.telegram.stall_next("sendMessage", seconds=None)  # delivered, then the line drops
    await world.engine.deliver([Outbound(ana_id, _notice("Handed over K7F3QX."))])
    [row] = await world.queued()
    assert row.doubtful
    world.clock.advance(seconds=5)
    report = await world.pump()
    assert (report.sent, report.unknown) == (0, 1)  # delivered, possibly twice
    assert ana.texts.count("Handed over K7F3QX.") == 2


async def test_a_conversational_reply_expires(world: World) -> None:
    ana = world.telegram.user("ana")
    world.telegram.fail_next("sendMessage", status=429, retry_after=1)
    await ana.say("/start", expect=0)
    await world.until_queued(1)
    world.clock.advance(minutes=11)
    report = await world.pump()
    assert (report.expired, report.sent) == (1, 0)
    assert ana.texts == []
    assert await world.queued() == []


async def test_forget_removes_queued_messages(world: World) -> None:
    ana = await _started(world, "ana")
    ana_id = await world.contact_id("telegram", str(ana.id))
    await ana.say("/forget")
    world.telegram.fail_next("sendMessage", status=429, retry_after=60)
    await world.engine.deliver([Outbound(ana_id, _notice("Offer K7F3QX is yours."))])
    assert len(await world.queued()) == 1

    [gone] = await ana.tap("Delete everything")  # queued behind? no: nobody is left to queue for
    assert "deleted" in gone.text.lower()
    assert await world.queued() == []
    world.clock.advance(minutes=2)
    assert await world.pump() == NoticeTick()
    assert "Offer K7F3QX is yours." not in ana.texts


async def test_signal_captcha_then_solved_the_pickup_code_arrives(world: World) -> None:
    """The case from issue 13: a peer accepts while a Signal captcha stands."""
    pat = world.telegram.user("pat")
    await pat.say(f"/join {await world.peer_invite()}")
    await pat.say("/shift")
    await pat.tap("Go on shift")

    ana = world.signal.person("ana")
    await ana.say("/supplies")
    await ana.pick("Kit for injecting and smoking")
    await ana.pick(SYRINGES)
    await ana.pick("2")
    await ana.pick("Done: choose where")
    await ana.say("DTES")
    before = len(pat.transcript)
    await ana.pick("Send request")
    await world.telegram.wait_for(lambda: len(pat.transcript) > before, what="the offer")

    world.signal.require_captcha()
    inbox = len(ana.inbox)
    [accepted] = await pat.tap("Accept")  # the peer's own answer still arrives (Telegram)
    assert "accepted" in accepted.text.lower()
    [code_row] = await world.until_queued(1)
    assert world.signal_channel.challenge_pending
    sealed = open_reply(world.engine.box, code_row.sealed)
    code = PICKUP.search(sealed.text)
    assert code is not None
    assert code.group(1).encode() not in code_row.sealed

    # Ana writes meanwhile: her answer queues behind the code, with no try against the captcha.
    refusals = sum(1 for e in world.signal.errors if e.status == 429)
    await ana.say("/help", expect=0)
    await world.until_queued(2)
    assert sum(1 for e in world.signal.errors if e.status == 429) == refusals
    assert (await world.pump()).held == ["signal"]  # held: nothing claimed, nothing spent
    assert len(ana.inbox) == inbox

    assert await world.signal_channel.submit_captcha("signalcaptcha://solved")
    world.clock.advance(seconds=20)
    report = await world.pump()
    assert (report.sent, report.unknown) == (2, 0)
    first, second = ana.inbox[inbox:]
    again = PICKUP.search(first.text)
    assert again is not None
    assert again.group(1) == code.group(1)
    assert "pickup code" not in second.text.lower()  # the answer to /help came after it
    assert await world.queued() == []

    # And /status shows the code again.
    [status] = await ana.say("/status")
    assert f"Your pickup code: {code.group(1)}" in status.text


async def test_signal_5xx_reply_arrives_later(world: World) -> None:
    ana = world.signal.person("ana")
    world.signal.fail_next_send("server_error")
    await ana.say("/start", expect=0)
    await world.until_queued(1)
    assert ana.inbox == []
    world.clock.advance(seconds=5)
    assert (await world.pump()).sent == 1
    assert WELCOME in ana.inbox[-1].text.lower()


def test_a_sealed_reply_keeps_what_may_be_typed() -> None:
    from bot.core.messages import Option, Reply
    from bot.privacy import AddressBox, derive_keys
    from bot.services.notices import seal_reply

    box = AddressBox(derive_keys("n" * 40).address)
    reply = Reply("Where?", (Option("Gastown", "a:1"),), ask_location=True, typed="a street")
    assert open_reply(box, seal_reply(box, reply)) == reply
    # An option's own key (a free-text step's way out on 0) survives the outbox too.
    keyed = Reply("Type it", (Option("Don't send", "ln:k", key="0"),))
    assert open_reply(box, seal_reply(box, keyed)) == keyed


def test_a_queued_reply_is_sent_new_not_as_an_edit() -> None:
    """A reply meant to replace a message, queued for retry, comes back without that
    reference: sent later, it goes out as a new message and never edits an older one."""
    from dataclasses import replace

    from bot.core.messages import Option, Reply
    from bot.privacy import AddressBox, derive_keys
    from bot.services.notices import seal_reply

    box = AddressBox(derive_keys("n" * 40).address)
    reply = Reply("Preview", (Option("Send now", "bc:1:send:1"),), edit="12")
    assert open_reply(box, seal_reply(box, reply)) == replace(reply, edit=None)
