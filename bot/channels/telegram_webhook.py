"""The webhook's web server: Telegram POSTs updates here (tornado, as python-telegram-bot's own).

PTB's server reads the whole body before it looks at the secret, compares the secret with
``!=`` and answers a wrong one at once. This one decides on the headers alone, before a byte
of the body is read: a missing or wrong ``X-Telegram-Bot-Api-Secret-Token`` (compared in
constant time) gets 403 after :data:`REJECT_DELAY`, and the connection is closed; a body
larger than :data:`MAX_BODY_BYTES` gets 413. At most :data:`MAX_PENDING_REJECTIONS`
rejections wait at once; beyond that a request is dropped without an answer, so wrong
guesses cost a prober a second each and the server a bounded amount of memory.

Privacy: nothing here logs a body, a secret or a client address.
"""

from __future__ import annotations

import asyncio
import hmac
import json
import logging
import re
from collections.abc import Awaitable, Callable
from http import HTTPStatus
from types import TracebackType
from typing import Any, Final

import tornado.web
from tornado.httpserver import HTTPServer
from tornado.httputil import HTTPServerRequest
from tornado.iostream import StreamClosedError

log = logging.getLogger(__name__)

SECRET_HEADER: Final = "X-Telegram-Bot-Api-Secret-Token"  # noqa: S105 (a header name)
# Telegram's updates are a few KiB (a message is at most 4096 characters).
MAX_BODY_BYTES: Final = 1 << 20
REJECT_DELAY: Final = 1.0
MAX_PENDING_REJECTIONS: Final = 64
# Telegram's alphabet and length for a webhook secret token.
SECRET_PATTERN: Final = re.compile(r"[A-Za-z0-9_-]{1,256}")

# Takes one parsed JSON update; raises ValueError when it is not an update.
Accept = Callable[[Any], Awaitable[None]]


def secret_matches(given: str | None, expected: str) -> bool:
    """Whether the header carries the secret, compared in constant time (bytes: a header
    may hold any Latin-1 text, which ``compare_digest`` refuses as ``str``)."""
    if given is None:
        return False
    return hmac.compare_digest(given.encode("latin-1", "replace"), expected.encode())


class WebhookServer:
    """Listens on ``listen:port`` at ``path`` and hands each verified update to ``accept``."""

    def __init__(
        self,
        *,
        path: str,
        secret: str,
        accept: Accept,
        max_body: int = MAX_BODY_BYTES,
        reject_delay: float = REJECT_DELAY,
        max_pending_rejections: int = MAX_PENDING_REJECTIONS,
    ) -> None:
        if not SECRET_PATTERN.fullmatch(secret):
            raise ValueError("a webhook secret is 1-256 characters of A-Z, a-z, 0-9, _ and -")
        self.path = path if path.startswith("/") else f"/{path}"
        self.max_body = max_body
        self.reject_delay = reject_delay
        self.max_pending_rejections = max_pending_rejections
        self.pending_rejections = 0
        self.rejected = 0  # wrong or missing secrets answered or dropped, since start
        self._secret = secret
        self._accept = accept
        app = _App([(rf"{re.escape(self.path.rstrip('/'))}/?", _UpdateHandler, {"server": self})])
        self._http = HTTPServer(
            app,
            # Also enforced by tornado itself for a chunked body without Content-Length.
            max_body_size=max_body,
            max_buffer_size=max_body + (64 << 10),
            idle_connection_timeout=60,
            body_timeout=30,
        )

    def listen(self, host: str, port: int) -> None:
        """Start listening (raises OSError when ``host:port`` cannot be bound)."""
        self._http.listen(port, address=host)

    async def stop(self) -> None:
        """Stop accepting and close open connections (requests in hand are cut off)."""
        self._http.stop()
        await self._http.close_all_connections()

    def authorised(self, request: HTTPServerRequest) -> bool:
        return secret_matches(request.headers.get(SECRET_HEADER), self._secret)

    async def accept(self, data: Any) -> None:
        await self._accept(data)


class _App(tornado.web.Application):
    def log_request(self, handler: tornado.web.RequestHandler) -> None:
        """No access log: it would hold client addresses."""


@tornado.web.stream_request_body
class _UpdateHandler(tornado.web.RequestHandler):
    """Checks a request on its headers in :meth:`prepare`; reads the body only after."""

    SUPPORTED_METHODS = ("POST",)

    def initialize(self, server: WebhookServer) -> None:
        self.server = server
        self.chunks: list[bytes] = []
        self.dropped = False

    async def prepare(self) -> None:
        server = self.server
        if not server.authorised(self.request):
            server.rejected += 1
            if server.pending_rejections >= server.max_pending_rejections:
                self.request.connection.close()  # type: ignore[union-attr]
                self.dropped = True
                return
            server.pending_rejections += 1
            try:
                # Fixed, whoever asks: slows guessing without telling anything by timing.
                await asyncio.sleep(server.reject_delay)
            finally:
                server.pending_rejections -= 1
            self._refuse(HTTPStatus.FORBIDDEN)
            return
        length = self.request.headers.get("Content-Length")
        if length is not None and (not length.isdigit() or int(length) > server.max_body):
            self._refuse(HTTPStatus.REQUEST_ENTITY_TOO_LARGE)
            return
        content_type = self.request.headers.get("Content-Type", "")
        if content_type.split(";")[0].strip().lower() != "application/json":
            self._refuse(HTTPStatus.UNSUPPORTED_MEDIA_TYPE)

    def _refuse(self, status: HTTPStatus) -> None:
        # Closing is the only way not to read a body that was announced.
        self.set_header("Connection", "close")
        self.set_status(status)
        self.finish()

    def data_received(self, chunk: bytes) -> None:
        self.chunks.append(chunk)

    async def post(self) -> None:
        if self.dropped:
            return
        try:
            data = json.loads(b"".join(self.chunks))
            await self.server.accept(data)
        except ValueError:
            log.warning("an update from Telegram could not be parsed and was dropped")
            self.set_status(HTTPStatus.BAD_REQUEST)
            return
        self.set_status(HTTPStatus.OK)

    def write_error(self, status_code: int, **kwargs: Any) -> None:
        """Status only: no traceback, no HTML page."""

    def log_exception(
        self,
        typ: type[BaseException] | None,
        value: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        # A closed connection is a dropped request (see prepare), not a failure.
        if not isinstance(value, StreamClosedError | tornado.web.HTTPError):
            log.error("the webhook failed to handle a request: %s", typ.__name__ if typ else "?")
