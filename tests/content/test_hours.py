from __future__ import annotations

import contextlib
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.content.hours import OpeningHours, stored

VAN = ZoneInfo("America/Vancouver")


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


def local(year: int, month: int, day: int, hour: int, minute: int, fold: int = 0) -> datetime:
    """A Vancouver wall time, as the UTC instant it names (fold=1: the repeated hour's second)."""
    return datetime(year, month, day, hour, minute, tzinfo=VAN, fold=fold).astimezone(UTC)


# --- parsing ------------------------------------------------------------------------------------


def test_osm_text_is_kept_in_the_librarys_spelling() -> None:
    assert OpeningHours.parse("mo-fr 10:00-18:00;  sa 12:00-16:00").text == (
        "Mo-Fr 10:00-18:00; Sa 12:00-16:00"
    )
    assert str(OpeningHours.parse("24/7")) == "24/7"
    assert OpeningHours.parse("24/7").always_open


def test_legacy_forms_are_converted() -> None:
    text = OpeningHours.parse("mon-fri 10:00-18:00; sat 12:00-16:00,20:00-23:30; sun closed")
    mapping = OpeningHours.parse(
        {"mon-fri": ["10:00-18:00"], "sat": ["12:00-16:00", "20:00-23:30"], "sun": []}
    )
    assert text == mapping
    assert text.text == "Mo-Fr 10:00-18:00, Sa 12:00-16:00,20:00-23:30"


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("", "empty"),
        ("Mo-Fr 25:00-26:00", "cannot read opening hours 'Mo-Fr 25:00-26:00' at character 7"),
        ("mon-fry 10-18", "cannot read opening hours"),
        ("x" * 300, "longer than 255"),
        ({}, "empty"),
        (42, "must be text"),
        (None, "must be text"),
    ],
)
def test_bad_input_raises_a_short_value_error(value: object, message: str) -> None:
    with pytest.raises(ValueError, match=message) as raised:
        OpeningHours.parse(value)
    assert "\n" not in str(raised.value)


@settings(deadline=None)
@given(st.text(max_size=60))
def test_any_text_parses_or_raises_value_error(text: str) -> None:
    with contextlib.suppress(ValueError):
        hours = OpeningHours.parse(text)
        assert OpeningHours.parse(hours.text) == hours


def test_stored_hours_read_as_none_when_unreadable() -> None:
    assert stored("Mo-Fr 10:00-18:00") == OpeningHours("Mo-Fr 10:00-18:00")
    assert stored("not hours") is None
    assert stored("") is None
    assert stored(None) is None


# --- rendering ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "described"),
    [
        ("mon-fri 10:00-18:00; sat 12:00-16:00", "Mon–Fri 10:00–18:00, Sat 12:00–16:00"),
        ("Mo,We,Fr 14:00-20:00; Sa 22:00-02:00", "Mon/Wed/Fri 14:00–20:00; Sat 22:00–02:00"),
        ("daily 09:00-17:00", "Daily 09:00–17:00"),
        ("24/7", "24/7"),
        ("closed", "Closed"),
    ],
)
def test_describe(text: str, described: str) -> None:
    assert OpeningHours.parse(text).describe() == described


def test_describe_in_other_words() -> None:
    days = ("Пн", "Вт", "Ср", "Чт", "Пт", "Сб", "Вс")
    assert OpeningHours.parse("Mo-Fr 10:00-18:00").describe(day_titles=days) == "Пн–Пт 10:00–18:00"


_DAYS = st.sampled_from(["Mo", "Tu", "We", "Th", "Fr", "Sa", "Su", "Mo-Su", "Sa-Mo"])
_TIME = st.tuples(st.integers(0, 23), st.integers(0, 59), st.integers(0, 23), st.integers(0, 59))


@st.composite
def schedules(draw: st.DrawFn) -> OpeningHours:
    rules = draw(st.lists(st.tuples(_DAYS, st.lists(_TIME, min_size=1, max_size=2)), max_size=4))
    text = "; ".join(
        f"{days} " + ",".join(f"{a:02d}:{b:02d}-{c:02d}:{d:02d}" for a, b, c, d in times)
        for days, times in rules
    )
    return OpeningHours.parse(text or "closed")


# --- is_open ------------------------------------------------------------------------------------


def test_is_open_uses_local_time_in_summer_and_winter() -> None:
    hours = OpeningHours.parse("mon-fri 10:00-18:00")
    # Monday 2026-07-06, PDT (UTC-7): 10:00 local = 17:00 UTC.
    assert not hours.is_open(utc(2026, 7, 6, 16, 59), VAN)
    assert hours.is_open(utc(2026, 7, 6, 17, 0), VAN)
    assert not hours.is_open(utc(2026, 7, 7, 1, 0), VAN)  # 18:00 PDT: closing is exclusive
    # Monday 2026-01-05, PST (UTC-8): 10:00 local = 18:00 UTC.
    assert not hours.is_open(utc(2026, 1, 5, 17, 0), VAN)
    assert hours.is_open(utc(2026, 1, 5, 18, 0), VAN)


def test_overnight_spill_into_next_day() -> None:
    hours = OpeningHours.parse("sat 22:00-02:00")
    assert hours.is_open(local(2026, 7, 11, 23, 0), VAN)  # Saturday night
    assert hours.is_open(local(2026, 7, 12, 1, 59), VAN)  # Sunday small hours: Saturday's range
    assert not hours.is_open(local(2026, 7, 12, 2, 0), VAN)
    assert not hours.is_open(local(2026, 7, 11, 1, 0), VAN)  # Saturday small hours: Friday's


def test_spring_forward_overnight_range_closes_when_clocks_jump() -> None:
    # 2026-03-08 02:00 PST does not happen: clocks go to 03:00 PDT at 10:00 UTC.
    hours = OpeningHours.parse("sat 22:00-02:30")
    assert hours.is_open(utc(2026, 3, 8, 6, 0), VAN)  # Sat 22:00 PST
    assert hours.is_open(utc(2026, 3, 8, 9, 59), VAN)  # 01:59 PST
    assert not hours.is_open(utc(2026, 3, 8, 10, 0), VAN)  # 03:00 PDT, past 02:30


def test_spring_forward_opening_in_the_gap_opens_at_the_jump() -> None:
    hours = OpeningHours.parse("sun 02:30-04:00")
    assert not hours.is_open(utc(2026, 3, 8, 9, 59), VAN)
    assert hours.is_open(utc(2026, 3, 8, 10, 0), VAN)  # 03:00 PDT
    assert hours.is_open(utc(2026, 3, 8, 10, 59), VAN)
    assert not hours.is_open(utc(2026, 3, 8, 11, 0), VAN)  # 04:00 PDT
    assert hours.next_open(utc(2026, 3, 8, 5, 0), VAN) == utc(2026, 3, 8, 10, 0)


def test_spring_forward_ordinary_day_hours() -> None:
    hours = OpeningHours.parse("sun 10:00-18:00")
    assert hours.is_open(utc(2026, 3, 8, 17, 0), VAN)  # 10:00 PDT
    assert not hours.is_open(utc(2026, 3, 8, 16, 59), VAN)


def test_fall_back_overnight_range_follows_the_wall_clock() -> None:
    # 2026-11-01: 02:00 PDT becomes 01:00 PST at 09:00 UTC; 01:00-02:00 happens twice. OSM hours
    # are wall-clock hours (the library's reading): 01:00-01:30 is open both times it happens.
    hours = OpeningHours.parse("sat 22:00-01:30")
    assert hours.is_open(utc(2026, 11, 1, 5, 0), VAN)  # Sat 22:00 PDT
    assert hours.is_open(utc(2026, 11, 1, 8, 29), VAN)  # 01:29 PDT
    assert not hours.is_open(utc(2026, 11, 1, 8, 30), VAN)  # 01:30 PDT
    assert hours.is_open(local(2026, 11, 1, 1, 15, fold=1), VAN)  # 01:15 PST, the second time
    assert not hours.is_open(local(2026, 11, 1, 1, 30, fold=1), VAN)


def test_fall_back_range_across_the_repeat_lasts_longer() -> None:
    hours = OpeningHours.parse("sat 22:00-02:00")
    assert hours.is_open(local(2026, 11, 1, 1, 30, fold=1), VAN)  # second 01:30
    assert not hours.is_open(utc(2026, 11, 1, 10, 0), VAN)  # 02:00 PST
    assert hours.is_open(utc(2026, 11, 1, 9, 59), VAN)  # 01:59 PST: 5 real hours in all


def test_is_open_needs_an_aware_datetime() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        OpeningHours.parse("24/7").is_open(datetime(2026, 1, 1), VAN)


def test_other_time_zone() -> None:
    hours = OpeningHours.parse("daily 09:00-17:00")
    at = utc(2026, 7, 6, 8, 0)  # 10:00 in Berlin (CEST), 01:00 in Vancouver
    assert hours.is_open(at, ZoneInfo("Europe/Berlin"))
    assert not hours.is_open(at, VAN)


# --- next_open ----------------------------------------------------------------------------------


def test_next_open_when_open_is_now() -> None:
    hours = OpeningHours.parse("daily 09:00-17:00")
    at = local(2026, 7, 6, 12, 0)
    assert hours.next_open(at, VAN) == at


def test_next_open_later_today_and_next_week() -> None:
    hours = OpeningHours.parse("mon 10:00-12:00; sat 12:00-16:00")
    friday_night = local(2026, 7, 10, 22, 0)
    assert hours.next_open(friday_night, VAN) == utc(2026, 7, 11, 19, 0)  # Sat 12:00 PDT
    saturday_evening = local(2026, 7, 11, 17, 0)
    assert hours.next_open(saturday_evening, VAN) == utc(2026, 7, 13, 17, 0)  # Mon 10:00 PDT
    monday_after = local(2026, 7, 13, 12, 0)
    assert hours.next_open(monday_after, VAN) == utc(2026, 7, 18, 19, 0)


def test_next_open_across_spring_forward() -> None:
    hours = OpeningHours.parse("mon-fri 10:00-18:00")
    saturday = local(2026, 3, 7, 20, 0)  # PST
    assert hours.next_open(saturday, VAN) == utc(2026, 3, 9, 17, 0)  # Mon 10:00 PDT


def test_next_open_across_fall_back() -> None:
    hours = OpeningHours.parse("mon-fri 10:00-18:00")
    saturday = local(2026, 10, 31, 20, 0)  # PDT
    assert hours.next_open(saturday, VAN) == utc(2026, 11, 2, 18, 0)  # Mon 10:00 PST


def test_next_open_returns_utc() -> None:
    hours = OpeningHours.parse("daily 09:00-17:00")
    result = hours.next_open(datetime(2026, 7, 6, 20, 0, tzinfo=VAN), VAN)
    assert result is not None
    assert result.utcoffset() == timedelta(0)
    assert result == local(2026, 7, 7, 9, 0)


def test_next_open_never() -> None:
    assert OpeningHours.parse("closed").next_open(utc(2026, 1, 1), VAN) is None


_INSTANTS = st.datetimes(
    min_value=datetime(2026, 1, 1),
    max_value=datetime(2027, 12, 31),
    timezones=st.just(UTC),
)
_ZONES = st.sampled_from(
    [VAN, ZoneInfo("Europe/London"), ZoneInfo("Australia/Lord_Howe"), ZoneInfo("UTC")]
)


@settings(deadline=None, max_examples=200)
@given(schedules(), _INSTANTS, _ZONES)
def test_next_open_agrees_with_is_open(hours: OpeningHours, at: datetime, tz: ZoneInfo) -> None:
    result = hours.next_open(at, tz)
    if result is None:
        # Nothing opens in 8 days, so nothing is open at any day boundary in between.
        assert not any(hours.is_open(at + timedelta(hours=h), tz) for h in range(0, 8 * 24, 7))
        return
    assert at <= result <= at + timedelta(days=8)
    assert hours.is_open(result, tz)
    if result > at:
        assert not hours.is_open(at, tz)
        assert not hours.is_open(result - timedelta(seconds=1), tz)
