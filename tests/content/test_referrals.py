from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import pytest
from pydantic import ValidationError

from bot.content import (
    ContentError,
    Directory,
    Gazetteer,
    OpeningHours,
    ReferralService,
    ServiceType,
    load_directory,
)

Write = Callable[[str, str], Path]  # the `write` fixture (conftest.py)


GOOD = """\
services:
  - code: clinic_a
    name: Hastings Street Community Clinic (demo)
    type: nursing_medical
    area: dtes
    lat: 49.2813
    lon: -123.0982
    address: 100 block E Hastings St (demo)
    phone: 604-555-0101
    hours: daily 08:00-20:00
  - code: clinic_b
    name: Whalley Health Hut (demo)
    type: nursing_medical
    area: surrey_whalley
    lat: 49.1890
    lon: -122.8475
    address: 135A St (demo)
    hours:
      mon-sat: ["10:00-18:00"]
    timezone: America/Edmonton
  - code: ost_a
    name: Main Street OST Clinic (demo)
    type: ost
    area: mount_pleasant
    lat: 49.2627
    lon: -123.1005
    address: 2400 block Main St (demo)
    hours: mon-fri 08:30-16:30
"""


def problems(path: Path, gazetteer: Gazetteer) -> list[str]:
    with pytest.raises(ContentError) as info:
        load_directory(path, gazetteer)
    return [str(p) for p in info.value.problems]


def test_shipped_directory(content_dir: Path, gazetteer: Gazetteer) -> None:
    directory = load_directory(content_dir / "referrals.yaml", gazetteer)
    for service_type in ServiceType:
        services = directory.of_type(service_type)
        assert len(services) >= 2, service_type
    for service in directory.services:
        assert gazetteer.by_code(service.area) is not None
        assert "(demo)" in service.name


def test_lookup_and_timezone_default(write: Write, gazetteer: Gazetteer) -> None:
    directory = load_directory(write("referrals.yaml", GOOD), gazetteer)
    a = directory.by_code("clinic_a")
    assert a is not None
    assert a.timezone == "America/Vancouver"  # from its area
    assert a.phone == "604-555-0101"
    assert a.hours == OpeningHours.parse("daily 08:00-20:00")
    b = directory.by_code("clinic_b")
    assert b is not None
    assert b.timezone == "America/Edmonton"  # given explicitly
    assert b.phone is None
    assert directory.by_code("nope") is None
    assert [s.code for s in directory.of_type("ost")] == ["ost_a"]
    assert directory.of_type(ServiceType.HOUSING) == []


def test_nearest(write: Write, gazetteer: Gazetteer) -> None:
    directory = load_directory(write("referrals.yaml", GOOD), gazetteer)
    surrey = directory.nearest(ServiceType.NURSING_MEDICAL, 49.19, -122.85)
    assert [s.code for s in surrey] == ["clinic_b", "clinic_a"]
    downtown = directory.nearest("nursing_medical", 49.28, -123.10, limit=1)
    assert [s.code for s in downtown] == ["clinic_a"]
    assert directory.nearest("housing", 49.28, -123.10) == []
    assert directory.nearest("ost", 49.28, -123.10, limit=0) == []


def test_is_open(write: Write, gazetteer: Gazetteer) -> None:
    directory = load_directory(write("referrals.yaml", GOOD), gazetteer)
    service = directory.services[0]
    assert service.zone.key == "America/Vancouver"
    assert service.is_open(datetime(2026, 7, 6, 16, 0, tzinfo=UTC))  # 09:00 PDT
    assert not service.is_open(datetime(2026, 7, 6, 14, 0, tzinfo=UTC))  # 07:00 PDT


def test_unknown_area(write: Write, gazetteer: Gazetteer) -> None:
    path = write("referrals.yaml", GOOD.replace("area: mount_pleasant", "area: mount_pleasent"))
    assert problems(path, gazetteer) == [
        f"{path}:24: services[2].area: unknown area 'mount_pleasent'"
        " (did you mean 'mount_pleasant'?)"
    ]


def test_unknown_area_is_not_also_a_missing_timezone(write: Write, gazetteer: Gazetteer) -> None:
    path = write("referrals.yaml", GOOD.replace("area: dtes", "area: atlantis"))
    assert problems(path, gazetteer) == [f"{path}:5: services[0].area: unknown area 'atlantis'"]


@pytest.mark.parametrize(
    ("old", "new", "line", "field", "message"),
    [
        ("hours: daily 08:00-20:00", "hours: daily 8am-8pm", 10, "services[0].hours",
         "cannot read opening hours 'daily 8am-8pm' at character 1: e.g. 'Mo-Fr 10:00-18:00'"),
        ('["10:00-18:00"]', '["10:00-18:00", "25:00-26:00"]', 18, "services[1].hours",
         "invalid start time in '25:00-26:00'"),
        ("type: ost", "type: detox", 23, "services[2].type",
         "Input should be 'nursing_medical', 'hiv_hcv_testing', 'ost', 'mental_health',"
         " 'housing', 'drug_checking' or 'supervised_consumption'"),
        ("phone: 604-555-0101", "phone: call me", 9, "services[0].phone",
         "String should match pattern '^\\+?[0-9][0-9 ()\\-]{2,24}$'"),
        ("timezone: America/Edmonton", "timezone: Canada/Nowhere", 20, "services[1].timezone",
         "unknown time zone 'Canada/Nowhere' (use an IANA name like 'America/Vancouver')"),
        ("lat: 49.1890", "lat: -95", 15, "services[1].lat",
         "Input should be greater than or equal to -90"),
    ],
)  # fmt: skip
def test_bad_field(
    write: Write, gazetteer: Gazetteer, old: str, new: str, line: int, field: str, message: str
) -> None:
    assert GOOD.count(old) == 1
    path = write("referrals.yaml", GOOD.replace(old, new))
    assert problems(path, gazetteer) == [f"{path}:{line}: {field}: {message}"]


def test_duplicate_code(write: Write, gazetteer: Gazetteer) -> None:
    path = write("referrals.yaml", GOOD.replace("code: ost_a", "code: clinic_a"))
    assert problems(path, gazetteer) == [
        f"{path}:21: services[2].code: duplicate code 'clinic_a' (first on line 2)"
    ]


def test_direct_construction_without_context() -> None:
    service = ReferralService(
        code="x",
        name="X (demo)",
        type=ServiceType.HOUSING,
        area="anywhere",  # not checked without a gazetteer
        lat=0,
        lon=0,
        address="Somewhere",
        hours=OpeningHours.parse("24/7"),
        timezone="UTC",
    )
    assert Directory(services=(service,)).of_type("housing") == [service]
    with pytest.raises(ValidationError, match="duplicate service codes"):
        Directory(services=(service, service))
