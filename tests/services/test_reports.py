"""Community reports: anonymous, validated, reviewed once, turned into a draft, purged."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.content import Gazetteer
from bot.db.engine import make_engine, make_sessionmaker
from bot.db.models import Delivery, Report
from bot.domain import AlertKind, AlertStatus
from bot.privacy.masking import Kind
from bot.services import alerts, reports
from bot.services.alerts import AlertError
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


async def test_submit_stores_the_text_masked(sessions: Sessions, gazetteer: Gazetteer) -> None:
    async with sessions.begin() as session:
        report = await reports.submit(
            session,
            sold_as="down from @dealer_dave",
            what_happened="my friend Dave Smith OD'd at 123 Main St apt 4, phone 604-555-0199"
            ", near Main and Hastings",
            appearance="pink, call 604 555 0100",
            area_code="dtes",
            gazetteer=gazetteer,
            now=NOW,
        )
    async with sessions() as session:
        stored = (await session.execute(select(Report))).scalar_one()
    raw = " ".join([stored.sold_as, stored.what_happened, stored.appearance or ""])
    for secret in ("dealer_dave", "Dave", "Smith", "123", "Main St", "555"):
        assert secret not in raw
    assert stored.what_happened == "my friend [👤] OD'd at [🏠], phone [📞], near Main and Hastings"
    assert report.hidden == {Kind.PHONE: 2, Kind.ADDRESS: 1, Kind.NAME: 1, Kind.USERNAME: 1}
    assert (await _report(sessions, gazetteer)).hidden == {}


async def test_a_draft_from_a_report_waits_for_a_check(
    sessions: Sessions, gazetteer: Gazetteer
) -> None:
    report = await _report(sessions, gazetteer)
    async with sessions.begin() as session:
        draft = await reports.to_draft(session, report_id=report.id, gazetteer=gazetteer, now=NOW)
    assert draft is not None
    assert draft.needs_check
    async with sessions.begin() as session:
        with pytest.raises(AlertError, match="checked first"):
            await alerts.send_now(session, alert_id=draft.id, now=NOW)
        with pytest.raises(AlertError, match="checked first"):
            await alerts.schedule_once(
                session, alert_id=draft.id, at=NOW + timedelta(days=1), now=NOW
            )
        with pytest.raises(AlertError, match="checked first"):
            await alerts.schedule_recurring(
                session, alert_id=draft.id, rule="weekly:fri@18:00", gazetteer=gazetteer, now=NOW
            )
        assert await session.scalar(select(func.count()).select_from(Delivery)) == 0
        checked = await alerts.mark_checked(session, alert_id=draft.id)
    assert not checked.needs_check
    async with sessions.begin() as session:
        await alerts.send_now(session, alert_id=draft.id, now=NOW)


async def test_editing_the_fields_is_the_check(sessions: Sessions, gazetteer: Gazetteer) -> None:
    report = await _report(sessions, gazetteer)
    async with sessions.begin() as session:
        draft = await reports.to_draft(session, report_id=report.id, gazetteer=gazetteer, now=NOW)
        assert draft is not None
        same = await alerts.update_draft(
            session, alert_id=draft.id, gazetteer=gazetteer, severity=3
        )
        assert same.needs_check
        edited = await alerts.update_draft(
            session, alert_id=draft.id, gazetteer=gazetteer, fields={"sold_as": "oxy 30s"}
        )
    assert not edited.needs_check
