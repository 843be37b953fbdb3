"""A fake Telegram Bot API server on 127.0.0.1 that speaks the protocol as PTB 22 uses it.

``POST /bot{token}/{method}`` with a form-encoded, JSON or multipart body (in forms, non-string
values arrive JSON-encoded); answers ``{"ok": true, "result": ...}`` or ``{"ok": false,
"error_code": ..., "description": ..., "parameters": {...}}`` with the same HTTP status, like
the real server. It enforces the limits a bot can trip over (message length, HTML entities,
callback data size, blocked users, unknown chats, bad token), can inject 429/5xx faults from a
seeded RNG, can carry a call out and then answer too late or not at all (the ambiguous send:
the message arrived, the bot cannot know), and models people and chats
(:mod:`bot.emulator.people`) so a test acts as a person and reads what the bot sent back.

Each message records whether it was sent with ``allow_paid_broadcast``. With
``broadcast_limits=True`` the emulator also enforces Telegram's broadcast limits on
``sendMessage`` and ``sendPhoto``: more than 30 free messages within a second, or 1,000 paid
ones, is answered 429 with ``retry_after`` (off by default, so tests and benchmarks that send
faster are unchanged).

Updates reach the bot by long polling (``getUpdates``) or, after ``setWebhook``, by POSTs to
the webhook URL with the ``X-Telegram-Bot-Api-Secret-Token`` header, as Telegram does: each
until it is answered 2xx, a chat's next update only once the request before it ended, and up to
``webhook_connections`` chats at once (1 by default: one update at a time).
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import functools
import hashlib
import json
import math
import random
import re
import time
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from enum import Enum
from types import TracebackType
from typing import Any, Final, Self

import aiohttp
from aiohttp import web

from bot.emulator.html import HtmlError, Parsed, parse_html, utf16_len
from bot.emulator.people import DEFAULT_TIMEOUT, FakeChat, FakeUser
from bot.emulator.records import (
    ApiCall,
    ApiError,
    CallbackRecord,
    Faults,
    PlannedFault,
    PlannedStall,
    SentMessage,
    StoredFile,
    Upload,
)
from bot.privacy.images import hidden_data

DEFAULT_TOKEN: Final = "7000000001:AAFakeEmulatorTokenForTestsOnly0000000"  # noqa: S105 - fake
MAX_TEXT: Final = 4096
MAX_CAPTION: Final = 1024
MAX_PHOTO_UPLOAD: Final = 10 * 1024 * 1024  # sendPhoto's limit for an uploaded photo
MAX_DOWNLOAD: Final = 20 * 1024 * 1024  # getFile's limit
MAX_CALLBACK_DATA: Final = 64
MAX_BUTTONS: Final = 100
MAX_POLL_TIMEOUT: Final = 50.0
# Telegram's broadcast limits, messages per second per bot: free, and paid
# (allow_paid_broadcast, 0.1 Stars a message).
FREE_BROADCAST_LIMIT: Final = 30
PAID_BROADCAST_LIMIT: Final = 1000
# Telegram's default when allowed_updates is empty: everything but these.
_OPT_IN_UPDATES: Final = frozenset({"chat_member", "message_reaction", "message_reaction_count"})
_CHAT_ACTIONS: Final = frozenset(
    {
        "typing",
        "upload_photo",
        "record_video",
        "upload_video",
        "record_voice",
        "upload_voice",
        "upload_document",
        "choose_sticker",
        "find_location",
        "record_video_note",
        "upload_video_note",
    }
)
_PATH = re.compile(r"/bot([^/]+)/([A-Za-z0-9_]+)/?")
_FILE_PATH = re.compile(r"/file/bot([^/]+)/(.+)")
_COMMAND_NAME = re.compile(r"[a-z0-9_]{1,32}")
_SECRET = re.compile(r"[A-Za-z0-9_-]{1,256}")
_BUTTON_ACTIONS: Final = (
    "callback_data",
    "url",
    "web_app",
    "login_url",
    "switch_inline_query",
    "switch_inline_query_current_chat",
    "switch_inline_query_chosen_chat",
    "copy_text",
    "callback_game",
    "pay",
)

JSONDict = dict[str, Any]
Listener = Callable[[SentMessage], None]


class _Secret(Enum):
    REGISTERED = "registered"


REGISTERED: Final = _Secret.REGISTERED
"""``post_to_webhook(secret=REGISTERED)``: use the secret the bot registered (the default)."""


class _Fail(Exception):
    """An error answer: raised inside method handlers, turned into the JSON error reply."""

    def __init__(self, code: int, description: str, retry_after: int | None = None) -> None:
        super().__init__(description)
        self.code = code
        self.description = description
        self.retry_after = retry_after


@dataclass(frozen=True)
class Webhook:
    """What the bot registered with ``setWebhook``."""

    url: str
    secret: str | None
    allowed_updates: tuple[str, ...] | None
    max_connections: int


class TelegramEmulator:
    """The fake server. Use ``async with TelegramEmulator() as emu:`` or start()/stop().

    Point the bot at :attr:`base_url` (``ApplicationBuilder().base_url(...)``) with
    :attr:`token`. Not thread-safe: use it from the event loop it was started in.
    """

    def __init__(
        self,
        *,
        token: str = DEFAULT_TOKEN,
        bot_username: str = "hrbot_test_bot",
        bot_name: str = "hrbot",
        faults: Faults | None = None,
        seed: int = 0,
        host: str = "127.0.0.1",
        port: int = 0,
        webhook_retry_delay: float = 0.05,
        broadcast_limits: bool = False,
        monotonic: Callable[[], float] = time.monotonic,
        webhook_connections: int = 1,
        webhook_timeout: float = 5.0,
    ) -> None:
        bot_id = token.split(":", 1)[0]
        if not bot_id.isdigit():
            raise ValueError("a bot token starts with the bot's numeric id and a colon")
        self.token = token
        self.bot_username = bot_username
        self.bot_user: JSONDict = {
            "id": int(bot_id),
            "is_bot": True,
            "first_name": bot_name,
            "username": bot_username,
            "can_join_groups": True,
            "can_read_all_group_messages": False,
            "supports_inline_queries": False,
        }
        self.faults = faults or Faults()
        self.host = host
        self.port = port
        self.webhook_retry_delay = webhook_retry_delay
        if webhook_connections < 1:
            raise ValueError("webhook_connections is at least 1")
        # Webhook requests at once, each of a different chat (Telegram: up to setWebhook's
        # max_connections); 1, the default, delivers every update in turn.
        self.webhook_connections = webhook_connections
        self.webhook_timeout = webhook_timeout

        self.users: dict[str, FakeUser] = {}
        self.chats: dict[int, FakeChat] = {}
        self.calls: list[ApiCall] = []
        self.errors: list[ApiError] = []
        self.callbacks: dict[str, CallbackRecord] = {}
        self.commands: dict[tuple[str, str], list[JSONDict]] = {}
        self.webhook: Webhook | None = None
        # (update_id, HTTP status) of recent webhook attempts; bounded for long demos.
        self.webhook_deliveries: deque[tuple[int, int]] = deque(maxlen=1000)
        # Files people sent (getFile and /file/bot<token>/<path>), and which were downloaded.
        self.files: dict[str, StoredFile] = {}
        self.downloads: list[str] = []
        # Photos the bot tried to send that still carried EXIF/XMP/...: refused with a 400.
        self.metadata_refused: list[list[str]] = []
        # Telegram's broadcast limits enforced (see the module docstring), on this clock.
        self.broadcast_limits = broadcast_limits
        self._monotonic = monotonic
        # Accepted sends in the last second, free (False) and paid (True): their times.
        self._recent_sends: dict[bool, deque[float]] = {False: deque(), True: deque()}
        # Sends refused for going over a broadcast limit, free (False) and paid (True).
        self.broadcast_refused: dict[bool, int] = {False: 0, True: 0}

        # Seeded on purpose (not secrets): a failing test must replay with the same ids.
        self._rng = random.Random(seed)  # noqa: S311
        self._fault_rng = random.Random(self.faults.seed)  # noqa: S311
        self._planned: list[PlannedFault] = []
        self._stalls: list[PlannedStall] = []
        self._pending: list[JSONDict] = []
        self._allowed_updates: tuple[str, ...] | None = None
        self._next_update_id = self._rng.randint(100_000_000, 900_000_000)
        self._poll_generation = 0
        self._listeners: list[Listener] = []
        self._tick = asyncio.Event()
        self._closing = False
        self._runner: web.AppRunner | None = None
        self._client: aiohttp.ClientSession | None = None
        self._delivery: asyncio.Task[None] | None = None
        self._methods: dict[str, Callable[[JSONDict], Awaitable[Any]]] = {
            "getme": self._get_me,
            "deletewebhook": self._delete_webhook,
            "setwebhook": self._set_webhook,
            "getwebhookinfo": self._get_webhook_info,
            "getupdates": self._get_updates,
            "setmycommands": self._set_my_commands,
            "getmycommands": self._get_my_commands,
            "deletemycommands": self._delete_my_commands,
            "sendmessage": self._send_message,
            "sendphoto": self._send_photo,
            "getfile": self._get_file,
            "editmessagetext": self._edit_message_text,
            "editmessagereplymarkup": self._edit_message_reply_markup,
            "answercallbackquery": self._answer_callback_query,
            "sendchataction": self._send_chat_action,
        }

    # -- life cycle ----------------------------------------------------------------------

    async def start(self) -> None:
        """Listen on ``host:port`` (port 0 picks a free one; read :attr:`port` afterwards)."""
        # Uploads up to sendPhoto's 10 MB and beyond (aiohttp's default is 1 MB); the
        # method checks its own limit, as Telegram does.
        app = web.Application(client_max_size=MAX_PHOTO_UPLOAD * 5)
        app.router.add_route("*", "/{tail:.*}", self._handle)
        # access_log=None: the access log would carry the token in every request path.
        runner = web.AppRunner(app, access_log=None, shutdown_timeout=1.0)
        await runner.setup()
        site = web.TCPSite(runner, self.host, self.port)
        try:
            await site.start()
        except BaseException:
            await runner.cleanup()
            raise
        self._runner = runner
        server = site._server
        assert isinstance(server, asyncio.Server)
        self.port = server.sockets[0].getsockname()[1]
        self._closing = False
        self._client = aiohttp.ClientSession(
            timeout=aiohttp.ClientTimeout(total=self.webhook_timeout)
        )
        self._delivery = asyncio.create_task(self._deliver_webhooks(), name="emulator-webhook")

    async def stop(self) -> None:
        """Answer waiting long polls, stop webhook delivery, close the server (idempotent)."""
        self._closing = True
        self._bump()
        if self._delivery is not None:
            self._delivery.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._delivery
            self._delivery = None
        if self._client is not None:
            await self._client.close()
            self._client = None
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

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

    @property
    def base_url(self) -> str:
        """What to give ``ApplicationBuilder().base_url()``: the token and method follow it."""
        return f"http://{self.host}:{self.port}/bot"

    def api_url(self, method: str, token: str | None = None) -> str:
        """Full URL of a method, e.g. for raw HTTP tests."""
        return f"{self.base_url}{token or self.token}/{method}"

    # -- people --------------------------------------------------------------------------

    def user(
        self,
        name: str,
        *,
        language_code: str | None = "en",
        is_bot: bool = False,
        username: str | None = None,
    ) -> FakeUser:
        """The person called ``name`` (created on first use, with a realistic 9–10 digit id)."""
        if name in self.users:
            return self.users[name]
        user_id = self._new_id(lambda: self._rng.randint(100_000_000, 7_999_999_999))
        handle = username or _username(name, self._rng.randint(100, 999), bot=is_bot)
        user = FakeUser(
            self,
            id=user_id,
            name=name,
            username=handle,
            language_code=language_code,
            is_bot=is_bot,
        )
        self.users[name] = user
        self.chats[user_id] = user.chat
        return user

    def group(self, title: str, *, supergroup: bool = True) -> FakeChat:
        """A group the bot is a member of (a supergroup id looks like ``-100…``)."""
        for chat in self.chats.values():
            if chat.title == title:
                return chat
        if supergroup:
            chat_id = self._new_id(lambda: -(10**12 + self._rng.randint(10**9, 9 * 10**9)))
        else:
            chat_id = self._new_id(lambda: -self._rng.randint(100_000_000, 999_999_999))
        chat = FakeChat(id=chat_id, type="supergroup" if supergroup else "group", title=title)
        self.chats[chat_id] = chat
        return chat

    def transcript(self, chat_id: int) -> list[SentMessage]:
        """What the bot sent to ``chat_id``."""
        chat = self.chats.get(chat_id)
        return chat.messages if chat else []

    def add_listener(self, listener: Listener) -> None:
        """Call ``listener(message)`` for every message the bot sends or edits (for a demo UI)."""
        self._listeners.append(listener)

    # -- updates -------------------------------------------------------------------------

    def push_raw(self, update: JSONDict) -> int:
        """Queue an update as given (hostile content welcome; it must still be an Update
        python-telegram-bot can parse, or polling jams as it would on the real server).
        An ``update_id`` is assigned when missing; the id is returned."""
        if "update_id" not in update:
            update = {"update_id": self._take_update_id(), **update}
        else:
            self._next_update_id = max(self._next_update_id, int(update["update_id"]) + 1)
        self._pending.append(update)
        self._bump()
        return int(update["update_id"])

    @property
    def pending(self) -> list[JSONDict]:
        """Updates not yet confirmed by the bot (offset or a 2xx webhook answer)."""
        return list(self._pending)

    async def deliver_and_wait(
        self, chat: FakeChat, body: JSONDict, expect: int, within: float
    ) -> list[SentMessage]:
        """Queue ``body`` as a new update; wait until ``expect`` more messages reach ``chat``
        (a message the bot edits counts, as it does on the person's screen); returns them."""
        before = len(chat.changes)
        self.push_raw(body)
        if expect <= 0:
            return []
        await self.wait_for(
            lambda: len(chat.changes) >= before + expect,
            within=within,
            what=lambda: (
                f"{expect} message(s) in chat {chat.id}, got {len(chat.changes) - before}; "
                f"recent API errors: {[(e.method, e.description) for e in self.errors[-3:]]}"
            ),
        )
        return chat.changes[before:]

    async def wait_for(
        self,
        predicate: Callable[[], bool],
        *,
        within: float = DEFAULT_TIMEOUT,
        what: str | Callable[[], str] = "a condition",
    ) -> None:
        """Wait until ``predicate()`` holds; re-checked after every API call and update.

        Raises AssertionError (naming ``what``) on timeout.
        """
        loop = asyncio.get_running_loop()
        deadline = loop.time() + within
        while True:
            tick = self._tick
            if predicate():
                return
            remaining = deadline - loop.time()
            if remaining <= 0:
                raise AssertionError(f"timed out waiting for {what() if callable(what) else what}")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(tick.wait(), remaining)

    async def wait_until_consumed(self, within: float = DEFAULT_TIMEOUT) -> None:
        """Wait until the bot has confirmed every queued update (fetched, not necessarily
        finished handling)."""
        await self.wait_for(lambda: not self._pending, within=within, what="updates consumed")

    # -- faults --------------------------------------------------------------------------

    def fail_next(
        self,
        method: str,
        *,
        status: int = 429,
        retry_after: int | None = 1,
        description: str | None = None,
        count: int = 1,
        after: int = 0,
    ) -> None:
        """Answer the next ``count`` calls of ``method`` with an error (429 by default), once
        ``after`` calls of it have succeeded (e.g. the second part of a long message)."""
        if description is None:
            description = (
                f"Too Many Requests: retry after {retry_after}"
                if status == 429
                else "Bad Gateway"
                if status == 502
                else f"Error {status}"
            )
        if after < 0:
            raise ValueError("after must not be negative")
        if count < 1:
            return
        fault = PlannedFault(method.lower(), status, description, retry_after)
        self._planned.append(dataclasses.replace(fault, after=after))
        self._planned.extend([fault] * (count - 1))

    def stall_next(self, method: str, *, seconds: float | None = 5.0, count: int = 1) -> None:
        """Carry out the next ``count`` calls of ``method`` (a message reaches its chat), then
        answer ``seconds`` late, or with ``seconds=None`` close the connection unanswered: what
        a client sees as a timeout or a lost connection after Telegram had accepted the call."""
        if seconds is not None and seconds < 0:
            raise ValueError("seconds must not be negative")
        self._stalls.extend([PlannedStall(method.lower(), seconds)] * count)

    # -- webhook -------------------------------------------------------------------------

    async def post_to_webhook(
        self, update: JSONDict, *, secret: str | _Secret | None = REGISTERED
    ) -> int:
        """POST ``update`` to the registered webhook now, as Telegram would; return the HTTP
        status. ``secret=None`` sends no secret header; a string sends that secret."""
        if self.webhook is None:
            raise RuntimeError("no webhook is registered")
        if self._client is None:
            raise RuntimeError("the emulator is not running")
        headers = {"Content-Type": "application/json"}
        token = self.webhook.secret if secret is REGISTERED else secret
        if isinstance(token, str):
            headers["X-Telegram-Bot-Api-Secret-Token"] = token
        body = json.dumps(update).encode()
        try:
            async with self._client.post(self.webhook.url, data=body, headers=headers) as resp:
                await resp.read()
                return resp.status
        except (aiohttp.ClientError, TimeoutError):
            return 0

    async def _deliver_webhooks(self) -> None:
        # Telegram delivers to the webhook until it answers 2xx, retrying after failures; a
        # chat's next update only once the request before it ended, other chats' meanwhile
        # (up to webhook_connections requests at once).
        in_flight: dict[object, asyncio.Task[None]] = {}  # chat → its request
        try:
            while not self._closing:
                tick = self._tick
                for update in self._deliverable() if self.webhook else ():
                    if len(in_flight) >= self.webhook_connections:
                        break
                    chat = _chat_of(update)
                    if chat in in_flight:
                        continue
                    task = asyncio.create_task(self._deliver_one(update), name="emulator-post")
                    in_flight[chat] = task
                    task.add_done_callback(functools.partial(self._delivered, in_flight, chat))
                await tick.wait()
        finally:
            for task in in_flight.values():
                task.cancel()
            await asyncio.gather(*in_flight.values(), return_exceptions=True)

    def _delivered(
        self, in_flight: dict[object, asyncio.Task[None]], chat: object, _: object
    ) -> None:
        in_flight.pop(chat, None)
        self._bump()

    async def _deliver_one(self, update: JSONDict) -> None:
        status = await self.post_to_webhook(update)
        self.webhook_deliveries.append((int(update["update_id"]), status))
        if 200 <= status < 300:
            for index, waiting in enumerate(self._pending):
                if waiting is update:
                    del self._pending[index]
                    break
        else:
            await asyncio.sleep(self.webhook_retry_delay)  # the chat waits for its retry

    def _deliverable(self) -> list[JSONDict]:
        allowed = self.webhook.allowed_updates if self.webhook else None
        # Telegram drops what the bot did not ask for.
        self._pending = [u for u in self._pending if _is_allowed(u, allowed)]
        return list(self._pending)

    # -- HTTP ----------------------------------------------------------------------------

    async def _handle(self, request: web.Request) -> web.Response:
        download = _FILE_PATH.fullmatch(request.path)
        if download is not None:
            return self._download(*download.groups())
        match = _PATH.fullmatch(request.path)
        if match is None:
            return _error_response(404, "Not Found")
        token, method = match.groups()
        if token != self.token:
            self.errors.append(ApiError(method, 401, "Unauthorized"))
            self._bump()
            return _error_response(401, "Unauthorized")
        key = method.lower()
        params: JSONDict = {}
        try:
            params = await _read_params(request)
            handler = self._methods.get(key)
            if handler is None:
                raise _Fail(404, "Not Found")
            injected = self._take_fault(key)
            if injected is not None:
                self._record(method, params, injected, injected=True)
                return _error_response(injected.code, injected.description, injected.retry_after)
            result = await handler(params)
            stall = self._take_stall(key)
        except _Fail as fail:
            if not _client_gone(request):  # a superseded long poll nobody waits for any more
                self._record(method, params, fail)
            return _error_response(fail.code, fail.description, fail.retry_after)
        self.calls.append(ApiCall(method, params, 200))
        self._bump()
        if stall is not None:
            if stall.seconds is None:
                if request.transport is not None:
                    request.transport.abort()  # done, and the client never hears of it
                return web.Response(status=200)
            await asyncio.sleep(stall.seconds)
        return web.json_response({"ok": True, "result": result})

    def _record(
        self, method: str, params: JSONDict, fail: _Fail, *, injected: bool = False
    ) -> None:
        self.calls.append(ApiCall(method, params, fail.code))
        self.errors.append(ApiError(method, fail.code, fail.description, injected))
        self._bump()

    def _take_stall(self, key: str) -> PlannedStall | None:
        for index, stall in enumerate(self._stalls):
            if stall.method == key:
                return self._stalls.pop(index)
        return None

    def _take_fault(self, key: str) -> _Fail | None:
        for index, planned in enumerate(self._planned):
            if planned.method == key:
                if planned.after:
                    self._planned[index] = dataclasses.replace(planned, after=planned.after - 1)
                    return None
                del self._planned[index]
                return _Fail(planned.status, planned.description, planned.retry_after)
        if key not in self.faults.methods:
            return None
        roll = self._fault_rng.random()
        if roll < self.faults.rate_limit:
            after = self.faults.retry_after
            return _Fail(429, f"Too Many Requests: retry after {after}", after)
        if roll < self.faults.rate_limit + self.faults.server_error:
            return _Fail(self.faults.server_status, "Bad Gateway")
        return None

    # -- files ---------------------------------------------------------------------------

    def store_file(self, data: bytes, *, suffix: str = "jpg", folder: str = "photos") -> StoredFile:
        """Keep a file a person sends; its ids go in the update, its bytes come back from
        ``getFile`` and the download URL, as on Telegram's servers."""
        ids = self.file_ids()
        stored = StoredFile(
            file_id=ids["file_id"],
            file_unique_id=ids["file_unique_id"],
            file_path=f"{folder}/file_{len(self.files)}.{suffix}",
            data=data,
        )
        self.files[stored.file_id] = stored
        return stored

    def _download(self, token: str, path: str) -> web.Response:
        if token != self.token:
            return _error_response(401, "Unauthorized")
        for stored in self.files.values():
            if stored.file_path == path:
                self.downloads.append(stored.file_id)
                self._bump()
                return web.Response(body=stored.data, content_type="application/octet-stream")
        return _error_response(404, "Not Found")

    async def _get_file(self, params: JSONDict) -> JSONDict:
        stored = self.files.get(_str(params, "file_id") or "")
        if stored is None:
            raise _Fail(400, "Bad Request: invalid file_id")
        if len(stored.data) > MAX_DOWNLOAD:
            raise _Fail(400, "Bad Request: file is too big")
        return {
            "file_id": stored.file_id,
            "file_unique_id": stored.file_unique_id,
            "file_size": len(stored.data),
            "file_path": stored.file_path,
        }

    async def _send_photo(self, params: JSONDict) -> JSONDict:
        chat = self._writable_chat(params)
        photo = params.get("photo")
        if isinstance(photo, str) and photo in self.files:
            data = self.files[photo].data  # re-sending a file_id
        elif isinstance(photo, Upload):
            data = photo.data
        elif photo is None or photo == "":
            raise _Fail(400, "Bad Request: there is no photo in the request")
        else:
            raise _Fail(400, "Bad Request: wrong file identifier/HTTP URL specified")
        if len(data) > MAX_PHOTO_UPLOAD:
            raise _Fail(413, "Request Entity Too Large")
        hidden = hidden_data(data)
        if "unreadable" in hidden:
            raise _Fail(400, "Bad Request: IMAGE_PROCESS_FAILED")
        if hidden:
            # Telegram would strip it silently; the emulator refuses, so a leak fails a test.
            self.metadata_refused.append(hidden)
            raise _Fail(400, f"Bad Request: photo carries hidden data ({', '.join(hidden)})")
        parsed, source, parse_mode = _caption(params)
        paid = self._within_broadcast_limit(params)
        message = SentMessage(
            chat_id=chat.id,
            message_id=chat.take_message_id(),
            text=parsed.text,
            source=source,
            parse_mode=parse_mode,
            reply_markup=_reply_markup(params),
            date=self.now(),
            entities=parsed.entities,
            photo=data,
            paid=paid,
        )
        chat.messages.append(message)
        self._notify(message)
        return self.message_dict(message)

    # -- methods -------------------------------------------------------------------------

    async def _get_me(self, params: JSONDict) -> JSONDict:
        return dict(self.bot_user)

    async def _delete_webhook(self, params: JSONDict) -> bool:
        self.webhook = None
        if _bool(params, "drop_pending_updates"):
            self._pending.clear()
        self._bump()
        return True

    async def _set_webhook(self, params: JSONDict) -> bool:
        url = _str(params, "url") or ""
        if not url:
            return await self._delete_webhook(params)
        if not url.startswith(("http://", "https://")):
            raise _Fail(400, "Bad Request: bad webhook: Webhook can be set up only on ports ...")
        secret = _str(params, "secret_token")
        if secret is not None and not _SECRET.fullmatch(secret):
            raise _Fail(400, "Bad Request: secret token contains unallowed characters")
        allowed = _json(params, "allowed_updates")
        self.webhook = Webhook(
            url=url,
            secret=secret,
            allowed_updates=tuple(allowed) if isinstance(allowed, list) else None,
            max_connections=_int(params, "max_connections") or 40,
        )
        if _bool(params, "drop_pending_updates"):
            self._pending.clear()
        self._bump()
        return True

    async def _get_webhook_info(self, params: JSONDict) -> JSONDict:
        info: JSONDict = {
            "url": self.webhook.url if self.webhook else "",
            "has_custom_certificate": False,
            "pending_update_count": len(self._pending),
        }
        if self.webhook:
            info["max_connections"] = self.webhook.max_connections
        return info

    async def _get_updates(self, params: JSONDict) -> list[JSONDict]:
        if self.webhook is not None:
            raise _Fail(
                409,
                "Conflict: can't use getUpdates method while webhook is active; "
                "use deleteWebhook to delete the webhook first",
            )
        offset = _int(params, "offset")
        limit = min(max(_int(params, "limit") or 100, 1), 100)
        timeout = min(max(_float(params, "timeout"), 0.0), MAX_POLL_TIMEOUT)
        allowed = _json(params, "allowed_updates")
        if isinstance(allowed, list):
            # Like Telegram, the filter sticks for later calls that do not send one.
            self._allowed_updates = tuple(str(a) for a in allowed)
        if offset is not None:
            self._confirm(offset)
        # A newer getUpdates ends an older one with 409, as on the real server.
        self._poll_generation += 1
        generation = self._poll_generation
        self._bump()
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            tick = self._tick
            if self._closing:
                return []
            if generation != self._poll_generation:
                raise _Fail(
                    409,
                    "Conflict: terminated by other getUpdates request; make sure that only one "
                    "bot instance is running",
                )
            self._pending = [u for u in self._pending if _is_allowed(u, self._allowed_updates)]
            batch = self._pending[:limit]
            if batch:
                return batch
            remaining = deadline - loop.time()
            if remaining <= 0:
                return []
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(tick.wait(), remaining)

    def _confirm(self, offset: int) -> None:
        if offset < 0:
            self._pending = self._pending[offset:]
        else:
            self._pending = [u for u in self._pending if int(u["update_id"]) >= offset]

    async def _set_my_commands(self, params: JSONDict) -> bool:
        commands = _json(params, "commands")
        if not isinstance(commands, list) or len(commands) > 100:
            raise _Fail(400, "Bad Request: commands must be an array of at most 100 commands")
        for item in commands:
            if not isinstance(item, dict):
                raise _Fail(400, "Bad Request: can't parse BotCommand")
            if not _COMMAND_NAME.fullmatch(str(item.get("command", ""))):
                raise _Fail(400, "Bad Request: BOT_COMMAND_INVALID")
            if not 1 <= len(str(item.get("description", ""))) <= 256:
                raise _Fail(400, "Bad Request: BOT_COMMAND_DESCRIPTION_INVALID")
        self.commands[_command_scope(params)] = [
            {"command": c["command"], "description": c["description"]} for c in commands
        ]
        return True

    async def _get_my_commands(self, params: JSONDict) -> list[JSONDict]:
        return list(self.commands.get(_command_scope(params), []))

    async def _delete_my_commands(self, params: JSONDict) -> bool:
        self.commands.pop(_command_scope(params), None)
        return True

    async def _send_message(self, params: JSONDict) -> JSONDict:
        chat = self._writable_chat(params)
        parsed, source, parse_mode = _message_text(params)
        markup = _reply_markup(params)
        paid = self._within_broadcast_limit(params)
        message = SentMessage(
            chat_id=chat.id,
            message_id=chat.take_message_id(),
            text=parsed.text,
            source=source,
            parse_mode=parse_mode,
            reply_markup=markup,
            date=self.now(),
            entities=parsed.entities,
            paid=paid,
        )
        chat.messages.append(message)
        self._notify(message)
        return self.message_dict(message)

    def _within_broadcast_limit(self, params: JSONDict) -> bool:
        """Whether the send is paid (``allow_paid_broadcast``); with ``broadcast_limits``, a
        429 when it would be over Telegram's limit within the last second."""
        paid = _bool(params, "allow_paid_broadcast")
        if not self.broadcast_limits:
            return paid
        now = self._monotonic()
        recent = self._recent_sends[paid]
        while recent and recent[0] <= now - 1.0:
            recent.popleft()
        if len(recent) >= (PAID_BROADCAST_LIMIT if paid else FREE_BROADCAST_LIMIT):
            self.broadcast_refused[paid] += 1
            retry_after = max(1, math.ceil(recent[0] + 1.0 - now))
            raise _Fail(429, f"Too Many Requests: retry after {retry_after}", retry_after)
        recent.append(now)
        return paid

    async def _edit_message_text(self, params: JSONDict) -> JSONDict:
        message = self._editable(params)
        parsed, source, parse_mode = _message_text(params)
        markup = _reply_markup(params)
        if markup is not None and "inline_keyboard" not in markup:
            raise _Fail(400, "Bad Request: inline keyboard expected")
        if parsed.text == message.text and markup == message.reply_markup:
            raise _Fail(400, _NOT_MODIFIED)
        message.text, message.source, message.parse_mode = parsed.text, source, parse_mode
        message.entities, message.reply_markup = parsed.entities, markup
        message.edits += 1
        self._notify(message)
        return self.message_dict(message)

    async def _edit_message_reply_markup(self, params: JSONDict) -> JSONDict:
        message = self._editable(params)
        markup = _reply_markup(params)
        if markup is not None and "inline_keyboard" not in markup:
            raise _Fail(400, "Bad Request: inline keyboard expected")
        if markup == message.reply_markup:
            raise _Fail(400, _NOT_MODIFIED)
        message.reply_markup = markup
        message.edits += 1
        self._notify(message)
        return self.message_dict(message)

    async def _answer_callback_query(self, params: JSONDict) -> bool:
        record = self.callbacks.get(_str(params, "callback_query_id") or "")
        if record is None or record.answered:
            raise _Fail(
                400,
                "Bad Request: query is too old and response timeout expired or query ID is invalid",
            )
        text = _str(params, "text")
        if text is not None and len(text) > 200:
            raise _Fail(400, "Bad Request: MESSAGE_TOO_LONG")
        record.answered, record.answer_text = True, text
        return True

    async def _send_chat_action(self, params: JSONDict) -> bool:
        chat = self._writable_chat(params)
        action = _str(params, "action")
        if action not in _CHAT_ACTIONS:
            raise _Fail(400, "Bad Request: wrong parameter action in request")
        chat.actions.append(action)
        return True

    # -- helpers used by people ----------------------------------------------------------

    def now(self) -> int:
        """Unix time, as message dates carry it."""
        return int(time.time())

    def message_dict(self, message: SentMessage) -> JSONDict:
        """The ``Message`` object for a message the bot sent."""
        chat = self.chats[message.chat_id]
        result: JSONDict = {
            "message_id": message.message_id,
            "from": dict(self.bot_user),
            "chat": chat.as_dict(),
            "date": message.date,
        }
        if message.photo is not None:
            digest = hashlib.sha256(message.photo).hexdigest()
            result["photo"] = [
                {
                    "file_id": "AgAC" + digest[:60],
                    "file_unique_id": "AQAD" + digest[:16],
                    "width": 1,
                    "height": 1,
                    "file_size": len(message.photo),
                }
            ]
            if message.text:
                result["caption"] = message.text
            if message.entities:
                result["caption_entities"] = message.entities
        else:
            result["text"] = message.text
            if message.entities:
                result["entities"] = message.entities
        if message.edits:
            result["edit_date"] = self.now()
        # Only inline keyboards are part of a Message; reply keyboards are not echoed.
        if message.reply_markup and "inline_keyboard" in message.reply_markup:
            result["reply_markup"] = message.reply_markup
        return result

    def new_callback(self, chat: FakeChat, message: SentMessage, data: str) -> str:
        """Register a button press; the bot must answer it once (answerCallbackQuery)."""
        query_id = str(self._rng.getrandbits(63))
        self.callbacks[query_id] = CallbackRecord(query_id, chat.id, message.message_id, data)
        return query_id

    def chat_instance(self, chat: FakeChat) -> str:
        """A stable opaque id for a chat, as in ``CallbackQuery.chat_instance``."""
        digest = hashlib.sha256(f"{self.token}:{chat.id}".encode()).digest()
        return str(-(int.from_bytes(digest[:8], "big") >> 1))

    def file_ids(self) -> JSONDict:
        """Fresh ``file_id``/``file_unique_id`` for media a person sends."""
        bits = self._rng.getrandbits(256).to_bytes(32, "big").hex()
        return {"file_id": "AgAC" + bits[:60], "file_unique_id": "AQAD" + bits[60:]}

    # -- internals -----------------------------------------------------------------------

    def _writable_chat(self, params: JSONDict) -> FakeChat:
        raw = params.get("chat_id")
        if raw is None or raw == "":
            raise _Fail(400, "Bad Request: chat_id is empty")
        try:
            chat_id = int(raw)
        except (TypeError, ValueError):
            raise _Fail(400, "Bad Request: chat not found") from None
        chat = self.chats.get(chat_id)
        if chat is None:
            raise _Fail(400, "Bad Request: chat not found")
        user = chat.user
        if user is not None:
            if user.is_bot:
                raise _Fail(403, "Forbidden: bot can't send messages to bots")
            if user.blocked:
                raise _Fail(403, "Forbidden: bot was blocked by the user")
            if not user.started:
                raise _Fail(403, "Forbidden: bot can't initiate conversation with a user")
        return chat

    def _editable(self, params: JSONDict) -> SentMessage:
        if params.get("inline_message_id"):
            raise _Fail(400, "Bad Request: MESSAGE_ID_INVALID")
        chat = self._writable_chat(params)
        message_id = _int(params, "message_id")
        for message in chat.messages:
            if message.message_id == message_id:
                if self.now() - message.date > EDIT_WINDOW:
                    raise _Fail(400, "Bad Request: message can't be edited")
                return message
        raise _Fail(400, "Bad Request: message to edit not found")

    def _notify(self, message: SentMessage) -> None:
        self.chats[message.chat_id].changes.append(message)
        for listener in self._listeners:
            listener(message)

    def _bump(self) -> None:
        # Wake every waiter; each re-checks its own condition against the new state.
        self._tick.set()
        self._tick = asyncio.Event()

    def _take_update_id(self) -> int:
        self._next_update_id += 1
        return self._next_update_id - 1

    def _new_id(self, draw: Callable[[], int]) -> int:
        while True:
            candidate = draw()
            if candidate not in self.chats:
                return candidate


# A bot may edit its own messages for 48 hours (then "message can't be edited").
EDIT_WINDOW: Final = 48 * 3600
_NOT_MODIFIED: Final = (
    "Bad Request: message is not modified: specified new message content and reply markup are "
    "exactly the same as a current content and reply markup of the message"
)


def _chat_of(update: JSONDict) -> object:
    """The chat an update belongs to (its sender's for a button), else the update itself."""
    for kind in ("message", "edited_message", "channel_post", "callback_query"):
        body = update.get(kind)
        if not isinstance(body, dict):
            continue
        message = body.get("message", body) if kind == "callback_query" else body
        chat = message.get("chat") if isinstance(message, dict) else None
        if isinstance(chat, dict) and "id" in chat:
            return chat["id"]
        sender = body.get("from")
        if isinstance(sender, dict) and "id" in sender:
            return sender["id"]
    return ("update", update.get("update_id"))


def _client_gone(request: web.Request) -> bool:
    transport = request.transport
    return transport is None or transport.is_closing()


def _error_response(code: int, description: str, retry_after: int | None = None) -> web.Response:
    body: JSONDict = {"ok": False, "error_code": code, "description": description}
    if code == 429 and retry_after:
        body["parameters"] = {"retry_after": retry_after}
    return web.json_response(body, status=code)


async def _read_params(request: web.Request) -> JSONDict:
    params: JSONDict = dict(request.query)
    if request.content_type == "application/json":
        raw = await request.read()
        if raw:
            try:
                data = json.loads(raw)
            except ValueError:
                raise _Fail(400, "Bad Request: can't parse JSON object") from None
            if not isinstance(data, dict):
                raise _Fail(400, "Bad Request: JSON object expected")
            params.update(data)
    elif request.content_type in ("application/x-www-form-urlencoded", "multipart/form-data"):
        form = await request.post()
        for key, value in form.items():
            if isinstance(value, str):
                params[key] = value
            elif isinstance(value, web.FileField):
                # Read here: the part's file is closed once the request is done.
                data = value.file.read()
                params[key] = Upload(value.filename, value.content_type, data)
    return params


def _str(params: JSONDict, key: str) -> str | None:
    value = params.get(key)
    return None if value is None else str(value)


def _int(params: JSONDict, key: str) -> int | None:
    value = params.get(key)
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        raise _Fail(400, f"Bad Request: wrong parameter {key} in request")
    try:
        return int(value)
    except (TypeError, ValueError):
        raise _Fail(400, f"Bad Request: wrong parameter {key} in request") from None


def _float(params: JSONDict, key: str) -> float:
    value = params.get(key)
    if value is None or value == "":
        return 0.0
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise _Fail(400, f"Bad Request: wrong parameter {key} in request") from None
    return number if math.isfinite(number) else 0.0


def _bool(params: JSONDict, key: str) -> bool:
    value = params.get(key)
    if isinstance(value, str):
        return value.lower() in ("true", "1")
    return bool(value)


def _json(params: JSONDict, key: str) -> Any:
    value = params.get(key)
    if isinstance(value, str):
        try:
            return json.loads(value)
        except ValueError:
            raise _Fail(400, f"Bad Request: can't parse {key} JSON object") from None
    return value


def _command_scope(params: JSONDict) -> tuple[str, str]:
    scope = _json(params, "scope") or {"type": "default"}
    return json.dumps(scope, sort_keys=True), _str(params, "language_code") or ""


def _message_text(params: JSONDict) -> tuple[Parsed, str, str | None]:
    source = _str(params, "text") or ""
    if not source:
        raise _Fail(400, "Bad Request: message text is empty")
    parse_mode = _str(params, "parse_mode") or None
    mode = (parse_mode or "").lower()
    if mode == "html":
        try:
            parsed = parse_html(source)
        except HtmlError as exc:
            raise _Fail(400, f"Bad Request: can't parse entities: {exc}") from None
    elif mode in ("", "markdown", "markdownv2"):
        # Markdown is passed through unchecked: this project only sends HTML.
        parsed = Parsed(source)
    else:
        raise _Fail(400, "Bad Request: unsupported parse_mode")
    # Telegram trims surrounding whitespace before checking, shifting entities with it.
    stripped = parsed.text.strip()
    if not stripped:
        raise _Fail(400, "Bad Request: message text is empty")
    if utf16_len(stripped) > MAX_TEXT:
        raise _Fail(400, "Bad Request: message is too long")
    lead = utf16_len(parsed.text) - utf16_len(parsed.text.lstrip())
    size = utf16_len(stripped)
    entities = []
    for entity in parsed.entities:
        start = max(entity["offset"] - lead, 0)
        end = min(entity["offset"] + entity["length"] - lead, size)
        if end > start:
            entities.append({**entity, "offset": start, "length": end - start})
    return Parsed(stripped, entities), source, parse_mode


def _caption(params: JSONDict) -> tuple[Parsed, str, str | None]:
    """A photo's caption as Telegram checks it: optional, at most 1024 characters."""
    source = _str(params, "caption") or ""
    parse_mode = _str(params, "parse_mode") or None
    if not source:
        return Parsed(""), "", parse_mode
    if (parse_mode or "").lower() == "html":
        try:
            parsed = parse_html(source)
        except HtmlError as exc:
            raise _Fail(400, f"Bad Request: can't parse entities: {exc}") from None
    else:
        parsed = Parsed(source)
    stripped = parsed.text.strip()
    if utf16_len(stripped) > MAX_CAPTION:
        raise _Fail(400, "Bad Request: message caption is too long")
    return Parsed(stripped, parsed.entities if stripped == parsed.text else []), source, parse_mode


def _reply_markup(params: JSONDict) -> JSONDict | None:
    if params.get("reply_markup") in (None, ""):
        return None
    try:
        markup = _json(params, "reply_markup")
    except _Fail:
        raise _Fail(400, "Bad Request: can't parse reply keyboard markup JSON object") from None
    if not isinstance(markup, dict):
        raise _Fail(400, "Bad Request: object expected as reply markup")
    if "inline_keyboard" in markup:
        _check_inline(markup["inline_keyboard"])
    elif "keyboard" in markup:
        _check_keyboard(markup["keyboard"])
    elif markup.get("remove_keyboard") is not True and markup.get("force_reply") is not True:
        raise _Fail(400, "Bad Request: can't parse reply keyboard markup JSON object")
    return markup


def _rows(rows: object) -> list[list[Any]]:
    if not isinstance(rows, list) or not all(isinstance(r, list) for r in rows):
        raise _Fail(400, "Bad Request: can't parse reply keyboard markup JSON object")
    if sum(len(r) for r in rows) > MAX_BUTTONS:
        raise _Fail(400, "Bad Request: reply markup is too long")
    return rows


def _check_inline(rows: object) -> None:
    for row in _rows(rows):
        for button in row:
            if not isinstance(button, dict) or not str(button.get("text", "")).strip():
                raise _Fail(
                    400, "Bad Request: can't parse inline keyboard button: Text must be non-empty"
                )
            actions = [a for a in _BUTTON_ACTIONS if a in button]
            if len(actions) != 1:
                raise _Fail(400, "Bad Request: text buttons are unallowed in the inline keyboard")
            if "callback_data" in button:
                data = button["callback_data"]
                size = len(data.encode("utf-8")) if isinstance(data, str) else 0
                if not 1 <= size <= MAX_CALLBACK_DATA:
                    raise _Fail(400, "Bad Request: BUTTON_DATA_INVALID")


def _check_keyboard(rows: object) -> None:
    for row in _rows(rows):
        for button in row:
            text = (
                button
                if isinstance(button, str)
                else (button.get("text") if isinstance(button, dict) else None)
            )
            if not isinstance(text, str) or not text.strip():
                raise _Fail(400, "Bad Request: keyboard button text must be non-empty")


def _is_allowed(update: JSONDict, allowed: tuple[str, ...] | None) -> bool:
    kind = next((k for k in update if k != "update_id"), None)
    if kind is None:
        return False
    if allowed:
        return kind in allowed
    return kind not in _OPT_IN_UPDATES


def _username(name: str, suffix: int, *, bot: bool) -> str:
    base = re.sub(r"[^a-z0-9_]", "", name.lower()) or "user"
    handle = f"{base}_{suffix}"
    return f"{handle[:28]}_bot" if bot else handle[:32]
