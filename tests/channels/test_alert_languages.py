"""An alert written in Dari and Russian, through the real python-telegram-bot client.

A coordinator composes it in English on the Telegram emulator, writes the free text again in
Dari (with a Latin unit and a number in it) and Russian, and sends it; the outbox sends it
through the real client. Each subscriber gets their language, and the Bot API accepts every
text, direction marks included.
"""

from __future__ import annotations

from bot.core.bidi import FSI, PDI, strip_marks
from bot.core.engine import Engine
from bot.domain import Role
from bot.emulator import TelegramEmulator
from bot.emulator.people import FakeUser
from bot.services import invites
from bot.services.outbox import run_alert_due
from tests.support.engine import shipped_words

WORDS = shipped_words()
DARI_TEXT = {"sold_as": "هیروئین", "found_to_contain": "نیتازین 2 mg"}


async def _subscribe(user: FakeUser, locale: str) -> None:
    t = WORDS.locales[locale]
    await user.command("alerts")
    await user.tap(t("Add an area"))
    await user.say("Strathcona")


async def _coordinator(engine: Engine, telegram: TelegramEmulator) -> FakeUser:
    async with engine.sessions.begin() as session:
        code = await invites.create(
            session,
            codes_key=engine.deps.keys.codes,
            role=Role.COORDINATOR,
            ttl=engine.deps.config.invite_ttl,
            now=engine.clock(),
        )
    coco = telegram.user("coco", language_code="en")
    await coco.command("join", code)
    return coco


async def test_alert_in_three_languages_through_the_real_client(
    bot: Engine, telegram: TelegramEmulator
) -> None:
    people = {
        "en": telegram.user("ana", language_code="en"),
        "ru": telegram.user("ivan", language_code="ru"),
        "fa_AF": telegram.user("zahra", language_code="fa"),
    }
    for locale, user in people.items():
        await _subscribe(user, locale)
    coco = await _coordinator(bot, telegram)
    await coco.command("broadcast")
    for label in ("New alert", "Bad batch", "Danger", "Strathcona", "Done"):
        await coco.tap(label)
    await coco.say("down")
    await coco.say("nitazenes")
    await coco.tap("Skip")
    await coco.tap("Skip")
    await coco.tap("Skip")
    await coco.tap("1 day")
    await coco.tap("Add a language")
    await coco.tap("دری")
    await coco.say(DARI_TEXT["sold_as"])
    await coco.say(DARI_TEXT["found_to_contain"])
    await coco.tap("Add a language")
    await coco.tap("Русский")
    await coco.say("героин")
    [preview] = await coco.tap("Skip")
    assert "Also written in: دری and Русский" in preview.text
    [shown] = await coco.tap("Preview in دری")
    shown_text = shown.text  # the flow's message: edited again at the next step
    await coco.tap("Back")
    await coco.tap("Send now")

    await run_alert_due(bot, budget=5)
    got = {locale: user.last.text for locale, user in people.items()}
    assert "Sold as: down" in got["en"]
    assert "Продаётся как: героин" in got["ru"]
    assert "Что нашли в составе: nitazenes" in got["ru"]  # not written in Russian
    assert f"{FSI}نیتازین 2 mg{PDI}" in got["fa_AF"]
    dari = strip_marks(got["fa_AF"])
    assert all(text in dari for text in DARI_TEXT.values())
    assert "down" not in dari
    assert "nitazenes" not in dari
    assert got["fa_AF"] in shown_text  # the preview was exactly what was sent
    assert not [e for e in telegram.errors if e.code == 400]
