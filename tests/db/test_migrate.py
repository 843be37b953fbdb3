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
from sqlalchemy import JSON, Table, column, insert, inspect, select, text
from sqlalchemy import table as sa_table
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
from bot.db.models import (
    AuditEvent,
    Contact,
    DailyCount,
    Item,
    Outlet,
    Request,
    RequestItem,
    SeenUpdate,
)
from bot.domain import Channel, ItemCategory, RequestKind, RequestStatus
from bot.services import retention, stats
from tests.services.factories import NOW, add_contact
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


async def test_events_recorded_before_the_counters_are_counted_once(empty_db_url: str) -> None:
    """The numbers /stats gave from the audit log are in the counters after the upgrade, the
    events stay for the purge (and count no more), and shift events are gone."""
    engine = make_engine(empty_db_url)
    day = timedelta(days=1)
    try:
        await upgrade(engine, "d36faf318542")
        sessions = make_sessionmaker(engine)
        async with sessions.begin() as session:
            nalox = await session.scalar(
                insert(Item)
                .values(code="nalox", category=ItemCategory.NALOXONE, pack_size=2, active=True)
                .returning(Item.id)
            )
            contact = await add_contact(session)
            # Only the columns of that revision: the model has grown since.
            await session.execute(
                insert(cast(Table, Request.__table__)).values(
                    reference="LIVE01",
                    contact_id=contact,
                    kind=RequestKind.NALOXONE,
                    status=RequestStatus.OFFERED,
                    area_code="dtes",
                    attempts=0,
                    created_at=NOW + timedelta(minutes=20),
                    expires_at=NOW + day,
                )
            )
            await session.flush()
            session.add(
                RequestItem(
                    request_id=await session.scalar(select(Request.id)), item_id=nalox, packs=4
                )
            )
            events: list[tuple[str, str | None, datetime, dict[str, object]]] = [
                # A reference purged and given out again: each acceptance pairs with its own.
                ("request.created", "AAAAAA", NOW - 3 * day, {"kind": "equipment"}),
                ("offer.accepted", "AAAAAA", NOW - 3 * day, {"kind": "equipment", "outlet_id": 7}),
                ("request.created", "AAAAAA", NOW, {"kind": "equipment"}),
                ("offer.accepted", "AAAAAA", NOW + timedelta(hours=1), {"outlet_id": 7}),
                # The second acceptance after a release is not the first.
                ("offer.accepted", "AAAAAA", NOW + 2 * timedelta(hours=1), {"outlet_id": 7}),
                ("offer.accepted", "ZZZZZZ", NOW, {"outlet_id": 7}),  # creation unknown
                ("request.created", "LIVE01", NOW, {"kind": "naloxone"}),
                ("request.offered", "LIVE01", NOW, {"kind": "naloxone", "outlet_id": 7}),
                (
                    "request.handed_over",
                    "BBBBBB",
                    NOW,
                    {"kind": "naloxone", "outlet_id": 7, "items": {str(nalox): 3, "bad": "x"}},
                ),
                ("request.expired", "CCCCCC", NOW, {"kind": "referral"}),
                ("shift.started", None, NOW, {"outlet_id": 7, "hours": 4}),
                ("shift.ended", None, NOW, {"outlet_id": 7}),
            ]
            for action, subject, at, detail in events:
                session.add(
                    AuditEvent(at=at, actor="system", action=action, subject=subject, detail=detail)
                )
        await upgrade(engine)
        window = {"since": NOW - 4 * day, "until": NOW + day}
        async with sessions() as session:
            numbers = await stats.compute(session, **window)
            actions = sorted((await session.scalars(select(AuditEvent.action))).all())
            live = await session.scalar(
                select(DailyCount.count).where(
                    DailyCount.measure == "requests.packs", DailyCount.area_code == "dtes"
                )
            )
            shifts = await session.scalar(
                select(DailyCount.count).where(DailyCount.measure == "shifts.started")
            )
        assert numbers.created_by_kind == {"equipment": 2, "naloxone": 1}
        assert numbers.closed_by_status == {"handed_over": 1, "expired": 1}
        # Waits of 0 minutes (same hour) and 60 minutes: the ZZZZZZ one pairs with nothing.
        assert numbers.median_time_to_accept == timedelta(minutes=30)
        assert numbers.naloxone_kits == 3 * 2
        outlet = numbers.by_outlet[7]
        assert (outlet.offered, outlet.accepted, outlet.handed_over) == (1, 4, 1)
        assert live == 4
        assert shifts == 1
        assert "shift.started" not in actions
        assert "shift.ended" not in actions
        assert len(actions) == len(events) - 2

        # The purge takes the counted events; the numbers stay.
        async with sessions.begin() as session:
            purged = await retention.purge(
                session, now=NOW + 40 * day, retention=timedelta(days=30)
            )
        assert purged.events == len(events) - 2
        async with sessions() as session:
            assert await stats.compute(session, **window) == numbers
    finally:
        await engine.dispose()


async def test_stored_hours_become_osm_text(empty_db_url: str) -> None:
    """Hours kept as a JSON day mapping before OSM syntax read the same afterwards; a row that
    could not be read (closed for routing) stays closed."""
    engine = make_engine(empty_db_url)
    old = sa_table(
        "outlets",
        *(column(name) for name in ("key", "name", "kind", "area_code", "timezone")),
        *(column(name) for name in ("latitude", "longitude", "instructions", "active")),
        column("meets_nearby"),
        column("hours", JSON),
        column("created_at"),
    )
    try:
        await upgrade(engine, "a3e9c1f0b5d7")
        async with engine.begin() as conn:
            for key, hours in (
                ("week", {"mon": ["10:00-18:00"], "tue": ["10:00-18:00"], "sat": ["22:00-02:00"]}),
                ("broken", {"noday": ["10:00-12:00"]}),
            ):
                await conn.execute(
                    insert(old).values(
                        key=key,
                        name="n",
                        kind="peer",
                        area_code="a",
                        timezone="UTC",
                        latitude=49.0,
                        longitude=-123.0,
                        instructions="",
                        active=True,
                        meets_nearby=False,
                        hours=hours,
                        # The column is a naive UTC timestamp at that revision.
                        created_at=NOW.replace(tzinfo=None),
                    )
                )
        await upgrade(engine)
        async with make_sessionmaker(engine)() as session:
            rows = await session.execute(select(Outlet.key, Outlet.hours))
            stored = {row.key: row.hours for row in rows}
        assert stored == {"week": "Mo-Tu 10:00-18:00, Sa 22:00-02:00", "broken": "closed"}
    finally:
        await engine.dispose()
