from __future__ import annotations

import math

import pytest

from bot.content.geo import EARTH_RADIUS_KM, haversine_km


def test_zero_distance() -> None:
    assert haversine_km(49.28, -123.1, 49.28, -123.1) == 0.0


def test_one_degree_of_latitude() -> None:
    assert haversine_km(0, 0, 1, 0) == pytest.approx(111.195, abs=0.001)


def test_vancouver_to_seattle() -> None:
    # City halls: about 192 km apart by great circle.
    distance = haversine_km(49.2609, -123.1139, 47.6038, -122.3301)
    assert distance == pytest.approx(192.0, abs=2.0)


def test_symmetric() -> None:
    a = haversine_km(49.2812, -123.0994, 49.1885, -122.8482)
    assert a == pytest.approx(haversine_km(49.1885, -122.8482, 49.2812, -123.0994))


def test_antipodes() -> None:
    assert haversine_km(0, 0, 0, 180) == pytest.approx(math.pi * EARTH_RADIUS_KM)
