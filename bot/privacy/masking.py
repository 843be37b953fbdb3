"""Hide what could identify someone in free text a person sends (a community report).

:func:`mask` replaces phone numbers, e-mail addresses, links, @usernames, street addresses and
personal names with a marker per kind (``[📞]``, ``[✉]``, ``[🔗]``, ``[@]``, ``[🏠]``,
``[👤]``) and says how many of each it hid. Markers carry no language, because a masked text
may become an alert that people read in Russian or Dari; :func:`hidden` counts them again in
stored text, so what was hidden can be shown long after masking without storing anything else.

It is a heuristic, tuned to hide too much rather than too little: a masked word costs a
coordinator an edit, a missed one can cost someone their freedom. What it finds:

- **phones**: the shapes log redaction knows (:mod:`bot.privacy.patterns`), then any run of
  7–15 digits split by single spaces, dashes, dots or brackets (``8 (912) 345-67-89``,
  ``555-0199``, ``۰۷۹۹۱۲۳۴۵۶``), dates excepted. ``phonenumbers`` was measured and left out: it
  needs the number's country, which a report does not carry (14 sample numbers in English,
  Russian and Dari text: 3 found with no region, 12 at best with one, all 14 here), and it
  adds 48 MB.
- **e-mails, @usernames, links** (``https://…``, ``www.…``, ``t.me/…``, bare domains with a
  common ending).
- **addresses**: a house number, one to three street-name words and a street type (``123 Main
  St``, ``4 E Hastings Street, apt 4``); a flat, unit or room number alone (``apt 4``, ``unit
  12``); Russian ``ул. Ленина, д. 5, кв. 12``, ``дом 5``, ``кв. 12``; Dari ``خانه نمبر ۱۲``,
  ``کوچه ۵``. A street without a number (``on Main St``) and an intersection (``Main and
  Hastings``) are *areas*, kept: an alert needs them and they point at a corner, not a home.
- **names**: after a relation or a naming word (``my friend Dave``, ``a guy named dave``, ``друг
  Саша``, ``зовут Саша``, ``به نام احمد``, ``اسمش احمد``), and any two or three capitalised
  words in a row (``Dave Smith``, ``Иван Петров``) that are not a place (street types, place
  words, weekdays, months, and the ``keep`` phrases: the area names).

What it misses, honestly: a lone first name with no cue (``Dave OD'd``), a name typed in lower
case without a cue, Dari names without a naming word (Arabic script has no capitals), house
numbers without a street type (``at 123 Main``), landmarks (``the blue house by the school``),
nicknames and descriptions (``the tall guy with the red jacket``). Hence the check a
coordinator must make before a report becomes an alert.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Final

from bot.privacy import patterns

__all__ = ["MARKERS", "Kind", "Masked", "hidden", "mask"]


class Kind(StrEnum):
    """What was hidden, in the order :func:`hidden` reports it."""

    PHONE = "phone"
    ADDRESS = "address"
    NAME = "name"
    USERNAME = "username"
    EMAIL = "email"
    LINK = "link"


MARKERS: Final[Mapping[Kind, str]] = {
    Kind.PHONE: "[📞]",
    Kind.ADDRESS: "[🏠]",
    Kind.NAME: "[👤]",
    Kind.USERNAME: "[@]",
    Kind.EMAIL: "[✉]",
    Kind.LINK: "[🔗]",
}


@dataclass(frozen=True, slots=True)
class Masked:
    """The text with identifiers replaced, and how many of each kind were."""

    text: str
    found: Mapping[Kind, int] = field(default_factory=dict)

    @property
    def changed(self) -> bool:
        return bool(self.found)


# --- phones, e-mails, links, usernames -----------------------------------------------------------

# Any run of 7–15 digits split by single separators (a space, dash, dot or bracket, or a
# bracket and a space), with an optional leading "+", not after "19:" (a time): national and
# local formats the shared shapes do not know, such as Russia's "8 (912) 345-67-89" or a bare
# "6045550199".
_DIGIT_RUN: Final = re.compile(r"(?<![\w+])(?<!\d:)(?:\+\s?)?\(?\d(?:[\s().-]{0,2}\d){6,14}(?!\w)")
# 25.11.2026, 25/11/26, 2026-11-25: dates, not phones.
_DATE: Final = re.compile(r"\d{1,2}([./-])\d{1,2}\1(?:\d{4}|\d{2})|\d{4}([./-])\d{1,2}\2\d{1,2}")

_TLDS: Final = (
    "com|org|net|info|biz|io|me|co|app|xyz|link|site|online|onion|ru|su|рф|af|ca|us|uk|de|fr"
)
_LINK: Final = re.compile(
    r"(?:(?:https?|ftp)://|www\.)\S*[^\s.,;:!?)\]]"
    r"|(?<![\w.@])(?:t|telegram|signal|wa)\.me/\S*[^\s.,;:!?)\]]"
    rf"|(?<![\w.@-])(?:[a-z0-9-]+\.)+(?:{_TLDS})\b(?:/\S*[^\s.,;:!?)\]])?",
    re.IGNORECASE,
)


def _is_phone(text: str) -> bool:
    digits = sum(c.isdigit() for c in text)
    return 7 <= digits <= 15 and _DATE.fullmatch(text.strip("()")) is None


# --- addresses -----------------------------------------------------------------------------------

_STREET_TYPES: Final = (
    "street|st|avenue|ave|av|road|rd|boulevard|blvd|drive|dr|lane|ln|way|place|pl|court|ct"
    "|crescent|cres|terrace|highway|hwy|parkway|pkwy|square|sq|close|circle|cir|alley|row|mews"
    "|grove"
)
# Words that end a street name: "3 doses at the Drive" is no address.
_NOT_STREET_WORDS: Final = (
    "at|the|in|on|of|and|to|for|from|with|by|near|a|an|or|but|is|was|were|are|he|she|they"
    "|we|i|it|took|had|has|got|people|times|doses|hits|pills|points"
)
_HOUSE: Final = r"\d{1,6}[A-Za-z]?(?:[-/]\d{1,6})?"
_UNIT: Final = r"(?:apt|apartment|unit|suite|ste|room|rm|flat|\#)\.?\s*\#?\s*\d{1,5}[A-Za-z]?\b"
_EN_ADDRESS: Final = re.compile(
    rf"(?<!\w){_HOUSE}\s+"
    rf"(?:(?:\d{{1,3}}(?:st|nd|rd|th)|(?!(?:{_NOT_STREET_WORDS})\b)[^\W\d_][\w'’-]*)\.?\s+){{1,3}}"
    rf"(?:{_STREET_TYPES})\b\.?"
    r"(?:\s+(?:n|s|e|w|ne|nw|se|sw|north|south|east|west)\b)?"
    rf"(?:,?\s*{_UNIT})?",
    re.IGNORECASE,
)
_EN_UNIT: Final = re.compile(
    r"(?<!\w)(?:apt|apartment|unit|suite|room|rm|flat)\.?\s*\#?\s*\d{1,5}[A-Za-z]?\b", re.I
)

_RU_STREET: Final = (
    r"(?:улиц[аеуы]|ул|проспект[аеу]?|пр-к?т|пр|переул(?:ок|ке)|пер|бульвар[аеу]?|б-р"
    r"|шоссе|набережн(?:ая|ой)|наб|площад[ьи]|пл|проезд[аеу]?|микрорайон[аеу]?|мкр)"
)
_RU_ADDRESS: Final = re.compile(
    rf"(?<!\w){_RU_STREET}(?:\.|\b)\s*[^\W_][\w-]*(?:\s+[А-ЯЁ][\w-]*)?,?\s*"
    r"(?:(?:дом|д\.|№)\s*)?\d{1,4}[а-яА-Я]?\b"
    r"(?:\s*[,/]?\s*(?:корпус|корп\.?|стр\.|к\.)\s*\d{1,3}\b)?"
    r"(?:,?\s*(?:квартира|кв\.?)\s*\d{1,5}\b)?",
    re.IGNORECASE,
)
_RU_DWELLING: Final = re.compile(
    r"(?<!\w)(?:дом|д\.|квартира|кв\.?|корпус|корп\.?|подъезд)\s*№?\s*\d{1,5}[а-яА-Я]?\b",
    re.IGNORECASE,
)
# Dari: a house, flat, alley or road followed by its number ("خانه نمبر ۱۲", "کوچه ۵").
_FA_DWELLING: Final = re.compile(
    r"(?<!\w)(?:خانه|خانهٔ|منزل|اپارتمان|آپارتمان|کوچه|کوچهٔ|سرک|دکان|اتاق|بلاک)"
    r"\s*(?:نمبر|شماره|نمره|\#)?\s*\d{1,5}\b"
)


# --- names ---------------------------------------------------------------------------------------

_CAP: Final = r"[A-Z][a-z]+(?:[-'’][A-Z]?[a-z]+)?"
_CAP_RU: Final = r"[А-ЯЁ][а-яё]+(?:-[А-ЯЁ][а-яё]+)?"
_RELATIONS: Final = (
    "friend|buddy|mate|pal|bro|brother|sister|cousin|partner|boyfriend|girlfriend|husband"
    "|wife|roommate|neighbou?r|dealer|guy|girl|dude|homie|son|daughter|mom|dad|uncle|aunt"
)
# Cue and name are separate groups: the cue stays, the name goes.
_NAME_CUES: Final[tuple[re.Pattern[str], ...]] = (
    # "my friend Dave", "a guy Dave Smith"
    re.compile(
        rf"(?P<cue>\b(?i:my|our|his|her|their|a|an|the)\s+(?i:{_RELATIONS})s?,?\s+)"
        rf"(?P<name>{_CAP}(?:\s+{_CAP})?)"
    ),
    # "named dave", "his name is Dave", "goes by Dave": a name follows, whatever its case.
    re.compile(
        r"(?P<cue>\b(?i:named|name\s+is|name's|names|goes\s+by|aka)\s+)"
        rf"(?P<name>[^\W\d_][\w'’-]*(?:\s+{_CAP})?)"
    ),
    # "called Dave" (but "called 911", "called an ambulance" stay)
    re.compile(rf"(?P<cue>\b(?i:called|call)\s+)(?P<name>{_CAP}(?:\s+{_CAP})?)"),
    # "друг Саша", "подруга Маша Петрова"
    re.compile(
        r"(?P<cue>(?<!\w)(?i:друг[ауе]?|подруг[аеиу]|брат[ау]?|сестр[аеуы]|сосед(?:к[аеиу])?"
        r"|знаком(?:ый|ая|ого|ую)|парень|парн[яю]|девушк[аеиу]|муж[ау]?|жен[аеуы]"
        r"|приятел[ьяю])\s+)"
        rf"(?P<name>{_CAP_RU}(?:\s+{_CAP_RU})?)"
    ),
    # "по имени Саша", "зовут саша", "по кличке Рыжий"
    re.compile(
        r"(?P<cue>(?<!\w)(?i:по\s+имени|зовут|звали|по\s+кличке|кличка)\s+)"
        rf"(?P<name>[^\W\d_][\w-]*(?:\s+{_CAP_RU})?)"
    ),
    # Dari: "به نام احمد", "بنام احمد", "نامش احمد", "اسمش احمد", "نام او احمد"
    re.compile(
        r"(?P<cue>(?<!\w)(?:به\s+نام|بنام|به\s+اسم|نامش|اسمش|نام\s+(?:او|وی)|اسم\s+(?:او|وی))\s+)"
        r"(?P<name>[^\W\d_]+)"
    ),
)
_CAPITAL_RUN: Final = re.compile(
    rf"\b{_CAP}(?:\s+{_CAP}){{1,2}}\b|\b{_CAP_RU}(?:\s+{_CAP_RU}){{1,2}}\b"
)
# Capitalised words that start a sentence or name a place or time, not a person.
_NOT_NAME_WORDS: Final = (
    "the a an my our his her their this that these those we i he she they it you there"
    " then when after before yesterday today tonight last next also but and or so if"
    " some someone somebody everyone people please hi hey help saw got had was is"
    " street st avenue ave road rd boulevard blvd drive dr lane way place court crescent"
    " terrace highway square park station hospital clinic centre center hotel mall market"
    " bridge church school shelter library beach skytrain bus store shop cafe bar pub inn"
    " monday tuesday wednesday thursday friday saturday sunday january february march"
    " april may june july august september october november december"
    " north south east west downtown main"
    " pill pills powder rock rocks crystal batch bad blue green red white black pink"
    " purple yellow brown grey gray orange fentanyl fent heroin down meth benzo benzos oxy"
    " xanax percocet narcan naloxone kit"
    " мой моя моё мои наш наша вчера сегодня он она они мы я вы это там тут когда потом"
    " улица проспект площадь парк вокзал больница метро"
    " понедельник вторник среда четверг пятница суббота воскресенье"
)
_NOT_NAMES: Final = frozenset(_NOT_NAME_WORDS.split())


def _casefold(text: str) -> str:
    return " ".join(text.casefold().split())


def _name_runs(text: str, keep: frozenset[str], count: Callable[[Kind], str]) -> str:
    """Mask runs of capitalised words that look like a person's name."""

    def replace(match: re.Match[str]) -> str:
        words = match[0].split()
        while words and words[0].casefold() in _NOT_NAMES:
            words.pop(0)
        phrase = " ".join(words)
        if (
            len(words) < 2
            or any(w.casefold() in _NOT_NAMES for w in words)
            or any(k in _casefold(phrase) for k in keep)
        ):
            return match[0]
        start = match[0].index(words[0])
        return match[0][:start] + count(Kind.NAME)

    return _CAPITAL_RUN.sub(replace, text)


def mask(text: str, *, keep: Collection[str] = ()) -> Masked:
    """``text`` with phones, e-mails, links, @usernames, addresses and names replaced by
    :data:`MARKERS`. ``keep`` lists place names (areas) a name rule must leave alone."""
    found: Counter[Kind] = Counter()
    kept = frozenset(_casefold(k) for k in keep if k.strip())

    def count(kind: Kind) -> str:
        found[kind] += 1
        return MARKERS[kind]

    def rule(
        kind: Kind, accept: Callable[[str], bool] | None = None
    ) -> Callable[[re.Match[str]], str]:
        def replace(match: re.Match[str]) -> str:
            if accept is not None and not accept(match[0]):
                return match[0]
            return count(kind)

        return replace

    def cued(match: re.Match[str]) -> str:
        if (
            any(k in _casefold(match["name"]) for k in kept)
            or match["name"].casefold() in _NOT_NAMES
        ):
            return match[0]
        return match["cue"] + count(Kind.NAME)

    # Order matters: an e-mail before its domain looks like a link, a link before its digits
    # look like a phone, a phone before an address's number, an address before its street
    # name looks like a person's.
    text = patterns.EMAIL.sub(rule(Kind.EMAIL), text)
    text = _LINK.sub(rule(Kind.LINK), text)
    text = patterns.USERNAME.sub(rule(Kind.USERNAME), text)
    text = patterns.PHONE_INTERNATIONAL.sub(rule(Kind.PHONE), text)
    text = patterns.PHONE_NATIONAL.sub(rule(Kind.PHONE, _is_phone), text)
    text = patterns.PHONE_TRUNK.sub(rule(Kind.PHONE, patterns.is_phone_length), text)
    text = _DIGIT_RUN.sub(rule(Kind.PHONE, _is_phone), text)
    for address in (_EN_ADDRESS, _EN_UNIT, _RU_ADDRESS, _RU_DWELLING, _FA_DWELLING):
        text = address.sub(rule(Kind.ADDRESS), text)
    for cue in _NAME_CUES:
        text = cue.sub(cued, text)
    text = _name_runs(text, kept, count)
    return Masked(text=text, found={kind: found[kind] for kind in Kind if found[kind]})


def hidden(*texts: str) -> dict[Kind, int]:
    """How many of each kind :func:`mask` hid in ``texts``, counted from their markers."""
    counts = {kind: sum(t.count(marker) for t in texts) for kind, marker in MARKERS.items()}
    return {kind: n for kind, n in counts.items() if n}
