"""The area gazetteer: one city's neighbourhoods, found by name, alias or location."""

from __future__ import annotations

import unicodedata
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from pydantic import Field, PrivateAttr, model_validator

from bot.content.errors import Problem
from bot.content.fields import (
    Code,
    EmergencyNumber,
    Latitude,
    Longitude,
    Name,
    RadiusKm,
    ShortName,
    Spec,
    TimeZoneName,
)
from bot.content.geo import haversine_km
from bot.content.source import Document, read_yaml, validate

NEAREST_TOLERANCE = 1.5
"""A point counts as inside an area up to this multiple of its radius (areas are not circles)."""


def normalize_name(text: str) -> str:
    """Drop case, accents, spaces, punctuation: ``"Grandview–Woodland"`` → ``grandviewwoodland``."""
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    return "".join(ch for ch in decomposed if ch.isalnum())


class City(Spec):
    """The city the gazetteer covers."""

    name: Name
    timezone: TimeZoneName
    emergency_number: EmergencyNumber


class AreaSpec(Spec):
    """A neighbourhood: a centroid and a rough radius."""

    code: Code
    name: Name
    lat: Latitude
    lon: Longitude
    radius_km: RadiusKm
    timezone: TimeZoneName
    emergency_number: EmergencyNumber
    aliases: tuple[ShortName, ...] = ()

    @property
    def zone(self) -> ZoneInfo:
        """The area's time zone."""
        return ZoneInfo(self.timezone)


class Gazetteer(Spec):
    """The city and its areas, with lookup by name and by location."""

    city: City
    areas: tuple[AreaSpec, ...] = Field(min_length=1)
    demo: bool = False  # the shipped example areas: the bot warns at start while in use
    _index: dict[str, AreaSpec] = PrivateAttr(default_factory=dict)
    _by_code: dict[str, AreaSpec] = PrivateAttr(default_factory=dict)

    @model_validator(mode="after")
    def _unambiguous(self) -> Gazetteer:
        seen: dict[str, str] = {}
        for area in self.areas:
            for label in {normalize_name(n) for n in (area.code, area.name, *area.aliases)}:
                if label in seen:
                    raise ValueError(f"{label!r} names both {seen[label]!r} and {area.code!r}")
                seen[label] = area.code
        return self

    def model_post_init(self, context: Any, /) -> None:
        self._by_code = {area.code: area for area in self.areas}
        self._index = {
            normalize_name(label): area
            for area in self.areas
            for label in (area.code, area.name, *area.aliases)
        }
        self._index.pop("", None)

    @property
    def codes(self) -> frozenset[str]:
        """Every area code."""
        return frozenset(self._by_code)

    def by_code(self, code: str) -> AreaSpec | None:
        """The area with this code, or None."""
        return self._by_code.get(code)

    def find(self, name_or_alias: str) -> AreaSpec | None:
        """The area a person means by a code, name or alias (ignores case, accents, spacing)."""
        key = normalize_name(name_or_alias)
        return self._index.get(key) if key else None

    def nearest(self, lat: float, lon: float) -> AreaSpec | None:
        """The nearest-centroid area among those whose radius (× tolerance) holds the point."""
        best: tuple[float, AreaSpec] | None = None
        for area in self.areas:
            distance = haversine_km(lat, lon, area.lat, area.lon)
            if distance <= area.radius_km * NEAREST_TOLERANCE and (
                best is None or distance < best[0]
            ):
                best = (distance, area)
        return best[1] if best else None


def _ambiguous_names(document: Document) -> list[Problem]:
    """Problems for a name, alias or code that would match two different areas."""
    areas = document.data.get("areas")
    if not isinstance(areas, list):
        return []
    seen: dict[str, tuple[int, str]] = {}
    codes: set[str] = set()
    problems = []
    for index, area in enumerate(areas):
        if not isinstance(area, dict):
            continue
        labels: list[tuple[tuple[int | str, ...], Any]] = [
            (("areas", index, "code"), area.get("code")),
            (("areas", index, "name"), area.get("name")),
        ]
        aliases = area.get("aliases")
        if isinstance(aliases, list):
            labels += [(("areas", index, "aliases", i), a) for i, a in enumerate(aliases)]
        for loc, label in labels:
            key = normalize_name(label) if isinstance(label, str) else ""
            if not key:
                continue
            if loc[-1] == "code" and label in codes:
                continue  # an exact repeat of a code is reported as a duplicate code
            if key in seen and seen[key][0] != index:
                other = seen[key][1]
                problems.append(document.problem(loc, f"{label!r} also names area {other!r}"))
            else:
                seen.setdefault(key, (index, str(area.get("code"))))
        if isinstance(area.get("code"), str):
            codes.add(area["code"])
    return problems


def load_gazetteer(path: Path) -> Gazetteer:
    """Load and validate ``areas.yaml`` (top-level keys ``city`` and ``areas``)."""
    document = read_yaml(path)
    problems = document.duplicates("areas", "code") + _ambiguous_names(document)
    return validate(document, Gazetteer, problems=problems)
