"""Alert times as coordinators type them: a local date and time, a weekly repeat rule
(:class:`Recurrence`) and the time zone of an alert's areas."""

from __future__ import annotations

import re
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Final
from zoneinfo import ZoneInfo

from bot.content import Gazetteer
from bot.services.alerts.model import AlertError

# Local date and time as coordinators type and read them.
WHEN_FORMAT: Final = "%Y-%m-%d %H:%M"


_WHEN_CHARS: Final = 40


_DAY_CODES: Final = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


# 18:00, 9:30, 18.00 or 18h00; anything longer is not a time.
_CLOCK: Final = re.compile(r"([01]?\d|2[0-3])[:.h]([0-5]\d)")


_CLOCK_CHARS: Final = 12


def local_when(typed: str, zone: ZoneInfo) -> datetime:
    """``2026-11-26 18:00`` (or ``2026-11-26T18:00``, as a browser sends it) read as wall-clock
    time in ``zone``; AlertError (code ``when``) if it is not a date and time."""
    text = typed.strip()[:_WHEN_CHARS].replace("T", " ", 1)
    try:
        local = datetime.strptime(text, WHEN_FORMAT)
    except ValueError:
        raise AlertError("a date and time like 2026-11-26 18:00", code="when") from None
    return local.replace(tzinfo=zone)


def repeat_rule(days: Collection[int], typed: str) -> str | None:
    """``weekly:fri@18:00`` (or ``daily@18:00`` for all seven) from chosen weekdays (0 =
    Monday) and a typed local time; None if it is not a time or no day is chosen."""
    chosen = sorted({d for d in days if 0 <= d < 7})
    typed = typed.strip()
    match = _CLOCK.fullmatch(typed) if len(typed) <= _CLOCK_CHARS else None
    if match is None or not chosen:
        return None
    clock = f"{int(match[1]):02d}:{match[2]}"
    if len(chosen) == 7:
        return f"daily@{clock}"
    return "weekly:" + ",".join(_DAY_CODES[d] for d in chosen) + f"@{clock}"


def zone_for(areas: Sequence[str], gazetteer: Gazetteer) -> ZoneInfo:
    """The time zone schedules of an alert for ``areas`` use: the first area's, or the city's
    for everywhere."""
    for code in areas:
        area = gazetteer.by_code(code)
        if area is not None:
            return area.zone
    return ZoneInfo(gazetteer.city.timezone)


_DAYS: Final = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


_RULE: Final = re.compile(
    r"(?:(?P<daily>daily)|weekly:(?P<days>[a-z]{3}(?:,[a-z]{3})*))@(?P<h>[01]\d|2[0-3]):(?P<m>[0-5]\d)"
)


@dataclass(frozen=True, slots=True)
class Recurrence:
    """``daily@HH:MM`` or ``weekly:fri@18:00`` / ``weekly:mon,thu@09:30``, in local time.

    Local time means wall-clock time in the alert's zone: 18:00 stays 18:00 across daylight
    saving changes. A time that does not exist on a spring-forward day (02:30) runs an hour
    later by the clock (it is the same instant as 02:30 standard time); a time that happens
    twice on a fall-back day runs at its first occurrence.
    """

    weekdays: frozenset[int]  # 0 = Monday
    at: time

    @classmethod
    def parse(cls, text: str) -> Recurrence:
        """Parse a rule; raises AlertError naming the expected format."""
        match = _RULE.fullmatch(text.strip().lower())
        if match is None:
            raise AlertError(
                "repeat as daily@18:00 or weekly:fri@18:00 (days mon..sun)", code="repeat"
            )
        if match["daily"]:
            weekdays = frozenset(range(7))
        else:
            names = match["days"].split(",")
            if any(name not in _DAYS for name in names):
                raise AlertError("days are mon, tue, wed, thu, fri, sat, sun", code="repeat")
            weekdays = frozenset(_DAYS.index(name) for name in names)
        return cls(weekdays=weekdays, at=time(int(match["h"]), int(match["m"])))

    def __str__(self) -> str:
        clock = f"{self.at.hour:02d}:{self.at.minute:02d}"
        if len(self.weekdays) == 7:
            return f"daily@{clock}"
        return "weekly:" + ",".join(_DAYS[d] for d in sorted(self.weekdays)) + f"@{clock}"

    def next_after(self, after: datetime, zone: ZoneInfo) -> datetime:
        """The first occurrence strictly after ``after`` (aware), in UTC."""
        start: date = after.astimezone(zone).date()
        for offset in range(9):
            day = start + timedelta(days=offset)
            if day.weekday() not in self.weekdays:
                continue
            # fold=0: the first of a repeated hour; a skipped hour maps past the gap.
            candidate = datetime.combine(day, self.at, tzinfo=zone).astimezone(UTC)
            if candidate > after:
                return candidate
        raise AssertionError("a weekly rule always has an occurrence within 8 days")

    def latest_until(self, first: datetime, now: datetime, zone: ZoneInfo) -> datetime:
        """The last occurrence at or before ``now``, counting from ``first`` (itself one)."""
        latest = first
        while (following := self.next_after(latest, zone)) <= now:
            latest = following
        return latest
