"""The *Alerts* board: which section an alert is in, paging of past ones, batched progress;
and the typed schedule and repeat rules chat and console share."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.domain import AlertKind
from bot.services import alert_board, alerts
from bot.services.alerts import AlertError
from tests.support.alerts import NOW, add_subscribers
from tests.support.engine import make_deps

GAZETTEER = make_deps().content.gazetteer
VANCOUVER = ZoneInfo("America/Vancouver")


async def _draft(session: AsyncSession) -> int:
    view = await alerts.create_draft(
        session,
        kind=AlertKind.BAD_BATCH,
        severity=2,
        areas=["gastown"],
        fields={"sold_as": "down"},
        gazetteer=GAZETTEER,
        now=NOW,
        lifetime=timedelta(hours=6),
    )
    return view.id


async def test_sections_paging_and_progress(sessions: async_sessionmaker[AsyncSession]) -> None:
    async with sessions.begin() as session:
        await add_subscribers(session, ["a", "b"], ["gastown"])
        sent = [await _draft(session) for _ in range(alert_board.PAST_PAGE + 2)]
        for alert_id in sent:
            await alerts.send_now(session, alert_id=alert_id, now=NOW)
        scheduled = await _draft(session)
        await alerts.schedule_once(session, alert_id=scheduled, at=NOW + timedelta(days=1), now=NOW)
        draft = await _draft(session)
        dropped = await _draft(session)
        await alerts.cancel(session, alert_id=dropped, now=NOW)

    async with sessions() as session:
        now = await alert_board.board(session, now=NOW + timedelta(hours=1))
        assert [r.alert.id for r in now.current] == sorted(sent, reverse=True)
        assert all(r.tally.pending == 2 and r.tally.total == 2 for r in now.current)
        assert [r.alert.id for r in now.scheduled] == [scheduled]
        assert [r.alert.id for r in now.drafts] == [draft]
        assert now.past == []

        later = NOW + timedelta(hours=7)  # every sent one expired; the dropped draft is not shown
        first = await alert_board.board(session, now=later)
        assert first.current == []
        assert len(first.past) == alert_board.PAST_PAGE
        assert first.more
        second = await alert_board.board(session, now=later, page=1)
        assert [r.alert.id for r in second.past] == sorted(sent)[:2][::-1]
        assert not second.more
        assert dropped not in [r.alert.id for r in first.past + second.past]


def test_typed_times_and_repeat_rules() -> None:
    assert alerts.local_when("2026-11-26 18:00", VANCOUVER) == datetime(
        2026, 11, 26, 18, 0, tzinfo=VANCOUVER
    )
    assert alerts.local_when("2026-11-26T18:00", VANCOUVER).astimezone(UTC).hour == 2
    with pytest.raises(AlertError) as bad:
        alerts.local_when("tomorrow", VANCOUVER)
    assert bad.value.code == "when"
    assert alerts.repeat_rule([4], "18:00") == "weekly:fri@18:00"
    assert alerts.repeat_rule([0, 3, 3], "9.30") == "weekly:mon,thu@09:30"
    assert alerts.repeat_rule(range(7), "18h00") == "daily@18:00"
    assert alerts.repeat_rule([], "18:00") is None
    assert alerts.repeat_rule([1], "25:00") is None
