"""Fixtures for content tests: the shipped content, and planted files in tmp_path."""

from __future__ import annotations

import textwrap
from collections.abc import Callable
from pathlib import Path

import pytest

from bot.content import Catalogue, Gazetteer, load_catalogue, load_gazetteer

CONTENT_DIR = Path(__file__).resolve().parents[2] / "content"

Write = Callable[[str, str], Path]


@pytest.fixture
def write(tmp_path: Path) -> Write:
    """Write dedented text to ``tmp_path/name`` and return the path (line 1 = first text line)."""

    def _write(name: str, text: str) -> Path:
        path = tmp_path / name
        path.write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")
        return path

    return _write


@pytest.fixture(scope="session")
def content_dir() -> Path:
    """The shipped content directory."""
    return CONTENT_DIR


@pytest.fixture(scope="session")
def catalogue() -> Catalogue:
    return load_catalogue(CONTENT_DIR / "items.yaml")


@pytest.fixture(scope="session")
def gazetteer() -> Gazetteer:
    return load_gazetteer(CONTENT_DIR / "areas.yaml")
