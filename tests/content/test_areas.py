from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from bot.content import ContentError, Gazetteer, load_gazetteer, normalize_name
from bot.content.areas import street_keys

Write = Callable[[str, str], Path]  # the `write` fixture (conftest.py)


GOOD = """\
city:
  name: Vancouver
  timezone: America/Vancouver
  emergency_number: "911"
areas:
  - code: dtes
    name: Downtown Eastside
    lat: 49.2815
    lon: -123.0965
    radius_km: 0.8
    timezone: America/Vancouver
    emergency_number: "911"
    aliases: [DTES, Downtown East Side]
  - code: grandview
    name: Grandview-Woodland
    lat: 49.2740
    lon: -123.0680
    radius_km: 1.4
    timezone: America/Vancouver
    emergency_number: "911"
    aliases:
      - Commercial Drive
      - The Drive
"""


def problems(path: Path) -> list[str]:
    with pytest.raises(ContentError) as info:
        load_gazetteer(path)
    return [str(p) for p in info.value.problems]


def test_shipped_gazetteer(gazetteer: Gazetteer) -> None:
    assert gazetteer.city.name == "Vancouver"
    assert gazetteer.city.emergency_number == "911"
    assert 12 <= len(gazetteer.areas) <= 20
    assert {a.timezone for a in gazetteer.areas} == {"America/Vancouver"}
    assert gazetteer.by_code("dtes") is not None
    assert "strathcona" in gazetteer.codes


def test_every_shipped_centroid_is_its_own_nearest_area(gazetteer: Gazetteer) -> None:
    for area in gazetteer.areas:
        assert gazetteer.nearest(area.lat, area.lon) == area


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("DTES", "dtes"),
        ("dtes", "dtes"),
        ("  downtown   EAST side ", "dtes"),
        ("Downtown Eastside", "dtes"),
        ("grandview", "grandview"),
        ("Grandview–Woodland", "grandview"),
        ("grandview woodland", "grandview"),
        ("the drive", "grandview"),
        ("Kits", "kitsilano"),
        ("Mount Pléasant", "mount_pleasant"),
        ("mt. pleasant", "mount_pleasant"),
        ("Kensington Cedar Cottage", "kensington"),
        ("SURREY (WHALLEY)", "surrey_whalley"),
        ("new west", "new_westminster"),
        ("hastings_sunrise", "hastings_sunrise"),
    ],
)
def test_find(gazetteer: Gazetteer, text: str, code: str) -> None:
    area = gazetteer.find(text)
    assert area is not None
    assert area.code == code


@pytest.mark.parametrize("text", ["", "   ", "---", "Atlantis", "Burnaby"])
def test_find_unknown(gazetteer: Gazetteer, text: str) -> None:
    assert gazetteer.find(text) is None


@pytest.mark.parametrize(
    ("text", "codes"),
    [
        ("E Hastings St", ["dtes", "grandview", "hastings_sunrise"]),
        ("East Hastings Street", ["dtes", "grandview", "hastings_sunrise"]),
        ("e. hastings", ["dtes", "grandview", "hastings_sunrise"]),
        ("Hastings", ["dtes", "gastown", "downtown", "grandview", "hastings_sunrise"]),
        ("Kingsway", ["mount_pleasant", "kensington", "renfrew"]),
        ("Main St", ["dtes", "chinatown", "mount_pleasant", "sunset"]),
        ("Main Street & E Hastings St", ["dtes"]),
        ("Kingsway at Knight", ["kensington"]),
        (
            "Kingsway / Granville St",
            ["downtown", "mount_pleasant", "kensington", "fairview", "marpole", "renfrew"],
        ),  # never meet: either street's areas
        ("Steam Clock", ["gastown"]),
        ("ST PAUL'S HOSPITAL", ["west_end"]),
        ("Atlantis", []),
        ("", []),
        ("&&&", []),
    ],
)
def test_streets_and_landmarks(gazetteer: Gazetteer, text: str, codes: list[str]) -> None:
    assert [area.code for area in gazetteer.places(text)] == codes


def test_street_keys() -> None:
    assert street_keys("E Hastings St") == ("easthastings", "hastings")
    assert street_keys("SW Marine Dr") == ("southwestmarine", "marine")
    assert street_keys("Kingsway") == ("kingsway",)
    assert street_keys("St") == ()


def test_streets_and_landmarks_in_a_file(write: Write) -> None:
    path = write(
        "areas.yaml",
        GOOD.replace(
            "    aliases: [DTES, Downtown East Side]\n",
            "    aliases: [DTES, Downtown East Side]\n"
            "    streets: [E Hastings St]\n    landmarks: [Pigeon Park]\n",
        ).replace("      - The Drive\n", "      - The Drive\n    streets: [E Hastings St]\n"),
    )
    gazetteer = load_gazetteer(path)
    assert [a.code for a in gazetteer.places("hastings")] == ["dtes", "grandview"]
    assert [a.code for a in gazetteer.places("pigeon park")] == ["dtes"]


def test_normalize_name() -> None:
    assert normalize_name("  Grandview–Woodland ") == "grandviewwoodland"
    assert normalize_name("CAFÉ  Ñandú") == "cafenandu"
    assert normalize_name("Straße") == "strasse"


def test_nearest(gazetteer: Gazetteer) -> None:
    main_and_hastings = gazetteer.nearest(49.2812, -123.0994)
    assert main_and_hastings is not None
    assert main_and_hastings.code in {"dtes", "chinatown"}
    commercial_broadway = gazetteer.nearest(49.2625, -123.0690)
    assert commercial_broadway is not None
    assert commercial_broadway.code == "grandview"
    assert gazetteer.nearest(49.3200, -123.1400) is None  # Stanley Park's north shore
    assert gazetteer.nearest(50.1163, -122.9574) is None  # Whistler


def test_nearest_radius_tolerance(write: Write) -> None:
    gazetteer = load_gazetteer(write("areas.yaml", GOOD))
    # Due east of grandview's centroid: 1 km of longitude here is about 0.0137 degrees.
    assert gazetteer.nearest(49.2740, -123.0680 + 0.0137 * 2.0) is not None  # 2.0 km ≤ 1.4 × 1.5
    assert gazetteer.nearest(49.2740, -123.0680 + 0.0137 * 2.2) is None  # 2.2 km > 2.1 km


def test_small_area_does_not_hide_a_larger_one(write: Write) -> None:
    # A point outside the nearest (small) area but inside a bigger neighbour gets the neighbour.
    text = GOOD.replace("radius_km: 0.8", "radius_km: 0.1")
    gazetteer = load_gazetteer(write("areas.yaml", text))
    area = gazetteer.nearest(49.2790, -123.0850)
    assert area is not None
    assert area.code == "grandview"


def test_area_zone(write: Write) -> None:
    area = load_gazetteer(write("areas.yaml", GOOD)).areas[0]
    assert area.zone.key == "America/Vancouver"
    assert area.aliases == ("DTES", "Downtown East Side")


@pytest.mark.parametrize(
    ("old", "new", "line", "field", "message"),
    [
        ("lat: 49.2815", "lat: 91", 8, "areas[0].lat", "Input should be less than or equal to 90"),
        ("lon: -123.0965", "lon: -181", 9, "areas[0].lon",
         "Input should be greater than or equal to -180"),
        ("lon: -123.0965", "lon: .nan", 9, "areas[0].lon", "must be a finite number"),
        ("lat: 49.2740", "lat: .inf", 16, "areas[1].lat", "must be a finite number"),
        ("lat: 49.2815", "lat: north", 8, "areas[0].lat",
         "Input should be a valid number, unable to parse string as a number"),
        ("radius_km: 0.8", "radius_km: 0", 10, "areas[0].radius_km",
         "Input should be greater than 0"),
        ("Vancouver\n  timezone: America/Vancouver", "Vancouver\n  timezone: America/Vancouvr", 3,
         "city.timezone",
         "unknown time zone 'America/Vancouvr' (use an IANA name like 'America/Vancouver')"),
        ("    timezone: America/Vancouver\n    emergency_number: \"911\"\n    aliases: [DTES",
         "    timezone: Mars/Olympus\n    emergency_number: \"911\"\n    aliases: [DTES", 11,
         "areas[0].timezone",
         "unknown time zone 'Mars/Olympus' (use an IANA name like 'America/Vancouver')"),
        ("emergency_number: \"911\"\nareas", "emergency_number: call us\nareas", 4,
         "city.emergency_number", "String should match pattern '^[0-9]{2,6}$'"),
        ("      - The Drive", "      - 42", 23, "areas[1].aliases[1]",
         "Input should be a valid string"),
    ],
)  # fmt: skip
def test_bad_field(write: Write, old: str, new: str, line: int, field: str, message: str) -> None:
    assert GOOD.count(old) == 1
    path = write("areas.yaml", GOOD.replace(old, new))
    assert problems(path) == [f"{path}:{line}: {field}: {message}"]


def test_duplicate_code(write: Write) -> None:
    path = write("areas.yaml", GOOD.replace("code: grandview", "code: dtes"))
    assert problems(path) == [f"{path}:14: areas[1].code: duplicate code 'dtes' (first on line 6)"]


def test_alias_naming_two_areas(write: Write) -> None:
    path = write("areas.yaml", GOOD.replace("The Drive", "D.T.E.S."))
    assert problems(path) == [f"{path}:23: areas[1].aliases[1]: 'D.T.E.S.' also names area 'dtes'"]


def test_city_missing(write: Write) -> None:
    path = write("areas.yaml", GOOD.split("areas:")[0].replace("city", "town") + "areas: []\n")
    assert problems(path) == [
        f"{path}:1: city: Field required",
        f"{path}:1: town: unknown field (allowed: city, areas, demo)",
        f"{path}:5: areas: Tuple should have at least 1 item after validation, not 0",
    ]


def test_unknown_field_in_city(write: Write) -> None:
    path = write(
        "areas.yaml", GOOD.replace("  name: Vancouver", "  name: Vancouver\n  country: CA")
    )
    assert problems(path) == [
        f"{path}:3: city.country: unknown field (allowed: name, timezone, emergency_number)"
    ]
