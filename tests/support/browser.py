"""Helpers for browser tests in a real headless Chromium (Playwright driving Debian's ``chromium``).

Playwright's own browser download is not used: it cannot be reached from every machine, and
the distribution's package is what ``.ci/run`` installs. The fixtures are in
tests/web/conftest.py; what they build on is here:

- :func:`require_chromium`: skip without the browser on a developer's machine, but fail in CI
  (``CI=true``), where the browser tests must run;
- :func:`watch_requests` and :func:`assert_no_third_party_requests`: every request a page
  makes goes to the app itself (the console must never leak a coordinator's browsing to a CDN,
  a font or a map server, and must work offline);
- :func:`screenshot`: PNGs for a human to look at, only when ``HRBOT_SCREENSHOTS`` names a
  folder (never committed).
"""

from __future__ import annotations

import os
import re
import weakref
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from playwright.async_api import BrowserContext, Page, Request, WebSocket

CHROMIUM = "/usr/bin/chromium"  # Debian's package (apt-get install chromium)
CHROMIUM_ENV = "HRBOT_CHROMIUM"  # another binary, e.g. on a machine that keeps it elsewhere
SCREENSHOTS_ENV = "HRBOT_SCREENSHOTS"
# Not a network request to anyone: the page's own data, blobs and blank pages.
LOCAL_SCHEMES = frozenset({"data", "blob", "about"})
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")


@contextmanager
def without_faketime() -> Iterator[None]:
    """``os.environ`` without libfaketime while the block runs (Playwright's driver takes
    its environment, and passes it to Chromium, when it starts).

    CI runs the suite a second time under libfaketime; preloaded into Chromium's many
    threads it made one browser test take a minute instead of a second. The browser's own
    clock does not matter: the bot's is the test's ``Clock``.
    """
    saved = dict(os.environ)
    preload = [p for p in saved.get("LD_PRELOAD", "").split() if "faketime" not in p]
    for name in [n for n in saved if n.startswith("FAKETIME")]:
        del os.environ[name]
    if preload:
        os.environ["LD_PRELOAD"] = " ".join(preload)
    else:
        os.environ.pop("LD_PRELOAD", None)
    try:
        yield
    finally:
        os.environ.clear()
        os.environ.update(saved)


def chromium_path(env: Mapping[str, str] = os.environ) -> Path:
    """The Chromium binary the tests drive."""
    return Path(env.get(CHROMIUM_ENV) or CHROMIUM)


def in_ci(env: Mapping[str, str] = os.environ) -> bool:
    """Whether this run is CI's (``.ci/run`` sets ``CI=true``, as most CI services do)."""
    return env.get("CI", "").strip().lower() in {"true", "1", "yes"}


def require_chromium(env: Mapping[str, str] = os.environ) -> Path:
    """The browser's path; without it the test is skipped, or failed in CI."""
    path = chromium_path(env)
    if path.is_file() and os.access(path, os.X_OK):
        return path
    reason = (
        f"no Chromium at {path}: browser tests need Debian's chromium package "
        f"(`sudo apt-get install chromium`, or `make browser` as root), or {CHROMIUM_ENV}"
    )
    if in_ci(env):
        pytest.fail(f"{reason}; CI=true, where the browser tests must run", pytrace=False)
    pytest.skip(reason)


@dataclass
class RequestLog:
    """Every URL the pages of one browser context asked for, in order."""

    urls: list[str] = field(default_factory=list)

    def request(self, request: Request) -> None:
        self.urls.append(request.url)

    def websocket(self, socket: WebSocket) -> None:
        self.urls.append(socket.url)


_LOGS: weakref.WeakKeyDictionary[BrowserContext, RequestLog] = weakref.WeakKeyDictionary()


def watch_requests(context: BrowserContext) -> RequestLog:
    """Record every request of every page of ``context`` from now on (the ``context``
    fixture does this for each test)."""
    log = _LOGS.get(context)
    if log is None:
        log = _LOGS[context] = RequestLog()
        context.on("request", log.request)
        context.on("page", lambda page: page.on("websocket", log.websocket))
        for page in context.pages:
            page.on("websocket", log.websocket)
    return log


def origin(url: str) -> str:
    """``scheme://host:port`` of ``url`` (the port as written, ws counted as http)."""
    parts = urlsplit(url)
    scheme = {"ws": "http", "wss": "https"}.get(parts.scheme, parts.scheme)
    return f"{scheme}://{parts.netloc}"


def third_party(urls: list[str], own: str) -> list[str]:
    """The URLs in ``urls`` that go anywhere but ``own`` (an origin)."""
    own = origin(own)
    return [url for url in urls if urlsplit(url).scheme not in LOCAL_SCHEMES and origin(url) != own]


def assert_no_third_party_requests(page: Page, *, own: str | None = None) -> None:
    """Fail when any page of ``page``'s context asked for anything from a host other than
    ``own`` (an origin such as ``live_bot.base_url``; default: the origin of the first
    request, the app the test opened first). Call it after the pages under test loaded."""
    log = _LOGS.get(page.context)
    assert log is not None, "watch_requests(context) first (the `context` fixture does)"
    if not log.urls:
        return
    own = own or log.urls[0]
    foreign = third_party(log.urls, own)
    assert not foreign, f"requests to hosts other than {origin(own)}: {foreign}"


async def screenshot(page: Page, name: str, env: Mapping[str, str] = os.environ) -> Path | None:
    """Save the whole page as ``<HRBOT_SCREENSHOTS>/<name>.png``; nothing when unset.

    ``name``: letters, digits, ``.``, ``_``, ``-`` (include the database and language when a
    test runs on several, or the last run overwrites the others).
    """
    folder = env.get(SCREENSHOTS_ENV)
    if not _NAME.fullmatch(name):
        raise ValueError(f"screenshot name {name!r}: use letters, digits, '.', '_', '-'")
    if not folder:
        return None
    path = Path(folder) / f"{name}.png"
    path.parent.mkdir(parents=True, exist_ok=True)
    await page.screenshot(path=str(path), full_page=True)
    return path
