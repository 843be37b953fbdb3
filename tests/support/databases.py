"""Throw-away test databases: a copy of the session's migrated template per user.

The fixtures in tests/conftest.py build on these; so do fixtures that need a database in an
event loop other than the test function's (the browser tests run in the session's loop).
"""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import pytest
from sqlalchemy import make_url, text

from bot.db.engine import make_engine

POSTGRES_ENV = "HRBOT_TEST_POSTGRES_URL"


async def pg_admin(admin_url: str, *statements: str) -> None:
    """Run ``statements`` outside any transaction (CREATE/DROP DATABASE)."""
    engine = make_engine(admin_url, isolation_level="AUTOCOMMIT")
    try:
        async with engine.connect() as conn:
            for statement in statements:
                await conn.execute(text(statement))
    finally:
        await engine.dispose()


def pg_url_for(admin_url: str, database: str) -> str:
    """The admin URL pointed at another database."""
    return make_url(admin_url).set(database=database).render_as_string(hide_password=False)


@asynccontextmanager
async def fresh_database(
    backend: str, request: pytest.FixtureRequest, tmp_path: Path
) -> AsyncIterator[str]:
    """URL of a fresh, migrated database copied from the session's template (the
    ``sqlite_template`` or ``postgres_template`` fixture), dropped on the way out."""
    if backend == "sqlite":
        template: Path = request.getfixturevalue("sqlite_template")
        path = tmp_path / "test.sqlite3"
        shutil.copyfile(template, path)
        yield f"sqlite+aiosqlite:///{path}"
        return
    template_name: str = request.getfixturevalue("postgres_template")
    admin_url = os.environ[POSTGRES_ENV]
    name = f"hrbot_test_{uuid.uuid4().hex[:12]}"
    await pg_admin(admin_url, f'CREATE DATABASE "{name}" TEMPLATE "{template_name}"')
    try:
        yield pg_url_for(admin_url, name)
    finally:
        await pg_admin(admin_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
