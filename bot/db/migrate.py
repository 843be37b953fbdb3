"""Run Alembic migrations from code (the CLI, ``hrbot run`` on SQLite, and tests).

On SQLite every connection has ``foreign_keys=ON`` (:mod:`bot.db.engine`), and a batch-mode
migration rebuilds a table by copy, drop and rename: dropping a parent such as ``contacts``
with foreign keys on would cascade-delete its children. So on SQLite the migrations run with
foreign keys off, inside one explicit transaction (SQLite's DDL is transactional; the driver
would otherwise commit DDL as it goes), then ``PRAGMA foreign_key_check`` must come back empty
or everything is rolled back, and foreign keys go back on. The pragma is a no-op inside a
transaction, hence the order.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncEngine

import migrations

MIGRATIONS_DIR = Path(migrations.__file__).resolve().parent


def alembic_config(url: str | None = None) -> Config:
    """An Alembic config that works from an installed package too (no alembic.ini needed)."""
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    cfg.set_main_option("path_separator", "os")
    cfg.set_main_option("file_template", "%%(year)d%%(month).2d%%(day).2d_%%(rev)s_%%(slug)s")
    if url:
        # ConfigParser interpolation would choke on a '%' in a password.
        cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    cfg.attributes["configure_logging"] = False
    return cfg


class ForeignKeyViolation(RuntimeError):
    """A migration left rows pointing at nothing; it was rolled back."""


async def upgrade(
    engine: AsyncEngine, revision: str = "head", *, config: Config | None = None
) -> None:
    """Upgrade the database behind ``engine`` to ``revision`` in one transaction.

    ``config``: another Alembic config (tests add a version location); default the shipped one.
    """
    async with engine.connect() as connection:
        await connection.run_sync(_migrate, "upgrade", revision, config)


async def downgrade(engine: AsyncEngine, revision: str, *, config: Config | None = None) -> None:
    """Downgrade the database behind ``engine`` to ``revision`` (``base`` empties it)."""
    async with engine.connect() as connection:
        await connection.run_sync(_migrate, "downgrade", revision, config)


async def current_revision(engine: AsyncEngine) -> str | None:
    """The revision the database is at, or None when it was never migrated."""
    async with engine.connect() as connection:
        return await connection.run_sync(
            lambda sync: MigrationContext.configure(sync).get_current_revision()
        )


def head_revision() -> str | None:
    """The newest revision shipped with this code."""
    return ScriptDirectory.from_config(alembic_config()).get_current_head()


def _migrate(connection: Connection, action: str, revision: str, config: Config | None) -> None:
    with guarded_transaction(connection):
        _run(connection, action, revision, config)


@contextmanager
def guarded_transaction(connection: Connection) -> Iterator[None]:
    """One transaction for a migration; on SQLite with foreign keys off and checked at the end.

    Commits when the block succeeds, rolls back when it raises or when a foreign key is
    violated (:class:`ForeignKeyViolation`). Foreign keys are back on afterwards either way.
    """
    if connection.dialect.name != "sqlite":
        with connection.begin():
            yield
        return
    if connection.in_transaction():
        connection.commit()  # whatever was open: the pragma below must run outside one
    connection.exec_driver_sql("PRAGMA foreign_keys=OFF")
    try:
        # Explicit: the sqlite3 driver only opens a transaction before DML by itself.
        connection.exec_driver_sql("BEGIN")
        try:
            yield
            broken = connection.exec_driver_sql("PRAGMA foreign_key_check").fetchall()
            if broken:
                tables = sorted({str(row[0]) for row in broken})
                raise ForeignKeyViolation(
                    f"migration rolled back: {len(broken)} row(s) in {', '.join(tables)} "
                    "point at rows that no longer exist"
                )
        except BaseException:
            connection.rollback()
            raise
        connection.commit()
    finally:
        connection.exec_driver_sql("PRAGMA foreign_keys=ON")
        connection.commit()


def _run(connection: Connection, action: str, revision: str, config: Config | None) -> None:
    cfg = config or alembic_config()
    # env.py uses this connection instead of opening its own (and its own event loop).
    cfg.attributes["connection"] = connection
    if action == "upgrade":
        command.upgrade(cfg, revision)
    else:
        command.downgrade(cfg, revision)
