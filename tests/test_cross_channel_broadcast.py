"""One broadcast across Telegram and Signal: exactly once each, with 429s on both.

The whole application runs in one event loop: the real python-telegram-bot client against the
fake Bot API, the real signalbot-based channel against the fake signal-cli-rest-api, and
:class:`~bot.runner.BotService`'s clock ticking the alert outbox. People subscribe through
``/alerts`` on both platforms (in the target areas, outside them, in the areas the other
platform's people chose); a coordinator on Telegram composes the alert through ``/broadcast``.

The witnesses are the fake servers' own logs (what each person's phone got) and the tally the
coordinator is sent; afterwards no table or log line holds a Telegram id, Signal number or UUID.

1. A share of sends is answered 429: Telegram with ``retry_after``, Signal with a plain rate
   limit (``challenge_tokens: [""]``, signal-cli's RATE_LIMIT_FAILURE without a token).
2. Signal demands a captcha after two sends: the rest of its deliveries stay pending (only a
   probe per recheck is tried), coordinators get the token, and once the captcha is solved out
   of band (README, "Signal captcha") a probe finds Signal sending again and the rest go out.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import json
import logging
import re
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, replace

import aiohttp
import pytest
from sqlalchemy import MetaData, select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from bot.channels.signal import Reconnect, SignalChannel, SignalPacing
from bot.channels.telegram import TelegramChannel
from bot.core.engine import Engine
from bot.core.ratelimit import RateLimiter
from bot.db.base import utcnow
from bot.db.models import Delivery
from bot.domain import Channel, DeliveryStatus, Role
from bot.emulator import FakeUser, Faults, TelegramEmulator
from bot.privacy import AddressBox, RedactionFilter
from bot.runner import BotService, signal_challenge_hook
from bot.services import invites
from bot.services.outbox import FanoutConfig, fanout_for
from bot.signal_emulator import FakePerson, SignalEmulator
from handlers.routes import build_routes
from tests.support.alerts import add_subscribers
from tests.support.engine import TEST_KEYS, make_deps

TARGETS = ("Strathcona", "Gastown")
OUTSIDE = "Kitsilano"
CONTAINS = "nitazenes"  # only the alert says this: how a phone's copy is recognised
TALLY = re.compile(
    r"Alert A(\d+) is done: sent (\d+), failed (\d+), unreachable (\d+), unknown (\d+)\."
)
TOKEN = re.compile(r"Challenge token: (\S+)")
# Besides the people who subscribe through /alerts, this many per platform and area group are
# added straight to the database, so the 429 shares bite on a fan-out of some size.
BULK = 20
RECHECK = 1.0  # seconds a captcha holds Signal's fan-out before a probe
TICK = 0.2  # seconds between the outbox's ticks


@dataclass
class Town:
    """The running bot, both fake platforms and who lives where."""

    engine: Engine
    telegram: TelegramEmulator
    signal: SignalEmulator
    channel: SignalChannel
    coco: FakeUser  # the coordinator who broadcasts (Telegram)
    sasha: FakePerson  # another coordinator (Signal)
    tg_in: list[FakeUser]
    tg_out: list[FakeUser]
    sig_in: list[FakePerson]
    sig_out: list[FakePerson]

    def tg_copies(self, user: FakeUser) -> int:
        return sum(CONTAINS in m.text for m in user.transcript)

    def sig_copies(self, person: FakePerson) -> int:
        return sum(CONTAINS in m.text for m in person.inbox)

    async def tally(self, within: float = 30.0) -> tuple[int, ...]:
        """The numbers in the "Alert A… is done" notice the coordinator gets."""

        def found() -> re.Match[str] | None:
            return next((m for m in map(TALLY.search, self.coco.texts) if m), None)

        await self.telegram.wait_for(lambda: found() is not None, what="the tally", within=within)
        match = found()
        assert match is not None
        return tuple(int(g) for g in match.groups())

    async def broadcast(self) -> str:
        """``coco`` composes a bad-batch alert for the target areas and sends it now."""
        coco = self.coco
        await coco.say("/broadcast")
        await coco.tap("New alert")
        await coco.tap("Bad batch")
        await coco.tap("Danger")
        for area in TARGETS:
            await coco.tap(area)
        await coco.tap("Done")
        await coco.say("down")
        await coco.say(CONTAINS)
        await coco.tap("Skip")
        await coco.tap("Skip")
        await coco.say("Don't use alone. Test a small amount first.")
        [preview] = await coco.tap("1 day")
        assert f"If sent now, it goes to {self.expected} people." in preview.text
        [sent] = await coco.tap("Send now")
        return sent.text

    @property
    def expected(self) -> int:
        return len(self.tg_in) + len(self.sig_in)


@pytest.fixture
def captured_logs() -> Iterator[io.StringIO]:
    """Everything logged at DEBUG, as a production handler behind redaction would print it."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    root = logging.getLogger()
    old_level = root.level
    # Only on this handler: install_redaction(root) would also filter pytest's own handlers,
    # for later tests too.
    handler.addFilter(RedactionFilter())
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    try:
        yield stream
    finally:
        root.removeHandler(handler)
        root.setLevel(old_level)


async def _invite(engine: Engine, role: Role) -> str:
    async with engine.sessions.begin() as session:
        return await invites.create(
            session,
            codes_key=TEST_KEYS.codes,
            role=role,
            ttl=engine.deps.config.invite_ttl,
            now=engine.clock(),
        )


async def _subscribe_tg(user: FakeUser, *areas: str) -> None:
    for area in areas:
        await user.say("/alerts")
        await user.tap("Add an area")
        added = await user.say(area)
        assert area in added[-1].text


async def _subscribe_sig(person: FakePerson, *areas: str) -> None:
    for area in areas:
        await person.say("/alerts")
        await person.pick("Add an area")
        added = await person.say(area)
        assert area in added[-1].text


People = tuple[list[FakeUser], list[FakeUser], list[FakePerson], list[FakePerson]]


async def _populate(engine: Engine, tg: TelegramEmulator, sig: SignalEmulator) -> People:
    """People on both platforms: through /alerts, and in bulk straight into the database.

    Returns who lives in the target areas and who outside, on Telegram and on Signal."""
    tg_in = [tg.user(n) for n in ("tina", "tom", "tara")]
    sig_in = [sig.person("sam"), sig.person("sol", share_number=False), sig.person("sue")]
    tg_out, sig_out = [tg.user("tess")], [sig.person("sky")]
    # Each platform's people in the other platform's areas too, one of each in both areas.
    await _subscribe_tg(tg_in[0], "Strathcona")
    await _subscribe_tg(tg_in[1], "Gastown")
    await _subscribe_tg(tg_in[2], "Gastown", "Strathcona")
    await _subscribe_sig(sig_in[0], "Gastown")
    await _subscribe_sig(sig_in[1], "Strathcona")
    await _subscribe_sig(sig_in[2], "Strathcona", "Gastown")
    await _subscribe_tg(tg_out[0], OUTSIDE)
    await _subscribe_sig(sig_out[0], OUTSIDE)
    # People who talked to the bot but subscribed to nothing.
    await tg.user("nina").say("/start")
    await sig.person("noor").say("/start")

    bulk_tg_in = [tg.user(f"tg-in-{i}") for i in range(BULK)]
    bulk_tg_out = [tg.user(f"tg-out-{i}") for i in range(BULK // 4)]
    bulk_sig_in = [sig.person(f"sig-in-{i}", share_number=i % 2 == 0) for i in range(BULK)]
    bulk_sig_out = [sig.person(f"sig-out-{i}") for i in range(BULK // 4)]
    for user in bulk_tg_in + bulk_tg_out:
        user.started = True  # as if they had pressed Start long ago
    box = AddressBox(TEST_KEYS.address)
    now = engine.clock()
    async with engine.sessions.begin() as session:

        async def add(addresses: list[str], areas: list[str], channel: Channel) -> None:
            await add_subscribers(session, addresses, areas, channel=channel, box=box, now=now)

        await add([str(u.id) for u in bulk_tg_in], ["strathcona"], Channel.TELEGRAM)
        await add([str(u.id) for u in bulk_tg_out], ["kitsilano"], Channel.TELEGRAM)
        # A Signal reply address is the UUID (or the number, for people who share it).
        await add([p.uuid for p in bulk_sig_in], ["gastown", "strathcona"], Channel.SIGNAL)
        await add([p.number for p in bulk_sig_out], ["kitsilano"], Channel.SIGNAL)
    return (
        tg_in + bulk_tg_in,
        tg_out + bulk_tg_out,
        sig_in + bulk_sig_in,
        sig_out + bulk_sig_out,
    )


@pytest.fixture
async def town(sessions: async_sessionmaker[AsyncSession]) -> AsyncIterator[Town]:
    engine = Engine(
        sessions=sessions,
        deps=make_deps(),
        box=AddressBox(TEST_KEYS.address),
        routes=build_routes(),
        clock=utcnow,  # retries are due by the wall clock
    )
    engine.limiter = RateLimiter(burst=100)  # test people type faster than anyone
    # Short back-off and ticks: the test waits for retries in real time.
    fanout_for(engine, FanoutConfig(budget=2.0, backoff_base=0.2, backoff_cap=2.0))
    async with TelegramEmulator(seed=5) as tg, SignalEmulator(seed=5) as sig:
        telegram = TelegramChannel(engine, token=tg.token, base_url=tg.base_url, poll_timeout=1)
        signal = SignalChannel(
            engine,
            number=sig.number,
            service=sig.service,
            pacing=SignalPacing(recipient_burst=50, recipient_interval=0.001, global_interval=0),
            reconnect=Reconnect(initial=0.02, maximum=0.2),
            on_rate_limit=signal_challenge_hook(engine),
            challenge_recheck=RECHECK,
            ready_timeout=5,
        )
        # The service's own clock stays out of the way (an hour); the test ticks it faster
        # and can stop between ticks, where APScheduler would cut a tick off mid-send.
        service = BotService(engine, [telegram, signal], tick_seconds=3600)
        await service.start()
        stop = asyncio.Event()

        async def clock() -> None:
            while not stop.is_set():
                await service.tick()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), TICK)

        ticking = asyncio.create_task(clock())
        try:
            await sig.wait_for_receivers()
            coco, sasha = tg.user("coco"), sig.person("sasha")
            await coco.say(f"/join {await _invite(engine, Role.COORDINATOR)}")
            await sasha.say(f"/join {await _invite(engine, Role.COORDINATOR)}")
            people = await _populate(engine, tg, sig)
            yield Town(engine, tg, sig, signal, coco, sasha, *people)
        finally:
            stop.set()
            await ticking
            await service.stop()


async def test_each_subscriber_gets_it_once_despite_429s(
    town: Town, engine: AsyncEngine, captured_logs: io.StringIO
) -> None:
    tg, sig = town.telegram, town.signal
    tg.faults = Faults(rate_limit=0.3, retry_after=1, seed=5)
    sig.faults = replace(sig.faults, plain_rate_limit=0.3)
    tg_errors, sig_errors = len(tg.errors), len(sig.errors)

    sent = await town.broadcast()
    assert sent.startswith(f"Sending A1 to {town.expected} people.")
    tally = await town.tally()

    # The faults happened, on both platforms.
    assert any(e.code == 429 and e.injected for e in tg.errors[tg_errors:])
    plain = [e for e in sig.errors[sig_errors:] if e.status == 429]
    assert plain
    assert all(e.injected for e in plain)
    assert sig.challenges == {}  # a plain rate limit: nothing to solve...
    assert town.channel.challenge is None  # ...so no captcha state and no notice
    assert not any("Signal sending is paused" in text for text in town.coco.texts)

    # Every phone in the target areas got the alert once; nobody else got it.
    assert [town.tg_copies(u) for u in town.tg_in] == [1] * len(town.tg_in)
    assert [town.sig_copies(p) for p in town.sig_in] == [1] * len(town.sig_in)
    assert not any(town.tg_copies(u) for u in town.tg_out)
    assert not any(town.sig_copies(p) for p in town.sig_out)
    assert not any(CONTAINS in text for text in tg.user("nina").texts)
    assert not any(CONTAINS in m.text for m in sig.person("noor").inbox)
    # What the coordinator is told matches what the platforms' logs show.
    delivered = sum(map(town.tg_copies, town.tg_in)) + sum(map(town.sig_copies, town.sig_in))
    assert tally == (1, delivered, 0, 0, 0)
    assert delivered == town.expected

    await _assert_no_identifier_in_clear(town, engine, captured_logs)


async def test_captcha_defers_signal_until_lifted(
    town: Town, engine: AsyncEngine, captured_logs: io.StringIO
) -> None:
    tg, sig = town.telegram, town.signal
    sig.require_captcha(after=2)

    await town.broadcast()
    # Telegram goes on; Signal sends two, then is refused and holds the rest back.
    await tg.wait_for(
        lambda: all(town.tg_copies(u) == 1 for u in town.tg_in), what="Telegram's copies"
    )
    await tg.wait_for(
        lambda: any(TOKEN.search(text) for text in town.coco.texts),
        what="the captcha notice",
    )
    notice = next(text for text in town.coco.texts if TOKEN.search(text))
    assert notice.startswith("Signal sending is paused")
    token_match = TOKEN.search(notice)
    assert token_match is not None
    token = token_match.group(1)
    assert token in sig.challenges
    assert town.channel.challenge_pending

    # Held: nothing fails and nothing more arrives. Once the challenge is in force only a
    # probe per recheck reaches Signal; retried with back-off instead, the held rows would hit
    # it at the outbox's Signal rate (5/s).
    await asyncio.sleep(RECHECK)
    before = _refusals(sig)
    await asyncio.sleep(3 * RECHECK)
    assert _refusals(sig) - before <= 3 + 1
    assert sum(map(town.sig_copies, town.sig_in)) == 2
    statuses = await _signal_statuses(town)
    assert statuses.count(DeliveryStatus.SENT) == 2
    waiting = statuses.count(DeliveryStatus.PENDING) + statuses.count(DeliveryStatus.SENDING)
    assert waiting == len(town.sig_in) - 2
    assert statuses.count(DeliveryStatus.SENDING) <= 1  # a probe may be on its way

    # The operator solves the captcha as the README says, straight at signal-cli-rest-api.
    solve = f"http://{sig.service}/v1/accounts/{sig.number}/rate-limit-challenge"
    body = {"challenge_token": token, "captcha": "signalcaptcha://solved-by-a-person"}
    async with aiohttp.ClientSession() as http, http.post(solve, data=json.dumps(body)) as r:
        assert r.status == 204
    assert sig.challenges[token].solved_with == "signalcaptcha://solved-by-a-person"

    tally = await town.tally(within=30.0)
    assert not town.channel.challenge_pending
    assert [town.sig_copies(p) for p in town.sig_in] == [1] * len(town.sig_in)
    assert [town.tg_copies(u) for u in town.tg_in] == [1] * len(town.tg_in)
    assert not any(town.sig_copies(p) for p in town.sig_out)
    assert not any(town.tg_copies(u) for u in town.tg_out)
    assert tally == (1, town.expected, 0, 0, 0)
    await _assert_no_identifier_in_clear(town, engine, captured_logs)


def _refusals(sig: SignalEmulator) -> int:
    """How many sends signal-cli-rest-api has answered with 429 so far."""
    return sum(1 for error in sig.errors if error.status == 429)


async def _signal_statuses(town: Town) -> list[DeliveryStatus]:
    async with town.engine.sessions() as session:
        rows = await session.scalars(
            select(Delivery.status).where(Delivery.channel == Channel.SIGNAL)
        )
        return [DeliveryStatus(status) for status in rows]


async def _assert_no_identifier_in_clear(
    town: Town, engine: AsyncEngine, captured_logs: io.StringIO
) -> None:
    """No table and no log line holds a Telegram id, a Signal number or a UUID."""
    async with engine.connect() as conn:
        metadata = MetaData()
        await conn.run_sync(metadata.reflect)
        lines = []
        for table in metadata.sorted_tables:
            lines += [f"{table.name}: {row!r}" for row in (await conn.execute(select(table)))]
    dump = "\n".join(lines)
    assert "contacts:" in dump
    logs = captured_logs.getvalue()
    assert logs  # the bot did log while it worked
    tg_people = [*town.tg_in, *town.tg_out, town.coco, town.telegram.user("nina")]
    sig_people = [*town.sig_in, *town.sig_out, town.sasha, town.signal.person("noor")]
    telegram_ids = [str(u.id) for u in tg_people]
    signal_ids = [
        ident
        for person in sig_people
        for full in person.identifiers
        for ident in (full, full.lstrip("+"), full.replace("-", ""))
    ]
    leaks = _finder(telegram_ids, signal_ids)
    assert leaks(dump) == []
    assert leaks(logs) == []


def _finder(numbers: list[str], strings: list[str]) -> Callable[[str], list[str]]:
    # A Telegram id is only a leak as a whole number, not as a run of digits inside another.
    whole = re.compile(r"(?<!\d)(" + "|".join(map(re.escape, numbers)) + r")(?!\d)")

    def find(text: str) -> list[str]:
        return sorted(set(whole.findall(text)) | {s for s in strings if s in text})

    return find
