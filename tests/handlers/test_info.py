"""/info and /emergency as transcripts."""

from __future__ import annotations

from tests.handlers.person_world import Sessions, first_line, labels, make_world
from tests.support.chat import texts


async def test_emergency_comes_straight_away(sessions: Sessions) -> None:
    world = await make_world(sessions)
    [reply] = await world.chat.say("ana", "/emergency")
    lines = reply.text.splitlines()
    assert lines[0] == "Emergency: what to do"
    assert lines[1] == "Call 911 now if someone can't be woken or isn't breathing."
    assert "2. Call 911." in reply.text
    assert "{" not in reply.text
    assert labels(reply) == [
        "Nasal spray: how to use",
        "Shot kit: how to use",
        "Back to menu",
    ]
    [nasal] = await world.chat.tap("ana", "Nasal spray: how to use")
    assert first_line(nasal) == "Nasal spray: how to use"


async def test_every_card_from_the_menu(sessions: Sessions) -> None:
    world = await make_world(sessions)
    [menu] = await world.chat.say("ana", "/info")
    assert first_line(menu) == "Info: choose a topic."
    cards = world.engine.deps.content.cards.cards
    assert labels(menu) == [card.title for card in cards] + ["Back to menu"]
    for card in cards:
        [shown] = await world.chat.press("ana", f"inf:{card.code}")
        assert first_line(shown) == card.title
        assert "{" not in shown.text
        assert "}" not in shown.text
        assert labels(shown) == ["More topics", "Back to menu"]
        assert len(shown.text) < 1600
    [again] = await world.chat.tap("ana", "More topics")
    assert labels(again) == labels(menu)


async def test_unknown_card_is_an_expired_button(sessions: Sessions) -> None:
    world = await make_world(sessions)
    for forged in ("inf:nothing", "inf:", "inf", "inf:overdose:extra"):
        assert texts(await world.chat.press("ana", forged)) == (
            "That button has expired. Here is the menu."
        ), forged


async def test_reading_a_card_keeps_the_conversation(sessions: Sessions) -> None:
    world = await make_world(sessions)
    await world.chat.say("ana", "/supplies")
    await world.chat.press("ana", "inf:safer_injecting")
    state = await world.state("ana")
    assert state is not None
    assert state.flow == "supplies"
    # The menu's Info button, like any command, starts afresh.
    await world.chat.press("ana", "menu:info")
    assert await world.state("ana") is None
