"""The runner: its wiring from settings, and stopping the bot mid-tick."""

from __future__ import annotations

import asyncio
import logging
from datetime import timedelta

import pytest
from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.core.engine import Engine
from bot.db.base import utcnow
from bot.db.models import Delivery, SeenUpdate
from bot.domain import AlertKind, Channel, DeliveryStatus
from bot.runner import BotService, fanout_config
from bot.services import alerts
from bot.services.outbox import DEFAULT_RATES, FanoutConfig
from bot.settings import Settings
from handlers.routes import build_routes
from tests.handlers.peer_world import Sessions, make_world
from tests.handlers.test_broadcast import _compose as compose
from tests.handlers.test_broadcast import _subscribe as subscribe
from tests.support.alerts import RecordingSender, add_subscribers, alert_engine
from tests.support.chat import Clock, texts
from tests.support.engine import make_engine
from tests.support.waiting import until


@pytest.mark.parametrize("rate", [30.0, 12.5, 0.0])
def test_alerts_on_telegram_are_paced_at_the_configured_rate(
    monkeypatch: pytest.MonkeyPatch, rate: float
) -> None:
    monkeypatch.delenv("HRBOT_TELEGRAM_MAX_RATE", raising=False)
    config = fanout_config(Settings(telegram_max_rate=rate))
    assert config.rates[Channel.TELEGRAM] == rate
    # Signal keeps its own cautious pace whatever Telegram's is.
    assert config.rates[Channel.SIGNAL] == DEFAULT_RATES[Channel.SIGNAL]


async def test_stop_cuts_a_tick_short_cleanly(
    sessions: async_sessionmaker[AsyncSession],
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Stopping while the clock's tick is in a transaction: the transaction rolls back, the
    tick has wound down when stop() returns, and nothing is logged as an error (apscheduler
    logs a cancelled job with a traceback)."""
    engine = make_engine(sessions, build_routes())
    service = BotService(engine, [], tick_seconds=0.05)
    await service.start()  # its catch-up tick runs the real due work
    inside, wound_down = asyncio.Event(), asyncio.Event()

    async def stuck_due_work(engine: Engine) -> None:
        try:
            async with engine.sessions.begin() as session:
                session.add(SeenUpdate(key="tick-in-progress", seen_at=utcnow()))
                await session.flush()
                inside.set()
                await asyncio.sleep(3600)
        finally:
            wound_down.set()

    monkeypatch.setattr("handlers.due.run_due", stuck_due_work)
    caplog.set_level(logging.INFO)
    try:
        await asyncio.wait_for(inside.wait(), 5)
        await asyncio.wait_for(service.stop(), 5)
    finally:
        await service.stop()  # a failed wait above must not leave the clock running

    assert wound_down.is_set()
    assert [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR] == []
    assert "due work cut short by stop" in caplog.text
    async with sessions() as session:
        assert await session.get(SeenUpdate, "tick-in-progress") is None


# --- the outbox does not wait for the tick -------------------------------------------------------

NEVER = 3600.0  # a tick that never comes during a test


async def test_send_now_starts_sending_without_waiting_for_the_tick(sessions: Sessions) -> None:
    world = await make_world(sessions)
    await subscribe(world, "ana", "Strathcona")
    await compose(world, "Strathcona")
    service = BotService(world.engine, [], tick_seconds=NEVER)
    await service.start()
    try:
        [sent] = await world.chat.tap("coco", "Send now")
        assert sent.text.startswith("Sending A1 to 1 person.")
        await until(lambda: "nitazenes" in texts(world.chat.inbox("ana")[-1:]))
    finally:
        await service.stop()
    assert texts(world.chat.inbox("ana")[-1:]).startswith("🔴 Urgent notice")


async def test_a_scheduled_alert_goes_out_at_its_moment_not_at_the_tick(
    sessions: Sessions,
) -> None:
    clock = Clock()
    engine = alert_engine(sessions, clock=clock)
    platform = RecordingSender()
    engine.add_sender(Channel.TELEGRAM, platform)
    content = engine.deps.content
    async with sessions.begin() as session:
        await add_subscribers(session, ["ana"], ["dtes"])
        draft = await alerts.create_draft(
            session,
            kind=AlertKind.BAD_BATCH,
            severity=3,
            areas=["dtes"],
            fields={"sold_as": "down", "found_to_contain": "nitazenes"},
            gazetteer=content.gazetteer,
            now=clock(),
        )
        await alerts.schedule_once(
            session, alert_id=draft.id, at=clock() + timedelta(seconds=0.2), now=clock()
        )
    service = BotService(engine, [], tick_seconds=NEVER)
    await service.start()  # not due yet: its catch-up tick sends nothing
    assert platform.counts() == {}
    clock.advance(seconds=1)  # the alert's moment passes before the alarm rings
    try:
        await until(lambda: platform.counts() == {"ana": 1})
    finally:
        await service.stop()


async def test_a_send_cut_off_by_a_crash_is_resent_when_its_lease_lapses(
    sessions: Sessions,
) -> None:
    """A row left ``sending`` by a dead instance is taken back the moment its lease lapses,
    not at the tick after."""
    clock = Clock()
    engine = alert_engine(sessions, clock=clock)
    platform = RecordingSender()
    engine.add_sender(Channel.TELEGRAM, platform)
    content = engine.deps.content
    async with sessions.begin() as session:
        await add_subscribers(session, ["ana"], ["dtes"])
        draft = await alerts.create_draft(
            session,
            kind=AlertKind.BAD_BATCH,
            severity=3,
            areas=["dtes"],
            fields={"sold_as": "down", "found_to_contain": "nitazenes"},
            gazetteer=content.gazetteer,
            now=clock(),
        )
        await alerts.send_now(session, alert_id=draft.id, now=clock())
        await session.execute(  # what the crashed instance left: claimed, its lease running
            update(Delivery).values(
                status=DeliveryStatus.SENDING,
                attempts=1,
                lease_until=clock() + timedelta(seconds=0.2),
            )
        )
    # A short budget: the catch-up tick gives up waiting for the lease.
    service = BotService(engine, [], tick_seconds=NEVER, fanout=FanoutConfig(budget=0.3))
    await service.start()
    assert platform.counts() == {}
    clock.advance(seconds=1)  # the lease lapses before the alarm rings
    try:
        await until(lambda: platform.counts() == {"ana": 1})
    finally:
        await service.stop()
    async with sessions() as session:
        tally = await alerts.progress(session, alert_id=draft.id)
    assert tally.unknown == 1  # it may have arrived before the crash: counted as such


# --- start-up: claims first, and a failure stops what started ------------------------------------


class _Channel:
    """A channel that notes what was done to it in a shared journal."""

    username: str | None = None

    def __init__(self, name: str, journal: list[str], *, fails: str = "") -> None:
        self.name, self.journal, self.fails = name, journal, fails

    async def start(self) -> None:
        self.journal.append(f"start {self.name}")
        if self.fails == "start":
            raise RuntimeError(f"{self.name} failed to start")

    async def stop(self) -> None:
        self.journal.append(f"stop {self.name}")


class _Claiming(_Channel):
    async def claim(self) -> None:
        self.journal.append(f"claim {self.name}")
        if self.fails == "claim":
            raise RuntimeError(f"{self.name} is busy")


@pytest.mark.parametrize(
    ("fails", "journal"),
    [
        ("claim", ["claim signal", "stop signal"]),
        (
            "start",
            ["claim signal", "start telegram", "start signal", "stop telegram", "stop signal"],
        ),
    ],
)
async def test_claims_come_before_any_start_and_a_failure_stops_what_started(
    sessions: Sessions, fails: str, journal: list[str]
) -> None:
    done: list[str] = []
    telegram, signal = _Channel("telegram", done), _Claiming("signal", done, fails=fails)
    service = BotService(make_engine(sessions, build_routes()), [telegram, signal])
    with pytest.raises(RuntimeError):
        await service.start()
    assert done == journal
    await service.stop()  # nothing left to stop
    assert done == journal
