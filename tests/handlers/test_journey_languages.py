"""The whole request journey in each language, with no English left in Russian or Dari replies.

A person (language from the platform's hint, or chosen with /language) asks for syringes,
shares a location and sends the request; a peer who reads another language accepts it; the
person gets the pickup place and code; the peer hands over against the code. Every reply the
person and the peer get is checked two ways:

- no English text from the catalogue template (any literal part of any message id) appears in
  it, unless that language's translation keeps those words itself;
- what is left once proper nouns from the data (outlet and area names, pickup instructions),
  commands, references, codes and needle gauges are taken out holds no Latin word at all.

The same journey in English trips both checks, so they can fail.
"""

from __future__ import annotations

import re
import string
from dataclasses import dataclass
from functools import cache

import pytest
from babel.messages.pofile import read_po

from bot.content import load_outlets
from bot.core.bidi import strip_marks
from bot.core.messages import Reply
from bot.core.words import Translator, po_path
from tests.handlers.person_world import MAIN_AND_HASTINGS, Sessions, World, make_world
from tests.support.engine import CONTENT_DIR, make_deps, shipped_words

SYRINGES = '1 ml syringe, 29G ½" fixed needle'
CATEGORY = "Kit for injecting and smoking"
OTHER = {"ru": "fa_AF", "fa_AF": "ru", "en": "en"}
# What may stay Latin in any language: commands, 6-character references, gauges like 29G.
_NOT_WORDS = re.compile(r"/[a-z_]+|\b[0-9A-Z]{6}\b|\b\d+G\b")
_LATIN_WORD = re.compile(r"[A-Za-z]{2,}")
_CODE = re.compile(r"(?<![0-9])([0-9]{6})(?![0-9])")


@cache
def _proper_nouns() -> tuple[str, ...]:
    """Names and free text from the data, longest first (they may contain each other).

    Area, outlet and city names are proper nouns; pickup instructions are what a coordinator
    wrote for an outlet; language names are each language's own name for itself.
    """
    deps = make_deps()
    gazetteer, catalogue = deps.content.gazetteer, deps.content.catalogue
    specs = load_outlets(CONTENT_DIR / "outlets.demo.yaml", catalogue, gazetteer)
    nouns = {gazetteer.city.name, *(area.name for area in gazetteer.areas)}
    nouns |= {t.language_name for t in shipped_words().locales.values()}
    for spec in specs:
        nouns |= {spec.name, *((spec.instructions,) if spec.instructions else ())}
    return tuple(sorted(nouns, key=len, reverse=True))


@cache
def _english_fragments(locale: str) -> tuple[str, ...]:
    """Every literal piece of English in the template that ``locale`` translates away."""
    locales = CONTENT_DIR / "locales"
    with (locales / "hrbot.pot").open("rb") as handle:
        template = read_po(handle)
    with po_path(locales, locale).open("rb") as handle:
        translated = read_po(handle)
    fragments = set()
    for message in template:
        if not message.id:
            continue
        ids = (message.id,) if isinstance(message.id, str) else tuple(message.id)
        found = translated.get(message.id, context=message.context)
        strings = found.string if found is not None else ""
        translation = strings if isinstance(strings, str) else " ".join(strings or ())
        for text in ids:
            for literal, *_ in string.Formatter().parse(text):
                for piece in literal.split("\n"):
                    piece = piece.strip(" -:.,;()·•›‹~×?!\"'“”")
                    if re.search(r"[A-Za-z]{3}", piece) and piece not in translation:
                        fragments.add(piece)
    return tuple(sorted(fragments, key=len, reverse=True))


def _seen(reply: Reply) -> str:
    """What a person reads: the text and the button labels, without direction marks."""
    return strip_marks("\n".join([reply.text, *(o.label for o in reply.options)]))


def _words_only(reply: Reply) -> str:
    """:func:`_seen` minus data names, commands, references and gauges."""
    text = _seen(reply)
    for noun in _proper_nouns():
        text = text.replace(noun, " ")
    return _NOT_WORDS.sub(" ", text)


def english_in(replies: list[Reply], locale: str) -> list[str]:
    """English pieces of the template that ``locale`` translates, found in ``replies``."""
    hits = []
    for reply in replies:
        text = _words_only(reply)
        for fragment in _english_fragments(locale):
            if re.search(rf"(?<![A-Za-z]){re.escape(fragment)}(?![A-Za-z])", text):
                hits.append(f"{fragment!r} in {text!r}")
    return hits


def latin_words_in(replies: list[Reply]) -> list[str]:
    """Latin words left in ``replies`` once data names, commands and codes are out."""
    return [word for reply in replies for word in _LATIN_WORD.findall(_words_only(reply))]


@dataclass
class Journey:
    """What the person and the peer received, from the moment each had chosen a language."""

    person: list[Reply]
    peer: list[Reply]
    reference: str


async def _choose_language(world: World, who: str, locale: str, hint: str | None) -> Translator:
    t = shipped_words().for_locale(locale)
    await world.chat.say(who, "/language", locale=hint)
    await world.chat.tap(who, t.language_name)
    return t


async def walk(world: World, locale: str, *, by_command: bool) -> Journey:
    """The journey with the person in ``locale`` and the peer in another language."""
    chat = world.chat
    await world.peer("pat", "main_hastings_peer")
    tp = await _choose_language(world, "pat", OTHER[locale], hint=None)
    peer_from = len(chat.inbox("pat"))

    if by_command:  # the phone says English; the person picks their language
        await chat.say("ana", "/start", locale="en")
        t = await _choose_language(world, "ana", locale, hint="en")
        hint: str | None = "en"  # the hint keeps saying English: the choice wins
        person_from = len(chat.inbox("ana")) - 1  # the confirmation is in the new language
    else:
        t, hint = shipped_words().for_locale(locale), locale
        person_from = len(chat.inbox("ana"))
        await chat.say("ana", "/start", locale=hint)

    await chat.say("ana", "/help", locale=hint)
    await chat.say("ana", "/supplies", locale=hint)
    await chat.tap("ana", t(CATEGORY))
    await chat.tap("ana", t(SYRINGES))
    await chat.tap("ana", "2")
    await chat.tap("ana", t("Done: choose where"))
    await chat.share_location("ana", *MAIN_AND_HASTINGS)
    await chat.tap("ana", t("Send request"))
    reference = (await world.requests("ana"))[-1].reference

    await chat.tap("pat", tp("Accept"))
    code = next(
        match.group(1)
        for reply in reversed(chat.inbox("ana"))
        if (match := _CODE.search(strip_marks(reply.text)))
    )
    await chat.say("ana", "/status", locale=hint)
    await chat.tap("pat", tp("Handed over"))
    await chat.say("pat", code)
    await chat.say("ana", "/info", locale=hint)
    await chat.tap("ana", t("Emergency: what to do"))
    await chat.say("ana", "/emergency", locale=hint)
    return Journey(chat.inbox("ana")[person_from:], chat.inbox("pat")[peer_from:], reference)


@pytest.mark.parametrize("by_command", [False, True], ids=["platform-hint", "language-command"])
@pytest.mark.parametrize("locale", ["ru", "fa_AF"])
async def test_the_journey_has_no_english(
    sessions: Sessions, locale: str, by_command: bool
) -> None:
    world = await make_world(sessions)
    journey = await walk(world, locale, by_command=by_command)
    t = shipped_words().for_locale(locale)

    assert len(journey.person) >= 14
    assert len(journey.peer) >= 4
    for who, replies, lang in (
        ("person", journey.person, locale),
        ("peer", journey.peer, OTHER[locale]),
    ):
        assert english_in(replies, lang) == [], who
        assert latin_words_in(replies) == [], who
        assert all(reply.locale == lang for reply in replies), who

    seen = "\n".join(_seen(r) for r in journey.person)
    # The journey really happened: sent, accepted with a code, handed over.
    assert journey.reference in seen
    assert strip_marks(t("Thanks for picking up {ref}. Take care.", ref=journey.reference)) in seen
    # Safety cards are not reviewed yet: /info says so, in this language.
    notice = "This translation has not been checked by a native speaker yet."
    assert strip_marks(t(f"⚠️ {notice} If anything is unclear, ask a peer.")) in seen
    # Item names are translated too.
    assert strip_marks(t(SYRINGES)) in seen
    assert SYRINGES not in seen


async def test_the_checks_would_catch_english(sessions: Sessions) -> None:
    world = await make_world(sessions)
    journey = await walk(world, "en", by_command=False)
    assert len(english_in(journey.person, "ru")) > 20
    assert "Request" in latin_words_in(journey.person)
    seen = "\n".join(_seen(r) for r in journey.person)
    assert "not been checked by a native speaker" not in seen  # English is the original


async def test_a_changed_hint_does_not_change_a_stored_language(sessions: Sessions) -> None:
    world = await make_world(sessions)
    t = shipped_words().for_locale("ru")
    [first] = await world.chat.say("ana", "/start", locale="ru")
    assert first.text.startswith("Привет.")
    [again] = await world.chat.say("ana", "/menu", locale="en")
    assert again.text == t("What do you need?")
