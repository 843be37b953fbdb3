"""An alert written in several languages from its preview, as transcripts.

A coordinator composes a bad-batch warning in English, writes its free text again in Russian
and Dari, checks each language's preview and sends it: each subscriber gets their own
language's words, the structured parts from their catalogue, and the first text for whatever
was not written in their language.
"""

from __future__ import annotations

import re

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.core.bidi import strip_marks
from bot.domain import AlertStatus
from bot.services import alerts
from bot.services.outbox import run_alert_due
from tests.handlers.peer_world import Sessions, World, make_world
from tests.handlers.test_broadcast import _compose, _sent
from tests.support.chat import texts

RU = {
    "sold_as": "героин",
    "advice": "Не употребляйте в одиночку. Сначала попробуйте немного.",
}
FA = {"sold_as": "هیروئین", "found_to_contain": "نیتازین", "advice": "تنها مصرف نکنید."}
RUSSIAN, DARI = "Русский", "دری"
SEPARATOR = "———"
# English words a Russian or Dari subscriber must not see: the base free text and the fixed
# English of parts that are already translated.
ENGLISH = ("down", "Sold as", "Bad batch warning", "Urgent notice", "Advice:", "Don't use alone")


async def _subscriber(world: World, who: str, area: str, language: str | None) -> None:
    await world.chat.say(who, "/alerts")
    await world.chat.tap(who, "Add an area")
    await world.chat.say(who, area)
    if language is not None:
        await world.chat.say(who, f"/language {language}")


async def _write(world: World, language: str, answers: list[str | None]) -> str:
    """``coco`` writes the draft's fields in ``language`` (None = Skip); returns the preview."""
    chat = world.chat
    await chat.tap("coco", "Add a language")
    [first] = await chat.tap("coco", language)
    assert first.text.startswith(f"Sold as, in {language}:\n(first written as: down)")
    reply = first
    for answer in answers:
        [reply] = await (chat.tap("coco", "Skip") if answer is None else chat.say("coco", answer))
    return reply.text


def _alert_part(preview: str) -> str:
    """The alert between the separators of a preview."""
    return preview.split(SEPARATOR)[1].strip()


async def test_each_subscriber_gets_their_own_language(sessions: Sessions) -> None:
    world = await make_world(sessions)
    chat = world.chat
    for who, language in (("ana", None), ("ivan", "ru"), ("zahra", "fa_AF")):
        await _subscriber(world, who, "Strathcona", language)
    await _compose(world, "Strathcona")

    ru = await _write(world, RUSSIAN, [RU["sold_as"], None, RU["advice"]])
    assert ru.startswith("Written in Русский.")
    assert "Also written in: Русский" in ru
    # Russian is done: only Dari is left to choose.
    [choose] = await chat.tap("coco", "Add a language")
    assert [o.label for o in choose.options] == [DARI, "Back"]
    await chat.tap("coco", "Back")
    fa = await _write(world, DARI, [FA["sold_as"], FA["found_to_contain"], FA["advice"]])
    assert "Also written in: Русский and دری" in fa
    labels = [o.label for o in chat.last("coco").options]
    assert labels == [
        "Send now",
        "Schedule…",
        "Add details…",
        "Preview in Русский",
        "Preview in دری",
        "Add photo",
        "Confidence…",
        "Route…",
        "Cancel",
    ]

    [shown] = await chat.tap("coco", "Preview in دری")
    assert shown.text.startswith("What people who read دری will get:")
    dari_preview = _alert_part(shown.text)
    await chat.tap("coco", "Back")
    [shown] = await chat.tap("coco", "Preview in Русский")
    russian_preview = _alert_part(shown.text)
    await chat.tap("coco", "Back")
    [sent] = await chat.tap("coco", "Send now")
    assert sent.text.startswith("Sending A1 to 3 people.")
    await run_alert_due(world.engine, budget=3)

    english = chat.last("ana").text
    russian = chat.last("ivan").text
    dari = chat.last("zahra").text
    assert "Sold as: down" in english
    assert "героин" not in english
    assert russian == russian_preview
    assert dari == dari_preview
    assert russian.startswith("🔴 Срочное сообщение от вашей группы")
    assert "Внимание: опасная партия" in russian
    assert "Продаётся как: героин" in russian
    assert RU["advice"] in russian
    assert "nitazenes" in russian  # skipped in Russian: the first text beats no warning
    plain = strip_marks(dari)
    assert plain.startswith("🔴 پیام عاجل از گروه شما")
    assert "هشدار: جنس خطرناک" in plain
    assert all(text in plain for text in FA.values())
    for other in (russian, plain):
        assert not [word for word in ENGLISH if word in other]
    assert "nitazenes" not in plain


async def test_a_language_not_written_gets_the_first_text(sessions: Sessions) -> None:
    world = await make_world(sessions)
    await _subscriber(world, "zahra", "Gastown", "fa_AF")
    await _compose(world, "Gastown")
    await _write(world, RUSSIAN, [RU["sold_as"], None, None])
    await world.chat.tap("coco", "Send now")
    await run_alert_due(world.engine, budget=3)
    dari = strip_marks(world.chat.last("zahra").text)
    assert "هشدار: جنس خطرناک" in dari
    assert "down" in dari
    assert "Don't use alone. Test a small amount first." in dari
    assert "героин" not in dari


async def test_nothing_written_keeps_the_draft_and_remove_undoes(sessions: Sessions) -> None:
    world = await make_world(sessions)
    chat = world.chat
    await _compose(world, "Gastown")
    back = await _write(world, DARI, [None, None, None])
    assert back.startswith("Nothing was written in دری")
    assert "Also written in" not in back
    await _write(world, DARI, [None, "نیتازین", None])
    # Leaving half-way through a language keeps nothing new.
    await chat.tap("coco", "Add a language")
    await chat.tap("coco", RUSSIAN)
    await chat.say("coco", "героин")
    [back_reply] = await chat.tap("coco", "Back")
    assert "Also written in: دری" in back_reply.text
    await chat.tap("coco", "Preview in دری")
    [removed] = await chat.tap("coco", "Remove دری")
    assert removed.text.startswith("Removed دری.")
    assert "Also written in" not in removed.text
    async with sessions() as session:
        view = await alerts.get(session, alert_id=1)
    assert view is not None
    assert (view.status, view.base_locale, dict(view.translations)) == (
        AlertStatus.DRAFT,
        "en",
        {},
    )


async def test_bad_text_and_stale_buttons_get_a_clear_answer(sessions: Sessions) -> None:
    world = await make_world(sessions)
    chat = world.chat
    await _subscriber(world, "coco", "Gastown", None)
    await _compose(world, "Gastown")
    [choose] = await chat.tap("coco", "Add a language")
    run = choose.options[0].payload.split(":")[1]
    # Not a choice: an unknown language, or the alert's own.
    for forged in (f"bcl:{run}:pick:de", f"bcl:{run}:pick:en", f"bcl:{run}:skip:0"):
        assert "expired" in texts(await chat.press("coco", forged))
    # The choices still stand: an expired button changes nothing.
    [russian] = [o.payload for o in choose.options if o.label == RUSSIAN]
    [first] = await chat.press("coco", russian)
    assert first.text.startswith("Sold as, in Русский:")
    run = first.options[0].payload.split(":")[1]
    assert "expired" in texts(await chat.press("coco", f"bcl:{run}:skip:3"))
    [long] = await chat.say("coco", "г" * 201)
    assert long.text.startswith("That can't be used: plain text only, up to 200 characters.")
    assert "Sold as, in Русский" in long.text
    [typed] = await chat.tap("coco", "Back")
    for forged in (f"bcl:{run}:pick:de", f"bcl:{run}:skip:4", "bcl:zzzz:show:ru", "bcl:x"):
        assert "expired" in texts(await chat.press("coco", forged))
    assert texts(await chat.press("eve", f"bcl:{run}:add:1")) == "This command is for coordinators."
    # STOP typed as alert text is alert text: the coordinator's own subscription stays.
    await chat.say("coco", "/broadcast")
    await _compose(world, "Gastown")
    await _write(world, RUSSIAN, ["STOP", None, None])
    [listed] = await chat.say("coco", "/alerts")
    assert "Gastown" in listed.text
    async with sessions() as session:
        view = await alerts.get(session, alert_id=2)
    assert view is not None
    assert dict(view.translations) == {"ru": {"sold_as": "STOP"}}
    assert typed.text.startswith("Preview of A1")


@settings(
    max_examples=15,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(text=st.text(max_size=300).filter(lambda s: not s.lstrip().startswith("/")))
async def test_hostile_language_text_gets_a_clear_answer(sessions: Sessions, text: str) -> None:
    world = await make_world(sessions)
    chat = world.chat
    await _compose(world, "Gastown")
    await chat.tap("coco", "Add a language")
    await chat.tap("coco", DARI)
    [answer] = await chat.say("coco", text + "\u202e\u2066")
    assert answer.text.startswith(("That can't be used", "Found to contain, in دری"))
    assert answer.options
    for _ in range(2):
        await chat.tap("coco", "Skip")
    async with sessions() as session:
        view = await alerts.get(session, alert_id=1)
    assert view is not None
    for written in view.translations.values():
        for value in written.values():
            assert alerts.check_field("sold_as", value) == value
            assert not re.search(r"[\u202a-\u202e\u2066-\u2069]", value)


async def test_an_update_is_written_per_language_too(sessions: Sessions) -> None:
    world = await make_world(sessions)
    chat = world.chat
    await _subscriber(world, "ana", "Strathcona", None)
    await _subscriber(world, "ivan", "Strathcona", "ru")
    await _sent(world, "Strathcona")

    await chat.say("coco", "/broadcast update A1")
    await chat.say("coco", "down, again")  # sold as
    for _ in range(4):
        [preview] = await chat.tap("coco", "Skip")
    assert preview.text.startswith("Preview of A2 for A1")
    assert "Add a language" in [o.label for o in preview.options]
    await chat.tap("coco", "Add a language")
    [asked] = await chat.tap("coco", RUSSIAN)
    assert asked.text.startswith(f"Sold as, in {RUSSIAN}:\n(first written as: down, again)")
    [back] = await chat.say("coco", "снова героин")
    # Back on the update's own preview, which still knows its parent.
    assert back.text.startswith("Written in Русский.")
    assert "Preview of A2 for A1" in back.text
    assert "Also written in: Русский" in back.text
    [sent] = await chat.tap("coco", "Send now")
    assert sent.text.startswith("Sending A2 to 2 people.")
    await run_alert_due(world.engine, budget=2.0)

    [english] = [r.text for r in chat.inbox("ana") if "down, again" in r.text]
    assert "снова героин" not in english
    russian = [r.text for r in chat.inbox("ivan") if "снова героин" in r.text]
    assert len(russian) == 1
    assert "down, again" not in russian[0]
