"""The project's earlier opening-hours format, read only to convert it to OSM syntax.

Two input forms, still accepted in content files and old database rows:

- a compact string: ``"mon-fri 10:00-18:00; sat 12:00-16:00,20:00-23:30; sun closed"``
  (``daily``, ``weekdays``, ``weekends``, day lists ``mon,wed``, wrapping ranges ``fri-mon``,
  ``24h`` for a whole day, ``24/7`` alone for always open, ``closed`` to clear days named earlier);
- a mapping ``{mon: ["10:00-18:00"], sat: ["12:00-16:00", "20:00-23:30"]}`` with the same day keys.

A range whose end is not after its start (``22:00-02:00``) runs past midnight and belongs to the day
it starts, as in OSM. Evaluation is the library's (``bot.content.hours``), never this module's.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_OSM_DAYS = ("Mo", "Tu", "We", "Th", "Fr", "Sa", "Su")
_FULL_NAMES = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
_DAY_INDEX = {name: i for names in (DAYS, _FULL_NAMES) for i, name in enumerate(names)}
_DAY_SETS = {
    "daily": tuple(range(7)),
    "everyday": tuple(range(7)),
    "weekdays": tuple(range(5)),
    "weekends": (5, 6),
}
DAY = 24 * 60

_GROUP = re.compile(r"(?P<days>[a-z]+(?: ?[-,] ?[a-z]+)*) (?P<times>\S.*)")
_RANGE = re.compile(r"([0-9]{1,2}):([0-9]{2}) ?- ?([0-9]{1,2}):([0-9]{2})")

Interval = tuple[int, int]
"""Minutes after the local midnight of its day; the end may pass 1440 (spills into the next day)."""


@dataclass(frozen=True, slots=True)
class WeeklyHours:
    """Immutable weekly schedule: for each day Monday..Sunday, sorted non-overlapping intervals."""

    week: tuple[tuple[Interval, ...], ...]

    def __post_init__(self) -> None:
        if len(self.week) != 7:
            raise ValueError("opening hours need exactly seven days")
        for intervals in self.week:
            for start, end in intervals:
                if not _valid(start, end):
                    raise ValueError(f"invalid interval {(start, end)!r}")
        # Normalise so that equal schedules compare equal however they were written.
        object.__setattr__(self, "week", tuple(_merge(intervals) for intervals in self.week))

    # --- construction -------------------------------------------------------------------------

    @classmethod
    def parse(cls, value: object) -> WeeklyHours:
        """Opening hours from a compact string or a day mapping; ValueError if unreadable."""
        if isinstance(value, WeeklyHours):
            return value
        if isinstance(value, str):
            return cls.from_string(value)
        if isinstance(value, Mapping):
            return cls.from_mapping(value)
        raise ValueError("opening hours must be a string or a mapping of days to time ranges")

    @classmethod
    def from_string(cls, text: str) -> WeeklyHours:
        """Parse the compact form, e.g. ``"mon-fri 10:00-18:00; sun closed"``."""
        cleaned = text.lower().replace("\u2013", "-").replace("\u2014", "-")
        week: list[list[Interval]] = [[] for _ in range(7)]
        seen = False
        for raw in re.split(r"[;\n]", cleaned):
            group = " ".join(raw.split())
            if not group:
                continue
            seen = True
            if group in ("24/7", "24x7"):
                _apply(week, range(7), [(0, DAY)])
            elif group == "closed":
                _apply(week, range(7), None)
            else:
                match = _GROUP.fullmatch(group)
                if match is None:
                    raise ValueError(f"cannot read {group!r}: expected e.g. 'mon-fri 10:00-18:00'")
                _apply(week, _parse_days(match["days"]), _parse_times(match["times"]))
        if not seen:
            raise ValueError("opening hours are empty")
        return cls(tuple(tuple(day) for day in week))

    @classmethod
    def from_mapping(cls, mapping: Mapping[object, object]) -> WeeklyHours:
        """Parse ``{day-spec: [range, ...] | "range, range" | "closed"}``."""
        if not mapping:
            raise ValueError("opening hours are empty")
        week: list[list[Interval]] = [[] for _ in range(7)]
        for key, value in mapping.items():
            if not isinstance(key, str):
                raise ValueError(f"day {key!r} must be text such as 'mon' or 'mon-fri'")
            days = _parse_days(" ".join(key.lower().split()))
            if value is None:
                _apply(week, days, None)
            elif isinstance(value, str):
                _apply(week, days, _parse_times(value))
            elif isinstance(value, list | tuple):
                if not all(isinstance(item, str) for item in value):
                    raise ValueError(f"hours for {key!r} must be ranges like '10:00-18:00'")
                _apply(week, days, _parse_times(", ".join(value)) if value else None)
            else:
                raise ValueError(f"hours for {key!r} must be ranges like '10:00-18:00'")
        return cls(tuple(tuple(day) for day in week))

    def to_osm(self) -> str:
        """The same week in OpenStreetMap ``opening_hours`` syntax."""
        if self.always_open:
            return "24/7"
        if not any(self.week):
            return "closed"
        # "," (additional rule), not ";": a later day's rule must not cut off the hours that an
        # earlier day's range spills past midnight ("Sa 22:00-02:00, Su 10:00-12:00").
        return ", ".join(
            f"{_days_text(days, '-', ',', _OSM_DAYS, 'Mo-Su')} "
            + ",".join(f"{_clock(s)}-{_clock(e)}" for s, e in intervals)
            for days, intervals in self._groups()
        )

    @property
    def always_open(self) -> bool:
        """Open every day around the clock."""
        return all(day == ((0, DAY),) for day in self.week)

    # --- internals ----------------------------------------------------------------------------

    def _groups(self) -> list[tuple[list[int], tuple[Interval, ...]]]:
        """Open days grouped by identical hours, in order of each group's first day."""
        groups: dict[tuple[Interval, ...], list[int]] = {}
        for day, intervals in enumerate(self.week):
            if intervals:
                groups.setdefault(intervals, []).append(day)
        return [(days, intervals) for intervals, days in groups.items()]


def _parse_days(spec: str) -> tuple[int, ...]:
    days: list[int] = []
    for term in spec.split(","):
        term = term.strip()
        if term in _DAY_SETS:
            days.extend(_DAY_SETS[term])
            continue
        first, dash, last = term.partition("-")
        start = _day(first.strip())
        if not dash:
            days.append(start)
            continue
        stop = _day(last.strip())
        # Ranges may wrap past Sunday: "fri-mon" is Fri, Sat, Sun, Mon.
        days.extend((start + i) % 7 for i in range((stop - start) % 7 + 1))
    return tuple(days)


def _day(name: str) -> int:
    try:
        return _DAY_INDEX[name]
    except KeyError:
        raise ValueError(f"unknown day {name!r}: use mon, tue, wed, thu, fri, sat, sun") from None


def _parse_times(text: str) -> list[Interval] | None:
    """Ranges separated by commas; None for ``closed``."""
    text = " ".join(text.lower().split())
    if text == "closed":
        return None
    if text in ("24h", "24/7"):
        return [(0, DAY)]
    return [_parse_range(part.strip()) for part in text.split(",")]


def _parse_range(text: str) -> Interval:
    match = _RANGE.fullmatch(text)
    if match is None:
        raise ValueError(f"cannot read time range {text!r}: expected e.g. '10:00-18:00'")
    sh, sm, eh, em = (int(group) for group in match.groups())
    if sh > 23 or sm > 59:
        raise ValueError(f"invalid start time in {text!r}")
    if not (eh <= 23 and em <= 59) and (eh, em) != (24, 0):
        raise ValueError(f"invalid end time in {text!r}")
    start, end = sh * 60 + sm, eh * 60 + em
    if end == start:
        raise ValueError(f"empty time range {text!r}")
    if end < start:
        end += DAY  # runs past midnight
    return start, end


def _apply(
    week: list[list[Interval]], days: tuple[int, ...] | range, ranges: list[Interval] | None
) -> None:
    for day in days:
        if ranges is None:
            week[day].clear()
        else:
            week[day].extend(ranges)


def _valid(start: int, end: int) -> bool:
    # At most one day long, so that every interval has a compact form ("10:00-10:00" is not one).
    return 0 <= start < DAY and start < end and (end - start < DAY or (start, end) == (0, DAY))


def _merge(intervals: tuple[Interval, ...]) -> tuple[Interval, ...]:
    merged: list[Interval] = []
    for start, end in sorted(intervals):
        if merged and start <= merged[-1][1] and _valid(merged[-1][0], max(end, merged[-1][1])):
            merged[-1] = (merged[-1][0], max(end, merged[-1][1]))
        else:
            merged.append((start, end))
    return tuple(merged)


def _clock(minutes: int) -> str:
    if minutes == DAY:
        return "24:00"
    minutes %= DAY
    return f"{minutes // 60:02d}:{minutes % 60:02d}"


def _days_text(days: list[int], dash: str, gap: str, names: tuple[str, ...], every: str) -> str:
    """``[0, 1, 2, 4]`` → ``mon-wed,fri`` (runs of consecutive days joined by ``gap``)."""
    if len(days) == 7:
        return every
    runs: list[list[int]] = []
    for day in days:
        if runs and runs[-1][-1] == day - 1:
            runs[-1].append(day)
        else:
            runs.append([day])
    return gap.join(
        names[run[0]] if len(run) == 1 else f"{names[run[0]]}{dash}{names[run[-1]]}" for run in runs
    )
