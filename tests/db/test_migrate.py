"""Migrations go up and down on every backend and match the models exactly."""

from __future__ import annotations

import os
import warnings
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import cast

import pytest
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Table, insert, inspect, select, text
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.db.base import Base
from bot.db.engine import make_engine, make_sessionmaker
from bot.db.migrate import (
    MIGRATIONS_DIR,
    ForeignKeyViolation,
    alembic_config,
    current_revision,
    downgrade,
    head_revision,
    upgrade,
)
from bot.db.models import AuditEvent, Contact, Request, SeenUpdate
from bot.domain import Channel, RequestKind, RequestStatus
from tests.support.alerts import add_subscribers


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


# --- SQLite: a batch rebuild of a parent table must not cascade into its children -------------

_PROBE = """
import sqlalchemy as sa
from alembic import op

revision = "probe0000001"
down_revision = "{head}"
branch_labels = None
depends_on = None


def upgrade() -> None:
{body}


def downgrade() -> None:
    pass
"""
_REBUILD_CONTACTS = """\
    # Copy, drop and rename, as batch mode does for an ALTER SQLite cannot do in place.
    with op.batch_alter_table("contacts", recreate="always") as batch:
        batch.add_column(sa.Column("probe", sa.Integer(), nullable=True))"""
_ORPHAN = """\
    op.execute(
        "INSERT INTO subscriptions (contact_id, area_code, created_at) "
        "VALUES (987654321, 'dtes', '2026-01-01 00:00:00')"
    )"""


def _probe_config(tmp_path: Path, body: str) -> Config:
    """The shipped migrations plus one throwaway revision on top of head."""
    versions = tmp_path / "probe_versions"
    versions.mkdir()
    (versions / "probe0000001_probe.py").write_text(
        _PROBE.format(head=head_revision(), body=body), encoding="utf-8"
    )
    cfg = alembic_config()
    cfg.set_main_option(
        "version_locations", os.pathsep.join([str(MIGRATIONS_DIR / "versions"), str(versions)])
    )
    return cfg


async def _counts(engine: AsyncEngine) -> dict[str, int]:
    async with engine.connect() as conn:
        return {
            table: int(
                (await conn.execute(text(f"SELECT count(*) FROM {table}"))).scalar_one()  # noqa: S608
            )
            for table in ("contacts", "subscriptions")
        }


async def test_sqlite_rebuild_of_a_parent_keeps_its_children(
    backend: str, db_url: str, tmp_path: Path
) -> None:
    if backend != "sqlite":
        pytest.skip("batch rebuilds (copy, drop, rename) are how SQLite alters tables")
    engine = make_engine(db_url)
    try:
        async with make_sessionmaker(engine).begin() as session:
            await add_subscribers(session, ["a", "b", "c"], ["dtes", "kitsilano"])
        assert await _counts(engine) == {"contacts": 3, "subscriptions": 6}

        await upgrade(engine, config=_probe_config(tmp_path, _REBUILD_CONTACTS))

        assert await current_revision(engine) == "probe0000001"
        async with engine.connect() as conn:
            columns = await conn.run_sync(
                lambda sync: [c["name"] for c in inspect(sync).get_columns("contacts")]
            )
            assert "probe" in columns
            assert (await conn.exec_driver_sql("PRAGMA foreign_keys")).scalar_one() == 1
        assert await _counts(engine) == {"contacts": 3, "subscriptions": 6}
        # The children still point at the rebuilt table: deleting a contact cascades.
        async with engine.begin() as conn:
            await conn.execute(
                text("DELETE FROM contacts WHERE id = (SELECT min(id) FROM contacts)")
            )
        assert await _counts(engine) == {"contacts": 2, "subscriptions": 4}
    finally:
        await engine.dispose()


async def test_a_migration_that_breaks_a_foreign_key_is_rolled_back(
    db_url: str, tmp_path: Path
) -> None:
    engine = make_engine(db_url)
    try:
        before = await current_revision(engine)
        with pytest.raises((ForeignKeyViolation, IntegrityError), match=r"subscriptions|foreign"):
            await upgrade(engine, config=_probe_config(tmp_path, _ORPHAN))
        assert await current_revision(engine) == before
        assert await _counts(engine) == {"contacts": 0, "subscriptions": 0}
        if engine.dialect.name == "sqlite":
            async with engine.connect() as conn:
                assert (await conn.exec_driver_sql("PRAGMA foreign_keys")).scalar_one() == 1
    finally:
        await engine.dispose()


async def test_kept_times_are_cut_to_the_hour_and_raw_update_keys_dropped(
    empty_db_url: str,
) -> None:
    """Rows written before the hour-only rule lose their minutes; open requests keep theirs."""
    exact = datetime(2026, 11, 25, 19, 17, 23, 456789, tzinfo=UTC)
    hour = datetime(2026, 11, 25, 19, tzinfo=UTC)
    engine = make_engine(empty_db_url)
    try:
        await upgrade(engine, "f618df53a1d8")
        sessions = make_sessionmaker(engine)
        async with sessions.begin() as session:
            contact = Contact(
                pseudonym="p" * 64, channel=Channel.TELEGRAM, reply_address=b"x", created_at=exact
            )
            session.add(contact)
            await session.flush()
            for reference, status in (("OPEN01", RequestStatus.OFFERED), ("DONE01", "cancelled")):
                # Only the columns of that revision: the model has grown since.
                await session.execute(
                    insert(cast(Table, Request.__table__)).values(
                        reference=reference,
                        contact_id=contact.id,
                        kind=RequestKind.EQUIPMENT,
                        status=status,
                        created_at=exact,
                        closed_at=None if status is RequestStatus.OFFERED else exact,
                        expires_at=exact + timedelta(hours=24),
                        attempts=0,
                    )
                )
            session.add(AuditEvent(at=exact, actor="person", action="request.created"))
            session.add(SeenUpdate(key="tg:123456", seen_at=exact))
            session.add(SeenUpdate(key="a" * 48, seen_at=exact))
        await upgrade(engine)
        async with sessions() as session:
            assert await session.scalar(select(Contact.created_at)) == hour
            assert await session.scalar(select(AuditEvent.at)) == hour
            rows = {
                r.reference: (r.created_at, r.closed_at, r.expires_at)
                for r in await session.scalars(select(Request))
            }
            keys = (await session.scalars(select(SeenUpdate.key))).all()
        assert rows["OPEN01"] == (exact, None, exact + timedelta(hours=24))
        assert rows["DONE01"] == (hour, hour, hour + timedelta(hours=24))
        assert keys == ["a" * 48]
    finally:
        await engine.dispose()
