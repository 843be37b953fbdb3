"""What makes an alert one people weigh and act on: until when it is current (local, in their
language), how sure it is, advice per route of use, the nearest drug checking and supervised
consumption sites; stored, validated, inherited, and within one Telegram message."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.content import Content, Directory, ReferralService, ServiceType
from bot.db.engine import make_engine
from bot.db.migrate import downgrade, upgrade
from bot.domain import AlertKind, AlertStatus
from bot.services import alerts
from bot.services.alerts import AlertError, AlertView, FollowUp
from bot.services.alerts.render import MESSAGE_LIMIT
from bot.services.subscriptions import EVERYWHERE
from tests.support.alerts import NOW
from tests.support.engine import make_deps

Sessions = async_sessionmaker[AsyncSession]
WORDS = make_deps().words
LOCALES = ("en", "ru", "fa_AF")
# Thursday 2026-11-26 18:00 in Vancouver (PST, UTC-8): a Friday already in UTC.
THURSDAY_EVENING = datetime(2026, 11, 27, 2, 0, tzinfo=UTC)
PREVIOUS_MIGRATION = "8f6ebfd0416e"


@pytest.fixture(scope="module")
def content() -> Content:
    return make_deps().content


def _view(**changes: Any) -> AlertView:
    base: dict[str, Any] = {
        "id": 7,
        "kind": AlertKind.BAD_BATCH,
        "severity": 3,
        "status": AlertStatus.SENT,
        "fields": {"sold_as": "down", "found_to_contain": "nitazenes"},
        "areas": ("strathcona",),
        "lifetime": timedelta(days=1),
        "issued_at": THURSDAY_EVENING - timedelta(days=1),
        "expires_at": THURSDAY_EVENING,
        "confidence": "checked",
        "routes": ("smoked", "injected", "snorted", "swallowed"),
    }
    base.update(changes)
    return AlertView(**base)


def _render(view: AlertView, locale: str, content: Content, **kwargs: Any) -> str:
    t = WORDS.for_locale(locale)
    return alerts.render_alert(
        view, t, content.gazetteer, content.cards, directory=content.directory, **kwargs
    )


# --- rendering -----------------------------------------------------------------------------------


# Each new line, as each language says it (the Dari weekday is isolated as a placeholder value).
EXPECTED: Mapping[str, tuple[str, ...]] = {
    "en": (
        "Current until Thursday 18:00",
        "\nConfirmed by drug checking\n",
        "What to do differently:",
        "• Smoking: take one small hit first",
        "• Injecting: test a tiny amount first, go slow, don't use alone; have naloxone ready.",
        "• Snorting: start with a small line and wait; use your own straw",
        "• Swallowing: it takes longer to kick in",
        "Drug checking: Hastings Drug Checking Counter (demo), 200 block E Hastings St, "
        "Vancouver (demo) (Daily 10:00–18:00)",
        "Supervised consumption: Powell Street Overdose Prevention Site (demo)",
    ),
    "ru": (
        "Актуально до: Четверг 18:00",
        "\nПодтверждено проверкой вещества\n",
        "Что делать иначе:",
        "• Курение: сначала одна маленькая затяжка",
        "• Инъекции: сначала попробуйте совсем малую дозу",
        "• Через нос: начните с маленькой дорожки",
        "• Внутрь: действует не сразу",
        "Проверка веществ: Hastings Drug Checking Counter (demo)",
        "(Ежедневно 10:00–18:00)",
        "Пункт безопасного употребления: Powell Street Overdose Prevention Site (demo)",
    ),
    "fa_AF": (
        "معتبر تا \u2068پنجشنبه 18:00\u2069",
        "\nتأیید شده با آزمایش مواد\n",
        "چه کاری را متفاوت انجام دهید:",
        "• دود کردن: اول یک پُک کوچک بزنید",
        "• تزریق: اول مقدار خیلی کم را امتحان کنید",
        "• از راه بینی: با یک خط کوچک شروع کنید",
        "• خوردن: دیرتر اثر می‌کند",
        "آزمایش مواد: \u2068Hastings Drug Checking Counter (demo)\u2069",
        "محل مصرف تحت نظارت: \u2068Powell Street Overdose Prevention Site (demo)\u2069",
    ),
}


@pytest.mark.parametrize("locale", LOCALES)
def test_every_new_line_in_each_language(content: Content, locale: str) -> None:
    shown = _render(_view(), locale, content)
    print(f"--- {locale} ---\n{shown}")  # the report quotes these (pytest -s)
    for expected in EXPECTED[locale]:
        assert expected in shown
    lines = shown.split("\n")
    # Until and confidence right under the heading; routes after the texts; sites before the
    # overdose steps.
    assert EXPECTED[locale][0] in lines[3]
    assert lines[4] == EXPECTED[locale][1].strip()
    assert lines.index(EXPECTED[locale][2].strip()) > 5
    assert "{" not in shown


def test_until_is_local_and_says_the_date_when_far(content: Content) -> None:
    far = _view(lifetime=timedelta(days=14), expires_at=THURSDAY_EVENING + timedelta(days=14))
    assert "Current until Thursday 2026-12-10 18:00" in _render(far, "en", content)
    # 18:00 is Vancouver's time: in UTC it is already Friday 02:00.
    assert "02:00" not in _render(_view(), "en", content)
    assert "Friday" not in _render(_view(), "en", content)


def test_a_draft_reads_until_as_if_sent_now(content: Content) -> None:
    draft = _view(status=AlertStatus.DRAFT, issued_at=None, expires_at=None)
    # NOW is Wednesday 11:00 in Vancouver; a day later is Thursday 11:00.
    assert "Current until Thursday 11:00" in _render(draft, "en", content, now=NOW)
    assert "Current until" not in _render(draft, "en", content)
    due = _view(status=AlertStatus.SCHEDULED, issued_at=None, expires_at=None, due_at=NOW)
    assert "Current until Thursday 11:00" in _render(due, "en", content, now=NOW)


@pytest.mark.parametrize("locale", LOCALES)
def test_an_all_clear_claims_nothing_current(content: Content, locale: str) -> None:
    shown = _render(
        _view(follow_up=FollowUp.ALL_CLEAR, parent_id=1, fields={}), locale, content, now=NOW
    )
    for expected in EXPECTED[locale]:
        assert expected.strip() not in shown


def test_nothing_said_means_no_line(content: Content) -> None:
    shown = _render(_view(confidence=None, routes=()), "en", content)
    assert "Confirmed" not in shown
    assert "What to do differently" not in shown
    assert "Drug checking:" in shown  # the sites do not depend on either
    for label in ("Seen by peers", "Community report, not confirmed"):
        kind = "peers" if label.startswith("Seen") else "community"
        assert f"\n{label}\n" in _render(_view(confidence=kind), "en", content)


def test_nearest_sites_per_area_each_once(content: Content) -> None:
    # Strathcona and the DTES share their nearest sites: named once.
    near = _render(_view(areas=("dtes", "strathcona")), "en", content)
    assert near.count("Drug checking:") == 1
    assert near.count("Supervised consumption:") == 1
    # Surrey has its own.
    both = _render(_view(areas=("dtes", "surrey_whalley")), "en", content)
    assert "Drug checking: Whalley Drug Checking Table (demo)" in both
    assert "Supervised consumption: Whalley Supervised Consumption Site (demo)" in both
    assert both.count("Drug checking:") == 2
    # At most two of a type however many areas.
    every = _render(_view(areas=tuple(sorted(content.gazetteer.codes))), "en", content)
    assert every.count("Drug checking:") == 2
    # Everywhere has no centre; service news and an empty directory name none.
    for view, directory in (
        (_view(areas=(EVERYWHERE,)), content.directory),
        (_view(kind=AlertKind.SERVICE_CHANGE), content.directory),
        (_view(), None),
    ):
        shown = alerts.render_alert(
            view, WORDS.for_locale("en"), content.gazetteer, content.cards, directory=directory
        )
        assert "Drug checking:" not in shown
        assert "Supervised consumption:" not in shown


def _longest_directory(content: Content) -> Directory:
    """Sites as long as the directory allows, one of each type near two far-apart areas."""
    hours = "; ".join(
        f"{d} 0{h}:00-0{h + 1}:30"
        for d, h in zip(("Mo", "Tu", "We", "Th", "Fr", "Sa", "Su"), range(7), strict=True)
    )
    services = []
    for n, (area, kind) in enumerate(
        (a, k)
        for a in ("dtes", "surrey_whalley")
        for k in (ServiceType.DRUG_CHECKING, ServiceType.SUPERVISED_CONSUMPTION)
    ):
        spot = content.gazetteer.by_code(area)
        assert spot is not None
        services.append(
            ReferralService.model_validate(
                {
                    "code": f"long_{n}",
                    "name": f"{n}" + "N" * 79,
                    "type": kind,
                    "area": area,
                    "lat": spot.lat,
                    "lon": spot.lon,
                    "address": "A" * 120,
                    "hours": hours,
                    "timezone": "America/Vancouver",
                }
            )
        )
    return Directory(services=tuple(services))


@pytest.mark.parametrize("locale", LOCALES)
def test_the_longest_alert_is_one_telegram_message(content: Content, locale: str) -> None:
    fields = alerts.validate_fields(
        {
            "sold_as": "s" * 200,
            "found_to_contain": "f" * 200,
            "appearance": "a" * 200,
            "symptoms": "y" * 500,
            "advice": "v" * 400,
        }
    )
    view = _view(
        fields=fields,
        areas=tuple(sorted(content.gazetteer.codes)),
        lifetime=timedelta(days=30),
        expires_at=THURSDAY_EVENING + timedelta(days=29),
        confidence="community",
    )
    for directory in (content.directory, _longest_directory(content)):
        shown = alerts.render_alert(
            view, WORDS.for_locale(locale), content.gazetteer, content.cards, directory=directory
        )
        assert len(shown.encode("utf-16-le")) // 2 <= MESSAGE_LIMIT
        lines = shown.split("\n")
        # The nearest sites give way last-first; the first stays, and everything else is there.
        assert any("0NNNN" in line or "Hastings" in line for line in lines)
        assert EXPECTED[locale][3].strip() in shown  # every route's advice
        assert EXPECTED[locale][6].strip() in shown
        assert "…" in shown or directory is content.directory  # long hours are cut


# --- storing and validating ----------------------------------------------------------------------


async def _draft(sessions: Sessions, content: Content, **extra: Any) -> AlertView:
    async with sessions.begin() as session:
        return await alerts.create_draft(
            session,
            kind=AlertKind.BAD_BATCH,
            severity=3,
            areas=["dtes"],
            fields={"sold_as": "down"},
            gazetteer=content.gazetteer,
            now=NOW,
            **extra,
        )


async def test_stored_and_read_back(sessions: Sessions, content: Content) -> None:
    draft = await _draft(
        sessions, content, confidence="peers", routes=["swallowed", "smoked", "smoked"]
    )
    assert (draft.confidence, draft.routes) == ("peers", ("smoked", "swallowed"))
    async with sessions() as session:
        again = await alerts.get(session, alert_id=draft.id)
    assert again is not None
    assert (again.confidence, again.routes) == ("peers", ("smoked", "swallowed"))
    async with sessions.begin() as session:
        kept = await alerts.update_draft(
            session, alert_id=draft.id, gazetteer=content.gazetteer, severity=2
        )
        assert (kept.confidence, kept.routes) == ("peers", ("smoked", "swallowed"))
        cleared = await alerts.update_draft(
            session, alert_id=draft.id, gazetteer=content.gazetteer, confidence="", routes=()
        )
    assert (cleared.confidence, cleared.routes) == (None, ())
    plain = await _draft(sessions, content)
    assert (plain.confidence, plain.routes) == (None, ())


@pytest.mark.parametrize(
    ("extra", "code"),
    [
        ({"confidence": "certain"}, "confidence"),
        ({"confidence": "CHECKED"}, "confidence"),
        ({"routes": ["licked"]}, "routes"),
        ({"routes": ["smoked", "smoked,injected"]}, "routes"),
        ({"routes": "smoked"}, "routes"),
    ],
)
async def test_bad_values_are_refused_and_nothing_is_made(
    sessions: Sessions, content: Content, extra: dict[str, Any], code: str
) -> None:
    with pytest.raises(AlertError) as raised:
        await _draft(sessions, content, **extra)
    assert raised.value.code == code
    assert raised.value.field == code
    draft = await _draft(sessions, content, confidence="checked")
    with pytest.raises(AlertError) as again:
        async with sessions.begin() as session:
            await alerts.update_draft(
                session, alert_id=draft.id, gazetteer=content.gazetteer, **extra
            )
    assert again.value.code == code
    async with sessions() as session:
        kept = await alerts.get(session, alert_id=draft.id)
    assert kept is not None
    assert (kept.confidence, kept.routes) == ("checked", ())


async def test_a_draft_from_a_report_is_a_community_report(
    sessions: Sessions, content: Content
) -> None:
    assert (await _draft(sessions, content, needs_check=True)).confidence == "community"
    assert (
        await _draft(sessions, content, needs_check=True, confidence="peers")
    ).confidence == "peers"


async def test_an_update_keeps_them_an_all_clear_does_not(
    sessions: Sessions, content: Content
) -> None:
    parent = await _draft(sessions, content, confidence="checked", routes=["injected"])
    async with sessions.begin() as session:
        await alerts.send_now(session, alert_id=parent.id, now=NOW)
        update = await alerts.create_follow_up(
            session,
            parent_id=parent.id,
            follow_up=FollowUp.UPDATE,
            fields={"advice": "Still around."},
            now=NOW,
        )
        clear = await alerts.create_follow_up(
            session, parent_id=parent.id, follow_up=FollowUp.ALL_CLEAR, now=NOW
        )
    assert (update.confidence, update.routes) == ("checked", ("injected",))
    assert (clear.confidence, clear.routes) == (None, ())


async def test_each_occurrence_of_a_repeat_says_them_too(
    sessions: Sessions, content: Content
) -> None:
    draft = await _draft(sessions, content, confidence="peers", routes=["snorted"])
    async with sessions.begin() as session:
        template = await alerts.schedule_recurring(
            session, alert_id=draft.id, rule="daily@18:00", gazetteer=content.gazetteer, now=NOW
        )
        assert template.due_at is not None
        fired = await alerts.fire(
            session, alert_id=template.id, now=template.due_at, gazetteer=content.gazetteer
        )
    assert fired is not None
    async with sessions() as session:
        occurrence = await alerts.get(session, alert_id=fired.alert_id)
    assert occurrence is not None
    assert occurrence.series_id == template.id
    assert (occurrence.confidence, occurrence.routes) == ("peers", ("snorted",))
    # The template's "until" is its next sending's, not the end of the series.
    shown = _render(template, "en", content, now=NOW)
    assert "Current until Saturday 18:00" in shown  # Wednesday 18:00 + 72 hours


# --- the migration -------------------------------------------------------------------------------


async def test_migration_adds_and_removes_the_columns(empty_db_url: str) -> None:
    engine = make_engine(empty_db_url)
    try:
        await upgrade(engine, PREVIOUS_MIGRATION)
        async with engine.begin() as conn:
            await conn.execute(
                text(
                    "INSERT INTO alerts (kind, severity, status, fields, lifetime_seconds, "
                    "created_at, needs_check) VALUES ('bad_batch', 3, 'sent', '{}', 3600, "
                    "'2026-11-25 19:00:00', false)"
                )
            )
        await upgrade(engine)
        async with engine.connect() as conn:
            row = (await conn.execute(text("SELECT confidence, routes FROM alerts"))).one()
            assert tuple(row) == (None, None)
            await conn.execute(text("UPDATE alerts SET confidence = 'peers', routes = 'smoked'"))
            await conn.commit()
        await downgrade(engine, PREVIOUS_MIGRATION)
        async with engine.connect() as conn:
            assert (await conn.execute(text("SELECT count(*) FROM alerts"))).scalar_one() == 1
            columns = (await conn.execute(text("SELECT * FROM alerts"))).keys()
            assert "confidence" not in columns
            assert "routes" not in columns
    finally:
        await engine.dispose()
