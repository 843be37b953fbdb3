"""A reply that replaces the pressed button's message, through the real client: Telegram edits
that message (text and buttons) instead of sending one; when it cannot (too old, gone, too long
for one message) a new message goes instead."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.channels.telegram import TelegramChannel
from bot.core.context import Context
from bot.core.engine import Engine
from bot.core.messages import Incoming, InputKind, Option
from bot.core.routes import Routes
from bot.emulator import TelegramEmulator
from bot.emulator.server import EDIT_WINDOW
from tests.support.engine import make_engine

LONG = "\n".join(f"{n:03d} a line of a long answer" for n in range(200))  # > 4096


def _routes(seen: list[Incoming]) -> Routes:
    async def choose(msg: Incoming, ctx: Context) -> None:
        ctx.reply("Pick one", [Option("Yes", "pick:yes"), Option("Same", "pick:same")])

    async def pick(msg: Incoming, ctx: Context) -> None:
        seen.append(msg)
        if msg.option == "pick:same":  # exactly what the message shows already
            options = [Option("Yes", "pick:yes"), Option("Same", "pick:same")]
            ctx.reply("Pick one", options, in_place=True)
        elif msg.option == "pick:long":
            ctx.reply(LONG, in_place=True)
        else:
            ctx.reply("You picked yes", [Option("Again", "pick:again")], in_place=True)

    async def fallback(msg: Incoming, ctx: Context) -> None:
        ctx.reply("ok", in_place=True)  # typed text: nothing to replace

    return Routes(
        commands={"choose": choose},
        options={"pick": pick},
        flows={},
        fallback=fallback,
        unknown_command=fallback,
        unsupported=fallback,
        menu=(),
    )


@pytest.fixture
def seen() -> list[Incoming]:
    return []


@pytest.fixture
def edit_bot(sessions: async_sessionmaker[AsyncSession], seen: list[Incoming]) -> Engine:
    return make_engine(sessions, _routes(seen))


@pytest.fixture
async def emu_bot(emu: TelegramEmulator, edit_bot: Engine) -> AsyncIterator[TelegramEmulator]:
    async with TelegramChannel(edit_bot, token=emu.token, base_url=emu.base_url, poll_timeout=2):
        yield emu


async def test_a_press_edits_the_message_it_was_on(
    emu_bot: TelegramEmulator, seen: list[Incoming]
) -> None:
    emu = emu_bot
    ana = emu.user("ana")
    [menu] = await ana.command("choose")
    [edited] = await ana.tap("Yes")
    assert edited is menu  # the same message, changed: no new one
    assert len(ana.chat.messages) == 1
    assert (menu.text, menu.buttons, menu.edits) == ("You picked yes", ["Again"], 1)
    assert seen[-1].kind is InputKind.OPTION
    assert seen[-1].message_ref == str(menu.message_id)
    assert "message_ref" not in repr(seen[-1])  # never in a log line
    assert not [e for e in emu.errors if e.code == 400]


async def test_not_modified_counts_as_sent(emu_bot: TelegramEmulator) -> None:
    emu = emu_bot
    ana = emu.user("ana")
    [menu] = await ana.command("choose")
    await ana.tap("Same", expect=0)
    await ana.say("hello")  # handled after the press: the press is done
    assert [m.text for m in ana.chat.messages] == ["Pick one", "ok"]
    assert menu.edits == 0
    assert [e.description for e in emu.errors if e.code == 400] == [
        e.description for e in emu.errors if "not modified" in e.description
    ]
    assert any("not modified" in e.description for e in emu.errors)


async def test_a_message_that_cannot_be_edited_gets_a_new_one(emu_bot: TelegramEmulator) -> None:
    emu = emu_bot
    ana = emu.user("ana")
    [old] = await ana.command("choose")
    old.date -= EDIT_WINDOW + 60  # two days old: Telegram refuses to edit it
    [new] = await ana.tap("Yes")
    assert new is not old
    assert (old.text, old.edits) == ("Pick one", 0)
    assert new.text == "You picked yes"
    assert any("can't be edited" in e.description for e in emu.errors)

    # Deleted meanwhile (the person cleared the chat): a new message too.
    ana.chat.messages.remove(new)
    [fresh] = await ana.press("pick:again", message=new)
    assert fresh is not new
    assert fresh.text == "You picked yes"
    assert any("message to edit not found" in e.description for e in emu.errors)


async def test_too_long_for_one_message_is_sent_anew(emu_bot: TelegramEmulator) -> None:
    emu = emu_bot
    ana = emu.user("ana")
    [menu] = await ana.command("choose")
    parts = await ana.press("pick:long", message=menu, expect=2)
    assert all(part is not menu for part in parts)
    assert (menu.text, menu.edits) == ("Pick one", 0)
    assert "000 a line" in parts[0].text


async def test_typed_text_is_answered_with_a_new_message(emu_bot: TelegramEmulator) -> None:
    emu = emu_bot
    ana = emu.user("ana")
    [menu] = await ana.command("choose")
    [answer] = await ana.say("hello")
    assert answer is not menu
    assert len(ana.chat.messages) == 2
