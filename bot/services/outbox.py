"""The alert outbox: claim due deliveries, send them paced, record each outcome, recover.

One call of :func:`run_alert_due` (what the scheduler's tick calls) does, in order:

1. **fire** scheduled alerts that are due (:func:`bot.services.alerts.fire`: a conditional
   UPDATE, so of two instances exactly one fires each);
2. **housekeeping**: rows whose lease expired go back to ``pending`` (see the policy below), and
   pending rows of alerts that expired or were stopped become ``expired``;
3. **pump** each channel that has a sender until nothing is due or the budget is spent;
4. **finish** alerts whose deliveries are all final, and tell whoever created each one
   "sent N, failed N, unreachable N, unknown N".

Claiming. ``UPDATE deliveries SET status='sending', lease_until=now+lease, attempts=attempts+1
WHERE id IN (due ids) AND status='pending' RETURNING ...`` where the due ids are ``SELECT id ...
WHERE status='pending' AND next_attempt_at<=now ORDER BY priority, next_attempt_at LIMIT n FOR
UPDATE SKIP LOCKED``. On PostgreSQL the ids are locked in a ``MATERIALIZED`` CTE of the same
statement, which also returns the recipients (:mod:`bot.services.outbox_pg`; inside ``IN
(...)`` the planner may re-run a LIMIT/SKIP LOCKED subquery and claim more than ``n``), so
concurrent workers skip each other's rows; on SQLite it is one statement under the database's
write lock. Either way a row is claimed by one worker at a time. A claim
takes only as many rows as there are free send slots *and* rate tokens, so at most ``window``
rows per process are ever ``sending``, and none waits between being marked and being sent.
While a send is in flight its lease is renewed, so a slow send keeps its row and a dead
process loses its rows within one lease.

Pacing. One token bucket per channel and process (Telegram 30 messages/s by default) and at most
``window`` sends in flight. A RETRY reschedules that row only: after the platform's
``retry_after`` when the channel reports it (a 429), else with exponential back-off and jitter;
other rows keep going. For that the channel must hand a 429 back at once rather than wait it
out itself (:class:`BulkSender`: python-telegram-bot's limiter would hold every call of the bot
for ``retry_after``). When at least half of the recent sends were refused, the whole channel
pauses, longer each time (a real flood limit, or the platform is in trouble), so rows do not
burn their attempts against an outage. A channel that says to hold back (Signal while it
wants a captcha, :class:`DeferringSender`) gets no claims meanwhile: its rows stay pending and
spend no attempts; then one row at a time probes until the channel sends again. Several
instances each pace themselves: give each ``limit / instances``, or run the outbox on one.

Paid broadcast. A paid alert's rows on Telegram (:attr:`AlertView.paid`) are paced by a bucket
of their own at ``FanoutConfig.paid_rate`` (Telegram allows 1,000 a second a bot, for 0.1 Stars
a message; per instance as above) and sent with ``Reply.paid``, so the channel passes
``allow_paid_broadcast``. Claims are gated by the paid bucket while a paid alert is being sent
(learnt from the alerts of claimed rows); a free row claimed then still takes a token from its
channel's own bucket before it goes, so free sends never exceed the free rate.

When. The runner (:class:`bot.runner.BotService`) runs this at start-up, on every tick, at
once when a handler queued deliveries ([Send now]: :meth:`Fanout.wake`), and at
``AlertTick.next_due``: a scheduled alert's minute, a retry, a lease lapsing. A run waiting
for a retry claims new rows as soon as it is woken.

Outcomes are written in small batches (one statement per batch on PostgreSQL, from arrays),
each guarded by the claim's ``attempts`` so a late result cannot overwrite a newer claim. A
send's slot is freed only once its outcome is committed. Forbidden (blocked the bot) marks the
row ``unreachable``, the contact unreachable and unsubscribed, and drops whatever else was
queued for it.

**Lease policy (crash or timeout).** Telegram's sendMessage has no idempotency key, so a send in
flight when the process died, or one that timed out, may or may not have arrived. A row still
``sending`` after its lease is put back to ``pending`` with ``doubtful`` set, and sent again: a
bad-batch alert is worth a rare duplicate more than a loss. A doubtful row whose resend succeeds
ends ``unknown`` instead of ``sent``. So **unknown = recipients who got the alert, possibly
twice**: each was at most one duplicate, and was one exactly when the earlier attempt had
reached the platform. A duplicate can only come from a doubtful row, hence duplicates ≤ unknown
≤ sends in flight at the crash (≤ ``window`` per process), with equality when every cut-off
send had reached the server. A 429 is not ambiguous (nothing was sent) and is simply retried.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import math
import random
import time
import weakref
from collections import deque
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any, Literal, NamedTuple, Protocol, cast, runtime_checkable

from sqlalchemy import Table, bindparam, func, select, update
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from bot.core.context import Outbound
from bot.core.engine import Engine
from bot.core.messages import Reply, SendResult, SendStatus
from bot.core.words import Translator
from bot.db.models import Alert, Contact, Delivery
from bot.domain import AlertStatus, Channel, DeliveryStatus
from bot.privacy import AddressUnreadable, hour_of
from bot.services import alerts, outbox_pg, subscriptions
from bot.services.alert_words import took_line, went_free_line
from bot.services.alerts import AlertView, Tally

log = logging.getLogger(__name__)

__all__ = [
    "DEFAULT_RATES",
    "AlertTick",
    "BulkSender",
    "DeferringSender",
    "DetailedSender",
    "Fanout",
    "FanoutConfig",
    "TokenBucket",
    "fanout_for",
    "outstanding",
    "run_alert_due",
]

# Messages per second per bot: Telegram's broadcast limit, a cautious guess for Signal.
DEFAULT_RATES: Mapping[Channel, float] = alerts.DEFAULT_RATES
_FALLBACK_RATE = 1.0
_PAID_CHANNEL = Channel.TELEGRAM
_HOUSEKEEPING_EVERY = 1.0  # seconds between lease/expiry sweeps while pumping
_IDLE_STEP = 0.05
# How long a busy pump may wait for a few free slots to claim them in one transaction.
_CLAIM_LINGER = 0.005
_FLUSH_TRIES = 3
_MAX_BURST = 20.0  # tokens: see TokenBucket
_STEP_SECONDS = 0.01
# A photo's caption: its first line only (Telegram allows 1024; a heading is far shorter).
_CAPTION_CHARS = 200


@runtime_checkable
class DetailedSender(Protocol):
    """A channel that reports ``retry_after`` and ambiguous failures (preferred by the outbox)."""

    async def send_result(self, address: str, reply: Reply) -> SendResult: ...


@runtime_checkable
class BulkSender(Protocol):
    """A channel with a send meant for broadcasts (preferred over :class:`DetailedSender`): a
    rate limit comes back at once as RETRY with ``retry_after`` instead of being waited out
    inside the channel, holding up the channel's other sends (Telegram)."""

    async def send_bulk(self, address: str, reply: Reply) -> SendResult: ...


@runtime_checkable
class DeferringSender(Protocol):
    """A channel that may ask bulk sends to wait (Signal while it wants a captcha).

    ``bulk_hold()``: None to send as usual; seconds > 0 to claim nothing for now (rows stay
    pending and spend no attempts); 0 to send one row at a time, as a probe.
    """

    def bulk_hold(self) -> float | None: ...


@dataclass(frozen=True)
class FanoutConfig:
    """Knobs of the outbox; one per process.

    ``window`` bounds sends in flight per channel (and so duplicates after a crash); 64 keeps
    1,000 sends a second going at round trips up to 60 ms.
    ``paid_rate``: messages per second of a paid alert on Telegram, per instance.
    ``lease``: how long a claimed row stays ours without news. While its send is in flight the
    lease is renewed every third of it, so a send may take up to ``send_timeout`` whatever the
    lease; after a crash the rows in flight are taken back within one lease. ``budget`` bounds
    one :func:`run_alert_due` call in seconds.
    """

    rates: Mapping[Channel, float] = field(default_factory=lambda: dict(DEFAULT_RATES))
    paid_rate: float = alerts.PAID_RATE
    window: int = 64
    lease: timedelta = timedelta(seconds=15)
    send_timeout: float = 30.0
    max_attempts: int = 30
    backoff_base: float = 1.0
    backoff_cap: float = 300.0
    budget: float = 12.0
    claim_limit: int = 64
    storm_window: int = 20
    storm_share: float = 0.5

    def __post_init__(self) -> None:
        if self.window < 1 or self.claim_limit < 1 or self.max_attempts < 1:
            raise ValueError("window, claim_limit and max_attempts must be at least 1")
        if self.lease < timedelta(milliseconds=300):
            raise ValueError("the lease must be at least 0.3 s (it is renewed every third)")
        if self.budget <= 0 or self.send_timeout <= 0:
            raise ValueError("budget and send_timeout must be positive")


class TokenBucket:
    """``rate`` sends a second with bursts of at most ``burst`` (default a tenth of a second's
    worth, at most 20), so no one-second window holds more than ``rate + burst``. With
    ``within``, ``rate`` is a limit no one-second window may pass (Telegram's paid broadcast:
    1,000 a second, a 429 over it): tokens then come at ``rate - burst``. A rate of 0 or
    infinity means unlimited.

    ``step``: a claim at a high pace waits for this many tokens (10 ms worth, half the
    burst), so it takes rows a few at a time, and a late wake-up (the event loop is busy)
    finds the extra tokens still there instead of lost above the burst."""

    def __init__(
        self,
        rate: float,
        *,
        burst: float | None = None,
        within: bool = False,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.unlimited = rate <= 0 or not math.isfinite(rate)
        self.burst = burst if burst is not None else max(1.0, min(rate / 10, _MAX_BURST))
        self.limit = rate  # what no second passes with ``within``: then tokens come slower
        self.rate = max(rate - self.burst, rate / 2) if within else rate
        self.step = max(1, min(int(self.burst / 2), int(rate * _STEP_SECONDS)))
        self._monotonic = monotonic
        self._tokens = self.burst
        self._updated = monotonic()
        self._paused_until = 0.0

    def _refill(self, now: float) -> None:
        self._tokens = min(self.burst, self._tokens + (now - self._updated) * self.rate)
        self._updated = now

    async def take(self, most: int, least: int = 1) -> int:
        """Wait for ``least`` tokens (at most ``most`` and the burst); take up to ``most`` of
        those available."""
        if self.unlimited:
            return most
        least = max(1, min(least, most, int(self.burst)))
        while True:
            now = self._monotonic()
            if now < self._paused_until:
                await asyncio.sleep(self._paused_until - now)
                continue
            self._refill(now)
            if self._tokens >= least:
                taken = min(most, int(self._tokens))
                self._tokens -= taken
                return taken
            await asyncio.sleep((least - self._tokens) / self.rate)

    def refund(self, count: int) -> None:
        """Give back tokens taken but not used."""
        if not self.unlimited and count > 0:
            self._tokens = min(self.burst, self._tokens + count)

    def pause(self, seconds: float) -> None:
        """Hand out nothing for ``seconds``."""
        self._paused_until = max(self._paused_until, self._monotonic() + seconds)


class _Storm:
    """Notices when most recent sends were refused, and says how long to pause everything."""

    def __init__(self, size: int, share: float) -> None:
        self.recent: deque[bool] = deque(maxlen=size)
        self.share = share
        self.level = 0

    def record(self, refused: bool, retry_after: float | None) -> float | None:
        self.recent.append(refused)
        size = self.recent.maxlen or 1
        if len(self.recent) == size and sum(self.recent) >= self.share * size:
            self.recent.clear()
            self.level = min(self.level + 1, 6)
            return max(retry_after or 0.0, float(2 ** (self.level - 1)))
        if not refused and self.level and not any(self.recent):
            self.level -= 1
        return None


@dataclass
class AlertTick:
    """What one :func:`run_alert_due` call did (counts only, nothing identifying)."""

    fired: int = 0
    missed: int = 0
    claimed: int = 0
    sent: int = 0
    unknown: int = 0
    failed: int = 0
    unreachable: int = 0
    expired: int = 0
    retried: int = 0
    recovered: int = 0
    finished: list[int] = field(default_factory=list)
    failed_parts: list[str] = field(default_factory=list)
    skipped: bool = False  # another call was already running in this process
    more: bool = False  # deliveries are still pending or in flight
    # When there is next work for this process: a retry or a scheduled alert falls due, or a
    # lease lapses (None: nothing is waiting; a moment past: due now).
    next_due: datetime | None = None


class _Claimed(NamedTuple):
    id: int
    alert_id: int
    contact_id: int
    attempts: int
    doubtful: bool


class _Recipient(NamedTuple):
    reply_address: bytes | None
    locale: str | None
    reachable: bool


@dataclass(slots=True)
class _Outcome:
    delivery_id: int
    attempts: int
    contact_id: int
    status: DeliveryStatus
    doubtful: bool
    next_attempt_at: datetime | None = None
    sent_at: datetime | None = None
    last_error: str | None = None


class _AlertCopy:
    """An alert being sent, with its text rendered once per locale, and its photo if any."""

    def __init__(self, view: AlertView, photo: bytes | None = None) -> None:
        self.view = view
        self.photo = photo
        self._texts: dict[str, str] = {}

    def reply(self, t: Translator, render: Callable[[AlertView, Translator], str]) -> Reply:
        """What one recipient in ``t``'s language gets. A photo's caption is the text's first
        line: the discreet heading (never a drug word), as a lock screen shows it."""
        text = self.text(t, render)
        if self.photo is None:
            return Reply(text, locale=t.locale)
        caption = text.strip().split("\n", 1)[0][:_CAPTION_CHARS]
        return Reply(text, locale=t.locale, photo=self.photo, caption=caption)

    def text(self, t: Translator, render: Callable[[AlertView, Translator], str]) -> str:
        text = self._texts.get(t.locale)
        if text is None:
            text = self._texts[t.locale] = render(self.view, t)
        return text


_DELIVERIES = cast(Table, Delivery.__table__)
_RECORD = (
    update(_DELIVERIES)
    .where(
        _DELIVERIES.c.id == bindparam("b_id"),
        _DELIVERIES.c.status == DeliveryStatus.SENDING,
        _DELIVERIES.c.attempts == bindparam("b_attempts"),
    )
    .values(
        status=bindparam("b_status"),
        doubtful=bindparam("b_doubtful"),
        next_attempt_at=bindparam("b_next"),
        sent_at=bindparam("b_sent"),
        last_error=bindparam("b_error"),
        lease_until=None,
    )
)


class _Recorder:
    """Writes outcomes in batches: whatever queued up while the last batch was being written
    goes in the next transaction. ``record`` returns once its outcome is committed (or the
    write failed: the row then stays ``sending`` and the lease policy takes it)."""

    def __init__(self, fanout: Fanout) -> None:
        self._fanout = fanout
        self._queue: list[tuple[_Outcome, asyncio.Future[None]]] = []
        self._wake = asyncio.Event()
        self._closing = False
        self._task = asyncio.create_task(self._run(), name="alert-outcomes")

    async def record(self, outcome: _Outcome) -> None:
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._queue.append((outcome, future))
        self._wake.set()
        await future

    async def close(self) -> None:
        self._closing = True
        self._wake.set()
        await self._task

    async def _run(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            batch, self._queue = self._queue, []
            if batch:
                await self._write([outcome for outcome, _ in batch])
                for _, future in batch:
                    if not future.done():
                        future.set_result(None)
            elif self._closing:
                return

    async def _write(self, outcomes: list[_Outcome]) -> None:
        params = [
            {
                "b_id": o.delivery_id,
                "b_attempts": o.attempts,
                "b_status": o.status,
                "b_doubtful": o.doubtful,
                "b_next": o.next_attempt_at,
                "b_sent": o.sent_at,
                "b_error": o.last_error,
            }
            for o in sorted(outcomes, key=lambda o: o.delivery_id)  # one lock order
        ]
        blocked = {o.contact_id for o in outcomes if o.status is DeliveryStatus.UNREACHABLE}
        for attempt in range(1, _FLUSH_TRIES + 1):
            try:
                direct = self._fanout.autocommit()
                if direct is not None and not blocked:
                    # One statement: atomic by itself, no BEGIN and COMMIT round trips.
                    async with direct.connect() as connection:
                        await outbox_pg.record(connection, params)
                    return
                async with self._fanout.engine.sessions.begin() as session:
                    connection = await session.connection()
                    if direct is not None:
                        await outbox_pg.record(connection, params)
                    else:
                        await connection.execute(_RECORD, params)
                    if blocked:
                        await subscriptions.drop_unreachable(session, contact_ids=blocked)
                return
            except Exception:
                log.exception("recording alert outcomes failed (try %d)", attempt)
                await asyncio.sleep(0.2 * attempt)


class Fanout:
    """The outbox worker of one process: pacing state lives here between ticks."""

    def __init__(self, engine: Engine, config: FanoutConfig | None = None) -> None:
        self.engine = engine
        self.config = config or FanoutConfig()
        self._pacers: dict[tuple[Channel, bool], TokenBucket] = {}
        self._storms: dict[Channel, _Storm] = {}
        self._alerts: dict[int, _AlertCopy | None] = {}
        self._lock = asyncio.Lock()
        self._woken = asyncio.Event()
        self._last_housekeeping = -math.inf
        self._autocommit: AsyncEngine | Literal[False] | None = None
        self._rng = random.Random()  # noqa: S311 - back-off jitter, not a secret

    def wake(self) -> None:
        """New work was committed: a run waiting for a retry stops waiting and claims."""
        self._woken.set()

    def pacer(self, channel: Channel, *, paid: bool = False) -> TokenBucket:
        """The channel's token bucket, or with ``paid`` its paid broadcast's (made on first
        use; only Telegram has a paid one)."""
        paid = paid and channel is _PAID_CHANNEL
        bucket = self._pacers.get((channel, paid))
        if bucket is None:
            rate = self.config.paid_rate if paid else self.config.rates.get(channel, _FALLBACK_RATE)
            bucket = self._pacers[channel, paid] = TokenBucket(rate, within=paid)
        return bucket

    def autocommit(self) -> AsyncEngine | None:
        """On PostgreSQL, the database without a transaction around each statement, for the
        one-statement claims and outcomes (:mod:`bot.services.outbox_pg`); None on SQLite."""
        if self._autocommit is None:
            bind = self.engine.sessions.kw.get("bind")
            self._autocommit = False
            if isinstance(bind, AsyncEngine) and bind.dialect.name == "postgresql":
                self._autocommit = bind.execution_options(isolation_level="AUTOCOMMIT")
        return self._autocommit or None

    def _paid_sending(self, channel: Channel) -> bool:
        """Whether a paid alert seen this tick is being sent on ``channel``: claims are then
        paced at the paid rate."""
        return channel is _PAID_CHANNEL and any(
            copy is not None and copy.view.paid for copy in self._alerts.values()
        )

    def _storm(self, channel: Channel) -> _Storm:
        storm = self._storms.get(channel)
        if storm is None:
            storm = _Storm(self.config.storm_window, self.config.storm_share)
            self._storms[channel] = storm
        return storm

    # -- the tick ----------------------------------------------------------------------------

    async def run(self, *, budget: float | None = None, wait: bool = False) -> AlertTick:
        """Fire, recover, pump and finish (see the module docstring); never raises.

        A call while another runs is skipped, or with ``wait`` runs after it (a wake-up: the
        running call may have looked for due rows just before the new ones were committed).
        """
        if self._lock.locked() and not wait:
            return AlertTick(skipped=True)
        async with self._lock:
            self._woken.clear()  # this run sees everything committed until now
            report = AlertTick()
            loop = asyncio.get_running_loop()
            deadline = loop.time() + (budget if budget is not None else self.config.budget)
            self._alerts.clear()  # re-read alerts each tick: one may have been stopped
            await self._part(report, "fire", self._fire_due(report))
            await self._part(report, "housekeeping", self._housekeeping(report, force=True))
            pumps = [
                self._part(report, f"pump:{channel.value}", self._pump(channel, deadline, report))
                for channel in Channel
                if channel in self.engine.senders
            ]
            await asyncio.gather(*pumps)
            await self._part(report, "finish", self._finish(report))
            try:
                async with self.engine.sessions() as session:
                    report.more = await outstanding(session) > 0
                    report.next_due = await self._next_due(session)
            except Exception:
                log.exception("alert outbox: counting outstanding deliveries failed")
            return report

    async def _next_due(self, session: AsyncSession) -> datetime | None:
        """The earliest moment this process has alert work: a scheduled alert's time, a retry
        of a channel it sends on, a lease (another instance's, or one cut off) lapsing."""
        channels = list(self.engine.senders)
        moments = [
            await session.scalar(
                select(func.min(Alert.due_at)).where(Alert.status == AlertStatus.SCHEDULED)
            ),
            await session.scalar(
                select(func.min(Delivery.next_attempt_at)).where(
                    Delivery.status == DeliveryStatus.PENDING, Delivery.channel.in_(channels)
                )
            ),
            await session.scalar(
                select(func.min(Delivery.lease_until)).where(
                    Delivery.status == DeliveryStatus.SENDING, Delivery.channel.in_(channels)
                )
            ),
        ]
        return min((m for m in moments if m is not None), default=None)

    async def _part(self, report: AlertTick, name: str, work: Awaitable[None]) -> None:
        try:
            await work
        except Exception:
            log.exception("alert outbox part failed: %s", name)
            report.failed_parts.append(name)

    async def _fire_due(self, report: AlertTick) -> None:
        now = self.engine.clock()
        gazetteer = self.engine.deps.content.gazetteer
        async with self.engine.sessions() as session:
            due = await alerts.due_alert_ids(session, now=now)
        notices: list[Outbound] = []
        for alert_id in due:
            try:
                async with self.engine.sessions.begin() as session:
                    fired = await alerts.fire(
                        session,
                        alert_id=alert_id,
                        now=now,
                        gazetteer=gazetteer,
                        max_paid_stars=self.engine.deps.config.pace.max_stars,
                    )
            except Exception:
                log.exception("firing a scheduled alert failed")
                report.failed_parts.append("fire")
                continue
            if fired is None:
                continue
            report.fired += 1
            if fired.paid_dropped and fired.creator_contact_id is not None:
                notices.append(Outbound(fired.creator_contact_id, _went_free_notice(fired)))
            if fired.missed:
                report.missed += 1
                if fired.creator_contact_id is not None:
                    notices.append(Outbound(fired.creator_contact_id, _missed_notice(fired)))
        await self.engine.deliver(notices)

    async def _housekeeping(self, report: AlertTick, *, force: bool = False) -> None:
        """Recover expired leases (the policy above), then expire rows of expired alerts."""
        moment = time.monotonic()
        if not force and moment - self._last_housekeeping < _HOUSEKEEPING_EVERY:
            return
        self._last_housekeeping = moment
        now = self.engine.clock()
        async with self.engine.sessions.begin() as session:
            recovered = await session.execute(
                update(Delivery)
                .where(Delivery.status == DeliveryStatus.SENDING, Delivery.lease_until < now)
                .values(
                    status=DeliveryStatus.PENDING,
                    doubtful=True,
                    lease_until=None,
                    next_attempt_at=now,
                    last_error="lease_expired",
                )
                .returning(Delivery.id)
                .execution_options(synchronize_session=False)
            )
            count = len(recovered.all())
            if count:
                log.warning("alert outbox: %d send(s) cut off mid-flight will be resent", count)
            report.recovered += count
            over = select(Alert.id).where(
                (Alert.expires_at <= now) | (Alert.status == AlertStatus.CANCELLED)
            )
            expired = await session.execute(
                update(Delivery)
                .where(Delivery.status == DeliveryStatus.PENDING, Delivery.alert_id.in_(over))
                .values(status=DeliveryStatus.EXPIRED, last_error="expired")
                .returning(Delivery.id)
                .execution_options(synchronize_session=False)
            )
            report.expired += len(expired.all())

    async def _finish(self, report: AlertTick) -> None:
        now = self.engine.clock()
        async with self.engine.sessions.begin() as session:
            finished = await alerts.finish_done(session, now=now)
        notices = []
        for done in finished:
            report.finished.append(done.alert_id)
            if done.creator_contact_id is not None:
                notices.append(Outbound(done.creator_contact_id, _report_notice(done)))
        await self.engine.deliver(notices)

    # -- the pump ----------------------------------------------------------------------------

    async def _pump(self, channel: Channel, deadline: float, report: AlertTick) -> None:
        """Send due deliveries of one channel until none is due or the deadline passes."""
        loop = asyncio.get_running_loop()
        sender = self.engine.senders[channel]
        send = _send_call(sender)
        slots = asyncio.Semaphore(self.config.window)
        tasks: set[asyncio.Task[None]] = set()
        in_flight: set[int] = set()
        recorder = _Recorder(self)
        renewer = asyncio.create_task(self._renew(in_flight), name="alert-leases")

        def finished(delivery_id: int, task: asyncio.Task[None]) -> None:
            tasks.discard(task)
            in_flight.discard(delivery_id)
            slots.release()
            if not task.cancelled() and task.exception() is not None:
                log.error("alert send task failed: %s", type(task.exception()).__name__)

        try:
            while loop.time() < deadline:
                hold = sender.bulk_hold() if isinstance(sender, DeferringSender) else None
                if hold is not None and tasks:
                    # Held back (a captcha): let what is in flight, a probe say, finish first.
                    await asyncio.wait(
                        set(tasks),
                        timeout=max(0.0, deadline - loop.time()),
                        return_when=asyncio.FIRST_COMPLETED,
                    )
                    continue
                if hold:
                    if loop.time() + hold >= deadline:
                        break
                    await asyncio.sleep(hold)
                    continue
                await slots.acquire()
                if hold is None:
                    held = await self._more_slots(slots, tasks, loop.time() + _CLAIM_LINGER)
                else:
                    held = 1  # a probe: one row, so a challenge still in force costs one attempt
                gate_paid = self._paid_sending(channel)
                pacer = self.pacer(channel, paid=gate_paid)
                tokens = await pacer.take(held, pacer.step)
                if loop.time() >= deadline:
                    pacer.refund(tokens)
                    _release(slots, held)
                    break
                _release(slots, held - tokens)
                try:
                    batch, recipients = await self._claim(channel, tokens)
                except Exception:
                    log.exception("claiming deliveries failed")
                    batch, recipients = [], {}
                    await asyncio.sleep(0.5)
                pacer.refund(tokens - len(batch))
                _release(slots, tokens - len(batch))
                if batch:
                    report.claimed += len(batch)
                    for row in batch:
                        task = asyncio.create_task(
                            self._send_one(
                                channel,
                                send,
                                row,
                                recipients.get(row.contact_id),
                                recorder,
                                report,
                                gate_paid,
                            )
                        )
                        tasks.add(task)
                        in_flight.add(row.id)
                        task.add_done_callback(functools.partial(finished, row.id))
                    continue
                if tasks:
                    # Nothing due now, but outcomes in flight may make rows due soon.
                    await asyncio.wait(
                        set(tasks),
                        timeout=max(0.0, deadline - loop.time()),
                        return_when=asyncio.FIRST_COMPLETED,
                    )
                    continue
                wait = await self._idle_wait(channel)
                if wait is None or loop.time() + wait >= deadline:
                    break
                await self._nap(wait)
                await self._housekeeping(report)
        finally:
            if tasks:
                await asyncio.gather(*list(tasks), return_exceptions=True)
            await recorder.close()
            renewer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await renewer

    async def _more_slots(
        self, slots: asyncio.Semaphore, tasks: set[asyncio.Task[None]], until: float
    ) -> int:
        """Holding one slot, take the others that are free; while sends are in flight, wait
        up to ``until`` for a quarter of the window, so a busy pump claims a few rows per
        transaction instead of one."""
        loop = asyncio.get_running_loop()
        held = 1
        enough = max(1, min(self.config.window // 4, self.config.claim_limit))
        while held < self.config.claim_limit:
            while held < self.config.claim_limit and not slots.locked():
                await slots.acquire()
                held += 1
            pending = [task for task in tasks if not task.done()]
            remaining = until - loop.time()
            if held >= enough or not pending or remaining <= 0:
                break
            await asyncio.wait(pending, timeout=remaining, return_when=asyncio.FIRST_COMPLETED)
        return held

    async def _renew(self, in_flight: set[int]) -> None:
        """Keep the leases of rows being sent alive, so only a dead process loses them."""
        every = self.config.lease.total_seconds() / 3
        while True:
            await asyncio.sleep(every)
            if not in_flight:
                continue
            try:
                async with self.engine.sessions.begin() as session:
                    await session.execute(
                        update(Delivery)
                        .where(
                            Delivery.id.in_(sorted(in_flight)),
                            Delivery.status == DeliveryStatus.SENDING,
                        )
                        .values(lease_until=self.engine.clock() + self.config.lease)
                        .execution_options(synchronize_session=False)
                    )
            except Exception:
                # Not fatal: another instance may take a slow send and resend it (unknown).
                log.exception("renewing alert leases failed")

    async def _claim(
        self, channel: Channel, count: int
    ) -> tuple[list[_Claimed], dict[int, _Recipient]]:
        now = self.engine.clock()
        direct = self.autocommit()
        if direct is not None:
            return await self._claim_pg(direct, channel, count, now)
        due = (
            select(Delivery.id)
            .where(
                Delivery.status == DeliveryStatus.PENDING,
                Delivery.channel == channel,
                Delivery.next_attempt_at <= now,
            )
            .order_by(Delivery.priority, Delivery.next_attempt_at)
            .limit(count)
            .with_for_update(skip_locked=True)
        )
        async with self.engine.sessions.begin() as session:
            # One statement under SQLite's write lock: the subquery's status test holds for the
            # update too. (Repeating it outside makes SQLite's planner scan every pending row
            # through the status index instead of looking the ids up.)
            result = await session.execute(
                update(Delivery)
                .where(Delivery.id.in_(due.scalar_subquery()))
                .values(
                    status=DeliveryStatus.SENDING,
                    lease_until=now + self.config.lease,
                    attempts=Delivery.attempts + 1,
                )
                .returning(
                    Delivery.id,
                    Delivery.alert_id,
                    Delivery.contact_id,
                    Delivery.attempts,
                    Delivery.doubtful,
                )
                .execution_options(synchronize_session=False)
            )
            batch = [_Claimed(*row) for row in result.all()]
            if not batch:
                return [], {}
            people = await session.execute(
                select(Contact.id, Contact.reply_address, Contact.locale, Contact.reachable).where(
                    Contact.id.in_([row.contact_id for row in batch])
                )
            )
            recipients = {row[0]: _Recipient(row[1], row[2], row[3]) for row in people.all()}
            await self._load_alerts(session, {row.alert_id for row in batch})
        return batch, recipients

    async def _claim_pg(
        self, direct: AsyncEngine, channel: Channel, count: int, now: datetime
    ) -> tuple[list[_Claimed], dict[int, _Recipient]]:
        """One statement, with the recipients (atomic by itself: no BEGIN and COMMIT)."""
        async with direct.connect() as connection:
            rows = await outbox_pg.claim(
                connection,
                channel=channel,
                count=count,
                now=now,
                lease_until=now + self.config.lease,
            )
        batch = [
            _Claimed(row.id, row.alert_id, row.contact_id, row.attempts, row.doubtful)
            for row in rows
        ]
        recipients = {
            row.contact_id: _Recipient(row.reply_address, row.locale, row.reachable)
            for row in rows
            if row.known is not None
        }
        if {row.alert_id for row in batch} - self._alerts.keys():
            async with self.engine.sessions() as session:
                await self._load_alerts(session, {row.alert_id for row in batch})
        return batch, recipients

    async def _load_alerts(self, session: AsyncSession, ids: set[int]) -> None:
        for alert_id in ids - self._alerts.keys():
            view = await alerts.get(session, alert_id=alert_id)
            if view is None:
                self._alerts[alert_id] = None
                continue
            photo = await alerts.photo_for(session, alert_id=alert_id)
            self._alerts[alert_id] = _AlertCopy(view, photo)

    async def _nap(self, seconds: float) -> None:
        """Sleep ``seconds``, or until :meth:`wake`."""
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(seconds):
                await self._woken.wait()
        self._woken.clear()

    async def _idle_wait(self, channel: Channel) -> float | None:
        """Seconds until a row of ``channel`` may be due (a retry, or a lease to recover)."""
        async with self.engine.sessions() as session:
            retry = await session.scalar(
                select(func.min(Delivery.next_attempt_at)).where(
                    Delivery.status == DeliveryStatus.PENDING, Delivery.channel == channel
                )
            )
            lease = await session.scalar(
                select(func.min(Delivery.lease_until)).where(
                    Delivery.status == DeliveryStatus.SENDING, Delivery.channel == channel
                )
            )
        moments = [m for m in (retry, lease) if m is not None]
        if not moments:
            return None
        now = self.engine.clock()
        return max(_IDLE_STEP, (min(moments) - now).total_seconds() + _IDLE_STEP)

    async def _send_one(
        self,
        channel: Channel,
        send: _Send,
        row: _Claimed,
        recipient: _Recipient | None,
        recorder: _Recorder,
        report: AlertTick,
        gate_paid: bool = False,
    ) -> None:
        if recipient is None:
            return  # the contact was deleted (/forget): its rows went with it
        copy = self._alerts.get(row.alert_id)
        now = self.engine.clock()
        outcome = _Outcome(row.id, row.attempts, row.contact_id, DeliveryStatus.SENDING, False)
        if not recipient.reachable:
            outcome.status, outcome.last_error = DeliveryStatus.UNREACHABLE, "blocked"
        elif copy is None or copy.view.expired(now) or copy.view.status is AlertStatus.CANCELLED:
            outcome.status, outcome.last_error = DeliveryStatus.EXPIRED, "expired"
        elif recipient.reply_address is None:  # a pending delivery keeps it; never crash
            outcome.status, outcome.last_error = DeliveryStatus.FAILED, "no address"
        else:
            try:
                address = self.engine.box.open(recipient.reply_address)
            except AddressUnreadable:
                log.warning("reply address unreadable (key changed?); delivery failed")
                outcome.status, outcome.last_error = DeliveryStatus.FAILED, "address"
            else:
                t = self.engine.deps.words.for_locale(recipient.locale)
                reply = copy.reply(t, self._render)
                paid = copy.view.paid and channel is _PAID_CHANNEL
                if paid != gate_paid:
                    # Claimed under the other bucket: this row's own pace holds too.
                    await self.pacer(channel, paid=paid).take(1)
                if paid:
                    reply = replace(reply, paid=True)
                result = await self._send(send, address, reply)
                self.engine.count_send(channel, result)
                outcome = self._judge(row, result, self.engine.clock())
                pause = self._storm(channel).record(
                    result.status is SendStatus.RETRY, result.retry_after
                )
                if pause is not None:
                    log.warning("alert outbox: most sends refused; pausing %.0f s", pause)
                    self.pacer(channel).pause(pause)
                    self.pacer(channel, paid=True).pause(pause)
        _count(report, outcome.status)
        await recorder.record(outcome)

    def _render(self, view: AlertView, t: Translator) -> str:
        content = self.engine.deps.content
        return alerts.render_alert(
            view, t, content.gazetteer, content.cards, directory=content.directory
        )

    async def _send(self, send: _Send, address: str, reply: Reply) -> SendResult:
        try:
            async with asyncio.timeout(self.config.send_timeout):
                return await send(address, reply)
        except TimeoutError:
            # The request may have arrived: ambiguous, like a crash mid-send.
            return SendResult(SendStatus.RETRY, maybe_delivered=True)
        except Exception as exc:
            log.error("alert send raised %s", type(exc).__name__)
            return SendResult(SendStatus.RETRY, maybe_delivered=True)

    def _judge(self, row: _Claimed, result: SendResult, now: datetime) -> _Outcome:
        outcome = _Outcome(row.id, row.attempts, row.contact_id, DeliveryStatus.SENT, row.doubtful)
        if result.status is SendStatus.SENT:
            outcome.status = DeliveryStatus.UNKNOWN if row.doubtful else DeliveryStatus.SENT
            outcome.sent_at = hour_of(now)  # kept with the contact: the hour only
        elif result.status is SendStatus.UNREACHABLE:
            outcome.status, outcome.last_error = DeliveryStatus.UNREACHABLE, "blocked"
        elif result.status is SendStatus.FAILED:
            outcome.status, outcome.last_error = DeliveryStatus.FAILED, "rejected"
        else:
            outcome.doubtful = row.doubtful or result.maybe_delivered
            if row.attempts >= self.config.max_attempts:
                outcome.status, outcome.last_error = DeliveryStatus.FAILED, "gave_up"
                return outcome
            if result.retry_after is not None:
                delay, error = result.retry_after, "rate_limited"
            else:
                delay = self._backoff(row.attempts)
                error = "timeout" if result.maybe_delivered else "retry"
            outcome.status, outcome.last_error = DeliveryStatus.PENDING, error
            outcome.next_attempt_at = now + timedelta(seconds=delay)
        return outcome

    def _backoff(self, attempts: int) -> float:
        # Gentle per row (x1.5 per attempt): an unlucky row should not trail a broadcast by
        # many seconds. Backing off from a platform in real trouble is the storm guard's job:
        # it pauses the whole channel, longer each time.
        base = self.config.backoff_base * 1.5 ** min(max(attempts - 1, 0), 40)
        return float(min(self.config.backoff_cap, base * (1 + 0.25 * self._rng.random())))


_Send = Callable[[str, Reply], Awaitable[SendResult]]


def _send_call(sender: Any) -> _Send:
    """The sender's best send for a broadcast, looked up once per pump (an ``isinstance`` of a
    runtime protocol is slow enough to show in a broadcast's profile)."""
    if isinstance(sender, BulkSender):
        return sender.send_bulk
    if isinstance(sender, DetailedSender):
        return sender.send_result

    async def send(address: str, reply: Reply) -> SendResult:
        return SendResult(SendStatus(await sender.send(address, reply)))

    return send


def _release(slots: asyncio.Semaphore, count: int) -> None:
    for _ in range(count):
        slots.release()


def _count(report: AlertTick, status: DeliveryStatus) -> None:
    if status is DeliveryStatus.SENT:
        report.sent += 1
    elif status is DeliveryStatus.UNKNOWN:
        report.unknown += 1
    elif status is DeliveryStatus.FAILED:
        report.failed += 1
    elif status is DeliveryStatus.UNREACHABLE:
        report.unreachable += 1
    elif status is DeliveryStatus.EXPIRED:
        report.expired += 1
    elif status is DeliveryStatus.PENDING:
        report.retried += 1


def _report_notice(done: alerts.Finished) -> Callable[[Translator], Reply]:
    tally: Tally = done.tally

    def render(t: Translator) -> Reply:
        lines = [
            t(
                "Alert A{id} is done: sent {sent}, failed {failed}, unreachable {unreachable}, "
                "unknown {unknown}.",
                id=done.alert_id,
                sent=tally.sent,
                failed=tally.failed,
                unreachable=tally.unreachable,
                unknown=tally.unknown,
            )
        ]
        if tally.expired:
            lines.append(
                t("Not sent, because it expired or was stopped first: {n}.", n=tally.expired)
            )
        if tally.unknown:
            lines.append(
                t("Unknown: delivered, but maybe twice (a send was cut off and repeated).")
            )
        if done.took is not None and tally.total > tally.expired:
            lines.append(took_line(t, done.took))
        return Reply("\n".join(lines))

    return render


def _went_free_notice(fired: alerts.Fired) -> Callable[[Translator], Reply]:
    def render(t: Translator) -> Reply:
        return Reply(went_free_line(t, f"A{fired.alert_id}"))

    return render


def _missed_notice(fired: alerts.Fired) -> Callable[[Translator], Reply]:
    def render(t: Translator) -> Reply:
        return Reply(
            t(
                "Scheduled alert A{id} was not sent: its time passed while the bot was offline.",
                id=fired.alert_id,
            )
        )

    return render


async def outstanding(session: AsyncSession, *, alert_id: int | None = None) -> int:
    """Deliveries still pending or in flight (of one alert, or all)."""
    query = (
        select(func.count())
        .select_from(Delivery)
        .where(Delivery.status.in_([DeliveryStatus.PENDING, DeliveryStatus.SENDING]))
    )
    if alert_id is not None:
        query = query.where(Delivery.alert_id == alert_id)
    return int(await session.scalar(query) or 0)


# Pacing state must outlive a tick; kept per engine when the caller does not hold a Fanout.
_FANOUTS: weakref.WeakKeyDictionary[Engine, Fanout] = weakref.WeakKeyDictionary()


def fanout_for(engine: Engine, config: FanoutConfig | None = None) -> Fanout:
    """The engine's outbox worker, made on first use (``config`` applies only then)."""
    fanout = _FANOUTS.get(engine)
    if fanout is None:
        fanout = _FANOUTS[engine] = Fanout(engine, config)
    return fanout


async def run_alert_due(
    engine: Engine, *, fanout: Fanout | None = None, budget: float | None = None
) -> AlertTick:
    """One tick of alert work: fire due schedules, recover, send what is due, finish.

    Bounded by ``budget`` seconds (default ``FanoutConfig.budget``) plus the sends in flight
    at its end; ``AlertTick.more`` says deliveries remain. Never raises.
    """
    return await (fanout or fanout_for(engine)).run(budget=budget)
