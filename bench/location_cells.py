"""What routing from a coarse cell costs: the nearest outlet from a shared point's cell centre
against the nearest from the point itself.

Run ``python -m bench.location_cells``. A shared location is snapped to the cell a request
stores (``DEFAULT_CELL_DEG``) before anything routes from it, so the outlet offered first is
the nearest to the cell's centre. The centre is at most half a cell's diagonal from the person,
so every outlet's distance is off by at most that much, and the outlet chosen is at most twice
that farther than the truly nearest one. This prints the bound at the city's latitude and, for
people spread uniformly over the shipped areas (each area's disc), how often the same outlet
is chosen and how much farther the one chosen is: against the shipped demo outlets, and
against synthetic outlet sets of rising density over the same city. Distances only: opening
hours, stock and shifts are left out (they filter outlets, the same for both).
"""

from __future__ import annotations

import argparse
import math
import random
import statistics
from collections.abc import Sequence
from pathlib import Path

from bot.content import load_content, load_outlets
from bot.content.areas import AreaSpec
from bot.content.geo import EARTH_RADIUS_KM, haversine_km
from bot.privacy.coarse import DEFAULT_CELL_DEG, MIN_CELL_DEG, snap

CONTENT_DIR = Path(__file__).resolve().parent.parent / "content"
KM_PER_DEGREE = math.pi * EARTH_RADIUS_KM / 180


def half_diagonal_km(lat: float, cell_deg: float) -> float:
    """The farthest a point can be from its cell's centre, at latitude ``lat``."""
    north_south = cell_deg / 2 * KM_PER_DEGREE
    east_west = cell_deg / 2 * KM_PER_DEGREE * math.cos(math.radians(lat))
    return math.hypot(north_south, east_west)


def people(areas: Sequence[AreaSpec], count: int, rng: random.Random) -> list[tuple[float, float]]:
    """``count`` points uniform over the areas' discs (areas weighted by their surface)."""
    weights = [area.radius_km**2 for area in areas]
    points = []
    for area in rng.choices(areas, weights, k=count):
        distance = area.radius_km * math.sqrt(rng.random())
        bearing = rng.uniform(0, 2 * math.pi)
        dlat = distance * math.cos(bearing) / KM_PER_DEGREE
        dlon = distance * math.sin(bearing) / (KM_PER_DEGREE * math.cos(math.radians(area.lat)))
        points.append((area.lat + dlat, area.lon + dlon))
    return points


def nearest(lat: float, lon: float, outlets: Sequence[tuple[float, float]]) -> int:
    return min(range(len(outlets)), key=lambda i: haversine_km(lat, lon, *outlets[i]))


def compare(
    points: Sequence[tuple[float, float]], outlets: Sequence[tuple[float, float]], cell_deg: float
) -> tuple[float, float, float, float]:
    """(same outlet %, mean, p95, max extra km to the outlet chosen from the cell)."""
    extra = []
    for lat, lon in points:
        best = nearest(lat, lon, outlets)
        cell = snap(lat, lon, cell_deg)
        chosen = nearest(cell.lat, cell.lon, outlets)
        extra.append(
            haversine_km(lat, lon, *outlets[chosen]) - haversine_km(lat, lon, *outlets[best])
        )
    ordered = sorted(extra)
    same = 100 * sum(1 for e in extra if e == 0) / len(extra)
    p95 = ordered[min(len(ordered) - 1, math.ceil(0.95 * len(ordered)) - 1)]
    return same, statistics.fmean(extra), p95, ordered[-1]


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--people", type=int, default=5_000)
    parser.add_argument("--seed", type=int, default=14)
    args = parser.parse_args(argv)
    rng = random.Random(args.seed)
    content = load_content(CONTENT_DIR)
    areas = content.gazetteer.areas
    city_lat = statistics.fmean(area.lat for area in areas)
    demo = [
        (spec.lat, spec.lon)
        for spec in load_outlets(
            CONTENT_DIR / "outlets.demo.yaml", content.catalogue, content.gazetteer
        )
    ]
    points = people(areas, args.people, rng)
    print(f"{len(points)} people over {len(areas)} areas, city latitude {city_lat:.2f}°")
    for cell_deg in (MIN_CELL_DEG, DEFAULT_CELL_DEG):
        bound = half_diagonal_km(city_lat, cell_deg)
        print(
            f"cell {cell_deg}°: centre ≤ {bound * 1000:.0f} m from the person, "
            f"outlet chosen ≤ {2 * bound * 1000:.0f} m farther than the nearest"
        )
    sets = [(f"{len(demo)} demo outlets", demo)]
    for count in (25, 100, 400):
        sets.append((f"{count} synthetic outlets", people(areas, count, rng)))
    print(f"{'outlets':<24}{'cell':>6}{'same %':>9}{'mean m':>9}{'p95 m':>8}{'max m':>8}")
    for name, outlets in sets:
        for cell_deg in (MIN_CELL_DEG, DEFAULT_CELL_DEG):
            same, mean, p95, worst = compare(points, outlets, cell_deg)
            print(
                f"{name:<24}{cell_deg:>6}{same:>9.1f}{mean * 1000:>9.0f}"
                f"{p95 * 1000:>8.0f}{worst * 1000:>8.0f}"
            )


if __name__ == "__main__":
    main()
