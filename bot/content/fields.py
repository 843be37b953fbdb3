"""Field types shared by the content models."""

from __future__ import annotations

import difflib
import functools
import math
import unicodedata
import zoneinfo
from typing import Annotated, Any

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainSerializer,
    PlainValidator,
    StringConstraints,
    ValidationInfo,
)

from bot.content.hours import OpeningHours


class Spec(BaseModel):
    """Base for content records: immutable, and unknown fields are mistakes."""

    model_config = ConfigDict(frozen=True, extra="forbid")


def _no_control(value: str) -> str:
    if any(unicodedata.category(ch) in ("Cc", "Cs") for ch in value):
        raise ValueError("must not contain control characters")
    return value


def _no_control_but_newline(value: str) -> str:
    return "\n".join(_no_control(line) for line in value.split("\n"))


def _not_bool(value: Any) -> Any:
    # YAML reads `yes`/`true` as booleans, which pydantic would otherwise accept as 1.
    if isinstance(value, bool):
        raise ValueError("expected a number, not true/false")
    return value


def _finite(value: Any) -> Any:
    # Checked before the range, or NaN would be reported as "out of range".
    value = _not_bool(value)
    try:
        number = float(value)
    except (TypeError, ValueError):
        return value  # not a number at all: pydantic says so
    if not math.isfinite(number):
        raise ValueError("must be a finite number")
    return value


def _text(max_length: int) -> StringConstraints:
    return StringConstraints(strip_whitespace=True, min_length=1, max_length=max_length)


Code = Annotated[str, StringConstraints(pattern=r"^[a-z0-9_]+$", min_length=1, max_length=24)]
"""Stable identifier: lowercase letters, digits and underscores, at most 24 characters."""

ShortName = Annotated[str, _text(40), AfterValidator(_no_control)]
Name = Annotated[str, _text(80), AfterValidator(_no_control)]
Address = Annotated[str, _text(120), AfterValidator(_no_control)]
Unit = Annotated[str, _text(20), AfterValidator(_no_control)]
Note = Annotated[str, _text(300), AfterValidator(_no_control)]
LongText = Annotated[str, _text(600), AfterValidator(_no_control_but_newline)]
"""Free text that may span lines (pickup instructions)."""

Phone = Annotated[
    str, StringConstraints(strip_whitespace=True, pattern=r"^\+?[0-9][0-9 ()\-]{2,24}$")
]
EmergencyNumber = Annotated[str, StringConstraints(strip_whitespace=True, pattern=r"^[0-9]{2,6}$")]

Latitude = Annotated[float, BeforeValidator(_finite), Field(ge=-90, le=90, allow_inf_nan=False)]
Longitude = Annotated[float, BeforeValidator(_finite), Field(ge=-180, le=180, allow_inf_nan=False)]
RadiusKm = Annotated[float, BeforeValidator(_finite), Field(gt=0, le=100, allow_inf_nan=False)]
Count = Annotated[int, BeforeValidator(_not_bool), Field(ge=0, le=1_000_000)]
PositiveCount = Annotated[int, BeforeValidator(_not_bool), Field(ge=1, le=1_000_000)]


@functools.cache
def _zones() -> frozenset[str]:
    return frozenset(zoneinfo.available_timezones())


def _known_zone(value: str) -> str:
    if value not in _zones():
        raise ValueError(f"unknown time zone {value!r} (use an IANA name like 'America/Vancouver')")
    return value


TimeZoneName = Annotated[str, StringConstraints(strip_whitespace=True), AfterValidator(_known_zone)]

Hours = Annotated[
    OpeningHours,
    PlainValidator(OpeningHours.parse),
    PlainSerializer(OpeningHours.compact, return_type=str),
]
"""Opening hours: a compact string or a day mapping (see bot.content.hours)."""


def _reference(kind: str, context_key: str) -> AfterValidator:
    """Check a code against the set in the validation context, when one is given."""

    def check(value: str, info: ValidationInfo) -> str:
        known = (info.context or {}).get(context_key)
        if known is not None and value not in known:
            close = difflib.get_close_matches(value, list(known), n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            raise ValueError(f"unknown {kind} {value!r}{hint}")
        return value

    return AfterValidator(check)


AreaRef = Annotated[Code, _reference("area", "areas")]
"""An area code; checked against context ``{"areas": {code: timezone}}`` when given."""
ItemRef = Annotated[Code, _reference("item code", "items")]
"""An item code; checked against context ``{"items": {code, ...}}`` when given."""


def default_timezone_from_area(data: Any, info: ValidationInfo) -> Any:
    """Fill a missing ``timezone`` from the record's area, else the city's.

    Context: ``{"areas": {code: timezone}, "timezone": city timezone}``. Falling back to the
    city's zone keeps an unknown area from also being reported as a missing time zone.
    """
    context = info.context or {}
    if not isinstance(data, dict) or data.get("timezone") is not None:
        return data
    area = data.get("area")
    zone = context.get("areas", {}).get(area) if isinstance(area, str) else None
    zone = zone or context.get("timezone")
    return {**data, "timezone": zone} if zone else data
