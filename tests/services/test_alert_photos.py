"""An alert's photo: only a stripped JPEG is stored; it goes with cancel, retention and the
alert; a recurring series' occurrences carry the template's; the outbox sends it."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from sqlalchemy import delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.core.messages import Reply, SendResult, SendStatus
from bot.db.models import Alert, AlertPhoto
from bot.domain import AlertKind, Channel
from bot.privacy.images import strip_image
from bot.services import alerts, outbox, retention
from bot.services.alerts import AlertError, AlertView
from tests.support.alerts import NOW, add_subscribers, alert_engine
from tests.support.chat import Clock
from tests.support.engine import make_deps
from tests.support.images import tagged_jpeg

Sessions = async_sessionmaker[AsyncSession]
CONTENT = make_deps().content
CLEAN = strip_image(tagged_jpeg())


class Replies:
    """Keeps each reply sent, photo included."""

    def __init__(self) -> None:
        self.replies: list[Reply] = []

    async def send_result(self, address: str, reply: Reply) -> SendResult:
        self.replies.append(reply)
        return SendResult(SendStatus.SENT)

    async def send(self, address: str, reply: Reply) -> SendStatus:
        return (await self.send_result(address, reply)).status


async def _draft(sessions: Sessions, now: datetime = NOW) -> AlertView:
    async with sessions.begin() as session:
        return await alerts.create_draft(
            session,
            kind=AlertKind.BAD_BATCH,
            severity=3,
            areas=["dtes"],
            fields={"sold_as": "down"},
            gazetteer=CONTENT.gazetteer,
            now=now,
        )


async def _count(sessions: Sessions) -> int:
    async with sessions() as session:
        return int(await session.scalar(select(func.count()).select_from(AlertPhoto)) or 0)


async def _attach(sessions: Sessions, alert_id: int, jpeg: bytes = CLEAN) -> None:
    async with sessions.begin() as session:
        await alerts.set_photo(session, alert_id=alert_id, jpeg=jpeg)


async def test_only_a_stripped_jpeg_is_stored(sessions: Sessions) -> None:
    draft = await _draft(sessions)
    for unstripped in (tagged_jpeg(), b"GIF89a not a jpeg"):
        with pytest.raises(AlertError) as refused:
            await _attach(sessions, draft.id, unstripped)
        assert refused.value.code == "photo"
    assert await _count(sessions) == 0
    await _attach(sessions, draft.id)
    await _attach(sessions, draft.id)  # replaced, not added
    async with sessions() as session:
        assert await alerts.has_photo(session, alert_id=draft.id)
        assert await alerts.photo_for(session, alert_id=draft.id) == CLEAN
    async with sessions.begin() as session:
        assert await alerts.remove_photo(session, alert_id=draft.id)
        assert not await alerts.remove_photo(session, alert_id=draft.id)
    assert await _count(sessions) == 0


async def test_a_sent_alert_cannot_change_its_photo(sessions: Sessions) -> None:
    draft = await _draft(sessions)
    async with sessions.begin() as session:
        await alerts.send_now(session, alert_id=draft.id, now=NOW)
    with pytest.raises(AlertError):
        await _attach(sessions, draft.id)


async def test_cancel_and_deleting_the_alert_take_the_photo(sessions: Sessions) -> None:
    cancelled, deleted = await _draft(sessions), await _draft(sessions)
    await _attach(sessions, cancelled.id)
    await _attach(sessions, deleted.id)
    async with sessions.begin() as session:
        await alerts.cancel(session, alert_id=cancelled.id, now=NOW)
    assert await _count(sessions) == 1
    async with sessions.begin() as session:
        await session.execute(delete(Alert).where(Alert.id == deleted.id))
    assert await _count(sessions) == 0


async def test_retention_takes_the_photo_with_the_text(sessions: Sessions) -> None:
    draft = await _draft(sessions)
    await _attach(sessions, draft.id)
    async with sessions.begin() as session:
        await alerts.send_now(session, alert_id=draft.id, now=NOW)
    later = NOW + alerts.DEFAULT_LIFETIME + timedelta(days=31)
    async with sessions.begin() as session:
        await retention.purge_alert_texts(session, now=later, retention=timedelta(days=30))
    assert await _count(sessions) == 0


async def test_the_outbox_sends_the_photo_and_occurrences_reuse_the_template_s(
    sessions: Sessions,
) -> None:
    async with sessions.begin() as session:
        await add_subscribers(session, ["ana"], ["dtes"])
    draft = await _draft(sessions)
    await _attach(sessions, draft.id)
    async with sessions.begin() as session:
        template = await alerts.schedule_recurring(
            session,
            alert_id=draft.id,
            rule="daily@18:00",
            gazetteer=CONTENT.gazetteer,
            now=NOW,
        )
    assert template.due_at is not None
    clock = Clock(template.due_at)
    engine = alert_engine(sessions, clock)
    sender = Replies()
    engine.add_sender(Channel.TELEGRAM, sender)
    assert (await outbox.run_alert_due(engine, budget=3)).fired == 1
    [reply] = sender.replies
    assert reply.photo == CLEAN
    # The caption is the heading only: never a word the coordinator typed.
    assert reply.caption
    assert "down" not in reply.caption
    assert reply.text.startswith(reply.caption)
    assert await _count(sessions) == 1  # the template's, not copied per occurrence
