"""One tap after a handover: 👍 / 👎 and optional reasons, counted once, shown in /stats."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import select, text

from bot.db.models import DailyCount, Request
from tests.handlers.peer_world import Sessions, World, make_world
from tests.support.chat import texts

EXPIRED = "That button has expired. Here is the menu."


async def handed_over(world: World, who: str = "ana") -> tuple[int, str]:
    """``who`` asked, a peer accepted and handed over: the request id and its reference."""
    outcome = await world.request(who, {"nalox_nasal": 1})
    assert outcome.reference is not None
    await world.chat.tap("pat", "Accept")
    code = next(
        line.rsplit(" ", 1)[-1]
        for reply in reversed(world.chat.inbox(who))
        for line in reply.text.splitlines()
        if line.startswith("Your pickup code:")
    )
    await world.chat.tap("pat", "Handed over")
    await world.chat.say("pat", code)
    return outcome.request_id, outcome.reference


async def feedback_line(world: World) -> str:
    lines = texts(await world.chat.say("coco", "/stats 7")).splitlines()
    return next(line for line in lines if line.startswith("Feedback"))


@pytest.fixture
async def world(sessions: Sessions) -> World:
    world = await make_world(sessions)
    await world.outlet("alpha", stock={"nalox_nasal": 9})
    await world.peer("pat", "alpha")
    return world


async def test_thumbs_come_with_the_handover_notice(world: World) -> None:
    request_id, reference = await handed_over(world)
    notice = world.chat.last("ana")
    assert notice.text == (
        f"Thanks for picking up {reference}. Take care.\n\n"
        "How did it go? Your answer is only added to anonymous daily totals."
    )
    assert [(o.label, o.payload) for o in notice.options] == [
        ("👍", f"fb:u:{request_id}"),
        ("👎", f"fb:d:{request_id}"),
    ]
    assert texts(await world.chat.tap("ana", "👍")) == "Thank you."
    assert await feedback_line(world) == (
        "Feedback after handover: 👍 1, 👎 0 (waited too long 0, not what was asked for 0, "
        "felt unsafe 0)"
    )


async def test_thumbs_down_with_a_reason(world: World) -> None:
    await handed_over(world)
    [why] = await world.chat.tap("ana", "👎")
    assert why.text == "Sorry it didn't go well. If you like, tell us what went wrong:"
    assert [o.label for o in why.options] == [
        "I waited too long",
        "Not what I asked for",
        "I felt unsafe",
        "Skip",
    ]
    assert texts(await world.chat.tap("ana", "I felt unsafe")) == "Thank you."
    # The same reason again (a double tap, a replay): counted once.
    assert texts(await world.chat.press("ana", why.options[2].payload)) == EXPIRED
    assert texts(await world.chat.press("ana", why.options[0].payload)) == EXPIRED
    assert await feedback_line(world) == (
        "Feedback after handover: 👍 0, 👎 1 (waited too long 0, not what was asked for 0, "
        "felt unsafe 1)"
    )


async def test_one_answer_per_request_and_only_for_ones_own(
    world: World, sessions: Sessions
) -> None:
    request_id, _ = await handed_over(world)
    # Someone else's request, with a forged payload: nothing counted.
    await world.chat.say("bob", "/start")
    assert texts(await world.chat.press("bob", f"fb:u:{request_id}")) == EXPIRED
    assert texts(await world.chat.press("bob", f"fb:d:{request_id}")) == EXPIRED
    # Theirs: once, whichever thumb comes second.
    assert texts(await world.chat.press("ana", f"fb:u:{request_id}")) == "Thank you."
    assert texts(await world.chat.press("ana", f"fb:u:{request_id}")) == EXPIRED
    assert texts(await world.chat.press("ana", f"fb:d:{request_id}")) == EXPIRED
    # Not handed over yet: no feedback.
    open_request = await world.request("ana", {"nalox_nasal": 1})
    assert texts(await world.chat.press("ana", f"fb:u:{open_request.request_id}")) == EXPIRED
    for forged in ("fb:u:", "fb:u:x", "fb:x:1", "fb:r:zz:unsafe", "fb:r::", "fb"):
        assert texts(await world.chat.press("ana", forged)) == EXPIRED, forged
    assert await feedback_line(world) == (
        "Feedback after handover: 👍 1, 👎 0 (waited too long 0, not what was asked for 0, "
        "felt unsafe 0)"
    )


async def test_the_answer_is_kept_only_in_the_days_counters(
    world: World, sessions: Sessions
) -> None:
    request_id, _ = await handed_over(world)
    await world.chat.tap("ana", "👎")
    await world.chat.tap("ana", "I waited too long")
    async with sessions() as session:
        request = await session.get(Request, request_id)
        assert request is not None
        assert request.feedback_given  # that it was answered, not what
        measures = {
            row.measure: row.count
            for row in await session.scalars(
                select(DailyCount).where(DailyCount.measure.like("feedback.%"))
            )
        }
        states = (await session.scalars(text("SELECT data FROM conversation_states"))).all()
    assert measures == {"feedback.down": 1, "feedback.waited": 1}
    assert all("feedback" not in json.dumps(s) for s in states)  # the reasons step ended


async def test_reasons_never_take_over_a_conversation(world: World) -> None:
    request_id, _ = await handed_over(world)
    await world.chat.say("ana", "/supplies")
    thumbs_down = await world.chat.press("ana", f"fb:d:{request_id}")  # the older message
    assert texts(thumbs_down) == "Thank you. Sorry it didn't go well."
    [items] = await world.chat.tap("ana", "Test strips")  # the basket goes on
    assert items.text.startswith("Choose one")
