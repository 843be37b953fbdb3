"""Opening hours in OpenStreetMap ``opening_hours`` syntax, evaluated by ``opening-hours-py``.

The syntax is the one maps and volunteers already use (``"Mo-Fr 10:00-18:00; Sa 12:00-16:00"``,
``"24/7"``, ``"Fr 22:00-02:00"``; https://wiki.openstreetmap.org/wiki/Key:opening_hours). Older
files may still hold the project's earlier compact form or day mapping: :meth:`OpeningHours.parse`
converts those to the OSM form (``bot.content.legacy_hours``), so only the library ever decides
whether a place is open.

Times are wall-clock times in the place's own zone; the library handles DST: a time that does not
exist (spring forward) opens when the clocks jump.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import opening_hours as osm

from bot.content.legacy_hours import WeeklyHours

LOOKAHEAD = timedelta(days=8)
_OSM_DAYS = ("Mo", "Tu", "We", "Th", "Fr", "Sa", "Su")
_DAY_TITLES = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_DAY_TOKEN = re.compile(r"\b(?:Mo|Tu|We|Th|Fr|Sa|Su)\b")
_DAY_GAP = re.compile(r"(?<=\b(?:Mo|Tu|We|Th|Fr|Sa|Su)),(?=(?:Mo|Tu|We|Th|Fr|Sa|Su)\b)")
_TIME_GAP = re.compile(r"(?<=[0-9]),(?=[0-9])")
_CLOSED = frozenset({"closed", "off", "24/7 closed", "24/7 off"})
MAX_LENGTH = 255
"""Longest accepted expression (the column's size); real schedules are far shorter."""


@dataclass(frozen=True, slots=True)
class OpeningHours:
    """A valid ``opening_hours`` expression, in the library's canonical spelling."""

    text: str

    # --- construction -------------------------------------------------------------------------

    @classmethod
    def parse(cls, value: object) -> OpeningHours:
        """Hours from an OSM string, or the legacy compact string or day mapping.

        Raises ValueError with a short reason if unreadable.
        """
        if isinstance(value, OpeningHours):
            return value
        if isinstance(value, Mapping):
            return cls.from_osm(WeeklyHours.from_mapping(value).to_osm())
        if not isinstance(value, str):
            raise ValueError("opening hours must be text such as 'Mo-Fr 10:00-18:00'")
        try:
            return cls.from_osm(value)
        except ValueError as problem:
            try:
                legacy = WeeklyHours.from_string(value)
            except ValueError:
                raise problem from None
            return cls.from_osm(legacy.to_osm())

    @classmethod
    def from_osm(cls, text: str) -> OpeningHours:
        """Hours from OSM syntax only; ValueError (one line) if the library rejects it."""
        cleaned = " ".join(text.split())
        if not cleaned:
            raise ValueError("opening hours are empty")
        if len(cleaned) > MAX_LENGTH:
            raise ValueError(f"opening hours are longer than {MAX_LENGTH} characters")
        try:
            parsed = osm.OpeningHours(cleaned, auto_country=False, auto_timezone=False)
        except osm.ParserError as error:  # type: ignore[attr-defined]  # not in its stubs
            raise ValueError(_reason(cleaned, error)) from None
        return cls(str(parsed))

    # --- queries ------------------------------------------------------------------------------

    def is_open(self, at: datetime, tz: ZoneInfo) -> bool:
        """Whether open at the aware instant ``at``, reading the hours in ``tz``.

        "Unknown" states (``"Mo 10:00-12:00 unknown"``) count as closed.
        """
        return _compiled(self.text, tz.key).is_open(_local(at, tz))

    def next_change(self, at: datetime, tz: ZoneInfo) -> datetime | None:
        """When the open/closed state next changes after ``at`` (aware UTC); None if never."""
        change = _compiled(self.text, tz.key).next_change(_local(at, tz))
        return change.astimezone(UTC) if change is not None else None

    def next_open(self, at: datetime, tz: ZoneInfo) -> datetime | None:
        """The first instant (aware UTC) at or after ``at`` when open, if within 8 days."""
        start = _local(at, tz)
        for begin, _end, state, _comment in _compiled(self.text, tz.key).intervals(
            start, start + LOOKAHEAD
        ):
            if state == osm.State.OPEN:
                return max(begin, start).astimezone(UTC)
        return None

    @property
    def always_open(self) -> bool:
        """Open every day around the clock."""
        return self.text == "24/7"

    # --- rendering ----------------------------------------------------------------------------

    def describe(
        self,
        *,
        day_titles: Sequence[str] = _DAY_TITLES,
        daily: str = "Daily",
        always: str = "24/7",
        closed: str = "Closed",
        whole_day: str = "24h",
    ) -> str:
        """The OSM text for reading, with day names in the given words (``Mon–Fri 10:00–18:00``).

        Only the display changes; ``handlers.ui.describe_hours`` passes a language's words.
        """
        if self.always_open:
            return always
        if self.text in _CLOSED:
            return closed
        text = self.text.replace("Mo-Su ", "\0").replace("00:00-24:00", "\1")
        text = _DAY_GAP.sub("/", text)  # "Mo,We" reads "Mon/Wed"
        text = _TIME_GAP.sub(", ", text)  # "12:00-16:00,20:00-23:30" gets a space
        text = _DAY_TOKEN.sub(lambda match: day_titles[_OSM_DAYS.index(match[0])], text)
        return text.replace("-", "–").replace("\0", f"{daily} ").replace("\1", whole_day)

    def compact(self) -> str:
        """The OSM text (what is stored and shown)."""
        return self.text

    def __str__(self) -> str:
        return self.text


def _local(at: datetime, tz: ZoneInfo) -> datetime:
    # The library takes only naive or ZoneInfo-aware times (not datetime.UTC).
    if at.tzinfo is None or at.utcoffset() is None:
        raise ValueError("need a timezone-aware datetime")
    return at.astimezone(tz)


@functools.lru_cache(maxsize=4096)
def stored(text: str | None) -> OpeningHours | None:
    """Hours as stored in the database (OSM text), parsed once; None if unreadable, which
    callers treat as closed: one broken row must not take routing down for everyone."""
    if not text:
        return None
    try:
        return OpeningHours.parse(text)
    except ValueError:
        return None


@functools.lru_cache(maxsize=4096)
def _compiled(text: str, zone: str) -> osm.OpeningHours:
    """Parsed once per (schedule, zone): outlets share few distinct schedules and zones."""
    return osm.OpeningHours(text, ZoneInfo(zone), auto_country=False, auto_timezone=False)


def _reason(text: str, error: Exception) -> str:
    """The library's multi-line message as one short line: where it stopped reading.

    (Its list of grammar rules it expected there means nothing to a volunteer.)
    """
    where = next((line for line in str(error).splitlines() if "-->" in line), "")
    column = where.rsplit(":", 1)[-1].strip() if where else ""
    position = f" at character {column}" if column.isdigit() else ""
    shown = text if len(text) <= 60 else text[:59] + "…"
    return f"cannot read opening hours {shown!r}{position}: e.g. 'Mo-Fr 10:00-18:00'"
