"""The item catalogue: what can be requested, in what packs."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import Field, PrivateAttr, model_validator

from bot.content.fields import Code, Note, PositiveCount, ShortName, Spec, Unit
from bot.content.source import read_yaml, validate
from bot.domain import ItemCategory

__all__ = ["Catalogue", "ItemCategory", "ItemSpec", "load_catalogue"]


class ItemSpec(Spec):
    """One requestable item, counted in packs."""

    code: Code
    category: ItemCategory
    name: ShortName
    pack_size: PositiveCount
    unit: Unit
    max_packs: PositiveCount = 5
    description: Note | None = None


class Catalogue(Spec):
    """All items, in file order, with lookup by code."""

    items: tuple[ItemSpec, ...] = Field(min_length=1)
    _by_code: dict[str, ItemSpec] = PrivateAttr(default_factory=dict)

    @model_validator(mode="after")
    def _unique_codes(self) -> Catalogue:
        codes = [item.code for item in self.items]
        repeated = sorted({code for code in codes if codes.count(code) > 1})
        if repeated:
            raise ValueError(f"duplicate item codes: {', '.join(repeated)}")
        return self

    def model_post_init(self, context: Any, /) -> None:
        self._by_code = {item.code: item for item in self.items}

    @property
    def codes(self) -> frozenset[str]:
        """Every item code."""
        return frozenset(self._by_code)

    def by_code(self, code: str) -> ItemSpec | None:
        """The item with this code, or None (codes arrive from untrusted callback data)."""
        return self._by_code.get(code)

    def in_category(self, category: ItemCategory | str) -> list[ItemSpec]:
        """Items of one category, in file order."""
        return [item for item in self.items if item.category == category]


def load_catalogue(path: Path) -> Catalogue:
    """Load and validate ``items.yaml`` (top-level key ``items``)."""
    document = read_yaml(path)
    return validate(document, Catalogue, problems=document.duplicates("items", "code"))
