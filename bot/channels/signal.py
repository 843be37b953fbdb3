"""The Signal channel: signalbot data messages in, neutral ``Incoming`` out; ``Reply`` in,
signal-cli-rest-api sends out.

This is the only module that imports ``signalbot``. It translates and renders, nothing else:
what to answer is the engine's and its handlers' business. Signal has no buttons, so options
are a numbered list answered with a digit (or the option's label typed out), and there is no
location button: a maps link with coordinates in a message counts as a shared location.

**Every instance receives (active-active).** signal-cli-rest-api (json-rpc mode) pushes every
incoming message to *every* websocket connected for the number, in the same order, and keeps
nothing for later. So every instance on one PostgreSQL database receives every message, and
each answers it or skips it (see :mod:`bot.channels.sender_turns` for why each person's
messages are answered exactly once and in order); a killed instance costs nothing while another
is connected. (On SQLite only one instance runs: :mod:`bot.instance`.) Messages sent while *no*
instance is connected are lost: the receive loop reconnects with back-off, including after a
clean websocket close (code 1000), after which signalbot's own loop would simply end.

**How signalbot is driven.** signalbot 2.2 is run inside the caller's event loop, and its
private pieces are touched in a few marked places, for reasons given there:

- start-up runs ``SignalBot._async_init`` and starts the message pipeline *without* its
  producer; this module owns the receive loop (clean-close reconnect, bounded back-off, frames
  it cannot parse skipped instead of killing the loop, sync messages from the account's other
  devices ignored, nothing printed to stderr);
- shutdown is ``await bot._pipeline.stop(); await bot.close()`` in :func:`_close_bot`, never
  ``SignalBot.stop()``, which calls ``loop.stop()``;
- sends go straight to ``POST /v2/send`` with the body signalbot builds, because signalbot
  turns a 429 into a plain ``SendError`` (losing the rate-limit challenge token), drops
  per-recipient failures and logs the message text and the recipient's number.

Privacy: nothing here logs or keeps a number, UUID, profile name, text or coordinates. Logs name
an error class or an HTTP status at most; signalbot's own log records are reduced to their
fixed templates. The options last sent to an address are a row, so that any instance, and
one restarted since, reads a digit as the option it picks (:mod:`bot.services.shown_menus`:
under a keyed hash, sealed, kept a day at most). Pacing state is a small in-memory map keyed by
reply address, bounded, lost on restart by design, never written.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import io
import json
import logging
import re
import time
from collections import OrderedDict
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from enum import Enum
from types import TracebackType
from typing import Any, Final, Literal, Self, TypeVar
from urllib.parse import parse_qs, unquote, urlsplit

import aiohttp
from signalbot import (
    LOGGER_NAME,
    Config,
    ConnectionMode,
    DataMessage,
    DataMessageContext,
    DataMessageHandler,
    EditMessage,
    InMemoryConfig,
    SendMessage,
    SignalBot,
    TextMode,
    parse,
)

from bot.channels.errors import ChannelError, ChannelUnreachable, failure_reason
from bot.channels.sender_turns import DatabaseTurns, SenderQueues
from bot.core.engine import Engine
from bot.core.messages import (
    MAX_PHOTO_BYTES,
    Incoming,
    InputKind,
    Location,
    Option,
    PhotoSource,
    PhotoUnavailable,
    Reply,
    SendResult,
    SendStatus,
)
from bot.core.text import clean, parse_command
from bot.core.words import N_
from bot.domain import Channel
from bot.privacy import pseudonym, scrub, validate_location
from bot.services import shown_menus
from bot.settings import Settings, SettingsError

log = logging.getLogger(__name__)

# Signal keeps a body inline up to 2 KiB of UTF-8 (longer texts travel as a "long text"
# attachment that minimal clients show as a file); 2000 bytes leaves a margin.
MAX_PART_BYTES: Final = 2000
# Worded in the recipient's language when sent (N_ marks them for `make messages`).
NUMBER_HINT: Final = N_("Reply with a number.")
# In place of NUMBER_HINT when something may be typed instead (Reply.typed): one hint a step.
TYPED_NUMBER_HINT: Final = N_("Reply with a number, or type {typed}.")
# A list of counts with more than one other choice: those others answer to letters.
LETTER_HINT: Final = N_("Reply with a number or a letter.")
# Under the options of a question that asks where the person is. Signal has no location
# button: a maps link in a message is the way to share one (read by :func:`maps_location`).
# It is end-to-end encrypted, so only the bot sees the point, and keeps only the coarse cell.
LOCATION_HINT: Final = N_(
    "Or send a map link to where you are: Signal can't read it; "
    "the bot sees your exact position and keeps only a rough area."
)
_HEALTHY: Final = 204  # GET /v1/health when signal-cli is ready
# People handled at once (signalbot's pipeline consumers; its own default is 3).
DEFAULT_CONCURRENCY: Final = 4
SIGNALBOT_LOGGER: Final = LOGGER_NAME  # whose records this module reduces to templates
# No "auto": signalbot would pick the scheme at run time, and sends here must use the same.
ConnectionModeName = Literal["http_only", "https_only"]

_E164 = re.compile(r"\+[1-9][0-9]{6,14}")
_UUID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")
_CHOICE = re.compile(r"(\d{1,2})\.?")  # any script's digits: "٢" picks option 2 too
_REMEMBERED: Final = 10_000
_UPDATE_KEY_HEX: Final = 32
# Per-recipient result types (signal-cli) worth retrying, and those that mean "captcha".
_RETRY_REASONS: Final = frozenset({"NETWORK_FAILURE", "RATE_LIMIT_FAILURE"})
_CAPTCHA_REASONS: Final = frozenset({"RATE_LIMIT_FAILURE", "PROOF_REQUIRED_FAILURE"})
_REASON = re.compile(r"[A-Z_]{1,40}")
# signal-cli's stored-attachment ids (``<random>.jpg``): nothing that could change the path.
_ATTACHMENT_ID = re.compile(r"[A-Za-z0-9_-]{1,128}(\.[A-Za-z0-9]{1,8})?")

_T = TypeVar("_T")
RateLimitHook = Callable[["RateLimitChallenge"], Awaitable[None]]


class SignalUnavailable(ChannelError):
    """signal-cli-rest-api refused start-up (wrong mode or too old)."""


class SignalUnreachable(SignalUnavailable, ChannelUnreachable):
    """signal-cli-rest-api cannot be reached or is not ready yet: worth retrying."""


@dataclass(frozen=True)
class SignalPacing:
    """How fast the channel sends: per recipient, ``recipient_burst`` messages at once and
    then one every ``recipient_interval`` seconds; overall, ``global_burst`` at once and
    then one every ``global_interval`` seconds. Signal's server limits are unpublished and
    answer with captchas when exceeded, so the defaults are conservative."""

    recipient_burst: int = 3
    recipient_interval: float = 1.0
    global_burst: int = 10
    global_interval: float = 0.5

    def __post_init__(self) -> None:
        if self.recipient_burst < 1 or self.global_burst < 1:
            raise ValueError("bursts must be at least 1 message")
        if self.recipient_interval < 0 or self.global_interval < 0:
            raise ValueError("intervals must not be negative")


@dataclass(frozen=True)
class Reconnect:
    """Back-off of the receive loop: ``initial`` seconds after a drop, doubling up to
    ``maximum``; back to ``initial`` once a connection lasted ``stable_after`` seconds.
    Kept short: messages that arrive while disconnected are lost."""

    initial: float = 0.1
    maximum: float = 30.0
    stable_after: float = 60.0

    def __post_init__(self) -> None:
        if not 0 < self.initial <= self.maximum:
            raise ValueError("need 0 < initial <= maximum")


@dataclass(frozen=True)
class RateLimitChallenge:
    """Signal asked for a captcha before sending more (HTTP 429 with challenge tokens).

    Solve one at https://signalcaptchas.org/challenge/generate.html and pass the
    ``signalcaptcha://…`` result to :meth:`SignalChannel.submit_captcha`.
    """

    tokens: tuple[str, ...]
    since: datetime
    hits: int = 1


class SignalChannel:
    """Runs signalbot for one Signal number and connects it to the engine.

    Use ``async with SignalChannel(engine, number=..., service=...):`` or
    :meth:`start`/:meth:`stop`. Once started it is the engine's
    :class:`~bot.core.engine.Sender` for :attr:`Channel.SIGNAL`.
    """

    def __init__(
        self,
        engine: Engine,
        *,
        number: str,
        service: str,
        connection_mode: ConnectionModeName = "http_only",
        pacing: SignalPacing | None = None,
        reconnect: Reconnect | None = None,
        turns: DatabaseTurns | None = None,
        concurrency: int = DEFAULT_CONCURRENCY,
        on_rate_limit: RateLimitHook | None = None,
        ready_timeout: float = 30.0,
        send_timeout: float = 30.0,
        challenge_recheck: float = 600.0,
        drain_timeout: float = 10.0,
        number_hint: str = NUMBER_HINT,
        location_hint: str = LOCATION_HINT,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        if not _E164.fullmatch(number):
            raise ValueError("the Signal number must be in E.164 form, e.g. +16045550100")
        if concurrency < 1:
            raise ValueError("concurrency must be at least 1")
        self.engine = engine
        self.name = Channel.SIGNAL.value
        self.number = number
        self.service = service
        self.connection_mode = connection_mode
        self.reconnect = reconnect or Reconnect()
        self.turns = turns
        self.concurrency = concurrency
        self.on_rate_limit = on_rate_limit
        self.ready_timeout = ready_timeout
        self.send_timeout = send_timeout
        self.challenge_recheck = challenge_recheck
        self.drain_timeout = drain_timeout
        self.number_hint = number_hint
        self.location_hint = location_hint
        self.username: str | None = None  # Signal bots have no public username
        self.challenge: RateLimitChallenge | None = None
        self.reconnects = 0
        self._pacer = _Pacer(pacing or SignalPacing(), monotonic)
        self._monotonic = monotonic
        self._refused_at = float("-inf")  # when Signal last answered with a challenge
        self._bot: SignalBot | None = None
        self._http: aiohttp.ClientSession | None = None
        self._receiver: asyncio.Task[None] | None = None
        self._stopping = False
        self._hooks: set[asyncio.Task[None]] = set()
        # address → whether the turn being handled for it has already shown options (None:
        # sent nothing yet). The options themselves are rows (bot.services.shown_menus).
        self._turn_options: dict[str, bool | None] = {}
        self._senders = SenderQueues()

    @classmethod
    def from_settings(
        cls,
        engine: Engine,
        settings: Settings,
        *,
        on_rate_limit: RateLimitHook | None = None,
        pacing: SignalPacing | None = None,
    ) -> Self:
        """Build from ``HRBOT_SIGNAL_NUMBER`` and ``HRBOT_SIGNAL_SERVICE``. On PostgreSQL,
        where other instances receive the same messages, each person's messages are handled
        in turns (:class:`DatabaseTurns`); a turn in hand holds two pooled connections, so
        fewer than half of ``HRBOT_DATABASE_POOL_SIZE`` people are handled at once."""
        number = settings.signal_number
        if not number:
            raise SettingsError("invalid setting HRBOT_SIGNAL_NUMBER: not set")
        if not _E164.fullmatch(number):
            # The value itself is not repeated: it is a phone number.
            raise SettingsError(
                "invalid setting HRBOT_SIGNAL_NUMBER: must be in E.164 form, e.g. +16045550100"
            )
        if not settings.signal_service:
            raise SettingsError(
                "invalid setting HRBOT_SIGNAL_SERVICE: not set (host:port of signal-cli-rest-api)"
            )
        turns, concurrency = None, DEFAULT_CONCURRENCY
        if not settings.is_sqlite:
            concurrency = min(DEFAULT_CONCURRENCY, (settings.database_pool_size - 1) // 2)
            if concurrency < 1:
                raise SettingsError(
                    "invalid setting HRBOT_DATABASE_POOL_SIZE: Signal on PostgreSQL needs at "
                    "least 3 connections (a message in hand holds two)"
                )
            turns = DatabaseTurns(engine.sessions)
        return cls(
            engine,
            number=number,
            service=settings.signal_service,
            turns=turns,
            concurrency=concurrency,
            pacing=pacing,
            on_rate_limit=on_rate_limit,
        )

    # -- life cycle ----------------------------------------------------------------------

    @property
    def running(self) -> bool:
        """Whether the channel is started and not stopping."""
        return self._bot is not None and not self._stopping

    @property
    def receiving(self) -> bool:
        """Whether the receive loop is alive (it may be between reconnection attempts)."""
        return self._receiver is not None and not self._receiver.done()

    @property
    def challenge_pending(self) -> bool:
        """Signal wants a captcha: defer bulk sends (alerts) and tell the coordinators."""
        return self.challenge is not None

    def bulk_hold(self) -> float | None:
        """How long bulk sends (the alert outbox) should wait: None without a challenge;
        else the seconds left until ``challenge_recheck`` after the last refusal, then 0:
        one send may probe whether the captcha was solved out of band (README, curl).
        Deferred rows are not claimed, so they stay pending and spend no attempts."""
        if self.challenge is None:
            return None
        return max(0.0, self._refused_at + self.challenge_recheck - self._monotonic())

    async def start(self) -> None:
        """Connect to signal-cli-rest-api, start receiving.

        Raises :class:`SignalUnreachable` when the service cannot be reached or is not ready
        within ``ready_timeout`` (worth retrying), :class:`SignalUnavailable` when it refuses.
        """
        if self._bot is not None:
            raise RuntimeError("the Signal channel is already started")
        self._stopping = False
        try:
            await self._start_bot()
        except BaseException:
            await self.stop()
            raise
        self.engine.add_sender(Channel.SIGNAL, self)

    async def _start_bot(self) -> None:
        config = Config(
            phone_number=self.number,
            signal_service=self.service,
            connection_mode=ConnectionMode(self.connection_mode),
            storage=InMemoryConfig(),
            # signalbot never fetches files people send: the bot fetches only a coordinator's
            # alert photo itself, and deletes every attachment once its message is handled.
            download_attachments=False,
            logging_level=logging.WARNING,
        )
        self._http = aiohttp.ClientSession(
            timeout=aiohttp.ClientTimeout(total=self.send_timeout),
            # Pool apart from signalbot's, whose session lives and dies with the bot.
            raise_for_status=False,
        )
        # Asked first: signalbot would retry an unreachable service every second, logging an
        # error each time, until ready_timeout; the runner retries with back-off instead.
        status = await self._health()
        if status != _HEALTHY:
            raise self._unreachable(f"not ready (HTTP {status})")
        await self._sweep_attachments()
        signalbot_log = logging.getLogger(SIGNALBOT_LOGGER)
        handlers = set(signalbot_log.handlers)
        bot = SignalBot(config)  # inside the running loop: signalbot adopts it
        _tame_signalbot_log(signalbot_log, handlers)
        bot.register(_Handler(self), contacts=True, groups=False)
        self._bot = bot
        bot.init_task = asyncio.create_task(_initialise(bot, self.concurrency), name="signal-init")
        try:
            async with asyncio.timeout(self.ready_timeout):
                await bot.wait_until_ready()
        except TimeoutError:
            raise self._unreachable(f"not ready within {self.ready_timeout:g} s") from None
        except Exception as exc:  # wrong mode or version, an error answer...
            # signalbot's words, scrubbed: an error may quote a URL with the account number.
            reason = scrub(str(exc)) or type(exc).__name__
            raise SignalUnavailable(f"signal-cli-rest-api refused start-up: {reason}") from None
        self._start_receiver(bot)

    async def _health(self) -> int:
        """The status of ``GET /v1/health`` (204 when ready); raises SignalUnreachable."""
        assert self._http is not None
        try:
            async with asyncio.timeout(self.ready_timeout):
                async with self._http.get(self._url("/v1/health")) as response:
                    return response.status
        except (aiohttp.ClientError, OSError, TimeoutError) as exc:
            raise self._unreachable(failure_reason(exc)) from None

    def _unreachable(self, reason: str) -> SignalUnreachable:
        # The service's address, never a URL: those carry the account's number.
        return SignalUnreachable(
            "signal-cli-rest-api", f"{self.service} (HRBOT_SIGNAL_SERVICE)", reason
        )

    async def probe(self) -> bool:
        """Whether signal-cli-rest-api answers ready now and the receive loop runs, for
        the health status."""
        if not (self.running and self.receiving) or self._http is None:
            return False
        try:
            return await self._health() == _HEALTHY
        except SignalUnreachable:
            return False

    async def stop(self) -> None:
        """Stop receiving, let messages in hand finish (and their replies go out), close
        connections (idempotent)."""
        self._stopping = True
        receiver, self._receiver = self._receiver, None
        if receiver is not None:
            receiver.cancel()
            await asyncio.gather(receiver, return_exceptions=True)
        bot = self._bot
        try:
            if bot is not None:
                if not await _drain(bot, self.drain_timeout):
                    log.warning("signal channel stopped with messages still being handled")
                await _close_bot(bot)
        finally:
            self._bot = None
            http, self._http = self._http, None
            if http is not None:
                await http.close()
            hooks = list(self._hooks)
            for task in hooks:
                task.cancel()
            await asyncio.gather(*hooks, return_exceptions=True)

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()

    # -- receiving -----------------------------------------------------------------------

    def _start_receiver(self, bot: SignalBot) -> None:
        task = asyncio.create_task(self._receive_forever(bot), name="signal-receive")
        task.add_done_callback(self._watchdog)
        self._receiver = task

    def _watchdog(self, task: asyncio.Task[None]) -> None:
        # The loop below only ends by cancellation; anything else is a bug that must not
        # leave the bot deaf, so it is logged and the loop restarted (after a pause, so a
        # loop that dies at once cannot spin).
        if task.cancelled() or task is not self._receiver or not self.running:
            return
        error = task.exception()
        log.error("signal receive loop died (%s); restarting it", type(error).__name__)
        asyncio.get_running_loop().call_later(self.reconnect.initial, self._restart, task)

    def _restart(self, dead: asyncio.Task[None]) -> None:
        if self._receiver is dead and self.running and self._bot is not None:
            self._start_receiver(self._bot)

    async def _receive_forever(self, bot: SignalBot) -> None:
        loop = asyncio.get_running_loop()
        delay = self.reconnect.initial
        while not self._stopping:
            started = loop.time()
            try:
                await self._receive_once(bot)
                # A clean close (1000) ends signalbot's stream without an error.
                log.info("signal receive stream closed by the server; reconnecting")
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.warning("signal receive stream failed (%s); reconnecting", type(exc).__name__)
            if loop.time() - started >= self.reconnect.stable_after:
                delay = self.reconnect.initial
            self.reconnects += 1
            await asyncio.sleep(delay)
            delay = min(delay * 2, self.reconnect.maximum)

    async def _receive_once(self, bot: SignalBot) -> None:
        # Private: signalbot's websocket stream (an async generator; closing it on the way
        # out, cancellation included, closes the socket now rather than at GC time).
        stream = bot._signal.messages.receive()
        try:
            async for raw in stream:
                message = await self._parse(bot, raw)
                if message is not None:
                    # Private: queue for the pipeline's consumers, which run _Handler.
                    await bot._pipeline._dispatch_to_handlers(message)
        finally:
            close = getattr(stream, "aclose", None)
            if close is not None:
                await close()

    async def _parse(self, bot: SignalBot, raw: str) -> DataMessage | None:
        """A person's data message from a frame, or None for everything this bot ignores."""
        try:
            frame = json.loads(raw)
        except ValueError:
            log.warning("unreadable frame from signal-cli-rest-api dropped")
            return None
        if not isinstance(frame, dict):
            return None
        envelope = frame.get("envelope")
        if not isinstance(envelope, dict):
            if "error" in frame:
                log.warning("signal-cli-rest-api reported a receive error")
            return None
        if frame.get("account") not in (None, self.number):
            return None
        data = envelope.get("dataMessage")
        # Typing, receipts, calls, stories, edits and sync messages (what the account's
        # other devices sent, with the *recipient* as source) are not requests.
        if not isinstance(data, dict) or envelope.get("syncMessage") is not None:
            return None
        if any(data.get(flag) for flag in ("isExpirationUpdate", "isProfileKeyUpdate")):
            return None
        if envelope.get("sourceNumber") == self.number:
            return None  # never answer ourselves
        try:
            message = await parse(bot._signal, raw)
        except Exception as exc:
            # pydantic's message would quote the frame: the class name only.
            log.warning("signal message could not be parsed (%s); dropped", type(exc).__name__)
            return None
        if not isinstance(message, DataMessage) or isinstance(message, EditMessage):
            return None  # reactions, remote deletes, group updates
        return message

    async def _on_message(self, message: DataMessage) -> None:
        """Called by a pipeline consumer, in arrival order: nothing may be awaited before
        the message is queued for its sender (:mod:`bot.channels.sender_turns`)."""
        if message.is_group() or isinstance(message, EditMessage):
            return
        sender = message.source_uuid or message.source_number
        if not sender or not _is_recipient(sender):
            return

        async def handle() -> None:
            await self._handle(message, sender)

        # One message per person at a time, in arrival order (the pipeline runs several
        # consumers); different people are handled concurrently.
        await self._senders.run(sender, handle)

    async def _handle(self, message: DataMessage, sender: str) -> None:
        try:
            # Read in the person's turn: the list a digit answers is the one the last turn
            # showed, whichever instance handled it.
            async with self._turn(sender):
                incoming = await self._translate(message, sender)
                self._turn_options[sender] = None
                try:
                    await self.engine.handle(incoming)
                finally:
                    self._turn_options.pop(sender, None)
        except Exception as exc:
            # A fixed message: the message and the exception text may hold identifiers.
            log.error("signal message could not be handled (%s)", type(exc).__name__)
        finally:
            await self._discard_attachments(message)

    @contextlib.asynccontextmanager
    async def _turn(self, sender: str) -> AsyncIterator[None]:
        """The person's turn across instances, when other instances may receive too."""
        if self.turns is None:
            yield
            return
        alias = pseudonym(self.engine.deps.keys.pseudonym, Channel.SIGNAL.value, sender)
        async with self.turns.hold(alias):
            yield

    async def _translate(self, message: DataMessage, sender: str) -> Incoming:
        key = pseudonym(
            self.engine.deps.keys.pseudonym, "signal_update", f"{sender}:{message.timestamp}"
        )

        # Fetched only if the step asks for a photo (a coordinator adding one to an alert).
        photo = self._photo_source(message)

        def make(kind: InputKind, **fields: Any) -> Incoming:
            return Incoming(
                channel=Channel.SIGNAL,
                sender_id=sender,
                address=sender,
                kind=kind,
                # Keyed hash: the raw key would hold the sender's identifier.
                update_key=f"sig:{key[:_UPDATE_KEY_HEX]}",
                photo=photo,
                **fields,
            )

        raw = message.text or ""
        place = maps_location(raw)
        if place is _Place.INVALID:
            return make(InputKind.UNSUPPORTED)
        if isinstance(place, Location):
            return make(InputKind.LOCATION, location=place)
        if raw:
            command = parse_command(raw)
            if command is not None:
                return make(InputKind.COMMAND, command=command[0], text=command[1])
            text = clean(raw)
            payload = _chosen(await self._shown(sender), text)
            if payload is not None:
                return make(InputKind.OPTION, option=payload)
            return make(InputKind.TEXT, text=text)
        # Attachments, stickers, contact cards, payments...: nothing the bot can read.
        return make(InputKind.UNSUPPORTED)

    async def _sweep_attachments(self) -> None:
        """Delete every attachment signal-cli holds (``GET /v1/attachments``): what arrived
        while no bot was receiving was never handled, so nothing deleted it. Best effort."""
        assert self._http is not None
        try:
            async with self._http.get(self._url("/v1/attachments")) as response:
                listed = await response.json() if response.status == 200 else []
        except (aiohttp.ClientError, TimeoutError, ValueError) as exc:
            log.info("signal attachments not listed: %s", type(exc).__name__)
            return
        for ident in listed if isinstance(listed, list) else []:
            if isinstance(ident, str) and _ATTACHMENT_ID.fullmatch(ident):
                await self._delete_attachment(ident)

    async def _delete_attachment(self, ident: str) -> None:
        assert self._http is not None
        try:
            async with self._http.delete(self._url(f"/v1/attachments/{ident}")):
                pass
        except (aiohttp.ClientError, TimeoutError) as exc:
            log.info("signal attachment not deleted: %s", type(exc).__name__)

    async def _discard_attachments(self, message: DataMessage) -> None:
        """Delete what signal-cli downloaded for ``message`` once it is handled.

        signal-cli stores every attachment people send (photos of themselves, of a place, of
        a prescription...) in its volume until someone deletes it; the bot reads one only
        when a coordinator adds a photo to an alert, during the handling that ends here. A
        failure is left to signal-cli (nothing to retry against): logged by type only."""
        if self._http is None:
            return
        for attachment in message.attachments or []:
            ident = str(attachment.local_filename or "")
            if ident and _ATTACHMENT_ID.fullmatch(ident):
                await self._delete_attachment(ident)

    def _photo_source(self, message: DataMessage) -> PhotoSource | None:
        """How to fetch the first image attached to ``message`` from signal-cli-rest-api
        (``GET /v1/attachments/{id}``; :meth:`_discard_attachments` deletes it there after the
        message is handled); None when there is none."""
        images = [
            a
            for a in message.attachments or []
            if (a.content_type or "").startswith("image/") and a.local_filename
        ]
        if not images:
            return None
        attachment = images[0]
        wanted = str(attachment.local_filename)
        declared = attachment.size or 0

        async def fetch() -> bytes:
            http = self._http
            if http is None:
                raise PhotoUnavailable("not running")
            if declared > MAX_PHOTO_BYTES or not _ATTACHMENT_ID.fullmatch(wanted):
                raise PhotoUnavailable("too large" if declared else "bad id")
            url = self._url(f"/v1/attachments/{wanted}")
            try:
                async with http.get(url) as response:
                    if response.status != 200:
                        raise PhotoUnavailable(f"HTTP {response.status}")
                    data = await response.content.read(MAX_PHOTO_BYTES + 1)
            except (aiohttp.ClientError, TimeoutError) as exc:
                log.info("signal photo not fetched: %s", type(exc).__name__)
                raise PhotoUnavailable(type(exc).__name__) from None
            if len(data) > MAX_PHOTO_BYTES:
                raise PhotoUnavailable("too large")
            return data

        return fetch

    async def _shown(self, address: str) -> tuple[Option, ...]:
        """The options last shown to ``address``, by any instance; none if unreadable."""
        engine = self.engine
        try:
            async with engine.sessions() as session:
                return await shown_menus.load(
                    session,
                    holder=shown_menus.holder(engine.deps.keys.pseudonym, address),
                    box=engine.box,
                    now=engine.clock(),
                )
        except Exception as exc:
            # Read as typed text then: the handler asks again.
            log.warning("signal list not read (%s)", type(exc).__name__)
            return ()

    async def _remember_menu(self, address: str, reply: Reply) -> None:
        """Store the options ``reply`` shows as the list its digits answer; a plain reply
        retires the list, unless it follows a list in the same turn (a note under it)."""
        shown = self._turn_options.get(address)
        if reply.options:
            await self._store_menu(address, reply.options)
            if address in self._turn_options:
                self._turn_options[address] = True
            return
        if not shown:
            # A plain reply (a question expecting a typed number, say) retires the old list.
            await self._store_menu(address, ())
        if address in self._turn_options and shown is None:
            self._turn_options[address] = False

    async def _store_menu(self, address: str, options: Sequence[Option]) -> None:
        engine = self.engine
        holder = shown_menus.holder(engine.deps.keys.pseudonym, address)
        try:
            async with engine.sessions.begin() as session:
                if options:
                    await shown_menus.save(
                        session, holder=holder, box=engine.box, options=options, now=engine.clock()
                    )
                else:
                    await shown_menus.clear(session, holder=holder)
        except Exception as exc:
            # The message still goes: a digit answering it is then read as text, and the
            # handler asks again.
            log.warning("signal list not stored (%s)", type(exc).__name__)

    # -- sending -------------------------------------------------------------------------

    async def send(self, address: str, reply: Reply) -> SendStatus:
        """Deliver ``reply`` to ``address`` (a UUID or an E.164 number), split and paced.

        Always a new message, also for a reply meant to replace the one whose choice was made
        (:attr:`Reply.edit`): options here are numbered lines, answered by typing, so there is
        no message of buttons to update, and the new list is the one the digits refer to."""
        return (await self.send_result(address, reply)).status

    async def send_result(self, address: str, reply: Reply) -> SendResult:
        """:meth:`send`, saying also whether a failed send may have reached Signal anyway
        (the alert outbox counts those ``unknown`` rather than resending them silently)."""
        if self._http is None:  # not started, or stopped (open while stop() drains)
            return SendResult(SendStatus.RETRY)
        if not _is_recipient(address):
            log.warning("signal reply address is neither a number nor a UUID")
            return SendResult(SendStatus.FAILED)
        t = self.engine.deps.words.for_locale(reply.locale)
        if reply.typed:
            number_hint = t(TYPED_NUMBER_HINT, typed=reply.typed)
        elif reply.options and all(o.key for o in reply.options):
            number_hint = ""  # a free-text step's way out ("0. Don't send"): the question says
        elif any(key.isalpha() for key in option_keys(reply.options)):
            number_hint = t(LETTER_HINT)
        else:
            number_hint = t(self.number_hint)
        parts = render(reply, number_hint=number_hint, location_hint=t(self.location_hint))
        if not parts:
            log.warning("empty signal reply not sent")
            return SendResult(SendStatus.FAILED)
        # Before sending: the answer to an out-of-turn message can arrive before send returns.
        await self._remember_menu(address, reply)
        # A photo travels with the first part, in the same message: all or nothing.
        photo = _data_uri(reply.photo) if reply.photo is not None else None
        for index, part in enumerate(parts):
            delay = self._pacer.delay(address)
            if delay > 0:
                await asyncio.sleep(delay)
            result = await self._send_part(address, part, photo if index == 0 else None)
            if result.status is not SendStatus.SENT:
                # Earlier parts are already on the phone: sending again repeats them.
                return replace(result, maybe_delivered=result.maybe_delivered or index > 0)
        return SendResult(SendStatus.SENT)

    async def _send_part(self, address: str, text: str, photo: str | None = None) -> SendResult:
        http = self._http
        if http is None:
            return SendResult(SendStatus.RETRY)
        # signalbot builds the body; "normal" text mode so that *, _ and ~ stay literal.
        message = SendMessage(
            text=text,
            text_mode=TextMode.NORMAL,
            base64_attachments=[photo] if photo is not None else None,
        )
        body = (await message.to_generated(self.number, [address])).model_dump_json(
            exclude_none=True, by_alias=True
        )
        try:
            async with http.post(
                self._url("/v2/send"),
                # A stream: a photo makes the body megabytes, and aiohttp warns (a
                # ResourceWarning) about a body over 1 MB given whole.
                data=io.BytesIO(body.encode()),
                headers={"Content-Type": "application/json"},
            ) as response:
                status = response.status
                answer = await response.text()
        except (aiohttp.ClientConnectorError, aiohttp.ConnectionTimeoutError) as exc:
            # Never connected: nothing reached signal-cli.
            log.info("signal send to retry: %s", type(exc).__name__)
            return SendResult(SendStatus.RETRY)
        except (aiohttp.ClientError, TimeoutError) as exc:
            # The request may have been taken (and sent) before the answer was lost.
            log.info("signal send to retry, maybe delivered: %s", type(exc).__name__)
            return SendResult(SendStatus.RETRY, maybe_delivered=True)
        parsed = _json(answer)
        outcome = self._outcome(status, parsed, address)
        # A 429, or Signal's rate-limit reasons inside a 201: counted as rate limited
        # (hrbot_rate_limited_total) like Telegram's 429s, though without a retry_after.
        limited = outcome is SendStatus.RETRY and (
            status == 429 or bool(_CAPTCHA_REASONS.intersection(_reasons(parsed)))
        )
        return SendResult(outcome, rate_limited=limited)

    def _outcome(self, status: int, answer: object, address: str) -> SendStatus:
        if status in (200, 201):
            result = self._results(answer)
            if result is SendStatus.SENT and self.challenge is not None:
                # Signal takes messages again: the captcha was solved (perhaps out of band).
                self.challenge = None
                log.info("Signal accepts messages again; the rate-limit challenge is lifted")
            return result
        if status == 429:
            tokens = answer.get("challenge_tokens") if isinstance(answer, dict) else None
            solvable = (
                [t for t in tokens if isinstance(t, str) and t] if isinstance(tokens, list) else []
            )
            if not solvable:
                # signal-cli's RATE_LIMIT_FAILURE without a token arrives as
                # challenge_tokens [""]: nothing to solve, so not a challenge; retry later.
                log.info("signal send to retry: rate limited")
                return SendStatus.RETRY
            self._rate_limited(solvable)
            return SendStatus.RETRY
        if status >= 500:
            log.info("signal send to retry: HTTP %s", status)
            return SendStatus.RETRY
        error = answer.get("error") if isinstance(answer, dict) else None
        if status == 400 and isinstance(error, str) and _says_unregistered(error, address):
            return SendStatus.UNREACHABLE
        log.warning("signal refused a message: HTTP %s", status)
        return SendStatus.FAILED

    def _results(self, answer: object) -> SendStatus:
        """Per-recipient failures inside a 201 (signal-cli sent, Signal refused)."""
        reasons = _reasons(answer)
        if not reasons:
            return SendStatus.SENT
        if "UNREGISTERED_FAILURE" in reasons:
            return SendStatus.UNREACHABLE
        if _CAPTCHA_REASONS.intersection(reasons):
            self._rate_limited([])
        if _RETRY_REASONS.union(_CAPTCHA_REASONS).issuperset(reasons):
            return SendStatus.RETRY
        shown = reasons[0] if _REASON.fullmatch(reasons[0]) else "other"
        log.warning("signal could not deliver a message: %s", shown)
        return SendStatus.FAILED

    def _rate_limited(self, tokens: Sequence[object]) -> None:
        fresh = tuple(t for t in tokens if isinstance(t, str) and 0 < len(t) <= 200)
        before = self.challenge
        self._refused_at = self._monotonic()
        if before is None:
            self.challenge = RateLimitChallenge(tokens=fresh[-5:], since=self.engine.clock())
            log.warning(
                "Signal is rate limiting this number and asks for a captcha (see README, "
                "'Signal captcha'); alerts and refused replies wait in the queue meanwhile"
            )
            if self.on_rate_limit is not None:
                task = asyncio.create_task(self._run_hook(self.on_rate_limit, self.challenge))
                self._hooks.add(task)
                task.add_done_callback(self._hooks.discard)
            return
        kept = tuple(dict.fromkeys(before.tokens + fresh))[-5:]
        self.challenge = RateLimitChallenge(tokens=kept, since=before.since, hits=before.hits + 1)

    async def _run_hook(self, hook: RateLimitHook, challenge: RateLimitChallenge) -> None:
        # A task, not awaited inline: the hook may itself send (to coordinators) and must
        # not run inside the send that hit the limit.
        try:
            await hook(challenge)
        except Exception as exc:
            log.error("on_rate_limit hook failed (%s)", type(exc).__name__)

    def clear_challenge(self) -> None:
        """Forget the pending challenge (after it was solved some other way)."""
        self.challenge = None

    async def submit_captcha(self, captcha: str) -> bool:
        """Lift the rate limit with a solved captcha (``signalcaptcha://…``); True if
        signal-cli-rest-api accepted it for the newest challenge token."""
        http, challenge = self._http, self.challenge
        if http is None or challenge is None or not challenge.tokens:
            return False
        body = {"challenge_token": challenge.tokens[-1], "captcha": captcha.strip()}
        path = f"/v1/accounts/{self.number}/rate-limit-challenge"
        try:
            async with http.post(self._url(path), json=body) as response:
                status = response.status
        except (aiohttp.ClientError, TimeoutError) as exc:
            log.warning("captcha not submitted: %s", type(exc).__name__)
            return False
        if status not in (200, 201, 204):
            log.warning("Signal refused the captcha: HTTP %s", status)
            return False
        self.challenge = None
        log.info("Signal rate-limit challenge solved")
        return True

    def _url(self, path: str) -> str:
        scheme = "https" if self.connection_mode == "https_only" else "http"
        return f"{scheme}://{self.service}{path}"


class _Handler(DataMessageHandler):
    """The one signalbot handler: hands every private data message to the channel."""

    def __init__(self, channel: SignalChannel) -> None:
        self._channel = channel

    async def handle_data_message(self, context: DataMessageContext) -> None:
        await self._channel._on_message(context.message)


# -- signalbot plumbing (private attributes used only here) ---------------------------------


async def _initialise(bot: SignalBot, consumers: int) -> None:
    # SignalBot.start() would run this with signalbot's producer and retry failures forever
    # (printing tracebacks); here the channel owns receiving and start() reports failures.
    await bot._async_init()
    await bot._pipeline.start(producers=0, consumers=consumers)


async def _drain(bot: SignalBot, within: float) -> bool:
    """Wait until the messages already queued have been handled (replies sent); False
    when some were still in hand after ``within`` seconds."""
    try:
        async with asyncio.timeout(within):
            await bot._pipeline._q.join()
    except TimeoutError:
        return False
    return True


async def _close_bot(bot: SignalBot) -> None:
    """The one way this module shuts signalbot down: ``SignalBot.stop()`` would also call
    ``loop.stop()`` and break the caller's event loop (asyncio.run, pytest)."""
    init = bot.init_task
    if init is not None and not init.done():
        init.cancel()
        await asyncio.gather(init, return_exceptions=True)
    await bot._pipeline.stop()
    await bot.close()
    # The in-memory storage is an sqlite3 connection nobody else closes.
    with contextlib.suppress(Exception):
        closer = getattr(getattr(bot.storage, "_sqlite", None), "close", None)
        if callable(closer):
            closer()


class _SignalbotLogRecords(logging.Filter):
    """signalbot logs raw messages, sent texts and recipients' numbers in its arguments.
    Keep each record's fixed template and the exception class; drop everything else."""

    def filter(self, record: logging.LogRecord) -> bool:
        template = record.msg if isinstance(record.msg, str) else type(record.msg).__name__
        if record.exc_info and record.exc_info[1] is not None:
            template = f"{template} [{type(record.exc_info[1]).__name__}]"
        record.msg = scrub(template)
        record.args = ()
        record.exc_info = None
        record.exc_text = None
        record.stack_info = None
        return True


def _tame_signalbot_log(logger: logging.Logger, keep: set[logging.Handler]) -> None:
    # Every SignalBot() adds a stderr handler to the "signalbot" logger, which would print
    # around the application's redacting handlers: remove what it added, filter the rest.
    for handler in list(logger.handlers):
        if handler not in keep:
            logger.removeHandler(handler)
    if not any(isinstance(f, _SignalbotLogRecords) for f in logger.filters):
        logger.addFilter(_SignalbotLogRecords())


# -- rendering -------------------------------------------------------------------------------


def render(
    reply: Reply,
    *,
    number_hint: str = NUMBER_HINT,
    location_hint: str = LOCATION_HINT,
    limit: int = MAX_PART_BYTES,
) -> list[str]:
    """Plain-text messages for ``reply``: its text (split to ``limit`` UTF-8 bytes), then
    the options as a numbered list (see :func:`option_keys`) with ``number_hint``, then the
    location hint in the same paragraph: one hint on how to answer (a place chosen from the
    list comes first; a precise one second)."""
    parts = split_message(reply.text, limit)
    hints = [number_hint] if reply.options and number_hint else []
    if reply.ask_location:
        hints.append(location_hint)
    if reply.options or hints:
        keys = option_keys(reply.options)
        lines = [
            f"{k}. {' '.join(o.label.split())}" for k, o in zip(keys, reply.options, strict=True)
        ]
        tail = "\n".join([*lines, *hints])
        if parts and _utf8_len(f"{parts[-1]}\n\n{tail}") <= limit:
            parts[-1] = f"{parts[-1]}\n\n{tail}"
        else:
            parts += split_message(tail, limit)
    return parts


def option_keys(options: Sequence[Option]) -> list[str]:
    """What to type to choose each option: its place in the list, 1, 2, 3...

    Except in a list where some labels are numbers themselves (pack counts): there each of
    those answers to its own number and the other choices to 0 (or, several, to a, b, c...),
    so that typing 6 for six packs can never mean "Back".

    An option with its own ``key`` answers to that alone, and is left out of the count: a
    step that takes free text offers its way out on 0, so a message "1" is never a choice.
    """
    listed = [o for o in options if not o.key]
    if not any(_is_number(o.label) for o in listed):
        numbers = iter(str(n) for n in range(1, len(listed) + 1))
        return [o.key or next(numbers) for o in options]
    others = sum(1 for o in listed if not _is_number(o.label))
    letters = iter("abcdefghijklmnopqrstuvwxyz" if others > 1 else "0")
    return [o.key or (str(int(o.label)) if _is_number(o.label) else next(letters)) for o in options]


def _is_number(label: str) -> bool:
    return label.strip().isascii() and label.strip().isdigit() and len(label.strip()) <= 2


def split_message(text: str, limit: int = MAX_PART_BYTES) -> list[str]:
    """Cut ``text`` into parts of at most ``limit`` UTF-8 bytes, at a line break where
    possible, else at a space, else between characters. Blank parts are dropped."""
    if limit < 4:
        raise ValueError("a part must hold at least one character (4 bytes)")
    parts: list[str] = []
    rest = text.strip()
    while rest:
        cut = _fitting_prefix(rest, limit)
        if cut == len(rest):
            parts.append(rest)
            break
        head = rest[:cut]
        at = head.rfind("\n")
        if at <= 0:
            at = head.rfind(" ")
        if at <= 0:
            at = cut
        part = rest[:at].strip()
        if part:
            parts.append(part)
        rest = rest[at:].strip()
    return parts


def _fitting_prefix(text: str, limit: int) -> int:
    used = 0
    for index, char in enumerate(text):
        used += _utf8_len(char)
        if used > limit:
            return index
    return len(text)


def _utf8_len(text: str) -> int:
    return len(text.encode("utf-8", "surrogatepass"))


# -- shared locations ------------------------------------------------------------------------


class _Place(Enum):
    INVALID = "invalid"  # a maps link whose coordinates are out of range


_SCAN_CHARS: Final = 4000
_LINK = re.compile(r"(?:https?://|geo:)[^\s<>\"']{1,2000}", re.IGNORECASE)
_NUM = r"[-+]?\d{1,3}(?:\.\d{1,15})?"
_PAIR = re.compile(rf"\s*({_NUM})\s*,\s*({_NUM})\s*")
_AT_PAIR = re.compile(rf"@({_NUM}),({_NUM})")
_OSM_FRAGMENT = re.compile(rf"map=\d{{1,2}}/({_NUM})/({_NUM})")
_ONE_NUM = re.compile(rf"\s*({_NUM})\s*")
_OSM_HOSTS: Final = frozenset({"openstreetmap.org", "www.openstreetmap.org", "osm.org"})
_GOOGLE_KEYS: Final = ("q", "query", "ll", "center", "daddr", "destination", "sll")
_APPLE_KEYS: Final = ("ll", "sll", "q", "daddr", "coordinate")


def maps_location(text: str) -> Location | _Place | None:
    """The place in the first maps link with coordinates in ``text``: ``geo:lat,lon``,
    Google Maps (``?q=lat,lon``, ``/@lat,lon``), OpenStreetMap (``?mlat=&mlon=``,
    ``#map=z/lat/lon``) or Apple Maps (``?ll=lat,lon``). None when there is none;
    ``_Place.INVALID`` when the coordinates are impossible."""
    for match in _LINK.finditer(text[:_SCAN_CHARS]):
        pair = _link_coordinates(match.group(0).rstrip(".,;:!?)]"))
        if pair is None:
            continue
        try:
            lat, lon = validate_location(float(pair[0]), float(pair[1]))
        except ValueError:
            return _Place.INVALID
        return Location(lat, lon)
    return None


def _link_coordinates(link: str) -> tuple[str, str] | None:
    if link[:4].lower() == "geo:":
        return _geo_coordinates(link[4:])
    try:
        url = urlsplit(link)
    except ValueError:
        return None
    host = (url.hostname or "").lower()
    query = parse_qs(url.query)

    def first(keys: Sequence[str]) -> tuple[str, str] | None:
        for key in keys:
            for value in query.get(key, []):
                found = _PAIR.fullmatch(value.split("(")[0])
                if found is not None:
                    return found.group(1), found.group(2)
        return None

    if _is_google_maps(host, url.path):
        at = _AT_PAIR.search(unquote(url.path))
        return first(_GOOGLE_KEYS) or ((at.group(1), at.group(2)) if at else None)
    if host in _OSM_HOSTS:
        lat = _ONE_NUM.fullmatch((query.get("mlat") or [""])[0])
        lon = _ONE_NUM.fullmatch((query.get("mlon") or [""])[0])
        if lat is not None and lon is not None:
            return lat.group(1), lon.group(1)
        fragment = _OSM_FRAGMENT.search(url.fragment)
        return (fragment.group(1), fragment.group(2)) if fragment else None
    if host == "maps.apple.com":
        return first(_APPLE_KEYS)
    return None


def _geo_coordinates(rest: str) -> tuple[str, str] | None:
    # geo:lat,lon[;u=..][?q=lat,lon(label)] (RFC 5870; Android adds the q form, 0,0 first)
    path, _, query = unquote(rest).partition("?")
    point = _PAIR.fullmatch(path.split(";")[0])
    label = parse_qs(query).get("q", [""])[0]
    named = _PAIR.fullmatch(label.split("(")[0]) if label else None
    if point is not None and (named is None or float(point.group(1)) or float(point.group(2))):
        return point.group(1), point.group(2)
    return (named.group(1), named.group(2)) if named else None


def _is_google_maps(host: str, path: str) -> bool:
    if host.startswith("maps.google."):
        return True
    google = host in ("google.com", "www.google.com") or host.startswith("www.google.")
    return google and path.startswith("/maps")


# -- small helpers ---------------------------------------------------------------------------


def _data_uri(jpeg: bytes) -> str:
    """A JPEG as signal-cli-rest-api takes an attachment in ``base64_attachments``."""
    return "data:image/jpeg;base64," + base64.b64encode(jpeg).decode("ascii")


def _is_recipient(value: str) -> bool:
    return bool(_E164.fullmatch(value) or _UUID.fullmatch(value))


def _says_unregistered(error: str, address: str) -> bool:
    # signal-cli: "The user <recipient> is not registered." Requiring the recipient in the
    # text keeps an unregistered *account* (our own number) from retiring every contact.
    lowered = error.lower()
    return address.lower() in lowered and ("not registered" in lowered or "unregistered" in lowered)


def _reasons(answer: object) -> list[str]:
    """The per-recipient failure reasons inside a send's 201 answer."""
    reasons: list[str] = []
    for result in answer if isinstance(answer, list) else []:
        errors = result.get("errors") if isinstance(result, dict) else None
        failed = errors.get("recipients") if isinstance(errors, dict) else None
        for item in failed if isinstance(failed, list) else []:
            reason = item.get("reason") if isinstance(item, dict) else None
            reasons.append(reason if isinstance(reason, str) else "")
    return reasons


def _json(text: str) -> object:
    try:
        return json.loads(text) if text else None
    except ValueError:
        return None


def _chosen(menu: Sequence[Option], text: str) -> str | None:
    """The payload a typed digit or label picks from ``menu``, if any (none: plain text, and
    the handler asks again)."""
    if not menu:
        return None
    digits = _CHOICE.fullmatch(text)
    wanted = str(int(digits.group(1))) if digits is not None else text.casefold()
    for key, option in zip(option_keys(menu), menu, strict=True):
        if key == wanted:
            return option.payload
    if digits is not None:
        return None  # a number that picks nothing
    for option in menu:
        if clean(option.label).casefold() == wanted:
            return option.payload
    return None


def _remember(store: OrderedDict[str, _T], key: str, value: _T) -> None:
    store.pop(key, None)
    store[key] = value
    while len(store) > _REMEMBERED:
        store.popitem(last=False)


class _Gcra:
    """Generic cell rate algorithm: ``burst`` at once, then one per ``interval``."""

    def __init__(self, interval: float, burst: int) -> None:
        self.interval = interval
        self.tolerance = interval * (burst - 1)
        self.tat = float("-inf")  # theoretical arrival time of the next conforming send

    def reserve(self, wanted: float) -> float:
        """Book the earliest slot at or after ``wanted``; return its time."""
        slot = max(wanted, self.tat - self.tolerance)
        self.tat = max(self.tat, slot) + self.interval
        return slot


class _Pacer:
    """Per-recipient and overall send pacing. Reservations happen without awaiting, so
    concurrent senders queue up in order instead of racing."""

    def __init__(self, pacing: SignalPacing, clock: Callable[[], float]) -> None:
        self.pacing = pacing
        self.clock = clock
        self._overall = _Gcra(pacing.global_interval, pacing.global_burst)
        self._recipients: OrderedDict[str, _Gcra] = OrderedDict()

    def delay(self, address: str) -> float:
        """Seconds to wait before sending the next message to ``address``."""
        now = self.clock()
        bucket = self._recipients.get(address)
        if bucket is None:
            bucket = _Gcra(self.pacing.recipient_interval, self.pacing.recipient_burst)
        _remember(self._recipients, address, bucket)
        slot = self._overall.reserve(bucket.reserve(now))
        return max(0.0, slot - now)
