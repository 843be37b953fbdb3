"""The Telegram webhook: a route of the web app that Telegram POSTs updates to.

It decides on the headers before reading a byte of the body: a missing or wrong
``X-Telegram-Bot-Api-Secret-Token`` (compared in constant time) gets 403 after
:data:`REJECT_DELAY`, the same for everyone, so wrong guesses cost a prober a second each; at
most :data:`MAX_PENDING_REJECTIONS` wait at once, beyond that a wrong guess gets 429 at once
(bounded memory: each waiting request holds uvicorn's read buffer). A ``Content-Length`` over
:data:`MAX_BODY_BYTES` gets 413 at once; a body without one (chunked) is counted while it
streams in and refused with 413 as soon as it passes the limit. Refusals close the connection:
the only way not to read a body that was announced. Then the JSON goes to ``accept``, which
the Telegram channel provides (it keeps private chats only: see ``TelegramChannel._translate``)
and which returns only once the update has been handled: 200 means done, not queued, since
Telegram never sends again what got a 200.

Privacy: nothing here logs a body, a secret or a client address.
"""

from __future__ import annotations

import asyncio
import hmac
import json
import logging
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from enum import StrEnum
from http import HTTPStatus
from typing import Any, Final

from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response
from starlette.routing import Route

log = logging.getLogger(__name__)

SECRET_HEADER: Final = "X-Telegram-Bot-Api-Secret-Token"  # noqa: S105 (a header name)
# Telegram's updates are a few KiB (a message is at most 4096 characters).
MAX_BODY_BYTES: Final = 1 << 20
REJECT_DELAY: Final = 1.0
MAX_PENDING_REJECTIONS: Final = 64
# Telegram's alphabet and length for a webhook secret token.
SECRET_PATTERN: Final = re.compile(r"[A-Za-z0-9_-]{1,256}")

# Takes one parsed JSON update and returns once it is handled; raises ValueError when it is
# not an update, NotReady when the bot cannot take (or finish) updates now.
Accept = Callable[[Any], Awaitable[None]]


class NotReady(Exception):
    """The receiver cannot take updates now (starting or stopping): 503, Telegram retries."""


class Refusal(StrEnum):
    """Why the webhook refused a request (the ``reason`` label of ``hrbot_webhook_refused``)."""

    FORBIDDEN = "forbidden"  # wrong or missing secret
    TOO_LARGE = "too_large"  # body over the limit
    BAD_REQUEST = "bad_request"  # not JSON, not an update, not application/json


def secret_matches(given: str | None, expected: str) -> bool:
    """Whether the header carries the secret, compared in constant time (bytes: a header
    may hold any Latin-1 text, which ``compare_digest`` refuses as ``str``)."""
    if given is None:
        return False
    return hmac.compare_digest(given.encode("latin-1", "replace"), expected.encode())


@dataclass(frozen=True)
class Webhook:
    """What a channel receives on the web app: the URL ``path``, the ``secret`` Telegram
    sends, and ``accept`` for each verified update."""

    path: str
    secret: str
    accept: Accept
    max_body: int = MAX_BODY_BYTES
    reject_delay: float = REJECT_DELAY
    max_pending_rejections: int = MAX_PENDING_REJECTIONS

    def __post_init__(self) -> None:
        if not SECRET_PATTERN.fullmatch(self.secret):
            raise ValueError("a webhook secret is 1-256 characters of A-Z, a-z, 0-9, _ and -")
        if not self.path.startswith("/"):
            object.__setattr__(self, "path", f"/{self.path}")


class WebhookEndpoint:
    """The route's handler for one :class:`Webhook`; ``on_refusal`` counts each refusal."""

    def __init__(
        self, hook: Webhook, *, on_refusal: Callable[[Refusal], None] | None = None
    ) -> None:
        self.hook = hook
        self.on_refusal = on_refusal
        self.pending_rejections = 0
        self.rejected = 0  # wrong or missing secrets, since start

    def route(self) -> Route:
        return Route(self.hook.path, self.handle, methods=["POST"])

    def _refuse(self, status: HTTPStatus, reason: Refusal | None) -> Response:
        if reason is not None and self.on_refusal is not None:
            self.on_refusal(reason)
        # Closing is the only way not to read a body that was announced.
        return Response(status_code=status, headers={"Connection": "close"})

    async def handle(self, request: Request) -> Response:
        hook = self.hook
        if not secret_matches(request.headers.get(SECRET_HEADER), hook.secret):
            self.rejected += 1
            if self.pending_rejections >= hook.max_pending_rejections:
                return self._refuse(HTTPStatus.TOO_MANY_REQUESTS, Refusal.FORBIDDEN)
            self.pending_rejections += 1
            try:
                # Fixed, whoever asks: slows guessing without telling anything by timing.
                await asyncio.sleep(hook.reject_delay)
            finally:
                self.pending_rejections -= 1
            return self._refuse(HTTPStatus.FORBIDDEN, Refusal.FORBIDDEN)
        length = request.headers.get("Content-Length")
        if length is not None and (not length.isdigit() or int(length) > hook.max_body):
            return self._refuse(HTTPStatus.REQUEST_ENTITY_TOO_LARGE, Refusal.TOO_LARGE)
        content_type = request.headers.get("Content-Type", "")
        if content_type.split(";")[0].strip().lower() != "application/json":
            return self._refuse(HTTPStatus.UNSUPPORTED_MEDIA_TYPE, Refusal.BAD_REQUEST)
        body = bytearray()
        try:
            async for chunk in request.stream():
                body += chunk
                if len(body) > hook.max_body:
                    return self._refuse(HTTPStatus.REQUEST_ENTITY_TOO_LARGE, Refusal.TOO_LARGE)
        except ClientDisconnect:
            return Response(status_code=HTTPStatus.BAD_REQUEST)  # nobody left to answer
        try:
            await hook.accept(json.loads(body))
        except ValueError:  # json.JSONDecodeError and UnicodeDecodeError too
            log.warning("an update from Telegram could not be parsed and was dropped")
            return self._refuse(HTTPStatus.BAD_REQUEST, Refusal.BAD_REQUEST)
        except NotReady:
            return Response(status_code=HTTPStatus.SERVICE_UNAVAILABLE)
        return Response(status_code=HTTPStatus.OK)


def webhook_route(hook: Webhook, *, on_refusal: Callable[[Refusal], None] | None = None) -> Route:
    """The web app's route for ``hook`` (POST only)."""
    return WebhookEndpoint(hook, on_refusal=on_refusal).route()
