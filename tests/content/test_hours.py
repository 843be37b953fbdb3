from __future__ import annotations

import contextlib
import json
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.content.hours import DAY, OpeningHours

VAN = ZoneInfo("America/Vancouver")


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


def local(year: int, month: int, day: int, hour: int, minute: int, fold: int = 0) -> datetime:
    """A Vancouver wall time, as the UTC instant it names (fold=1: the repeated hour's second)."""
    return datetime(year, month, day, hour, minute, tzinfo=VAN, fold=fold).astimezone(UTC)


# --- parsing ------------------------------------------------------------------------------------


def test_string_and_mapping_forms_are_equal() -> None:
    text = OpeningHours.parse("mon-fri 10:00-18:00; sat 12:00-16:00,20:00-23:30; sun closed")
    mapping = OpeningHours.parse(
        {"mon-fri": ["10:00-18:00"], "sat": ["12:00-16:00", "20:00-23:30"], "sun": []}
    )
    assert text == mapping
    assert text.week[0] == ((600, 1080),)
    assert text.week[5] == ((720, 960), (1200, 1410))
    assert text.week[6] == ()


def test_day_specs() -> None:
    assert OpeningHours.parse("daily 09:00-17:00").week == (((540, 1020),),) * 7
    assert OpeningHours.parse("weekdays 09:00-17:00") == OpeningHours.parse("mon-fri 09:00-17:00")
    assert OpeningHours.parse("weekends 09:00-17:00") == OpeningHours.parse("sat,sun 09:00-17:00")
    wrapped = OpeningHours.parse("fri-mon 20:00-23:00")
    assert [bool(day) for day in wrapped.week] == [True, False, False, False, True, True, True]
    assert OpeningHours.parse("Monday, Wednesday 10:00 - 12:00") == OpeningHours.parse(
        "mon,wed 10:00-12:00"
    )


def test_shorthands_and_case() -> None:
    always = OpeningHours.parse("24/7")
    assert always.always_open
    assert always == OpeningHours.parse("DAILY 00:00-24:00") == OpeningHours.parse("daily 24h")
    assert OpeningHours.parse("Mon–Fri 10:00–18:00") == OpeningHours.parse("mon-fri 10:00-18:00")


def test_closed_clears_days_named_earlier() -> None:
    hours = OpeningHours.parse("daily 10:00-18:00; sun closed")
    assert hours == OpeningHours.parse("mon-sat 10:00-18:00")


def test_overnight_range_belongs_to_the_day_it_starts() -> None:
    hours = OpeningHours.parse("sat 22:00-02:00")
    assert hours.week[5] == ((1320, 1560),)
    assert hours.week[6] == ()


def test_overlapping_ranges_merge() -> None:
    assert OpeningHours.parse("mon 10:00-12:00,11:00-14:00; mon 14:00-15:00").week[0] == (
        (600, 900),
    )


def test_mapping_values_may_be_a_string() -> None:
    hours = OpeningHours.parse({"mon": "10:00-12:00, 14:00-18:00", "tue": "closed", "wed": None})
    assert hours == OpeningHours.parse("mon 10:00-12:00,14:00-18:00")


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("", "empty"),
        (" ; ", "empty"),
        ("mon", "cannot read 'mon'"),
        ("mon 10-18", "cannot read time range '10-18'"),
        ("xyz 10:00-12:00", "unknown day 'xyz'"),
        ("mon-xyz 10:00-12:00", "unknown day 'xyz'"),
        ("mon 25:00-26:00", "invalid start time"),
        ("mon 10:60-11:00", "invalid start time"),
        ("mon 24:00-02:00", "invalid start time"),
        ("mon 10:00-24:30", "invalid end time"),
        ("mon 10:00-10:00", "empty time range"),
        ("mon 10:00-12:00 and more", "cannot read time range"),
        ({}, "empty"),
        ({1: ["10:00-12:00"]}, "day 1 must be text"),
        ({"mon": 600}, "hours for 'mon' must be ranges"),
        ({"mon": [600]}, "hours for 'mon' must be ranges"),
        ({"noday": ["10:00-12:00"]}, "unknown day 'noday'"),
        (42, "must be a string or a mapping"),
        (None, "must be a string or a mapping"),
    ],
)
def test_bad_input_raises_value_error(value: object, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        OpeningHours.parse(value)


def test_direct_construction_is_checked() -> None:
    with pytest.raises(ValueError, match="seven days"):
        OpeningHours(((),) * 6)
    with pytest.raises(ValueError, match="invalid interval"):
        OpeningHours((((600, 600),),) + ((),) * 6)
    with pytest.raises(ValueError, match="invalid interval"):
        OpeningHours((((600, 600 + DAY),),) + ((),) * 6)


@given(st.text())
def test_any_text_parses_or_raises_value_error(text: str) -> None:
    try:
        hours = OpeningHours.parse(text)
    except ValueError:
        return
    assert OpeningHours.parse(hours.compact()) == hours


_SCALARS = st.none() | st.booleans() | st.integers() | st.text(max_size=20)


@given(
    st.dictionaries(
        st.sampled_from(["mon", "sat-sun", "daily", "xyz"]) | _SCALARS,
        _SCALARS | st.lists(st.sampled_from(["10:00-12:00", "22:00-02:00", "x"]) | _SCALARS),
        max_size=4,
    )
)
def test_any_mapping_parses_or_raises_value_error(mapping: dict[object, object]) -> None:
    with contextlib.suppress(ValueError):
        OpeningHours.parse(mapping)


_TOKENS = st.sampled_from(
    ["mon", "fri", "sat", "daily", "-", ",", ";", " ", "10:00", "23:59", "24:00", "00:00",
     "closed", "24/7", "24h", "9:5", "99:99", "\n", "–"]
)  # fmt: skip


@given(st.lists(_TOKENS, max_size=12).map("".join))
def test_near_miss_text_parses_or_raises_value_error(text: str) -> None:
    with contextlib.suppress(ValueError):
        OpeningHours.parse(text)


# --- rendering ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "described", "compact"),
    [
        (
            "mon-fri 10:00-18:00; sat 12:00-16:00",
            "Mon–Fri 10:00–18:00, Sat 12:00–16:00",
            "mon-fri 10:00-18:00; sat 12:00-16:00",
        ),
        (
            "sat 12:00-16:00,20:00-23:30",
            "Sat 12:00–16:00, 20:00–23:30",
            "sat 12:00-16:00,20:00-23:30",
        ),
        (
            "mon,wed,fri 14:00-20:00; sat 22:00-02:00",
            "Mon/Wed/Fri 14:00–20:00, Sat 22:00–02:00",
            "mon,wed,fri 14:00-20:00; sat 22:00-02:00",
        ),
        ("daily 09:00-17:00", "Daily 09:00–17:00", "daily 09:00-17:00"),
        ("sun 00:00-24:00", "Sun 24h", "sun 00:00-24:00"),
        ("24/7", "24/7", "24/7"),
        ("closed", "Closed", "closed"),
    ],
)
def test_describe_and_compact(text: str, described: str, compact: str) -> None:
    hours = OpeningHours.parse(text)
    assert hours.describe() == described
    assert hours.compact() == compact == str(hours)
    assert OpeningHours.parse(compact) == hours


_RANGE = st.tuples(st.integers(0, 23), st.integers(0, 59), st.integers(0, 24), st.integers(0, 59))
_DAYS = st.sampled_from(["mon", "tue", "wed", "thu", "fri", "sat", "sun", "daily", "sat-mon"])


def _range_text(r: tuple[int, int, int, int]) -> str:
    sh, sm, eh, em = r
    return f"{sh:02d}:{sm:02d}-{eh:02d}:{0 if eh == 24 else em:02d}"


@st.composite
def schedules(draw: st.DrawFn) -> OpeningHours:
    groups = draw(st.lists(st.tuples(_DAYS, st.lists(_RANGE, min_size=1, max_size=3)), max_size=5))
    texts = [f"{days} {','.join(_range_text(r) for r in ranges)}" for days, ranges in groups]
    try:
        return OpeningHours.parse("; ".join(texts) or "closed")
    except ValueError:  # an empty range such as 10:00-10:00
        return OpeningHours.parse("closed")


@given(schedules())
def test_compact_and_mapping_round_trip(hours: OpeningHours) -> None:
    assert OpeningHours.parse(hours.compact()) == hours
    mapping = hours.to_mapping()
    assert OpeningHours.parse(json.loads(json.dumps(mapping))) == hours


def test_to_mapping() -> None:
    hours = OpeningHours.parse("mon-fri 10:00-18:00; sat 22:00-02:00")
    assert hours.to_mapping() == {
        "mon": ["10:00-18:00"],
        "tue": ["10:00-18:00"],
        "wed": ["10:00-18:00"],
        "thu": ["10:00-18:00"],
        "fri": ["10:00-18:00"],
        "sat": ["22:00-02:00"],
        "sun": [],
    }
    closed = OpeningHours.parse("closed")
    assert OpeningHours.parse(closed.to_mapping()) == closed


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


def test_fall_back_overnight_range_ends_at_first_occurrence() -> None:
    # 2026-11-01: 02:00 PDT becomes 01:00 PST at 09:00 UTC; 01:00-02:00 happens twice.
    hours = OpeningHours.parse("sat 22:00-01:30")
    assert hours.is_open(utc(2026, 11, 1, 5, 0), VAN)  # Sat 22:00 PDT
    assert hours.is_open(utc(2026, 11, 1, 8, 29), VAN)  # 01:29 PDT
    assert not hours.is_open(utc(2026, 11, 1, 8, 30), VAN)  # 01:30 PDT
    assert not hours.is_open(local(2026, 11, 1, 1, 15, fold=1), VAN)  # 01:15 PST: no reopening


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
