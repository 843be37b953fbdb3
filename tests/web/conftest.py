"""Browser-test fixtures: one headless Chromium per session, a fresh context per test, and
``live_bot``, a real :class:`~bot.runner.BotService` serving its web app on 127.0.0.1, and
``console_bot``, the same around a peer world (tests/handlers/peer_world.py) for console pages.

Playwright's objects belong to the event loop that made them, and one browser serves the whole
session, so every test that uses these fixtures runs in the session's loop::

    pytestmark = pytest.mark.asyncio(loop_scope="session")

Such a test takes its database from ``live_bot`` (``live_bot.sessions``), not from the
``engine``/``sessions``/``db_url`` fixtures, which live in each test's own loop: a check below
fails a test that mixes them, or that forgets the marker. Without Chromium the tests are
skipped, but failed when ``CI=true`` (:func:`tests.support.browser.require_chromium`).
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import pytest_asyncio
from playwright.async_api import Browser, BrowserContext, Page, async_playwright
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.core.engine import Engine
from bot.db.engine import make_engine as make_db_engine
from bot.db.engine import make_sessionmaker
from bot.runner import BotService
from handlers.routes import build_routes
from tests.handlers.peer_world import World
from tests.support.browser import require_chromium, watch_requests, without_faketime
from tests.support.chat import Clock, texts
from tests.support.console import console_world
from tests.support.databases import fresh_database
from tests.support.engine import make_engine

# Fixtures that run in the session's loop, and those of tests/conftest.py that run in the
# test's own: a test cannot have both.
SESSION_LOOP_FIXTURES = frozenset({"chromium", "context", "page", "live_bot", "console_bot"})
OWN_LOOP_FIXTURES = frozenset({"db_url", "engine", "sessions", "empty_db_url"})


_REFUSAL = pytest.StashKey[str]()
_LINK = re.compile(r"/console/signin/[A-Za-z0-9_-]+")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        used = set(getattr(item, "fixturenames", ()))
        if not used & SESSION_LOOP_FIXTURES:
            continue
        marker = item.get_closest_marker("asyncio")
        if marker is None or marker.kwargs.get("loop_scope") != "session":
            problem = 'mark it pytest.mark.asyncio(loop_scope="session")'
        elif mixed := sorted(used & OWN_LOOP_FIXTURES):
            problem = f"take the database from live_bot, not {', '.join(mixed)}"
        else:
            continue
        item.stash[_REFUSAL] = f"a browser test runs in the session's event loop: {problem}"


def pytest_runtest_setup(item: pytest.Item) -> None:
    refusal = item.stash.get(_REFUSAL, None)
    if refusal is not None:
        pytest.fail(refusal, pytrace=False)


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def chromium() -> AsyncIterator[Browser]:
    """One headless Chromium for the whole session (Debian's, not Playwright's download)."""
    path = require_chromium()
    with without_faketime():
        playwright = await async_playwright().start()
    try:
        browser = await playwright.chromium.launch(executable_path=str(path), headless=True)
        try:
            yield browser
        finally:
            await browser.close()
    finally:
        await playwright.stop()


@pytest_asyncio.fixture(loop_scope="session")
async def context(chromium: Browser) -> AsyncIterator[BrowserContext]:
    """A fresh browser context (no cookies or storage from other tests), its requests
    recorded for :func:`~tests.support.browser.assert_no_third_party_requests`."""
    ctx = await chromium.new_context()
    watch_requests(ctx)
    try:
        yield ctx
    finally:
        await ctx.close()


@pytest_asyncio.fixture(loop_scope="session")
async def page(context: BrowserContext) -> Page:
    """A page (tab) in this test's context."""
    return await context.new_page()


@dataclass
class LiveBot:
    """A running bot with its web app: ``base_url`` (``http://127.0.0.1:PORT``), the
    ``engine`` (drive chat with ``tests.support.chat.Chat(live_bot.engine)``), its ``clock``
    (move it with ``clock.advance(...)``) and the database (``sessions``, ``backend``)."""

    base_url: str
    engine: Engine
    clock: Clock
    service: BotService
    backend: str

    @property
    def sessions(self) -> async_sessionmaker[AsyncSession]:
        return self.engine.sessions

    def url(self, path: str) -> str:
        """``path`` (``/healthz``) on this bot's web app."""
        return f"{self.base_url}{path}"


@pytest_asyncio.fixture(loop_scope="session")
async def live_bot(
    backend: str, request: pytest.FixtureRequest, tmp_path: Path
) -> AsyncIterator[LiveBot]:
    """``hrbot run`` with ``HRBOT_WEB_LISTEN=127.0.0.1:0`` and no channels, on a fresh
    database (SQLite, and PostgreSQL when configured), the engine wired as in production
    with the shipped content and a test clock; the clock's tick is left to the test
    (``live_bot.service.tick()``)."""
    async with fresh_database(backend, request, tmp_path) as url:
        db = make_db_engine(url)
        try:
            clock = Clock()
            engine = make_engine(make_sessionmaker(db), build_routes(), clock=clock)
            service = BotService(engine, [], tick_seconds=3600, web=("127.0.0.1", 0))
            await service.start()
            try:
                assert service.web is not None
                base_url = f"http://127.0.0.1:{service.web.port}"
                yield LiveBot(base_url, engine, clock, service, backend)
            finally:
                await service.stop()
        finally:
            await db.dispose()


@dataclass
class ConsoleBot(LiveBot):
    """A live bot around a peer world (coordinator ``coco``; add outlets and peers with
    ``world.outlet(...)``, ``world.peer(...)``; chat with ``world.chat``), whose sign-in links
    point at ``tests.support.console.PUBLIC_URL`` (:meth:`link` turns them into this app's)."""

    world: World

    async def link(self, who: str) -> str:
        """``who`` sends /console in chat; the sign-in link, on this app."""
        answer = texts(await self.world.chat.say(who, "/console"))
        found = _LINK.search(answer)
        assert found is not None, answer
        return self.url(found.group(0))


@pytest_asyncio.fixture(loop_scope="session")
async def console_bot(
    backend: str, request: pytest.FixtureRequest, tmp_path: Path
) -> AsyncIterator[ConsoleBot]:
    """A peer world on a fresh database (both backends) served by a running bot's web app."""
    async with fresh_database(backend, request, tmp_path) as url:
        db = make_db_engine(url)
        try:
            async with console_world(make_sessionmaker(db)) as cw:
                world = cw.world
                yield ConsoleBot(cw.base_url, world.engine, world.clock, cw.service, backend, world)
        finally:
            await db.dispose()
