"""The masked line between a person and the peer who accepted their request, as transcripts."""

from __future__ import annotations

import logging

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select, update

from bot.db.base import Base
from bot.db.models import ConversationState, Outlet, PeerWorker, RelayLine
from bot.services import relay as relay_service
from handlers import peer, relay
from handlers.due import run_due
from tests.handlers.peer_world import Sessions, World, make_world
from tests.support.chat import texts


async def accepted(sessions: Sessions, *, meets: bool = False) -> tuple[World, str, int]:
    """ana's request accepted by pat at alpha: (world, reference, request id)."""
    world = await make_world(sessions)
    await world.outlet("alpha")
    if meets:
        async with sessions.begin() as session:
            await session.execute(update(Outlet).values(meets_nearby=True))
    await world.peer("pat", "alpha")
    outcome = await world.request("ana")
    assert outcome.reference is not None
    await world.chat.tap("pat", "Accept")
    return world, outcome.reference, outcome.request_id


def labels(world: World, who: str) -> list[str]:
    return [o.label for o in world.chat.last(who).options]


async def test_quick_replies_and_text_both_ways(sessions: Sessions) -> None:
    world, ref, _ = await accepted(sessions)
    # Both accepted-request messages carry the line.
    assert {"On my way", "10 minutes late", "I'm here", "I can't make it", "Message"} <= set(
        labels(world, "ana")
    )
    assert "Close the line" in labels(world, "ana")
    assert "Release" in labels(world, "pat")

    sent = await world.chat.tap("ana", "On my way")
    assert f"Sent on {ref}: On my way" in texts(sent)
    assert world.chat.last("pat").text == f"{ref} · Person: On my way"
    # The peer answers from the message the line brought.
    await world.chat.tap("pat", "10 minutes late")
    assert world.chat.last("ana").text == f"{ref} · Peer: 10 minutes late"

    asked = await world.chat.tap("pat", "Message")
    assert "Type your message" in texts(asked)
    await world.chat.say("pat", "Blue door,   side entrance")
    assert world.chat.last("ana").text == f"{ref} · Peer: Blue door, side entrance"
    await world.chat.tap("ana", "Message")
    await world.chat.say("ana", "ok thanks")
    assert world.chat.last("pat").text == f"{ref} · Person: ok thanks"
    # One message per [Message]: the next text is not passed on.
    before = len(world.chat.inbox("pat"))
    await world.chat.say("ana", "hello again")
    assert len(world.chat.inbox("pat")) == before
    # Neither ever saw the other's chat handle.
    assert "ana" not in texts(world.chat.inbox("pat"))
    assert "pat" not in texts(world.chat.inbox("ana"))


async def test_in_the_readers_language(sessions: Sessions) -> None:
    world, ref, _ = await accepted(sessions)
    await world.chat.say("pat", "/language ru")
    await world.chat.tap("ana", "I'm here")
    assert world.chat.last("pat").text == f"{ref} · Человек: Я на месте"


async def test_identifiers_are_masked(sessions: Sessions) -> None:
    world, ref, _ = await accepted(sessions)
    await world.chat.tap("ana", "Message")
    await world.chat.say("ana", "text me on +1 604-555-0199 or @ana_k, https://t.me/ana_k")
    got = world.chat.last("pat").text
    assert got.startswith(f"{ref} · Person: text me on [📞] or [@], [🔗]")
    for leaked in ("555", "0199", "ana_k", "t.me"):
        assert leaked not in got
    await world.chat.tap("pat", "Message")
    await world.chat.say("pat", "ask for Dave Smith at 123 Main St, 6045550123")
    got = world.chat.last("ana").text
    for leaked in ("Dave", "Smith", "123 Main", "6045550123"):
        assert leaked not in got


async def test_too_long_or_not_text_is_asked_again(sessions: Sessions) -> None:
    world, _, _ = await accepted(sessions)
    await world.chat.tap("ana", "Message")
    before = len(world.chat.inbox("pat"))
    answer = await world.chat.say("ana", "x" * (relay_service.MAX_CHARS + 1))
    assert "up to 200 characters" in texts(answer)
    await world.chat.share_location("ana", 49.28, -123.1)
    assert len(world.chat.inbox("pat")) == before
    await world.chat.tap("ana", "Don't send")
    await world.chat.say("ana", "not for the peer")
    assert len(world.chat.inbox("pat")) == before


async def test_rate_limit_per_side(sessions: Sessions) -> None:
    world, ref, _ = await accepted(sessions)
    for _ in range(relay_service.LIMIT):
        await world.chat.tap("ana", "On my way")
    before = len(world.chat.inbox("pat"))
    refused = await world.chat.press("ana", world.chat.inbox("ana")[-1].options[0].payload)
    assert f"You've sent {relay_service.LIMIT} messages on {ref} this hour" in texts(refused)
    assert len(world.chat.inbox("pat")) == before
    # The other side is counted apart.
    await world.chat.tap("pat", "I'm here")
    assert world.chat.last("ana").text == f"{ref} · Peer: I'm here"
    # Next hour, the person can write again.
    world.clock.advance(hours=1)
    await world.chat.tap("ana", "I'm here")
    assert world.chat.last("pat").text == f"{ref} · Person: I'm here"


@pytest.mark.parametrize("closer", ["ana", "pat"])
async def test_either_side_closes(sessions: Sessions, closer: str) -> None:
    world, ref, _ = await accepted(sessions)
    other = "pat" if closer == "ana" else "ana"
    closed = await world.chat.tap(closer, "Close the line")
    assert f"You closed the line for {ref}" in texts(closed)
    side = "person" if closer == "ana" else "peer"
    assert world.chat.last(other).text == f"{ref} · The {side} closed the line."
    # Later presses from either side are refused, and nothing goes through.
    for who in ("ana", "pat"):
        before = len(world.chat.inbox(other if who == closer else closer))
        payload = f"{relay.PREFIX}:q:{_request_id(world, 'ana')}:here"
        refused = await world.chat.press(who, payload)
        assert f"The line for {ref} was closed. Nothing was sent." in texts(refused)
        assert len(world.chat.inbox(other if who == closer else closer)) == before
    # The pickup itself is untouched: the peer can still hand over.
    assert "Type the pickup code" in texts(await world.chat.tap("pat", "Handed over"))


def _request_id(world: World, who: str) -> int:
    for reply in world.chat.inbox(who):
        for option in reply.options:
            if option.payload.startswith(f"{relay.PREFIX}:m:"):
                return int(option.payload.rsplit(":", 1)[1])
    raise AssertionError("no line buttons")


async def _pickup_code(world: World) -> str:
    import re

    for reply in reversed(world.chat.inbox("ana")):
        if found := re.search(r"Your pickup code: ([0-9]{6})", reply.text):
            return found.group(1)
    raise AssertionError("no code")


REFUSED = "This line is closed: the request was handed over, cancelled, released or has expired."


async def test_closed_after_handover(sessions: Sessions) -> None:
    world, _, request_id = await accepted(sessions)
    await world.chat.tap("pat", "Handed over")
    await world.chat.say("pat", await _pickup_code(world))
    assert await world.status(request_id) == "handed_over"
    for who in ("ana", "pat"):
        assert REFUSED in texts(await world.chat.press(who, f"ln:q:{request_id}:here"))


async def test_closed_after_cancel_even_mid_message(sessions: Sessions) -> None:
    world, _, request_id = await accepted(sessions)
    await world.chat.tap("pat", "Message")  # the peer starts typing...
    await world.chat.say("ana", "/cancel")
    await world.chat.tap("ana", "Yes, cancel it")
    before = len(world.chat.inbox("ana"))
    assert REFUSED in texts(await world.chat.say("pat", "still coming?"))
    assert REFUSED in texts(await world.chat.press("ana", f"ln:q:{request_id}:way"))
    assert all("still coming" not in r.text for r in world.chat.inbox("ana")[before:])


async def test_closed_after_expiry(sessions: Sessions) -> None:
    world, _, request_id = await accepted(sessions)
    world.clock.advance(hours=25)
    assert (await run_due(world.engine)).expired == 1
    assert REFUSED in texts(await world.chat.press("ana", f"ln:q:{request_id}:late"))
    assert REFUSED in texts(await world.chat.press("pat", f"ln:m:{request_id}"))


async def test_peer_releases_from_the_line(sessions: Sessions) -> None:
    world, ref, request_id = await accepted(sessions)
    await world.chat.tap("ana", "I can't make it")
    assert world.chat.last("pat").text == f"{ref} · Person: I can't make it"
    assert relay.RELEASE.format(request_id) == f"{peer.PICKUP_PREFIX}:r:{request_id}"
    assert relay.HANDED_OVER.format(request_id) == f"{peer.PICKUP_PREFIX}:h:{request_id}"
    await world.chat.tap("pat", "Release")
    released = await world.chat.tap("pat", "Yes, release")
    assert f"Released {ref}" in texts(released)
    assert REFUSED in texts(await world.chat.press("ana", f"ln:q:{request_id}:here"))


async def test_strangers_cannot_use_a_line(sessions: Sessions) -> None:
    world, _, request_id = await accepted(sessions)
    await world.outlet("beta", east_km=3)
    await world.peer("bob", "beta")
    for who in ("eve", "bob", "coco"):
        assert REFUSED in texts(await world.chat.press(who, f"ln:q:{request_id}:here"))
    assert all("·" not in r.text for r in world.chat.inbox("ana")[-1:])
    for forged in ("ln:q:1", "ln:q:99999999999:here", "ln:zz:1", "ln:q:1:nope"):
        answer = texts(await world.chat.press("ana", forged))
        assert "no longer valid" in answer or REFUSED in answer


async def test_the_peers_step_is_kept_on_the_staff_contact(sessions: Sessions) -> None:
    world, _, _ = await accepted(sessions)
    await world.chat.tap("pat", "Message")
    async with sessions() as session:
        staff = await session.scalar(select(PeerWorker.contact_id))
        states = (await session.execute(select(ConversationState.contact_id))).scalars().all()
    assert states == [staff]
    # The person's own contact holds none (pat's ordinary pseudonym).
    assert await world.contact_id("pat") not in states


async def test_status_offers_the_line(sessions: Sessions) -> None:
    world, ref, _ = await accepted(sessions)
    await world.chat.say("ana", "/status")
    await world.chat.tap("ana", f"Write to the peer · {ref}")
    await world.chat.say("ana", "coming now")
    assert world.chat.last("pat").text == f"{ref} · Person: coming now"


async def test_meet_nearby(sessions: Sessions) -> None:
    world, ref, request_id = await accepted(sessions, meets=True)
    pickup = world.chat.last("ana")
    assert "can also meet you nearby" in pickup.text
    assert [o.label for o in pickup.options][:2] == ["Pick up there", "Meet nearby"]
    asked = await world.chat.tap("ana", "Meet nearby")
    assert "Name a public place" in texts(asked)
    await world.chat.say("ana", "Strathcona library steps, call 604 555 0199")
    got = world.chat.last("pat").text
    assert got == f"{ref} · Person: Let's meet at: Strathcona library steps, call [📞]"
    await world.chat.tap("pat", "On my way")
    assert world.chat.last("ana").text == f"{ref} · Peer: On my way"
    async with sessions() as session:
        line = await session.scalar(select(RelayLine))
    assert line is not None
    assert line.meet is True
    # Changing one's mind: the peer is told.
    await world.chat.press("ana", f"ln:pick:{request_id}")
    assert world.chat.last("pat").text == f"{ref} · Person: I'll pick up at the outlet after all."
    async with sessions() as session:
        assert await session.scalar(select(RelayLine.meet)) is False
    # The handover is the same, by code.
    await world.chat.tap("pat", "Handed over")
    await world.chat.say("pat", await _pickup_code(world))
    assert await world.status(request_id) == "handed_over"
    assert "library" not in await _dump(sessions)


async def test_no_meet_where_the_outlet_does_not(sessions: Sessions) -> None:
    world, _, request_id = await accepted(sessions)
    assert "Meet nearby" not in labels(world, "ana")
    answer = await world.chat.press("ana", f"ln:meet:{request_id}")
    assert "no longer valid" in texts(answer)


async def _dump(sessions: Sessions) -> str:
    """Every row of every table, as text."""
    out = []
    async with sessions() as session:
        for table in Base.metadata.sorted_tables:
            for row in (await session.execute(select(table))).all():
                out.append(repr(tuple(row)))
    return "\n".join(out)


async def test_the_relay_stores_no_message_text(
    sessions: Sessions, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    world, _, _ = await accepted(sessions, meets=True)
    said = {
        "ana": ["Zanzibar marmalade", "quokka umbrella"],
        "pat": ["periwinkle saxophone", "gondola tangerine"],
    }
    await world.chat.tap("ana", "Meet nearby")
    await world.chat.say("ana", "the aardvark fountain")
    for who in ("ana", "pat"):
        for text in said[who]:
            await world.chat.tap(who, "Message")
            await world.chat.say(who, text)
    await world.chat.tap("ana", "Close the line")
    delivered = texts(world.chat.inbox("ana") + world.chat.inbox("pat"))
    words = ["aardvark", "Zanzibar", "quokka", "periwinkle", "gondola"]
    assert all(word in delivered for word in words)  # they did go through
    dump = await _dump(sessions)
    logs = caplog.text
    for word in words:
        assert word not in dump
        assert word.lower() not in dump.lower()
        assert word not in logs


async def test_a_quick_reply_does_not_end_another_conversation(sessions: Sessions) -> None:
    world, ref, _ = await accepted(sessions)
    await world.chat.tap("pat", "Handed over")  # pat is asked for the code...
    code = await _pickup_code(world)
    await world.chat.tap("ana", "I'm here")
    await world.chat.tap("pat", "On my way")  # ...answers ana from the line meanwhile...
    assert world.chat.last("ana").text == f"{ref} · Peer: On my way"
    done = await world.chat.say("pat", code)  # ...and the code step is still there.
    assert f"Handed over {ref}" in texts(done)


@pytest.fixture
async def line_world(sessions: Sessions) -> tuple[World, str, int]:
    """One accepted request for all examples of a test."""
    return await accepted(sessions)


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    thing=st.one_of(
        st.text(max_size=400),
        st.sampled_from(["", " ", "\u202eevil", "<b>x</b>", "x" * 4000, "/start", "STOP"]),
        st.builds(lambda rest: f"ln:{rest}"[:64], st.text(max_size=60)),
    )
)
async def test_hostile_input_in_the_line(line_world: tuple[World, str, int], thing: str) -> None:
    world, ref, request_id = line_world
    world.clock.advance(hours=1)  # a fresh hour: the rate limit is tested above
    await world.chat.press("ana", f"{relay.PREFIX}:m:{request_id}")
    seen_ana, seen_pat = len(world.chat.inbox("ana")), len(world.chat.inbox("pat"))
    if thing.startswith("ln:"):
        await world.chat.press("ana", thing)
    else:
        await world.chat.say("ana", thing)
    replies = world.chat.inbox("ana")[seen_ana:]
    assert replies, thing
    assert all("something went wrong" not in r.text for r in replies), thing
    for got in world.chat.inbox("pat")[seen_pat:]:
        assert len(got.text) <= len(f"{ref} · Person: ") + relay_service.MAX_CHARS + 40
    await world.chat.press("ana", f"{relay.PREFIX}:k")  # leave the step, if still in it
