"""Paid broadcast per alert: its cost against the cap, checked again at sending; the outbox's
separate pace for it; ``allow_paid_broadcast`` reaching Telegram; and the emulator's limits
(30 free messages a second, 1,000 paid)."""

from __future__ import annotations

import dataclasses
from datetime import datetime, timedelta

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.channels.telegram import TelegramChannel
from bot.core.context import Config
from bot.core.engine import Engine
from bot.core.messages import Reply, SendResult, SendStatus
from bot.db.models import FollowUp
from bot.domain import AlertKind, Channel
from bot.emulator import TelegramEmulator
from bot.emulator.people import FakeUser
from bot.emulator.server import FREE_BROADCAST_LIMIT
from bot.privacy.images import strip_image
from bot.services import alerts
from bot.services.alerts import AlertError, Pace, Reach
from bot.services.outbox import Fanout, FanoutConfig
from tests.support.alerts import BOX, NO_ROUTES, NOW, add_coordinator, add_subscribers
from tests.support.chat import Clock
from tests.support.engine import make_deps
from tests.support.images import tagged_jpeg

Sessions = async_sessionmaker[AsyncSession]
CAP = Pace(max_stars=5)  # 50 messages
FAST = FanoutConfig(
    rates={Channel.TELEGRAM: 0, Channel.SIGNAL: 0},
    lease=timedelta(seconds=40),
    backoff_base=0.05,
    backoff_cap=0.5,
    budget=10.0,
)


def _engine(sessions: Sessions, clock: Clock, pace: Pace = CAP) -> Engine:
    deps = make_deps(Config(pace=pace))
    return Engine(sessions=sessions, deps=deps, box=BOX, routes=NO_ROUTES, clock=clock)


async def _draft(session: AsyncSession, *, creator: int | None = None, now: datetime = NOW) -> int:
    draft = await alerts.create_draft(
        session,
        kind=AlertKind.BAD_BATCH,
        severity=3,
        areas=["dtes"],
        fields={"sold_as": "down", "found_to_contain": "nitazenes"},
        gazetteer=make_deps().content.gazetteer,
        now=now,
        created_by_id=creator,
    )
    return draft.id


class _Recording:
    """Remembers every reply per address."""

    def __init__(self) -> None:
        self.sent: dict[str, list[Reply]] = {}

    @property
    def paid(self) -> dict[str, list[bool]]:
        """Per address, whether each reply was to go as a paid broadcast."""
        return {address: [r.paid for r in replies] for address, replies in self.sent.items()}

    async def send_result(self, address: str, reply: Reply) -> SendResult:
        self.sent.setdefault(address, []).append(reply)
        return SendResult(SendStatus.SENT)

    async def send(self, address: str, reply: Reply) -> SendStatus:
        return (await self.send_result(address, reply)).status


# --- the estimate and the cap --------------------------------------------------------------------


def test_cost_and_time_to_reach_everyone_are_plain_arithmetic() -> None:
    reach = Reach({Channel.TELEGRAM: 600, Channel.SIGNAL: 50}, messages_each=2)
    assert reach.total == 650
    assert reach.paid_messages == 1200  # a photo is a message of its own
    assert str(reach.stars) == "120.0"
    assert not reach.paid_allowed(Pace(max_stars=119))
    assert reach.paid_allowed(Pace(max_stars=120))
    assert not reach.paid_allowed(Pace())  # the default: paid broadcast off
    pace = Pace(rates={Channel.TELEGRAM: 30.0, Channel.SIGNAL: 5.0}, paid_rate=1000.0)
    assert reach.seconds(pace) == 40.0  # 1,200 messages at 30/s; Signal's 50 at 5/s take 10
    assert reach.seconds(pace, paid=True) == 10.0  # now Signal is the slowest
    assert Reach({Channel.SIGNAL: 3}).paid_allowed(Pace(max_stars=10)) is False  # no Telegram
    assert Reach({Channel.TELEGRAM: 9}).seconds(Pace(rates={Channel.TELEGRAM: 0})) == 0.0


async def test_paid_can_be_chosen_only_within_the_cap(sessions: Sessions) -> None:
    async with sessions.begin() as session:
        await add_subscribers(session, [str(i) for i in range(30)], ["dtes"])
        await add_subscribers(session, ["+1555"], ["dtes"], channel=Channel.SIGNAL)
        alert_id = await _draft(session)
        reach = await alerts.reach(session, alert_id=alert_id)
        assert reach.recipients == {Channel.TELEGRAM: 30, Channel.SIGNAL: 1}
        with pytest.raises(AlertError) as refused:
            await alerts.set_paid(session, alert_id=alert_id, paid=True, pace=Pace())
        assert refused.value.code == "paid"
        with pytest.raises(AlertError):
            await alerts.set_paid(session, alert_id=alert_id, paid=True, pace=Pace(max_stars=2))
        view = await alerts.set_paid(session, alert_id=alert_id, paid=True, pace=CAP)
        assert view.paid
        # With a photo each Telegram recipient costs two messages: 6 Stars, over 5.
        await alerts.set_photo(session, alert_id=alert_id, jpeg=strip_image(tagged_jpeg()))
        assert (await alerts.reach(session, alert_id=alert_id)).stars == 6
        off = await alerts.set_paid(session, alert_id=alert_id, paid=False, pace=Pace())
        assert not off.paid  # turning it off is always allowed


async def test_over_the_cap_at_sending_it_goes_free(sessions: Sessions) -> None:
    async with sessions.begin() as session:
        await add_subscribers(session, [str(i) for i in range(40)], ["dtes"])
        alert_id = await _draft(session)
        await alerts.set_paid(session, alert_id=alert_id, paid=True, pace=CAP)
        # More people subscribed since the preview: 60 messages, 6 Stars, over the cap.
        await add_subscribers(session, [str(i) for i in range(40, 60)], ["dtes"])
        await alerts.send_now(session, alert_id=alert_id, now=NOW, max_paid_stars=5)
        sent = await alerts.get(session, alert_id=alert_id)
        assert sent is not None
        assert not sent.paid

        within = await _draft(session)
        await alerts.set_paid(session, alert_id=within, paid=True, pace=Pace(max_stars=6))
        await alerts.send_now(session, alert_id=within, now=NOW, max_paid_stars=6)
        kept = await alerts.get(session, alert_id=within)
        assert kept is not None
        assert kept.paid


async def test_an_update_of_a_paid_alert_starts_paid(sessions: Sessions) -> None:
    async with sessions.begin() as session:
        await add_subscribers(session, ["1", "2"], ["dtes"])
        alert_id = await _draft(session)
        await alerts.set_paid(session, alert_id=alert_id, paid=True, pace=CAP)
        await alerts.send_now(session, alert_id=alert_id, now=NOW, max_paid_stars=5)
        for kind in (FollowUp.UPDATE, FollowUp.ALL_CLEAR):
            child = await alerts.create_follow_up(
                session,
                parent_id=alert_id,
                follow_up=kind,
                fields={"advice": "test first"},
                now=NOW,
            )
            assert child.paid


async def test_a_scheduled_paid_alert_over_the_cap_goes_free_and_its_creator_is_told(
    sessions: Sessions,
) -> None:
    clock = Clock(NOW)
    engine = _engine(sessions, clock)
    platform = _Recording()
    engine.add_sender(Channel.TELEGRAM, platform)
    async with sessions.begin() as session:
        coordinator, _ = await add_coordinator(session, "coordinator")
        await add_subscribers(session, [str(i) for i in range(50)], ["dtes"])
        alert_id = await _draft(session, creator=coordinator)
        await alerts.set_paid(session, alert_id=alert_id, paid=True, pace=CAP)
        await alerts.schedule_once(
            session, alert_id=alert_id, at=NOW + timedelta(minutes=5), now=NOW
        )
        await add_subscribers(session, ["late"], ["dtes"])  # 51 messages: 5.1 Stars
    clock.advance(minutes=6)
    await Fanout(engine, FAST).run()

    async with sessions() as session:
        view = await alerts.get(session, alert_id=alert_id)
    assert view is not None
    assert not view.paid
    assert all(flags == [False] for a, flags in platform.paid.items() if a != "coordinator")
    told = platform.paid["coordinator"]
    assert len(told) == 2  # "goes out free", then the finish report
    assert not any(told)  # a notice is never a paid broadcast


# --- the outbox ----------------------------------------------------------------------------------


async def test_a_paid_alert_goes_paid_on_telegram_only_and_the_report_says_how_long(
    sessions: Sessions,
) -> None:
    clock = Clock(NOW)
    engine = _engine(sessions, clock)
    telegram, signal = _Recording(), _Recording()
    engine.add_sender(Channel.TELEGRAM, telegram)
    engine.add_sender(Channel.SIGNAL, signal)
    async with sessions.begin() as session:
        coordinator, _ = await add_coordinator(session, "coordinator")
        await add_subscribers(session, ["t1", "t2", "t3"], ["dtes"])
        await add_subscribers(session, ["s1"], ["dtes"], channel=Channel.SIGNAL)
        alert_id = await _draft(session, creator=coordinator)
        await alerts.set_paid(session, alert_id=alert_id, paid=True, pace=CAP)
        await alerts.send_now(session, alert_id=alert_id, now=NOW, max_paid_stars=5)
    clock.advance(seconds=150)  # the clock the outbox reads: the alert took 2.5 min
    await Fanout(engine, FAST).run()

    assert [telegram.paid[a] for a in ("t1", "t2", "t3")] == [[True]] * 3
    assert signal.paid == {"s1": [False]}  # Signal has no paid broadcast
    [report] = [r.text for r in telegram.sent["coordinator"]]
    assert report.startswith(f"Alert A{alert_id} is done: sent 4,")
    assert "From sending to the last delivery: 2 min." in report  # 150 s, rounded


def test_paid_rows_have_a_pacer_of_their_own() -> None:
    fanout = Fanout.__new__(Fanout)
    fanout.config = dataclasses.replace(FAST, rates={Channel.TELEGRAM: 30.0}, paid_rate=800.0)
    fanout._pacers = {}
    free, paid = fanout.pacer(Channel.TELEGRAM), fanout.pacer(Channel.TELEGRAM, paid=True)
    assert (free.rate, paid.limit) == (30.0, 800.0)
    # Telegram refuses what passes 1,000 in a second: the paid pace keeps its burst within.
    assert paid.rate == 780.0
    assert fanout.pacer(Channel.TELEGRAM, paid=True) is paid
    # Signal has no paid broadcast: its rows keep the channel's own pace.
    assert fanout.pacer(Channel.SIGNAL, paid=True) is fanout.pacer(Channel.SIGNAL)


# --- through the real Telegram client and the enforcing emulator ---------------------------------


class _Monotonic:
    """The emulator's clock for its one-second windows, moved by the test."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


async def _subscribed(
    sessions: Sessions, emu: TelegramEmulator, prefix: str, area: str, n: int
) -> list[FakeUser]:
    people = [emu.user(f"{prefix}{i}") for i in range(n)]
    for user in people:
        user.started = True
    async with sessions.begin() as session:
        await add_subscribers(session, [str(u.id) for u in people], [area])
    return people


async def _send(sessions: Sessions, area: str, *, paid: bool) -> int:
    async with sessions.begin() as session:
        draft = await alerts.create_draft(
            session,
            kind=AlertKind.BAD_BATCH,
            severity=3,
            areas=[area],
            fields={"sold_as": "down", "found_to_contain": "nitazenes"},
            gazetteer=make_deps().content.gazetteer,
            now=NOW,
        )
        if paid:
            await alerts.set_paid(session, alert_id=draft.id, paid=True, pace=CAP)
        await alerts.send_now(session, alert_id=draft.id, now=NOW, max_paid_stars=CAP.max_stars)
    return draft.id


@pytest.mark.parametrize("paid", [False, True], ids=["free", "paid"])
async def test_the_emulator_holds_free_sends_to_30_a_second_and_paid_ones_pass(
    sessions: Sessions, paid: bool
) -> None:
    """All 40 sends fall in one second of the emulator's clock: free, the 31st and after get
    a 429 with retry_after and go out once the second is over; paid, all 40 go at once, each
    with allow_paid_broadcast."""
    ticking = _Monotonic()
    clock = Clock(NOW)
    async with TelegramEmulator(seed=2, broadcast_limits=True, monotonic=ticking) as emu:
        people = await _subscribed(sessions, emu, "p", "dtes", 40)
        alert_id = await _send(sessions, "dtes", paid=paid)
        engine = _engine(sessions, clock)
        channel = TelegramChannel(
            engine,
            token=emu.token,
            base_url=emu.base_url,
            poll_timeout=1,
            max_retries=0,
            max_rate=0,
        )
        async with channel:
            fanout = Fanout(engine, FAST)  # unpaced: only the emulator's limit holds it
            first = await fanout.run(budget=3)
            ticking.now += 1.5
            clock.advance(seconds=5)
            second = await fanout.run(budget=3)

    messages = [m for user in people for m in user.transcript]
    assert sorted(len(user.transcript) for user in people) == [1] * 40
    assert {m.paid for m in messages} == {paid}
    if paid:
        assert (first.sent, first.retried, emu.broadcast_refused[True]) == (40, 0, 0)
    else:
        assert (first.sent, first.retried) == (FREE_BROADCAST_LIMIT, 10)
        assert emu.broadcast_refused[False] == 10
        assert second.sent == 10
    async with sessions() as session:
        tally = await alerts.progress(session, alert_id=alert_id)
    assert tally.sent == 40


async def test_free_and_paid_pacing_against_the_enforcing_emulator(sessions: Sessions) -> None:
    """On the real clock, through the channel as ``hrbot run`` builds it (PTB's limiter at
    30/s). A paid alert is paced at the paid rate: 50 messages go within one run although the
    free pace is set to one message every two seconds, none over Telegram's paid limit. A
    free alert at the free pace (30/s) reaches everyone exactly once, 429s or not."""
    clock = Clock(NOW)
    async with TelegramEmulator(seed=6, broadcast_limits=True) as emu:
        paid_people = await _subscribed(sessions, emu, "p", "kitsilano", 50)
        free_people = await _subscribed(sessions, emu, "f", "strathcona", 45)
        engine = _engine(sessions, clock)
        channel = TelegramChannel(
            engine, token=emu.token, base_url=emu.base_url, poll_timeout=1, max_retries=0
        )
        async with channel:
            await _send(sessions, "kitsilano", paid=True)
            crawl = dataclasses.replace(FAST, rates={Channel.TELEGRAM: 0.5})
            tick = await Fanout(engine, crawl).run(budget=20)
            assert (tick.sent, tick.retried) == (50, 0)

            await _send(sessions, "strathcona", paid=False)
            fanout = Fanout(engine, dataclasses.replace(FAST, rates={Channel.TELEGRAM: 30.0}))
            for _ in range(20):
                tick = await fanout.run(budget=5)
                if not tick.more:
                    break
                clock.advance(seconds=2)  # rows a 429 put off are due again
    assert [len(u.transcript) for u in paid_people] == [1] * 50
    assert [len(u.transcript) for u in free_people] == [1] * 45
    assert all(u.transcript[0].paid for u in paid_people)
    assert not any(u.transcript[0].paid for u in free_people)
    assert emu.broadcast_refused[True] == 0


async def test_a_paid_alert_s_photo_goes_paid_too(sessions: Sessions) -> None:
    """sendPhoto carries allow_paid_broadcast as sendMessage does: each is a paid message."""
    async with TelegramEmulator(seed=8, broadcast_limits=True) as emu:
        people = await _subscribed(sessions, emu, "p", "dtes", 3)
        async with sessions.begin() as session:
            alert_id = await _draft(session)
            await alerts.set_photo(session, alert_id=alert_id, jpeg=strip_image(tagged_jpeg()))
            assert (await alerts.reach(session, alert_id=alert_id)).paid_messages == 6
            await alerts.set_paid(session, alert_id=alert_id, paid=True, pace=CAP)
            await alerts.send_now(session, alert_id=alert_id, now=NOW, max_paid_stars=5)
        engine = _engine(sessions, Clock(NOW))
        channel = TelegramChannel(
            engine, token=emu.token, base_url=emu.base_url, poll_timeout=1, max_retries=0
        )
        async with channel:
            await Fanout(engine, FAST).run(budget=3)
    for user in people:
        photo, text = user.transcript
        assert photo.photo is not None
        assert (photo.paid, text.paid) == (True, True)
    paid_calls = [c for c in emu.calls if c.params.get("allow_paid_broadcast") is not None]
    assert {c.method for c in paid_calls} == {"sendPhoto", "sendMessage"}
