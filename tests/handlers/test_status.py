"""/status and /cancel as transcripts."""

from __future__ import annotations

from bot.domain import RequestStatus
from bot.services import requests
from tests.handlers.person_world import (
    Sessions,
    accept,
    ask_for_syringes,
    first_line,
    labels,
    make_world,
    reserved,
)
from tests.support.chat import texts

EXPIRED = "That button has expired. Here is the menu."


async def test_no_requests(sessions: Sessions) -> None:
    world = await make_world(sessions)
    [reply] = await world.chat.say("ana", "/status")
    assert first_line(reply) == "You have no open requests."
    assert labels(reply)[0] == "Supplies"
    [none] = await world.chat.say("ana", "/cancel")
    assert first_line(none) == "You have no open requests to cancel."


async def test_status_in_plain_words(sessions: Sessions) -> None:
    world = await make_world(sessions)
    pat = await world.peer("pat", "main_hastings_peer")
    first = await ask_for_syringes(world)
    second = await ask_for_syringes(world)
    code = await accept(world, pat, first)

    [reply] = await world.chat.say("ana", "/status")
    assert first_line(reply) == "Your open requests:"
    blocks = reply.text.split("\n\n")[1:]
    assert blocks[0].splitlines() == [
        f"{first} · supplies",
        '- 1 ml syringe, 29G ½" fixed needle: 2 packs (20 syringes)',
        "Accepted. Pick up at: Main & Hastings peer table (demo)",
        "Open now. Hours: Mon–Fri 10:00–18:00, Sat 12:00–16:00, 20:00–23:30",
        "Please come by 2026-11-26 11:00.",
        f"Your pickup code: {code}",
        "Show or tell this code to the peer. Keep it to yourself.",
    ]
    assert blocks[1].splitlines()[0] == f"{second} · supplies"
    assert blocks[1].splitlines()[-1] == "Waiting for a peer to answer."
    # The accepted one's masked line (handlers/relay.py), then the rest.
    assert labels(reply) == [f"Write to the peer · {first}", "Cancel a request", "Back to menu"]


async def test_cancel_the_only_request(sessions: Sessions) -> None:
    world = await make_world(sessions)
    pat = await world.peer("pat", "main_hastings_peer")
    reference = await ask_for_syringes(world)
    await accept(world, pat, reference)
    assert await reserved(world) == 2

    [confirm] = await world.chat.say("ana", "/cancel")
    assert confirm.text == f"Cancel request {reference}?\n(supplies)"
    assert labels(confirm) == ["Yes, cancel it", "Keep it"]
    [done] = await world.chat.tap("ana", "Yes, cancel it")
    assert first_line(done) == f"Request {reference} is cancelled."
    [request] = await world.requests("ana")
    assert request.status is RequestStatus.CANCELLED
    assert await reserved(world) == 0  # the items are back on the shelf
    assert "no need to hand over" in world.chat.last("pat").text
    assert first_line((await world.chat.say("ana", "/status"))[0]) == "You have no open requests."


async def test_status_shows_the_code_again_only_while_accepted(sessions: Sessions) -> None:
    """A lost pickup message is not a lost pickup: /status shows the code while it is
    needed, and the sealed copy is gone once the request is handed over."""
    world = await make_world(sessions)
    pat = await world.peer("pat", "main_hastings_peer")
    reference = await ask_for_syringes(world)
    code = await accept(world, pat, reference)
    [request] = await world.requests("ana")
    assert request.pickup_code_sealed is not None
    assert code.encode() not in request.pickup_code_sealed  # sealed, not in clear

    [reply] = await world.chat.say("ana", "/status")
    assert f"Your pickup code: {code}" in reply.text.splitlines()

    async with world.sessions.begin() as session:
        done = await requests.handover(
            session,
            request_id=request.id,
            peer_worker_id=pat,
            code=code,
            codes_key=world.engine.deps.keys.codes,
            now=world.clock.now,
        )
    assert done.result is requests.HandoverResult.HANDED_OVER
    [request] = await world.requests("ana")
    assert request.status is RequestStatus.HANDED_OVER
    assert request.pickup_code_sealed is None


async def test_pick_one_of_several(sessions: Sessions) -> None:
    world = await make_world(sessions)
    await world.peer("pat", "main_hastings_peer")
    first = await ask_for_syringes(world)
    second = await ask_for_syringes(world)
    await world.chat.say("ana", "/status")
    [pick] = await world.chat.tap("ana", "Cancel a request")
    assert first_line(pick) == "Which request do you want to cancel?"
    assert labels(pick) == [f"{first} · supplies", f"{second} · supplies", "Keep them all"]
    await world.chat.tap("ana", f"{second} · supplies")
    [done] = await world.chat.tap("ana", "Yes, cancel it")
    assert first_line(done) == f"Request {second} is cancelled."
    statuses = {r.reference: r.status for r in await world.requests("ana")}
    assert statuses == {first: RequestStatus.OFFERED, second: RequestStatus.CANCELLED}
    assert "no longer open" in world.chat.last("pat").text


async def test_keep_and_bad_input(sessions: Sessions) -> None:
    world = await make_world(sessions)
    await world.peer("pat", "main_hastings_peer")
    await ask_for_syringes(world)
    [confirm] = await world.chat.say("ana", "/cancel")
    [again] = await world.chat.say("ana", "yes")  # typed, not tapped: asked again
    assert first_line(again) == "Please choose one of the buttons."
    assert again.options == confirm.options
    [kept] = await world.chat.tap("ana", "Keep it")
    assert first_line(kept) == "Kept. Nothing was changed."
    # The old "Yes" button is dead once the question is answered.
    assert texts(await world.chat.press("ana", confirm.options[0].payload)) == EXPIRED
    [request] = await world.requests("ana")
    assert request.status is RequestStatus.OFFERED


async def test_cannot_cancel_someone_elses_request(sessions: Sessions) -> None:
    world = await make_world(sessions)
    await world.peer("pat", "main_hastings_peer")
    await ask_for_syringes(world, "bo")
    [theirs] = await world.requests("bo")
    await ask_for_syringes(world, "ana")
    await world.chat.say("ana", "/cancel")
    state = await world.state("ana")
    assert state is not None
    run = state.data["run"]
    for forged in (
        f"st:{run}:yes:{theirs.id}",
        f"st:{run}:pick:{theirs.id}",
        f"st:{run}:yes:99999999999999999999",
        f"st:{run}:yes:-1",
    ):
        assert texts(await world.chat.press("ana", forged)) == EXPIRED, forged
    [still] = await world.requests("bo")
    assert still.status is RequestStatus.OFFERED


async def test_cancel_while_making_a_request_stops_it(sessions: Sessions) -> None:
    world = await make_world(sessions)
    await world.chat.say("ana", "/supplies")
    await world.chat.tap("ana", "Test strips")
    [stopped] = await world.chat.say("ana", "/cancel")
    assert first_line(stopped) == "Stopped. Nothing was sent."
    assert await world.state("ana") is None
    assert await world.requests() == []


async def test_a_request_closed_meanwhile(sessions: Sessions) -> None:
    world = await make_world(sessions)
    await world.peer("pat", "main_hastings_peer")
    await ask_for_syringes(world)
    await world.chat.say("ana", "/cancel")
    [request] = await world.requests("ana")
    async with world.sessions.begin() as session:  # expired just before the tap
        await requests.expire_due(session, now=request.expires_at)
    [late] = await world.chat.tap("ana", "Yes, cancel it")
    assert first_line(late) == "That request is no longer open; nothing to cancel."
    [closed] = await world.requests("ana")
    assert closed.status is RequestStatus.EXPIRED
