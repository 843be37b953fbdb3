"""Migrations go up and down on every backend and match the models exactly."""

from __future__ import annotations

import warnings

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect
from sqlalchemy.engine import Connection

from bot.db.base import Base
from bot.db.engine import make_engine
from bot.db.migrate import current_revision, downgrade, head_revision, upgrade


def _tables(conn: Connection) -> set[str]:
    return set(inspect(conn).get_table_names()) - {"alembic_version"}


def _diff(conn: Connection) -> list[object]:
    ctx = MigrationContext.configure(conn, opts={"compare_type": True})
    with warnings.catch_warnings():
        # A PostgreSQL-only expression index: SQLite never gets it, and Alembic says it skips it.
        warnings.filterwarnings(
            "ignore", "autogenerate skipping .*'ix_outlets_point'", category=UserWarning
        )
        return list(compare_metadata(ctx, Base.metadata))


def _indexes(conn: Connection, table: str) -> set[str]:
    return {str(index["name"]) for index in inspect(conn).get_indexes(table)}


async def test_upgrade_downgrade_upgrade(empty_db_url: str) -> None:
    engine = make_engine(empty_db_url)
    try:
        assert await current_revision(engine) is None
        await upgrade(engine)
        assert await current_revision(engine) == head_revision()
        async with engine.connect() as conn:
            assert await conn.run_sync(_tables) == set(Base.metadata.tables)
            assert await conn.run_sync(_diff) == []
            outlets = await conn.run_sync(_indexes, "outlets")
            assert ("ix_outlets_point" in outlets) == (conn.dialect.name == "postgresql")
            assert "ix_peer_workers_staffed" in await conn.run_sync(_indexes, "peer_workers")

        await downgrade(engine, "base")
        assert await current_revision(engine) is None
        async with engine.connect() as conn:
            assert await conn.run_sync(_tables) == set()

        await upgrade(engine)
        async with engine.connect() as conn:
            assert await conn.run_sync(_tables) == set(Base.metadata.tables)
    finally:
        await engine.dispose()


async def test_upgrade_is_idempotent(empty_db_url: str) -> None:
    engine = make_engine(empty_db_url)
    try:
        await upgrade(engine)
        await upgrade(engine)
        assert await current_revision(engine) == head_revision()
    finally:
        await engine.dispose()
