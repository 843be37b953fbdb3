"""The "where are you?" step through the real clients (python-telegram-bot and signalbot
against their emulators), with the bot's own routes.

Both channels offer the named areas first and a precise location second, each with a line
that is true for it: on Telegram a shared location is a message in Telegram's cloud; on
Signal it is a maps link only the bot can read. Either way the database holds only the cell.
"""

from __future__ import annotations

import json

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.channels.signal import LOCATION_HINT, NUMBER_HINT
from bot.channels.telegram import LOCATION_LABEL, LOCATION_NOTE
from bot.emulator import TelegramEmulator
from bot.signal_emulator import SignalEmulator

Sessions = async_sessionmaker[AsyncSession]
TYPED = "your area's name, a street or a landmark (for example Gastown or E Hastings St)"
FIRST_AREAS = ["Downtown Eastside", "Strathcona", "Chinatown", "Gastown", "Downtown", "West End"]
# A point near Main & Hastings, and the centre of its 0.02° cell, which requests store.
POINT = (49.281234, -123.098765)
CELL = (49.29, -123.09)


async def kept_place(sessions: Sessions) -> tuple[object, object, object]:
    """The one conversation state's area and point, read as stored."""
    async with sessions() as session:
        rows = (await session.scalars(text("SELECT data FROM conversation_states"))).all()
    [raw] = rows
    data = json.loads(raw) if isinstance(raw, str) else raw
    return data["area"], data["lat"], data["lon"]


async def test_telegram_offers_areas_then_location_with_what_it_reveals(
    telegram: TelegramEmulator, sessions: Sessions
) -> None:
    ana = telegram.user("ana")
    await ana.command("naloxone")
    [where] = await ana.tap("Nasal spray")
    assert where.text == (f"Where are you?\nChoose your area.\nOr type {TYPED}.\n\n{LOCATION_NOTE}")
    assert LOCATION_NOTE == (
        "📍 Sharing your location sends your exact position to Telegram; "
        "the bot keeps only a rough area."
    )
    assert where.keyboard_kind == "reply"
    assert where.rows[:3] == [FIRST_AREAS[0:2], FIRST_AREAS[2:4], FIRST_AREAS[4:6]]
    assert where.rows[-1] == [LOCATION_LABEL]  # second, under the areas and the way out
    assert where.asks_location
    # One tap on an area's button: the label comes back as text and maps to the area.
    [confirm] = await ana.tap("Gastown")
    assert "Area: Gastown" in confirm.text

    await ana.command("naloxone")
    await ana.tap("Nasal spray")
    [confirm] = await ana.share_location(*POINT)
    assert "Area: Downtown Eastside" in confirm.text
    assert await kept_place(sessions) == ("dtes", *CELL)
    assert not [e for e in telegram.errors if e.code == 400]


async def test_signal_lists_areas_then_says_what_a_maps_link_reveals(
    signal: SignalEmulator, sessions: Sessions
) -> None:
    bob = signal.person("bob")
    await bob.say("/naloxone")
    [where] = await bob.pick("Nasal spray")
    numbered = "\n".join(f"{n}. {name}" for n, name in enumerate(FIRST_AREAS, 1))
    # One hint on how to answer, under the list: a number, what can be typed, a maps link.
    assert where.text == (
        "Where are you?\nChoose your area.\n\n"
        f"{numbered}\n7. More ›\n8. How to use it\n9. Back to menu\n"
        f"Reply with a number, or type {TYPED}.\n"
        f"{LOCATION_HINT}"
    )
    assert NUMBER_HINT not in where.text
    assert LOCATION_HINT == (
        "Or send a map link to where you are: Signal can't read it; "
        "the bot sees your exact position and keeps only a rough area."
    )
    [confirm] = await bob.pick("Gastown")  # one message: its number
    assert "Area: Gastown" in confirm.text

    await bob.say("/naloxone")
    await bob.pick("Nasal spray")
    [confirm] = await bob.share_location_link(*POINT)
    assert "Area: Downtown Eastside" in confirm.text
    assert await kept_place(sessions) == ("dtes", *CELL)


OUTSIDE_HEAD = "That place is outside the areas this service covers (Vancouver)."


async def test_outside_every_area_on_telegram(telegram: TelegramEmulator) -> None:
    ana = telegram.user("ana")
    await ana.command("naloxone")
    await ana.tap("Nasal spray")
    [outside] = await ana.share_location(0.0, 0.0)
    assert outside.text.startswith(OUTSIDE_HEAD)
    assert "local emergency number" in outside.text
    assert "(demo)" not in outside.text  # no services from another city
    [confirm] = await ana.tap("Gastown")  # still at the step: the list is there
    assert "Area: Gastown" in confirm.text


async def test_outside_every_area_on_signal(signal: SignalEmulator) -> None:
    bob = signal.person("bob")
    await bob.say("/supplies")
    await bob.pick("Sharps bins")
    await bob.pick("Personal sharps container")
    await bob.pick("1")
    await bob.pick("Done: choose where")
    [outside] = await bob.share_location_link(0.0, 0.0)
    assert outside.text.startswith(OUTSIDE_HEAD)
    assert "local emergency number" in outside.text
    assert "(demo)" not in outside.text
    [confirm] = await bob.pick("Gastown")
    assert "Area: Gastown" in confirm.text


async def test_a_sticker_at_the_step_shows_its_areas_again_on_telegram(
    telegram: TelegramEmulator,
) -> None:
    ana = telegram.user("ana")
    await ana.command("supplies")
    await ana.tap("Sharps bins")
    await ana.tap("Personal sharps container")
    await ana.tap("1")
    [where] = await ana.tap("Done: choose where")
    [again] = await ana.send_sticker()
    assert again.text.startswith("I can only read text, buttons and locations.\n\n")
    assert again.text.endswith(where.text)
    assert again.rows == where.rows
    assert again.asks_location
    [confirm] = await ana.tap("Gastown")  # straight from the re-shown keyboard
    assert "Area: Gastown" in confirm.text


async def test_a_sticker_at_the_step_shows_its_areas_again_on_signal(
    signal: SignalEmulator,
) -> None:
    bob = signal.person("bob")
    await bob.say("/naloxone")
    [where] = await bob.pick("Nasal spray")
    [again] = await bob.send_sticker()
    # Worded for Signal: no buttons there, and a location is a map link.
    assert again.text.startswith(
        "I can only read text: a number from the list, words, or a map link.\n\n"
    )
    assert again.text.endswith(where.text)  # the question and the numbered list again
    [confirm] = await bob.pick("Gastown")
    assert "Area: Gastown" in confirm.text


async def test_signal_streets_and_landmarks(signal: SignalEmulator) -> None:
    bob = signal.person("bob")
    await bob.say("/naloxone")
    await bob.pick("Nasal spray")
    [confirm] = await bob.say("Steam Clock")
    assert "Area: Gastown" in confirm.text

    await bob.say("/naloxone")
    await bob.pick("Nasal spray")
    [which] = await bob.say("E Hastings St")
    assert which.text.startswith("“E Hastings St” runs through more than one area.")
    assert "1. Downtown Eastside\n2. Grandview-Woodland\n3. Hastings-Sunrise" in which.text
    [confirm] = await bob.say("1")
    assert "Area: Downtown Eastside" in confirm.text

    await bob.say("/naloxone")
    await bob.pick("Nasal spray")
    [which] = await bob.say("Kingsway")
    assert "1. Mount Pleasant\n2. Kensington-Cedar Cottage\n3. Renfrew-Collingwood" in which.text

    await bob.say("/naloxone")
    await bob.pick("Nasal spray")
    [which] = await bob.say("Main St")  # not Mount Pleasant's alias any more
    assert "runs through more than one area" in which.text
    [confirm] = await bob.say("Main St & E Hastings")
    assert "Area: Downtown Eastside" in confirm.text


async def test_signal_pack_counts_are_typed_as_numbers(signal: SignalEmulator) -> None:
    bob = signal.person("bob")
    await bob.say("/supplies")
    await bob.pick("Test strips")
    [packs] = await bob.pick("Fentanyl test strips")
    # Each count answers to its own number; Back to 0: "4" can never mean Back (it did).
    assert "\n1. 1\n2. 2\n3. 3\n0. ‹ Back\nReply with a number." in packs.text
    [too_many] = await bob.say("4")
    assert too_many.text.startswith("Please choose one of the options.")
    assert "How many packs?" in too_many.text  # still asking, not gone back
    [basket] = await bob.say("3")
    assert "Fentanyl test strips: 3 packs" in basket.text
    await bob.say("Add something else")
    await bob.pick("Test strips")
    await bob.pick("Fentanyl test strips")
    [items] = await bob.say("0")
    assert items.text.startswith("Choose one")
