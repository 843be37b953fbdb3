"""/language: the choices in their own names, the choice stored, and a new language from data."""

from __future__ import annotations

import shutil
from pathlib import Path

from sqlalchemy import select

from bot.core.words import Words, po_path
from bot.db.models import Contact
from bot.i18n import PROJECT_ROOT
from bot.i18n.check import check
from handlers.routes import build_routes
from tests.handlers.person_world import Sessions, first_line, labels, make_world
from tests.support.chat import Chat, Clock
from tests.support.engine import CONTENT_DIR, make_engine, shipped_words

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "xx.po"
CHOICES = ["English", "دری", "Русский", "Back to menu"]


async def stored_locale(sessions: Sessions, world_contact: int) -> str | None:
    async with sessions() as session:
        return await session.scalar(select(Contact.locale).where(Contact.id == world_contact))


async def test_choices_are_each_in_their_own_language(sessions: Sessions) -> None:
    world = await make_world(sessions)
    [reply] = await world.chat.say("ana", "/language")
    assert reply.text == "Choose your language:"
    assert labels(reply) == CHOICES
    # In Russian, the question is Russian and the names stay their own.
    [ru] = await world.chat.say("bo", "/language", locale="ru")
    assert ru.text == "Выберите язык:"
    assert labels(ru)[:3] == CHOICES[:3]


async def test_choosing_stores_the_language_and_answers_in_it(sessions: Sessions) -> None:
    world = await make_world(sessions)
    await world.chat.say("ana", "/start", locale="en")
    await world.chat.say("ana", "/language")
    [done] = await world.chat.tap("ana", "Русский")
    assert done.text == "Язык: Русский."
    assert labels(done)[0] == "Материалы"  # the menu, in the new language
    assert done.locale == "ru"
    assert await stored_locale(sessions, await world.contact_id("ana")) == "ru"
    # The platform's hint no longer matters: it was only read when the contact was created.
    [menu] = await world.chat.say("ana", "/menu", locale="en")
    assert menu.text == "Что вам нужно?"
    # And back, typed: a code or a language's own name both work.
    [back] = await world.chat.say("ana", "/language english")
    assert back.text == "Language set: English."
    [dari] = await world.chat.say("ana", "/language fa_AF")
    assert first_line(dari).endswith("دری.")
    assert await stored_locale(sessions, await world.contact_id("ana")) == "fa_AF"


async def test_an_unknown_language_button_is_an_expired_button(sessions: Sessions) -> None:
    world = await make_world(sessions)
    [reply] = await world.chat.press("ana", "lang:de")
    assert reply.text == "That button has expired. Here is the menu."
    assert await stored_locale(sessions, await world.contact_id("ana")) is None
    [unknown] = await world.chat.say("ana", "/language Deutsch")
    assert unknown.text == "Choose your language:"  # not a language here: the choices


async def test_the_welcome_names_every_language_and_help_lists_the_command(
    sessions: Sessions,
) -> None:
    world = await make_world(sessions)
    [welcome] = await world.chat.say("ana", "/start")
    assert welcome.text.endswith("🌐 English · دری · Русский: /language")
    [helped] = await world.chat.say("ana", "/help")
    assert "/language - change the language" in helped.text


async def test_a_fourth_language_from_data_needs_no_code_change(
    sessions: Sessions, tmp_path: Path
) -> None:
    content = tmp_path / "content"
    shutil.copytree(CONTENT_DIR, content)
    target = po_path(content / "locales", "xx")
    target.parent.mkdir(parents=True)
    shutil.copy(FIXTURE, target)

    words = Words.from_content(content)
    assert set(words.locales) == {*shipped_words().locales, "xx"}
    engine = make_engine(sessions, build_routes(), clock=Clock(), words=words)
    chat = Chat(engine)

    # From the platform's hint on first contact...
    [welcome] = await chat.say("ana", "/start", locale="xx")
    assert welcome.text.startswith("Xx hallo. Xx anonym.")
    assert welcome.text.endswith("🌐 English · دری · Русский · Xxish: /language")
    menu = labels(welcome)[-6:]  # after the common kits
    assert menu[0] == "Xx kit"
    assert menu[1] == "Naloxone"  # not translated yet: English, as for any gap
    # ...or chosen by its own name.
    [choices] = await chat.say("bo", "/language")
    assert "Xxish" in labels(choices)
    [done] = await chat.tap("bo", "Xxish")
    assert done.text == "Xx taal: Xxish."
    assert done.locale == "xx"
    # Plural forms come from its own header.
    t = words.for_locale("xx")
    assert t.plural("Done ({n} item)", "Done ({n} items)", 2) == "Xx klaar (2 dingen)"
    # The check lists what the new language still lacks, and nothing about the others.
    problems = check(PROJECT_ROOT, content / "locales")
    assert problems
    assert all("/xx/" in line and ": xx: " in line for line in problems)
    assert any("missing translation: msgid 'Send it?'" in line for line in problems)
