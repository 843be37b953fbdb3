"""A running bot: the engine, its channels and the clock that wakes due work.

APScheduler is only an in-process timer here: each tick claims due rows from the database
(offer deadlines, expiries, purges), so a restart or a second instance loses and repeats nothing.

Channels connect at start with back-off while their server cannot be reached (no network yet,
signal-cli-rest-api still starting), so a bot comes up when the network does; a refusal (a
rejected token) stops start-up at once. Each tick also asks every channel whether its server
answers and publishes that in the status file ``hrbot health`` reads (:mod:`bot.health`).

Alerts do not wait for the tick: the outbox runs at once when a handler queued deliveries
([Send now]) and at the moment its next work falls due (a scheduled alert's minute, a retry, a
lease lapsing), by :class:`_Alarm`; the tick stays as the safety net.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import signal
from collections.abc import Awaitable, Callable, Iterator, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Protocol, runtime_checkable

from apscheduler.schedulers.asyncio import AsyncIOScheduler

from bot.app import Runtime
from bot.channels.errors import ChannelUnreachable
from bot.core.context import Config, Deps
from bot.core.engine import Clock, Engine
from bot.core.routes import Routes
from bot.core.words import Words
from bot.domain import Channel
from bot.health import Status, write_status
from bot.instance import InstanceLock
from bot.services.alerts import Pace
from bot.services.notices import run_notices_due
from bot.services.outbox import DEFAULT_RATES, AlertTick, Fanout, FanoutConfig, run_alert_due
from bot.settings import Settings

if TYPE_CHECKING:
    from bot.web.metrics import Metrics
    from bot.web.server import WebServer
    from bot.web.webhook import Webhook

log = logging.getLogger(__name__)

TICK_SECONDS = 15.0
PROBE_SECONDS = 10.0  # how long a channel's health probe may take
_LATE = 0.01  # seconds after a moment of due work: the rows compare due by then
_IDLE_RETRY = 1.0  # seconds before looking again when due work could not be done

Sleep = Callable[[float], Awaitable[None]]


class ChannelService(Protocol):
    """A channel the bot runs (Telegram, Signal).

    ``start`` raises :class:`~bot.channels.errors.ChannelUnreachable` when its server cannot
    be reached (retried), anything else when retrying will not help.
    """

    name: str
    username: str | None

    async def start(self) -> None: ...

    async def stop(self) -> None: ...

    async def probe(self) -> bool: ...


@dataclass(frozen=True)
class Backoff:
    """Waits between connection attempts: ``initial`` seconds, doubling up to ``maximum``,
    each spread by ± ``jitter`` so that instances restarted together do not retry in step."""

    initial: float = 1.0
    maximum: float = 60.0
    jitter: float = 0.2

    def __post_init__(self) -> None:
        if not 0 < self.initial <= self.maximum or not 0 <= self.jitter < 1:
            raise ValueError("need 0 < initial <= maximum and 0 <= jitter < 1")

    def delays(self, rand: Callable[[], float] = random.random) -> Iterator[float]:
        """Endless waits; ``rand`` returns a number in [0, 1)."""
        base = self.initial
        while True:
            yield base * (1 + self.jitter * (2 * rand() - 1))
            base = min(base * 2, self.maximum)


@runtime_checkable
class WebhookChannel(Protocol):
    """A channel that receives on the web app (Telegram in webhook mode): ``receiver`` is
    what to serve, None when it does not (polling)."""

    receiver: Webhook | None


def build_engine(runtime: Runtime, routes: Routes, *, clock: Clock) -> Engine:
    """The engine with the runtime's content, keys and settings, on the caller's clock."""
    settings = runtime.settings
    config = Config(
        offer_timeout=settings.offer_timeout,
        request_ttl=settings.request_ttl,
        shift_hours=settings.shift_hours,
        invite_ttl=settings.invite_ttl,
        retention_days=settings.retention_days,
        console_url=settings.console_url,
        pace=alert_pace(settings),
    )
    # Every language with a catalogue in content/locales: a new one needs no code change.
    words = Words.from_content(settings.content_dir)
    deps = Deps(content=runtime.content, keys=runtime.keys, words=words, config=config)
    return Engine(sessions=runtime.sessions, deps=deps, box=runtime.box, routes=routes, clock=clock)


def alert_pace(settings: Settings) -> Pace:
    """How fast alerts go out, for the whole bot (what a coordinator's estimate uses): on
    Telegram at the bot's configured rate (``HRBOT_TELEGRAM_MAX_RATE``, so the limiter never
    has to hold them back), a paid alert at ``HRBOT_PAID_BROADCAST_RATE``, within
    ``HRBOT_PAID_BROADCAST_MAX_STARS``."""
    return Pace(
        rates={**DEFAULT_RATES, Channel.TELEGRAM: settings.telegram_max_rate},
        paid_rate=settings.paid_broadcast_rate,
        max_stars=settings.paid_broadcast_max_stars,
    )


def fanout_config(settings: Settings) -> FanoutConfig:
    """The outbox's knobs from settings: this instance's share of :func:`alert_pace`'s rates
    (``HRBOT_INSTANCES`` send one alert together, and the platforms' limits are per bot)."""
    pace = alert_pace(settings)
    rates = {channel: settings.share(rate) for channel, rate in pace.rates.items()}
    return FanoutConfig(rates=rates, paid_rate=settings.share(pace.paid_rate))


class _Alarm:
    """One wake-up time for the outbox's task; an earlier one replaces a later one."""

    def __init__(self) -> None:
        self._at: float | None = None  # loop time
        self._changed = asyncio.Event()

    def set(self, delay: float) -> None:
        """Ring in ``delay`` seconds (0: now), unless set to ring earlier already."""
        at = asyncio.get_running_loop().time() + max(0.0, delay)
        if self._at is None or at < self._at:
            self._at = at
            self._changed.set()

    async def wait(self) -> None:
        """Return when the alarm rings (and unset it)."""
        loop = asyncio.get_running_loop()
        while self._at is None or loop.time() < self._at:
            self._changed.clear()
            timeout = None if self._at is None else self._at - loop.time()
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(timeout):
                    await self._changed.wait()
        self._at = None


class BotService:
    """Starts channels and the due-work clock together, and stops them in reverse.

    ``backoff`` and ``sleep`` pace the connection retries (tests pass a ``sleep`` of their own);
    ``status_file``, when given, receives the bot's status (:mod:`bot.health`). ``web``,
    when given as (host, port), serves ``/healthz``, ``/metrics`` and each channel's webhook
    there (:mod:`bot.web`) from start to stop, and counts for ``/metrics`` on the engine; a
    channel in webhook mode needs it (ValueError otherwise). ``lock``, when given (SQLite:
    :func:`bot.instance.instance_lock`), is taken before anything else and held until stop.
    """

    def __init__(
        self,
        engine: Engine,
        channels: list[ChannelService],
        *,
        tick_seconds: float = TICK_SECONDS,
        fanout: FanoutConfig | None = None,
        backoff: Backoff | None = None,
        sleep: Sleep = asyncio.sleep,
        status_file: Path | None = None,
        probe_seconds: float = PROBE_SECONDS,
        web: tuple[str, int] | None = None,
        lock: InstanceLock | None = None,
    ) -> None:
        self.engine = engine
        self.lock = lock
        self.channels = channels
        self.tick_seconds = tick_seconds
        self.backoff = backoff or Backoff()
        self.status_file = status_file
        self.probe_seconds = probe_seconds
        self._sleep = sleep
        self._scheduler: AsyncIOScheduler | None = None
        # One fan-out per process keeps its pacing across ticks.
        self._fanout = Fanout(engine, fanout)
        self._started: list[ChannelService] = []
        self._ticking: asyncio.Task[object] | None = None  # the clock's tick in progress
        self._answered: dict[str, bool] = {}  # channel name → its server answered last time
        self._last_good_tick: datetime | None = None
        self._status_failed = False
        # The status file as this process last left it (inode, mtime): another stamp means
        # another process writes it too.
        self._status_stamp: tuple[int, int] | None = None
        self._status_shared = False
        self._alarm = _Alarm()
        self._waker: asyncio.Task[None] | None = None
        engine.on_outbox_work(self.wake_outbox)
        self.web_address = web
        self.webhooks = [
            c.receiver for c in channels if isinstance(c, WebhookChannel) and c.receiver is not None
        ]
        if self.webhooks and web is None:
            raise ValueError("a channel in webhook mode needs the web app (web=(host, port))")
        self.web: WebServer | None = None  # while serving
        self.metrics: Metrics | None = None
        if web is not None:
            from bot.web.metrics import Metrics  # only then: no cost without the web app

            self.metrics = Metrics()
            engine.meter = self.metrics

    def wake_outbox(self) -> None:
        """Run the alert outbox now: a run in progress claims new rows at once, and another
        run follows it (it may have looked just before they were committed)."""
        if self._waker is None:
            return  # not started: the start-up tick sees everything
        self._fanout.wake()
        self._alarm.set(0)

    async def start(self) -> None:
        """Take the instance lock (if any), connect every channel (each retried with back-off
        while unreachable; meanwhile those already connected serve), catch up on due work
        missed while down, then start the clock: due work may notify anyone, so it waits for
        every channel.

        The lock comes first: a second instance on one SQLite file
        (:class:`~bot.instance.InstanceBusy`)
        has written no status and started no channel (Telegram's polling would cut the first
        instance's off). On any failure whatever was taken or started is stopped again before
        the error is raised."""
        try:
            await self._start()
        except BaseException:
            await self.stop()
            raise

    async def _start(self) -> None:
        if self.lock is not None:
            self.lock.acquire()  # stop() gives it back
        self._publish()  # at once: a status left by an earlier run must not look current
        await self._start_web()  # first: a port in use fails before any channel starts
        await self._connect_all()
        await self.tick()
        self._waker = asyncio.create_task(self._wake_loop(), name="alert-wake")
        scheduler = AsyncIOScheduler(timezone="UTC")
        # One tick at a time; a late tick is merged, not queued: the rows say what is due.
        scheduler.add_job(
            self._clock_tick,
            "interval",
            seconds=self.tick_seconds,
            max_instances=1,
            coalesce=True,
            id="due-work",
        )
        scheduler.start()
        self._scheduler = scheduler

    async def _start_web(self) -> None:
        """Serve the web app, if one is wanted: /healthz says "starting" while channels
        connect."""
        if self.web_address is None or self.metrics is None:
            return
        from starlette.routing import Mount

        from bot.web.app import make_app
        from bot.web.console import console_app
        from bot.web.server import WebServer
        from bot.web.webhook import webhook_route

        # Cookies marked Secure only where the console is reached over TLS (a proxy's https
        # address): a browser would not send them back to a plain http://127.0.0.1.
        public = self.engine.deps.config.console_url or ""
        console = console_app(self.engine, secure_cookies=public.startswith("https://"))
        refused = self.metrics.webhook_refusal
        app = make_app(
            self.engine,
            status=self.status,
            channels=[c.name for c in self.channels],
            metrics=self.metrics,
            more=[
                *(webhook_route(hook, on_refusal=refused) for hook in self.webhooks),
                Mount("/console", app=console),
            ],
        )
        server = WebServer(app, *self.web_address)
        await server.start()
        self.web = server

    async def _connect_all(self) -> None:
        """Connect the channels side by side; the first that fails for good stops the rest."""
        tasks = [
            asyncio.create_task(self._connect(channel), name=f"connect-{channel.name}")
            for channel in self.channels
        ]
        try:
            if tasks:
                await asyncio.wait(tasks, return_when=asyncio.FIRST_EXCEPTION)
        finally:  # also when start() itself is cancelled (SIGINT while retrying)
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
        for task in tasks:
            if not task.cancelled() and (error := task.exception()) is not None:
                raise error

    async def _connect(self, channel: ChannelService) -> None:
        """Start ``channel``, waiting and retrying while its server cannot be reached."""
        delays = self.backoff.delays()
        failed: ChannelUnreachable | None = None
        while True:
            try:
                await channel.start()
                break
            except ChannelUnreachable as exc:
                failed = exc
                delay = max(next(delays), exc.retry_after or 0.0)
                log.warning("%s; retrying in %.0f s", exc, delay)
            await self._sleep(delay)
        if failed is not None:
            log.info("reached %s at %s", failed.service, failed.where)
        if channel not in self._started:
            self._started.append(channel)
        self._answered[channel.name] = True
        if channel.username and self.engine.deps.config.bot_username is None:
            config = replace(self.engine.deps.config, bot_username=channel.username)
            self.engine.deps = replace(self.engine.deps, config=config)

    async def tick(self) -> bool:
        """One round of due work, and each channel asked whether its server answers; a
        failure is logged and retried at the next tick. True when all due work succeeded."""
        ok, _ = await asyncio.gather(self._due_work(), self._probe_all())
        if ok:
            self._last_good_tick = self.engine.clock()
        self._publish()
        return ok

    async def _due_work(self) -> bool:
        from handlers.due import run_due

        ok = True
        try:
            due = await run_due(self.engine)
            ok = not due.failed
        except Exception:
            log.exception("due work failed; will retry at the next tick")
            ok = False
        try:
            await run_notices_due(self.engine)  # replies a channel refused; never raises
            alerts = await run_alert_due(self.engine, fanout=self._fanout)
            ok = ok and not alerts.failed_parts
            self._plan(alerts)
        except Exception:
            log.exception("alert work failed; will retry at the next tick")
            ok = False
        return ok

    def _plan(self, report: AlertTick) -> None:
        """Set the alarm for the outbox's next work, if it comes before the next tick."""
        if report.next_due is None or report.failed_parts:
            return  # nothing waits, or a part failed (logged): the tick tries again
        delay = (report.next_due - self.engine.clock()).total_seconds()
        if delay <= 0 and not (report.claimed or report.fired or report.recovered):
            # Due, yet nothing could be done (a channel held back, say): look again a little
            # later rather than spin.
            delay = _IDLE_RETRY
        if delay < self.tick_seconds:
            self._alarm.set(delay + _LATE)

    async def _wake_loop(self) -> None:
        """Run the outbox whenever the alarm rings (a wake-up or its next work's moment)."""
        while True:
            await self._alarm.wait()
            try:
                self._plan(await self._fanout.run(wait=True))
            except Exception:  # run() never raises; this is the last guard of the task
                log.exception("alert work failed; will retry at the next tick")

    async def _probe_all(self) -> None:
        started = list(self._started)
        answers = await asyncio.gather(*(self._probe(channel) for channel in started))
        for channel, answered in zip(started, answers, strict=True):
            if answered != self._answered.get(channel.name):
                level = logging.INFO if answered else logging.WARNING
                state = "answers again" if answered else "does not answer"
                log.log(level, "%s: the server %s", channel.name, state)
            self._answered[channel.name] = answered

    async def _probe(self, channel: ChannelService) -> bool:
        try:
            async with asyncio.timeout(self.probe_seconds):
                return await channel.probe()
        except Exception:  # a probe that fails is an answer: not connected
            return False

    def status(self) -> Status:
        """The bot's status as of now: its last good tick and each channel's last answer."""
        started = {c.name for c in self._started}
        return Status(
            written_at=self.engine.clock(),
            tick_seconds=self.tick_seconds,
            last_tick_at=self._last_good_tick,
            channels={
                c.name: c.name in started and self._answered.get(c.name, False)
                for c in self.channels
            },
        )

    def _publish(self) -> None:
        """Write the status file (when there is one); a failure is logged once, not fatal."""
        if self.status_file is None:
            return
        self._notice_other_writer(self.status_file)
        try:
            write_status(self.status_file, self.status())
            self._status_stamp = _stamp(self.status_file)
        except OSError as exc:
            if not self._status_failed:
                log.warning(
                    "cannot write the status file %s (%s): `hrbot health` will fail",
                    self.status_file,
                    exc.strerror or type(exc).__name__,
                )
            self._status_failed = True
        else:
            self._status_failed = False

    def _notice_other_writer(self, path: Path) -> None:
        """Warn once when the status file changed since this process wrote it: two instances
        share a data folder, and `hrbot health` of each reads whichever wrote last."""
        if self._status_stamp is None or self._status_shared:
            return  # not written yet (a file left by an earlier run is fine), or said already
        stamp = _stamp(path)
        if stamp is not None and stamp != self._status_stamp:
            self._status_shared = True
            log.warning(
                "the status file %s was rewritten by another process: another instance uses "
                "this data folder; give each its own (HRBOT_DATA_DIR), or `hrbot health` "
                "judges one instance by the other",
                path,
            )

    async def _clock_tick(self) -> None:
        """The clock's job: :meth:`tick`, which :meth:`stop` may cut short."""
        self._ticking = asyncio.current_task()
        try:
            await self.tick()
        except asyncio.CancelledError:
            if self._scheduler is not None:  # stop() lets go of the clock before cancelling
                raise
            # Cut short by stop(): not a failure for the scheduler to log with a traceback.
            # Open transactions rolled back; sends in flight finished and were recorded (the
            # outbox waits for them); whatever is left is still due at the next start.
            log.info("due work cut short by stop; the rest is done after the next start")
        finally:
            self._ticking = None

    async def stop(self) -> None:
        """Stop the clock, cutting a tick in progress short, then the channels (newest
        first) once that tick has wound down: its last sends still need them; then give the
        instance lock back."""
        if self.lock is not None and not self.lock.held:
            return  # refused (or stopped already): nothing was started, nothing is written
        web, self.web = self.web, None
        if web is not None:  # first: nothing answers for a bot that is going away
            await web.stop()
        scheduler, self._scheduler = self._scheduler, None
        waker, self._waker = self._waker, None
        if waker is not None:
            waker.cancel()  # a run cut short: like the tick's, the rest is due after a start
            await asyncio.gather(waker, return_exceptions=True)
        if scheduler is not None:
            ticking = self._ticking
            scheduler.shutdown(wait=False)  # cancels the tick in progress
            if ticking is not None:
                await asyncio.wait([ticking])
        while self._started:
            channel = self._started.pop()
            try:
                await channel.stop()
            except Exception:
                log.exception("channel did not stop cleanly")
        self._publish()  # every channel down: health fails at once, not once stale
        if self.lock is not None:
            self.lock.release()


def _stamp(path: Path) -> tuple[int, int] | None:
    """A file's inode and modification time (each write replaces the file), or None."""
    try:
        found = path.stat()
    except OSError:
        return None
    return found.st_ino, found.st_mtime_ns


def signal_challenge_hook(engine: Engine) -> Callable[[object], Awaitable[None]]:
    """A Signal rate-limit hook that tells coordinators (on any channel that still works)."""

    async def hook(challenge: object) -> None:
        from handlers.channel_events import signal_needs_captcha

        try:
            async with engine.sessions.begin() as session:
                scope = engine.scope(session)
                tokens = tuple(getattr(challenge, "tokens", ()))
                await signal_needs_captcha(scope, tokens=tokens)
            await engine.deliver(scope.outbound)
        except Exception:
            log.exception("could not tell coordinators about the Signal captcha")

    return hook


async def serve(
    service: BotService,
    *,
    ready: Callable[[], Awaitable[None]] | None = None,
    stop: asyncio.Event | None = None,
    signals: Sequence[signal.Signals] = (signal.SIGINT, signal.SIGTERM),
) -> None:
    """Run ``service`` until SIGINT or SIGTERM (or ``stop`` is set), which also cut short
    connecting; ``ready`` runs once every channel is up (the start-up report)."""
    stop = stop or asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in signals:
        loop.add_signal_handler(sig, stop.set)
    starting = asyncio.create_task(service.start(), name="bot-start")
    stopping = asyncio.create_task(stop.wait(), name="bot-stop-signal")
    try:
        await asyncio.wait([starting, stopping], return_when=asyncio.FIRST_COMPLETED)
        if starting.done():
            starting.result()  # a channel that refused start-up: raised here
            if ready is not None:
                await ready()
            log.info("hrbot is running; press Ctrl+C to stop")
            await stopping
        else:
            log.info("stopping before every channel was connected")
    finally:
        for task in (starting, stopping):  # cancels connecting, waits included
            task.cancel()
        await asyncio.gather(starting, stopping, return_exceptions=True)
        await service.stop()
        for sig in signals:  # only now: a second Ctrl+C while stopping changes nothing
            loop.remove_signal_handler(sig)
    log.info("hrbot stopped")  # a refusal at start is reported by the caller instead
