"""kits.yaml: common kits, checked against the catalogue and the areas."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from bot.content import Catalogue, ContentError, Gazetteer, Kits, load_content, load_kits
from tests.content.conftest import Write

GOOD = """\
    # kits
    kits:
      - code: shot
        name: Syringes + swabs
        items: {syr_1ml_29g: 1, swab: 1}
      - code: pipe
        name: Pipe
        items: {pipe_stem: 1}
    default: [shot]
    areas:
      dtes: [pipe, shot]
    """


def problems(path: Path, catalogue: Catalogue, gazetteer: Gazetteer) -> list[str]:
    with pytest.raises(ContentError) as info:
        load_kits(path, catalogue, gazetteer)
    return [str(p) for p in info.value.problems]


def test_shipped_kits(content_dir: Path) -> None:
    content = load_content(content_dir)
    kits = content.kits
    assert [k.code for k in kits.offered()] == ["inject_1ml", "smoke", "check"]
    assert kits.offered("dtes")[1].code == "inject_1ml_thin"
    assert kits.offered("kitsilano") == kits.offered()  # no list of its own
    inject = kits.by_code("inject_1ml")
    assert inject is not None
    assert inject.name == "1 ml syringes ×10 + swabs + water"
    for kit in kits.kits:
        for code in kit.items:
            assert content.catalogue.by_code(code) is not None


def test_offered_by_area(write: Write, catalogue: Catalogue, gazetteer: Gazetteer) -> None:
    kits = load_kits(write("kits.yaml", GOOD), catalogue, gazetteer)
    assert [k.code for k in kits.offered()] == ["shot"]
    assert [k.code for k in kits.offered("dtes")] == ["pipe", "shot"]
    assert kits.by_code("nope") is None


def test_no_file_no_kits(tmp_path: Path, catalogue: Catalogue, gazetteer: Gazetteer) -> None:
    assert load_kits(tmp_path / "kits.yaml", catalogue, gazetteer) == Kits()
    assert Kits().offered() == []


def test_load_content_without_kits(content_dir: Path, tmp_path: Path) -> None:
    for name in ("items.yaml", "areas.yaml", "referrals.yaml", "cards.yaml"):
        shutil.copy(content_dir / name, tmp_path / name)
    assert load_content(tmp_path).kits.offered() == []


def test_unknown_items_areas_and_kits(
    write: Write, catalogue: Catalogue, gazetteer: Gazetteer
) -> None:
    text = GOOD.replace("swab: 1", "swabz: 1").replace("dtes:", "nowhere:")
    found = problems(write("kits.yaml", text), catalogue, gazetteer)
    assert any("unknown item code 'swabz' (did you mean 'swab'?)" in p for p in found)
    assert any("unknown area 'nowhere'" in p for p in found)
    text = GOOD.replace("default: [shot]", "default: [shot, spoon]")
    [problem] = problems(write("kits.yaml", text), catalogue, gazetteer)
    assert problem.endswith("kits.yaml:2: unknown kit codes: spoon")


def test_naloxone_and_too_many_packs_are_refused(
    write: Write, catalogue: Catalogue, gazetteer: Gazetteer
) -> None:
    text = GOOD.replace("{syr_1ml_29g: 1, swab: 1}", "{nalox_nasal: 1}").replace(
        "{pipe_stem: 1}", "{pipe_stem: 9}"
    )
    found = problems(write("kits.yaml", text), catalogue, gazetteer)
    assert any("'nalox_nasal' is naloxone" in p for p in found)
    assert any("'pipe_stem': at most 3 packs" in p for p in found)


def test_duplicate_codes_and_long_lists(
    write: Write, catalogue: Catalogue, gazetteer: Gazetteer
) -> None:
    text = GOOD.replace("code: pipe", "code: shot").replace(
        "dtes: [pipe, shot]", "dtes: [shot, shot, shot, shot, shot]"
    )
    found = problems(write("kits.yaml", text), catalogue, gazetteer)
    assert any("duplicate code 'shot'" in p for p in found)
    assert any("at most 4 kits" in p for p in found)
