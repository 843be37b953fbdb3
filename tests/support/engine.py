"""Build a real engine on a test database, with shipped content and a fixed clock."""

from __future__ import annotations

import functools
from pathlib import Path

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.content import load_content
from bot.core.context import Config, Deps
from bot.core.engine import Engine
from bot.core.routes import Routes
from bot.core.words import Words
from bot.privacy import AddressBox, derive_keys
from tests.support.chat import Clock

CONTENT_DIR = Path(__file__).resolve().parents[2] / "content"
TEST_KEYS = derive_keys("test-secret-" + "x" * 40)


@functools.cache
def shipped_words() -> Words:
    """Every shipped language, as the bot loads them (read once per test session)."""
    return Words.from_content(CONTENT_DIR)


def make_deps(config: Config | None = None, *, words: Words | None = None) -> Deps:
    """Deps with the shipped content, every shipped language and test keys.

    A person with no language hint gets English, as in production.
    """
    return Deps(
        content=load_content(CONTENT_DIR),
        keys=TEST_KEYS,
        words=words or shipped_words(),
        config=config or Config(),
    )


def make_engine(
    sessions: async_sessionmaker[AsyncSession],
    routes: Routes,
    *,
    clock: Clock | None = None,
    config: Config | None = None,
    words: Words | None = None,
) -> Engine:
    """An engine wired like production, minus channels."""
    return Engine(
        sessions=sessions,
        deps=make_deps(config, words=words),
        box=AddressBox(TEST_KEYS.address),
        routes=routes,
        clock=clock or Clock(),
    )
