"""The earlier compact/mapping hours format, read only to convert it to OSM syntax."""

from __future__ import annotations

import contextlib
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.content.hours import OpeningHours
from bot.content.legacy_hours import DAY, WeeklyHours

UTC_ZONE = __import__("zoneinfo").ZoneInfo("UTC")


# --- parsing ------------------------------------------------------------------------------------


def test_string_and_mapping_forms_are_equal() -> None:
    text = WeeklyHours.parse("mon-fri 10:00-18:00; sat 12:00-16:00,20:00-23:30; sun closed")
    mapping = WeeklyHours.parse(
        {"mon-fri": ["10:00-18:00"], "sat": ["12:00-16:00", "20:00-23:30"], "sun": []}
    )
    assert text == mapping
    assert text.week[0] == ((600, 1080),)
    assert text.week[5] == ((720, 960), (1200, 1410))
    assert text.week[6] == ()


def test_day_specs() -> None:
    assert WeeklyHours.parse("daily 09:00-17:00").week == (((540, 1020),),) * 7
    assert WeeklyHours.parse("weekdays 09:00-17:00") == WeeklyHours.parse("mon-fri 09:00-17:00")
    assert WeeklyHours.parse("weekends 09:00-17:00") == WeeklyHours.parse("sat,sun 09:00-17:00")
    wrapped = WeeklyHours.parse("fri-mon 20:00-23:00")
    assert [bool(day) for day in wrapped.week] == [True, False, False, False, True, True, True]
    assert WeeklyHours.parse("Monday, Wednesday 10:00 - 12:00") == WeeklyHours.parse(
        "mon,wed 10:00-12:00"
    )


def test_shorthands_and_case() -> None:
    always = WeeklyHours.parse("24/7")
    assert always.always_open
    assert always == WeeklyHours.parse("DAILY 00:00-24:00") == WeeklyHours.parse("daily 24h")
    assert WeeklyHours.parse("Mon–Fri 10:00–18:00") == WeeklyHours.parse("mon-fri 10:00-18:00")


def test_closed_clears_days_named_earlier() -> None:
    hours = WeeklyHours.parse("daily 10:00-18:00; sun closed")
    assert hours == WeeklyHours.parse("mon-sat 10:00-18:00")


def test_overnight_range_belongs_to_the_day_it_starts() -> None:
    hours = WeeklyHours.parse("sat 22:00-02:00")
    assert hours.week[5] == ((1320, 1560),)
    assert hours.week[6] == ()


def test_overlapping_ranges_merge() -> None:
    assert WeeklyHours.parse("mon 10:00-12:00,11:00-14:00; mon 14:00-15:00").week[0] == (
        (600, 900),
    )


def test_mapping_values_may_be_a_string() -> None:
    hours = WeeklyHours.parse({"mon": "10:00-12:00, 14:00-18:00", "tue": "closed", "wed": None})
    assert hours == WeeklyHours.parse("mon 10:00-12:00,14:00-18:00")


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
    ],
)
def test_bad_input_raises_value_error(value: object, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        WeeklyHours.parse(value)


def test_direct_construction_is_checked() -> None:
    with pytest.raises(ValueError, match="seven days"):
        WeeklyHours(((),) * 6)
    with pytest.raises(ValueError, match="invalid interval"):
        WeeklyHours((((600, 600),),) + ((),) * 6)
    with pytest.raises(ValueError, match="invalid interval"):
        WeeklyHours((((600, 600 + DAY),),) + ((),) * 6)


@given(st.text())
def test_any_text_parses_or_raises_value_error(text: str) -> None:
    try:
        hours = WeeklyHours.parse(text)
    except ValueError:
        return
    # Whatever the old reader accepted, the library accepts once converted.
    assert OpeningHours.from_osm(hours.to_osm()).text


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
        WeeklyHours.parse(mapping)


_TOKENS = st.sampled_from(
    ["mon", "fri", "sat", "daily", "-", ",", ";", " ", "10:00", "23:59", "24:00", "00:00",
     "closed", "24/7", "24h", "9:5", "99:99", "\n", "–"]
)  # fmt: skip


@given(st.lists(_TOKENS, max_size=12).map("".join))
def test_near_miss_text_parses_or_raises_value_error(text: str) -> None:
    with contextlib.suppress(ValueError):
        WeeklyHours.parse(text)


# --- conversion to OSM --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("legacy", "osm"),
    [
        ("mon-fri 10:00-18:00; sat 12:00-16:00", "Mo-Fr 10:00-18:00, Sa 12:00-16:00"),
        ("sat 12:00-16:00,20:00-23:30", "Sa 12:00-16:00,20:00-23:30"),
        ("mon,wed,fri 14:00-20:00; sat 22:00-02:00", "Mo,We,Fr 14:00-20:00, Sa 22:00-02:00"),
        ("daily 09:00-17:00", "Mo-Su 09:00-17:00"),
        ("sun 00:00-24:00", "Su 00:00-24:00"),
        ("24/7", "24/7"),
        ("closed", "closed"),
    ],
)
def test_to_osm(legacy: str, osm: str) -> None:
    assert WeeklyHours.parse(legacy).to_osm() == osm


_RANGE = st.tuples(st.integers(0, 23), st.integers(0, 59), st.integers(0, 24), st.integers(0, 59))
_DAYS = st.sampled_from(["mon", "tue", "wed", "thu", "fri", "sat", "sun", "daily", "sat-mon"])


def _range_text(r: tuple[int, int, int, int]) -> str:
    sh, sm, eh, em = r
    return f"{sh:02d}:{sm:02d}-{eh:02d}:{0 if eh == 24 else em:02d}"


@st.composite
def schedules(draw: st.DrawFn) -> WeeklyHours:
    groups = draw(st.lists(st.tuples(_DAYS, st.lists(_RANGE, min_size=1, max_size=3)), max_size=5))
    texts = [f"{days} {','.join(_range_text(r) for r in ranges)}" for days, ranges in groups]
    try:
        return WeeklyHours.parse("; ".join(texts) or "closed")
    except ValueError:  # an empty range such as 10:00-10:00
        return WeeklyHours.parse("closed")


def _open_by_week(week: WeeklyHours, at: datetime) -> bool:
    """The old meaning, read straight from the intervals (UTC: no DST to think about)."""
    minute = at.hour * 60 + at.minute
    today, yesterday = at.weekday(), (at.weekday() - 1) % 7
    return any(s <= minute < e for s, e in week.week[today]) or any(
        s <= minute + DAY < e for s, e in week.week[yesterday]
    )


@settings(deadline=None, max_examples=300)
@given(
    schedules(),
    st.datetimes(min_value=datetime(2026, 1, 1), max_value=datetime(2027, 12, 31)),
)
def test_converted_hours_mean_what_they_meant(week: WeeklyHours, at: datetime) -> None:
    at = at.replace(second=0, microsecond=0, tzinfo=UTC)
    converted = OpeningHours.from_osm(week.to_osm())
    assert converted.is_open(at, UTC_ZONE) == _open_by_week(week, at)
    assert OpeningHours.parse(week.to_osm()) == converted
    assert timedelta(0) == timedelta(0)
