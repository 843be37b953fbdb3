"""An alert's free text in several languages: validation, fallback, rendering, carry-over."""

from __future__ import annotations

import unicodedata
from datetime import timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.content import Content
from bot.core import bidi
from bot.db.models import Alert
from bot.domain import AlertKind, AlertStatus, Channel
from bot.services import alert_languages, alerts, outbox
from bot.services.alerts import AlertError, AlertView, FollowUp
from tests.support.alerts import NOW, RecordingSender, add_subscribers, alert_engine
from tests.support.chat import Clock
from tests.support.engine import make_deps

Sessions = async_sessionmaker[AsyncSession]
WORDS = make_deps().words
BASE = {"sold_as": "down", "found_to_contain": "nitazenes", "advice": "Don't use alone."}
RU = {"sold_as": "героин", "advice": "Не употребляйте в одиночку."}
FA = {"sold_as": "هیروئین", "found_to_contain": "نیتازین", "advice": "تنها مصرف نکنید."}


@pytest.fixture(scope="module")
def content() -> Content:
    return make_deps().content


async def _draft(sessions: Sessions, content: Content, **extra: object) -> AlertView:
    async with sessions.begin() as session:
        return await alerts.create_draft(
            session,
            kind=AlertKind.BAD_BATCH,
            severity=3,
            areas=["dtes"],
            fields=BASE,
            gazetteer=content.gazetteer,
            now=NOW,
            locale="en",
            **extra,  # type: ignore[arg-type]
        )


async def _translate(
    sessions: Sessions, alert_id: int, locale: str, fields: dict[str, str]
) -> AlertView:
    async with sessions.begin() as session:
        return await alert_languages.set_translation(
            session, alert_id=alert_id, locale=locale, fields=fields
        )


def _render(view: AlertView, locale: str, content: Content) -> str:
    return alerts.render_alert(
        view, WORDS.locales[locale], content.gazetteer, content.cards, directory=content.directory
    )


# --- validation ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("texts", "reason"),
    [
        ({"sold_as": "героин\u202eлож"}, "control characters"),
        ({"sold_as": "две\nстроки"}, "control characters"),
        ({"sold_as": "zero\u200bwidth"}, "control characters"),
        ({"found_to_contain": "x" * 201}, "at most 200"),
        ({"advice": "y" * 1001}, "at most 1000"),
        ({"colour": "синий"}, "unknown field"),
        ({"appearance": "белый порошок"}, "no such text"),
        # With the base's symptoms it reads, the Russian would be too long for one message.
        ({"advice": "a" * 1000, "sold_as": "s" * 200, "found_to_contain": "f" * 200}, "in all"),
    ],
)
def test_a_translation_is_checked_like_the_base(texts: dict[str, str], reason: str) -> None:
    with pytest.raises(AlertError, match=reason):
        alerts.validate_translation({**BASE, "symptoms": "s" * 200}, texts)


def test_a_translation_is_trimmed_and_may_leave_fields_to_the_base() -> None:
    got = alerts.validate_translation(BASE, {"advice": "  не\n\n\n\nодин ", "sold_as": " "})
    assert got == {"advice": "не\n\nодин"}


@pytest.mark.parametrize(
    ("translations", "reason"),
    [
        ({"en": RU}, "already written in that language"),
        ({"Russian": RU}, "a code like ru"),
        ({"ru'; --": RU}, "a code like ru"),
        ({f"l{chr(97 + i)}": RU for i in range(alerts.MAX_LANGUAGES + 1)}, "at most"),
    ],
)
def test_languages_are_checked(translations: dict[str, dict[str, str]], reason: str) -> None:
    with pytest.raises(AlertError, match=reason):
        alerts.validate_translations(BASE, translations, base_locale="en")


@given(st.dictionaries(st.sampled_from(sorted(alerts.FIELD_LIMITS)), st.text(max_size=1200)))
def test_hostile_translation_is_refused_or_clean(texts: dict[str, str]) -> None:
    base = dict.fromkeys(alerts.FIELD_LIMITS, "base")
    try:
        clean = alerts.validate_translation(base, texts)
    except AlertError:
        return  # a clear answer (its message is what a coordinator is shown)
    for name, text in clean.items():
        assert 0 < len(text) <= alerts.FIELD_LIMITS[name]
        assert not any(
            unicodedata.category(ch) in ("Cc", "Cf", "Cs", "Co") for ch in text if ch != "\n"
        )


# --- storing -------------------------------------------------------------------------------------


async def test_set_replace_and_remove_a_language(sessions: Sessions, content: Content) -> None:
    draft = await _draft(sessions, content)
    assert draft.base_locale == "en"
    assert draft.translations == {}
    await _translate(sessions, draft.id, "ru", {"sold_as": "героин"})
    view = await _translate(sessions, draft.id, "ru", RU)
    view = await _translate(sessions, draft.id, "fa_AF", FA)
    assert view.translations == {"ru": RU, "fa_AF": FA}
    async with sessions.begin() as session:
        with pytest.raises(AlertError, match="at least one field"):
            await alert_languages.set_translation(
                session, alert_id=draft.id, locale="ru", fields={"sold_as": "  "}
            )
        with pytest.raises(AlertError, match="already written"):
            await alert_languages.set_translation(
                session, alert_id=draft.id, locale="en", fields=RU
            )
    async with sessions.begin() as session:
        view = await alert_languages.remove_translation(session, alert_id=draft.id, locale="ru")
    assert view.translations == {"fa_AF": FA}


async def test_only_a_draft_changes(sessions: Sessions, content: Content) -> None:
    draft = await _draft(sessions, content)
    async with sessions.begin() as session:
        await alerts.send_now(session, alert_id=draft.id, now=NOW)
    async with sessions.begin() as session:
        with pytest.raises(AlertError, match="only a draft"):
            await alert_languages.set_translation(
                session, alert_id=draft.id, locale="ru", fields=RU
            )
        with pytest.raises(AlertError, match="only a draft"):
            await alert_languages.remove_translation(session, alert_id=draft.id, locale="ru")
        with pytest.raises(AlertError, match="no such alert"):
            await alert_languages.remove_translation(session, alert_id=999, locale="ru")
    async with sessions() as session:
        stored = await session.scalar(select(Alert.translations).where(Alert.id == draft.id))
    assert stored is None


async def test_a_draft_without_a_language_learns_it(sessions: Sessions, content: Content) -> None:
    async with sessions.begin() as session:
        draft = await alerts.create_draft(
            session,
            kind=AlertKind.BAD_BATCH,
            severity=2,
            areas=["dtes"],
            fields=BASE,
            gazetteer=content.gazetteer,
            now=NOW,
        )
    assert draft.base_locale is None
    async with sessions.begin() as session:
        with pytest.raises(AlertError, match="which language"):
            await alert_languages.set_translation(
                session, alert_id=draft.id, locale="ru", fields=RU
            )
        view = await alert_languages.set_translation(
            session, alert_id=draft.id, locale="ru", fields=RU, base_locale="en"
        )
    assert (view.base_locale, dict(view.translations)) == ("en", {"ru": RU})


async def test_editing_the_base_keeps_only_fields_still_there(
    sessions: Sessions, content: Content
) -> None:
    draft = await _draft(sessions, content)
    await _translate(sessions, draft.id, "ru", RU)
    await _translate(sessions, draft.id, "fa_AF", {"advice": FA["advice"]})
    async with sessions.begin() as session:
        view = await alerts.update_draft(
            session,
            alert_id=draft.id,
            gazetteer=content.gazetteer,
            fields={"sold_as": "down", "symptoms": "slow breathing"},
        )
    assert view.translations == {"ru": {"sold_as": "героин"}}


# --- rendering -----------------------------------------------------------------------------------


async def test_each_language_reads_its_own_text_and_falls_back_to_the_base(
    sessions: Sessions, content: Content
) -> None:
    draft = await _draft(sessions, content)
    await _translate(sessions, draft.id, "ru", RU)
    view = await _translate(sessions, draft.id, "fa_AF", FA)
    english, russian, dari = (_render(view, loc, content) for loc in ("en", "ru", "fa_AF"))
    assert "Sold as: down" in english
    assert "героин" not in english
    assert "Продаётся как: героин" in russian
    assert "Не употребляйте в одиночку." in russian
    # Russian left "found to contain" to the base: the English words beat no warning.
    assert "nitazenes" in russian
    assert "down" not in russian
    plain = bidi.strip_marks(dari)
    assert all(text in plain for text in FA.values())
    assert "down" not in plain
    assert "nitazenes" not in plain
    assert view.fields_in("de") == BASE


async def test_free_text_is_set_apart_from_the_other_direction(
    sessions: Sessions, content: Content
) -> None:
    draft = await _draft(sessions, content)
    # Dari text with a number, read by someone with an English base in Dari and vice versa.
    view = await _translate(sessions, draft.id, "fa_AF", {"sold_as": "هیروئین 2 گرم"})
    english = _render(view, "en", content)
    dari = _render(view, "fa_AF", content)
    assert f"{bidi.FSI}هیروئین 2 گرم{bidi.PDI}" in dari
    assert f"{bidi.FSI}nitazenes{bidi.PDI}" in dari
    assert "Sold as: down" in english
    farsi_base = AlertView(
        id=1,
        kind=AlertKind.BAD_BATCH,
        severity=3,
        status=AlertStatus.DRAFT,
        fields={"sold_as": "هیروئین 2", "advice": "یک\nدو 3"},
        areas=("dtes",),
        lifetime=timedelta(hours=1),
        base_locale="fa_AF",
    )
    english = _render(farsi_base, "en", content)
    assert f"Sold as: {bidi.FSI}هیروئین 2{bidi.PDI}" in english
    assert f"Advice: {bidi.FSI}یک{bidi.PDI}\n{bidi.FSI}دو 3{bidi.PDI}" in english


async def test_outbox_sends_each_subscriber_their_language(
    sessions: Sessions, content: Content
) -> None:
    async with sessions.begin() as session:
        for locale in ("en", "ru", "fa_AF"):
            await add_subscribers(session, [f"{locale}-1", f"{locale}-2"], ["dtes"], locale=locale)
        await add_subscribers(session, ["none-1"], ["dtes"])
    draft = await _draft(sessions, content)
    await _translate(sessions, draft.id, "ru", RU)
    await _translate(sessions, draft.id, "fa_AF", FA)
    async with sessions.begin() as session:
        assert await alerts.send_now(session, alert_id=draft.id, now=NOW) == 7
    engine = alert_engine(sessions, Clock(NOW))
    sender = RecordingSender()
    engine.add_sender(Channel.TELEGRAM, sender)
    await outbox.run_alert_due(engine, budget=3)
    got = {address: "\n".join(texts) for address, texts in sender.sent.items()}
    assert len(got) == 7
    assert got["ru-1"] == got["ru-2"] == _render(await _get(sessions, draft.id), "ru", content)
    assert "Продаётся как: героин" in got["ru-1"]
    assert all(text in bidi.strip_marks(got["fa_AF-1"]) for text in FA.values())
    assert "Sold as: down" in got["en-1"]
    assert got["none-1"] == got["en-1"]


async def _get(sessions: Sessions, alert_id: int) -> AlertView:
    async with sessions() as session:
        view = await alerts.get(session, alert_id=alert_id)
    assert view is not None
    return view


# --- follow-ups and recurring alerts -------------------------------------------------------------


async def test_a_follow_up_has_its_own_languages(sessions: Sessions, content: Content) -> None:
    parent = await _draft(sessions, content)
    await _translate(sessions, parent.id, "ru", RU)
    async with sessions.begin() as session:
        await alerts.send_now(session, alert_id=parent.id, now=NOW)
    async with sessions.begin() as session:
        with pytest.raises(AlertError, match="control characters"):
            await alerts.create_follow_up(
                session,
                parent_id=parent.id,
                follow_up=FollowUp.UPDATE,
                fields={"found_to_contain": "xylazine"},
                translations={"ru": {"found_to_contain": "ксилазин\u202e"}},
                now=NOW,
            )
        update = await alerts.create_follow_up(
            session,
            parent_id=parent.id,
            follow_up=FollowUp.UPDATE,
            fields={"found_to_contain": "xylazine"},
            translations={"ru": {"found_to_contain": "ксилазин"}},
            now=NOW,
        )
        clear = await alerts.create_follow_up(
            session, parent_id=parent.id, follow_up=FollowUp.ALL_CLEAR, now=NOW
        )
    assert update.base_locale == clear.base_locale == "en"
    assert update.translations == {"ru": {"found_to_contain": "ксилазин"}}
    assert clear.translations == {}
    russian = _render(update, "ru", content)
    assert "ксилазин" in russian
    assert "героин" not in russian  # the parent's words are not the update's


async def test_each_occurrence_carries_the_templates_languages(
    sessions: Sessions, content: Content
) -> None:
    async with sessions.begin() as session:
        await add_subscribers(session, ["ru-1"], ["dtes"], locale="ru")
    draft = await _draft(sessions, content)
    await _translate(sessions, draft.id, "ru", RU)
    async with sessions.begin() as session:
        template = await alerts.schedule_recurring(
            session, alert_id=draft.id, rule="daily@18:00", gazetteer=content.gazetteer, now=NOW
        )
    assert template.due_at is not None
    clock = Clock(template.due_at)
    engine = alert_engine(sessions, clock)
    sender = RecordingSender()
    engine.add_sender(Channel.TELEGRAM, sender)
    assert (await outbox.run_alert_due(engine, budget=3)).fired == 1
    async with sessions() as session:
        occurrence = await session.scalar(select(Alert).where(Alert.series_id == draft.id))
    assert occurrence is not None
    assert (occurrence.base_locale, occurrence.translations) == ("en", {"ru": RU})
    assert "Продаётся как: героин" in sender.sent["ru-1"][0]


@pytest.mark.parametrize("locale", ["en", "ru", "fa_AF"])
@pytest.mark.parametrize("advice", ["ب 1\n" * 100, "ب\n" * 200, "v\n" * 200])
def test_longest_alert_fits_one_telegram_message_in_every_language(
    content: Content, locale: str, advice: str
) -> None:
    # Every field at its limit, and the most lines whose direction differs from the
    # recipient's: each gets its own isolate (and a right-to-left mark in Dari).
    base = alerts.validate_fields(
        {
            "sold_as": "s" * 200,
            "found_to_contain": "f" * 200,
            "appearance": "a" * 200,
            "symptoms": "y" * 500,
            "advice": advice,
        }
    )
    written = {name: ("ش 2 " * 200)[: len(text)] for name, text in base.items()}
    for translations in ({}, {locale: written}):
        view = AlertView(
            id=1,
            kind=AlertKind.BAD_BATCH,
            severity=3,
            status=AlertStatus.DRAFT,
            fields=base,
            areas=tuple(sorted(content.gazetteer.codes)),
            lifetime=timedelta(hours=1),
            base_locale="xx",
            translations=translations,
        )
        assert len(_render(view, locale, content).encode("utf-16-le")) // 2 <= 4096
