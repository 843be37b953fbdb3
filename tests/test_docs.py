"""README and docs point only at files inside the repository, and those files exist."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
LINK = re.compile(r"\]\(([^)\s]+)\)")
PATH_IN_CODE = re.compile(r"`(\.\./[^`]*)`")


def local_targets(doc: Path) -> list[str]:
    """Link targets of ``doc`` that are files (not web pages or anchors)."""
    text = doc.read_text(encoding="utf-8")
    targets = [t for t in LINK.findall(text) if not re.match(r"[a-z]+:|#", t)]
    return targets + PATH_IN_CODE.findall(text)


def test_docs_link_only_to_files_in_the_repository() -> None:
    docs = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
    broken = []
    for doc in docs:
        for target in local_targets(doc):
            path = (doc.parent / target.split("#")[0]).resolve()
            if not path.is_relative_to(ROOT) or not path.exists():
                broken.append(f"{doc.name}: {target}")
    assert broken == []


def test_the_check_sees_a_link_out_of_the_repository(tmp_path: Path) -> None:
    doc = tmp_path / "x.md"
    doc.write_text("See `../shared/DESIGN.md` and [this](../a.md), [web](https://x.org).\n")
    assert local_targets(doc) == ["../a.md", "../shared/DESIGN.md"]
