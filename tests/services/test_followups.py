"""Which alerts can still be followed up: current originals only, newest first."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.db.models import FollowUp
from bot.domain import AlertKind
from bot.services import alerts, followups
from bot.services.followups import Standing
from tests.support.alerts import NOW
from tests.support.engine import make_deps

Sessions = async_sessionmaker[AsyncSession]
GAZETTEER = make_deps().content.gazetteer


async def _alert(session: AsyncSession, *, send: bool = True, hours: int = 24) -> int:
    draft = await alerts.create_draft(
        session,
        kind=AlertKind.BAD_BATCH,
        severity=3,
        areas=["strathcona"],
        fields={"sold_as": "down"},
        gazetteer=GAZETTEER,
        now=NOW,
        lifetime=timedelta(hours=hours),
    )
    if send:
        await alerts.send_now(session, alert_id=draft.id, now=NOW)
    return draft.id


async def test_only_current_originals_are_listed(sessions: Sessions) -> None:
    later = NOW + timedelta(hours=2)
    async with sessions.begin() as session:
        current = await _alert(session)
        short = await _alert(session, hours=1)  # expired by ``later``
        draft = await _alert(session, send=False)
        template = await _alert(session, send=False)
        await alerts.schedule_recurring(
            session, alert_id=template, rule="daily@18:00", gazetteer=GAZETTEER, now=NOW
        )
        cleared = await _alert(session)
        clear = await alerts.create_follow_up(
            session, parent_id=cleared, follow_up=FollowUp.ALL_CLEAR, now=NOW
        )
        await alerts.send_now(session, alert_id=clear.id, now=NOW)
        update = await alerts.create_follow_up(
            session, parent_id=current, follow_up=FollowUp.UPDATE, fields={"advice": "x"}, now=NOW
        )
        await alerts.send_now(session, alert_id=update.id, now=NOW)
        newest = await _alert(session)

    async with sessions() as session:
        listed = [view.id for view in await followups.current(session, now=later)]
        standings = {
            alert_id: (await followups.standing(session, alert_id=alert_id, now=later))[0]
            for alert_id in (current, short, draft, template, cleared, update.id, newest, 999)
        }
    assert listed == [newest, current]  # an update does not end its parent
    assert standings == {
        current: Standing.CURRENT,
        short: Standing.EXPIRED,
        draft: Standing.NOT_SENT,
        template: Standing.NOT_SENT,
        cleared: Standing.CLEARED,
        update.id: Standing.NOT_SENT,
        newest: Standing.CURRENT,
        999: Standing.UNKNOWN,
    }
