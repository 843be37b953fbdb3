"""A fake Telegram Bot API server for tests and ``hrbot demo``.

Wiring it to the real bot (everything on 127.0.0.1, nothing leaves the machine)::

    async with TelegramEmulator() as emu:
        channel = TelegramChannel(engine, token=emu.token, base_url=emu.base_url)
        async with channel:
            ana = emu.user("ana")                     # a person, with a realistic id
            [welcome] = await ana.say("/start")       # waits for the bot's answer
            await ana.tap("Yes")                      # inline button → callback query
            await ana.share_location(49.28, -123.1)
            ana.transcript                            # everything the bot sent her
            emu.errors                                # every error answer, e.g. 400s

Each action waits for ``expect`` (default 1) new bot messages in the chat and returns them;
``expect=0`` returns at once. The bot handles each chat's updates in order, different chats
concurrently: "someone else's message got its answer" proves every earlier update was fetched;
``await channel.wait_idle()`` then waits until they are all handled.
"""

from bot.emulator.html import HtmlError, parse_html, utf16_len
from bot.emulator.people import DEFAULT_TIMEOUT, FakeChat, FakeUser
from bot.emulator.records import ApiCall, ApiError, CallbackRecord, Faults, SentMessage
from bot.emulator.server import DEFAULT_TOKEN, REGISTERED, TelegramEmulator, Webhook

__all__ = [
    "DEFAULT_TIMEOUT",
    "DEFAULT_TOKEN",
    "REGISTERED",
    "ApiCall",
    "ApiError",
    "CallbackRecord",
    "FakeChat",
    "FakeUser",
    "Faults",
    "HtmlError",
    "SentMessage",
    "TelegramEmulator",
    "Webhook",
    "parse_html",
    "utf16_len",
]
