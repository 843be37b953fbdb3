"""Subscriptions: areas from the gazetteer or everywhere, change, list, STOP, blocked contacts."""

from __future__ import annotations

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.content import Gazetteer
from bot.db.models import Contact, Delivery, Subscription
from bot.domain import AlertKind, DeliveryStatus
from bot.services import alerts, subscriptions
from bot.services.subscriptions import EVERYWHERE, SubscriptionError
from tests.support.alerts import NOW, add_subscribers
from tests.support.engine import make_deps

Sessions = async_sessionmaker[AsyncSession]


@pytest.fixture(scope="module")
def gazetteer() -> Gazetteer:
    return make_deps().content.gazetteer


async def _person(sessions: Sessions) -> int:
    async with sessions.begin() as session:
        [contact_id] = await add_subscribers(session, ["ana"], [])
    return contact_id


async def test_subscribe_is_idempotent_and_lists_sorted(
    sessions: Sessions, gazetteer: Gazetteer
) -> None:
    ana = await _person(sessions)
    async with sessions.begin() as session:
        got = await subscriptions.subscribe(
            session, contact_id=ana, areas=["strathcona", "dtes"], gazetteer=gazetteer, now=NOW
        )
        assert got == ["dtes", "strathcona"]
        again = await subscriptions.subscribe(
            session, contact_id=ana, areas=["dtes", " dtes "], gazetteer=gazetteer, now=NOW
        )
        assert again == ["dtes", "strathcona"]
    async with sessions() as session:
        assert await subscriptions.areas_of(session, contact_id=ana) == ["dtes", "strathcona"]


@pytest.mark.parametrize("areas", [[], ["atlantis"], ["dtes", "nowhere"], ["x"] * 0])
async def test_bad_area_lists_are_refused(
    sessions: Sessions, gazetteer: Gazetteer, areas: list[str]
) -> None:
    ana = await _person(sessions)
    async with sessions.begin() as session:
        with pytest.raises(SubscriptionError):
            await subscriptions.subscribe(
                session, contact_id=ana, areas=areas, gazetteer=gazetteer, now=NOW
            )
    async with sessions() as session:
        assert await subscriptions.areas_of(session, contact_id=ana) == []


async def test_everywhere_replace_and_unsubscribe(sessions: Sessions, gazetteer: Gazetteer) -> None:
    ana = await _person(sessions)
    async with sessions.begin() as session:
        await subscriptions.subscribe(
            session, contact_id=ana, areas=["dtes", "gastown"], gazetteer=gazetteer, now=NOW
        )
        assert await subscriptions.replace(
            session, contact_id=ana, areas=[EVERYWHERE, "gastown"], gazetteer=gazetteer, now=NOW
        ) == [EVERYWHERE, "gastown"]
        assert await subscriptions.unsubscribe(session, contact_id=ana, areas=["gastown"]) == 1
        assert await subscriptions.unsubscribe(session, contact_id=ana, areas=[]) == 0
        assert await subscriptions.areas_of(session, contact_id=ana) == [EVERYWHERE]


async def test_only_the_area_is_stored(sessions: Sessions, gazetteer: Gazetteer) -> None:
    ana = await _person(sessions)
    async with sessions.begin() as session:
        await subscriptions.subscribe(
            session, contact_id=ana, areas=["dtes"], gazetteer=gazetteer, now=NOW
        )
    assert set(Subscription.__table__.columns.keys()) == {"contact_id", "area_code", "created_at"}


async def test_stop_removes_everything_and_queued_alerts(
    sessions: Sessions, gazetteer: Gazetteer
) -> None:
    async with sessions.begin() as session:
        ana, bob = await add_subscribers(session, ["ana", "bob"], ["dtes", "gastown"])
        draft = await alerts.create_draft(
            session,
            kind=AlertKind.BAD_BATCH,
            severity=2,
            areas=["dtes"],
            fields={"sold_as": "down"},
            gazetteer=gazetteer,
            now=NOW,
        )
        assert await alerts.send_now(session, alert_id=draft.id, now=NOW) == 2
    async with sessions.begin() as session:
        assert await subscriptions.stop_all(session, contact_id=ana) == 2
        assert await subscriptions.stop_all(session, contact_id=ana) == 0
    async with sessions() as session:
        assert await subscriptions.areas_of(session, contact_id=ana) == []
        assert await subscriptions.areas_of(session, contact_id=bob) == ["dtes", "gastown"]
        statuses = dict((await session.execute(select(Delivery.contact_id, Delivery.status))).all())
    assert statuses == {ana: DeliveryStatus.EXPIRED, bob: DeliveryStatus.PENDING}


async def test_unreachable_contact_loses_subscriptions(
    sessions: Sessions, gazetteer: Gazetteer
) -> None:
    async with sessions.begin() as session:
        ana, _bob = await add_subscribers(session, ["ana", "bob"], ["dtes"])
        await subscriptions.drop_unreachable(session, contact_ids={ana})
        await subscriptions.drop_unreachable(session, contact_ids=set())
    async with sessions() as session:
        assert await subscriptions.areas_of(session, contact_id=ana) == []
        assert (await session.get_one(Contact, ana)).reachable is False
        assert await subscriptions.subscriber_count(session, areas=["dtes"]) == 1


async def test_subscriber_count(sessions: Sessions) -> None:
    async with sessions.begin() as session:
        await add_subscribers(session, ["a1", "a2"], ["dtes", "strathcona"])
        await add_subscribers(session, ["b1"], ["gastown"])
        await add_subscribers(session, ["c1"], [EVERYWHERE])
    async with sessions() as session:
        # Each person once, however many of the areas they follow; `*` followers always.
        assert await subscriptions.subscriber_count(session, areas=["dtes", "strathcona"]) == 3
        assert await subscriptions.subscriber_count(session, areas=["gastown"]) == 2
        assert await subscriptions.subscriber_count(session, areas=[EVERYWHERE]) == 4
        assert await subscriptions.subscriber_count(session, areas=[]) == 0
