"""/referral as transcripts: the nearest services of a kind, and asking a peer to go along."""

from __future__ import annotations

from bot.domain import RequestKind, RequestStatus
from tests.handlers.person_world import (
    SEATTLE,
    Sessions,
    first_line,
    labels,
    make_world,
)
from tests.support.chat import texts


async def test_nearest_services_then_a_peer_goes_along(sessions: Sessions) -> None:
    world = await make_world(sessions)
    await world.peer("pat", "main_hastings_peer")
    kinds = await world.chat.say("ana", "/referral")
    assert first_line(kinds[0]) == "What kind of help are you looking for?"
    assert labels(kinds[0]) == [
        "Nurse or doctor",
        "HIV and hepatitis C testing",
        "Opioid substitution treatment",
        "Mental health",
        "Housing",
        "Drug checking",
        "Supervised consumption",
        "Back to menu",
    ]
    await world.chat.tap("ana", "Nurse or doctor")
    [results] = await world.chat.say("ana", "DTES")
    lines = results.text.splitlines()
    assert lines[:2] == ["Services near Downtown Eastside", "Nurse or doctor:"]
    # Nearest first, with address, open now or not, phone and notes.
    assert "1. Hastings Street Community Clinic (demo)" in lines
    assert "100 block E Hastings St, Vancouver (demo)" in lines
    assert "Open now. Hours: Daily 08:00–20:00" in lines
    assert "Phone: 604-555-0101" in lines
    assert "Drop-in wound care and abscess checks, no ID needed." in lines
    assert results.text.count("\n\n2. ") == 1
    assert results.text.count("\n\n3. ") == 1
    assert labels(results) == ["Ask a peer to go with me", "Back to menu"]

    sent = await world.chat.tap("ana", "Ask a peer to go with me")
    [request] = await world.requests("ana")
    assert f"Reference: {request.reference}" in sent[0].text
    assert request.kind is RequestKind.REFERRAL
    assert request.referral_type == "nursing_medical"
    assert request.status is RequestStatus.OFFERED
    assert request.area_code == "dtes"
    assert request.reference in world.chat.last("pat").text


async def test_closed_services_say_when_they_open(sessions: Sessions) -> None:
    world = await make_world(sessions)  # Wednesday 11:00
    await world.chat.say("ana", "/referral")
    await world.chat.tap("ana", "HIV and hepatitis C testing")
    [results] = await world.chat.say("ana", "Gastown")
    assert "Closed now, opens Thu 12:00. Hours: Tue/Thu 12:00–19:00, Sat 11:00–15:00" in (
        results.text
    )
    await world.chat.say("ana", "/referral")
    await world.chat.tap("ana", "Housing")
    [housing] = await world.chat.say("ana", "Kensington")
    assert "Closed now, opens 19:00. Hours: Daily 19:00–08:00" in housing.text


async def test_outside_the_city_lists_no_services_from_this_one(sessions: Sessions) -> None:
    world = await make_world(sessions)
    await world.chat.say("ana", "/referral")
    await world.chat.tap("ana", "Opioid substitution treatment")
    [reply] = await world.chat.share_location("ana", *SEATTLE)
    assert first_line(reply).startswith("That place is outside the areas")
    assert "(demo)" not in reply.text  # Vancouver's clinics are no help in Seattle
    assert "local emergency number" in reply.text
    assert await world.requests() == []


async def test_no_peer_free_is_answered_by_dispatch(sessions: Sessions) -> None:
    world = await make_world(sessions)
    await world.chat.say("ana", "/referral")
    await world.chat.tap("ana", "Housing")
    await world.chat.tap("ana", "Chinatown")
    [answer] = await world.chat.tap("ana", "Ask a peer to go with me")
    [request] = await world.requests("ana")
    assert request.status is RequestStatus.UNROUTED
    assert request.reference in answer.text


async def test_bad_input(sessions: Sessions) -> None:
    world = await make_world(sessions)
    first = await world.chat.say("ana", "/referral")
    typed = await world.chat.say("ana", "a doctor please")
    assert first_line(typed[0]) == "Please choose one of the buttons."
    assert typed[0].options == first[0].options
    state = await world.state("ana")
    assert state is not None
    run = state.data["run"]
    for forged in (f"ref:{run}:type:dentist", f"ref:{run}:escort", f"ref:{run}:area:dtes"):
        assert texts(await world.chat.press("ana", forged)) == (
            "That button has expired. Here is the menu."
        ), forged
    await world.chat.press("ana", f"ref:{run}:type:housing")
    await world.chat.say("ana", "Chinatown")
    results = world.chat.last("ana")
    again = await world.chat.say("ana", "what now?")
    assert first_line(again[0]) == "Please choose one of the buttons."
    assert again[0].options == results.options
    assert await world.requests() == []


async def test_open_request_limit_applies_to_asking_a_peer(sessions: Sessions) -> None:
    world = await make_world(sessions)
    await world.peer("pat", "main_hastings_peer")
    for _ in range(3):
        await world.chat.say("ana", "/referral")
        await world.chat.tap("ana", "Mental health")
        await world.chat.say("ana", "DTES")
        await world.chat.tap("ana", "Ask a peer to go with me")
    await world.chat.say("ana", "/referral")
    await world.chat.tap("ana", "Mental health")
    [results] = await world.chat.say("ana", "DTES")
    assert "Eastside Peer Support Drop-in (demo)" in results.text  # looking is never limited
    [refused] = await world.chat.tap("ana", "Ask a peer to go with me")
    assert "open requests, the most at one time" in refused.text
    assert len(await world.requests("ana")) == 3
