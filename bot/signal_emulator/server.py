"""A fake signal-cli-rest-api (json-rpc mode) on 127.0.0.1, as signalbot 2.2 uses it.

Endpoints: ``GET /v1/health`` (204), ``GET /v1/about``, ``GET /v1/groups/{number}`` (``[]``),
the websocket ``/v1/receive/{number}``, ``POST /v2/send``, ``PUT/DELETE
/v1/typing-indicator/{number}``, ``POST/DELETE /v1/reactions/{number}``, ``POST
/v1/receipts/{number}``, ``POST /v1/accounts/{number}/rate-limit-challenge`` and ``GET/DELETE
/v1/attachments/{id}`` (files people sent, see :meth:`FakePerson.send_attachment`).
``/v2/send`` takes ``base64_attachments`` (``data:<type>;base64,...`` or bare base64) and
refuses an image that still carries EXIF/XMP/ICC data, so a leak fails a test.

Like the real server it parses request bodies as JSON whatever the content type (signalbot
sends none), pushes every incoming message to *every* connected websocket and stores nothing:
a message that arrives while no websocket is connected is lost (:attr:`SignalEmulator.lost`).
``/v2/send`` answers 201 with a list ``[{"timestamp": "..."}]``, a per-recipient
``UNREGISTERED_FAILURE`` for people who left Signal, and on request 429 with challenge tokens
(the body signal-cli-rest-api builds from signal-cli's rate-limit error), 429 whose tokens are
``""`` (a rate limit without a challenge: signal-cli's null token, as the real API passes it
on), or 5xx.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import contextlib
import itertools
import json
import random
import re
import time
import uuid
from collections.abc import Awaitable, Callable
from types import TracebackType
from typing import Any, Final, Self

from aiohttp import WSCloseCode, web

from bot.privacy.images import hidden_data
from bot.signal_emulator.people import DEFAULT_TIMEOUT, FakePerson, Unregistered
from bot.signal_emulator.records import (
    ApiCall,
    ApiError,
    Challenge,
    FaultKind,
    Indicator,
    SentMessage,
    SignalFaults,
)

DEFAULT_NUMBER: Final = "+16045550100"  # 555-01xx: reserved for fiction in North America
API_VERSION: Final = "0.101"
RATE_LIMIT_ERROR: Final = (
    "Failed to send message due to rate limiting. Use the attached challenge tokens to lift "
    "the rate limit restrictions via the '/v1/accounts/{number}/rate-limit-challenge' endpoint."
)
_E164 = re.compile(r"\+[1-9][0-9]{6,14}")
_MAX_PEOPLE = 99
MAX_BODY: Final = 150 * 1024 * 1024  # a request body (signal-cli-rest-api sets no small limit)

JSONDict = dict[str, Any]
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class _Fail(Exception):
    """An error answer, raised inside a handler and turned into ``{"error": ...}``."""

    def __init__(self, status: int, error: str, *, injected: bool = False, **extra: Any) -> None:
        super().__init__(error)
        self.status = status
        self.error = error
        self.injected = injected
        self.extra = extra


class SignalEmulator:
    """The fake server. Use ``async with SignalEmulator() as emu:`` or start()/stop().

    Point signalbot at :attr:`service` (``host:port``, ``connection_mode: http_only``) with
    :attr:`number`. Not thread-safe: use it from the event loop it was started in.
    """

    def __init__(
        self,
        *,
        number: str = DEFAULT_NUMBER,
        faults: SignalFaults | None = None,
        seed: int = 0,
        host: str = "127.0.0.1",
        port: int = 0,
        mode: str = "json-rpc",
        version: str = API_VERSION,
    ) -> None:
        if not _E164.fullmatch(number):
            raise ValueError("the account number must be in E.164 form, e.g. +16045550100")
        self.number = number
        self.faults = faults or SignalFaults()
        self.host = host
        self.port = port
        self.mode = mode
        self.version = version

        self.people: dict[str, FakePerson] = {}
        self.sent: list[SentMessage] = []
        self.calls: list[ApiCall] = []
        self.errors: list[ApiError] = []
        self.indicators: list[Indicator] = []
        self.challenges: dict[str, Challenge] = {}
        self.lost: list[JSONDict] = []  # frames pushed while nobody was connected
        self.undelivered: list[str] = []  # recipients answered with UNREGISTERED_FAILURE
        self.problems: list[str] = []  # protocol misuse worth failing a test over
        self.connections = 0  # websockets ever accepted
        self.captcha_required = False  # every send answers 429 until a challenge is solved
        # Files people sent, by attachment id (fetched by GET /v1/attachments/{id}).
        self.attachments: dict[str, bytes] = {}
        self.fetched: list[str] = []  # attachment ids the bot downloaded
        self.metadata_refused: list[list[str]] = []  # images sent with hidden data (refused)

        # Seeded on purpose (not secrets): a failing test must replay with the same ids.
        self._rng = random.Random(seed)  # noqa: S311
        self._fault_rng = random.Random(self.faults.seed)  # noqa: S311
        self._planned: list[FaultKind | None] = []  # None: let that send through
        self._captcha_after: int | None = None  # sends left before require_captcha(after=n)
        self._by_id: dict[str, FakePerson] = {}
        self._sockets: set[web.WebSocketResponse] = set()
        self._clock_ms = 0
        self._attachments = itertools.count(1)
        self._tick = asyncio.Event()
        self._runner: web.AppRunner | None = None

    # -- life cycle ----------------------------------------------------------------------

    async def start(self) -> None:
        """Listen on ``host:port`` (port 0 picks a free one; read :attr:`port` afterwards)."""
        if self._runner is not None:
            raise RuntimeError("the emulator is already running")
        # Attachments travel base64-encoded in JSON: far beyond aiohttp's default 1 MB.
        app = web.Application(middlewares=[self._record], client_max_size=MAX_BODY)
        number = "/{number}"
        routes: list[tuple[str, str, Handler]] = [
            ("GET", "/v1/health", self._health),
            ("GET", "/v1/about", self._about),
            ("GET", "/v1/groups" + number, self._groups),
            ("GET", "/v1/receive" + number, self._receive),
            ("POST", "/v2/send", self._send),
            ("PUT", "/v1/typing-indicator" + number, self._indicator("typing-start")),
            ("DELETE", "/v1/typing-indicator" + number, self._indicator("typing-stop")),
            ("POST", "/v1/reactions" + number, self._indicator("reaction")),
            ("DELETE", "/v1/reactions" + number, self._indicator("reaction-remove")),
            ("POST", "/v1/receipts" + number, self._indicator("receipt")),
            ("POST", "/v1/accounts" + number + "/rate-limit-challenge", self._solve),
            ("GET", "/v1/attachments", self._list_attachments),
            ("GET", "/v1/attachments/{attachment}", self._get_attachment),
            ("DELETE", "/v1/attachments/{attachment}", self._delete_attachment),
        ]
        for method, path, handler in routes:
            app.router.add_route(method, path, handler)
        app.router.add_route("*", "/{tail:.*}", self._unknown)
        # access_log=None: request paths carry the account number.
        runner = web.AppRunner(app, access_log=None, shutdown_timeout=1.0)
        await runner.setup()
        try:
            await web.TCPSite(runner, self.host, self.port).start()
        except BaseException:
            await runner.cleanup()
            raise
        self.port = int(runner.addresses[0][1])
        self._runner = runner

    async def stop(self) -> None:
        """Close every websocket (1001, going away) and stop listening (idempotent)."""
        runner, self._runner = self._runner, None
        if runner is None:
            return
        await self.close_websockets(code=WSCloseCode.GOING_AWAY)
        await runner.cleanup()

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
    def service(self) -> str:
        """``host:port`` for signalbot's ``signal_service`` setting."""
        return f"{self.host}:{self.port}"

    @property
    def receivers(self) -> int:
        """Websockets connected right now."""
        return len(self._sockets)

    # -- people --------------------------------------------------------------------------

    def person(self, name: str, *, share_number: bool = True) -> FakePerson:
        """The person called ``name``, created on first use with a +1 604 555 01xx number."""
        existing = self.people.get(name)
        if existing is not None:
            return existing
        if len(self.people) >= _MAX_PEOPLE:
            raise ValueError("the 555-01xx range holds 99 people; use another emulator")
        number = f"{self.number[:-2]}{len(self.people) + 1:02d}"
        if number == self.number:
            number = f"{self.number[:-2]}{_MAX_PEOPLE:02d}"
        person = FakePerson(
            self,
            name=name,
            number=number,
            uuid=str(uuid.UUID(int=self._rng.getrandbits(128), version=4)),
            share_number=share_number,
        )
        self.people[name] = person
        for ident in person.identifiers:
            self._by_id[ident] = person
        return person

    def inbox(self, person: FakePerson) -> list[SentMessage]:
        """What the bot sent ``person`` (to their number or their UUID), oldest first."""
        idents = set(person.identifiers)
        return [m for m in self.sent if m.recipient in idents]

    def now_ms(self) -> int:
        """A millisecond clock that never repeats a value (Signal timestamps identify messages)."""
        self._clock_ms = max(self._clock_ms + 1, int(time.time() * 1000))
        return self._clock_ms

    def attachment_id(self, content_type: str) -> str:
        """A stored-attachment id like signal-cli's (``<random>.jpg``)."""
        suffix = content_type.rsplit("/", 1)[-1].split(";")[0][:8] or "bin"
        return f"att{next(self._attachments):04d}{self._rng.getrandbits(40):010x}.{suffix}"

    def envelope(self, person: FakePerson, *, timestamp: int, **fields: Any) -> JSONDict:
        """A json-rpc receive frame from ``person`` with extra envelope ``fields``."""
        envelope: JSONDict = {
            "source": person.number if person.share_number else person.uuid,
            "sourceNumber": person.number if person.share_number else None,
            "sourceUuid": person.uuid,
            "sourceName": person.profile_name,
            "sourceDevice": 1,
            "timestamp": timestamp,
            # Both are required by signalbot; without them the message is silently dropped.
            "serverReceivedTimestamp": timestamp + 41,
            "serverDeliveredTimestamp": timestamp + 57,
        }
        envelope.update(fields)
        return {"account": self.number, "envelope": envelope}

    def typing_frame(self, person: FakePerson) -> JSONDict:
        """``person`` started typing."""
        now = self.now_ms()
        return self.envelope(
            person, timestamp=now, typingMessage={"action": "STARTED", "timestamp": now}
        )

    def receipt_frame(self, person: FakePerson, timestamps: list[int]) -> JSONDict:
        """``person``'s phone confirms delivery of the bot's messages sent at ``timestamps``."""
        now = self.now_ms()
        receipt = {
            "when": now,
            "isDelivery": True,
            "isRead": False,
            "isViewed": False,
            "timestamps": timestamps,
        }
        return self.envelope(person, timestamp=now, receiptMessage=receipt)

    def own_device_frame(self, person: FakePerson, text: str) -> JSONDict:
        """A sync message: the account's *other* device sent ``text`` to ``person``."""
        now = self.now_ms()
        sent = {
            "destination": person.number,
            "destinationNumber": person.number,
            "destinationUuid": person.uuid,
            "timestamp": now,
            "message": text,
            "expiresInSeconds": 0,
            "viewOnce": False,
        }
        return {
            "account": self.number,
            "envelope": {
                "source": self.number,
                "sourceNumber": self.number,
                "sourceUuid": str(uuid.UUID(int=self._rng.getrandbits(128), version=4)),
                "sourceName": "hrbot",
                "sourceDevice": 2,
                "timestamp": now,
                "serverReceivedTimestamp": now + 30,
                "serverDeliveredTimestamp": now + 31,
                "syncMessage": {"sentMessage": sent},
            },
        }

    # -- pushing -------------------------------------------------------------------------

    async def push(self, frame: JSONDict) -> int:
        """Send ``frame`` to every connected websocket; returns how many got it (0: lost)."""
        delivered = await self.push_raw(json.dumps(frame))
        if delivered == 0:
            self.lost.append(frame)
        return delivered

    async def push_raw(self, text: str) -> int:
        """Send raw ``text`` to every connected websocket (for malformed-frame tests)."""
        delivered = 0
        for ws in list(self._sockets):
            try:
                await ws.send_str(text)
            except (ConnectionError, RuntimeError):
                self._sockets.discard(ws)  # closing under us
                continue
            delivered += 1
        self._changed()
        return delivered

    async def push_error(self, error: str) -> int:
        """The ``{"error": ...}`` frame signal-cli-rest-api pushes when receiving fails."""
        return await self.push_raw(json.dumps({"error": error}))

    async def close_websockets(self, code: int = WSCloseCode.OK, message: str = "") -> int:
        """Close every receive websocket from the server side; returns how many were open.

        Code 1000 is a clean close, after which signalbot's receive loop just ends.
        """
        sockets, self._sockets = list(self._sockets), set()
        for ws in sockets:
            with contextlib.suppress(ConnectionError, RuntimeError):
                await ws.close(code=code, message=message.encode())
        self._changed()
        return len(sockets)

    # -- faults --------------------------------------------------------------------------

    def fail_next_send(self, kind: FaultKind | str, *, count: int = 1, after: int = 0) -> None:
        """Let ``after`` sends through, then answer ``count`` sends with ``kind``
        (rate_limit, plain_rate_limit, server_error, bad_request) or send them and drop the
        answer (lost_answer)."""
        self._planned.extend([None] * after + [FaultKind(kind)] * count)

    def require_captcha(self, *, after: int = 0) -> None:
        """Answer every send with 429 until a challenge token is solved (Signal's "proof
        required" state), starting once ``after`` more sends were made (as when a number
        has just messaged many new people)."""
        if after < 0:
            raise ValueError("after must not be negative")
        self._captcha_after = after
        self._count_down_captcha()

    def _count_down_captcha(self) -> None:
        if self._captcha_after == 0:
            self.captcha_required, self._captcha_after = True, None

    # -- waiting -------------------------------------------------------------------------

    async def wait_for(
        self,
        predicate: Callable[[], bool],
        *,
        within: float = DEFAULT_TIMEOUT,
        what: str | Callable[[], str] = "a condition",
    ) -> None:
        """Wait until ``predicate()`` holds, re-checked after every request and push.

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

    async def wait_for_receivers(
        self, count: int = 1, *, connections: int = 0, within: float = DEFAULT_TIMEOUT
    ) -> None:
        """Wait until ``count`` websockets are connected and at least ``connections`` were
        ever accepted (pass ``emu.connections + 1`` to wait for a *re*connection)."""
        await self.wait_for(
            lambda: self.receivers >= count and self.connections >= connections,
            within=within,
            what=lambda: (
                f"{count} receiver(s) and {connections} connection(s); "
                f"have {self.receivers} and {self.connections}"
            ),
        )

    def _changed(self) -> None:
        tick, self._tick = self._tick, asyncio.Event()
        tick.set()

    # -- HTTP ----------------------------------------------------------------------------

    @web.middleware
    async def _record(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        try:
            response = await handler(request)
        except _Fail as fail:
            self.errors.append(ApiError(request.path, fail.status, fail.error, fail.injected))
            response = web.json_response({"error": fail.error, **fail.extra}, status=fail.status)
        self.calls.append(ApiCall(request.method, request.path, response.status))
        self._changed()
        return response

    def _check_account(self, request: web.Request) -> None:
        if request.match_info.get("number") != self.number:
            raise _Fail(400, "Invalid account (phone number), make sure it is registered")

    async def _health(self, request: web.Request) -> web.StreamResponse:
        return web.Response(status=204)

    async def _about(self, request: web.Request) -> web.StreamResponse:
        return web.json_response(
            {
                "versions": ["v1", "v2"],
                "build": 2,
                "mode": self.mode,
                "version": self.version,
                "capabilities": {"v2/send": ["quotes", "mentions"]},
            }
        )

    async def _groups(self, request: web.Request) -> web.StreamResponse:
        self._check_account(request)
        return web.json_response([])

    async def _unknown(self, request: web.Request) -> web.StreamResponse:
        self.problems.append(f"unknown endpoint {request.method} {request.path}")
        raise _Fail(404, "not found")

    async def _receive(self, request: web.Request) -> web.StreamResponse:
        if request.match_info.get("number") != self.number:
            self.problems.append("websocket opened for another account")
            raise _Fail(400, "Invalid account (phone number)")
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        self._sockets.add(ws)
        self.connections += 1
        self._changed()
        try:
            async for _message in ws:
                pass  # the real server ignores what clients send on this socket
        finally:
            self._sockets.discard(ws)
            self._changed()
        return ws

    async def _json(self, request: web.Request) -> JSONDict:
        # Parsed from the raw text: signalbot sends JSON without a JSON content type.
        try:
            body = json.loads(await request.text())
        except ValueError:
            raise _Fail(400, "Couldn't process request - invalid request") from None
        if not isinstance(body, dict):
            raise _Fail(400, "Couldn't process request - invalid request")
        return body

    def _indicator(self, kind: str) -> Handler:
        async def handle(request: web.Request) -> web.StreamResponse:
            self._check_account(request)
            body = await self._json(request)
            self.indicators.append(Indicator(kind, body))
            return web.Response(status=204)

        return handle

    async def _solve(self, request: web.Request) -> web.StreamResponse:
        self._check_account(request)
        body = await self._json(request)
        token, captcha = body.get("challenge_token"), body.get("captcha")
        if not isinstance(token, str) or not token:
            raise _Fail(400, "Couldn't process request - challenge token missing")
        if token not in self.challenges or not isinstance(captcha, str) or not captcha:
            raise _Fail(400, "Failed to submit rate limit challenge")
        self.challenges[token] = Challenge(token, solved_with=captcha)
        self.captcha_required = False
        return web.Response(status=204)

    async def _list_attachments(self, request: web.Request) -> web.StreamResponse:
        return web.json_response(sorted(self.attachments))

    async def _get_attachment(self, request: web.Request) -> web.StreamResponse:
        ident = request.match_info["attachment"]
        data = self.attachments.get(ident)
        if data is None:
            raise _Fail(400, "Couldn't get attachment - file not found")
        self.fetched.append(ident)
        return web.Response(body=data, content_type="application/octet-stream")

    async def _delete_attachment(self, request: web.Request) -> web.StreamResponse:
        ident = request.match_info["attachment"]
        if self.attachments.pop(ident, None) is None:
            raise _Fail(400, "Couldn't delete attachment - file not found")
        return web.Response(status=204)

    def _sent_files(self, body: JSONDict) -> tuple[tuple[str, bytes], ...]:
        raw = body.get("base64_attachments")
        if raw is None:
            return ()
        if not isinstance(raw, list) or not all(isinstance(item, str) for item in raw):
            raise _Fail(400, "Couldn't process request - invalid request")
        decoded = []
        for item in raw:
            content_type, data = _decode_attachment(item)
            if content_type.startswith("image/"):
                hidden = hidden_data(data)
                if hidden:
                    self.metadata_refused.append(hidden)
                    raise _Fail(400, f"Emulator: attachment carries hidden data ({hidden})")
            decoded.append((content_type, data))
        return tuple(decoded)

    async def _send(self, request: web.Request) -> web.StreamResponse:
        body = await self._json(request)
        recipients = self._recipients(body)
        if body.get("number") != self.number:
            raise _Fail(400, "Couldn't process request - please provide a valid number")
        attachments = self._sent_files(body)
        text = body.get("message")
        if attachments and text is None:
            text = ""
        if not isinstance(text, str) or not (text or attachments):
            raise _Fail(
                400,
                "Sending empty message is not allowed, either a message, attachment or "
                "sticker must be given.",
            )
        lost = self._inject(body, len(recipients))
        timestamp = self.now_ms()
        failures: list[JSONDict] = []
        delivered: list[SentMessage] = []
        for recipient in recipients:
            person = self._by_id.get(recipient)
            if person is not None and not person.registered:
                if person.unregistered_style is Unregistered.ERROR and len(recipients) == 1:
                    raise _Fail(400, f"The user {recipient} is not registered.")
                failures.append(
                    {"number": person.number, "uuid": person.uuid, "reason": "UNREGISTERED_FAILURE"}
                )
                self.undelivered.append(recipient)
                continue
            mode = body.get("text_mode")
            delivered.append(
                SentMessage(
                    recipient=recipient,
                    text=text,
                    timestamp=timestamp,
                    text_mode=mode if isinstance(mode, str) else None,
                    body=body,
                    attachments=attachments,
                )
            )
        if delivered and not delivered[0].inline:
            self.problems.append(
                f"a {len(text.encode())}-byte message would travel as a long-text attachment"
            )
        self.sent.extend(delivered)
        if lost and request.transport is not None:
            request.transport.close()
            raise ConnectionResetError("answer lost (injected)")
        result: JSONDict = {"timestamp": str(timestamp)}
        if failures:
            result["errors"] = {"recipients": failures}
        return web.json_response([result], status=201)

    def _recipients(self, body: JSONDict) -> list[str]:
        recipients = body.get("recipients")
        if not isinstance(recipients, list) or not recipients:
            raise _Fail(400, "Couldn't process request - please provide at least one recipient")
        for recipient in recipients:
            if not isinstance(recipient, str) or not _valid_recipient(recipient):
                raise _Fail(400, "Invalid recipient type")
        return recipients

    def _inject(self, body: JSONDict, recipients: int) -> bool:
        """Raise the planned or drawn fault; True when the send should lose its answer."""
        if self._captcha_after is not None:
            self._captcha_after -= 1
        planned = self._planned.pop(0) if self._planned else None
        if planned is None and self.captcha_required:
            planned = FaultKind.RATE_LIMIT
        self._count_down_captcha()  # the send that used up `after` itself goes through
        if planned is None:
            draw = self._fault_rng.random()
            plain = self.faults.rate_limit + self.faults.plain_rate_limit
            if draw < self.faults.rate_limit:
                planned = FaultKind.RATE_LIMIT
            elif draw < plain:
                planned = FaultKind.PLAIN_RATE_LIMIT
            elif draw < plain + self.faults.server_error:
                planned = FaultKind.SERVER_ERROR
        if planned is FaultKind.PLAIN_RATE_LIMIT:
            # signal-cli-rest-api copies each result's token; Go turns signal-cli's null into "".
            raise _Fail(
                429,
                RATE_LIMIT_ERROR,
                injected=True,
                challenge_tokens=[""] * recipients,
                account=self.number,
            )
        if planned is FaultKind.RATE_LIMIT:
            token = str(uuid.UUID(int=self._rng.getrandbits(128), version=4))
            self.challenges[token] = Challenge(token)
            raise _Fail(
                429,
                RATE_LIMIT_ERROR,
                injected=True,
                challenge_tokens=[token],
                account=self.number,
            )
        if planned is FaultKind.SERVER_ERROR:
            raise _Fail(self.faults.server_status, "Internal Server Error", injected=True)
        if planned is FaultKind.BAD_REQUEST:
            raise _Fail(400, "Failed to send message: unexpected error", injected=True)
        return planned is FaultKind.LOST_ANSWER


def _decode_attachment(item: str) -> tuple[str, bytes]:
    """``data:<type>[;filename=<name>];base64,<data>`` or bare base64, as the real API takes."""
    content_type = "application/octet-stream"
    payload = item
    if item.startswith("data:"):
        head, sep, payload = item.partition(",")
        parts = head[len("data:") :].split(";")
        if not sep or parts[-1] != "base64":
            raise _Fail(400, "Couldn't process request - invalid base64 attachment")
        content_type = parts[0] or content_type
    try:
        data = base64.b64decode(payload, validate=True)
    except (binascii.Error, ValueError):
        raise _Fail(400, "Couldn't process request - invalid base64 attachment") from None
    if not data:
        raise _Fail(400, "Couldn't process request - invalid base64 attachment")
    if content_type == "application/octet-stream" and data.startswith(b"\xff\xd8"):
        content_type = "image/jpeg"
    return content_type, data


def _valid_recipient(value: str) -> bool:
    if _E164.fullmatch(value):
        return True
    try:
        return str(uuid.UUID(value)) == value.lower()
    except ValueError:
        return False
