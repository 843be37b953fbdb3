"""Consultations: validation, answering once, skips and stops, counters, suppression, CSV,
closing and the summary, forgetting and retention."""

from __future__ import annotations

import copy
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from cryptography.fernet import Fernet
from sqlalchemy import delete, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.content import load_gazetteer
from bot.core.messages import Reply
from bot.core.words import Words
from bot.db.models import (
    ConsultationCount,
    ConsultationParticipant,
    ConsultationText,
    Contact,
    PendingMessage,
    Subscription,
)
from bot.privacy import AddressBox
from bot.services import consultations as cs
from bot.services import forgetting
from bot.services.consultations import ConsultationError, ConsultationStatus
from tests.services.factories import NOW, add_contact

Sessions = async_sessionmaker[AsyncSession]
ROOT = Path(__file__).resolve().parents[2]
GAZETTEER = load_gazetteer(ROOT / "content" / "areas.yaml")
LANGS = ("en", "ru", "fa_AF")
AREAS = GAZETTEER.codes
EXAMPLE = cs.load_yaml((ROOT / "docs" / "consultation.example.yaml").read_text("utf-8"))


def example(**changes: Any) -> dict[str, Any]:
    data = copy.deepcopy(EXAMPLE)
    data["closes"] = (NOW + timedelta(days=10)).date().isoformat()
    data.update(changes)
    return data


def check(data: dict[str, Any]) -> cs.Draft:
    return cs.validate(data, languages=LANGS, area_codes=AREAS, now=NOW)


# -- validation -----------------------------------------------------------------------------


def test_the_example_is_valid() -> None:
    draft = check(example())
    assert len(draft.questions) == 4
    assert [q.kind for q in draft.questions] == [
        cs.Kind.ONE,
        cs.Kind.MANY,
        cs.Kind.SCALE,
        cs.Kind.TEXT,
    ]
    assert draft.areas == ()
    assert draft.closes_at > NOW


def _break(path: str, value: Any) -> dict[str, Any]:
    data = example()
    target: Any = data
    *parents, last = path.split(".")
    for part in parents:
        target = target[int(part)] if part.isdigit() else target[part]
    if value is KeyError:
        del target[int(last) if last.isdigit() else last]
    else:
        target[int(last) if last.isdigit() else last] = value
    return data


@pytest.mark.parametrize(
    ("path", "value", "code"),
    [
        ("title.ru", KeyError, "missing"),
        ("title.fa_AF", "  ", "missing"),
        ("title.de", "Hallo", "languages"),
        ("title.en", "x" * 81, "length"),
        ("intro.en", "bad\u202etext", "control"),
        ("questions.0.kind", "rank", "kind"),
        ("questions.0.options", [{"en": "a", "ru": "a", "fa_AF": "a"}], "options"),
        ("questions.1.options.0.ru", KeyError, "missing"),
        ("questions.3.options", [], "options"),
        ("questions", [], "questions"),
        ("areas", ["atlantis"], "areas"),
        ("closes", "2020-01-01", "closes"),
        ("closes", "soon", "closes"),
        ("extra", 1, "unknown_key"),
    ],
)
def test_bad_input_is_refused_with_its_place(path: str, value: Any, code: str) -> None:
    with pytest.raises(ConsultationError) as caught:
        check(_break(path, value))
    assert caught.value.code == code


def test_at_most_ten_questions_and_ninety_days() -> None:
    data = example()
    data["questions"] = data["questions"] * 3
    with pytest.raises(ConsultationError, match="at most 10"):
        check(data)
    with pytest.raises(ConsultationError, match="90 days"):
        check(example(closes=(NOW + timedelta(days=91)).date().isoformat()))


def test_choices_must_differ() -> None:
    data = example()
    data["questions"][0]["options"][1] = dict(data["questions"][0]["options"][0])
    with pytest.raises(ConsultationError, match="read the same"):
        check(data)


def test_broken_yaml_is_a_clear_error() -> None:
    with pytest.raises(ConsultationError, match="YAML"):
        cs.load_yaml("title: [unclosed")
    with pytest.raises(ConsultationError):
        cs.load_yaml("- a list")


async def test_a_bad_dict_saves_nothing(sessions: Sessions) -> None:
    async with sessions.begin() as session:
        with pytest.raises(ConsultationError):
            await cs.create(
                session,
                data=_break("title.ru", KeyError),
                languages=LANGS,
                area_codes=AREAS,
                now=NOW,
            )
    async with sessions() as session:
        assert await cs.list_all(session) == []


# -- answering ------------------------------------------------------------------------------


async def _opened(sessions: Sessions, **changes: Any) -> int:
    async with sessions.begin() as session:
        created = await cs.create(
            session, data=example(**changes), languages=LANGS, area_codes=AREAS, now=NOW
        )
        await cs.open_consultation(session, consultation_id=created.id, now=NOW)
        return created.id


async def _subscriber(session: AsyncSession, area: str = "dtes", locale: str = "en") -> int:
    contact = await add_contact(session)
    session.add(Subscription(contact_id=contact, area_code=area, created_at=NOW))
    await session.execute(update(Contact).where(Contact.id == contact).values(locale=locale))
    return contact


async def _answer(
    sessions: Sessions,
    consultation: int,
    contact: int,
    answers: dict[str, Any],
    *,
    area: str | None = "dtes",
    finished: bool = True,
) -> None:
    async with sessions.begin() as session:
        await cs.submit(
            session,
            consultation_id=consultation,
            contact_id=contact,
            area=area,
            answers=answers,
            finished=finished,
            now=NOW + timedelta(hours=1),
            gazetteer=GAZETTEER,
        )


async def test_one_answer_per_person(sessions: Sessions) -> None:
    consultation = await _opened(sessions)
    async with sessions.begin() as session:
        person = await _subscriber(session)
    await _answer(sessions, consultation, person, {"1": 0})
    with pytest.raises(ConsultationError) as caught:
        await _answer(sessions, consultation, person, {"1": 1})
    assert caught.value.code == "answered"
    async with sessions() as session:
        assert await cs.open_for(session, contact_id=person, now=NOW) == []
        total = await session.scalar(
            select(func.sum(ConsultationCount.count)).where(ConsultationCount.question == 1)
        )
    assert total == 2  # "*" answered + choice 0, once


async def test_audience_is_subscribers_of_its_areas(sessions: Sessions) -> None:
    consultation = await _opened(sessions, areas=["dtes"])
    async with sessions.begin() as session:
        inside = await _subscriber(session, "dtes")
        outside = await _subscriber(session, "kitsilano")
        nobody = await add_contact(session)
    async with sessions() as session:
        assert [c.id for c in await cs.open_for(session, contact_id=inside, now=NOW)] == [
            consultation
        ]
        assert await cs.open_for(session, contact_id=outside, now=NOW) == []
        assert await cs.open_for(session, contact_id=nobody, now=NOW) == []
    with pytest.raises(ConsultationError) as caught:
        await _answer(sessions, consultation, outside, {"1": 0})
    assert caught.value.code == "not_for_you"


async def test_closed_takes_no_answers(sessions: Sessions) -> None:
    consultation = await _opened(sessions)
    async with sessions.begin() as session:
        person = await _subscriber(session)
        assert await cs.close_due(session, now=NOW + timedelta(days=30)) == [consultation]
    with pytest.raises(ConsultationError) as caught:
        await _answer(sessions, consultation, person, {"1": 0})
    assert caught.value.code == "closed"


async def test_skips_stops_and_texts_are_counted_apart(sessions: Sessions) -> None:
    consultation = await _opened(sessions)
    async with sessions.begin() as session:
        people = [await _subscriber(session) for _ in range(7)]
    for n, person in enumerate(people):
        if n < 5:
            await _answer(
                sessions,
                consultation,
                person,
                {"1": 1, "2": [0, 2], "3": 4, "4": f"call me on 604 555 01{n}9 please {n}"},
            )
        elif n == 5:
            await _answer(sessions, consultation, person, {"1": None, "2": None}, finished=False)
        else:
            await _answer(sessions, consultation, person, {"1": 3}, area=None, finished=False)
    async with sessions() as session:
        found = await cs.results(session, consultation_id=consultation)
        texts = list(await session.scalars(select(ConsultationText.text)))
    assert found.participants.value == 5  # 7, rounded to the nearest 5
    assert found.finished.value == 5
    assert found.stopped.hidden
    first = found.questions[0]
    assert dict(first.overall.rows)[1].value == 5
    assert dict(first.overall.rows)[3].hidden  # one person: "fewer than 5"
    assert first.overall.skipped.hidden
    assert found.questions[2].overall.mean == 4.0
    assert len(found.questions[3].texts) == 5
    assert all("555" not in text for text in texts)  # masked as reports are
    assert [a.area_code for a in found.areas if a.broken_down] == ["dtes"]
    csv_text = cs.to_csv(found)
    assert "fewer than 5" in csv_text
    assert csv_text.splitlines()[0] == "question,kind,area,answer,count"


async def test_texts_are_listed_only_from_five(sessions: Sessions) -> None:
    consultation = await _opened(sessions)
    async with sessions.begin() as session:
        people = [await _subscriber(session) for _ in range(4)]
    for person in people:
        await _answer(sessions, consultation, person, {"4": "=SUM(A1) longer hours"})
    async with sessions() as session:
        found = await cs.results(session, consultation_id=consultation)
    assert found.questions[3].texts == ()
    assert found.questions[3].texts_written.hidden
    assert "SUM" not in cs.to_csv(found)


# -- closing ----------------------------------------------------------------------------------


def _render(view: cs.ConsultationView, locale: str | None) -> Reply:
    return Reply(text=f"{cs.pick(view.title, locale)}/{locale}")


async def test_invitations_summary_and_forgetting_participants(sessions: Sessions) -> None:
    box = AddressBox(Fernet.generate_key())
    consultation = await _opened(sessions, areas=["dtes"])
    async with sessions.begin() as session:
        ru = await _subscriber(session, "dtes", "ru")
        fa = await _subscriber(session, "dtes", "fa_AF")
        await _subscriber(session, "kitsilano")
        assert await cs.queue_invitations(session, box=box, render=_render, now=NOW) == 2
        assert await cs.queue_invitations(session, box=box, render=_render, now=NOW) == 0
        await session.execute(delete(PendingMessage))
    for person in (ru, fa):
        await _answer(sessions, consultation, person, {"1": 0})
    words = Words.from_content(ROOT / "content")
    async with sessions.begin() as session:
        with pytest.raises(ConsultationError):
            await cs.approve_summary(session, consultation_id=consultation, now=NOW)
        await cs.close_consultation(session, consultation_id=consultation, now=NOW)
        translators = {loc: words.for_locale(loc) for loc in LANGS}
        assert await cs.prepare_summaries(session, translators=translators) == [consultation]
        assert await cs.prepare_summaries(session, translators=translators) == []
        drafted = await cs.get(session, consultation_id=consultation)
        assert drafted.summary is not None
        assert set(drafted.summary) == set(LANGS)
        await cs.approve_summary(session, consultation_id=consultation, now=NOW)
        assert await cs.send_summaries(session, box=box, render=_render, now=NOW) == 2
    async with sessions() as session:
        assert await session.scalar(select(func.count()).select_from(ConsultationParticipant)) == 0
        queued = sorted(
            cs_open(box, row) for row in await session.scalars(select(PendingMessage.sealed))
        )
        done = await cs.get(session, consultation_id=consultation)
    assert queued == ["Часы работы/ru", "ساعات کاری/fa_AF"]
    assert done.status is ConsultationStatus.DONE
    assert done.summary_sent == 2


def cs_open(box: AddressBox, sealed: bytes) -> str:
    from bot.services.notices import open_reply

    return open_reply(box, sealed).text


async def test_forget_and_retention_remove_participation(sessions: Sessions) -> None:
    consultation = await _opened(sessions)
    async with sessions.begin() as session:
        one, two = await _subscriber(session), await _subscriber(session)
    await _answer(sessions, consultation, one, {"4": "more evening hours please"})
    await _answer(sessions, consultation, two, {"1": 2})
    async with sessions.begin() as session:
        await forgetting.forget(session, contact_id=one, pseudonym_key=b"p" * 32)
    async with sessions() as session:
        left = list(await session.scalars(select(ConsultationParticipant.contact_id)))
    assert left == [two]
    async with sessions.begin() as session:
        await cs.close_consultation(session, consultation_id=consultation, now=NOW)
        assert (
            await cs.purge(session, now=NOW + timedelta(days=29), retention=timedelta(days=30)) == 0
        )
        gone = await cs.purge(session, now=NOW + timedelta(days=31), retention=timedelta(days=30))
    assert gone == 2  # the participant row and the free text
    async with sessions() as session:
        found = await cs.results(session, consultation_id=consultation)
    assert found.participants.hidden  # the counters stay
