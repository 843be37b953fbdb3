"""Folders and files only their owner may open: the data folder 0700, what is in it 0600.

The database, its WAL and shared-memory side files, the status file and the key say who
uses the bot (or how to find out); another account on the same machine must not read them.
"""

from __future__ import annotations

import logging
import os
import stat
from pathlib import Path

log = logging.getLogger(__name__)

PRIVATE_DIR = 0o700
PRIVATE_FILE = 0o600
OPEN_TO_OTHERS = 0o077  # any permission for the group or everyone else


def private_dir(path: Path) -> None:
    """Create ``path`` (and missing parents) as 0700, or take group and others' access off
    an existing one.

    Parents created here are 0700 too (``mkdir -p`` would give them the umask's mode); an
    existing folder the process does not own is left as it is, with a warning.
    """
    missing = []
    for folder in (path, *path.parents):
        if folder.exists():
            break
        missing.append(folder)
    for folder in reversed(missing):
        folder.mkdir(mode=PRIVATE_DIR, exist_ok=True)
    tighten(path, PRIVATE_DIR)


def private_file(path: Path) -> None:
    """Create ``path`` empty as 0600 unless it exists; take group and others' access off it."""
    try:
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, PRIVATE_FILE))
    except FileExistsError:
        tighten(path, PRIVATE_FILE)


def tighten(path: Path, mode: int) -> None:
    """``chmod mode`` when group or others may open ``path``; a warning when that fails."""
    try:
        current = stat.S_IMODE(path.stat().st_mode)
    except FileNotFoundError:
        return
    if not current & OPEN_TO_OTHERS:
        return
    try:
        path.chmod(mode)
    except OSError as exc:
        log.warning("cannot make %s private (chmod %o): %s", path, mode, exc.strerror or exc)


def open_to_others(path: Path) -> bool:
    """Whether the group or everyone else may open ``path``."""
    return bool(stat.S_IMODE(path.stat().st_mode) & OPEN_TO_OTHERS)
