"""The fake Bot API's files and photos, over raw HTTP: getFile and downloads, sendPhoto's
multipart upload and its limits, and its refusal of photos with hidden data."""

from __future__ import annotations

import io
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest

from bot.emulator import TelegramEmulator
from bot.privacy.images import strip_image
from tests.support.images import tagged_jpeg


@pytest.fixture
async def emu() -> AsyncIterator[TelegramEmulator]:
    async with TelegramEmulator(seed=4) as emulator:
        yield emulator


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


async def _send_photo(
    emu: TelegramEmulator, http: aiohttp.ClientSession, chat_id: int, photo: bytes, **extra: str
) -> tuple[int, dict[str, Any]]:
    form = aiohttp.FormData()
    form.add_field("chat_id", str(chat_id))
    for key, value in extra.items():
        form.add_field(key, value)
    form.add_field("photo", io.BytesIO(photo), filename="photo.jpg", content_type="image/jpeg")
    async with http.post(emu.api_url("sendPhoto"), data=form) as response:
        return response.status, await response.json()


async def test_get_file_then_download(emu: TelegramEmulator, http: aiohttp.ClientSession) -> None:
    stored = emu.store_file(b"\xff\xd8 some bytes")
    async with http.post(emu.api_url("getFile"), data={"file_id": stored.file_id}) as response:
        answer = await response.json()
    assert answer["ok"]
    assert answer["result"]["file_size"] == len(stored.data)
    url = f"http://{emu.host}:{emu.port}/file/bot{emu.token}/{answer['result']['file_path']}"
    async with http.get(url) as response:
        assert await response.read() == stored.data
    assert emu.downloads == [stored.file_id]
    async with http.post(emu.api_url("getFile"), data={"file_id": "nope"}) as response:
        assert response.status == 400
        assert (await response.json())["description"] == "Bad Request: invalid file_id"
    async with http.get(url.replace(emu.token, "1:wrong")) as response:
        assert response.status == 401


async def test_send_photo_records_the_upload(
    emu: TelegramEmulator, http: aiohttp.ClientSession
) -> None:
    ana = emu.user("ana")
    ana.started = True
    clean = strip_image(tagged_jpeg())
    status, answer = await _send_photo(emu, http, ana.id, clean, caption="Heading")
    assert status == 200
    assert answer["result"]["caption"] == "Heading"
    assert answer["result"]["photo"][0]["file_size"] == len(clean)
    assert ana.last.photo == clean
    assert ana.last.text == "Heading"


async def test_send_photo_limits(emu: TelegramEmulator, http: aiohttp.ClientSession) -> None:
    ana = emu.user("ana")
    ana.started = True
    clean = strip_image(tagged_jpeg())
    status, answer = await _send_photo(emu, http, ana.id, clean, caption="x" * 1025)
    assert (status, answer["description"]) == (400, "Bad Request: message caption is too long")
    status, answer = await _send_photo(emu, http, ana.id, b"\xff\xd8" + b"\0" * (10 << 20))
    assert status == 413
    status, answer = await _send_photo(emu, http, ana.id, b"garbage")
    assert answer["description"] == "Bad Request: IMAGE_PROCESS_FAILED"
    status, answer = await _send_photo(emu, http, ana.id, tagged_jpeg())
    assert status == 400
    assert "hidden data" in answer["description"]
    assert emu.metadata_refused == [["exif", "xmp", "icc", "comment"]]
    assert ana.transcript == []
