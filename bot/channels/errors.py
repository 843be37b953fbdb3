"""Why a channel could not start: worth retrying (the network) or not (a setting, a refusal).

Transport-free on purpose: the runner decides what to do with these without importing
``telegram`` or ``signalbot``. Messages are one line and never hold a token or a phone number.
"""

from __future__ import annotations

import os
import socket
import ssl
from collections.abc import Iterator
from typing import Final

_MAX_REASON: Final = 120


class ChannelError(RuntimeError):
    """A channel cannot start, and retrying will not help (the message says why)."""


class ChannelUnreachable(ChannelError):
    """A channel's server could not be reached: worth retrying, the network may come back.

    ``retry_after`` is the server's own wish (seconds), when it said so.
    """

    def __init__(self, service: str, where: str, reason: str, *, retry_after: float | None = None):
        super().__init__(f"cannot reach {service} at {where}: {reason}")
        self.service = service
        self.where = where
        self.reason = reason
        self.retry_after = retry_after


def failure_reason(exc: BaseException, *, secrets: tuple[str, ...] = ()) -> str:
    """A short reason for a failed connection, e.g. ``connection refused``.

    Read from the exception chain (HTTP clients wrap the socket error two or three times),
    never from a URL: those may hold a token. ``secrets`` are blanked from any text used.
    """
    chain = list(_chain(exc))
    for error in chain:
        if isinstance(error, TimeoutError) or type(error).__name__ in {"TimedOut", "Timeout"}:
            return "timed out"
    for error in chain:
        if isinstance(error, socket.gaierror):
            return _clip(str(error.strerror or "name lookup failed").lower())
        if isinstance(error, ssl.SSLError):
            return f"TLS failed ({type(error).__name__})"
        if isinstance(error, OSError) and error.errno and error.errno > 0:
            return os.strerror(error.errno).lower()
    text = str(exc) or type(exc).__name__
    for secret in secrets:
        if secret:
            text = text.replace(secret, "<token>")
    return _clip(text)


def _chain(exc: BaseException) -> Iterator[BaseException]:
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        yield current
        current = current.__cause__ or current.__context__


def _clip(text: str) -> str:
    line = " ".join(text.split())
    return line if len(line) <= _MAX_REASON else line[: _MAX_REASON - 1] + "…"
