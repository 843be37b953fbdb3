"""The Telegram channel: python-telegram-bot updates in, neutral ``Incoming`` out; ``Reply`` in,
Bot API calls out.

This is the only module that imports ``telegram`` (with its helpers ``telegram_request`` and
``telegram_updates``). It translates and renders, nothing else: every decision about what to
answer belongs to the engine and its handlers. Updates of different chats are handled
concurrently, each chat's in arrival order (:mod:`bot.channels.telegram_updates`).

Privacy: nothing here logs or keeps a user id, username, name, text or coordinates. Logs name
an error class at most. Two small in-memory maps are keyed by chat id (which chats were told
"private chat only", and which chats have a reply keyboard on screen); both are bounded, lost on
restart by design, and never written anywhere.
"""

from __future__ import annotations

import asyncio
import html
import logging
import math
import os
import re
import secrets
import time
from collections import OrderedDict
from collections.abc import Callable, Coroutine, Sequence
from dataclasses import dataclass, replace
from datetime import timedelta
from types import TracebackType
from typing import Any, Final, Self, TypeVar, cast
from urllib.parse import urlsplit

import aiohttp
import httpx
from telegram import BotCommand, CallbackQuery, Message, Update
from telegram import Location as TgLocation
from telegram.constants import ChatType, ParseMode
from telegram.error import (
    BadRequest,
    Conflict,
    Forbidden,
    InvalidToken,
    NetworkError,
    RetryAfter,
    TelegramError,
    TimedOut,
)
from telegram.ext import (
    AIORateLimiter,
    Application,
    ApplicationBuilder,
    ExtBot,
    TypeHandler,
    Updater,
)
from telegram.request import BaseRequest

from bot.channels.errors import ChannelError, ChannelUnreachable, failure_reason
from bot.channels.telegram_request import AiohttpRequest
from bot.channels.telegram_updates import DEFAULT_CONCURRENCY, ChatOrderedProcessor, tracked
from bot.core.engine import Engine
from bot.core.messages import (
    MAX_PHOTO_BYTES,
    MAX_TEXT_CHARS,
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
from bot.core.words import DEFAULT_LOCALE, N_
from bot.domain import Channel
from bot.privacy import pseudonym, validate_location
from bot.settings import Settings, SettingsError
from bot.web.webhook import NotReady, Webhook

log = logging.getLogger(__name__)

DEFAULT_API_URL: Final = "https://api.telegram.org/bot"
# Telegram's limit for a photo's caption, in UTF-16 code units after entity parsing.
MAX_CAPTION_CHARS: Final = 1024
# Telegram's broadcast limit for a bot, messages per second (0 turns the limiter's pace off).
DEFAULT_MAX_RATE: Final = 30.0
# Worded in the recipient's language when sent (N_ marks them for `make messages`).
LOCATION_LABEL: Final = N_("📍 Share location")
# Under a question with the location button: what sharing reveals, and to whom. True here: a
# shared location is a message in Telegram's cloud, which neither /forget nor retention reach.
LOCATION_NOTE: Final = N_(
    "📍 Sharing your location sends your exact position to Telegram; "
    "the bot keeps only a rough area."
)
# What may be typed besides tapping a button (Reply.typed), under the question.
TYPED_HINT: Final = N_("Or type {typed}.")
PRIVATE_ONLY: Final = N_("I only work in a private chat. Please message me directly.")
# Ask Telegram only for what the bot reads: less data received is less data to protect.
ALLOWED_UPDATES: Final = (Update.MESSAGE, Update.CALLBACK_QUERY)
MAX_BUTTONS_PER_ROW: Final = 8
_REMEMBERED_CHATS: Final = 10_000
# Poll failures closer together than this are one outage (logged once): python-telegram-bot
# retries a failed getUpdates after 1 s, growing to at most 30 s.
POLL_FAILURE_WINDOW: Final = 45.0
_DEEP_LINK_CODE = re.compile(r"[A-Za-z0-9_-]{1,64}")
# What a coroutine waiting in asyncio.sleep awaits (see _end_poll_back_off).
_SLEEP_CODE: Final = getattr(asyncio.sleep, "__code__", None)
# rate_limit_args of a send the limiter must not retry (see _RateLimiter).
_NO_RETRY: Final = "no-retry"

# Raised (as the cause of PTB's TimedOut/NetworkError) before a request was written: by PTB's
# httpx request class and by bot.channels.telegram_request.AiohttpRequest.
_CONNECT_ERRORS: Final = (
    httpx.ConnectError,
    httpx.ConnectTimeout,
    httpx.PoolTimeout,
    aiohttp.ClientConnectorError,
    aiohttp.ConnectionTimeoutError,
)

_T = TypeVar("_T")
JSONDict = dict[str, Any]
# A Bot API ``reply_markup`` object, as JSON: built as plain data, not PTB objects, since
# only its JSON goes out.
Markup = JSONDict
_NO_PREVIEW: Final = {"is_disabled": True}
# Application's six type parameters do not matter here; only this module touches it.
TelegramApp = Application[Any, Any, Any, Any, Any, Any]


@dataclass(frozen=True)
class WebhookConfig:
    """Where Telegram should POST updates (the web app serves the URL's path: see
    :attr:`TelegramChannel.receiver`)."""

    url: str
    secret: str | None = None  # a random one is generated when None

    @property
    def path(self) -> str:
        """The URL path the local server answers (a reverse proxy may sit in front)."""
        return urlsplit(self.url).path or "/"


class TelegramChannel:
    """Runs python-telegram-bot for one bot and connects it to the engine.

    Use ``async with TelegramChannel(engine, token=...):`` or :meth:`start`/:meth:`stop`.
    Polling by default; webhook mode when ``webhook`` is given: the web app
    (:mod:`bot.web`) then serves :attr:`receiver`, which hands updates to this channel. Once
    started, it is the engine's :class:`~bot.core.engine.Sender` for :attr:`Channel.TELEGRAM`.
    """

    def __init__(
        self,
        engine: Engine,
        *,
        token: str,
        base_url: str = DEFAULT_API_URL,
        webhook: WebhookConfig | None = None,
        poll_timeout: float = 10.0,
        location_label: str = LOCATION_LABEL,
        location_note: str = LOCATION_NOTE,
        max_retries: int = 3,
        max_rate: float = DEFAULT_MAX_RATE,
        concurrency: int = DEFAULT_CONCURRENCY,
        request: Callable[[], BaseRequest] | None = AiohttpRequest,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.engine = engine
        self.name = Channel.TELEGRAM.value
        self.webhook = webhook
        self.poll_timeout = poll_timeout
        self.location_label = location_label
        self.location_note = location_note
        self.username: str | None = None
        self._token = token
        self.base_url = base_url
        self._max_retries = max_retries
        if not (max_rate >= 0 and math.isfinite(max_rate)):
            raise ValueError("max_rate is messages per second: 0 (no limit) or more")
        # The whole bot's pace (PTB's AIORateLimiter): replies, notices and alerts together.
        self.max_rate = max_rate
        if concurrency < 1:
            raise ValueError("concurrency is how many chats are handled at once: at least 1")
        self.concurrency = concurrency
        self._processor: ChatOrderedProcessor | None = None
        # Makes PTB's two HTTP clients (getUpdates, everything else); None: PTB's own (httpx).
        # The default, AiohttpRequest, cost 42-61 % less CPU per update (bench/updates.py runs).
        self.request_class = request
        self._secret = (webhook.secret or secrets.token_urlsafe(32)) if webhook else None
        self._app: TelegramApp | None = None
        # What the web app must serve in webhook mode (None: polling).
        self.receiver: Webhook | None = None
        if webhook is not None and self._secret is not None:
            self.receiver = Webhook(
                path=webhook.path, secret=self._secret, accept=self._accept_update
            )
        self._can_send = False  # from a successful start until the HTTP clients close
        self._monotonic = monotonic
        self._poll_failed_at: float | None = None  # when getUpdates last failed
        self._told_groups: OrderedDict[int, None] = OrderedDict()
        self._keyboards: OrderedDict[int, bool] = OrderedDict()  # a reply keyboard is up
        _withhold_update_payloads()
        _quiet_bootstrap_failures()
        # Opt in to PTB's coming timedelta durations now: otherwise every 429 (RetryAfter)
        # raises a PTBDeprecationWarning inside PTB itself. Nothing here reads those fields.
        os.environ.setdefault("PTB_TIMEDELTA", "true")

    @classmethod
    def from_settings(cls, engine: Engine, settings: Settings) -> Self:
        """Build from ``HRBOT_TELEGRAM_*`` and ``HRBOT_WEBHOOK_*`` settings."""
        if settings.telegram_token is None:
            raise SettingsError("invalid setting HRBOT_TELEGRAM_TOKEN: not set")
        token = settings.telegram_token.get_secret_value()
        webhook = None
        if settings.webhook_url is not None:
            secret = settings.webhook_secret
            webhook = WebhookConfig(
                url=str(settings.webhook_url),
                secret=(
                    secret.get_secret_value()
                    if secret is not None
                    else webhook_secret(engine.deps.keys.pseudonym, token)
                ),
            )
        return cls(
            engine,
            token=token,
            base_url=str(settings.telegram_api_url),
            webhook=webhook,
            max_rate=settings.share(settings.telegram_max_rate),
            request=AiohttpRequest if settings.telegram_http_client == "aiohttp" else None,
        )

    # -- life cycle ----------------------------------------------------------------------

    @property
    def running(self) -> bool:
        """Whether updates are being received and replies can be sent."""
        return self._app is not None and self._app.running

    def deep_link(self, code: str) -> str:
        """``https://t.me/<bot>?start=<code>``: opens the bot and sends ``/start <code>``."""
        if self.username is None:
            raise RuntimeError("the bot's username is known only after start()")
        if not _DEEP_LINK_CODE.fullmatch(code):
            raise ValueError("a start code is 1-64 characters of A-Z, a-z, 0-9, _ and -")
        return f"https://t.me/{self.username}?start={code}"

    async def wait_idle(self) -> None:
        """Return once every update received so far has been handled completely (tests, and
        anyone who needs "all earlier updates are done")."""
        app, processor = self._app, self._processor
        if app is None or processor is None:
            return
        await app.update_queue.join()  # each one reached the processor...
        await processor.wait_idle()  # ...and the processor has finished them

    async def start(self) -> None:
        """Check the token (getMe), publish the command menu, start polling or the webhook."""
        if self._app is not None:
            raise RuntimeError("the Telegram channel is already started")
        processor = self._processor = ChatOrderedProcessor(self.concurrency)
        builder = (
            ApplicationBuilder()
            .token(self._token)
            .base_url(self.base_url)
            # Files (a photo a coordinator attaches) come from the same server, under /file.
            .base_file_url(file_url(self.base_url))
            .rate_limiter(
                _RateLimiter(
                    overall_max_rate=self.max_rate,
                    overall_time_period=1,
                    max_retries=self._max_retries,
                )
            )
            # Different chats at once, each chat's updates one at a time and in order.
            .concurrent_updates(processor)
            # Timers are the project's own scheduler; PTB's would be a second clock.
            .job_queue(None)
        )
        if self.request_class is not None:
            make = self.request_class
            builder = builder.request(make()).get_updates_request(make())
        app = builder.build()
        app.add_handler(TypeHandler(Update, self._on_update))
        app.add_error_handler(self._on_error)
        self._app = app
        self._poll_failed_at = None
        try:
            await app.initialize()  # calls getMe: a wrong token fails here
            self.username = app.bot.username
            await self._publish_menu(app)
            await app.start()
            if self.webhook is not None:
                await self._start_webhook(app, self.webhook)
            else:
                assert app.updater is not None
                await self._warn_of_webhook(app)
                await app.updater.start_polling(
                    timeout=int(self.poll_timeout),
                    allowed_updates=ALLOWED_UPDATES,
                    error_callback=self._on_poll_error,
                )
        except BaseException as exc:
            await self.stop()
            failure = self._start_failure(exc)
            if failure is None:
                raise
            # One line that names the server and the reason; PTB's messages may quote the
            # token, so none of them is passed on as is.
            raise failure from None
        self._can_send = True
        self.engine.add_sender(Channel.TELEGRAM, self)

    @property
    def where(self) -> str:
        """The Bot API server's host (and port), for messages: never the token or a path."""
        parts = urlsplit(self.base_url)
        host = parts.hostname or "?"
        return f"{host}:{parts.port}" if parts.port else host

    async def probe(self) -> bool:
        """Whether the Bot API answers now (``getMe``), for the health status."""
        app = self._app
        if app is None or not self.running:
            return False
        try:
            await app.bot.get_me()
        except TelegramError:
            return False
        return True

    def _start_failure(self, exc: BaseException) -> Exception | None:
        """What a failed start means, as one of this project's errors (None: a bug or a
        cancellation, raised as it is)."""
        if isinstance(exc, InvalidToken):
            if _not_bot_api(exc):
                # A 404 that is not the Bot API's JSON: a proxy, a portal, a wrong URL.
                return SettingsError(
                    f"invalid setting HRBOT_TELEGRAM_API_URL: {self.where} does not answer "
                    "as the Bot API does (HTTP 404)"
                )
            return SettingsError(
                "invalid setting HRBOT_TELEGRAM_TOKEN: rejected by the Telegram server"
            )
        if isinstance(exc, RetryAfter):
            retry_after = _seconds(exc.retry_after)
            return ChannelUnreachable(
                "Telegram", self.where, "too many requests", retry_after=retry_after
            )
        if isinstance(exc, BadRequest):  # a NetworkError subclass: must come first
            return ChannelError(f"Telegram refused start-up: {self._reason(exc)}")
        if isinstance(exc, NetworkError):  # no connection, a timeout, a 5xx answer
            return ChannelUnreachable("Telegram", self.where, self._reason(exc))
        if isinstance(exc, TelegramError):
            return ChannelError(f"Telegram refused start-up: {self._reason(exc)}")
        return None

    def _reason(self, exc: BaseException) -> str:
        return failure_reason(exc, secrets=(self._token,))

    async def _start_webhook(self, app: TelegramApp, webhook: WebhookConfig) -> None:
        # The web app serves the receiver already (the bot starts it before any channel).
        await app.bot.set_webhook(
            url=webhook.url, secret_token=self._secret, allowed_updates=ALLOWED_UPDATES
        )

    async def _accept_update(self, data: Any) -> None:
        """Handle one update from the webhook (its secret checked) and return once it has been
        handled: committed, its replies sent or queued. Raises ValueError when it is not an
        update, NotReady when the bot is not running or stopped before handling it.

        Only then may the webhook answer 200: Telegram never sends again what got one, so an
        update acknowledged while still in a queue would die with a killed process. And since
        Telegram sends a chat's next update only once the request before it ended, answering
        after handling keeps each chat in order across instances too. The update takes PTB's
        own route (``process_update`` through the update processor, so each chat's order and
        the concurrency limit hold), in a task of the application: ``stop()`` waits for it,
        and a request cut off (the client gone, the web app stopping) leaves it running."""
        app, processor = self._app, self._processor
        if app is None or processor is None or not app.running:
            raise NotReady
        try:
            update = Update.de_json(data, app.bot)
        except Exception as exc:  # PTB raises whatever a malformed dict makes it raise
            raise ValueError("not an update") from exc
        app.bot.insert_callback_data(update)
        work, done = tracked(app.process_update(update))
        app.create_task(
            processor.process_update(update, work), update=update, name="telegram-webhook-update"
        )
        if not await asyncio.shield(done):
            raise NotReady  # cut short by a stop: not answered, so Telegram sends it again

    async def _warn_of_webhook(self, app: TelegramApp) -> None:
        """Polling starts by deleting the webhook: say so when one is registered, since an
        instance in webhook mode (another one behind the same bot) receives nothing after."""
        try:
            info = await app.bot.get_webhook_info()
        except TelegramError:
            return  # starting to poll reports an unreachable server
        if info.url:
            log.warning(
                "telegram: a webhook is registered for this bot and polling removes it; an "
                "instance in webhook mode receives nothing from now on (several instances: "
                "every one in webhook mode)"
            )

    def _on_poll_error(self, exc: TelegramError) -> None:
        """python-telegram-bot retries a failed ``getUpdates`` by itself (up to every 30 s);
        say so in one line per outage instead of its traceback per attempt."""
        now = self._monotonic()
        quiet = (
            self._poll_failed_at is not None and now - self._poll_failed_at <= POLL_FAILURE_WINDOW
        )
        self._poll_failed_at = now
        level = logging.DEBUG if quiet else logging.WARNING
        if isinstance(exc, Conflict):
            # Telegram ends one long poll when another starts: two processes take turns at
            # the updates, each losing some to the other's confirmations.
            log.log(
                level,
                "telegram polling: another process polls this bot too (409 Conflict); only one "
                "may poll (several instances: webhook mode)",
            )
            return
        log.log(level, "telegram polling failed: %s; retrying", self._reason(exc))

    async def stop(self) -> None:
        """Stop receiving, let the updates in hand finish, close connections (idempotent)."""
        app = self._app
        if app is None:
            return
        try:
            if app.updater is not None and app.updater.running:
                _end_poll_back_off(app.updater)
                await app.updater.stop()
            if app.running:
                await app.stop()  # updates in hand finish (each chat's queue too) and may reply
        finally:
            self._app, self._can_send = None, False
            await app.shutdown()
            # After a failed initialize() the app thinks there is nothing to shut down, but
            # the bot's HTTP clients are open (idempotent otherwise).
            await app.bot.shutdown()

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

    async def _publish_menu(self, app: TelegramApp) -> None:
        """The command menu in English for everyone, then in each language for its users."""
        words = self.engine.deps.words
        languages: dict[str | None, str] = {None: DEFAULT_LOCALE}
        for locale in words.locales:
            # Telegram menus are per two-letter language: "fa" for fa_AF.
            languages.setdefault(locale.split("_")[0].lower(), locale)
        languages.pop(DEFAULT_LOCALE, None)
        for language, locale in languages.items():
            t = words.for_locale(locale)
            commands = [BotCommand(c.name, t(c.description)) for c in self.engine.routes.menu]
            try:
                await app.bot.set_my_commands(commands, language_code=language)
            except TelegramError as exc:
                # A missing menu is cosmetic: the bot still answers every command.
                log.warning("could not publish the command menu: %s", type(exc).__name__)

    # -- incoming ------------------------------------------------------------------------

    async def _on_update(self, update: Update, _context: object) -> None:
        try:
            incoming = await self._translate(update)
            if incoming is not None:
                await self.engine.handle(incoming)
        except Exception:
            # A fixed message: the update and the exception text may hold identifiers.
            log.exception("telegram update could not be handled")

    async def _on_error(self, _update: object, context: Any) -> None:
        error = getattr(context, "error", None)
        log.error("telegram error outside an update handler: %s", type(error).__name__)

    async def _translate(self, update: Update) -> Incoming | None:
        query = update.callback_query
        if query is not None:
            # Stop the button's spinner whatever happens next.
            await self._answer(query)
        user, chat = update.effective_user, update.effective_chat
        if user is None or chat is None:
            return None
        if user.is_bot:
            return None  # never serve bots: two bots answering each other would loop
        if chat.type != ChatType.PRIVATE:
            if update.message is not None:
                await self._refuse_group(chat.id, user.language_code)
            return None
        if chat.id != user.id:
            # A private chat's id is its person's: anything else is a forged update (a
            # coordinator's "from" in an attacker's chat would send the answer there).
            log.warning("telegram update ignored: its private chat is not its sender's")
            return None

        def make(kind: InputKind, **fields: Any) -> Incoming:
            return Incoming(
                channel=Channel.TELEGRAM,
                sender_id=str(user.id),
                address=str(chat.id),
                kind=kind,
                locale_hint=user.language_code,
                update_key=f"tg:{update.update_id}",
                **fields,
            )

        if query is not None:
            if query.data is None:
                return make(InputKind.UNSUPPORTED)  # a game button
            held = query.message
            ref = str(held.message_id) if held is not None else None
            return make(InputKind.OPTION, option=query.data, message_ref=ref)
        message = update.message
        if message is None:
            return None  # edits and the like: not a new request from the person
        if message.text is not None:
            command = parse_command(message.text)
            if command is not None:
                return make(InputKind.COMMAND, command=command[0], text=command[1])
            # A reply-keyboard button sends its label: the engine reads it back as the option
            # (bot.core.typed_options), whichever instance the tap reaches.
            return make(InputKind.TEXT, text=clean(message.text))
        if message.location is not None:
            location = _location(message.location)
            if location is None:
                return make(InputKind.UNSUPPORTED)
            return make(InputKind.LOCATION, location=location)
        photo = self._photo_source(message)
        if photo is not None:
            # Downloaded only if the step asks for a photo (a coordinator adding one to an
            # alert); everywhere else it is unsupported input, as before.
            return make(InputKind.UNSUPPORTED, photo=photo)
        return make(InputKind.UNSUPPORTED)  # stickers, voice, contacts...

    def _photo_source(self, message: Message) -> PhotoSource | None:
        """How to fetch the photo in ``message``: its largest size within
        :data:`MAX_PHOTO_BYTES`, or an image sent as a file; None when there is none."""
        file_id: str | None = None
        if message.photo:
            fitting = [p for p in message.photo if (p.file_size or 0) <= MAX_PHOTO_BYTES]
            # "" when every size is too large for us: refused when fetched.
            file_id = max(fitting, key=lambda p: p.width * p.height).file_id if fitting else ""
        elif message.document is not None and (message.document.mime_type or "").startswith(
            "image/"
        ):
            too_big = (message.document.file_size or 0) > MAX_PHOTO_BYTES
            file_id = "" if too_big else message.document.file_id
        if file_id is None:
            return None
        wanted = file_id

        async def fetch() -> bytes:
            app = self._app
            if not wanted or app is None:
                raise PhotoUnavailable("too large" if not wanted else "not running")
            try:
                file = await app.bot.get_file(wanted)
                if (file.file_size or 0) > MAX_PHOTO_BYTES:
                    raise PhotoUnavailable("too large")
                data = await file.download_as_bytearray()
            except (TelegramError, RuntimeError) as exc:
                log.info("telegram photo not fetched: %s", type(exc).__name__)
                raise PhotoUnavailable(type(exc).__name__) from None
            if len(data) > MAX_PHOTO_BYTES:
                raise PhotoUnavailable("too large")
            return bytes(data)

        return fetch

    async def _answer(self, query: CallbackQuery) -> None:
        try:
            await query.answer()
        except TelegramError as exc:
            log.info("callback query not answered: %s", type(exc).__name__)

    async def _refuse_group(self, chat_id: int, language: str | None) -> None:
        if chat_id in self._told_groups:
            return
        _remember(self._told_groups, chat_id, None)
        text = self.engine.deps.words.for_locale(language)(PRIVATE_ONLY)
        await self._send_part(chat_id, text, None)

    # -- outgoing ------------------------------------------------------------------------

    async def send(self, address: str, reply: Reply) -> SendStatus:
        """Deliver ``reply`` to the chat ``address`` (a chat id), split if it is too long."""
        return (await self.send_result(address, reply)).status

    async def send_result(self, address: str, reply: Reply) -> SendResult:
        """Like :meth:`send`, with a 429's ``retry_after``, and ``maybe_delivered`` when the
        request may have reached Telegram (a timeout, a connection lost after sending; also a
        later part failing after earlier parts went out). A 429 is retried here first."""
        return await self._deliver(address, reply, retry=True)

    async def send_bulk(self, address: str, reply: Reply) -> SendResult:
        """Like :meth:`send_result`, for the alert outbox: a 429 comes back at once as RETRY
        with its ``retry_after``, so the outbox reschedules that one message. Retried here,
        PTB's limiter would hold *every* call of the bot for ``retry_after`` + 0.1 s, 429 after
        429, and a broadcast with a few per cent of 429s would crawl."""
        return await self._deliver(address, reply, retry=False)

    async def _deliver(self, address: str, reply: Reply, *, retry: bool) -> SendResult:
        if not self._can_send:
            return SendResult(SendStatus.RETRY)
        try:
            chat_id = int(address)
        except ValueError:
            log.warning("telegram reply address is not a chat id")
            return SendResult(SendStatus.FAILED)
        text = reply.text
        t = self.engine.deps.words.for_locale(reply.locale)
        if reply.typed and text.strip():
            text = f"{text}\n{t(TYPED_HINT, typed=reply.typed)}"
        if reply.ask_location and text.strip():
            text = f"{text}\n\n{t(self.location_note)}"
        parts = split_text(text)
        if not parts:
            log.warning("empty telegram reply not sent")
            return SendResult(SendStatus.FAILED)
        markup = self._markup(chat_id, reply)
        if reply.edit is not None and len(parts) == 1 and reply.photo is None:
            edited = await self._edit(chat_id, reply.edit, parts[0], markup, retry=retry)
            if edited is not None:
                return edited
        # A photo goes first, as a part of its own with a short caption (the text is longer
        # than a caption may be), then the text as always, its buttons under the last part.
        before = 0
        if reply.photo is not None:
            result = await self._send_photo(
                chat_id, reply.photo, reply.caption, retry=retry, paid=reply.paid
            )
            if result.status is not SendStatus.SENT:
                return result  # nothing arrived: the whole message may be sent again
            before = 1
        for index, part in enumerate(parts, start=before):
            last = index == before + len(parts) - 1
            result = await self._send_part(
                chat_id, part, markup if last else None, retry=retry, paid=reply.paid
            )
            if result.status is not SendStatus.SENT:
                if index and result.status is SendStatus.RETRY:
                    # Sending it again would repeat the parts that already arrived.
                    return replace(result, maybe_delivered=True)
                return result
        return SendResult(SendStatus.SENT)

    async def _edit(
        self, chat_id: int, ref: str, text: str, markup: Markup | None, *, retry: bool
    ) -> SendResult | None:
        """Replace message ``ref`` with ``text`` and ``markup`` (``editMessageText``); None when
        it cannot be edited and a new message should go instead.

        Not editable: a reply keyboard (an edit takes inline buttons only), a reference that is
        not a message id, or Telegram's refusal (the message is too old, deleted, not found, not
        the bot's). "Message is not modified" means it already reads so: sent. A 429 or a
        network failure is an outcome like a send's (the engine may queue the reply; a queued
        reply is sent new, see :func:`bot.services.notices.seal_reply`)."""
        app = self._app
        if app is None:
            return SendResult(SendStatus.RETRY)
        if markup is not None and "inline_keyboard" not in markup:
            return None
        try:
            message_id = int(ref)
        except ValueError:
            return None
        edit: JSONDict = {
            "chat_id": chat_id,
            "message_id": message_id,
            "text": html.escape(text, quote=False),  # plain text, as in _send_part
            "parse_mode": ParseMode.HTML,
            "link_preview_options": _NO_PREVIEW,
        }
        if markup is not None:
            edit["reply_markup"] = markup  # none: the buttons go, as they should
        api_kwargs = None if retry else app.bot._merge_api_rl_kwargs(None, _NO_RETRY)
        try:
            # What Bot.edit_message_text posts, without building a Message from the answer
            # (see post_message).
            await app.bot._post("editMessageText", edit, api_kwargs=api_kwargs)
        except BadRequest as exc:
            if "message is not modified" in exc.message.lower():
                return SendResult(SendStatus.SENT)
            log.info("telegram message not edited (%s); sending it anew", type(exc).__name__)
            return None
        except Exception as exc:  # every other failure becomes an outcome
            return _outcome(exc)
        return SendResult(SendStatus.SENT)

    async def _send_photo(
        self, chat_id: int, photo: bytes, caption: str, *, retry: bool = True, paid: bool = False
    ) -> SendResult:
        app = self._app
        if app is None:
            return SendResult(SendStatus.RETRY)
        caption = caption.strip()
        if caption and _fitting_prefix(caption, MAX_CAPTION_CHARS) < len(caption):
            caption = ""  # never cut mid-word: the text follows anyway
        try:
            await app.bot.send_photo(
                chat_id=chat_id,
                photo=photo,
                filename="photo.jpg",
                caption=html.escape(caption, quote=False) or None,
                parse_mode=ParseMode.HTML if caption else None,
                # Paid: Telegram's 1,000/s for 0.1 Stars; PTB's limiter paces it apart.
                allow_paid_broadcast=paid or None,
                rate_limit_args=None if retry else _NO_RETRY,
            )
        except Exception as exc:  # every failure becomes an outcome
            return _outcome(exc)
        return SendResult(SendStatus.SENT)

    async def _send_part(
        self,
        chat_id: int,
        text: str,
        markup: Markup | None,
        *,
        retry: bool = True,
        paid: bool = False,
    ) -> SendResult:
        app = self._app
        if app is None:
            return SendResult(SendStatus.RETRY)
        message: JSONDict = {
            "chat_id": chat_id,
            # Replies are plain text: every <, > and & is escaped, so nothing a person typed
            # can become markup.
            "text": html.escape(text, quote=False),
            "parse_mode": ParseMode.HTML,
            # No previews: Telegram would fetch any link a reply contains.
            "link_preview_options": _NO_PREVIEW,
        }
        if markup is not None:
            message["reply_markup"] = markup
        if paid:
            # Telegram's paid broadcast (0.1 Stars a message); PTB's limiter paces it apart.
            message["allow_paid_broadcast"] = True
        try:
            await post_message(app.bot, message, retry=retry)
        except Exception as exc:  # every failure becomes an outcome
            return _outcome(exc)
        return SendResult(SendStatus.SENT)

    def _markup(self, chat_id: int, reply: Reply) -> Markup | None:
        """The Bot API's ``reply_markup`` for ``reply``: inline buttons, or a one-time reply
        keyboard of the options with "Share location" last (a named place is the first choice
        offered, the precise one second); also takes down a reply keyboard left on screen."""
        rows = _rows(reply.options, reply.columns)
        if reply.ask_location:
            _remember(self._keyboards, chat_id, True)
            label = self.engine.deps.words.for_locale(reply.locale)(self.location_label)
            keyboard: list[list[JSONDict]] = [[{"text": o.label} for o in row] for row in rows]
            keyboard.append([{"text": label, "request_location": True}])
            return {"keyboard": keyboard, "one_time_keyboard": True, "resize_keyboard": True}
        had_keyboard = self._keyboards.pop(chat_id, None) is not None
        if rows:
            buttons = [[{"text": o.label, "callback_data": o.payload} for o in r] for r in rows]
            return {"inline_keyboard": buttons}
        # A one-time keyboard stays up when the person typed instead: take it down.
        return {"remove_keyboard": True} if had_keyboard else None


async def post_message(bot: ExtBot[Any], message: JSONDict, *, retry: bool = True) -> None:
    """``sendMessage`` through the bot's rate limiter and HTTP client, without turning the
    answer into a ``telegram.Message``: nothing here reads it, and building it was 7 % of the
    CPU time per update in ``bench/updates.py``. ``retry=False``: a 429 is raised at once
    (:class:`_RateLimiter`).

    ``Bot._post`` is what ``Bot.send_message`` and the public ``Bot.do_api_request`` both
    call. ``do_api_request`` would skip the parsing too, but it warns for every endpoint
    ``Bot`` has a method for, and reports a rejected token as ``EndPointNotFound``."""
    api_kwargs = None if retry else bot._merge_api_rl_kwargs(None, _NO_RETRY)
    await bot._post("sendMessage", message, api_kwargs=api_kwargs)


class _RateLimiter(AIORateLimiter):
    """PTB's ``AIORateLimiter`` (the bot's overall pace; ``max_retries`` for a 429), plus a
    call that is not retried: ``rate_limit_args=_NO_RETRY``. (PTB reads ``rate_limit_args=0``
    as "the default", and on its last try logs the 429 with a traceback.)

    PTB retries a 429 by holding every call of the bot until ``retry_after`` has passed. That
    suits a reply, which is better late than lost; a broadcast's send is rescheduled by the
    outbox instead, while the others keep going. Such a call still waits for the overall
    limit and for a hold in force."""

    async def process_request(
        self,
        callback: Callable[..., Coroutine[Any, Any, bool | JSONDict | list[JSONDict]]],
        args: Any,
        kwargs: dict[str, Any],
        endpoint: str,
        data: dict[str, Any],
        rate_limit_args: int | str | None,
    ) -> bool | JSONDict | list[JSONDict]:
        if rate_limit_args != _NO_RETRY:
            return await super().process_request(
                callback, args, kwargs, endpoint, data, cast(int | None, rate_limit_args)
            )
        # One try through the same limits (sent only to private chats: no group limit).
        return await self._run_request(
            chat=True,
            group=False,
            allow_paid_broadcast=bool(data.get("allow_paid_broadcast", False)),
            callback=callback,
            args=args,
            kwargs=kwargs,
        )


def webhook_secret(key: bytes, token: str) -> str:
    """The webhook secret when ``HRBOT_WEBHOOK_SECRET`` is unset: a keyed hash of the bot's
    token (64 hex digits), the same for every instance with the same key and token. A random
    one per start would lock the other instances out: each start registers its own secret with
    Telegram, which then sends only that one."""
    return pseudonym(key, "webhook_secret", token)


def file_url(base_url: str) -> str:
    """The Bot API's file URL for a method URL: ``https://api.telegram.org/bot`` →
    ``https://api.telegram.org/file/bot`` (a local server or the emulator alike)."""
    head, sep, tail = base_url.rstrip("/").rpartition("/")
    if not sep:
        return base_url
    return f"{head}/file/{tail}"


def split_text(text: str, limit: int = MAX_TEXT_CHARS) -> list[str]:
    """Cut ``text`` into parts of at most ``limit`` UTF-16 code units (Telegram's unit),
    at a line break where possible, else at a space, else anywhere. Blank parts are dropped."""
    rest = text.strip()
    if len(rest) * 2 <= limit:
        # Fits whatever its characters (at most two units each): an alert or a reply nearly
        # always does, and counting units was 5 % of a broadcast's CPU time.
        return [rest] if rest else []
    parts: list[str] = []
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
    """How many characters of ``text`` fit in ``limit`` UTF-16 code units."""
    used = 0
    for index, char in enumerate(text):
        used += 2 if ord(char) > 0xFFFF else 1
        if used > limit:
            return index
    return len(text)


def _outcome(exc: Exception) -> SendResult:
    """What a failed ``sendMessage`` means for the message (PTB's exceptions, see FACTS.md)."""
    if isinstance(exc, Forbidden):
        return SendResult(SendStatus.UNREACHABLE)  # blocked the bot, or never started it
    if isinstance(exc, RetryAfter):
        # A 429 (at once for a bulk send, else once the limiter's retries are spent): nothing
        # was sent.
        log.info("telegram send rate limited")
        return SendResult(SendStatus.RETRY, retry_after=_seconds(exc.retry_after))
    if isinstance(exc, BadRequest):  # a NetworkError subclass: must come first
        log.warning("telegram refused a message: %s", type(exc).__name__)
        return SendResult(SendStatus.FAILED)
    if isinstance(exc, NetworkError):  # TimedOut is one too
        log.info("telegram send to retry: %s", type(exc).__name__)
        if _answered(exc) or _never_left(exc):
            return SendResult(SendStatus.RETRY)  # a 5xx, or no connection: nothing was sent
        return SendResult(SendStatus.RETRY, maybe_delivered=True)
    if isinstance(exc, TelegramError):
        log.warning("telegram send failed: %s", type(exc).__name__)
        return SendResult(SendStatus.FAILED)
    # Not PTB's: a bug or an unexpected client failure; the request may have gone out.
    log.error("telegram send raised %s", type(exc).__name__)
    return SendResult(SendStatus.RETRY, maybe_delivered=True)


def _answered(exc: NetworkError) -> bool:
    """Whether Telegram (or a proxy) answered with an error status, e.g. a 5xx.

    PTB raises those from the status code after the HTTP call returned, with no cause or
    with the JSON parsing error as cause; a transport failure is raised from the HTTP
    library's exception (``raise TimedOut from exc``) in every request class."""
    cause = exc.__cause__
    return not isinstance(exc, TimedOut) and (cause is None or isinstance(cause, TelegramError))


def _never_left(exc: NetworkError) -> bool:
    """A failure to connect or to get a pooled connection: the request was never sent."""
    return isinstance(exc.__cause__, _CONNECT_ERRORS)


def _end_poll_back_off(updater: Updater) -> None:
    """Cancel python-telegram-bot's polling loop if it is waiting before its next getUpdates.

    After a failed getUpdates, PTB 22 waits (1 s growing to 30 s, or a 429's ``retry_after``)
    with a plain ``asyncio.sleep`` that its stop event does not interrupt, so
    ``Updater.stop()`` would wait it out: a Ctrl+C during a Telegram outage took up to 30 s.
    Cancelling the loop there is safe: no getUpdates is in flight, and ``Updater.stop()``
    expects a cancelled loop and still confirms the updates fetched. Anywhere else the loop is
    left to its stop event: cancelled inside a getUpdates, it would leave that call running.
    Relies on two PTB internals (the task's attribute, the loop awaiting ``asyncio.sleep``);
    if they change, this does nothing, stop waits as before, and a channel test fails.
    """
    task = getattr(updater, "_Updater__polling_task", None)
    if not isinstance(task, asyncio.Task) or task.done():
        return
    waiting_on = getattr(task.get_coro(), "cr_await", None)
    if getattr(waiting_on, "cr_code", None) is _SLEEP_CODE:
        task.cancel()


def _not_bot_api(exc: InvalidToken) -> bool:
    """Whether the 404/401 came without the Bot API's JSON answer (PTB raised it from a
    parsing failure): then the server is not Telegram's, whatever the token."""
    cause = exc.__cause__
    while isinstance(cause, InvalidToken):  # PTB re-raises once to add its own words
        cause = cause.__cause__
    return isinstance(cause, TelegramError)


def _seconds(value: float | timedelta) -> float:
    # PTB gives an int, or a timedelta once PTB_TIMEDELTA is set (it is, in __init__).
    return value.total_seconds() if isinstance(value, timedelta) else float(value)


def _rows(options: Sequence[Option], columns: int) -> list[list[Option]]:
    width = max(1, min(columns, MAX_BUTTONS_PER_ROW))
    rows: list[list[Option]] = []
    row: list[Option] = []
    for option in options:
        if option.wide or len(row) == width:
            if row:
                rows.append(row)
            row = []
        if option.wide:
            rows.append([option])
        else:
            row.append(option)
    if row:
        rows.append(row)
    return rows


def _location(location: TgLocation) -> Location | None:
    try:
        lat, lon = validate_location(location.latitude, location.longitude)
    except ValueError:
        return None  # NaN, infinity, out of range or not numbers: handlers see UNSUPPORTED
    return Location(lat, lon)


def _remember(store: OrderedDict[int, _T], key: int, value: _T) -> None:
    store.pop(key, None)
    store[key] = value
    while len(store) > _REMEMBERED_CHATS:
        store.popitem(last=False)


class _WithholdPayload(logging.Filter):
    """PTB logs an update it cannot parse *with its data* ("Received data was ..."). That data
    is a person's message: keep the event, drop the payload and the traceback.

    Also shortens PTB's traceback when its last ``getUpdates`` at stop fails (Telegram out of
    reach): harmless, since updates fetched again are recognised and handled once."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = str(record.msg)
        if "Received data" in message:
            _replace(record, "an update from Telegram could not be parsed and was dropped")
        elif message.startswith("Error while calling `get_updates` one more time"):
            error = record.exc_info[1] if record.exc_info else None
            text = (
                f"could not confirm the last updates to Telegram at stop ({type(error).__name__})"
            )
            _replace(record, text)
            record.levelno, record.levelname = logging.WARNING, "WARNING"
        return True


def _replace(record: logging.LogRecord, text: str) -> None:
    record.msg = text
    record.args = ()
    record.exc_info = None
    record.exc_text = None


def _withhold_update_payloads() -> None:
    updater_log = logging.getLogger("telegram.ext.Updater")
    if not any(isinstance(f, _WithholdPayload) for f in updater_log.filters):
        updater_log.addFilter(_WithholdPayload())


class _BootstrapFailure(logging.Filter):
    """PTB logs a failed start-up call (deleteWebhook, setWebhook) with a traceback before
    raising it; :meth:`TelegramChannel.start` reports the same failure in one line."""

    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args
        first = args[0] if isinstance(args, tuple) and args else None
        return not (isinstance(first, str) and first.startswith("Network Retry Loop (Bootstrap"))


def _quiet_bootstrap_failures() -> None:
    ext_log = logging.getLogger("telegram.ext")  # PTB's network loop logs here
    if not any(isinstance(f, _BootstrapFailure) for f in ext_log.filters):
        ext_log.addFilter(_BootstrapFailure())
