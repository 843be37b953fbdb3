from __future__ import annotations

import contextlib
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.content import Content, ContentError, load_catalogue, load_content
from bot.content.source import LineDict, LineList, field_path, read_yaml

Write = Callable[[str, str], Path]  # the `write` fixture (conftest.py)


ITEM = """\
items:
  - code: swab
    category: equipment
    name: Alcohol swabs
    pack_size: 20
    unit: swabs
"""


def problems(path: Path) -> list[str]:
    with pytest.raises(ContentError) as info:
        load_catalogue(path)
    return [str(p) for p in info.value.problems]


def test_shipped_content_loads(content_dir: Path) -> None:
    content = load_content(content_dir)
    assert isinstance(content, Content)
    assert content.catalogue.by_code("nalox_nasal") is not None
    assert content.gazetteer.find("DTES") is not None
    assert content.directory.of_type("ost")


def test_every_shipped_file_says_it_is_demo_data(content_dir: Path) -> None:
    for path in content_dir.iterdir():
        if path.suffix in (".yaml", ".csv"):
            head = path.read_text(encoding="utf-8")[:400]
            assert head.startswith("#"), path
            assert "DEMO DATA" in head, path


def test_shipped_areas_and_referrals_are_marked_demo(content_dir: Path, tmp_path: Path) -> None:
    """The start-up report warns while ``demo: true`` is there; a group's own files, which
    do not have it, are not demo."""
    shipped = load_content(content_dir)
    assert shipped.gazetteer.demo
    assert shipped.directory.demo
    for name in ("items.yaml", "areas.yaml", "referrals.yaml", "cards.yaml"):
        text = (content_dir / name).read_text(encoding="utf-8")
        (tmp_path / name).write_text(text.replace("demo: true\n", ""), encoding="utf-8")
    own = load_content(tmp_path)
    assert not own.gazetteer.demo
    assert not own.directory.demo


def test_load_content_reports_every_broken_file(
    content_dir: Path, tmp_path: Path, write: Write
) -> None:
    for name in ("items.yaml", "areas.yaml", "referrals.yaml"):
        shutil.copy(content_dir / name, tmp_path / name)
    write("items.yaml", ITEM.replace("pack_size: 20", "pack_size: 0"))
    areas = (tmp_path / "areas.yaml").read_text(encoding="utf-8")
    (tmp_path / "areas.yaml").write_text(areas.replace("radius_km: 0.8", "radius_km: -1"))
    with pytest.raises(ContentError) as info:
        load_content(tmp_path)
    files = [Path(p.file).name for p in info.value.problems]
    assert files == ["items.yaml", "areas.yaml"]
    assert [p.field for p in info.value.problems] == ["items[0].pack_size", "areas[0].radius_km"]


def test_load_content_checks_referrals_against_areas(content_dir: Path, tmp_path: Path) -> None:
    for name in ("items.yaml", "areas.yaml", "referrals.yaml"):
        shutil.copy(content_dir / name, tmp_path / name)
    referrals = (tmp_path / "referrals.yaml").read_text(encoding="utf-8")
    (tmp_path / "referrals.yaml").write_text(referrals.replace("area: dtes", "area: atlantis", 1))
    with pytest.raises(ContentError) as info:
        load_content(tmp_path)
    [problem] = info.value.problems
    assert problem.field == "services[0].area"
    assert problem.message == "unknown area 'atlantis'"


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ContentError) as info:
        load_content(tmp_path)
    assert [str(p) for p in info.value.problems] == [
        f"{tmp_path / 'items.yaml'}: file not found",
        f"{tmp_path / 'areas.yaml'}: file not found",
    ]


def test_yaml_syntax_error(write: Write) -> None:
    path = write("items.yaml", ITEM.replace("name: Alcohol swabs", "name: [Alcohol swabs"))
    assert problems(path) == [
        f"{path}:5: YAML syntax error: while parsing a flow sequence, expected ',' or ']',"
        " but got ':'"
    ]


def test_yaml_tab_indentation(write: Write) -> None:
    path = write("items.yaml", ITEM.replace("    unit: swabs", "\tunit: swabs"))
    [problem] = problems(path)
    assert problem.startswith(f"{path}:6: YAML syntax error:")


@pytest.mark.parametrize("text", ["", "\n\n", "# just a comment\n", "---\n", "null\n"])
def test_empty_file(write: Write, text: str) -> None:
    path = write("items.yaml", text)
    assert problems(path) == [f"{path}: file is empty"]


@pytest.mark.parametrize("text", ["- a\n- b\n", "just text\n", "42\n"])
def test_top_level_must_be_a_mapping(write: Write, text: str) -> None:
    path = write("items.yaml", text)
    assert problems(path) == [f"{path}:1: expected a mapping at the top level"]


def test_more_than_one_document(write: Write) -> None:
    path = write("items.yaml", ITEM + "---\n" + ITEM)
    [problem] = problems(path)
    assert problem == (
        f"{path}:7: YAML syntax error: expected a single document in the stream,"
        " but found another document"
    )


def test_duplicate_keys_are_all_reported(write: Write) -> None:
    text = ITEM.replace("    unit: swabs\n", "    unit: swabs\n    name: Swabs\n") + "items: []\n"
    path = write("items.yaml", text)
    assert problems(path) == [
        f"{path}:7: items[0].name: duplicate key (first on line 4)",
        f"{path}:8: items: duplicate key (first on line 1)",
    ]


def test_merge_keys_may_be_overridden(write: Write) -> None:
    text = ITEM.replace("  - code: swab", "  - &kit\n    code: swab") + (
        "  - <<: *kit\n    code: swab_big\n    pack_size: 50\n"
    )
    catalogue = load_catalogue(write("items.yaml", text))
    big = catalogue.by_code("swab_big")
    assert big is not None
    assert (big.pack_size, big.unit) == (50, "swabs")


def test_repeated_key_in_merge_is_still_a_duplicate(write: Write) -> None:
    text = ITEM.replace("  - code: swab", "  - &kit\n    code: swab") + (
        "  - <<: *kit\n    code: swab_big\n    code: swab_bigger\n"
    )
    path = write("items.yaml", text)
    assert problems(path) == [f"{path}:10: items[1].code: duplicate key (first on line 9)"]


def test_unhashable_key(write: Write) -> None:
    path = write("items.yaml", "? [a, b]\n: 1\n")
    assert problems(path) == [f"{path}:1: YAML syntax error: a mapping key must be a plain value"]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("a: &x\n  b: *x\n", ":1: YAML syntax error: found unconstructable recursive node"),
        ("items: " + "[" * 5000 + "]" * 5000 + "\n", ": YAML nested too deeply"),
        ("items: \x00\n", ": YAML syntax error: unacceptable character #x0000"),
    ],
)
def test_hostile_yaml_is_a_content_error(write: Write, text: str, expected: str) -> None:
    path = write("items.yaml", text)
    [problem] = problems(path)
    assert problem.startswith(f"{path}{expected}")


def test_not_utf8(tmp_path: Path) -> None:
    path = tmp_path / "items.yaml"
    path.write_bytes(b"items:\n  - name: caf\xe9\n")
    [problem] = problems(path)
    assert problem.startswith(f"{path}: not UTF-8 text")


def test_lines_are_recorded(write: Write) -> None:
    document = read_yaml(write("items.yaml", ITEM))
    items = document.data["items"]
    assert isinstance(document.data, LineDict)
    assert isinstance(items, LineList)
    assert items.item_lines == [2]
    assert items[0].key_lines["unit"] == 6
    assert document.locate(("items", 0, "pack_size")) == 5
    assert document.locate(("items", 0, "missing")) == 2
    assert document.locate(("items", 7, "code")) == 1


def test_field_path() -> None:
    assert field_path(("items", 3, "pack_size")) == "items[3].pack_size"
    assert field_path(("outlets", 0, "stock", "fts", "[key]")) == "outlets[0].stock.fts"
    assert field_path(()) == ""


_YAMLISH = st.lists(
    st.sampled_from(["items:", "\n", "  - ", "code: ", "swab", "pack_size: ", "0", "10", ": ", "[",
                     "]", "{", "&a ", "*a", "<<: ", "'", '"', "\t", "#", "- ", "unit: x", "\x00"]),
    max_size=30,
).map("".join)  # fmt: skip


@settings(suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(st.text(max_size=200) | _YAMLISH)
def test_any_file_text_loads_or_raises_content_error(text: str) -> None:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "items.yaml"
        path.write_text(text, encoding="utf-8", errors="surrogatepass")
        with contextlib.suppress(ContentError):  # anything else fails the test
            load_catalogue(path)
