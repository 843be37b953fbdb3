"""Uvicorn inside the bot's own event loop: started as a task, stopped with the bot.

The socket is bound here, not by uvicorn: a port in use is then an ``OSError`` for the caller
to report (uvicorn itself would ``sys.exit`` inside a task), and port 0 gives a free port whose
number :attr:`WebServer.port` tells. Uvicorn's signal handlers are left out (the bot owns
SIGINT and SIGTERM) and so is its access log (it would record clients' addresses).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
from collections.abc import Generator
from typing import Final

import uvicorn
from starlette.types import ASGIApp

from bot.web import ListenError

log = logging.getLogger(__name__)

GRACE_SECONDS: Final = 5  # how long open requests may finish at stop


def listen(host: str, port: int) -> socket.socket:
    """A listening TCP socket on ``host:port``, made with protocol ``IPPROTO_TCP``.

    ``socket.create_server`` makes it with protocol 0, which the connections it accepts
    inherit, and asyncio sets ``TCP_NODELAY`` only on sockets whose protocol says TCP. Without
    it, uvicorn's response body (written after its headers) waited for the client's delayed
    ACK: 40 ms added to every request on a kept-alive connection, as browsers use them.
    """
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.create_server((host, port), family=family)
    return socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP, fileno=sock.detach())


class _Server(uvicorn.Server):
    @contextlib.contextmanager
    def capture_signals(self) -> Generator[None]:
        # The bot's loop.add_signal_handler stops everything, this server included.
        yield


class WebServer:
    """One ASGI app served on ``host:port`` (0: any free port) until :meth:`stop`."""

    def __init__(self, app: ASGIApp, host: str, port: int) -> None:
        self.app = app
        self.host = host
        self.requested_port = port
        self.port: int | None = None  # the port bound, once started
        self._server: _Server | None = None
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        """Bind and serve; returns once requests are answered. Raises ListenError when
        the address cannot be bound."""
        try:
            sock = listen(self.host, self.requested_port)
        except OSError as exc:
            raise ListenError(
                exc.errno,
                f"cannot listen on {self.host}:{self.requested_port} ({exc.strerror or exc})",
            ) from None
        self.port = sock.getsockname()[1]
        config = uvicorn.Config(
            self.app,
            log_config=None,  # keep the bot's logging as it is
            access_log=False,
            lifespan="off",
            timeout_graceful_shutdown=GRACE_SECONDS,
        )
        server = _Server(config)
        self._server = server
        self._task = asyncio.create_task(server.serve(sockets=[sock]), name="web")
        while not server.started:
            if self._task.done():
                sock.close()
                self._task.result()  # raises what stopped it
                raise OSError(f"the web app stopped at start on {self.host}:{self.port}")
            await asyncio.sleep(0.01)
        log.info("web app on %s:%s", self.host, self.port)

    async def stop(self) -> None:
        """Stop accepting, let open requests finish (for a few seconds), close."""
        server, task = self._server, self._task
        self._server = self._task = None
        if server is None or task is None:
            return
        server.should_exit = True
        try:
            await task
        except Exception:
            log.exception("the web app did not stop cleanly")
