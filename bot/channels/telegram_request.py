"""A python-telegram-bot request class on aiohttp, for less CPU per Bot API call than httpx.

PTB's default :class:`~telegram.request.HTTPXRequest` spends most of a call's CPU time inside
httpx/httpcore/anyio (``python -m bench.updates`` measured it as the largest single cost of an
update). aiohttp, already a dependency, has a C HTTP parser and a lighter call path. This class
speaks the same contract: ``(status, body)`` back, PTB turns statuses into its exceptions;
timeouts become :class:`~telegram.error.TimedOut`, transport errors
:class:`~telegram.error.NetworkError`.

Mapping of PTB's four timeouts onto aiohttp's: ``connect_timeout`` → ``sock_connect``,
``read_timeout`` → ``sock_read`` (PTB adds the long-poll time itself for ``getUpdates``),
``pool_timeout`` + ``connect_timeout`` → ``connect`` (aiohttp counts waiting for a pooled
connection as part of connecting). aiohttp has no write timeout: ``write_timeout`` bounds the
whole request instead when it is larger than the read timeout would allow (uploads).

Proxies come from the environment (``HTTPS_PROXY``, ``NO_PROXY``...), as httpx takes them:
looked up once per server, not per call. aiohttp's own ``trust_env`` looks them up (and reads
``~/.netrc``) on a worker thread for every request: two thread hand-overs per Bot API call.
"""

from __future__ import annotations

import asyncio
import io
from typing import Final
from urllib.parse import urlencode

import aiohttp
from aiohttp.helpers import get_env_proxy_for_url
from telegram._utils.defaultvalue import DefaultValue
from telegram._utils.types import ODVInput
from telegram.error import NetworkError, TimedOut
from telegram.request import BaseRequest, RequestData
from yarl import URL

DEFAULT_POOL_SIZE: Final = 256


_FORM: Final = {"Content-Type": "application/x-www-form-urlencoded"}
_Proxy = tuple[URL | None, aiohttp.BasicAuth | None]


def _env_proxy(url: URL) -> _Proxy:
    try:
        return get_env_proxy_for_url(url)
    except LookupError:  # no proxy for this server
        return None, None


def _sum(*values: float | None) -> float | None:
    return None if any(v is None for v in values) else sum(v for v in values if v is not None)


class AiohttpRequest(BaseRequest):
    """:class:`~telegram.request.BaseRequest` on one :class:`aiohttp.ClientSession`.

    The session is made in :meth:`initialize` (it must be created inside the running loop) and
    closed in :meth:`shutdown`; PTB calls both. Use one instance per PTB request slot
    (``ApplicationBuilder().request(...)`` and ``.get_updates_request(...)``).
    """

    __slots__ = (
        "_connect_timeout",
        "_media_write_timeout",
        "_pool_size",
        "_pool_timeout",
        "_proxies",
        "_read_timeout",
        "_session",
        "_write_timeout",
    )

    def __init__(
        self,
        *,
        connection_pool_size: int = DEFAULT_POOL_SIZE,
        read_timeout: float | None = 5.0,
        write_timeout: float | None = 5.0,
        connect_timeout: float | None = 5.0,
        pool_timeout: float | None = 1.0,
        media_write_timeout: float | None = 20.0,
    ) -> None:
        if connection_pool_size < 1:
            raise ValueError("connection_pool_size must be at least 1")
        self._pool_size = connection_pool_size
        self._read_timeout = read_timeout
        self._write_timeout = write_timeout
        self._connect_timeout = connect_timeout
        self._pool_timeout = pool_timeout
        self._media_write_timeout = media_write_timeout
        self._session: aiohttp.ClientSession | None = None
        self._proxies: dict[URL, _Proxy] = {}

    @property
    def read_timeout(self) -> float | None:
        """The default read timeout in seconds (PTB reads it to size long polls)."""
        return self._read_timeout

    async def initialize(self) -> None:
        """Open the session (idempotent)."""
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(limit=self._pool_size),
                headers={"User-Agent": self.USER_AGENT},
                trust_env=False,  # proxies from the environment: see _proxy()
            )

    async def _proxy(self, url: URL) -> _Proxy:
        """The environment's proxy for ``url``'s server, looked up on its first call."""
        origin = url.origin()
        found = self._proxies.get(origin)
        if found is None:
            # A thread, as aiohttp does: the lookup may read ~/.netrc for the proxy's login.
            found = self._proxies[origin] = await asyncio.to_thread(_env_proxy, url)
        return found

    async def shutdown(self) -> None:
        """Close the session and its connections (idempotent)."""
        session, self._session = self._session, None
        if session is not None and not session.closed:
            await session.close()

    async def do_request(
        self,
        url: str,
        method: str,
        request_data: RequestData | None = None,
        read_timeout: ODVInput[float] = BaseRequest.DEFAULT_NONE,
        write_timeout: ODVInput[float] = BaseRequest.DEFAULT_NONE,
        connect_timeout: ODVInput[float] = BaseRequest.DEFAULT_NONE,
        pool_timeout: ODVInput[float] = BaseRequest.DEFAULT_NONE,
    ) -> tuple[int, bytes]:
        """One call to the Bot API: ``(HTTP status, body)``."""
        session = self._session
        if session is None or session.closed:
            raise RuntimeError("This AiohttpRequest is not initialized!")
        files = request_data.multipart_data if request_data and request_data.contains_files else {}
        fields = request_data.json_parameters if request_data else {}

        read = self._read_timeout if isinstance(read_timeout, DefaultValue) else read_timeout
        connect = (
            self._connect_timeout if isinstance(connect_timeout, DefaultValue) else connect_timeout
        )
        pool = self._pool_timeout if isinstance(pool_timeout, DefaultValue) else pool_timeout
        if isinstance(write_timeout, DefaultValue):
            write = self._media_write_timeout if files else self._write_timeout
        else:
            write = write_timeout
        total = None
        if files and write is not None:
            # Uploads: no per-write timeout in aiohttp; bound the whole call instead.
            total = _sum(pool, connect, write, read)
        timeout = aiohttp.ClientTimeout(
            total=total,
            connect=_sum(pool, connect),
            sock_connect=connect,
            sock_read=read,
        )

        data: aiohttp.FormData | bytes
        headers = None
        if files:
            data = aiohttp.FormData(fields, quote_fields=False)
            for name, (filename, content, mimetype) in files.items():
                # As a stream: aiohttp warns (ResourceWarning) about raw bytes over 1 MB.
                stream = io.BytesIO(content) if isinstance(content, bytes) else content
                data.add_field(name, stream, filename=filename, content_type=mimetype)
        else:
            # What aiohttp sends for a dict, encoded here: its FormData would build (and
            # drop) a multipart writer on every call.
            data = urlencode(fields).encode()
            headers = _FORM
        proxy, proxy_auth = await self._proxy(URL(url))
        try:
            async with session.request(
                method,
                url,
                data=data,
                headers=headers,
                timeout=timeout,
                proxy=proxy,
                proxy_auth=proxy_auth,
            ) as response:
                return response.status, await response.read()
        except TimeoutError as exc:
            raise TimedOut from exc
        except aiohttp.ClientError as exc:
            raise NetworkError(f"aiohttp.{type(exc).__name__}: {exc}") from exc
