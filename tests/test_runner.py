"""The runner: its wiring from settings, connecting with back-off, stopping (mid-tick or
while waiting to retry) and the status file it keeps."""

from __future__ import annotations

import asyncio
import itertools
import logging
import socket
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.channels.signal import SignalChannel
from bot.channels.telegram import TelegramChannel
from bot.core.engine import Engine
from bot.db.base import utcnow
from bot.db.models import Delivery, SeenUpdate
from bot.domain import Channel, DeliveryStatus
from bot.emulator import TelegramEmulator
from bot.emulator.server import DEFAULT_TOKEN
from bot.health import STATUS_FILE, Status, read_status, write_status
from bot.instance import InstanceBusy, instance_lock
from bot.runner import Backoff, BotService, alert_pace, fanout_config, serve
from bot.services import alerts
from bot.services.alerts import Reach
from bot.services.outbox import DEFAULT_RATES, FanoutConfig
from bot.settings import Settings, SettingsError
from bot.signal_emulator import SignalEmulator
from handlers.routes import build_routes
from tests.handlers.peer_world import Sessions, make_world
from tests.handlers.test_broadcast import _compose as compose
from tests.handlers.test_broadcast import _subscribe as subscribe
from tests.support.alerts import RecordingSender, add_subscribers, alert_engine, bad_batch_draft
from tests.support.chat import Clock, texts
from tests.support.engine import make_engine
from tests.support.waiting import until

SIGNAL_NUMBER = "+16045550100"


@pytest.mark.parametrize("rate", [30.0, 12.5, 0.0])
def test_alerts_on_telegram_are_paced_at_the_configured_rate(
    monkeypatch: pytest.MonkeyPatch, rate: float
) -> None:
    monkeypatch.delenv("HRBOT_TELEGRAM_MAX_RATE", raising=False)
    config = fanout_config(Settings(telegram_max_rate=rate))
    assert config.rates[Channel.TELEGRAM] == rate
    # Signal keeps its own cautious pace whatever Telegram's is.
    assert config.rates[Channel.SIGNAL] == DEFAULT_RATES[Channel.SIGNAL]
    assert config.paid_rate == 1000.0  # Telegram's paid broadcast limit


def test_paid_broadcast_settings_reach_the_outbox_and_the_previews(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for name in ("HRBOT_PAID_BROADCAST_MAX_STARS", "HRBOT_PAID_BROADCAST_RATE"):
        monkeypatch.delenv(name, raising=False)
    settings = Settings(paid_broadcast_max_stars=50, paid_broadcast_rate=250)
    assert fanout_config(settings).paid_rate == 250
    pace = alert_pace(settings)
    assert (pace.max_stars, pace.paid_rate) == (50, 250)
    assert pace.rate(Channel.TELEGRAM, paid=True) == 250
    assert pace.rate(Channel.SIGNAL, paid=True) == DEFAULT_RATES[Channel.SIGNAL]


def test_several_instances_each_send_their_share_and_estimate_for_the_whole_bot(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Telegram's limits (and Signal's) are per bot: two instances sending one alert each go
    at half the rate, and the coordinator's estimate counts both."""
    for name in ("HRBOT_TELEGRAM_MAX_RATE", "HRBOT_PAID_BROADCAST_RATE", "HRBOT_INSTANCES"):
        monkeypatch.delenv(name, raising=False)
    settings = Settings(instances=2, database_url="postgresql+asyncpg://bot@db/hrbot")
    config = fanout_config(settings)
    assert config.paid_rate == 500
    assert config.rates[Channel.TELEGRAM] == 15
    assert config.rates[Channel.SIGNAL] == DEFAULT_RATES[Channel.SIGNAL] / 2
    pace = alert_pace(settings)
    assert pace.rate(Channel.TELEGRAM, paid=True) == 1000
    assert pace.rate(Channel.TELEGRAM) == 30
    # 100,000 people: the estimate is the bot's 1,000 a second, not one instance's 500.
    assert Reach({Channel.TELEGRAM: 100_000}).seconds(pace, paid=True) == 100


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


# -- connecting: back-off while the network is down -----------------------------------------


def closed_port() -> int:
    """A port on 127.0.0.1 that nothing listens on (bound, then let go)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Waits:
    """An injected ``sleep``: records each wait, then holds it until the test lets go."""

    def __init__(self) -> None:
        self.asked: list[float] = []
        self._waiting = asyncio.Event()
        self._go = asyncio.Event()

    async def sleep(self, seconds: float) -> None:
        self.asked.append(seconds)
        self._waiting.set()
        await self._go.wait()
        self._go.clear()

    async def waiting(self) -> None:
        """Return once a wait has begun."""
        await asyncio.wait_for(self._waiting.wait(), 30)
        self._waiting.clear()

    def release(self) -> None:
        self._go.set()


def test_backoff_doubles_to_a_cap_with_jitter() -> None:
    middle = itertools.islice(Backoff(initial=1, maximum=60).delays(lambda: 0.5), 9)
    assert list(middle) == [1, 2, 4, 8, 16, 32, 60, 60, 60]
    low = itertools.islice(Backoff(jitter=0.2).delays(lambda: 0.0), 3)
    assert [round(d, 6) for d in low] == [0.8, 1.6, 3.2]
    high = itertools.islice(Backoff(jitter=0.2).delays(lambda: 0.999999), 7)
    assert all(d <= 60 * 1.2 for d in high)
    for wrong in ({"initial": 0}, {"initial": 5, "maximum": 1}, {"jitter": 1}):
        with pytest.raises(ValueError, match="initial"):
            Backoff(**wrong)


async def test_bot_comes_up_when_telegram_does(
    sessions: async_sessionmaker[AsyncSession], caplog: pytest.LogCaptureFixture
) -> None:
    """No route to Telegram at start: one line per attempt (no traceback, no token) and a
    wait that doubles; once the server answers, the bot is up and answers /start."""
    caplog.set_level(logging.INFO)
    port = closed_port()
    engine = make_engine(sessions, build_routes())
    channel = TelegramChannel(
        engine, token=DEFAULT_TOKEN, base_url=f"http://127.0.0.1:{port}/bot", poll_timeout=1
    )
    waits = Waits()
    service = BotService(engine, [channel], tick_seconds=3600, sleep=waits.sleep)
    starting = asyncio.create_task(service.start())
    try:
        await waits.waiting()
        waits.release()
        await waits.waiting()  # a second failed attempt: the wait has doubled
        assert [round(w) for w in waits.asked] == [1, 2]
        assert not starting.done()
        async with TelegramEmulator(port=port) as emu:
            try:
                waits.release()
                await asyncio.wait_for(starting, 30)
                assert channel.running
                reply = await emu.user("ana").say("/start")
                assert reply, "the bot did not answer /start"
            finally:
                await service.stop()  # while the server is there to say goodbye to
    finally:
        starting.cancel()
        await asyncio.gather(starting, return_exceptions=True)
        await service.stop()

    retries = [r.getMessage() for r in caplog.records if "retrying in" in r.getMessage()]
    assert retries == [
        f"cannot reach Telegram at 127.0.0.1:{port}: connection refused; retrying in 1 s",
        f"cannot reach Telegram at 127.0.0.1:{port}: connection refused; retrying in 2 s",
    ]
    assert f"reached Telegram at 127.0.0.1:{port}" in caplog.text
    assert [r for r in caplog.records if r.exc_info or r.levelno >= logging.ERROR] == []
    assert DEFAULT_TOKEN not in caplog.text


async def test_a_server_asking_to_wait_is_waited_for(
    sessions: async_sessionmaker[AsyncSession], caplog: pytest.LogCaptureFixture
) -> None:
    """A 429 at start (once python-telegram-bot's own retries are spent; none here) is not a
    refusal: the wait is at least what the server asked for."""
    engine = make_engine(sessions, build_routes())
    waits = Waits()
    async with TelegramEmulator() as emu:
        emu.fail_next("getme", status=429, retry_after=7)
        channel = TelegramChannel(
            engine, token=emu.token, base_url=emu.base_url, poll_timeout=1, max_retries=0
        )
        service = BotService(engine, [channel], tick_seconds=3600, sleep=waits.sleep)
        starting = asyncio.create_task(service.start())
        try:
            await waits.waiting()
            assert waits.asked[0] >= 7
            assert "too many requests; retrying in 7 s" in caplog.text
            waits.release()
            await asyncio.wait_for(starting, 30)
            assert channel.running
        finally:
            starting.cancel()
            await asyncio.gather(starting, return_exceptions=True)
            await service.stop()


async def test_a_rejected_token_stops_start_at_once(
    sessions: async_sessionmaker[AsyncSession], caplog: pytest.LogCaptureFixture
) -> None:
    engine = make_engine(sessions, build_routes())
    waits = Waits()
    async with TelegramEmulator() as emu:
        wrong = "7000000001:AAWrongTokenWrongTokenWrongToken00000"
        channel = TelegramChannel(engine, token=wrong, base_url=emu.base_url)
        service = BotService(engine, [channel], sleep=waits.sleep)
        with pytest.raises(SettingsError) as info:
            await service.start()
        await service.stop()
    assert str(info.value) == (
        "invalid setting HRBOT_TELEGRAM_TOKEN: rejected by the Telegram server"
    )
    assert waits.asked == []
    assert not channel.running
    assert wrong not in caplog.text


async def test_stop_while_waiting_to_retry_is_clean(
    sessions: async_sessionmaker[AsyncSession], caplog: pytest.LogCaptureFixture
) -> None:
    """SIGINT/SIGTERM (here the event they set) during the wait: serve returns, nothing
    raised or logged as an error, nothing left running."""
    caplog.set_level(logging.INFO)
    engine = make_engine(sessions, build_routes())
    channel = TelegramChannel(
        engine, token=DEFAULT_TOKEN, base_url=f"http://127.0.0.1:{closed_port()}/bot"
    )
    waits = Waits()
    service = BotService(engine, [channel], sleep=waits.sleep)
    stop = asyncio.Event()
    ready: list[bool] = []

    async def on_ready() -> None:
        ready.append(True)

    serving = asyncio.create_task(serve(service, ready=on_ready, stop=stop, signals=()))
    await waits.waiting()
    stop.set()
    await asyncio.wait_for(serving, 30)  # returns, raises nothing
    assert ready == []
    assert not channel.running
    assert "stopping before every channel was connected" in caplog.text
    assert caplog.records[-1].getMessage() == "hrbot stopped"
    assert [r for r in caplog.records if r.exc_info or r.levelno >= logging.ERROR] == []


async def test_signal_comes_up_when_its_service_does(
    sessions: async_sessionmaker[AsyncSession], caplog: pytest.LogCaptureFixture
) -> None:
    """signal-cli-rest-api not there yet (its container still starting): retried with
    back-off in one line each, no phone number in it, then connected."""
    port = closed_port()
    engine = make_engine(sessions, build_routes())
    channel = SignalChannel(
        engine,
        number=SIGNAL_NUMBER,
        service=f"127.0.0.1:{port}",
        ready_timeout=30,
    )
    waits = Waits()
    service = BotService(engine, [channel], tick_seconds=3600, sleep=waits.sleep)
    starting = asyncio.create_task(service.start())
    try:
        await waits.waiting()
        async with SignalEmulator(number=SIGNAL_NUMBER, port=port) as emu:
            waits.release()
            await asyncio.wait_for(starting, 30)
            await emu.wait_for_receivers()
            assert channel.running
    finally:
        starting.cancel()
        await asyncio.gather(starting, return_exceptions=True)
        await service.stop()
    assert (
        f"cannot reach signal-cli-rest-api at 127.0.0.1:{port} (HRBOT_SIGNAL_SERVICE): "
        "connection refused; retrying in 1 s"
    ) in caplog.text
    assert [r for r in caplog.records if r.exc_info or r.levelno >= logging.ERROR] == []
    assert SIGNAL_NUMBER not in caplog.text


# -- the status file `hrbot health` reads ----------------------------------------------------


async def test_status_file_follows_the_bot(
    sessions: async_sessionmaker[AsyncSession], tmp_path: Path
) -> None:
    clock = Clock()
    engine = make_engine(sessions, build_routes(), clock=clock)
    path = tmp_path / "data" / STATUS_FILE
    path.parent.mkdir()
    path.write_text('{"left": "by an earlier run"}')
    async with TelegramEmulator() as emu:
        channel = TelegramChannel(engine, token=emu.token, base_url=emu.base_url, poll_timeout=1)
        service = BotService(engine, [channel], tick_seconds=3600, status_file=path)
        try:
            await service.start()
            status = read_status(path)
            assert status == Status(
                written_at=clock.now,
                tick_seconds=3600,
                last_tick_at=clock.now,
                channels={"telegram": True},
            )
            clock.advance(minutes=1)
            emu.fail_next("getme", status=502, retry_after=None)  # the probe at the next tick
            assert await service.tick()
            status = read_status(path)
            assert status is not None
            assert status.channels == {"telegram": False}
            assert status.last_tick_at == clock.now  # due work itself went fine
        finally:
            await service.stop()
    status = read_status(path)
    assert status is not None
    assert status.channels == {"telegram": False}  # stopped: down at once, not once stale
    assert [p.name for p in path.parent.iterdir()] == [STATUS_FILE]  # no temporary files left


async def test_a_status_file_written_by_another_instance_is_told_once(
    sessions: async_sessionmaker[AsyncSession], tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Two instances on one data folder (a shared volume) would each judge their health by
    the other's status: the second write of another process is noticed, and said once."""
    engine = make_engine(sessions, build_routes())
    path = tmp_path / STATUS_FILE
    write_status(path, Status(written_at=engine.clock(), tick_seconds=15, last_tick_at=None))
    async with TelegramEmulator() as emu:
        channel = TelegramChannel(engine, token=emu.token, base_url=emu.base_url, poll_timeout=1)
        service = BotService(engine, [channel], tick_seconds=3600, status_file=path)
        try:
            await service.start()  # a file left by an earlier run: nothing to say
            await service.tick()
            assert "another process" not in caplog.text
            other = Status(written_at=engine.clock(), tick_seconds=15, last_tick_at=None)
            for _ in range(2):
                write_status(path, other)  # the other instance's ticks
                await service.tick()
        finally:
            await service.stop()
    warned = [r for r in caplog.records if "rewritten by another process" in r.getMessage()]
    assert len(warned) == 1
    assert warned[0].levelname == "WARNING"


async def test_status_file_is_written_while_connecting(
    sessions: async_sessionmaker[AsyncSession], tmp_path: Path
) -> None:
    engine = make_engine(sessions, build_routes())
    channel = TelegramChannel(
        engine, token=DEFAULT_TOKEN, base_url=f"http://127.0.0.1:{closed_port()}/bot"
    )
    path = tmp_path / STATUS_FILE
    waits = Waits()
    service = BotService(engine, [channel], status_file=path, sleep=waits.sleep)
    starting = asyncio.create_task(service.start())
    try:
        await waits.waiting()
        status = read_status(path)
        assert status is not None
        assert status.channels == {"telegram": False}
        assert status.last_tick_at is None
    finally:
        starting.cancel()
        await asyncio.gather(starting, return_exceptions=True)
        await service.stop()


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
        draft = await bad_batch_draft(session, gazetteer=content.gazetteer, now=clock())
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
        draft = await bad_batch_draft(session, gazetteer=content.gazetteer, now=clock())
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


# --- start-up: the instance lock first, and a failure stops what started --------------------------


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

    async def probe(self) -> bool:
        return True


async def test_a_failure_at_start_stops_what_started(sessions: Sessions) -> None:
    done: list[str] = []
    telegram, signal = _Channel("telegram", done), _Channel("signal", done, fails="start")
    service = BotService(make_engine(sessions, build_routes()), [telegram, signal])
    with pytest.raises(RuntimeError):
        await service.start()
    # The channel that failed cleans up after itself; the one that started is stopped.
    journal = ["start telegram", "start signal", "stop telegram"]
    assert done == journal
    await service.stop()  # nothing left to stop
    assert done == journal


async def test_a_second_instance_on_one_sqlite_file_starts_nothing(
    sessions: Sessions, tmp_path: Path
) -> None:
    """Another process holds the SQLite file's instance lock: start refuses before it writes a
    status or starts any channel; once the lock is free it runs, and stop gives it back."""
    settings = Settings(data_dir=tmp_path)
    first, lock = instance_lock(settings), instance_lock(settings)
    assert first is not None
    assert lock is not None
    assert lock.path == tmp_path / "hrbot.sqlite3.lock"
    done: list[str] = []
    status = tmp_path / STATUS_FILE
    service = BotService(
        make_engine(sessions, build_routes()),
        [_Channel("signal", done)],
        tick_seconds=3600,
        status_file=status,
        lock=lock,
    )
    first.acquire()
    with pytest.raises(InstanceBusy, match=r"hrbot\.sqlite3; only one may"):
        await service.start()
    await service.stop()
    assert (done, status.exists()) == ([], False)
    first.release()
    await service.start()
    try:
        assert lock.held
        assert status.exists()
    finally:
        await service.stop()
    assert done == ["start signal", "stop signal"]
    assert not lock.held
    first.acquire()  # given back: another instance may run now
    first.release()
    assert instance_lock(Settings(database_url="postgresql+asyncpg://bot@db/hrbot")) is None
