"""The outbox: exactly once through the real Telegram client with 429/5xx faults, concurrent
workers, the lease policy (unknown = possible duplicates), retries, pacing, unreachable."""

from __future__ import annotations

import asyncio
import dataclasses
import time
from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from typing import Any

import pytest
from pydantic import AnyHttpUrl, SecretStr
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.channels.telegram import TelegramChannel
from bot.channels.telegram_request import AiohttpRequest
from bot.content import Content
from bot.core.engine import Engine
from bot.core.messages import Reply, SendResult, SendStatus
from bot.db.base import utcnow
from bot.db.engine import make_engine, make_sessionmaker
from bot.db.models import Contact, Delivery, Subscription
from bot.domain import AlertKind, Channel, DeliveryStatus
from bot.emulator import Faults, TelegramEmulator
from bot.services import alerts, outbox
from bot.services.outbox import Fanout, FanoutConfig, TokenBucket, _Storm
from bot.services.subscriptions import EVERYWHERE
from bot.settings import Settings
from tests.support.alerts import (
    NOW,
    PlainSender,
    RecordingSender,
    add_subscribers,
    alert_engine,
)
from tests.support.chat import Clock
from tests.support.engine import make_deps
from tests.support.waiting import until

Sessions = async_sessionmaker[AsyncSession]
FAST = FanoutConfig(
    rates={Channel.TELEGRAM: 0},  # unlimited: these tests are about correctness
    window=8,
    # Generous: the fake platform never leaves a send ambiguous, so a timeout here would only
    # measure a loaded test machine (and rightly end in `unknown`).
    lease=timedelta(seconds=40),
    send_timeout=30.0,
    backoff_base=0.05,
    backoff_cap=0.5,
    budget=10.0,
)


@pytest.fixture(scope="module")
def content() -> Content:
    return make_deps().content


async def _alert(
    sessions: Sessions,
    content: Content,
    areas: list[str],
    *,
    lifetime: timedelta = alerts.DEFAULT_LIFETIME,
    now: datetime | None = None,
) -> int:
    now = now or utcnow()
    async with sessions.begin() as session:
        draft = await alerts.create_draft(
            session,
            kind=AlertKind.BAD_BATCH,
            severity=3,
            areas=areas,
            fields={"sold_as": "down", "found_to_contain": "nitazenes"},
            gazetteer=content.gazetteer,
            now=now,
            lifetime=lifetime,
        )
        await alerts.send_now(session, alert_id=draft.id, now=now)
    return draft.id


async def _drain(fanout: Fanout, *, rounds: int = 20) -> outbox.AlertTick:
    """Run ticks until nothing is outstanding; returns the summed counts."""
    total = outbox.AlertTick()
    for _ in range(rounds):
        tick = await fanout.run()
        for name in ("sent", "unknown", "failed", "unreachable", "expired", "retried"):
            setattr(total, name, getattr(total, name) + getattr(tick, name))
        total.recovered += tick.recovered
        total.finished += tick.finished
        if not tick.more:
            return total
    raise AssertionError("deliveries still outstanding")


async def _tally(sessions: Sessions, alert_id: int) -> alerts.Tally:
    async with sessions() as session:
        return await alerts.progress(session, alert_id=alert_id)


def _fanout(engine: Engine, **changes: Any) -> Fanout:
    return Fanout(engine, dataclasses.replace(FAST, **changes))


# --- through the real Telegram client ------------------------------------------------------------


@pytest.fixture
async def faulty_emulator() -> AsyncIterator[TelegramEmulator]:
    emulator = TelegramEmulator(
        seed=5, faults=Faults(rate_limit=0.1, server_error=0.1, retry_after=1, seed=9)
    )
    await emulator.start()
    try:
        yield emulator
    finally:
        await emulator.stop()


async def test_exactly_once_through_telegram_with_429_and_5xx(
    sessions: Sessions, content: Content, faulty_emulator: TelegramEmulator
) -> None:
    emu = faulty_emulator
    people = {
        area: [emu.user(f"{area}{i}") for i in range(n)]
        for area, n in [
            ("dtes", 90),
            ("strathcona", 40),
            ("kitsilano", 50),
            ("all", 10),
            ("blocked", 5),
        ]
    }
    for group in people.values():
        for user in group:
            user.started = True
    for user in people["blocked"]:
        user.blocked = True
    async with sessions.begin() as session:
        for area, group in people.items():
            subscribed = {"all": [EVERYWHERE], "blocked": ["dtes"]}.get(area, [area])
            await add_subscribers(session, [str(u.id) for u in group], subscribed)
    alert_id = await _alert(sessions, content, ["dtes", "strathcona"])

    engine = alert_engine(sessions)
    # PTB's own limiter off (max_rate=0): the outbox paces instead.
    channel = TelegramChannel(
        engine, token=emu.token, base_url=emu.base_url, poll_timeout=1, max_retries=0, max_rate=0
    )
    async with channel:
        fanout = _fanout(engine, backoff_base=0.2, rates={Channel.TELEGRAM: 500})
        await _drain(fanout)

    for area in ("dtes", "strathcona", "all"):
        for user in people[area]:
            assert len(user.transcript) == 1, f"{user.name} got {len(user.transcript)}"
            assert user.transcript[0].text.startswith("🔴 Urgent notice")
    for user in people["kitsilano"] + people["blocked"]:
        assert user.transcript == []
    faults = [e.code for e in emu.errors if e.injected]
    assert faults.count(429) > 5
    assert faults.count(502) > 5
    tally = await _tally(sessions, alert_id)
    assert (tally.sent, tally.unreachable, tally.unknown, tally.failed) == (140, 5, 0, 0)
    async with sessions() as session:
        unreachable = list(
            await session.scalars(select(Contact.id).where(Contact.reachable.is_(False)))
        )
        left = list(
            await session.scalars(
                select(Subscription.contact_id).where(Subscription.contact_id.in_(unreachable))
            )
        )
    assert len(unreachable) == 5
    assert left == []


@pytest.mark.parametrize("stall", [1.5, None], ids=["timeout", "connection-lost"])
async def test_telegram_timeout_in_a_fanout_is_counted_unknown(
    sessions: Sessions, content: Content, stall: float | None
) -> None:
    # The first sendMessage is carried out by the fake Telegram (the message arrives), but its
    # answer comes too late (or never): the client cannot know. The policy resends it and
    # counts it `unknown`; the emulator's log is the witness that it arrived twice.
    async with TelegramEmulator(seed=3) as emu:
        people = [emu.user(f"p{i}") for i in range(6)]
        for user in people:
            user.started = True
        async with sessions.begin() as session:
            await add_subscribers(session, [str(u.id) for u in people], ["dtes"])
        alert_id = await _alert(sessions, content, ["dtes"])
        emu.stall_next("sendMessage", seconds=stall)
        engine = alert_engine(sessions)
        channel = TelegramChannel(
            engine,
            token=emu.token,
            base_url=emu.base_url,
            poll_timeout=1,
            max_retries=0,
            max_rate=0,
            request=lambda: AiohttpRequest(read_timeout=0.3),
        )
        async with channel:
            total = await _drain(_fanout(engine, window=1))

    copies = sorted(len(user.transcript) for user in people)
    assert copies == [1, 1, 1, 1, 1, 2]
    tally = await _tally(sessions, alert_id)
    assert (tally.sent, tally.unknown, tally.failed, tally.unreachable) == (5, 1, 0, 0)
    assert (total.sent, total.unknown) == (5, 1)


async def test_a_429_on_one_delivery_does_not_hold_up_the_others(
    sessions: Sessions, content: Content, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The channel as ``hrbot run`` builds it (PTB's limiter at 30/s, retrying a reply's 429):
    a broadcast's 429 goes back to the outbox at once, which reschedules that row alone; the
    other rows go out meanwhile. (PTB's own retry held every call of the bot instead.)"""
    for name in ("HRBOT_TELEGRAM_MAX_RATE", "HRBOT_TELEGRAM_HTTP_CLIENT"):
        monkeypatch.delenv(name, raising=False)
    async with TelegramEmulator(seed=4) as emu:
        people = [emu.user(f"p{i}") for i in range(8)]
        for user in people:
            user.started = True
        async with sessions.begin() as session:
            await add_subscribers(session, [str(u.id) for u in people], ["dtes"])
        alert_id = await _alert(sessions, content, ["dtes"])
        # The clock stands still: a row rescheduled for later is not due again in this run.
        frozen = utcnow()
        engine = alert_engine(sessions, clock=lambda: frozen)
        settings = Settings(
            telegram_token=SecretStr(emu.token), telegram_api_url=AnyHttpUrl(emu.base_url)
        )
        emu.fail_next("sendMessage", status=429, retry_after=5)
        async with TelegramChannel.from_settings(engine, settings):
            tick = await _fanout(engine, window=1).run(budget=3)

        sends = [call for call in emu.calls if call.method == "sendMessage"]
        limited = sends[0].params["chat_id"]
        assert [call.status for call in sends] == [429] + [200] * 7
        assert limited not in {call.params["chat_id"] for call in sends[1:]}
    assert (tick.sent, tick.retried) == (7, 1)
    tally = await _tally(sessions, alert_id)
    assert tally.sent == 7
    async with sessions() as session:
        waiting = (
            await session.execute(
                select(Delivery.status, Delivery.last_error, Delivery.next_attempt_at).where(
                    Delivery.alert_id == alert_id, Delivery.status != DeliveryStatus.SENT
                )
            )
        ).all()
    assert [(row[0], row[1]) for row in waiting] == [(DeliveryStatus.PENDING, "rate_limited")]
    assert waiting[0][2] == frozen + timedelta(seconds=5)  # Telegram's retry_after


async def test_a_wake_up_ends_a_runs_wait_for_a_retry(sessions: Sessions, content: Content) -> None:
    """A run waiting for a retry claims new rows as soon as it is woken ([Send now] while an
    earlier alert's retry is pending), without waiting out the retry or its budget."""
    async with sessions.begin() as session:
        await add_subscribers(session, ["ana"], ["dtes"])
        await add_subscribers(session, ["bob"], ["kitsilano"])
    await _alert(sessions, content, ["dtes"])
    frozen = [utcnow()]
    engine = alert_engine(sessions, clock=lambda: frozen[0])  # ana's retry never falls due
    platform = RecordingSender()
    platform.script["ana"] = [SendResult(SendStatus.RETRY, retry_after=60)]
    engine.add_sender(Channel.TELEGRAM, platform)
    fanout = _fanout(engine, budget=600)
    running = asyncio.create_task(fanout.run())
    try:
        await until(lambda: platform.calls > 0)
        await _alert(sessions, content, ["kitsilano"])
        frozen[0] = utcnow()  # bob's row is due; ana's retry is still a minute away
        fanout.wake()
        await until(lambda: "bob" in platform.sent)
        assert not running.done()  # still waiting for ana's retry
    finally:
        running.cancel()
        await asyncio.gather(running, return_exceptions=True)
    assert platform.counts() == {"bob": 1}


# --- concurrency ---------------------------------------------------------------------------------


async def test_two_workers_never_send_a_delivery_twice(
    sessions: Sessions, content: Content, db_url: str
) -> None:
    async with sessions.begin() as session:
        await add_subscribers(session, [f"p{i}" for i in range(400)], ["dtes"])
    await _alert(sessions, content, ["dtes"])
    other_db = make_engine(db_url)
    try:
        platform = RecordingSender(delay=0.001)
        first, second = alert_engine(sessions), alert_engine(make_sessionmaker(other_db))
        first.add_sender(Channel.TELEGRAM, platform)
        second.add_sender(Channel.TELEGRAM, platform)
        one, two = await asyncio.gather(_fanout(first).run(), _fanout(second).run())
    finally:
        await other_db.dispose()
    assert platform.counts() == {f"p{i}": 1 for i in range(400)}
    assert one.sent + two.sent == 400
    assert one.sent > 0, "both workers should have taken part"
    assert two.sent > 0, "both workers should have taken part"


async def test_send_window_bounds_concurrency(sessions: Sessions, content: Content) -> None:
    async with sessions.begin() as session:
        await add_subscribers(session, [f"p{i}" for i in range(40)], ["dtes"])
    await _alert(sessions, content, ["dtes"])
    in_flight = peak = 0

    class Slow(RecordingSender):
        async def send_result(self, address: str, reply: Reply) -> SendResult:
            nonlocal in_flight, peak
            in_flight += 1
            peak = max(peak, in_flight)
            try:
                await asyncio.sleep(0.02)
                return await super().send_result(address, reply)
            finally:
                in_flight -= 1

    engine = alert_engine(sessions)
    engine.add_sender(Channel.TELEGRAM, Slow())
    await _drain(_fanout(engine, window=4))
    assert peak == 4


async def test_pacing_holds_the_configured_rate(sessions: Sessions, content: Content) -> None:
    async with sessions.begin() as session:
        await add_subscribers(session, [f"p{i}" for i in range(60)], ["dtes"])
    await _alert(sessions, content, ["dtes"])
    engine = alert_engine(sessions)
    sender = RecordingSender()
    engine.add_sender(Channel.TELEGRAM, sender)
    started = time.monotonic()
    await _drain(_fanout(engine, rates={Channel.TELEGRAM: 50.0}))
    elapsed = time.monotonic() - started
    assert len(sender.counts()) == 60
    # 5 tokens of burst, then 50 a second: at least 1.1 s for 60.
    assert elapsed >= 1.05


def test_token_bucket_arithmetic() -> None:
    clock = [0.0]
    bucket = TokenBucket(30.0, monotonic=lambda: clock[0])
    assert bucket.burst == 3.0

    async def take(n: int) -> int:
        return await bucket.take(n)

    assert asyncio.run(take(10)) == 3
    clock[0] += 0.1  # three more tokens
    assert asyncio.run(take(2)) == 2
    bucket.refund(5)
    assert asyncio.run(take(10)) == 3  # capped at the burst
    assert TokenBucket(0).unlimited
    assert asyncio.run(TokenBucket(0).take(7)) == 7


def test_token_bucket_at_a_paid_pace_bursts_little_and_waits_for_a_few(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    clock = [0.0]
    slept: list[float] = []
    real_sleep = asyncio.sleep

    async def sleep(seconds: float) -> None:  # the bucket's clock moves as it sleeps
        slept.append(seconds)
        clock[0] += seconds
        await real_sleep(0)

    monkeypatch.setattr(asyncio, "sleep", sleep)

    async def take(bucket: TokenBucket, most: int, least: int) -> int:
        return await bucket.take(most, least)

    bucket = TokenBucket(1000.0, monotonic=lambda: clock[0])
    # At most 20 over the rate in any second (Telegram's paid limit is 1,000 a second).
    assert bucket.burst == 20.0
    assert bucket.step == 10
    assert asyncio.run(take(bucket, 64, bucket.step)) == 20
    clock[0] += 0.002  # two tokens: fewer than the step, so it waits for eight more
    assert asyncio.run(take(bucket, 64, bucket.step)) == 10
    assert slept == [pytest.approx(0.008)]
    clock[0] += 0.013  # woken late: the three extra tokens are kept for the next claim
    assert asyncio.run(take(bucket, 64, bucket.step)) == 13
    assert TokenBucket(30.0).step == 1  # a slow pace claims as soon as one token is there
    # A limit no second may pass: its burst comes out of the rate.
    assert TokenBucket(1000.0, within=True).rate == 980.0
    assert TokenBucket(30.0, within=True).rate == 27.0


def test_storm_pauses_when_most_sends_are_refused() -> None:
    storm = _Storm(size=10, share=0.5)
    assert [storm.record(refused=i % 20 == 0, retry_after=None) for i in range(40)] == [None] * 40
    # Half of the last ten refused: pause, at least as long as the platform asked.
    pauses = [storm.record(refused=True, retry_after=3) for _ in range(5)]
    assert pauses == [None, None, None, None, 3.0]
    again = [storm.record(refused=True, retry_after=None) for _ in range(10)]
    assert again == [None] * 9 + [2.0]  # a second storm in a row pauses longer


def test_config_is_checked() -> None:
    with pytest.raises(ValueError, match="lease"):
        FanoutConfig(lease=timedelta(milliseconds=100))
    with pytest.raises(ValueError, match="at least 1"):
        FanoutConfig(window=0)


async def test_a_slow_send_keeps_its_lease(sessions: Sessions, content: Content) -> None:
    """A send slower than the lease is not taken back while the process is alive."""
    async with sessions.begin() as session:
        await add_subscribers(session, ["ana"], ["dtes"])
    alert_id = await _alert(sessions, content, ["dtes"])
    engine = alert_engine(sessions)
    platform = RecordingSender(delay=1.5)
    engine.add_sender(Channel.TELEGRAM, platform)
    fanout = _fanout(engine, lease=timedelta(milliseconds=600))
    run = asyncio.create_task(fanout.run())
    await asyncio.sleep(1.0)
    async with sessions() as session:
        lease = await session.scalar(select(Delivery.lease_until))
    assert lease is not None
    assert lease > utcnow()
    await run
    assert platform.counts() == {"ana": 1}
    assert (await _tally(sessions, alert_id)).sent == 1


# --- outcomes ------------------------------------------------------------------------------------


async def test_lease_policy_resends_and_counts_unknown(
    sessions: Sessions, content: Content
) -> None:
    """What a crash leaves: rows `sending` under a lease. Some had reached the platform,
    some had not; all are resent once the lease expires and end `unknown`, and the platform
    log holds exactly one duplicate per row that had reached it."""
    async with sessions.begin() as session:
        await add_subscribers(session, [f"p{i}" for i in range(20)], ["dtes"])
    alert_id = await _alert(sessions, content, ["dtes"])
    engine = alert_engine(sessions)
    platform = RecordingSender()
    engine.add_sender(Channel.TELEGRAM, platform)
    # The crashed process had claimed six rows; four of those sends had reached the platform.
    async with sessions.begin() as session:
        rows = (
            await session.execute(
                select(Delivery.id, Contact.reply_address)
                .join(Contact, Contact.id == Delivery.contact_id)
                .order_by(Delivery.id)
                .limit(6)
            )
        ).all()
        await session.execute(
            update(Delivery)
            .where(Delivery.id.in_([r.id for r in rows]))
            .values(status=DeliveryStatus.SENDING, attempts=1, lease_until=utcnow())
        )
    for _, sealed in rows[:4]:
        platform.sent[engine.box.open(sealed)].append("(the cut-off send)")
    tick = await _drain(_fanout(engine))
    tally = await _tally(sessions, alert_id)
    duplicates = sum(n - 1 for n in platform.counts().values() if n > 1)
    assert tick.recovered == 6
    assert (tally.sent, tally.unknown) == (14, 6)
    assert duplicates == 4 <= tally.unknown
    assert all(n >= 1 for n in platform.counts().values())
    assert len(platform.counts()) == 20


async def test_a_live_lease_is_not_taken(sessions: Sessions, content: Content) -> None:
    async with sessions.begin() as session:
        await add_subscribers(session, ["ana"], ["dtes"])
    await _alert(sessions, content, ["dtes"])
    async with sessions.begin() as session:
        await session.execute(
            update(Delivery).values(
                status=DeliveryStatus.SENDING, lease_until=utcnow() + timedelta(minutes=5)
            )
        )
    engine = alert_engine(sessions)
    platform = RecordingSender()
    engine.add_sender(Channel.TELEGRAM, platform)
    tick = await _fanout(engine, budget=0.5).run()
    assert platform.calls == 0
    assert tick.recovered == 0
    assert tick.more


async def test_a_sent_row_is_never_sent_again(sessions: Sessions, content: Content) -> None:
    """Success is final: with the clock past every lease, the next tick claims nothing."""
    clock = Clock(NOW)
    async with sessions.begin() as session:
        await add_subscribers(session, ["ana", "bob"], ["dtes"], now=NOW)
    alert_id = await _alert(sessions, content, ["dtes"], now=NOW)
    engine = alert_engine(sessions, clock)
    platform = RecordingSender()
    engine.add_sender(Channel.TELEGRAM, platform)
    fanout = _fanout(engine)

    first = await fanout.run()
    clock.advance(seconds=FAST.lease.total_seconds() + 1)
    second = await fanout.run()

    assert platform.counts() == {"ana": 1, "bob": 1}
    assert (first.sent, second.claimed, second.recovered) == (2, 0, 0)
    tally = await _tally(sessions, alert_id)
    assert (tally.sent, tally.pending, tally.sending) == (2, 0, 0)


async def test_sent_at_is_the_hour_only(sessions: Sessions, content: Content) -> None:
    """The platform logs the exact time it carried a message to a chat: a delivery keeps the
    hour, so its time does not single out the chat among that hour's sends."""
    clock = Clock(NOW + timedelta(minutes=17, seconds=23, microseconds=456789))
    async with sessions.begin() as session:
        await add_subscribers(session, ["ana", "bob"], ["dtes"], now=NOW)
    await _alert(sessions, content, ["dtes"], now=NOW)
    engine = alert_engine(sessions, clock)
    engine.add_sender(Channel.TELEGRAM, RecordingSender())
    assert (await _fanout(engine).run()).sent == 2
    async with sessions() as session:
        sent = list(await session.scalars(select(Delivery.sent_at)))
    assert sent == [NOW.replace(minute=0, second=0, microsecond=0)] * 2


async def test_timeout_is_ambiguous_and_counted_unknown(
    sessions: Sessions, content: Content
) -> None:
    async with sessions.begin() as session:
        await add_subscribers(session, ["ana", "bob"], ["dtes"])
    alert_id = await _alert(sessions, content, ["dtes"])
    engine = alert_engine(sessions)
    platform = RecordingSender()
    platform.script["ana"] = ["deliver-then-timeout"]
    engine.add_sender(Channel.TELEGRAM, platform)
    await _drain(_fanout(engine, send_timeout=0.2, lease=timedelta(seconds=1)))
    assert platform.counts() == {"ana": 2, "bob": 1}
    tally = await _tally(sessions, alert_id)
    assert (tally.sent, tally.unknown) == (1, 1)


async def test_rate_limit_honours_retry_after_and_is_not_ambiguous(
    sessions: Sessions, content: Content
) -> None:
    async with sessions.begin() as session:
        await add_subscribers(session, ["ana", "bob"], ["dtes"])
    alert_id = await _alert(sessions, content, ["dtes"])
    engine = alert_engine(sessions)
    platform = RecordingSender()
    platform.script["ana"] = [SendResult(SendStatus.RETRY, retry_after=0.6)]
    platform.script["bob"] = [SendResult(SendStatus.RETRY), SendResult(SendStatus.RETRY)]
    engine.add_sender(Channel.TELEGRAM, platform)
    started = time.monotonic()
    await _drain(_fanout(engine))
    assert time.monotonic() - started >= 0.6
    assert platform.counts() == {"ana": 1, "bob": 1}
    tally = await _tally(sessions, alert_id)
    assert (tally.sent, tally.unknown) == (2, 0)


async def test_give_up_and_rejections_fail(sessions: Sessions, content: Content) -> None:
    async with sessions.begin() as session:
        await add_subscribers(session, ["ana", "bob", "cy"], ["dtes"])
    alert_id = await _alert(sessions, content, ["dtes"])
    engine = alert_engine(sessions)
    platform = RecordingSender()
    platform.script["ana"] = [SendResult(SendStatus.RETRY)] * 3
    platform.script["bob"] = [SendResult(SendStatus.FAILED)]
    engine.add_sender(Channel.TELEGRAM, platform)
    await _drain(_fanout(engine, max_attempts=3))
    tally = await _tally(sessions, alert_id)
    assert (tally.sent, tally.failed) == (1, 2)
    async with sessions() as session:
        errors = set(await session.scalars(select(Delivery.last_error)))
    assert errors == {None, "gave_up", "rejected"}


async def test_blocked_contact_is_unsubscribed_and_skipped(
    sessions: Sessions, content: Content
) -> None:
    async with sessions.begin() as session:
        await add_subscribers(session, ["ana", "bob"], ["dtes", "gastown"])
    first = await _alert(sessions, content, ["dtes"])
    second = await _alert(sessions, content, ["gastown"])
    engine = alert_engine(sessions)
    platform = RecordingSender()
    platform.blocked.add("ana")
    engine.add_sender(Channel.TELEGRAM, platform)
    await _drain(_fanout(engine, window=1))
    # One refusal was enough: her second alert was never tried.
    assert platform.calls == 3
    assert platform.counts() == {"bob": 2}
    for alert_id in (first, second):
        tally = await _tally(sessions, alert_id)
        assert (tally.sent, tally.unreachable) == (1, 1)
    async with sessions() as session:
        subscribed = set(await session.scalars(select(Subscription.contact_id)))
    assert len(subscribed) == 1


async def test_alert_expiring_mid_send_stops(sessions: Sessions, content: Content) -> None:
    async with sessions.begin() as session:
        await add_subscribers(session, [f"p{i}" for i in range(10)], ["dtes"])
    alert_id = await _alert(sessions, content, ["dtes"], lifetime=timedelta(hours=1))
    offset = [timedelta(0)]
    engine = alert_engine(sessions, clock=lambda: utcnow() + offset[0])

    class Expiring(RecordingSender):
        async def send_result(self, address: str, reply: Reply) -> SendResult:
            result = await super().send_result(address, reply)
            if self.calls == 3:
                offset[0] = timedelta(hours=2)  # the alert lapses now
            return result

    platform = Expiring()
    engine.add_sender(Channel.TELEGRAM, platform)
    await _drain(_fanout(engine, window=1))
    tally = await _tally(sessions, alert_id)
    assert (tally.sent, tally.expired) == (3, 7)
    assert platform.calls == 3


class _Held(RecordingSender):
    """A channel that may ask the outbox to hold back, as Signal does during a captcha."""

    def __init__(self) -> None:
        super().__init__(delay=0.01)
        self.hold: float | None = None
        self.in_flight = 0
        self.most_while_held = 0
        self.refuse_probe = False

    def bulk_hold(self) -> float | None:
        return self.hold

    async def send_result(self, address: str, reply: Reply) -> SendResult:
        self.in_flight += 1
        if self.hold is not None:
            self.most_while_held = max(self.most_while_held, self.in_flight)
        try:
            if self.hold is not None and self.refuse_probe:
                self.calls += 1
                self.hold = 60.0  # still challenged: hold again
                return SendResult(SendStatus.RETRY)
            result = await super().send_result(address, reply)
            self.hold = None  # Signal took it: the challenge is over
            return result
        finally:
            self.in_flight -= 1


async def test_a_held_channel_claims_nothing_then_probes_one_row(
    sessions: Sessions, content: Content
) -> None:
    async with sessions.begin() as session:
        await add_subscribers(session, [f"p{i}" for i in range(6)], ["dtes"])
    alert_id = await _alert(sessions, content, ["dtes"])
    engine = alert_engine(sessions)
    platform = _Held()
    engine.add_sender(Channel.TELEGRAM, platform)
    fanout = _fanout(engine)

    platform.hold = 60.0
    tick = await fanout.run(budget=0.3)
    assert (tick.claimed, platform.calls, tick.more) == (0, 0, True)
    async with sessions() as session:
        attempts = list(await session.scalars(select(Delivery.attempts)))
    assert attempts == [0] * 6  # held rows spend nothing

    platform.hold, platform.refuse_probe = 0.0, True
    tick = await fanout.run(budget=0.3)
    assert (tick.claimed, platform.calls, tick.retried) == (1, 1, 1)

    platform.hold, platform.refuse_probe = 0.0, False
    await _drain(fanout)
    assert platform.most_while_held == 1  # probes go one at a time
    assert platform.counts() == {f"p{i}": 1 for i in range(6)}
    tally = await _tally(sessions, alert_id)
    assert (tally.sent, tally.failed) == (6, 0)


async def test_a_channel_with_only_send_works(sessions: Sessions, content: Content) -> None:
    async with sessions.begin() as session:
        await add_subscribers(session, ["ana", "bob"], ["dtes"])
    await _alert(sessions, content, ["dtes"])
    engine = alert_engine(sessions)
    plain = PlainSender()
    engine.add_sender(Channel.TELEGRAM, plain)
    await _drain(_fanout(engine))
    assert sorted(plain.sent) == ["ana", "bob"]


async def test_no_sender_no_claim_and_a_busy_tick_is_skipped(
    sessions: Sessions, content: Content
) -> None:
    async with sessions.begin() as session:
        await add_subscribers(session, ["ana"], ["dtes"], channel=Channel.SIGNAL)
    await _alert(sessions, content, ["dtes"])
    engine = alert_engine(sessions)
    engine.add_sender(Channel.TELEGRAM, RecordingSender())
    fanout = _fanout(engine, budget=0.3)
    one, two = await asyncio.gather(fanout.run(), fanout.run())
    assert sorted([one.skipped, two.skipped]) == [False, True]
    # Signal has no sender here: its row waits (until its alert expires).
    assert one.more or two.more
    assert one.claimed + two.claimed == 0
