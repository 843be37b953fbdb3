"""Languages through the real clients: Telegram and Signal emulators, the bot's own routes.

Telegram: a Dari user (hint ``fa``) gets Dari with direction marks that the Bot API accepts, a
Dari location button, and a command menu per language. Signal sends no language hint: a person
switches with /language, and the channel's own hints (the number list, where-are-you) follow.
"""

from __future__ import annotations

from bot.channels.signal import LOCATION_HINT, NUMBER_HINT
from bot.channels.telegram import LOCATION_LABEL, LOCATION_NOTE
from bot.core.bidi import FSI, PDI
from bot.emulator import TelegramEmulator
from bot.signal_emulator import SignalEmulator
from tests.support.engine import shipped_words

DARI = shipped_words().for_locale("fa_AF")
SYRINGES = '1 ml syringe, 29G ½" fixed needle'


async def test_telegram_speaks_dari_with_marks_the_api_accepts(
    telegram: TelegramEmulator,
) -> None:
    ana = telegram.user("ana", language_code="fa")
    [welcome] = await ana.command("start")
    assert welcome.text.startswith("سلام.")
    assert f"{FSI}/forget{PDI}" in welcome.text  # isolated, and still sent as plain text
    await ana.tap(DARI("Supplies"))
    await ana.tap(DARI("Kit for injecting and smoking"))
    await ana.tap(DARI(SYRINGES))  # a label with isolates round "29G" comes back as sent
    await ana.tap("2")
    [where] = await ana.tap(DARI("Done: choose where"))
    assert where.asks_location
    assert where.rows[-1] == [DARI(LOCATION_LABEL)] == ["📍 فرستادن موقعیت"]
    assert DARI(LOCATION_NOTE) in where.text
    assert LOCATION_NOTE not in where.text
    [confirm] = await ana.share_location(49.2812, -123.0990)
    assert confirm.text.startswith(DARI("Please check your request:"))
    assert not [e for e in telegram.errors if e.code == 400]


async def test_telegram_publishes_the_command_menu_in_each_language(
    telegram: TelegramEmulator,
) -> None:
    menus = {language: commands for (_, language), commands in telegram.commands.items()}
    assert set(menus) == {"", "fa", "ru"}
    described = {
        language: {c["command"]: c["description"] for c in commands}
        for language, commands in menus.items()
    }
    assert described[""]["language"] == "Change the language"
    assert described["ru"]["language"] == "Сменить язык"
    assert described["fa"]["language"] == DARI("Change the language") == "تغییر زبان"


async def test_signal_has_no_hint_so_language_is_chosen_and_hints_follow(
    signal: SignalEmulator,
) -> None:
    bob = signal.person("bob")
    [choices] = await bob.say("/language")
    assert choices.text.endswith(NUMBER_HINT)  # English until chosen: Signal sends no hint
    [chosen] = await bob.pick("دری")
    assert chosen.text.startswith("زبان: دری.")
    assert chosen.text.endswith(DARI(NUMBER_HINT))
    assert DARI(NUMBER_HINT) == "با یک عدد جواب بدهید."
    await bob.say("/naloxone")
    [where] = await bob.pick(DARI("Nasal spray"))
    assert DARI(LOCATION_HINT) in where.text
    assert LOCATION_HINT not in where.text
