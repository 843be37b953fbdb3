"""The fake signal-cli-rest-api's attachments: files people sent (GET and DELETE
``/v1/attachments/{id}``) and ``base64_attachments`` on ``/v2/send``, refused when an image
still carries hidden data."""

from __future__ import annotations

import base64
import json
from collections.abc import AsyncIterator

import aiohttp
import pytest

from bot.privacy.images import strip_image
from bot.signal_emulator import SignalEmulator
from tests.support.images import tagged_jpeg


@pytest.fixture
async def emu() -> AsyncIterator[SignalEmulator]:
    async with SignalEmulator(seed=4) as emulator:
        yield emulator


async def test_fetch_then_delete_an_attachment(emu: SignalEmulator) -> None:
    ident = emu.attachment_id("image/jpeg")
    emu.attachments[ident] = b"\xff\xd8 photo"
    url = f"http://{emu.service}/v1/attachments/{ident}"
    async with aiohttp.ClientSession() as http:
        async with http.get(url) as response:
            assert await response.read() == b"\xff\xd8 photo"
        async with http.delete(url) as response:
            assert response.status == 204
        async with http.get(url) as response:
            assert response.status == 400
    assert emu.fetched == [ident]


@pytest.mark.parametrize(
    "prefix", ["data:image/jpeg;base64,", "data:image/jpeg;filename=a.jpg;base64,", ""]
)
async def test_base64_attachments_arrive_decoded(emu: SignalEmulator, prefix: str) -> None:
    sam = emu.person("sam")
    clean = strip_image(tagged_jpeg())
    body = {
        "message": "alert",
        "number": emu.number,
        "recipients": [sam.uuid],
        "base64_attachments": [prefix + base64.b64encode(clean).decode()],
    }
    async with (
        aiohttp.ClientSession() as http,
        http.post(f"http://{emu.service}/v2/send", data=json.dumps(body)) as response,
    ):
        assert response.status == 201
    assert sam.last.attachments == (("image/jpeg", clean),)


async def test_an_image_with_hidden_data_is_refused(emu: SignalEmulator) -> None:
    sam = emu.person("sam")
    body = {
        "message": "alert",
        "number": emu.number,
        "recipients": [sam.uuid],
        "base64_attachments": [
            "data:image/jpeg;base64," + base64.b64encode(tagged_jpeg()).decode()
        ],
    }
    async with (
        aiohttp.ClientSession() as http,
        http.post(f"http://{emu.service}/v2/send", data=json.dumps(body)) as response,
    ):
        assert response.status == 400
    assert emu.metadata_refused
    assert "xmp" in emu.metadata_refused[0]
    assert sam.inbox == []
