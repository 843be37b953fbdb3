"""One clock: only the composition roots read the wall clock; everything else is given ``now``.

The time-shifted CI pass (``.ci/run``) proves the suite does not depend on the date; this test
names the line that would read the wall clock behind a caller's back, before any date comes.
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

# Where the wall clock may be read: the command line and the demo build the running bot and hand
# their clock down; the emulators stand in for Telegram's and Signal's own servers.
ALLOWED = {
    "bot/cli.py",
    "bot/demo.py",
    "bot/db/base.py",  # defines utcnow(), the wall clock the roots pass down
}
ALLOWED_DIRS = ("bot/emulator/", "bot/signal_emulator/")

WALL_CLOCK = {
    ("datetime", "now"),
    ("datetime", "utcnow"),
    ("datetime", "today"),
    ("date", "today"),
    ("time", "time"),
    ("time", "time_ns"),
    ("time", "localtime"),
    ("time", "gmtime"),
}


def wall_clock_reads(source: str) -> list[tuple[int, str]]:
    """Line and name of every wall-clock read in ``source`` (calls and ``default=utcnow``)."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name):
            if (node.value.id, node.attr) in WALL_CLOCK:
                found.append((node.lineno, f"{node.value.id}.{node.attr}"))
        elif isinstance(node, ast.Name) and node.id == "utcnow":
            found.append((node.lineno, "utcnow"))
    return found


def test_the_detector_sees_each_kind_of_read() -> None:
    source = (
        "from datetime import datetime, UTC\nimport time\n"
        "a = datetime.now(UTC)\nb = time.time()\nc = mapped_column(default=utcnow)\n"
        "def f(now=None):\n    return now or utcnow()\n"
    )
    assert [name for _, name in wall_clock_reads(source)] == [
        "datetime.now",
        "time.time",
        "utcnow",
        "utcnow",
    ]


def test_only_the_composition_roots_read_the_wall_clock() -> None:
    offenders = []
    for folder in ("bot", "handlers"):
        for path in sorted((ROOT / folder).rglob("*.py")):
            name = path.relative_to(ROOT).as_posix()
            if name in ALLOWED or name.startswith(ALLOWED_DIRS):
                continue
            offenders += [
                f"{name}:{line}: {what}"
                for line, what in wall_clock_reads(path.read_text(encoding="utf-8"))
            ]
    assert offenders == [], "read the caller's `now` or the engine's clock instead"
