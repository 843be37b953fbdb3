"""Community reports: anonymous, validated, reviewed once, turned into a draft, purged."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.content import Gazetteer
from bot.db.engine import make_engine, make_sessionmaker
from bot.db.models import Report
from bot.domain import AlertKind, AlertStatus
from bot.services import alerts, reports
from bot.services.reports import ReportError, ReportStatus, ReportView
from bot.services.subscriptions import EVERYWHERE
from tests.support.engine import make_deps

Sessions = async_sessionmaker[AsyncSession]
NOW = datetime(2026, 11, 25, 19, 47, 13, tzinfo=UTC)


@pytest.fixture(scope="module")
def gazetteer() -> Gazetteer:
    return make_deps().content.gazetteer


async def _report(
    sessions: Sessions,
    gazetteer: Gazetteer,
    *,
    area_code: str | None = "dtes",
    now: datetime = NOW,
    appearance: str | None = "blue pills",
) -> ReportView:
    async with sessions.begin() as session:
        return await reports.submit(
            session,
            sold_as="oxy 30s",
            what_happened="two people went down fast,\nneeded three doses",
            area_code=area_code,
            appearance=appearance,
            gazetteer=gazetteer,
            now=now,
        )


def test_a_report_cannot_name_its_sender() -> None:
    columns = set(Report.__table__.columns.keys())
    assert not {c for c in columns if "contact" in c or "pseudonym" in c or "address" in c}


async def test_submit_keeps_the_hour_only(sessions: Sessions, gazetteer: Gazetteer) -> None:
    report = await _report(sessions, gazetteer)
    assert report.created_at == datetime(2026, 11, 25, 19, 0, tzinfo=UTC)
    assert report.status is ReportStatus.NEW
    assert report.what_happened == "two people went down fast,\nneeded three doses"
    assert report.reference == f"R{report.id}"


@pytest.mark.parametrize(
    ("kwargs", "reason"),
    [
        ({"sold_as": "  "}, "sold_as: please fill this in"),
        ({"what_happened": ""}, "what_happened: please fill this in"),
        ({"sold_as": "x\u200by"}, "control characters"),
        ({"sold_as": "a\nb"}, "control characters"),
        ({"appearance": "p" * 201}, "at most 200"),
        ({"what_happened": "w" * 1001}, "at most 1000"),
        ({"area_code": "atlantis"}, "unknown area"),
    ],
)
async def test_submit_refuses_bad_input(
    sessions: Sessions, gazetteer: Gazetteer, kwargs: dict[str, str], reason: str
) -> None:
    fields: dict[str, Any] = {
        "sold_as": "down",
        "what_happened": "fell asleep",
        "area_code": "dtes",
    }
    fields.update(kwargs)
    async with sessions.begin() as session:
        with pytest.raises(ReportError, match=reason):
            await reports.submit(session, gazetteer=gazetteer, now=NOW, **fields)
        assert await reports.count_new(session) == 0


async def test_queue_dismiss_and_count(sessions: Sessions, gazetteer: Gazetteer) -> None:
    first = await _report(sessions, gazetteer)
    second = await _report(sessions, gazetteer, area_code=None, appearance=None)
    async with sessions.begin() as session:
        assert [r.id for r in await reports.queue(session)] == [first.id, second.id]
        assert [r.id for r in await reports.queue(session, after_id=first.id)] == [second.id]
        assert await reports.dismiss(session, report_id=first.id, now=NOW)
        assert not await reports.dismiss(session, report_id=first.id, now=NOW)
        assert not await reports.dismiss(session, report_id=9999, now=NOW)
        assert await reports.count_new(session) == 1
        gone = await reports.get(session, report_id=first.id)
    assert gone is not None
    assert gone.status is ReportStatus.DISMISSED


async def test_to_draft_in_one_step(sessions: Sessions, gazetteer: Gazetteer) -> None:
    report = await _report(sessions, gazetteer)
    nowhere = await _report(sessions, gazetteer, area_code=None, appearance=None)
    async with sessions.begin() as session:
        draft = await reports.to_draft(
            session, report_id=report.id, gazetteer=gazetteer, now=NOW, created_by_id=None
        )
        assert draft is not None
        again = await reports.to_draft(session, report_id=report.id, gazetteer=gazetteer, now=NOW)
        assert again is None
        other = await reports.to_draft(session, report_id=nowhere.id, gazetteer=gazetteer, now=NOW)
        stored = await reports.get(session, report_id=report.id)
    assert (draft.kind, draft.status, draft.areas) == (
        AlertKind.BAD_BATCH,
        AlertStatus.DRAFT,
        ("dtes",),
    )
    assert draft.fields == {
        "sold_as": "oxy 30s",
        "appearance": "blue pills",
        "symptoms": "two people went down fast,\nneeded three doses",
    }
    assert other is not None
    assert other.areas == (EVERYWHERE,)
    assert stored is not None
    assert stored.status is ReportStatus.DRAFTED
    assert stored.alert_id == draft.id


async def test_two_coordinators_one_winner(
    sessions: Sessions, gazetteer: Gazetteer, db_url: str
) -> None:
    report = await _report(sessions, gazetteer)
    other_engine = make_engine(db_url)
    try:
        other = make_sessionmaker(other_engine)

        async def draft(factory: Sessions) -> bool:
            async with factory.begin() as session:
                made = await reports.to_draft(
                    session, report_id=report.id, gazetteer=gazetteer, now=NOW
                )
            return made is not None

        async def dismiss(factory: Sessions) -> bool:
            async with factory.begin() as session:
                return await reports.dismiss(session, report_id=report.id, now=NOW)

        results = await asyncio.gather(draft(sessions), dismiss(other))
    finally:
        await other_engine.dispose()
    assert sorted(results) == [False, True]
    async with sessions() as session:
        drafts = await alerts.list_alerts(session)
    assert len(drafts) == (1 if results[0] else 0)


async def test_purge_after_retention(sessions: Sessions, gazetteer: Gazetteer) -> None:
    old = await _report(sessions, gazetteer, now=NOW - timedelta(days=40))
    await _report(sessions, gazetteer, now=NOW - timedelta(days=10))
    async with sessions.begin() as session:
        await reports.dismiss(session, report_id=old.id, now=NOW)
        assert await reports.purge(session, now=NOW, retention=timedelta(days=30)) == 1
        assert await reports.purge(session, now=NOW, retention=timedelta(days=30)) == 0
        with pytest.raises(ValueError, match="positive"):
            await reports.purge(session, now=NOW, retention=timedelta(0))
        assert await reports.count_new(session) == 1
