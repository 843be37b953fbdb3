"""The composition root: settings → keys → content → engine → services (→ channels).

Everything long-lived is built here, once, and passed down; nothing is created at import time.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property
from typing import Final

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from bot.content import Content, load_content
from bot.db.engine import make_engine, make_sessionmaker
from bot.db.migrate import current_revision, head_revision, upgrade
from bot.privacy import AddressBox, Keys, derive_keys
from bot.privacy.files import private_dir
from bot.services.catalogue import sync_items
from bot.settings import Settings, SettingsError, refuse_key_in_data, resolve_secret

# A transaction-scoped advisory lock in the two-key space (people's locks use the one-key
# space, which never overlaps it): "hrbt", "item".
_CATALOGUE_LOCK: Final = text("SELECT pg_advisory_xact_lock(1752326772, 1769235821)")


class SchemaError(Exception):
    """The database is not at the revision this code expects."""


class NoDatabaseError(SchemaError):
    """There is no SQLite database file, and this command may not create one."""


@dataclass(frozen=True)
class Runtime:
    """The long-lived parts of a running bot, built by :func:`build_runtime`."""

    settings: Settings
    content: Content
    engine: AsyncEngine
    sessions: async_sessionmaker[AsyncSession]
    secret: Callable[[], str] = field(repr=False)

    @cached_property
    def keys(self) -> Keys:
        """The keys, read on first use: a command that needs none (``outlets list``) runs
        without the key, and one that needs it says where it looked."""
        return derive_keys(self.secret())

    @cached_property
    def box(self) -> AddressBox:
        return AddressBox(self.keys.address)

    async def close(self) -> None:
        """Release database connections."""
        await self.engine.dispose()


def build_runtime(settings: Settings, *, create: bool = True) -> Runtime:
    """Wire the parts; raises SettingsError, ContentError or NoDatabaseError with a one-line reason.

    ``create=True`` (``hrbot run``, ``hrbot db upgrade``) reads the key at once and generates
    it in the user config folder when none is configured. ``create=False``: a missing SQLite
    file is an error, and nothing (not the key either) is written; the key is read when
    first used, and a missing one is an error. A command run from the wrong folder or with the
    wrong HRBOT_DATA_DIR should say so, not quietly start a second, empty database or a key of
    its own.
    """
    database = settings.sqlite_file
    if not create and database is not None and not database.exists():
        raise NoDatabaseError(
            f"no database at {database}: create it with `hrbot db upgrade` (or `hrbot run`), "
            "or point HRBOT_DATA_DIR at the folder that holds it"
        )
    refuse_key_in_data(settings)
    content = load_content(settings.content_dir)
    if create:
        secret = resolve_secret(settings, generate=True)

        def read_secret() -> str:
            return secret
    else:

        def read_secret() -> str:
            return resolve_secret(settings)

    if settings.is_sqlite:
        private_dir(settings.data_dir)
    engine = make_engine(settings.effective_database_url, pool_size=settings.database_pool_size)
    return Runtime(
        settings=settings,
        content=content,
        engine=engine,
        sessions=make_sessionmaker(engine),
        secret=read_secret,
    )


async def prepare_database(runtime: Runtime, *, auto_upgrade: bool | None = None) -> None:
    """Make sure the schema is current and the item catalogue mirrored.

    SQLite is upgraded automatically (a single-file install should just work); PostgreSQL
    must be upgraded explicitly with ``hrbot db upgrade`` so a deploy never migrates by surprise.
    """
    if auto_upgrade is None:
        auto_upgrade = runtime.settings.is_sqlite
    if auto_upgrade:
        await upgrade(runtime.engine)
    else:
        current, head = await current_revision(runtime.engine), head_revision()
        if current != head:
            raise SchemaError(
                f"database schema is at {current or 'nothing'}, this version needs {head}: "
                "run `hrbot db upgrade`"
            )
    async with runtime.sessions.begin() as session:
        if session.get_bind().dialect.name == "postgresql":
            # Instances starting together would each insert a new item: one at a time.
            await session.execute(_CATALOGUE_LOCK)
        await sync_items(session, catalogue=runtime.content.catalogue)


__all__ = [
    "NoDatabaseError",
    "Runtime",
    "SchemaError",
    "SettingsError",
    "build_runtime",
    "prepare_database",
]
