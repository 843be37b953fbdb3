"""Common kits: a few ready-made baskets offered one tap from the welcome.

A kit is a name and some catalogue items with a pack count each. ``default`` lists the kits
offered when the person's area is not known yet (the welcome); ``areas`` may list others, in
their order, for an area whose outlets hand out something else. The file is optional: without
it no kit is offered.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import Field, PrivateAttr, ValidationInfo, field_validator, model_validator

from bot.content.areas import Gazetteer
from bot.content.fields import AreaRef, Code, ItemRef, PositiveCount, ShortName, Spec
from bot.content.items import Catalogue
from bot.content.source import read_yaml, validate
from bot.domain import ItemCategory

__all__ = ["KitSpec", "Kits", "load_kits"]

MAX_SHOWN = 4  # kits on one screen, beside the menu: a few, or none is quick to find


class KitSpec(Spec):
    """One ready-made request: items by code, each with a number of packs."""

    code: Code
    name: ShortName
    items: dict[ItemRef, PositiveCount] = Field(min_length=1, max_length=8)

    @field_validator("items")
    @classmethod
    def _requestable(cls, items: dict[str, int], info: ValidationInfo) -> dict[str, int]:
        """Items /supplies may hand out (not naloxone: that is /naloxone), within their limit."""
        catalogue = (info.context or {}).get("catalogue")
        if not isinstance(catalogue, Catalogue):
            return items
        for code, packs in items.items():
            spec = catalogue.by_code(code)
            if spec is None:
                continue  # reported by ItemRef
            if spec.category is ItemCategory.NALOXONE:
                raise ValueError(f"{code!r} is naloxone: people ask for it with /naloxone")
            if packs > spec.max_packs:
                raise ValueError(f"{code!r}: at most {spec.max_packs} packs")
        return items


class Kits(Spec):
    """The kits, which to offer by default, and per-area choices."""

    kits: tuple[KitSpec, ...] = ()
    default: tuple[Code, ...] = Field(default=(), max_length=MAX_SHOWN)
    areas: dict[AreaRef, tuple[Code, ...]] = Field(default_factory=dict)
    _by_code: dict[str, KitSpec] = PrivateAttr(default_factory=dict)

    @field_validator("areas")
    @classmethod
    def _few(cls, areas: dict[str, tuple[str, ...]]) -> dict[str, tuple[str, ...]]:
        for area, codes in areas.items():
            if len(codes) > MAX_SHOWN:
                raise ValueError(f"{area!r}: at most {MAX_SHOWN} kits")
        return areas

    @model_validator(mode="after")
    def _known_codes(self) -> Kits:
        codes = [kit.code for kit in self.kits]
        repeated = sorted({code for code in codes if codes.count(code) > 1})
        if repeated:
            raise ValueError(f"duplicate kit codes: {', '.join(repeated)}")
        listed = [*self.default, *(c for shown in self.areas.values() for c in shown)]
        unknown = sorted({code for code in listed if code not in codes})
        if unknown:
            raise ValueError(f"unknown kit codes: {', '.join(unknown)}")
        return self

    def model_post_init(self, context: Any, /) -> None:
        self._by_code = {kit.code: kit for kit in self.kits}

    def by_code(self, code: str) -> KitSpec | None:
        """The kit with this code, or None (codes arrive from untrusted button data)."""
        return self._by_code.get(code)

    def offered(self, area_code: str | None = None) -> list[KitSpec]:
        """The kits to offer in an area (its own list if it has one), or where it is unknown."""
        codes = self.areas.get(area_code, self.default) if area_code else self.default
        return [self._by_code[code] for code in codes]


def load_kits(path: Path, catalogue: Catalogue, gazetteer: Gazetteer) -> Kits:
    """Load ``kits.yaml``, checking items in the catalogue and areas in the gazetteer; a
    missing file means no kits."""
    if not path.exists():
        return Kits()
    document = read_yaml(path)
    context = {
        "items": catalogue.codes,
        "catalogue": catalogue,
        "areas": {area.code: area.timezone for area in gazetteer.areas},
    }
    return validate(document, Kits, context=context, problems=document.duplicates("kits", "code"))
