"""When the browser tests run: skipped without Chromium on a developer's machine, failed in CI;
screenshots only when asked for; the third-party filter (no browser needed)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.support.browser import (
    CHROMIUM,
    CHROMIUM_ENV,
    chromium_path,
    in_ci,
    require_chromium,
    third_party,
)


def _missing(tmp_path: Path) -> dict[str, str]:
    return {CHROMIUM_ENV: str(tmp_path / "no-chromium")}


def test_a_missing_browser_skips_the_browser_tests_off_ci(tmp_path: Path) -> None:
    with pytest.raises(pytest.skip.Exception, match="apt-get install chromium"):
        require_chromium(_missing(tmp_path))


@pytest.mark.parametrize("ci", ["true", "TRUE", "1"])
def test_a_missing_browser_fails_them_in_ci(tmp_path: Path, ci: str) -> None:
    with pytest.raises(pytest.fail.Exception, match="CI=true"):
        require_chromium({**_missing(tmp_path), "CI": ci})


def test_a_browser_present_is_used(tmp_path: Path) -> None:
    binary = tmp_path / "chromium"
    binary.write_text("#!/bin/sh\n")
    binary.chmod(0o755)
    assert require_chromium({CHROMIUM_ENV: str(binary), "CI": "true"}) == binary
    assert chromium_path({}) == Path(CHROMIUM)
    assert not in_ci({"CI": "false"})
    assert not in_ci({})


def test_ci_has_the_browser() -> None:
    """In CI the browser tests must have run: Chromium is there (``.ci/run`` installs it)."""
    if not in_ci():
        pytest.skip("CI only (CI=true)")
    assert os.access(chromium_path(), os.X_OK), f"no Chromium at {chromium_path()}"


def test_third_party_is_any_other_origin() -> None:
    own = "http://127.0.0.1:8000"
    urls = [
        "http://127.0.0.1:8000/console",
        "ws://127.0.0.1:8000/live",
        "data:image/png;base64,AAAA",
        "blob:http://127.0.0.1:8000/1",
        "about:blank",
        "http://127.0.0.1:8001/x.png",
        "https://127.0.0.1:8000/x.png",
        "https://fonts.example/f.woff2",
        "wss://tiles.example/",
    ]
    assert third_party(urls, own) == urls[5:]
