"""The referral directory: fixed services a person can be pointed to."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from pydantic import Field, PrivateAttr, ValidationInfo, model_validator

from bot.content.areas import Gazetteer
from bot.content.fields import (
    Address,
    AreaRef,
    Code,
    Hours,
    Latitude,
    Longitude,
    Name,
    Note,
    Phone,
    Spec,
    TimeZoneName,
    default_timezone_from_area,
)
from bot.content.geo import haversine_km
from bot.content.source import read_yaml, validate


class ServiceType(StrEnum):
    """Kinds of service in the directory."""

    NURSING_MEDICAL = "nursing_medical"
    HIV_HCV_TESTING = "hiv_hcv_testing"
    OST = "ost"
    MENTAL_HEALTH = "mental_health"
    HOUSING = "housing"
    DRUG_CHECKING = "drug_checking"
    SUPERVISED_CONSUMPTION = "supervised_consumption"


class ReferralService(Spec):
    """One service; ``timezone`` defaults to its area's when loaded from a file."""

    code: Code
    name: Name
    type: ServiceType
    area: AreaRef
    lat: Latitude
    lon: Longitude
    address: Address
    phone: Phone | None = None
    hours: Hours
    timezone: TimeZoneName
    notes: Note | None = None
    # Hands out take-home naloxone kits (shown beside it when nobody else can help).
    naloxone: bool = False

    @model_validator(mode="before")
    @classmethod
    def _fill_timezone(cls, data: Any, info: ValidationInfo) -> Any:
        return default_timezone_from_area(data, info)

    @property
    def zone(self) -> ZoneInfo:
        """The service's time zone."""
        return ZoneInfo(self.timezone)

    def is_open(self, at: datetime) -> bool:
        """Whether the service is open at the aware instant ``at``."""
        return self.hours.is_open(at, self.zone)


class Directory(Spec):
    """All referral services, in file order."""

    services: tuple[ReferralService, ...] = Field(min_length=1)
    demo: bool = False  # the shipped invented directory: the bot warns at start while in use
    _by_code: dict[str, ReferralService] = PrivateAttr(default_factory=dict)

    @model_validator(mode="after")
    def _unique_codes(self) -> Directory:
        if len({s.code for s in self.services}) != len(self.services):
            raise ValueError("duplicate service codes")
        return self

    def model_post_init(self, context: Any, /) -> None:
        self._by_code = {service.code: service for service in self.services}

    def by_code(self, code: str) -> ReferralService | None:
        """The service with this code, or None."""
        return self._by_code.get(code)

    def of_type(self, service_type: ServiceType | str) -> list[ReferralService]:
        """Services of one type, in file order."""
        return [s for s in self.services if s.type == service_type]

    def nearest(
        self, service_type: ServiceType | str, lat: float, lon: float, limit: int = 3
    ) -> list[ReferralService]:
        """Up to ``limit`` services of a type, nearest first."""
        candidates = self.of_type(service_type)
        candidates.sort(key=lambda s: haversine_km(lat, lon, s.lat, s.lon))
        return candidates[: max(limit, 0)]


def area_context(gazetteer: Gazetteer) -> dict[str, Any]:
    """Validation context that checks area codes and supplies their time zones."""
    return {
        "areas": {area.code: area.timezone for area in gazetteer.areas},
        "timezone": gazetteer.city.timezone,
    }


def load_directory(path: Path, gazetteer: Gazetteer) -> Directory:
    """Load ``referrals.yaml`` (top-level key ``services``), checking areas in the gazetteer."""
    document = read_yaml(path)
    return validate(
        document,
        Directory,
        context=area_context(gazetteer),
        problems=document.duplicates("services", "code"),
    )
