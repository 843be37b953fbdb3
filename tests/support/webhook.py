"""The Telegram channel in webhook mode, its webhook served by uvicorn on 127.0.0.1 (port 0),
as the web app serves it, and a raw HTTP client that can announce a body and never send it."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

from starlette.applications import Starlette

from bot.channels.telegram import TelegramChannel, WebhookConfig
from bot.core.engine import Engine
from bot.emulator import TelegramEmulator
from bot.web.metrics import Metrics
from bot.web.server import WebServer
from bot.web.webhook import REJECT_DELAY, SECRET_HEADER, WebhookEndpoint

SECRET = "Webhook_secret-of-32-characters-x"


@dataclass
class Hooked:
    """A running bot in webhook mode: its channel, the endpoint, the port, what reached the
    channel (``accepted``) and the counters."""

    channel: TelegramChannel
    endpoint: WebhookEndpoint
    port: int
    accepted: list[Any]
    metrics: Metrics

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}{self.endpoint.hook.path}"


@contextlib.asynccontextmanager
async def hooked(
    engine: Engine,
    emu: TelegramEmulator,
    *,
    path: str = "/hook",
    secret: str | None = SECRET,
    **limits: Any,
) -> AsyncIterator[Hooked]:
    """Start the channel in webhook mode behind the webhook route (``limits``: the
    :class:`~bot.web.webhook.Webhook`'s ``max_body``, ``reject_delay``...)."""
    metrics = Metrics()
    engine.meter = metrics
    config = WebhookConfig(url=f"http://127.0.0.1:0{path}", secret=secret)
    channel = TelegramChannel(engine, token=emu.token, base_url=emu.base_url, webhook=config)
    assert channel.receiver is not None
    accepted: list[Any] = []
    receive = channel.receiver.accept

    async def accept(data: Any) -> None:
        accepted.append(data)
        await receive(data)

    hook = dataclasses.replace(channel.receiver, accept=accept, **limits)
    endpoint = WebhookEndpoint(hook, on_refusal=metrics.webhook_refusal)
    server = WebServer(Starlette(routes=[endpoint.route()]), "127.0.0.1", 0)
    await server.start()
    assert server.port is not None
    # Only now is the port known: the URL Telegram is given names it.
    channel.webhook = dataclasses.replace(config, url=f"http://127.0.0.1:{server.port}{path}")
    try:
        await channel.start()
        try:
            yield Hooked(channel, endpoint, server.port, accepted, metrics)
        finally:
            await channel.stop()
    finally:
        await server.stop()


async def raw_post(
    port: int,
    *,
    secret: str | None,
    length: int | None,
    body: bytes = b"",
    content_type: str = "application/json",
    path: str = "/hook",
    chunks: list[bytes] | None = None,
) -> int:
    """POST headers announcing ``length`` bytes, then only ``body`` (or, with ``length``
    None, ``chunks`` in chunked encoding without the final empty chunk); return the status
    (0: closed without an answer). Times out if the server waits for more of the body."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    head = [f"POST {path} HTTP/1.1", "Host: bot.example.org", f"Content-Type: {content_type}"]
    if length is not None:
        head.append(f"Content-Length: {length}")
    else:
        head.append("Transfer-Encoding: chunked")
    if secret is not None:
        head.append(f"{SECRET_HEADER}: {secret}")
    try:
        writer.write(("\r\n".join(head) + "\r\n\r\n").encode("latin-1") + body)
        await writer.drain()
        for chunk in chunks or []:
            writer.write(f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n")
            await writer.drain()
        line = await asyncio.wait_for(reader.readline(), REJECT_DELAY + 5)
    finally:
        writer.close()
    return int(line.split()[1]) if line else 0
