"""Coarse places and times: a point is snapped to a grid cell, a time to its hour.

Only the cell (its centre and code) may be kept, never the precise coordinates. With the
default 0.02° the cell is about 2.2 km north-south; east-west it shrinks with the cosine of
the latitude (≈1.3 km at 55°), which is still a neighbourhood, not a doorstep.

Times kept past a day are kept to the hour (:func:`hour_of`): an exact time matches the
platform's own records of an update (and whoever watched an outlet), so it names a person.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime

__all__ = [
    "DEFAULT_CELL_DEG",
    "MIN_CELL_DEG",
    "CoarseCell",
    "hour_of",
    "snap",
    "validate_location",
]

DEFAULT_CELL_DEG = 0.02
# Below ~1 km a "coarse" cell starts to point at a building; refuse rather than store it.
MIN_CELL_DEG = 0.01


@dataclass(frozen=True, slots=True)
class CoarseCell:
    """Centre of a grid cell and a stable code naming the cell."""

    lat: float
    lon: float
    code: str


def _number(value: object) -> float:
    # bool is an int subclass, but True is not a latitude.
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError("location must be two numbers")
    try:
        number = float(value)
    except OverflowError:  # an enormous int
        raise ValueError("location out of range") from None
    if not math.isfinite(number):
        raise ValueError("location out of range")
    return number


def validate_location(lat: float, lon: float) -> tuple[float, float]:
    """Return ``(lat, lon)`` as floats, or raise ValueError (message without the values)."""
    flat, flon = _number(lat), _number(lon)
    if not (-90.0 <= flat <= 90.0 and -180.0 <= flon <= 180.0):
        raise ValueError("location out of range")
    return flat, flon


def snap(lat: float, lon: float, cell_deg: float = DEFAULT_CELL_DEG) -> CoarseCell:
    """Snap a point to the centre of its ``cell_deg``-degree grid cell.

    Cells are indexed by ``floor(coordinate / cell_deg)``, so every cell (including those
    either side of the equator and the prime meridian) has the same size. The code reads
    ``c<cell_deg>:<lat index>:<lon index>``, e.g. ``c0.02:2464:-6156``.
    """
    flat, flon = validate_location(lat, lon)
    if (
        isinstance(cell_deg, bool)
        or not isinstance(cell_deg, int | float)
        or not math.isfinite(cell_deg)
        or not MIN_CELL_DEG <= cell_deg <= 90
    ):
        raise ValueError("cell size must be between 0.01 and 90 degrees")
    i = math.floor(flat / cell_deg)
    j = math.floor(flon / cell_deg)
    # Clamp so the edge cells at the poles/antimeridian keep an in-range centre; rounding
    # hides float noise (49.290000000000006) without moving the centre meaningfully.
    centre_lat = min(90.0, max(-90.0, round((i + 0.5) * cell_deg, 9)))
    centre_lon = min(180.0, max(-180.0, round((j + 0.5) * cell_deg, 9)))
    return CoarseCell(lat=centre_lat, lon=centre_lon, code=f"c{cell_deg:g}:{i}:{j}")


def hour_of(moment: datetime) -> datetime:
    """``moment`` truncated to its hour (same time zone): 10:59:59.9 -> 10:00."""
    return moment.replace(minute=0, second=0, microsecond=0)
