"""The console as members reach it: a peer world (tests/handlers/peer_world.py) served by a
real BotService with its web app on 127.0.0.1, and members signing in the way people do —
``/console`` in chat, then the link in a browser (httpx here; Chromium in the browser tests).
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

import httpx
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.core.context import Config
from bot.runner import BotService
from bot.services.alerts import Pace
from tests.handlers.peer_world import World, make_world
from tests.support.chat import Clock, texts

# What links say (tests go to the real port). http: a Secure cookie would not come back to
# http://127.0.0.1 (the https case has a test of its own).
PUBLIC_URL = "http://console.example.org"
_LINK = re.compile(r"/console/signin/([A-Za-z0-9_-]+)")
_CSRF = re.compile(r'name="csrf" value="([0-9a-f]+)"')


@dataclass
class ConsoleWorld:
    world: World
    service: BotService
    base_url: str

    def client(self) -> httpx.AsyncClient:
        """A fresh browser-like client (its own cookie jar), not signed in."""
        return httpx.AsyncClient(base_url=self.base_url, timeout=10, follow_redirects=False)

    async def link_token(self, who: str) -> str:
        """``who`` sends /console in chat; the token of the link the bot answered with."""
        answer = texts(await self.world.chat.say(who, "/console"))
        found = _LINK.search(answer)
        assert found is not None, answer
        return found.group(1)

    async def sign_in(self, client: httpx.AsyncClient, who: str) -> None:
        """``who`` asks for a link and follows it in ``client``."""
        token = await self.link_token(who)
        assert (await client.get(f"/console/signin/{token}")).status_code == 200
        answer = await client.post("/console/signin", data={"token": token})
        assert answer.status_code == 303, answer.text
        assert answer.headers["location"] == "/console/"


def csrf_of(html: str) -> str:
    """The CSRF token a console page carries in its forms."""
    found = _CSRF.search(html)
    assert found is not None, "no form on the page"
    return found.group(1)


@asynccontextmanager
async def console_world(
    sessions: async_sessionmaker[AsyncSession],
    *,
    clock: Clock | None = None,
    public_url: str = PUBLIC_URL,
    pace: Pace | None = None,
) -> AsyncIterator[ConsoleWorld]:
    """A peer world (coordinator ``coco``) whose web app is served until the block ends;
    ``pace`` sets how fast alerts go and the paid broadcast's cap."""
    config = Config(console_url=public_url, pace=pace or Pace())
    world = await make_world(sessions, clock=clock, config=config)
    service = BotService(world.engine, [], tick_seconds=3600, web=("127.0.0.1", 0))
    await service.start()
    try:
        assert service.web is not None
        yield ConsoleWorld(world, service, f"http://127.0.0.1:{service.web.port}")
    finally:
        await service.stop()
