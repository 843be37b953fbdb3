"""Shared fixtures: a fresh, Alembic-migrated database per test on SQLite and PostgreSQL.

The suite runs on SQLite always, and again on PostgreSQL when ``HRBOT_TEST_POSTGRES_URL`` is set
(an asyncpg URL whose user may create databases). Each backend is migrated once per session into
a template; every test then gets its own copy (a file copy on SQLite, ``CREATE DATABASE ...
TEMPLATE`` on PostgreSQL), so tests are isolated and still cheap.
"""

from __future__ import annotations

import asyncio
import logging
import os
import uuid
from collections.abc import AsyncIterator, Coroutine, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from bot.db.engine import make_engine, make_sessionmaker
from bot.db.migrate import upgrade
from tests.support.databases import POSTGRES_ENV, fresh_database, pg_url_for
from tests.support.databases import pg_admin as _pg_admin


def _backends() -> list[str]:
    return ["sqlite", "postgresql"] if os.environ.get(POSTGRES_ENV) else ["sqlite"]


async def _migrate(url: str) -> None:
    engine = make_engine(url)
    try:
        await upgrade(engine)
    finally:
        await engine.dispose()


def _blocking(coro: Coroutine[Any, Any, None]) -> None:
    """Run set-up work in its own thread and loop, whatever loop the caller is in."""
    with ThreadPoolExecutor(max_workers=1) as pool:
        pool.submit(asyncio.run, coro).result()


@pytest.fixture(autouse=True)
def logging_put_back() -> Iterator[None]:
    """The root logger as it was before the test: handlers, their filters, levels.

    A test that runs a CLI command in-process calls ``configure_logging``, which adds a stderr
    handler and puts the redaction filter on every root handler, pytest's own capture handlers
    included; left there, it changes what a later test's ``caplog`` sees.
    """
    root, alembic = logging.getLogger(), logging.getLogger("alembic")
    filters = {handler: handler.filters[:] for handler in root.handlers}
    levels = root.level, alembic.level
    yield
    for handler in root.handlers[:]:
        if handler not in filters:
            root.removeHandler(handler)
    for handler, kept in filters.items():
        handler.filters = kept
    root.setLevel(levels[0])
    alembic.setLevel(levels[1])


@pytest.fixture(autouse=True)
def data_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The default data folder (platformdirs' user data dir) inside this test's tmp_path.

    Settings built without HRBOT_DATA_DIR must never write to the real ~/.local/share/hrbot.
    """
    home = tmp_path / "xdg-data"
    monkeypatch.setenv("XDG_DATA_HOME", str(home))
    return home


@pytest.fixture(autouse=True)
def config_home(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The default key's folder (platformdirs' user config dir) in a fresh temporary folder.

    Never the real ~/.config/hrbot; and not inside tmp_path, which tests use as a data
    folder: a key there is refused.
    """
    home = tmp_path_factory.mktemp("xdg-config")
    monkeypatch.setenv("XDG_CONFIG_HOME", str(home))
    return home


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("template") / "template.sqlite3"
    _blocking(_migrate(f"sqlite+aiosqlite:///{path}"))
    # Fold the WAL into the main file so one file copy is a whole database.
    import sqlite3

    with sqlite3.connect(path) as conn:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        conn.execute("PRAGMA journal_mode=DELETE")
    return path


@pytest.fixture(scope="session")
def postgres_template() -> Iterator[str]:
    admin_url = os.environ[POSTGRES_ENV]
    name = f"hrbot_tmpl_{uuid.uuid4().hex[:12]}"
    _blocking(_pg_admin(admin_url, f'CREATE DATABASE "{name}"'))
    _blocking(_migrate(pg_url_for(admin_url, name)))
    yield name
    _blocking(_pg_admin(admin_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@pytest.fixture(params=_backends())
def backend(request: pytest.FixtureRequest) -> str:
    """The database kind this test runs on."""
    return str(request.param)


@pytest.fixture
async def db_url(
    backend: str, request: pytest.FixtureRequest, tmp_path: Path
) -> AsyncIterator[str]:
    """URL of a fresh, migrated database that only this test uses."""
    async with fresh_database(backend, request, tmp_path) as url:
        yield url


@pytest.fixture
async def engine(db_url: str) -> AsyncIterator[AsyncEngine]:
    """An engine on this test's own database."""
    eng = make_engine(db_url)
    try:
        yield eng
    finally:
        await eng.dispose()


@pytest.fixture
def sessions(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    """Session factory for this test's database."""
    return make_sessionmaker(engine)


@pytest.fixture
async def empty_db_url(backend: str, tmp_path: Path) -> AsyncIterator[str]:
    """URL of a brand-new database with no tables at all (for migration tests)."""
    if backend == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path / 'empty.sqlite3'}"
        return
    admin_url = os.environ[POSTGRES_ENV]
    name = f"hrbot_empty_{uuid.uuid4().hex[:12]}"
    await _pg_admin(admin_url, f'CREATE DATABASE "{name}"')
    try:
        yield pg_url_for(admin_url, name)
    finally:
        await _pg_admin(admin_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
