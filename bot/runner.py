"""A running bot: the engine, its channels and the clock that wakes due work.

APScheduler is only an in-process timer here: each tick claims due rows from the database
(offer deadlines, expiries, purges), so a restart or a second instance loses and repeats nothing.

Alerts do not wait for the tick: the outbox runs at once when a handler queued deliveries
([Send now]) and at the moment its next work falls due (a scheduled alert's minute, a retry, a
lease lapsing), by :class:`_Alarm`; the tick stays as the safety net.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from collections.abc import Awaitable, Callable
from dataclasses import replace
from typing import Protocol, runtime_checkable

from apscheduler.schedulers.asyncio import AsyncIOScheduler

from bot.app import Runtime
from bot.core.context import Config, Deps
from bot.core.engine import Clock, Engine
from bot.core.routes import Routes
from bot.core.words import Words
from bot.domain import Channel
from bot.services.outbox import DEFAULT_RATES, AlertTick, Fanout, FanoutConfig, run_alert_due
from bot.settings import Settings

log = logging.getLogger(__name__)

TICK_SECONDS = 15.0
_LATE = 0.01  # seconds after a moment of due work: the rows compare due by then
_IDLE_RETRY = 1.0  # seconds before looking again when due work could not be done


class ChannelService(Protocol):
    """A channel the bot runs (Telegram, Signal)."""

    username: str | None

    async def start(self) -> None: ...

    async def stop(self) -> None: ...


@runtime_checkable
class ClaimingChannel(Protocol):
    """A channel that must hold something to itself before it starts (Signal: the receiver
    lock); ``stop`` gives it back."""

    async def claim(self) -> None: ...


def build_engine(runtime: Runtime, routes: Routes, *, clock: Clock) -> Engine:
    """The engine with the runtime's content, keys and settings, on the caller's clock."""
    settings = runtime.settings
    config = Config(
        offer_timeout=settings.offer_timeout,
        request_ttl=settings.request_ttl,
        shift_hours=settings.shift_hours,
        invite_ttl=settings.invite_ttl,
        retention_days=settings.retention_days,
    )
    # Every language with a catalogue in content/locales: a new one needs no code change.
    words = Words.from_content(settings.content_dir)
    deps = Deps(content=runtime.content, keys=runtime.keys, words=words, config=config)
    return Engine(sessions=runtime.sessions, deps=deps, box=runtime.box, routes=routes, clock=clock)


def fanout_config(settings: Settings) -> FanoutConfig:
    """The outbox's knobs from settings: alerts on Telegram are paced at the bot's configured
    rate (``HRBOT_TELEGRAM_MAX_RATE``), so the limiter never has to hold them back."""
    return FanoutConfig(rates={**DEFAULT_RATES, Channel.TELEGRAM: settings.telegram_max_rate})


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
    """Starts channels and the due-work clock together, and stops them in reverse."""

    def __init__(
        self,
        engine: Engine,
        channels: list[ChannelService],
        *,
        tick_seconds: float = TICK_SECONDS,
        fanout: FanoutConfig | None = None,
    ) -> None:
        self.engine = engine
        self.channels = channels
        self.tick_seconds = tick_seconds
        self._scheduler: AsyncIOScheduler | None = None
        # One fan-out per process keeps its pacing across ticks.
        self._fanout = Fanout(engine, fanout)
        self._started: list[ChannelService] = []
        self._ticking: asyncio.Task[object] | None = None  # the clock's tick in progress
        self._alarm = _Alarm()
        self._waker: asyncio.Task[None] | None = None
        engine.on_outbox_work(self.wake_outbox)

    def wake_outbox(self) -> None:
        """Run the alert outbox now: a run in progress claims new rows at once, and another
        run follows it (it may have looked just before they were committed)."""
        if self._waker is None:
            return  # not started: the start-up tick sees everything
        self._fanout.wake()
        self._alarm.set(0)

    async def start(self) -> None:
        """Claim what channels hold to themselves, start every channel, catch up on due work
        missed while down, start the clock.

        Every claim comes first: a second instance refused Signal's receiver lock has not
        started Telegram (whose polling would cut the first instance's off). On any failure
        whatever was claimed or started is stopped again before the error is raised."""
        try:
            await self._start()
        except BaseException:
            await self.stop()
            raise

    async def _start(self) -> None:
        for channel in self.channels:
            if isinstance(channel, ClaimingChannel):
                self._started.append(channel)  # from now on stop() gives the claim back
                await channel.claim()
        for channel in self.channels:
            await channel.start()
            if channel not in self._started:
                self._started.append(channel)
            if channel.username and self.engine.deps.config.bot_username is None:
                config = replace(self.engine.deps.config, bot_username=channel.username)
                self.engine.deps = replace(self.engine.deps, config=config)
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

    async def tick(self) -> None:
        """One round of due work; a failure is logged and retried at the next tick."""
        from handlers.due import run_due

        try:
            await run_due(self.engine)
        except Exception:
            log.exception("due work failed; will retry at the next tick")
        try:
            self._plan(await run_alert_due(self.engine, fanout=self._fanout))
        except Exception:
            log.exception("alert work failed; will retry at the next tick")

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
        first) once that tick has wound down: its last sends still need them."""
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


async def serve(service: BotService) -> None:
    """Run ``service`` until SIGINT or SIGTERM."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    await service.start()
    log.info("hrbot is running; press Ctrl+C to stop")
    try:
        await stop.wait()
    finally:
        await service.stop()
