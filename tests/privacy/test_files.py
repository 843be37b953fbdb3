"""Private folders and files: 0700 and 0600, made so or tightened."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from bot.privacy.files import private_dir, private_file


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_private_dir_creates_every_missing_folder_0700(tmp_path: Path) -> None:
    private_dir(tmp_path / "a" / "b" / "data")
    assert [_mode(p) for p in (tmp_path / "a", tmp_path / "a" / "b", tmp_path / "a/b/data")] == [
        0o700
    ] * 3


def test_private_dir_tightens_an_open_folder_and_leaves_its_parents(tmp_path: Path) -> None:
    tmp_path.chmod(0o755)
    data = tmp_path / "data"
    data.mkdir(mode=0o755)
    data.chmod(0o755)
    private_dir(data)
    assert _mode(data) == 0o700
    assert _mode(tmp_path) == 0o755


def test_private_file_is_created_0600_or_tightened(tmp_path: Path) -> None:
    new = tmp_path / "new"
    private_file(new)
    assert (_mode(new), new.read_bytes()) == (0o600, b"")
    old = tmp_path / "old"
    old.write_text("kept")
    old.chmod(0o644)
    private_file(old)
    assert (_mode(old), old.read_text()) == (0o600, "kept")


def test_a_folder_that_cannot_be_tightened_is_a_warning(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    shared = tmp_path / "shared"
    shared.mkdir()
    shared.chmod(0o755)

    def refuse(self: Path, mode: int) -> None:
        raise PermissionError(1, "Operation not permitted")

    monkeypatch.setattr(Path, "chmod", refuse)
    private_dir(shared)
    assert f"cannot make {shared} private (chmod 700): Operation not permitted" in caplog.text
