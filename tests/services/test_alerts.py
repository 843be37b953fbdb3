"""Alerts: composing, rendering, audiences, schedules across DST, two instances, follow-ups."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.content import Content
from bot.content.cards import DISCREET_WORDS
from bot.core.engine import Engine
from bot.db.engine import make_engine, make_sessionmaker
from bot.db.models import Alert, Delivery
from bot.domain import AlertKind, AlertStatus, Channel
from bot.services import alerts, outbox
from bot.services.alerts import AlertError, AlertView, FollowUp, Recurrence
from bot.services.subscriptions import EVERYWHERE
from tests.support.alerts import (
    NOW,
    RecordingSender,
    add_coordinator,
    add_subscribers,
    alert_engine,
)
from tests.support.chat import Clock
from tests.support.engine import make_deps

Sessions = async_sessionmaker[AsyncSession]
VANCOUVER = ZoneInfo("America/Vancouver")
T = make_deps().words.for_locale("en")


@pytest.fixture(scope="module")
def content() -> Content:
    return make_deps().content


def _fields(**extra: str | None) -> dict[str, str | None]:
    return {"sold_as": "down", "found_to_contain": "nitazenes", **extra}


async def _draft(
    sessions: Sessions,
    content: Content,
    *,
    areas: list[str],
    kind: AlertKind = AlertKind.BAD_BATCH,
    severity: int = 3,
    now: datetime = NOW,
    created_by_id: int | None = None,
    lifetime: timedelta = alerts.DEFAULT_LIFETIME,
) -> AlertView:
    async with sessions.begin() as session:
        return await alerts.create_draft(
            session,
            kind=kind,
            severity=severity,
            areas=areas,
            fields=_fields(),
            gazetteer=content.gazetteer,
            now=now,
            created_by_id=created_by_id,
            lifetime=lifetime,
        )


async def _send_now(sessions: Sessions, alert_id: int, now: datetime = NOW) -> int:
    async with sessions.begin() as session:
        return await alerts.send_now(session, alert_id=alert_id, now=now)


def _engine(sessions: Sessions, clock: Clock) -> tuple[Engine, RecordingSender]:
    engine = alert_engine(sessions, clock)
    sender = RecordingSender()
    engine.add_sender(Channel.TELEGRAM, sender)
    return engine, sender


# --- composing -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fields", "reason"),
    [
        ({}, "at least one field"),
        ({"sold_as": "  "}, "at least one field"),
        ({"sold_as": "down\u202eevil"}, "control characters"),
        ({"sold_as": "two\nlines"}, "control characters"),
        ({"appearance": "x" * 201}, "at most 200"),
        ({"advice": "y" * 1001}, "at most 1000"),
        ({"colour": "blue"}, "unknown field"),
        ({"symptoms": "s" * 500, "advice": "a" * 1000, "sold_as": "x"}, "in all fields"),
    ],
)
def test_fields_are_validated(fields: dict[str, str | None], reason: str) -> None:
    with pytest.raises(AlertError, match=reason):
        alerts.validate_fields(fields)


def test_fields_are_trimmed_and_ordered() -> None:
    got = alerts.validate_fields(
        {"advice": " don't use alone \n\n\n\n carry naloxone ", "sold_as": " down ", "symptoms": ""}
    )
    assert got == {"sold_as": "down", "advice": "don't use alone\n\ncarry naloxone"}
    assert list(got) == ["sold_as", "advice"]


async def test_create_draft_checks_everything(sessions: Sessions, content: Content) -> None:
    async with sessions.begin() as session:
        cases: list[tuple[dict[str, Any], str]] = [
            ({"areas": ["atlantis"]}, "unknown area"),
            ({"areas": []}, "at least one area"),
            ({"severity": 4}, "severity"),
            ({"lifetime": timedelta(minutes=5)}, "between 1 hour"),
        ]
        for kwargs, reason in cases:
            args: dict[str, Any] = {
                "areas": ["dtes"],
                "severity": 2,
                "lifetime": alerts.DEFAULT_LIFETIME,
            }
            args.update(kwargs)
            with pytest.raises(AlertError, match=reason):
                await alerts.create_draft(
                    session,
                    kind=AlertKind.BAD_BATCH,
                    fields=_fields(),
                    gazetteer=content.gazetteer,
                    now=NOW,
                    **args,
                )
        draft = await alerts.create_draft(
            session,
            kind=AlertKind.SAFETY,
            severity=1,
            areas=["dtes", EVERYWHERE],
            fields={"advice": "Don't use alone."},
            gazetteer=content.gazetteer,
            now=NOW,
        )
    assert draft.areas == (EVERYWHERE,)
    assert draft.status is AlertStatus.DRAFT


async def test_update_draft(sessions: Sessions, content: Content) -> None:
    draft = await _draft(sessions, content, areas=["dtes"])
    async with sessions.begin() as session:
        changed = await alerts.update_draft(
            session,
            alert_id=draft.id,
            gazetteer=content.gazetteer,
            severity=1,
            areas=["gastown", "chinatown"],
            fields={"appearance": "purple rock"},
        )
    assert (changed.severity, changed.areas) == (1, ("chinatown", "gastown"))
    assert changed.fields == {"appearance": "purple rock"}
    await _send_now(sessions, draft.id)
    async with sessions.begin() as session:
        with pytest.raises(AlertError, match="only a draft"):
            await alerts.update_draft(
                session, alert_id=draft.id, gazetteer=content.gazetteer, severity=2
            )


# --- rendering -----------------------------------------------------------------------------------


def _view(**kwargs: object) -> AlertView:
    base: dict[str, object] = {
        "id": 7,
        "kind": AlertKind.BAD_BATCH,
        "severity": 3,
        "status": AlertStatus.DRAFT,
        "fields": alerts.validate_fields(
            _fields(appearance="purple rock", symptoms="long sleep", advice="test first")
        ),
        "areas": ("dtes", "strathcona"),
        "lifetime": timedelta(days=1),
    }
    base.update(kwargs)
    return AlertView(**base)  # type: ignore[arg-type]


@pytest.mark.parametrize("kind", list(AlertKind))
@pytest.mark.parametrize("severity", [1, 2, 3])
@pytest.mark.parametrize("follow_up", [None, FollowUp.UPDATE, FollowUp.ALL_CLEAR])
def test_first_line_is_discreet(
    content: Content, kind: AlertKind, severity: int, follow_up: FollowUp | None
) -> None:
    text = alerts.render_alert(
        _view(kind=kind, severity=severity, follow_up=follow_up),
        T,
        content.gazetteer,
        content.cards,
    )
    first, blank = text.split("\n")[:2]
    assert blank == ""
    assert not [word for word in DISCREET_WORDS if word in first.casefold()]
    # Nothing a coordinator typed reaches the lock screen either.
    assert "down" not in first
    assert "nitazenes" not in first


def test_longest_alert_fits_one_telegram_message(content: Content) -> None:
    fields = alerts.validate_fields(
        {
            "sold_as": "s" * 200,
            "found_to_contain": "f" * 200,
            "appearance": "a" * 200,
            "symptoms": "y" * 500,
            "advice": "v" * 400,
        }
    )
    every_area = tuple(sorted(content.gazetteer.codes))
    text = alerts.render_alert(
        _view(fields=fields, areas=every_area), T, content.gazetteer, content.cards
    )
    assert len(text.encode("utf-16-le")) // 2 <= 4096


def test_body_carries_facts_number_and_naloxone_advice(content: Content) -> None:
    text = alerts.render_alert(_view(), T, content.gazetteer, content.cards)
    for expected in [
        "Bad batch warning",
        "Downtown Eastside, Strathcona",
        "Sold as: down",
        "Found to contain: nitazenes",
        "Looks like: purple rock",
        "Effects seen: long sleep",
        "Advice: test first",
        "Call 911",
        "naloxone",
    ]:
        assert expected in text
    assert "{" not in text
    assert len(text) <= 4096


def test_other_kinds_and_all_clear(content: Content) -> None:
    safety = alerts.render_alert(
        _view(kind=AlertKind.SAFETY, fields={"advice": "Carry naloxone."}, areas=(EVERYWHERE,)),
        T,
        content.gazetteer,
        content.cards,
    )
    assert "Safety message · Areas: everywhere" in safety
    assert "call 911, give naloxone" in safety
    clear = alerts.render_alert(
        _view(follow_up=FollowUp.ALL_CLEAR, fields={}), T, content.gazetteer, content.cards
    )
    assert "the earlier warning is over" in clear
    assert "Signs:" not in clear


async def test_preview_is_exactly_what_is_sent(sessions: Sessions, content: Content) -> None:
    async with sessions.begin() as session:
        await add_subscribers(session, ["ana", "bob"], ["dtes"])
    draft = await _draft(sessions, content, areas=["dtes"])
    async with sessions() as session:
        shown = await alerts.preview(
            session,
            alert_id=draft.id,
            t=T,
            gazetteer=content.gazetteer,
            cards=content.cards,
            directory=content.directory,
            now=NOW,
        )
    assert shown.recipients == 2
    assert "Current until" in shown.text
    assert "Drug checking: " in shown.text
    await _send_now(sessions, draft.id)
    engine, sender = _engine(sessions, Clock(NOW))
    await outbox.run_alert_due(engine, budget=5)
    assert sender.sent["ana"] == [shown.text]


# --- audience and sending ------------------------------------------------------------------------


async def test_audience_is_the_areas_and_everywhere_each_once(
    sessions: Sessions, content: Content
) -> None:
    async with sessions.begin() as session:
        both = await add_subscribers(session, ["both"], ["dtes", "strathcona"])
        await add_subscribers(session, ["dtes1", "dtes2"], ["dtes"])
        await add_subscribers(session, ["all"], [EVERYWHERE])
        await add_subscribers(session, ["far1", "far2"], ["kitsilano"])
        await add_subscribers(session, ["none"], [])
    draft = await _draft(sessions, content, areas=["dtes", "strathcona"])
    assert await _send_now(sessions, draft.id) == 4
    with pytest.raises(AlertError, match="not a draft"):
        await _send_now(sessions, draft.id)
    engine, sender = _engine(sessions, Clock(NOW))
    report = await outbox.run_alert_due(engine, budget=5)
    assert sender.counts() == {"both": 1, "dtes1": 1, "dtes2": 1, "all": 1}
    assert report.finished == [draft.id]
    assert both


async def test_coordinator_hears_the_counts(sessions: Sessions, content: Content) -> None:
    async with sessions.begin() as session:
        coordinator_id, _ = await add_coordinator(session, "coord")
        await add_subscribers(session, ["a", "b", "blocked"], ["dtes"])
    draft = await _draft(sessions, content, areas=["dtes"], created_by_id=coordinator_id)
    await _send_now(sessions, draft.id)
    engine, sender = _engine(sessions, Clock(NOW))
    sender.blocked.add("blocked")
    await outbox.run_alert_due(engine, budget=5)
    [notice] = sender.sent["coord"]
    assert notice.startswith(
        f"Alert A{draft.id} is done: sent 2, failed 0, unreachable 1, unknown 0."
    )
    async with sessions() as session:
        view = await alerts.get(session, alert_id=draft.id)
        assert view is not None
        assert view.status is AlertStatus.SENT
        # A second tick tells nobody again.
    await outbox.run_alert_due(engine, budget=1)
    assert len(sender.sent["coord"]) == 1


async def test_expired_alert_reaches_nobody_new(sessions: Sessions, content: Content) -> None:
    async with sessions.begin() as session:
        await add_subscribers(session, [f"p{i}" for i in range(5)], ["dtes"])
    clock = Clock(NOW)
    draft = await _draft(sessions, content, areas=["dtes"], lifetime=timedelta(hours=1))
    await _send_now(sessions, draft.id)
    clock.advance(hours=1)
    engine, sender = _engine(sessions, clock)
    report = await outbox.run_alert_due(engine, budget=2)
    assert sender.calls == 0
    assert report.expired == 5
    async with sessions() as session:
        tally = await alerts.progress(session, alert_id=draft.id)
        current = await alerts.list_current(session, contact_id=1, now=clock())
    assert tally.expired == 5
    assert tally.total == 5
    assert current == []


async def test_cancel_while_sending_stops_the_rest(sessions: Sessions, content: Content) -> None:
    async with sessions.begin() as session:
        await add_subscribers(session, ["a", "b", "c"], ["dtes"])
    draft = await _draft(sessions, content, areas=["dtes"])
    await _send_now(sessions, draft.id)
    async with sessions.begin() as session:
        assert await alerts.cancel(session, alert_id=draft.id, now=NOW)
        assert not await alerts.cancel(session, alert_id=draft.id, now=NOW)
    engine, sender = _engine(sessions, Clock(NOW))
    await outbox.run_alert_due(engine, budget=2)
    assert sender.calls == 0
    async with sessions() as session:
        assert (await alerts.progress(session, alert_id=draft.id)).expired == 3


async def test_list_current_for_a_person(sessions: Sessions, content: Content) -> None:
    async with sessions.begin() as session:
        [ana] = await add_subscribers(session, ["ana"], ["dtes"])
        [eve] = await add_subscribers(session, ["eve"], [EVERYWHERE])
    here = await _draft(sessions, content, areas=["dtes"])
    there = await _draft(sessions, content, areas=["kitsilano"])
    everywhere = await _draft(sessions, content, areas=[EVERYWHERE])
    short = await _draft(sessions, content, areas=["dtes"], lifetime=timedelta(hours=1))
    unsent = await _draft(sessions, content, areas=["dtes"])
    for alert_id in (here.id, there.id, everywhere.id, short.id):
        await _send_now(sessions, alert_id)
    later = NOW + timedelta(hours=2)
    async with sessions() as session:
        mine = [a.id for a in await alerts.list_current(session, contact_id=ana, now=later)]
        all_ = [a.id for a in await alerts.list_current(session, contact_id=eve, now=later)]
    assert sorted(mine) == sorted([here.id, everywhere.id])
    assert sorted(all_) == sorted([here.id, there.id, everywhere.id])
    assert unsent.id not in all_


# --- scheduling ----------------------------------------------------------------------------------


async def test_schedule_once_fires_at_its_time(sessions: Sessions, content: Content) -> None:
    async with sessions.begin() as session:
        await add_subscribers(session, ["ana"], ["dtes"])
    draft = await _draft(sessions, content, areas=["dtes"])
    at = datetime(2026, 11, 27, 18, 0, tzinfo=VANCOUVER)
    async with sessions.begin() as session:
        with pytest.raises(AlertError, match="future"):
            await alerts.schedule_once(session, alert_id=draft.id, at=NOW, now=NOW)
        view = await alerts.schedule_once(session, alert_id=draft.id, at=at, now=NOW)
    assert view.status is AlertStatus.SCHEDULED
    assert view.due_at == at
    clock = Clock(at - timedelta(seconds=1))
    engine, sender = _engine(sessions, clock)
    assert (await outbox.run_alert_due(engine, budget=1)).fired == 0
    clock.now = at
    report = await outbox.run_alert_due(engine, budget=3)
    assert report.fired == 1
    assert sender.counts() == {"ana": 1}
    assert (await outbox.run_alert_due(engine, budget=1)).fired == 0


async def test_scheduled_alert_missed_while_down_is_not_sent_late(
    sessions: Sessions, content: Content
) -> None:
    async with sessions.begin() as session:
        coordinator_id, _ = await add_coordinator(session, "coord")
        await add_subscribers(session, ["ana"], ["dtes"])
    draft = await _draft(
        sessions,
        content,
        areas=["dtes"],
        created_by_id=coordinator_id,
        lifetime=timedelta(hours=2),
    )
    at = NOW + timedelta(hours=1)
    async with sessions.begin() as session:
        await alerts.schedule_once(session, alert_id=draft.id, at=at, now=NOW)
    engine, sender = _engine(sessions, Clock(at + timedelta(hours=3)))
    report = await outbox.run_alert_due(engine, budget=1)
    assert (report.fired, report.missed) == (1, 1)
    assert "ana" not in sender.sent
    assert "was not sent" in sender.sent["coord"][0]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("weekly:fri@18:00", "weekly:fri@18:00"),
        ("Weekly:Mon,Thu@09:30", "weekly:mon,thu@09:30"),
        ("daily@07:05", "daily@07:05"),
        ("weekly:mon,tue,wed,thu,fri,sat,sun@00:00", "daily@00:00"),
    ],
)
def test_recurrence_round_trips(text: str, expected: str) -> None:
    assert str(Recurrence.parse(text)) == expected


@pytest.mark.parametrize("text", ["", "weekly@18:00", "weekly:fry@18:00", "daily@24:00", "hourly"])
def test_recurrence_rejects_nonsense(text: str) -> None:
    with pytest.raises(AlertError):
        Recurrence.parse(text)


def test_recurrence_across_gap_and_fold() -> None:
    # 02:30 does not exist on 8 March 2026 in Vancouver: it runs at the same instant as
    # 02:30 standard time, 03:30 by the new clock.
    gap = Recurrence.parse("daily@02:30").next_after(
        datetime(2026, 3, 8, 9, 0, tzinfo=UTC), VANCOUVER
    )
    assert gap == datetime(2026, 3, 8, 10, 30, tzinfo=UTC)
    # 01:30 happens twice on 1 November 2026: the first one (daylight time) counts.
    rule = Recurrence.parse("daily@01:30")
    first = rule.next_after(datetime(2026, 11, 1, 7, 0, tzinfo=UTC), VANCOUVER)
    assert first == datetime(2026, 11, 1, 8, 30, tzinfo=UTC)
    assert rule.next_after(first, VANCOUVER) == datetime(2026, 11, 2, 9, 30, tzinfo=UTC)


@pytest.mark.parametrize(
    ("start", "friday_before", "friday_after"),
    [
        # Spring forward on Sunday 8 March 2026: PST (UTC-8) before, PDT (UTC-7) after.
        (
            datetime(2026, 3, 2, 12, 0, tzinfo=UTC),
            datetime(2026, 3, 7, 2, 0, tzinfo=UTC),
            datetime(2026, 3, 14, 1, 0, tzinfo=UTC),
        ),
        # Fall back on Sunday 1 November 2026: PDT before, PST after.
        (
            datetime(2026, 10, 26, 12, 0, tzinfo=UTC),
            datetime(2026, 10, 31, 1, 0, tzinfo=UTC),
            datetime(2026, 11, 7, 2, 0, tzinfo=UTC),
        ),
    ],
)
async def test_recurring_alert_keeps_local_time_across_dst(
    sessions: Sessions,
    content: Content,
    start: datetime,
    friday_before: datetime,
    friday_after: datetime,
) -> None:
    async with sessions.begin() as session:
        await add_subscribers(session, ["ana"], ["dtes"])
        [far] = await add_subscribers(session, ["far"], ["kitsilano"])
    draft = await _draft(sessions, content, areas=["dtes"], kind=AlertKind.SAFETY, now=start)
    async with sessions.begin() as session:
        template = await alerts.schedule_recurring(
            session,
            alert_id=draft.id,
            rule="weekly:fri@18:00",
            gazetteer=content.gazetteer,
            now=start,
        )
    assert template.timezone == "America/Vancouver"
    assert template.due_at == friday_before
    clock = Clock(start)
    engine, sender = _engine(sessions, clock)
    for due in (friday_before, friday_after):
        clock.now = due - timedelta(seconds=1)
        assert (await outbox.run_alert_due(engine, budget=1)).fired == 0
        clock.now = due
        assert (await outbox.run_alert_due(engine, budget=3)).fired == 1
        local = due.astimezone(VANCOUVER)
        assert (local.strftime("%a"), local.hour, local.minute) == ("Fri", 18, 0)
    assert sender.counts() == {"ana": 2}
    async with sessions() as session:
        occurrences = list(
            await session.scalars(
                select(Alert.due_at).where(Alert.series_id == draft.id).order_by(Alert.due_at)
            )
        )
        template_after = await alerts.get(session, alert_id=draft.id)
    assert occurrences == [friday_before, friday_after]
    assert template_after is not None
    assert template_after.due_at == friday_after + timedelta(days=7)
    assert far


async def test_recurring_after_downtime_sends_once_and_moves_on(
    sessions: Sessions, content: Content
) -> None:
    async with sessions.begin() as session:
        await add_subscribers(session, ["ana"], ["dtes"])
    start = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)
    draft = await _draft(sessions, content, areas=["dtes"], kind=AlertKind.SAFETY, now=start)
    async with sessions.begin() as session:
        await alerts.schedule_recurring(
            session,
            alert_id=draft.id,
            rule="daily@18:00",
            gazetteer=content.gazetteer,
            now=start,
            until=start + timedelta(days=30),
        )
    # Down for almost a week: only the latest occurrence, still current, goes out.
    clock = Clock(datetime(2026, 3, 9, 3, 0, tzinfo=UTC))
    engine, sender = _engine(sessions, clock)
    assert (await outbox.run_alert_due(engine, budget=3)).fired == 1
    assert sender.counts() == {"ana": 1}
    async with sessions() as session:
        template = await alerts.get(session, alert_id=draft.id)
    assert template is not None
    assert template.due_at is not None
    assert template.due_at > clock.now
    # After the end of the series, the template is done.
    clock.now = start + timedelta(days=31)
    await outbox.run_alert_due(engine, budget=3)
    async with sessions() as session:
        template = await alerts.get(session, alert_id=draft.id)
    assert template is not None
    assert template.status is AlertStatus.SENT


@pytest.fixture
async def second_instance(db_url: str) -> AsyncIterator[Sessions]:
    """Sessions on the same database through a separate engine (another process's view)."""
    other = make_engine(db_url)
    try:
        yield make_sessionmaker(other)
    finally:
        await other.dispose()


@pytest.mark.parametrize("recurring", [False, True])
async def test_two_instances_run_a_schedule_once(
    sessions: Sessions, second_instance: Sessions, content: Content, recurring: bool
) -> None:
    async with sessions.begin() as session:
        await add_subscribers(session, [f"p{i}" for i in range(60)], ["dtes"])
    draft = await _draft(sessions, content, areas=["dtes"])
    at = datetime(2026, 11, 27, 2, 0, tzinfo=UTC)  # Thursday 18:00 in Vancouver
    async with sessions.begin() as session:
        if recurring:
            await alerts.schedule_recurring(
                session,
                alert_id=draft.id,
                rule="weekly:thu@18:00",
                gazetteer=content.gazetteer,
                now=NOW,
            )
        else:
            await alerts.schedule_once(session, alert_id=draft.id, at=at, now=NOW)
    clock = Clock(at)
    platform = RecordingSender(delay=0.002)  # one log: both instances send through it
    first = alert_engine(sessions, clock)
    second = alert_engine(second_instance, clock)
    first.add_sender(Channel.TELEGRAM, platform)
    second.add_sender(Channel.TELEGRAM, platform)
    one, two = await asyncio.gather(
        outbox.run_alert_due(first, budget=5), outbox.run_alert_due(second, budget=5)
    )
    assert one.fired + two.fired == 1
    assert platform.counts() == {f"p{i}": 1 for i in range(60)}
    async with sessions() as session:
        sent = await session.scalar(
            select(func.count()).select_from(Delivery).where(Delivery.status == "sent")
        )
    assert sent == 60


# --- follow-ups ----------------------------------------------------------------------------------


async def test_update_goes_to_the_same_audience(sessions: Sessions, content: Content) -> None:
    async with sessions.begin() as session:
        ana, bob, _ = await add_subscribers(session, ["ana", "bob", "cy"], ["dtes"])
        [late] = await add_subscribers(session, ["late"], [])
        coordinator_id, _ = await add_coordinator(session, "coord")
    parent = await _draft(sessions, content, areas=["dtes"], created_by_id=coordinator_id)
    await _send_now(sessions, parent.id)
    engine, sender = _engine(sessions, Clock(NOW))
    sender.blocked.add("cy")
    await outbox.run_alert_due(engine, budget=3)
    # Someone subscribing after the alert does not get its update; someone who moved on does.
    async with sessions.begin() as session:
        await add_subscribers(session, ["newcomer"], ["dtes"])
        child = await alerts.create_follow_up(
            session,
            parent_id=parent.id,
            follow_up=FollowUp.UPDATE,
            fields={"found_to_contain": "nitazenes and xylazine"},
            now=NOW,
        )
        assert child.areas == ("dtes",)
        assert child.kind is AlertKind.BAD_BATCH
        assert child.created_by_id == coordinator_id
        assert await alerts.audience_size(session, alert_id=child.id) == 2
    assert await _send_now(sessions, child.id) == 2
    await outbox.run_alert_due(engine, budget=3)
    assert sender.counts()["ana"] == 2
    assert sender.counts()["bob"] == 2
    assert "newcomer" not in sender.sent
    assert "cy" not in sender.sent
    assert sender.sent["ana"][1].startswith("🔁 Update")
    assert late
    assert ana
    assert bob


async def test_all_clear_ends_the_parent(sessions: Sessions, content: Content) -> None:
    async with sessions.begin() as session:
        await add_subscribers(session, ["ana", "bob"], ["dtes"])
    parent = await _draft(sessions, content, areas=["dtes"])
    await _send_now(sessions, parent.id)
    # Send to one person only, then clear: the other never gets the warning nor the clear.
    async with sessions.begin() as session:
        first = await session.scalar(select(func.min(Delivery.id)))
        await session.execute(
            update(Delivery)
            .where(Delivery.id != first)
            .values(next_attempt_at=NOW + timedelta(hours=1))
        )
    clock = Clock(NOW)
    engine, sender = _engine(sessions, clock)
    await outbox.run_alert_due(engine, budget=1)
    unsent = await _draft(sessions, content, areas=["dtes"])
    async with sessions.begin() as session:
        with pytest.raises(AlertError, match="only an alert that was sent"):
            await alerts.create_follow_up(
                session, parent_id=unsent.id, follow_up=FollowUp.ALL_CLEAR, now=NOW
            )
        clear = await alerts.create_follow_up(
            session, parent_id=parent.id, follow_up=FollowUp.ALL_CLEAR, now=NOW
        )
    assert await _send_now(sessions, clear.id) == 1
    clock.advance(hours=2)
    await outbox.run_alert_due(engine, budget=3)
    [reached] = [who for who, texts in sender.sent.items() if texts]
    assert len(sender.sent[reached]) == 2
    assert sender.sent[reached][1].startswith("✅ All clear")
    async with sessions() as session:
        ended = await alerts.get(session, alert_id=parent.id)
        tally = await alerts.progress(session, alert_id=parent.id)
    assert ended is not None
    assert ended.expires_at == NOW
    assert (tally.sent, tally.expired) == (1, 1)


async def test_purge_keeps_the_counts(sessions: Sessions, content: Content) -> None:
    async with sessions.begin() as session:
        await add_subscribers(session, ["ana", "bob"], ["dtes"])
    draft = await _draft(sessions, content, areas=["dtes"])
    await _send_now(sessions, draft.id)
    engine, _ = _engine(sessions, Clock(NOW))
    await outbox.run_alert_due(engine, budget=3)
    async with sessions.begin() as session:
        kept = await alerts.purge_deliveries(
            session, now=NOW + timedelta(days=1), retention=timedelta(days=30)
        )
        gone = await alerts.purge_deliveries(
            session, now=NOW + timedelta(days=31), retention=timedelta(days=30)
        )
    assert (kept, gone) == (0, 2)
    async with sessions() as session:
        assert (await alerts.progress(session, alert_id=draft.id)).sent == 2
