"""The /broadcast handler modules, and the alerts service package, import each other without
a circle.

A circle (even through an import inside a function) means no module of it can be read or
changed alone; issue 17 broke one between ``broadcast``, ``broadcast_followup`` and
``broadcast_languages``. Imports are read from the source, so an import hidden in a function
counts too.
"""

from __future__ import annotations

import ast
from collections.abc import Mapping
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def imported_modules(source: str, package: str) -> set[str]:
    """Dotted names of modules under ``package`` that ``source`` imports, anywhere in it."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
            # ``from handlers import broadcast`` imports the module handlers.broadcast
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
    return {name for name in found if name.startswith(package + ".")}


def import_graph(directory: Path, package: str, pattern: str) -> dict[str, set[str]]:
    """Module → the modules among those matching ``pattern`` in ``directory`` it imports."""
    modules = {
        f"{package}.{path.stem}": path.read_text(encoding="utf-8")
        for path in sorted(directory.glob(pattern))
        if path.stem != "__init__"
    }
    return {
        name: imported_modules(source, package) & set(modules) - {name}
        for name, source in modules.items()
    }


def find_cycle(graph: Mapping[str, set[str]]) -> list[str] | None:
    """One circle of imports in ``graph``, as the modules along it, or None."""
    done: set[str] = set()
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        if node in path:
            return [*path[path.index(node) :], node]
        if node in done:
            return None
        path.append(node)
        for target in sorted(graph.get(node, ())):
            if (cycle := visit(target)) is not None:
                return cycle
        path.pop()
        done.add(node)
        return None

    for start in sorted(graph):
        if (cycle := visit(start)) is not None:
            return cycle
    return None


def test_find_cycle_sees_a_circle_through_three_modules() -> None:
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert find_cycle(graph) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set(), "c": {"a", "b"}}) is None


def test_an_import_inside_a_function_counts() -> None:
    source = "def f():\n    from handlers import broadcast_languages\n"
    assert "handlers.broadcast_languages" in imported_modules(source, "handlers")


@pytest.mark.parametrize(
    ("directory", "package", "pattern"),
    [
        ("handlers", "handlers", "broadcast*.py"),
        ("bot/services/alerts", "bot.services.alerts", "*.py"),
    ],
)
def test_no_import_circle(directory: str, package: str, pattern: str) -> None:
    graph = import_graph(ROOT / directory, package, pattern)
    assert len(graph) > 3, "the modules were not found"
    assert find_cycle(graph) is None
