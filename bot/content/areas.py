"""The area gazetteer: one city's neighbourhoods, found by name, alias, street, landmark or
location.

A name or alias means one area. A street may run through several (Kingsway, Main St), so a
street names every area that lists it, and two streets typed together ("Main St & E Hastings")
mean the areas both run through. Street names are matched whatever the abbreviation ("E
Hastings St" is "East Hastings Street", and plain "Hastings" finds every Hastings).
"""

from __future__ import annotations

import re
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


# Abbreviations of directions, and street types, which a street is found without ("Main St",
# "Main Street" and "Main" are one street).
_DIRECTIONS = {
    "e": "east",
    "w": "west",
    "n": "north",
    "s": "south",
    "ne": "northeast",
    "nw": "northwest",
    "se": "southeast",
    "sw": "southwest",
}
_STREET_TYPES = frozenset(
    {
        *("street", "st", "avenue", "ave", "av", "road", "rd", "drive", "dr"),
        *("boulevard", "blvd", "place", "pl", "lane", "ln", "crescent", "cres", "highway", "hwy"),
    }
)
# Two streets typed together: "Main & Hastings", "Main and Hastings", "Main / Hastings".
_CROSSING = re.compile(r"\s*(?:&|\+|/|@|\band\b|\bat\b)\s*", re.IGNORECASE)


def _words(text: str) -> list[str]:
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    plain = "".join(
        ch if ch.isalnum() else " " for ch in decomposed if not unicodedata.combining(ch)
    )
    return plain.split()


def street_keys(text: str) -> tuple[str, ...]:
    """Lookup keys of a street name: with its direction, then without (none when empty)."""
    words = [_DIRECTIONS.get(w, w) for w in _words(text) if w not in _STREET_TYPES]
    bare = [w for w in words if w not in _DIRECTIONS.values()]
    keys = ["".join(words), "".join(bare)]
    return tuple(dict.fromkeys(k for k in keys if k))


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
    # Streets that run through the area (also listed under every other area they cross) and
    # landmarks in it: what people type when they don't know the area's name.
    streets: tuple[ShortName, ...] = ()
    landmarks: tuple[ShortName, ...] = ()

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
    _streets: dict[str, tuple[AreaSpec, ...]] = PrivateAttr(default_factory=dict)
    _landmarks: dict[str, tuple[AreaSpec, ...]] = PrivateAttr(default_factory=dict)

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
        streets: dict[str, list[AreaSpec]] = {}
        landmarks: dict[str, list[AreaSpec]] = {}
        for area in self.areas:
            for street in area.streets:
                # The direction-less key gathers every part of a street ("Hastings").
                for key in street_keys(street):
                    _add_once(streets, key, area)
            for landmark in area.landmarks:
                _add_once(landmarks, normalize_name(landmark), area)
        self._streets = {key: tuple(found) for key, found in streets.items()}
        self._landmarks = {key: tuple(found) for key, found in landmarks.items() if key}

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

    def places(self, text: str) -> tuple[AreaSpec, ...]:
        """The areas a typed landmark, street or crossing of streets may mean, in file order
        (empty when none is known)."""
        found = self._landmarks.get(normalize_name(text))
        if found:
            return found
        parts = [part for part in _CROSSING.split(text) if part.strip()]
        sets = [self._street(part) for part in parts]
        known = [areas for areas in sets if areas]
        if not known:
            return ()
        both = set.intersection(*(set(areas) for areas in known))
        # Streets that never meet (or a typo in one): every area either runs through.
        wanted = both or set.union(*(set(areas) for areas in known))
        return tuple(area for area in self.areas if area in wanted)

    def _street(self, text: str) -> tuple[AreaSpec, ...]:
        for key in street_keys(text):
            if key in self._streets:
                return self._streets[key]
        return ()

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


def _add_once(index: dict[str, list[AreaSpec]], key: str, area: AreaSpec) -> None:
    found = index.setdefault(key, [])
    if area not in found:
        found.append(area)


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
