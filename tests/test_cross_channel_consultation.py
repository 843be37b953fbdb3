"""A community consultation end to end on both real clients: 30 people on Telegram and Signal
in English, Russian and Dari are invited, answer with skips and stops, once; the coordinator
reads suppressed results, the consultation closes on the clock, the summary is approved and
reaches the participants only, each in their language.

Run with ``-s`` to see the results as the coordinator reads them, and the CSV.
"""

from __future__ import annotations

import copy
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.content import load_gazetteer
from bot.core.words import Translator
from bot.db.models import ConsultationParticipant
from bot.domain import Channel, Role
from bot.services import consultations as cs
from bot.services import contacts, invites, subscriptions
from bot.services.notices import run_notices_due
from handlers.due import run_due
from tests.support.cross_channel import World, cross_channel_world
from tests.support.engine import CONTENT_DIR, TEST_KEYS

EXAMPLE = cs.load_yaml(
    (Path(__file__).resolve().parents[1] / "docs" / "consultation.example.yaml").read_text(
        encoding="utf-8"
    )
)
GAZETTEER = load_gazetteer(CONTENT_DIR / "areas.yaml")
LOCALES = ("en", "ru", "fa_AF")
AREAS = ("dtes", "strathcona", "kitsilano")
PEOPLE = 30
STOPPERS = frozenset({3, 17, 26, 29})  # stop at question 2


@pytest.fixture
async def world(sessions: async_sessionmaker[AsyncSession]) -> AsyncIterator[World]:
    async with cross_channel_world(sessions, seed=17) as world:
        yield world


@dataclass
class Person:
    """One participant, on either channel, driven by the labels of their language."""

    index: int
    locale: str
    client: Any  # a Telegram FakeUser or a Signal FakePerson
    telegram: bool
    tr: Translator

    async def choose(self, label: str) -> list[Any]:
        if self.telegram:
            return list(await self.client.tap(label))
        return list(await self.client.pick(label))

    async def say(self, text: str) -> list[Any]:
        return list(await self.client.say(text))

    @property
    def received(self) -> list[str]:
        messages = self.client.transcript if self.telegram else self.client.inbox
        return [m.text for m in messages]


def plan(i: int) -> dict[str, Any]:
    """What person ``i`` answers (see the counts asserted below)."""
    area = "dtes" if i < 13 else "strathcona" if i < 25 else "kitsilano" if i < 28 else None
    if i % 5 == 0:
        first = None
    elif i < 20:
        first = 2  # Evening
    elif i < 27:
        first = 0  # Morning
    else:
        first = 3  # Night
    many = None if i % 7 == 0 else ([0, 2] if i % 2 == 0 else [1])
    scale = (5, 4, 2)[i % 3]
    text = (
        None if i % 6 == 0 else f"Evenings would help, {['later', 'weekends', 'more kits'][i % 3]}"
    )
    if i == 1:
        text = "Call me on 604 555 0199 about the van"
    return {"area": area, "1": first, "2": many, "3": scale, "4": text}


def label(person: Person, texts: dict[str, str]) -> str:
    return cs.pick(texts, person.locale)


async def answer(person: Person, consultation: cs.ConsultationView) -> None:
    """Tap [Take part] on the invitation and go through it as :func:`plan` says."""
    tr = person.tr
    want = plan(person.index)
    area_question = await person.choose(tr("Take part"))
    assert tr("Question {n} of {total}", n=1, total=4) not in area_question[-1].text
    areas = {a.code: a.name for a in GAZETTEER.areas}
    if want["area"] is None:
        await person.choose(tr("Skip"))
    else:
        await person.choose(areas[want["area"]])
    questions = consultation.questions
    # 1: one choice
    if want["1"] is None:
        await person.choose(tr("Skip"))
    else:
        await person.choose(label(person, questions[0].options[want["1"]]))
    if person.index in STOPPERS:
        stopped = await person.choose(tr("Stop"))
        assert tr("Stopped. Thank you for what you answered.") in stopped[-1].text
        return
    # 2: several choices, then Done
    if want["2"] is None:
        await person.choose(tr("Skip"))
    else:
        for option in want["2"]:
            await person.choose(label(person, questions[1].options[option]))
        await person.choose(tr("Done"))
    # 3: the scale
    await person.choose(str(want["3"]))
    # 4: free text
    if want["4"] is None:
        done = await person.choose(tr("Skip"))
    else:
        done = await person.say(want["4"])
    assert tr("Thank you!") in done[-1].text


async def test_thirty_people_two_channels_three_languages(world: World) -> None:
    engine = world.engine
    words = engine.deps.words
    clock = engine.clock

    # A coordinator on Telegram.
    async with world.sessions.begin() as session:
        code = await invites.create(
            session,
            codes_key=TEST_KEYS.codes,
            role=Role.COORDINATOR,
            ttl=engine.deps.config.invite_ttl,
            now=clock(),
        )
    coco = world.telegram.user("coco")
    await coco.say(f"/join {code}")

    # Written in the YAML of docs/, for three areas, closing in a week.
    data = copy.deepcopy(EXAMPLE)
    data["areas"] = list(AREAS)
    data["closes"] = (clock() + timedelta(days=7)).date().isoformat()
    async with world.sessions.begin() as session:
        made = await cs.create(
            session,
            data=data,
            languages=tuple(words.locales),
            area_codes=engine.deps.content.gazetteer.codes,
            now=clock(),
        )

    # 30 people subscribed to alerts for one of its areas (half on each channel, a third in
    # each language), and one subscriber elsewhere who is never invited.
    people: list[Person] = []
    for i in range(PEOPLE):
        locale = LOCALES[i % 3]
        telegram = i % 2 == 0
        tr = words.for_locale(locale)
        if telegram:
            client: Any = world.telegram.user(f"p{i}", language_code=locale.split("_")[0])
            await client.say("/start")
        else:
            client = world.signal.person(f"p{i}")
            await client.say("/start")
            await client.say("/language")
            await client.pick(tr.language_name)
        people.append(Person(i, locale, client, telegram, tr))
    outsider = world.signal.person("outsider")
    await outsider.say("/start")
    async with world.sessions.begin() as session:
        for person in [*people, None]:
            platform: Any = person.client if person is not None else outsider
            on_telegram = person is not None and person.telegram
            contact = await contacts.find(
                session,
                pseudonym_key=TEST_KEYS.pseudonym,
                channel=Channel.TELEGRAM if on_telegram else Channel.SIGNAL,
                platform_id=str(platform.id) if on_telegram else platform.uuid,
            )
            assert contact is not None
            area = "renfrew" if person is None else AREAS[person.index % 3]
            await subscriptions.subscribe(
                session,
                contact_id=contact.id,
                areas=[area],
                gazetteer=engine.deps.content.gazetteer,
                now=clock(),
            )

    # The coordinator opens it; the tick queues one discreet invitation each.
    await coco.say("/consult")
    asked = await coco.tap(f"Open #{made.id}")
    assert f"{PEOPLE} people will get one invitation" in asked[-1].text
    await coco.tap("Yes, open it")
    assert (await run_due(engine)).invitations_queued == PEOPLE
    await run_notices_due(engine)
    for person in people:
        heard = person.tr("We would like to hear from you.")
        [invitation] = [t for t in person.received if heard in t]
        assert invitation.splitlines()[0] == heard  # discreet on a lock screen
        assert cs.pick(made.title, person.locale) in invitation
        if person.index in (0, 1, 2):
            print(f"\n--- the invitation ({person.locale}) ---\n{invitation}")
    assert not any("hear from you" in t for t in outsider.texts)

    # Everyone answers, with skips and four stops.
    async with world.sessions() as session:
        consultation = await cs.get(session, consultation_id=made.id)
    for person in people:
        await answer(person, consultation)

    # Once each: an old [Take part] on Telegram, /survey on Signal.
    again = await people[0].choose(people[0].tr("Take part"))
    assert people[0].tr("You have already answered this consultation. Thank you!") in again[-1].text
    listed = await people[1].say("/survey")
    assert (
        people[1].tr(
            "No consultations are open for you right now. They go to people who get alerts for an "
            "area (/alerts)."
        )
        in listed[-1].text
    )

    # Results: aggregates only, small cells "fewer than 5", areas only where 5 or more.
    async with world.sessions() as session:
        found = await cs.results(session, consultation_id=made.id)
    assert found.participants.value == 30
    assert found.finished.value == 25  # 26 rounded to 5
    assert found.stopped.hidden  # 4
    assert {a.area_code: (str(a.participants), a.broken_down) for a in found.areas} == {
        "dtes": ("15", True),  # 13
        "strathcona": ("10", True),  # 12
        "kitsilano": ("<5", False),  # 3
        "": ("<5", False),  # 2 did not say
    }
    first = found.questions[0]
    assert [str(s) for _, s in first.overall.rows] == ["5", "0", "15", "<5"]  # 5, 0, 16, 3
    assert str(first.overall.skipped) == "5"  # 6
    assert set(first.by_area) == {"dtes", "strathcona"}
    texts = found.questions[3].texts
    assert len(texts) >= 5
    assert not any("555" in t for t in texts)  # masked as reports are
    csv_text = cs.to_csv(found)
    assert "fewer than 5" in csv_text

    # The coordinator's compact view in the chat.
    shown = await coco.say("/consult")
    assert "30 answered" in shown[-1].text
    results = await coco.tap(f"Results #{made.id}")
    assert "fewer than 5" in results[-1].text
    print("\n--- results in the coordinator's chat ---\n" + results[-1].text)
    print("\n--- results as CSV ---\n" + csv_text)

    # It closes on the clock; the coordinator approves the drafted summary; it reaches the
    # 30 participants in their languages and nobody else; then who took part is forgotten.
    engine.clock.advance(days=8)  # type: ignore[attr-defined]
    assert (await run_due(engine)).consultations_closed == 1
    summary = await coco.tap(f"Summary #{made.id}")
    print("\n--- the drafted summary (en) ---\n" + summary[-1].text)
    assert "Most of you said: Evening." in summary[-1].text
    await coco.tap(f"Approve and send #{made.id}")
    assert (await run_due(engine)).summaries_queued == PEOPLE
    await run_notices_due(engine)
    for person in people:
        got = [t for t in person.received if t.startswith(person.tr("Thank you for taking part."))]
        assert len(got) == 1, person.index
        assert cs.pick(made.title, person.locale) in got[0]
    assert not any("taking part" in t for t in outsider.texts)
    for person in people[1:3]:  # Russian on Signal, Dari on Telegram
        [summary_text] = [
            t for t in person.received if t.startswith(person.tr("Thank you for taking part."))
        ]
        print(f"\n--- the summary as received ({person.locale}) ---\n{summary_text}")
    async with world.sessions() as session:
        left = await session.scalar(select(func.count()).select_from(ConsultationParticipant))
        done = await cs.get(session, consultation_id=made.id)
    assert left == 0
    assert done.status is cs.ConsultationStatus.DONE
    assert done.summary_sent == PEOPLE
