"""Retention: old request details and silent contacts go; roles, open requests and stats stay."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.db.models import (
    Alert,
    AuditEvent,
    Contact,
    Coordinator,
    DailyCount,
    Delivery,
    Invite,
    Offer,
    Request,
    RequestItem,
    SeenUpdate,
    Subscription,
)
from bot.domain import AlertKind, Channel, DeliveryStatus, RequestKind, RequestStatus, Role
from bot.privacy import derive_keys
from bot.services import (
    alert_languages,
    alerts,
    counts,
    invites,
    requests,
    retention,
    stats,
    stock,
    subscriptions,
)
from bot.services.outbox import Fanout, FanoutConfig
from tests.services.factories import NOW, add_contact, add_item, add_outlet
from tests.services.test_stats import seed
from tests.support.alerts import RecordingSender, add_subscribers, alert_engine, bad_batch_draft
from tests.support.chat import Clock
from tests.support.engine import make_deps

Sessions = async_sessionmaker[AsyncSession]
KEY = derive_keys("p" * 40).codes
PERIOD = timedelta(days=30)
_KEY = [getattr(DailyCount, column) for column in counts.KEY_COLUMNS]
_COUNTS = select(*_KEY, DailyCount.count).order_by(*_KEY)


async def _count(sessions: Sessions, model: type[object]) -> int:
    async with sessions() as session:
        count: int | None = await session.scalar(select(func.count()).select_from(model))
    return count or 0


async def test_purge_keeps_stats_and_open_requests(sessions: Sessions) -> None:
    await seed(sessions)
    window = {"since": NOW - timedelta(days=1), "until": NOW + timedelta(days=2)}
    async with sessions() as session:
        before = await stats.compute(session, **window)
        counted = (await session.execute(_COUNTS)).all()
    assert await _count(sessions, Request) == 6

    async with sessions.begin() as session:
        # Not yet: the newest closed request closed seven hours after NOW.
        early = await retention.purge(
            session, now=NOW + PERIOD + timedelta(hours=1), retention=PERIOD
        )
    assert early.requests == 4  # all but the expiry (closed at +7 h) and the open one
    async with sessions.begin() as session:
        late = await retention.purge(
            session, now=NOW + PERIOD + timedelta(days=1), retention=PERIOD
        )
    assert late.requests == 1
    async with sessions() as session:
        left = (await session.execute(select(Request.status, Request.reference))).all()
        after = await stats.compute(session, **window)
        subjects = set((await session.scalars(select(AuditEvent.subject))).all())
        kept = (await session.execute(_COUNTS)).all()
    assert [RequestStatus(row.status) for row in left] == [RequestStatus.OFFERED]
    # The purged requests' events went with them; only the open one's are left.
    assert subjects == {left[0].reference}
    assert kept == counted
    assert await _count(sessions, RequestItem) == 1
    assert await _count(sessions, Offer) == 1
    # The numbers are the same after the rows are gone (except what is open now, unchanged).
    assert after == before


async def test_silent_contacts_without_ties_are_forgotten(sessions: Sessions) -> None:
    old = NOW - PERIOD - timedelta(days=1)
    async with sessions.begin() as session:
        outlet = await add_outlet(session, stock={})
        silent = await add_contact(session)
        recent = await add_contact(session)
        coordinator = await add_contact(session)
        subscriber = await add_contact(session)
        asking = await add_contact(session)
        done = await add_contact(session)
        session.add(Coordinator(contact_id=coordinator, created_at=old))
        session.add(Subscription(contact_id=subscriber, area_code="dtes", created_at=old))
        await session.flush()
        open_request = await requests.create(
            session,
            contact_id=asking,
            kind=RequestKind.REFERRAL,
            items={},
            area_code=None,
            cell=None,
            ttl=timedelta(days=365),
            now=old,
        )
        closed = await requests.create(
            session,
            contact_id=done,
            kind=RequestKind.REFERRAL,
            items={},
            area_code=None,
            cell=None,
            ttl=timedelta(days=365),
            now=old,
        )
        await requests.cancel(session, request_id=closed.id, contact_id=done, now=NOW)
        for contact_id in (silent, coordinator, subscriber, asking, done, *outlet.peer_ids):
            await session.execute(
                update(Contact)
                .where(Contact.id == contact_id)
                .values(last_seen_on=old, created_at=old)
            )
        await session.execute(update(Contact).where(Contact.id == recent).values(last_seen_on=NOW))

    async with sessions.begin() as session:
        purged = await retention.purge(session, now=NOW, retention=PERIOD)

    assert purged.contacts == 2
    async with sessions() as session:
        kept = set((await session.scalars(select(Contact.id))).all())
        requests_left = set((await session.scalars(select(Request.id))).all())
    assert silent not in kept
    assert done not in kept
    assert {recent, coordinator, subscriber, asking} <= kept
    # The peer's contact (factories give each peer worker its own) stays too.
    assert len(kept) == 5
    assert requests_left == {open_request.id}


async def test_old_invites_and_seen_updates(sessions: Sessions) -> None:
    async with sessions.begin() as session:
        for at in (NOW - PERIOD - timedelta(days=1), NOW):
            await invites.create(
                session, codes_key=KEY, role=Role.COORDINATOR, ttl=timedelta(hours=1), now=at
            )
        await session.execute(
            insert(SeenUpdate),
            [
                {"key": "tg:1", "seen_at": NOW - timedelta(days=2)},
                {"key": "tg:2", "seen_at": NOW - timedelta(hours=1)},
            ],
        )
    async with sessions.begin() as session:
        purged = await retention.purge(session, now=NOW, retention=PERIOD)
        assert await retention.purge_seen_updates(session, now=NOW) == 1
    assert purged.invites == 1
    assert await _count(sessions, Invite) == 1
    assert await _count(sessions, SeenUpdate) == 1


async def test_big_backlog_goes_in_batches(sessions: Sessions) -> None:
    async with sessions.begin() as session:
        person = await add_contact(session)
        await session.execute(update(Contact).where(Contact.id == person).values(last_seen_on=NOW))
        for _ in range(7):
            made = await requests.create(
                session,
                contact_id=person,
                kind=RequestKind.REFERRAL,
                items={},
                area_code=None,
                cell=None,
                ttl=timedelta(hours=1),
                now=NOW - PERIOD * 2,
            )
            await requests.cancel(
                session, request_id=made.id, contact_id=person, now=made.created_at
            )
    original = retention.BATCH
    retention.BATCH = 3
    try:
        async with sessions.begin() as session:
            first = await retention.purge(session, now=NOW, retention=PERIOD, batches=2)
        async with sessions.begin() as session:
            second = await retention.purge(session, now=NOW, retention=PERIOD, batches=2)
    finally:
        retention.BATCH = original
    assert (first.requests, second.requests) == (6, 1)


async def test_a_silent_contact_who_once_got_an_alert_is_forgotten(sessions: Sessions) -> None:
    """Its delivery rows go with it (ON DELETE CASCADE), or the purge fails every tick."""
    clock = Clock(NOW)
    engine = alert_engine(sessions, clock)
    platform = RecordingSender()
    engine.add_sender(Channel.TELEGRAM, platform)
    async with sessions.begin() as session:
        [ana] = await add_subscribers(session, ["ana"], ["dtes"], now=NOW)
        draft = await bad_batch_draft(session, gazetteer=engine.deps.content.gazetteer, now=NOW)
        await alerts.send_now(session, alert_id=draft.id, now=NOW)
    await Fanout(engine, FanoutConfig(rates={Channel.TELEGRAM: 0})).run()
    assert platform.counts() == {"ana": 1}
    async with sessions.begin() as session:
        await subscriptions.stop_all(session, contact_id=ana)
        assert (await session.scalars(select(Delivery.status))).all() == [DeliveryStatus.SENT]

    async with sessions.begin() as session:
        purged = await retention.purge(
            session, now=NOW + PERIOD + timedelta(days=1), retention=PERIOD
        )

    assert purged.contacts == 1
    assert await _count(sessions, Contact) == 0
    assert await _count(sessions, Delivery) == 0


async def test_events_older_than_the_period_go_and_their_counts_stay(sessions: Sessions) -> None:
    """Events not about a purged request (a stock change, a request open for months) go
    once they are older than the period; what they counted stays."""
    old = NOW - PERIOD - timedelta(hours=1)
    async with sessions.begin() as session:
        outlet = await add_outlet(session, stock={})
        item = await add_item(session, "kit")
        await stock.set_quantity(
            session, outlet_id=outlet.outlet_id, item_id=item, quantity=5, actor="peer", now=old
        )
        await stock.set_quantity(
            session, outlet_id=outlet.outlet_id, item_id=item, quantity=4, actor="peer", now=NOW
        )
        person = await add_contact(session)
        await session.execute(update(Contact).where(Contact.id == person).values(last_seen_on=NOW))
        long_open = await requests.create(
            session,
            contact_id=person,
            kind=RequestKind.REFERRAL,
            items={},
            area_code="dtes",
            cell=None,
            ttl=PERIOD * 3,
            now=old,
        )
    async with sessions.begin() as session:
        purged = await retention.purge(session, now=NOW, retention=PERIOD)
    assert purged.events == 2
    async with sessions() as session:
        left = (await session.execute(select(AuditEvent.action, AuditEvent.at))).all()
        assert await session.get(Request, long_open.id) is not None
        numbers = await stats.compute(session, since=old, until=NOW + timedelta(hours=1))
        stock_sets = await session.scalar(
            select(func.sum(DailyCount.count)).where(DailyCount.measure == "stock.set")
        )
    assert [(row.action, row.at) for row in left] == [("stock.set", NOW)]
    assert numbers.created_by_kind == {"referral": 1}
    assert stock_sets == 2


async def test_purge_leaves_stats_unchanged_at_any_moment(sessions: Sessions) -> None:
    """Every purge from the first request closing to all of them gone: the same numbers."""
    await seed(sessions)
    window = {"since": NOW - timedelta(days=1), "until": NOW + timedelta(days=2)}
    async with sessions() as session:
        before = await stats.compute(session, **window)
    for hours in (0, 1, 6, 8, 30, 60):
        async with sessions.begin() as session:
            await retention.purge(
                session, now=NOW + timedelta(hours=hours + 1), retention=timedelta(hours=1)
            )
        async with sessions() as session:
            assert await stats.compute(session, **window) == before


async def _alert_texts(sessions: Sessions) -> dict[int, tuple[str, object, object]]:
    async with sessions() as session:
        rows = await session.execute(
            select(Alert.id, Alert.status, Alert.fields, Alert.translations).order_by(Alert.id)
        )
        return {row.id: (row.status.value, row.fields, row.translations) for row in rows}


async def test_alert_free_text_goes_after_expiry_plus_retention(sessions: Sessions) -> None:
    gazetteer = make_deps().content.gazetteer
    async with sessions.begin() as session:
        sent = await bad_batch_draft(session, gazetteer=gazetteer, now=NOW)
        await alert_languages.set_translation(
            session, alert_id=sent.id, locale="ru", fields={"sold_as": "герыч"}, base_locale="en"
        )
        await alerts.send_now(session, alert_id=sent.id, now=NOW)  # current for 72 h
        await alerts.finish_done(session, now=NOW)
        dropped = await bad_batch_draft(session, gazetteer=gazetteer, now=NOW)
        await alerts.cancel(session, alert_id=dropped.id, now=NOW)
        left = await bad_batch_draft(session, gazetteer=gazetteer, now=NOW)  # never sent
        later = await bad_batch_draft(session, gazetteer=gazetteer, now=NOW)
        await alerts.schedule_once(
            session, alert_id=later.id, at=NOW + timedelta(days=300), now=NOW
        )

    async def purge(at: timedelta) -> int:
        async with sessions.begin() as session:
            return await retention.purge_alert_texts(session, now=NOW + at, retention=PERIOD)

    assert await purge(PERIOD - timedelta(minutes=1)) == 0
    # The cancelled draft and the one nobody sent go a period after they were made...
    assert await purge(PERIOD + timedelta(hours=1)) == 2
    texts = await _alert_texts(sessions)
    assert texts[dropped.id] == ("cancelled", {}, None)
    assert texts[left.id] == ("cancelled", {}, None)
    assert texts[sent.id] == (
        "sent",
        {"sold_as": "down", "found_to_contain": "nitazenes"},
        {"ru": {"sold_as": "герыч"}},
    )
    # ...the sent one a period after it stopped being current; the scheduled one stays.
    assert await purge(PERIOD + timedelta(hours=71)) == 0
    assert await purge(PERIOD + timedelta(hours=73)) == 1
    assert await purge(PERIOD + timedelta(days=400)) == 0
    texts = await _alert_texts(sessions)
    assert texts[sent.id] == ("sent", {}, None)
    assert texts[later.id][:2] == (
        "scheduled",
        {"sold_as": "down", "found_to_contain": "nitazenes"},
    )
    async with sessions() as session:
        kept = await alerts.get(session, alert_id=sent.id)
        tally = await alerts.progress(session, alert_id=sent.id)
    assert kept is not None
    assert (kept.kind, kept.severity, kept.areas) == (AlertKind.BAD_BATCH, 3, ("dtes",))
    assert tally.total == 0  # kept as it was: nobody was subscribed


async def test_alert_texts_go_in_batches_and_refuse_no_period(sessions: Sessions) -> None:
    gazetteer = make_deps().content.gazetteer
    async with sessions.begin() as session:
        for _ in range(3):
            await bad_batch_draft(session, gazetteer=gazetteer, now=NOW)
        with pytest.raises(ValueError, match="positive"):
            await retention.purge_alert_texts(session, now=NOW, retention=timedelta(0))
    monkey = pytest.MonkeyPatch()
    monkey.setattr(retention, "BATCH", 2)
    try:
        async with sessions.begin() as session:
            done = await retention.purge_alert_texts(
                session, now=NOW + PERIOD * 2, retention=PERIOD, batches=1
            )
        assert done == 2
        async with sessions.begin() as session:
            assert (
                await retention.purge_alert_texts(session, now=NOW + PERIOD * 2, retention=PERIOD)
                == 1
            )
    finally:
        monkey.undo()
