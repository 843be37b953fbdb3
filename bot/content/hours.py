"""Weekly opening hours in a place's own time zone.

Two input forms:

- a compact string: ``"mon-fri 10:00-18:00; sat 12:00-16:00,20:00-23:30; sun closed"``
  (``daily``, ``weekdays``, ``weekends``, day lists ``mon,wed``, wrapping ranges ``fri-mon``,
  ``24h`` for a whole day, ``24/7`` alone for always open, ``closed`` to clear days named earlier);
- a mapping ``{mon: ["10:00-18:00"], sat: ["12:00-16:00", "20:00-23:30"]}`` with the same day keys.

A range whose end is not after its start (``22:00-02:00``) runs past midnight and belongs to the day
it starts. Times are wall-clock times; across a DST change a wall time that does not exist (spring
forward) means the instant the clocks jump, and a wall time that happens twice (fall back) means its
first occurrence, so each range is one unbroken stretch of real time.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_DAY_TITLES = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_FULL_NAMES = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
_DAY_INDEX = {name: i for names in (DAYS, _FULL_NAMES) for i, name in enumerate(names)}
_DAY_SETS = {
    "daily": tuple(range(7)),
    "everyday": tuple(range(7)),
    "weekdays": tuple(range(5)),
    "weekends": (5, 6),
}
DAY = 24 * 60
LOOKAHEAD = timedelta(days=8)

_GROUP = re.compile(r"(?P<days>[a-z]+(?: ?[-,] ?[a-z]+)*) (?P<times>\S.*)")
_RANGE = re.compile(r"([0-9]{1,2}):([0-9]{2}) ?- ?([0-9]{1,2}):([0-9]{2})")

Interval = tuple[int, int]
"""Minutes after the local midnight of its day; the end may pass 1440 (spills into the next day)."""


@dataclass(frozen=True, slots=True)
class OpeningHours:
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
    def parse(cls, value: object) -> OpeningHours:
        """Opening hours from a compact string or a day mapping; ValueError if unreadable."""
        if isinstance(value, OpeningHours):
            return value
        if isinstance(value, str):
            return cls.from_string(value)
        if isinstance(value, Mapping):
            return cls.from_mapping(value)
        raise ValueError("opening hours must be a string or a mapping of days to time ranges")

    @classmethod
    def from_string(cls, text: str) -> OpeningHours:
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
    def from_mapping(cls, mapping: Mapping[object, object]) -> OpeningHours:
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

    # --- queries ------------------------------------------------------------------------------

    def is_open(self, at: datetime, tz: ZoneInfo) -> bool:
        """Whether the place is open at the aware instant ``at``, reading hours in ``tz``."""
        at = _aware(at)
        today = at.astimezone(tz).date()
        # A range lasts at most a day, so only today's and yesterday's can hold `at`.
        for offset in (1, 0):
            for start, end in self._instants(today - timedelta(days=offset), tz):
                if start <= at < end:
                    return True
        return False

    def next_open(self, at: datetime, tz: ZoneInfo) -> datetime | None:
        """The first instant (aware UTC) at or after ``at`` when open, if within 8 days."""
        at = _aware(at)
        if self.is_open(at, tz):
            return at.astimezone(UTC)
        today = at.astimezone(tz).date()
        starts = (
            start
            for offset in range(-1, LOOKAHEAD.days + 1)
            for start, _ in self._instants(today + timedelta(days=offset), tz)
        )
        return min((s for s in starts if at < s <= at + LOOKAHEAD), default=None)

    @property
    def always_open(self) -> bool:
        """Open every day around the clock."""
        return all(day == ((0, DAY),) for day in self.week)

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
        """Human form, e.g. ``"Mon–Fri 10:00–18:00, Sat 12:00–16:00"`` (``Mon/Wed`` for gaps).

        The words are English unless given (``handlers.ui.describe_hours`` passes a language's).
        """
        if self.always_open:
            return always
        if not any(self.week):
            return closed

        def times(intervals: tuple[Interval, ...]) -> str:
            return ", ".join(
                whole_day if (s, e) == (0, DAY) else f"{_clock(s)}–{_clock(e)}"
                for s, e in intervals
            )

        return ", ".join(
            f"{_days_text(days, '–', '/', tuple(day_titles), daily)} {times(intervals)}"
            for days, intervals in self._groups()
        )

    def compact(self) -> str:
        """The compact string form, which parses back to an equal value."""
        if self.always_open:
            return "24/7"
        if not any(self.week):
            return "closed"
        return "; ".join(
            f"{_days_text(days, '-', ',', DAYS, 'daily')} "
            + ",".join(f"{_clock(s)}-{_clock(e)}" for s, e in intervals)
            for days, intervals in self._groups()
        )

    def to_mapping(self) -> dict[str, list[str]]:
        """The mapping form with all seven days (``[]`` = closed), e.g. for a JSON column.

        Parses back to an equal value; never empty, so even "always closed" round-trips.
        """
        return {
            DAYS[day]: [f"{_clock(s)}-{_clock(e)}" for s, e in intervals]
            for day, intervals in enumerate(self.week)
        }

    def __str__(self) -> str:
        return self.compact()

    # --- internals ----------------------------------------------------------------------------

    def _groups(self) -> list[tuple[list[int], tuple[Interval, ...]]]:
        """Open days grouped by identical hours, in order of each group's first day."""
        groups: dict[tuple[Interval, ...], list[int]] = {}
        for day, intervals in enumerate(self.week):
            if intervals:
                groups.setdefault(intervals, []).append(day)
        return [(days, intervals) for intervals, days in groups.items()]

    def _instants(self, day: date, tz: ZoneInfo) -> Iterator[tuple[datetime, datetime]]:
        for start, end in self.week[day.weekday()]:
            yield _instant(day, start, tz), _instant(day, end, tz)


def _aware(at: datetime) -> datetime:
    if at.tzinfo is None or at.utcoffset() is None:
        raise ValueError("need a timezone-aware datetime")
    return at


def _instant(day: date, minutes: int, tz: ZoneInfo) -> datetime:
    """The UTC instant of a wall-clock time ``minutes`` after local midnight of ``day``."""
    when = day + timedelta(days=minutes // DAY)
    minute = minutes % DAY
    local = datetime(when.year, when.month, when.day, minute // 60, minute % 60, tzinfo=tz)
    utc = local.astimezone(UTC)  # fold=0: first occurrence of a repeated time
    if utc.astimezone(tz).replace(tzinfo=None) == local.replace(tzinfo=None):
        return utc
    # The wall time falls in a spring-forward gap; it "arrives" when the clocks jump. The jump lies
    # between the two readings of the missing time (fold=1 uses the later offset, so is earlier):
    # bisect on whole seconds, as tz database transitions are.
    low = int(local.replace(fold=1).astimezone(UTC).timestamp())
    high = int(utc.timestamp())
    after = utc.astimezone(tz).utcoffset()
    while high - low > 1:
        middle = (low + high) // 2
        if datetime.fromtimestamp(middle, tz).utcoffset() == after:
            high = middle
        else:
            low = middle
    return datetime.fromtimestamp(high, UTC)


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
