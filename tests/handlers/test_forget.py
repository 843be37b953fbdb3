"""/forget as transcripts: explain, confirm, delete everything, start fresh."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import func, select

from bot.db.models import AuditEvent, Contact, ConversationState, Delivery, Request, Stock
from bot.domain import Channel, DeliveryStatus
from bot.services import alerts, stats
from bot.services.outbox import Fanout, FanoutConfig
from tests.handlers.person_world import (
    Sessions,
    accept,
    ask_for_syringes,
    first_line,
    labels,
    make_world,
)
from tests.support.alerts import bad_batch_draft
from tests.support.chat import texts

DAY = timedelta(days=1)


async def count(sessions: Sessions, model: type[object]) -> int:
    async with sessions() as session:
        return int(await session.scalar(select(func.count()).select_from(model)) or 0)


async def test_keep(sessions: Sessions) -> None:
    world = await make_world(sessions)
    [ask] = await world.chat.say("ana", "/forget")
    assert first_line(ask) == "Delete everything?"
    assert "open ones are cancelled" in ask.text
    assert labels(ask) == ["Delete everything", "Keep"]
    [kept] = await world.chat.tap("ana", "Keep")
    assert first_line(kept) == "Kept. Nothing was deleted."
    assert await world.contacts() == 1


async def test_delete_everything(sessions: Sessions) -> None:
    world = await make_world(sessions)
    pat = await world.peer("pat", "main_hastings_peer")
    first = await ask_for_syringes(world)
    second = await ask_for_syringes(world)
    await accept(world, pat, first)
    ana = await world.contact_id("ana")
    contacts_before = await world.contacts()

    await world.chat.say("ana", "/forget")
    [typed] = await world.chat.say("ana", "yes")
    assert first_line(typed) == "Please choose one of the buttons."
    delete = typed.options[0]
    [done] = await world.chat.press("ana", delete.payload)
    assert done.text.splitlines()[0] == "Deleted."
    assert done.options == ()

    async with sessions() as session:
        assert await session.get(Contact, ana) is None
        assert await session.scalar(select(func.count()).where(Request.contact_id == ana)) == 0
        assert await session.get(ConversationState, ana) is None
        # Reservations of the accepted request went back on the shelf before the rows went.
        assert sum((await session.scalars(select(Stock.reserved))).all()) == 0
        # No event about the person's requests is left; the daily counts keep the numbers.
        subjects = (await session.scalars(select(AuditEvent.subject))).all()
        numbers = await stats.compute(
            session, since=world.clock.now - timedelta(days=1), until=world.clock.now + DAY
        )
    assert not {first, second} & set(subjects)
    assert numbers.created_by_kind == {"equipment": 2}
    assert numbers.closed_by_status == {"cancelled": 2}
    assert numbers.by_outlet
    assert all(n.accepted == 1 for n in numbers.by_outlet.values())
    assert await world.contacts() == contacts_before - 1
    # The peer holding the accepted request was told it is off.
    assert "no need to hand over" in texts(world.chat.inbox("pat"))

    # The old button does nothing to the new contact a later message makes.
    again = await world.chat.press("ana", delete.payload)
    assert texts(again) == "That button has expired. Here is the menu."
    assert await world.contacts() == contacts_before
    assert await world.requests("ana") == []
    assert await count(sessions, Request) == 0


async def test_forget_after_an_alert_was_sent(sessions: Sessions) -> None:
    """The delivery rows of alerts someone received go with them (ON DELETE CASCADE)."""
    world = await make_world(sessions)
    await world.chat.say("ana", "/alerts")
    await world.chat.tap("ana", "Add an area")
    await world.chat.tap("ana", "Everywhere")
    async with sessions.begin() as session:
        draft = await bad_batch_draft(
            session, gazetteer=world.engine.deps.content.gazetteer, now=world.clock.now
        )
        await alerts.send_now(session, alert_id=draft.id, now=world.clock.now)
    await Fanout(world.engine, FanoutConfig(rates={Channel.TELEGRAM: 0})).run()
    assert "Found to contain: nitazenes" in world.chat.last("ana").text
    ana = await world.contact_id("ana")
    async with sessions() as session:
        sent = (await session.scalars(select(Delivery.status))).all()
    assert sent == [DeliveryStatus.SENT]

    await world.chat.say("ana", "/forget")
    [done] = await world.chat.tap("ana", "Delete everything")

    assert first_line(done) == "Deleted."
    async with sessions() as session:
        assert await session.get(Contact, ana) is None
    assert await count(sessions, Delivery) == 0
