"""The signal-cli-rest-api emulator on its own, driven by a plain aiohttp client."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest

from bot.signal_emulator import (
    RATE_LIMIT_ERROR,
    FaultKind,
    MapStyle,
    MessageLost,
    SentMessage,
    SignalEmulator,
    SignalFaults,
    Unregistered,
    maps_link,
)


@pytest.fixture
async def emu() -> AsyncIterator[SignalEmulator]:
    emulator = SignalEmulator(seed=3)
    await emulator.start()
    try:
        yield emulator
    finally:
        await emulator.stop()


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


def url(emu: SignalEmulator, path: str) -> str:
    return f"http://{emu.service}{path}"


async def send(
    http: aiohttp.ClientSession, emu: SignalEmulator, body: dict[str, Any] | str
) -> tuple[int, Any]:
    """POST /v2/send the way signalbot does: JSON text without a JSON content type."""
    data = body if isinstance(body, str) else json.dumps(body)
    async with http.post(url(emu, "/v2/send"), data=data) as response:
        return response.status, await response.json(content_type=None)


def message(emu: SignalEmulator, *recipients: str, text: str = "hello") -> dict[str, Any]:
    return {"message": text, "number": emu.number, "recipients": list(recipients)}


async def test_service_endpoints(emu: SignalEmulator, http: aiohttp.ClientSession) -> None:
    async with http.get(url(emu, "/v1/health")) as response:
        assert response.status == 204
    async with http.get(url(emu, "/v1/about")) as response:
        about = await response.json()
    assert about["mode"] == "json-rpc"
    assert about["versions"] == ["v1", "v2"]
    assert about["version"] == "0.101"
    assert "v2/send" in about["capabilities"]
    async with http.get(url(emu, f"/v1/groups/{emu.number}")) as response:
        assert (response.status, await response.json()) == (200, [])
    async with http.get(url(emu, "/v1/groups/+16045550199")) as response:
        assert response.status == 400
    async with http.get(url(emu, "/v1/contacts/x")) as response:
        assert response.status == 404
    assert emu.problems == ["unknown endpoint GET /v1/contacts/x"]
    assert [c.status for c in emu.calls] == [204, 200, 200, 400, 404]


async def test_people_have_fictional_numbers_and_uuids(emu: SignalEmulator) -> None:
    ana, bob = emu.person("ana"), emu.person("bob", share_number=False)
    assert emu.person("ana") is ana
    assert ana.number == "+16045550101"
    assert bob.number == "+16045550102"
    assert str(uuid.UUID(ana.uuid)) == ana.uuid
    assert ana.uuid != bob.uuid
    frame = ana.frame("hi")
    envelope = frame["envelope"]
    assert frame["account"] == emu.number
    assert (envelope["source"], envelope["sourceNumber"]) == (ana.number, ana.number)
    assert envelope["sourceUuid"] == ana.uuid
    assert envelope["sourceName"] == "Ana"
    assert envelope["serverReceivedTimestamp"] > envelope["timestamp"]
    assert envelope["serverDeliveredTimestamp"] > envelope["serverReceivedTimestamp"]
    assert envelope["dataMessage"]["message"] == "hi"
    hidden = bob.frame("hi")["envelope"]
    assert (hidden["source"], hidden["sourceNumber"]) == (bob.uuid, None)
    # Timestamps identify messages: never repeated, even within one millisecond.
    stamps = [ana.frame("x")["envelope"]["timestamp"] for _ in range(50)]
    assert len(set(stamps)) == 50
    # The same seed gives the same people.
    async with SignalEmulator(seed=3) as twin:
        assert twin.person("ana").uuid == ana.uuid


async def test_every_websocket_gets_every_frame_and_nothing_is_kept(
    emu: SignalEmulator, http: aiohttp.ClientSession
) -> None:
    ana = emu.person("ana")
    assert await emu.push(ana.frame("nobody listens")) == 0
    assert len(emu.lost) == 1
    receive = url(emu, f"/v1/receive/{emu.number}").replace("http", "ws", 1)
    async with http.ws_connect(receive) as one, http.ws_connect(receive) as two:
        await emu.wait_for_receivers(2)
        assert emu.connections == 2
        frame = ana.frame("to all")
        assert await emu.push(frame) == 2
        for ws in (one, two):
            got = json.loads((await ws.receive(timeout=2)).data)
            assert got == frame
        # The lost frame is not replayed on connect.
        assert await emu.push_error("Failed to decrypt") == 2
        for ws in (one, two):
            assert json.loads((await ws.receive(timeout=2)).data) == {"error": "Failed to decrypt"}
        assert await emu.close_websockets(code=1000) == 2
        closing = await two.receive(timeout=2)
        assert closing.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED)
        assert two.close_code == 1000
    await emu.wait_for(lambda: emu.receivers == 0)
    assert len(emu.lost) == 1


async def test_websocket_for_another_account_is_refused(
    emu: SignalEmulator, http: aiohttp.ClientSession
) -> None:
    receive = url(emu, "/v1/receive/+16045550199").replace("http", "ws", 1)
    with pytest.raises(aiohttp.WSServerHandshakeError):
        async with http.ws_connect(receive):
            pass
    assert emu.problems == ["websocket opened for another account"]


async def test_send_delivers_and_answers_a_list(
    emu: SignalEmulator, http: aiohttp.ClientSession
) -> None:
    ana, bob = emu.person("ana"), emu.person("bob")
    status, body = await send(http, emu, message(emu, ana.uuid, bob.number, text="hi *all*"))
    assert status == 201
    assert isinstance(body, list)
    assert len(body) == 1
    assert body[0]["timestamp"].isdigit()
    assert "errors" not in body[0]
    assert ana.texts == ["hi *all*"]
    assert bob.texts == ["hi *all*"]
    assert ana.last.recipient == ana.uuid
    assert bob.last.recipient == bob.number
    # Anyone on Signal can be written to, known to the emulator or not.
    status, _ = await send(http, emu, message(emu, "+16045550177"))
    assert status == 201
    assert [m.recipient for m in emu.sent][-1] == "+16045550177"


@pytest.mark.parametrize(
    ("body", "error"),
    [
        ("{not json", "invalid request"),
        ("[1, 2]", "invalid request"),
        ({"message": "x", "number": "+16045550100", "recipients": []}, "at least one recipient"),
        ({"message": "x", "number": "+16045550100"}, "at least one recipient"),
        ({"message": "x", "number": "+16045550100", "recipients": ["604-555"]}, "recipient"),
        ({"message": "x", "number": "+16045550100", "recipients": [7]}, "recipient"),
        ({"message": "x", "number": "+16045550199", "recipients": ["+16045550101"]}, "number"),
        ({"message": "", "number": "+16045550100", "recipients": ["+16045550101"]}, "empty"),
        ({"number": "+16045550100", "recipients": ["+16045550101"]}, "empty"),
    ],
)
async def test_send_validates_the_body(
    emu: SignalEmulator, http: aiohttp.ClientSession, body: dict[str, Any] | str, error: str
) -> None:
    status, answer = await send(http, emu, body)
    assert status == 400
    assert error in answer["error"]
    assert emu.sent == []
    assert emu.errors[-1].status == 400
    assert not emu.errors[-1].injected


async def test_rate_limit_answers_429_with_a_challenge(
    emu: SignalEmulator, http: aiohttp.ClientSession
) -> None:
    ana = emu.person("ana")
    emu.fail_next_send(FaultKind.RATE_LIMIT)
    status, body = await send(http, emu, message(emu, ana.uuid))
    assert status == 429
    assert body["error"] == RATE_LIMIT_ERROR
    assert body["account"] == emu.number
    [token] = body["challenge_tokens"]
    assert token in emu.challenges
    assert emu.errors[-1].injected
    assert (await send(http, emu, message(emu, ana.uuid)))[0] == 201  # one-shot

    solve = url(emu, f"/v1/accounts/{emu.number}/rate-limit-challenge")
    async with http.post(solve, data=json.dumps({"challenge_token": "nope", "captcha": "c"})) as r:
        assert r.status == 400
    async with http.post(solve, data=json.dumps({"captcha": "c"})) as r:
        assert r.status == 400
    async with http.post(solve, data=json.dumps({"challenge_token": token, "captcha": "c"})) as r:
        assert r.status == 204
    assert emu.challenges[token].solved_with == "c"


async def test_captcha_state_holds_until_solved(
    emu: SignalEmulator, http: aiohttp.ClientSession
) -> None:
    ana = emu.person("ana")
    emu.require_captcha()
    tokens = []
    for _ in range(3):
        status, body = await send(http, emu, message(emu, ana.uuid))
        assert status == 429
        tokens += body["challenge_tokens"]
    assert len(set(tokens)) == 3
    solve = url(emu, f"/v1/accounts/{emu.number}/rate-limit-challenge")
    body = {"challenge_token": tokens[0], "captcha": "signalcaptcha://x"}
    async with http.post(solve, data=json.dumps(body)) as response:
        assert response.status == 204
    assert (await send(http, emu, message(emu, ana.uuid)))[0] == 201
    assert ana.texts == ["hello"]


async def test_server_errors_and_seeded_fault_shares(
    emu: SignalEmulator, http: aiohttp.ClientSession
) -> None:
    ana = emu.person("ana")
    emu.fail_next_send(FaultKind.SERVER_ERROR)
    emu.fail_next_send(FaultKind.BAD_REQUEST)
    assert (await send(http, emu, message(emu, ana.uuid)))[0] == 500
    assert (await send(http, emu, message(emu, ana.uuid)))[0] == 400
    assert ana.texts == []

    async def statuses(faults: SignalFaults) -> list[int]:
        async with SignalEmulator(faults=faults) as flaky:
            target = flaky.person("ana").uuid
            return [(await send(http, flaky, message(flaky, target)))[0] for _ in range(30)]

    faults = SignalFaults(rate_limit=0.2, server_error=0.2, server_status=503, seed=11)
    first = await statuses(faults)
    assert first == await statuses(faults)  # seeded: a failing run replays
    assert {201, 429, 503} == set(first)
    with pytest.raises(ValueError, match="add up"):
        SignalFaults(rate_limit=0.6, server_error=0.6)
    with pytest.raises(ValueError, match="5xx"):
        SignalFaults(server_status=404)


async def test_unregistered_recipients(emu: SignalEmulator, http: aiohttp.ClientSession) -> None:
    ana, bob = emu.person("ana"), emu.person("bob")
    ana.unregister()
    status, body = await send(http, emu, message(emu, ana.uuid, bob.uuid))
    assert status == 201
    [failure] = body[0]["errors"]["recipients"]
    assert failure == {"number": ana.number, "uuid": ana.uuid, "reason": "UNREGISTERED_FAILURE"}
    assert ana.texts == []
    assert bob.texts == ["hello"]
    assert emu.undelivered == [ana.uuid]
    ana.unregister(Unregistered.ERROR)
    status, body = await send(http, emu, message(emu, ana.number))
    assert status == 400
    assert body["error"] == f"The user {ana.number} is not registered."
    ana.register()
    assert (await send(http, emu, message(emu, ana.number)))[0] == 201
    assert ana.texts == ["hello"]


async def test_indicators_reactions_and_receipts(
    emu: SignalEmulator, http: aiohttp.ClientSession
) -> None:
    base = url(emu, "")
    body = json.dumps({"recipient": "+16045550101"})
    calls = [
        ("PUT", f"/v1/typing-indicator/{emu.number}", "typing-start"),
        ("DELETE", f"/v1/typing-indicator/{emu.number}", "typing-stop"),
        ("POST", f"/v1/reactions/{emu.number}", "reaction"),
        ("DELETE", f"/v1/reactions/{emu.number}", "reaction-remove"),
        ("POST", f"/v1/receipts/{emu.number}", "receipt"),
    ]
    for method, path, _kind in calls:
        async with http.request(method, base + path, data=body) as response:
            assert response.status == 204
    assert [i.kind for i in emu.indicators] == [kind for _, _, kind in calls]
    assert emu.indicators[0].body == {"recipient": "+16045550101"}


async def test_long_text_is_flagged(emu: SignalEmulator, http: aiohttp.ClientSession) -> None:
    ana = emu.person("ana")
    assert (await send(http, emu, message(emu, ana.uuid, text="ж" * 1025)))[0] == 201
    assert not ana.last.inline
    assert emu.problems == ["a 2050-byte message would travel as a long-text attachment"]


async def test_say_waits_for_the_reply_and_fails_when_lost(
    emu: SignalEmulator, http: aiohttp.ClientSession
) -> None:
    ana = emu.person("ana")
    with pytest.raises(MessageLost):
        await ana.say("anyone?")
    receive = url(emu, f"/v1/receive/{emu.number}").replace("http", "ws", 1)
    async with http.ws_connect(receive) as ws:
        await emu.wait_for_receivers()

        async def echo() -> None:
            frame = json.loads((await ws.receive(timeout=2)).data)
            text = frame["envelope"]["dataMessage"]["message"]
            reply = f"Menu for {text}\n\n1. Supplies\n2. Naloxone\nReply with a number."
            await send(http, emu, message(emu, frame["envelope"]["sourceUuid"], text=reply))

        task = asyncio.create_task(echo())
        [reply] = await ana.say("/start")
        await task
        assert reply.options == {"Supplies": 1, "Naloxone": 2}
        task = asyncio.create_task(echo())
        [reply] = await ana.pick("Naloxone")
        await task
        assert reply.text.startswith("Menu for 2")
        with pytest.raises(AssertionError, match="no option"):
            await ana.pick("Housing")
        with pytest.raises(AssertionError, match="timed out"):
            await ana.say("no answer", within=0.1)


def test_maps_links_and_numbered_options() -> None:
    assert maps_link(49.28, -123.12) == "https://maps.google.com/maps?q=49.28%2C-123.12"
    assert maps_link(49.28, -123.12, MapStyle.GEO) == "geo:49.28,-123.12"
    assert "mlat=49.28&mlon=-123.12" in maps_link(49.28, -123.12, MapStyle.OSM)
    assert "ll=49.28,-123.12" in maps_link(49.28, -123.12, MapStyle.APPLE)
    sent = SentMessage("x", "Pick\n1. Yes\n 2) No \n10. Later\nnot 3. this", 1)
    assert sent.options == {"Yes": 1, "No": 2, "Later": 10}


async def test_plain_rate_limit_has_no_token_to_solve(
    emu: SignalEmulator, http: aiohttp.ClientSession
) -> None:
    ana, bob = emu.person("ana"), emu.person("bob")
    emu.fail_next_send(FaultKind.PLAIN_RATE_LIMIT)
    status, body = await send(http, emu, message(emu, ana.uuid, bob.uuid))
    assert status == 429
    assert body["error"] == RATE_LIMIT_ERROR
    assert body["challenge_tokens"] == ["", ""]  # one per recipient, none solvable
    assert emu.challenges == {}
    assert emu.errors[-1].injected
    assert (await send(http, emu, message(emu, ana.uuid)))[0] == 201
    assert ana.texts == ["hello"]
    assert bob.texts == []


async def test_captcha_can_start_after_some_sends(
    emu: SignalEmulator, http: aiohttp.ClientSession
) -> None:
    ana = emu.person("ana")
    with pytest.raises(ValueError, match="negative"):
        emu.require_captcha(after=-1)
    emu.require_captcha(after=2)
    statuses = [(await send(http, emu, message(emu, ana.uuid)))[0] for _ in range(4)]
    assert statuses == [201, 201, 429, 429]
    assert emu.captcha_required
    assert len(ana.texts) == 2


async def test_plain_rate_limit_share_is_seeded(
    emu: SignalEmulator, http: aiohttp.ClientSession
) -> None:
    async def answers(faults: SignalFaults) -> list[tuple[int, list[str] | None]]:
        async with SignalEmulator(faults=faults) as flaky:
            target = flaky.person("ana").uuid
            got = []
            for _ in range(30):
                status, body = await send(http, flaky, message(flaky, target))
                tokens = body.get("challenge_tokens") if isinstance(body, dict) else None
                got.append((status, tokens))
            return got

    faults = SignalFaults(plain_rate_limit=0.3, seed=5)
    first = await answers(faults)
    assert first == await answers(faults)
    assert {status for status, _ in first} == {201, 429}
    assert all(tokens == [""] for status, tokens in first if status == 429)
    with pytest.raises(ValueError, match="add up"):
        SignalFaults(rate_limit=0.5, plain_rate_limit=0.6)
