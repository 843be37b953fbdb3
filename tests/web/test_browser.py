"""The browser-test fixtures in a real headless Chromium: a live bot's /healthz rendered on
both databases, and the third-party request guard failing on a page that asks elsewhere."""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio
from playwright.async_api import Page
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import Route

from bot.web.server import WebServer
from tests.support.browser import assert_no_third_party_requests, screenshot
from tests.web.conftest import LiveBot

pytestmark = pytest.mark.asyncio(loop_scope="session")

PIXEL = bytes.fromhex(  # a 1×1 transparent PNG
    "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
    "1f15c4890000000d49444154789c63000100000500010d0a2db40000000049454e44ae426082"
)


async def test_healthz_renders_in_chromium(live_bot: LiveBot, page: Page) -> None:
    answer = await page.goto(live_bot.url("/healthz"))
    assert answer is not None
    assert answer.status == 200
    body = json.loads(await page.locator("body").inner_text())
    assert body["ok"] is True
    assert body["checks"]["database"] == {"ok": True, "detail": "answers"}
    assert_no_third_party_requests(page, own=live_bot.base_url)
    await screenshot(page, f"healthz-{live_bot.backend}")


@pytest_asyncio.fixture(loop_scope="session")
async def leaky_site() -> AsyncIterator[str]:
    """A tiny app whose page loads one picture from itself and, at /leaky, one from another
    host; its base URL."""

    async def page_(request: Request) -> Response:
        src = "http://example.invalid/x.png" if request.path_params["name"] == "leaky" else "/x.png"
        return HTMLResponse(f'<!doctype html><title>t</title><img src="{src}" alt="">')

    async def pixel(request: Request) -> Response:
        return Response(PIXEL, media_type="image/png")

    app = Starlette(routes=[Route("/x.png", pixel), Route("/{name}", page_)])
    server = WebServer(app, "127.0.0.1", 0)
    await server.start()
    try:
        yield f"http://127.0.0.1:{server.port}"
    finally:
        await server.stop()


async def test_the_third_party_guard_fails_on_a_request_to_another_host(
    leaky_site: str, page: Page
) -> None:
    await page.goto(f"{leaky_site}/tidy")  # the picture from the app itself passes
    assert_no_third_party_requests(page)
    assert_no_third_party_requests(page, own=leaky_site)

    async with page.expect_request("http://example.invalid/x.png"):
        await page.goto(f"{leaky_site}/leaky", wait_until="domcontentloaded")
    with pytest.raises(AssertionError, match=r"example\.invalid"):
        assert_no_third_party_requests(page)
    # The app's own host on another port is another origin too.
    with pytest.raises(AssertionError, match=re.escape(f"{leaky_site}/tidy")):
        assert_no_third_party_requests(page, own="http://127.0.0.1:1")


async def test_screenshots_are_saved_only_when_asked_for(
    leaky_site: str, page: Page, tmp_path: Path
) -> None:
    await page.goto(f"{leaky_site}/tidy")
    assert await screenshot(page, "tidy", env={}) is None
    saved = await screenshot(page, "tidy", env={"HRBOT_SCREENSHOTS": str(tmp_path / "shots")})
    assert saved == tmp_path / "shots" / "tidy.png"
    assert saved.read_bytes().startswith(b"\x89PNG")
    with pytest.raises(ValueError, match="name"):
        await screenshot(page, "../escape", env={"HRBOT_SCREENSHOTS": str(tmp_path)})
