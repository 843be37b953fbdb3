from __future__ import annotations

import math
from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.privacy.coarse import CoarseCell, hour_of, snap, validate_location


def test_snaps_to_cell_centre_and_code() -> None:
    cell = snap(49.28123, -123.10456)
    assert cell == CoarseCell(lat=49.29, lon=-123.11, code="c0.02:2464:-6156")


def test_stays_within_half_a_cell() -> None:
    lat, lon = 49.28123, -123.10456
    cell = snap(lat, lon)
    assert abs(cell.lat - lat) <= 0.01 + 1e-9
    assert abs(cell.lon - lon) <= 0.01 + 1e-9


def test_same_cell_same_code_neighbours_differ() -> None:
    assert snap(49.2801, -123.1001).code == snap(49.2899, -123.1099).code
    assert snap(49.2801, -123.1001).code != snap(49.2601, -123.1001).code


def test_cells_either_side_of_zero_are_distinct() -> None:
    assert snap(0.005, 0.005).code == "c0.02:0:0"
    assert snap(-0.005, -0.005).code == "c0.02:-1:-1"


def test_custom_cell_size() -> None:
    cell = snap(49.28123, -123.10456, cell_deg=0.1)
    assert cell.code.startswith("c0.1:")
    assert cell.lat == pytest.approx(49.25)


def test_poles_and_antimeridian_keep_centres_in_range() -> None:
    for lat, lon in [(90, 180), (-90, -180), (90.0, -180.0)]:
        cell = snap(lat, lon, cell_deg=0.07)
        assert -90 <= cell.lat <= 90
        assert -180 <= cell.lon <= 180


def test_frozen() -> None:
    cell = snap(1.0, 1.0)
    with pytest.raises(AttributeError):
        cell.lat = 2.0  # type: ignore[misc]


@pytest.mark.parametrize(
    ("lat", "lon"),
    [
        (math.nan, 0.0),
        (0.0, math.nan),
        (math.inf, 0.0),
        (0.0, -math.inf),
        (90.0001, 0.0),
        (-91, 0),
        (0.0, 180.5),
        (0.0, -181),
        (10**400, 0),
    ],
)
def test_rejects_out_of_range(lat: float, lon: float) -> None:
    with pytest.raises(ValueError, match=r"^location out of range$"):
        snap(lat, lon)


@pytest.mark.parametrize(("lat", "lon"), [(True, 0.0), (0.0, False), ("49.2", "-123.1"), (None, 1)])
def test_rejects_non_numbers(lat: object, lon: object) -> None:
    with pytest.raises(ValueError, match="location"):
        validate_location(lat, lon)  # type: ignore[arg-type]


@pytest.mark.parametrize("cell_deg", [0.0, -0.02, 0.001, math.nan, math.inf, 91.0, True])
def test_rejects_unsafe_cell_sizes(cell_deg: float) -> None:
    with pytest.raises(ValueError, match="cell size"):
        snap(1.0, 1.0, cell_deg=cell_deg)


def test_validate_returns_floats() -> None:
    assert validate_location(49, -123) == (49.0, -123.0)
    assert all(type(v) is float for v in validate_location(49, -123))


_lat = st.floats(min_value=-90, max_value=90, allow_nan=False)
_lon = st.floats(min_value=-180, max_value=180, allow_nan=False)
_cell = st.sampled_from([0.01, 0.02, 0.05, 0.1, 0.25, 1.0, 0.07])


@given(_lat, _lon, _cell)
def test_any_point_snaps_near_its_cell_centre(lat: float, lon: float, cell_deg: float) -> None:
    cell = snap(lat, lon, cell_deg)
    assert abs(cell.lat - lat) <= cell_deg / 2 + 1e-9
    assert abs(cell.lon - lon) <= cell_deg / 2 + 1e-9
    assert -90 <= cell.lat <= 90
    assert -180 <= cell.lon <= 180
    # Snapping is idempotent: the centre lies in its own cell.
    assert snap(cell.lat, cell.lon, cell_deg) == cell


def test_hour_of_keeps_only_the_hour() -> None:
    moment = datetime(2026, 11, 25, 19, 59, 59, 999999, tzinfo=UTC)
    assert hour_of(moment) == datetime(2026, 11, 25, 19, tzinfo=UTC)
    assert hour_of(hour_of(moment)) == hour_of(moment)
