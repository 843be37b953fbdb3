"""The Bot API emulator on its own: raw HTTP requests shaped like python-telegram-bot's.

PTB sends form-encoded bodies whose non-string values are JSON-encoded; the helpers below do
the same, so each limit is checked exactly as the bot will meet it.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from bot.emulator import (
    FakeUser,
    Faults,
    HtmlError,
    TelegramEmulator,
    parse_html,
    utf16_len,
)

Reply = tuple[int, dict[str, Any]]


@pytest.fixture
async def emu() -> AsyncIterator[TelegramEmulator]:
    emulator = TelegramEmulator(seed=11)
    await emulator.start()
    try:
        yield emulator
    finally:
        await emulator.stop()


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


def ptb_form(params: dict[str, Any]) -> dict[str, str]:
    """Encode like PTB: strings as they are, everything else as JSON."""
    return {k: v if isinstance(v, str) else json.dumps(v) for k, v in params.items()}


async def call(
    http: aiohttp.ClientSession,
    emu: TelegramEmulator,
    method: str,
    *,
    token: str | None = None,
    as_json: bool = False,
    **params: Any,
) -> Reply:
    url = emu.api_url(method, token)
    request = http.post(url, json=params) if as_json else http.post(url, data=ptb_form(params))
    async with request as resp:
        return resp.status, await resp.json()


def error(reply: Reply) -> tuple[int, str]:
    status, body = reply
    assert body["ok"] is False
    assert body["error_code"] == status
    return status, body["description"]


def ok(reply: Reply) -> Any:
    status, body = reply
    assert (status, body["ok"]) == (200, True), body
    return body["result"]


def started(emu: TelegramEmulator, name: str = "ana") -> FakeUser:
    """A person who has written to the bot, so the bot may write to them."""
    user = emu.user(name)
    user.started = True
    return user


# -- protocol ------------------------------------------------------------------------------


async def test_token_path_and_unknown_method(
    emu: TelegramEmulator, http: aiohttp.ClientSession
) -> None:
    me = ok(await call(http, emu, "getMe"))
    assert me["is_bot"] is True
    assert me["username"] == emu.bot_username
    assert str(me["id"]) == emu.token.split(":")[0]
    assert error(await call(http, emu, "getMe", token="1:nope")) == (401, "Unauthorized")
    assert error(await call(http, emu, "fooBar")) == (404, "Not Found")
    async with http.post(f"http://127.0.0.1:{emu.port}/nothing") as resp:
        assert resp.status == 404
    # Method names are case-insensitive, GET with a query string works, as on Telegram.
    async with http.get(emu.api_url("GETME")) as resp:
        assert resp.status == 200


async def test_form_json_and_query_bodies(
    emu: TelegramEmulator, http: aiohttp.ClientSession
) -> None:
    ana = started(emu)
    ok(await call(http, emu, "sendMessage", chat_id=ana.id, text="form"))
    ok(await call(http, emu, "sendMessage", as_json=True, chat_id=ana.id, text="json"))
    async with http.get(emu.api_url("sendMessage"), params={"chat_id": ana.id, "text": "q"}) as r:
        assert r.status == 200
    form = aiohttp.FormData({"chat_id": str(ana.id), "text": "multipart"})
    form.add_field("document", b"bytes", filename="a.txt")
    async with http.post(emu.api_url("sendMessage"), data=form) as resp:
        assert resp.status == 200
    assert ana.texts == ["form", "json", "q", "multipart"]
    sent = ok(await call(http, emu, "sendMessage", chat_id=str(ana.id), text="x"))
    assert sent["chat"] == {
        "id": ana.id,
        "type": "private",
        "first_name": "Ana",
        "username": ana.username,
    }
    assert sent["from"]["is_bot"] is True


# -- text and HTML -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "parse_mode", "description"),
    [
        ("a" * 4097, None, "Bad Request: message is too long"),
        ("💉" * 2049, None, "Bad Request: message is too long"),  # 4098 UTF-16 units
        ("&amp;" * 4097, "HTML", "Bad Request: message is too long"),
        ("", None, "Bad Request: message text is empty"),
        (" \n\t ", None, "Bad Request: message text is empty"),
        ("<b> </b>", "HTML", "Bad Request: message text is empty"),
    ],
)
async def test_text_length_limits(
    emu: TelegramEmulator,
    http: aiohttp.ClientSession,
    text: str,
    parse_mode: str | None,
    description: str,
) -> None:
    ana = started(emu)
    params: dict[str, Any] = {"chat_id": ana.id, "text": text}
    if parse_mode:
        params["parse_mode"] = parse_mode
    assert error(await call(http, emu, "sendMessage", **params)) == (400, description)
    assert ana.transcript == []


async def test_text_at_the_limit_is_accepted(
    emu: TelegramEmulator, http: aiohttp.ClientSession
) -> None:
    ana = started(emu)
    for text in ("a" * 4096, "💉" * 2048, "  padded  "):
        ok(await call(http, emu, "sendMessage", chat_id=ana.id, text=text))
    ok(await call(http, emu, "sendMessage", chat_id=ana.id, text="&lt;" * 4096, parse_mode="HTML"))
    assert [utf16_len(t) for t in ana.texts] == [4096, 4096, 6, 4096]
    assert ana.texts[2] == "padded"  # trimmed like Telegram


@pytest.mark.parametrize(
    ("source", "reason"),
    [
        ("<div>x</div>", 'Unsupported start tag "div"'),
        ("1 < 2", "Unexpected start tag"),
        ("fish & chips", "Can't find end of the entity"),
        ("&nbsp;", 'Unsupported HTML entity "&nbsp;"'),
        ("&#0;", "Invalid character code"),
        ("<b>open", 'Can\'t find end tag corresponding to start tag "b"'),
        ("<b>x</i>", 'expected "</b>", found "</i>"'),
        ("x</b>", "Unexpected end tag"),
        ("<span>x</span>", 'Tag "span" must have class "tg-spoiler"'),
        ('<a href="x"', "Unclosed start tag"),
        ("<b/>", "Unexpected character in start tag"),
        ("<script>alert(1)</script>", 'Unsupported start tag "script"'),
    ],
)
async def test_bad_html_is_refused(
    emu: TelegramEmulator, http: aiohttp.ClientSession, source: str, reason: str
) -> None:
    ana = started(emu)
    status, description = error(
        await call(http, emu, "sendMessage", chat_id=ana.id, text=source, parse_mode="HTML")
    )
    assert status == 400
    assert description.startswith("Bad Request: can't parse entities: ")
    assert reason in description
    # Without a parse mode the same text is plain and fine.
    ok(await call(http, emu, "sendMessage", chat_id=ana.id, text=source))


async def test_allowed_html_is_parsed_into_entities(
    emu: TelegramEmulator, http: aiohttp.ClientSession
) -> None:
    ana = started(emu)
    source = (
        "<b>b</b><strong>s</strong><i>i</i><em>e</em><u>u</u><ins>n</ins><s>s</s>"
        "<strike>k</strike><del>d</del><a href='https://x.org/?a=1&amp;b=2'>l</a>"
        '<code>c</code><pre><code class="language-python">p</code></pre>'
        '<tg-spoiler>t</tg-spoiler><span class="tg-spoiler">p</span>'
        "<blockquote>q</blockquote><blockquote expandable>x</blockquote>"
        " &lt;&gt;&amp;&quot; &#128137;&#x1F489;"
    )
    sent = ok(await call(http, emu, "sendMessage", chat_id=ana.id, text=source, parse_mode="HTML"))
    assert sent["text"] == 'bsieunskdlcptpqx <>&" 💉💉'
    kinds = [e["type"] for e in sent["entities"]]
    assert kinds.count("bold") == 2
    assert "text_link" in kinds
    assert "spoiler" in kinds
    assert "expandable_blockquote" in kinds
    link = next(e for e in sent["entities"] if e["type"] == "text_link")
    assert link["url"] == "https://x.org/?a=1&b=2"


def test_parse_html_counts_utf16_offsets() -> None:
    parsed = parse_html("💉 <b>ok</b>")
    assert parsed.text == "💉 ok"
    assert parsed.entities == [{"type": "bold", "offset": 3, "length": 2}]
    # Plain text between entities and tags is counted a piece at a time.
    parsed = parse_html("a💉&amp;b <i>💉x</i> &lt;y")
    assert parsed.text == "a💉&b 💉x <y"
    assert parsed.entities == [{"type": "italic", "offset": 6, "length": 3}]
    with pytest.raises(HtmlError):
        parse_html("<b><i>x</b></i>")


# -- keyboards -----------------------------------------------------------------------------


def inline(data: object, text: str = "Go") -> dict[str, Any]:
    return {"inline_keyboard": [[{"text": text, "callback_data": data}]]}


@pytest.mark.parametrize(
    ("markup", "description"),
    [
        (inline("x" * 65), "Bad Request: BUTTON_DATA_INVALID"),
        (inline("é" * 33), "Bad Request: BUTTON_DATA_INVALID"),  # 66 bytes
        (inline(""), "Bad Request: BUTTON_DATA_INVALID"),
        ({"inline_keyboard": [[{"text": "no action"}]]}, "text buttons are unallowed"),
        (inline("ok", text=" "), "Text must be non-empty"),
        ({"inline_keyboard": "nope"}, "can't parse reply keyboard markup"),
        ({"keyboard": [[{"text": ""}]]}, "keyboard button text must be non-empty"),
        ({"something": True}, "can't parse reply keyboard markup"),
        ({"inline_keyboard": [[{"text": "b", "callback_data": "d"}] * 101]}, "too long"),
    ],
)
async def test_bad_reply_markup_is_refused(
    emu: TelegramEmulator,
    http: aiohttp.ClientSession,
    markup: dict[str, Any],
    description: str,
) -> None:
    ana = started(emu)
    reply = await call(http, emu, "sendMessage", chat_id=ana.id, text="t", reply_markup=markup)
    status, text = error(reply)
    assert status == 400
    assert description in text


async def test_keyboards_are_recorded(emu: TelegramEmulator, http: aiohttp.ClientSession) -> None:
    ana = started(emu)
    data = "x" * 64
    sent = ok(
        await call(http, emu, "sendMessage", chat_id=ana.id, text="t", reply_markup=inline(data))
    )
    assert sent["reply_markup"] == inline(data)
    keyboard = {
        "keyboard": [[{"text": "Send location", "request_location": True}], ["Skip"]],
        "one_time_keyboard": True,
    }
    sent = ok(await call(http, emu, "sendMessage", chat_id=ana.id, text="t", reply_markup=keyboard))
    assert "reply_markup" not in sent  # reply keyboards are not part of a Message
    assert ana.last.asks_location
    assert ana.last.rows == [["Send location"], ["Skip"]]
    ok(
        await call(
            http,
            emu,
            "sendMessage",
            chat_id=ana.id,
            text="t",
            reply_markup={"remove_keyboard": True},
        )
    )
    assert [m.keyboard_kind for m in ana.transcript] == ["inline", "reply", "remove"]


# -- chats ---------------------------------------------------------------------------------


async def test_chat_errors(emu: TelegramEmulator, http: aiohttp.ClientSession) -> None:
    ana = started(emu)
    stranger = emu.user("stranger")
    robot = emu.user("robot", is_bot=True)
    send = "sendMessage"
    assert error(await call(http, emu, send, chat_id=123456789, text="x")) == (
        400,
        "Bad Request: chat not found",
    )
    assert error(await call(http, emu, send, chat_id="@nobody", text="x"))[0] == 400
    assert error(await call(http, emu, send, text="x")) == (400, "Bad Request: chat_id is empty")
    assert error(await call(http, emu, send, chat_id=stranger.id, text="x")) == (
        403,
        "Forbidden: bot can't initiate conversation with a user",
    )
    assert error(await call(http, emu, send, chat_id=robot.id, text="x"))[0] == 403
    ana.block()
    assert error(await call(http, emu, send, chat_id=ana.id, text="x")) == (
        403,
        "Forbidden: bot was blocked by the user",
    )
    assert error(await call(http, emu, "sendChatAction", chat_id=ana.id, action="typing"))[0] == 403
    ana.unblock()
    ok(await call(http, emu, send, chat_id=ana.id, text="back"))
    group = emu.group("Street team")
    ok(await call(http, emu, send, chat_id=group.id, text="hello group"))
    assert group.texts == ["hello group"]
    assert [(e.code, e.method) for e in emu.errors][-1] == (403, "sendChatAction")


async def test_edits_callbacks_and_chat_actions(
    emu: TelegramEmulator, http: aiohttp.ClientSession
) -> None:
    ana = started(emu)
    sent = ok(
        await call(http, emu, "sendMessage", chat_id=ana.id, text="Pick", reply_markup=inline("a"))
    )
    query_id = emu.new_callback(ana.chat, ana.last, "a")
    assert ok(await call(http, emu, "answerCallbackQuery", callback_query_id=query_id)) is True
    assert emu.callbacks[query_id].answered
    again = await call(http, emu, "answerCallbackQuery", callback_query_id=query_id)
    assert "query is too old" in error(again)[1]
    assert error(await call(http, emu, "answerCallbackQuery", callback_query_id="42"))[0] == 400

    ids = {"chat_id": ana.id, "message_id": sent["message_id"]}
    edited = ok(await call(http, emu, "editMessageText", text="Picked", **ids))
    assert edited["text"] == "Picked"
    assert "edit_date" in edited
    assert ana.last.text == "Picked"
    assert ana.last.edits == 1
    same = await call(http, emu, "editMessageText", text="Picked", **ids)
    assert "message is not modified" in error(same)[1]
    ok(await call(http, emu, "editMessageReplyMarkup", reply_markup=inline("b"), **ids))
    assert ana.last.callback_data == {"Go": "b"}
    missing = await call(http, emu, "editMessageText", chat_id=ana.id, message_id=999, text="x")
    assert error(missing) == (400, "Bad Request: message to edit not found")

    assert ok(await call(http, emu, "sendChatAction", chat_id=ana.id, action="typing")) is True
    assert ana.chat.actions == ["typing"]
    assert (
        error(await call(http, emu, "sendChatAction", chat_id=ana.id, action="dancing"))[0] == 400
    )


async def test_bot_commands(emu: TelegramEmulator, http: aiohttp.ClientSession) -> None:
    commands = [
        {"command": "start", "description": "Start"},
        {"command": "help", "description": "Help"},
    ]
    assert ok(await call(http, emu, "setMyCommands", commands=commands)) is True
    assert ok(await call(http, emu, "getMyCommands")) == commands
    scoped = {"type": "all_private_chats"}
    assert ok(await call(http, emu, "getMyCommands", scope=scoped)) == []
    bad = [{"command": "Start!", "description": "x"}]
    assert error(await call(http, emu, "setMyCommands", commands=bad)) == (
        400,
        "Bad Request: BOT_COMMAND_INVALID",
    )
    empty = [{"command": "ok", "description": ""}]
    assert error(await call(http, emu, "setMyCommands", commands=empty))[0] == 400
    assert ok(await call(http, emu, "deleteMyCommands")) is True
    assert ok(await call(http, emu, "getMyCommands")) == []


# -- updates -------------------------------------------------------------------------------


async def test_get_updates_offset_limit_and_long_poll(
    emu: TelegramEmulator, http: aiohttp.ClientSession
) -> None:
    ana = emu.user("ana", language_code="uk")
    await ana.say("/start@hrbot_test_bot CODE", expect=0)
    await ana.say("two", expect=0)
    await ana.say("three", expect=0)
    first = ok(await call(http, emu, "getUpdates", limit=2))
    assert [u["message"]["text"] for u in first] == ["/start@hrbot_test_bot CODE", "two"]
    message = first[0]["message"]
    assert message["entities"] == [{"type": "bot_command", "offset": 0, "length": 21}]
    assert message["from"]["language_code"] == "uk"
    assert message["chat"]["type"] == "private"
    assert message["from"]["id"] == message["chat"]["id"] == ana.id

    # Confirming by offset drops what came before; unconfirmed updates come again.
    after = first[1]["update_id"] + 1
    rest = ok(await call(http, emu, "getUpdates", offset=after))
    assert [u["message"]["text"] for u in rest] == ["three"]
    assert len(emu.pending) == 1
    assert ok(await call(http, emu, "getUpdates", offset=rest[-1]["update_id"] + 1)) == []
    assert emu.pending == []

    # A long poll returns as soon as something arrives.
    poll = asyncio.create_task(call(http, emu, "getUpdates", timeout=10))
    await asyncio.sleep(0.05)
    assert not poll.done()
    await ana.say("now", expect=0)
    updates = ok(await asyncio.wait_for(poll, 2))
    assert [u["message"]["text"] for u in updates] == ["now"]


async def test_newer_get_updates_ends_the_older_one(
    emu: TelegramEmulator, http: aiohttp.ClientSession
) -> None:
    older = asyncio.create_task(call(http, emu, "getUpdates", timeout=10))
    await asyncio.sleep(0.05)
    assert ok(await call(http, emu, "getUpdates", timeout=0)) == []
    status, description = error(await asyncio.wait_for(older, 2))
    assert status == 409
    assert "terminated by other getUpdates request" in description


async def test_stop_answers_a_waiting_long_poll(http: aiohttp.ClientSession) -> None:
    emulator = TelegramEmulator()
    await emulator.start()
    try:
        poll = asyncio.create_task(call(http, emulator, "getUpdates", timeout=30))
        await asyncio.sleep(0.05)
    finally:
        await emulator.stop()
    assert ok(await asyncio.wait_for(poll, 2)) == []


async def test_allowed_updates_filter(emu: TelegramEmulator, http: aiohttp.ClientSession) -> None:
    ana = emu.user("ana")
    emu.push_raw({"edited_message": {"message_id": 1, "date": 0, "chat": ana.chat.as_dict()}})
    await ana.say("kept", expect=0)
    updates = ok(await call(http, emu, "getUpdates", allowed_updates=["message", "callback_query"]))
    assert [next(k for k in u if k != "update_id") for u in updates] == ["message"]


async def test_fake_people_look_real(emu: TelegramEmulator) -> None:
    people = [emu.user(f"person{n}") for n in range(30)]
    assert all(100_000_000 <= p.id < 10_000_000_000 for p in people)
    assert len({p.id for p in people}) == 30
    assert emu.user("person0") is people[0]
    supergroup, group = emu.group("Team"), emu.group("Old", supergroup=False)
    assert str(supergroup.id).startswith("-100")
    assert supergroup.type == "supergroup"
    assert group.id < 0
    assert group.type == "group"
    bot = emu.user("other", is_bot=True)
    assert bot.as_dict()["is_bot"] is True
    assert bot.username.endswith("_bot")
    with pytest.raises(ValueError, match="empty"):
        await people[0].say("  ")
    with pytest.raises(ValueError, match="own private chat"):
        await people[0].say("hi", chat=people[1].chat)
    with pytest.raises(AssertionError, match="no button"):
        await people[0].tap("Yes")
    with pytest.raises(AssertionError, match="timed out waiting for 1 message"):
        await people[0].say("nobody answers", within=0.1)


async def test_same_seed_same_world() -> None:
    worlds = [TelegramEmulator(seed=3), TelegramEmulator(seed=3)]
    ids = [[w.user(n).id for n in ("a", "b")] + [w.group("g").id] for w in worlds]
    assert ids[0] == ids[1]
    assert ids[0] != [TelegramEmulator(seed=4).user(n).id for n in ("a", "b")]


# -- faults --------------------------------------------------------------------------------


async def test_planned_faults(emu: TelegramEmulator, http: aiohttp.ClientSession) -> None:
    ana = started(emu)
    emu.fail_next("sendMessage", status=429, retry_after=3)
    emu.fail_next("sendMessage", status=502)
    status, body = await call(http, emu, "sendMessage", chat_id=ana.id, text="a")
    assert (status, body["parameters"]) == (429, {"retry_after": 3})
    assert body["description"] == "Too Many Requests: retry after 3"
    assert error(await call(http, emu, "sendMessage", chat_id=ana.id, text="b")) == (
        502,
        "Bad Gateway",
    )
    ok(await call(http, emu, "sendMessage", chat_id=ana.id, text="c"))
    assert ana.texts == ["c"]
    assert [(e.code, e.injected) for e in emu.errors] == [(429, True), (502, True)]


async def test_planned_fault_after_some_successes(
    emu: TelegramEmulator, http: aiohttp.ClientSession
) -> None:
    ana = started(emu)
    emu.fail_next("sendMessage", status=502, after=2)
    ok(await call(http, emu, "getMe"))  # other methods do not count
    for text in ("a", "b"):
        ok(await call(http, emu, "sendMessage", chat_id=ana.id, text=text))
    assert error(await call(http, emu, "sendMessage", chat_id=ana.id, text="c"))[0] == 502
    ok(await call(http, emu, "sendMessage", chat_id=ana.id, text="d"))
    assert ana.texts == ["a", "b", "d"]
    emu.fail_next("sendMessage", count=0)  # nothing planned
    ok(await call(http, emu, "sendMessage", chat_id=ana.id, text="e"))
    with pytest.raises(ValueError, match="after"):
        emu.fail_next("sendMessage", after=-1)


async def test_stalled_call_is_carried_out_and_answered_late(
    emu: TelegramEmulator, http: aiohttp.ClientSession
) -> None:
    ana = started(emu)
    emu.stall_next("sendMessage", seconds=2)
    with pytest.raises(TimeoutError):
        async with asyncio.timeout(0.3):
            await call(http, emu, "sendMessage", chat_id=ana.id, text="late")
    assert ana.texts == ["late"]  # it arrived: only the answer was missing
    ok(await call(http, emu, "sendMessage", chat_id=ana.id, text="on time"))
    assert ana.texts == ["late", "on time"]


async def test_dropped_call_is_carried_out_and_never_answered(
    emu: TelegramEmulator, http: aiohttp.ClientSession
) -> None:
    ana = started(emu)
    emu.stall_next("sendMessage", seconds=None)
    with pytest.raises(aiohttp.ServerDisconnectedError):
        await call(http, emu, "sendMessage", chat_id=ana.id, text="lost answer")
    assert ana.texts == ["lost answer"]
    with pytest.raises(ValueError, match="negative"):
        emu.stall_next("sendMessage", seconds=-1)


async def _fault_run(http: aiohttp.ClientSession, faults: Faults) -> list[int]:
    async with TelegramEmulator(faults=faults) as emulator:
        ana = started(emulator)
        statuses = []
        for n in range(60):
            status, _ = await call(http, emulator, "sendMessage", chat_id=ana.id, text=str(n))
            statuses.append(status)
        # Other methods are left alone.
        ok(await call(http, emulator, "getMe"))
        assert len(ana.texts) == statuses.count(200)
    return statuses


async def test_random_faults_are_seeded(http: aiohttp.ClientSession) -> None:
    faults = Faults(rate_limit=0.3, server_error=0.2, retry_after=2, seed=5)
    first = await _fault_run(http, faults)
    assert first == await _fault_run(http, faults)
    assert 8 <= first.count(429) <= 30
    assert 4 <= first.count(502) <= 22
    assert first.count(200) == 60 - first.count(429) - first.count(502)
    with pytest.raises(ValueError, match="more than 1"):
        Faults(rate_limit=0.7, server_error=0.5)
    with pytest.raises(ValueError, match="retry_after"):
        Faults(retry_after=0)


# -- webhook -------------------------------------------------------------------------------


async def test_webhook_delivery_retries_until_accepted(
    emu: TelegramEmulator, http: aiohttp.ClientSession
) -> None:
    received: list[tuple[str | None, str | None, dict[str, Any]]] = []
    answers = iter([500, 200, 200])

    async def hook(request: web.Request) -> web.Response:
        received.append(
            (
                request.headers.get("Content-Type"),
                request.headers.get("X-Telegram-Bot-Api-Secret-Token"),
                await request.json(),
            )
        )
        return web.Response(status=next(answers))

    app = web.Application()
    app.router.add_post("/hook", hook)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    try:
        server = site._server
        assert isinstance(server, asyncio.Server)
        port = server.sockets[0].getsockname()[1]
        url = f"http://127.0.0.1:{port}/hook"
        refused = await call(http, emu, "setWebhook", url=url, secret_token="no spaces allowed")
        assert error(refused)[0] == 400
        ok(await call(http, emu, "setWebhook", url=url, secret_token="s3cret"))
        assert error(await call(http, emu, "getUpdates"))[0] == 409
        info = ok(await call(http, emu, "getWebhookInfo"))
        assert info["url"] == url

        ana = emu.user("ana")
        await ana.say("one", expect=0)
        await ana.say("two", expect=0)
        await emu.wait_until_consumed(within=3)
        assert [r[0] for r in received] == ["application/json"] * 3
        assert {r[1] for r in received} == {"s3cret"}
        assert [r[2]["message"]["text"] for r in received] == ["one", "one", "two"]
        assert [status for _, status in emu.webhook_deliveries] == [500, 200, 200]

        ok(await call(http, emu, "deleteWebhook"))
        assert ok(await call(http, emu, "getUpdates")) == []
    finally:
        await runner.cleanup()


async def test_webhook_delivery_runs_chats_side_by_side_each_in_order() -> None:
    """With several connections, as Telegram uses them: another chat's update is delivered
    while one request is held, but a chat's next update waits until its request ended."""
    received: list[tuple[str, str]] = []
    release = asyncio.Event()

    async def hook(request: web.Request) -> web.Response:
        body = await request.json()
        text = body["message"]["text"]
        received.append((body["message"]["from"]["first_name"].lower(), text))
        if text == "hold":
            await release.wait()
        return web.Response(status=200)

    app = web.Application()
    app.router.add_post("/hook", hook)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    try:
        async with TelegramEmulator(seed=5, webhook_connections=4) as emu:
            server = site._server
            assert isinstance(server, asyncio.Server)
            port = server.sockets[0].getsockname()[1]
            async with aiohttp.ClientSession() as http:
                ok(await call(http, emu, "setWebhook", url=f"http://127.0.0.1:{port}/hook"))
            ana, bob = emu.user("ana"), emu.user("bob")
            await ana.say("hold", expect=0)
            await ana.say("after", expect=0)
            await bob.say("meanwhile", expect=0)
            await emu.wait_for(lambda: len(received) == 2, within=3)
            await asyncio.sleep(0.1)  # ana's second would have arrived by now if it could
            assert received == [("ana", "hold"), ("bob", "meanwhile")]
            release.set()
            await emu.wait_until_consumed(within=3)
            assert received[2:] == [("ana", "after")]
    finally:
        await runner.cleanup()
