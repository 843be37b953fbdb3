from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from pydantic import ValidationError

from bot.content import Catalogue, ContentError, ItemCategory, ItemSpec, load_catalogue

Write = Callable[[str, str], Path]  # the `write` fixture (conftest.py)


GOOD = """\
items:
  - code: syr_1ml_29g
    category: equipment
    name: 1 ml syringe 29G
    pack_size: 10
    unit: syringes
  - code: nalox_nasal
    category: naloxone
    name: Nasal naloxone
    pack_size: 1
    unit: kit
    max_packs: 2
"""


def problems(path: Path) -> list[str]:
    with pytest.raises(ContentError) as info:
        load_catalogue(path)
    return [str(p) for p in info.value.problems]


def test_shipped_catalogue(catalogue: Catalogue) -> None:
    assert len(catalogue.items) >= 20
    for category in ItemCategory:
        assert catalogue.in_category(category), category
    assert {i.code for i in catalogue.in_category("naloxone")} == {"nalox_inj", "nalox_nasal"}
    for item in catalogue.items:
        # Codes travel in Telegram callback data (64 bytes) next to a verb and a count.
        assert len(f"req:add:{item.code}:99".encode()) <= 64


def test_lookup(write: Write) -> None:
    catalogue = load_catalogue(write("items.yaml", GOOD))
    item = catalogue.by_code("nalox_nasal")
    assert item is not None
    assert item.max_packs == 2
    assert item.category is ItemCategory.NALOXONE
    assert catalogue.by_code("syr_1ml_29g") == catalogue.items[0]
    assert catalogue.items[0].max_packs == 5  # default
    assert catalogue.by_code("nope") is None
    assert catalogue.codes == {"syr_1ml_29g", "nalox_nasal"}
    assert catalogue.in_category(ItemCategory.DISPOSAL) == []


def test_models_are_frozen(write: Write) -> None:
    catalogue = load_catalogue(write("items.yaml", GOOD))
    with pytest.raises(ValidationError):
        catalogue.items[0].pack_size = 3  # type: ignore[misc]


def test_bad_pack_size_reports_file_line_field(write: Write) -> None:
    path = write("items.yaml", GOOD.replace("pack_size: 1\n", "pack_size: 0\n"))
    assert problems(path) == [
        f"{path}:10: items[1].pack_size: Input should be greater than or equal to 1"
    ]


def test_all_problems_in_a_file_are_reported(write: Write) -> None:
    text = GOOD.replace("category: equipment", "category: food").replace("unit: kit", "unit: ''")
    path = write("items.yaml", text)
    assert problems(path) == [
        f"{path}:3: items[0].category: Input should be 'equipment', 'naloxone', 'test_strips'"
        " or 'disposal'",
        f"{path}:11: items[1].unit: String should have at least 1 character",
    ]


def test_duplicate_code(write: Write) -> None:
    path = write("items.yaml", GOOD.replace("code: nalox_nasal", "code: syr_1ml_29g"))
    assert problems(path) == [
        f"{path}:7: items[1].code: duplicate code 'syr_1ml_29g' (first on line 2)"
    ]


@pytest.mark.parametrize(
    ("code", "message"),
    [
        ("Syr", "String should match pattern '^[a-z0-9_]+$'"),
        ("syr-1ml", "String should match pattern '^[a-z0-9_]+$'"),
        ("a" * 25, "String should have at most 24 characters"),
        ("''", "String should have at least 1 character"),
        ("123", "Input should be a valid string"),
    ],
)
def test_bad_code(write: Write, code: str, message: str) -> None:
    path = write("items.yaml", GOOD.replace("code: syr_1ml_29g", f"code: {code}"))
    assert problems(path) == [f"{path}:2: items[0].code: {message}"]


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("'   '", "String should have at least 1 character"),
        ("x" * 41, "String should have at most 40 characters"),
        ('"bad\\u0007bell"', "must not contain control characters"),
        ('"two\\nlines"', "must not contain control characters"),
    ],
)
def test_bad_name(write: Write, name: str, message: str) -> None:
    path = write("items.yaml", GOOD.replace("name: 1 ml syringe 29G", f"name: {name}"))
    assert problems(path) == [f"{path}:4: items[0].name: {message}"]


def test_name_is_stripped(write: Write) -> None:
    catalogue = load_catalogue(write("items.yaml", GOOD.replace("29G", "29G   ")))
    assert catalogue.items[0].name == "1 ml syringe 29G"


def test_boolean_is_not_a_number(write: Write) -> None:
    path = write("items.yaml", GOOD.replace("pack_size: 10", "pack_size: yes"))
    assert problems(path) == [f"{path}:5: items[0].pack_size: expected a number, not true/false"]


def test_missing_field_reported_at_the_item(write: Write) -> None:
    path = write("items.yaml", GOOD.replace("    unit: syringes\n", ""))
    assert problems(path) == [f"{path}:2: items[0].unit: Field required"]


def test_unknown_field_is_named(write: Write) -> None:
    path = write("items.yaml", GOOD.replace("    unit: kit\n", "    unit: kit\n    colour: red\n"))
    [problem] = problems(path)
    assert problem.startswith(f"{path}:12: items[1].colour: unknown field (allowed: code,")


def test_unknown_top_level_key(write: Write) -> None:
    path = write("items.yaml", GOOD.replace("items:", "itemz:"))
    assert problems(path) == [
        f"{path}:1: items: Field required",
        f"{path}:1: itemz: unknown field (allowed: items)",
    ]


def test_no_items(write: Write) -> None:
    path = write("items.yaml", "items: []\n")
    assert problems(path) == [
        f"{path}:1: items: Tuple should have at least 1 item after validation, not 0"
    ]


def test_direct_construction_rejects_duplicate_codes() -> None:
    item = ItemSpec(code="a", category=ItemCategory.EQUIPMENT, name="A", pack_size=1, unit="x")
    with pytest.raises(ValidationError, match="duplicate item codes: a"):
        Catalogue(items=(item, item))
