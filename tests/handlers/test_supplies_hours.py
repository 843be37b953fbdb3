"""/supplies at other hours than Wednesday 11:00: closed outlets, past midnight, across DST.

Every request here asks for two packs of syringes at Main & Hastings (``ask_for_syringes``);
the demo outlets' hours are in content/outlets.demo.yaml, read in America/Vancouver.
"""

from __future__ import annotations

from datetime import UTC, datetime

from tests.handlers.person_world import Sessions, ask_for_syringes, first_line, make_world
from tests.support.chat import Clock, texts


def utc_clock(year: int, month: int, day: int, hour: int, minute: int) -> Clock:
    """A clock at a UTC instant (each comment gives the time in Vancouver)."""
    return Clock(datetime(year, month, day, hour, minute, tzinfo=UTC))


async def test_nearest_closed_goes_to_an_open_one_farther_away(sessions: Sessions) -> None:
    world = await make_world(sessions, clock=utc_clock(2026, 11, 25, 17, 30))  # Wed 09:30 PST
    await world.peer("pat", "main_hastings_peer")  # next door, opens at 10:00
    await world.peer("sam", "strathcona_site")  # under a kilometre, open from 09:00
    reference = await ask_for_syringes(world)
    assert reference in texts(world.chat.inbox("sam"))
    assert world.chat.inbox("pat") == []


async def test_none_open_is_unrouted_with_fixed_services(sessions: Sessions) -> None:
    world = await make_world(sessions, clock=utc_clock(2026, 11, 25, 16, 30))  # Wed 08:30 PST
    await world.peer("pat", "main_hastings_peer")  # opens at 10:00
    await world.peer("sam", "strathcona_site")  # opens at 09:00
    await world.peer("val", "night_van")  # 21:00-03:00
    reference = await ask_for_syringes(world)
    told = world.chat.last("ana")
    assert first_line(told) == f"No peer outlet can take your request {reference} right now."
    assert "911" in told.text
    assert all(world.chat.inbox(who) == [] for who in ("pat", "sam", "val"))


async def test_a_range_past_midnight_belongs_to_the_day_it_starts(sessions: Sessions) -> None:
    world = await make_world(sessions, clock=utc_clock(2026, 11, 29, 9, 30))  # Sun 01:30 PST
    await world.peer("olu", "oppenheimer_peer")  # Saturday 22:00-02:00, nearer
    await world.peer("val", "night_van")  # daily 21:00-03:00, farther
    before_two = await ask_for_syringes(world)
    assert before_two in texts(world.chat.inbox("olu"))

    world.clock.advance(hours=1)  # Sun 02:30: the park-side peers have gone home
    after_two = await ask_for_syringes(world)
    assert after_two in texts(world.chat.inbox("val"))
    assert after_two not in texts(world.chat.inbox("olu"))


async def test_hours_after_clocks_go_back(sessions: Sessions) -> None:
    # Sun 2026-11-01 20:30 PST (UTC-8 since 02:00); on summer time it would be 21:30, closed.
    world = await make_world(sessions, clock=utc_clock(2026, 11, 2, 4, 30))
    await world.peer("sam", "strathcona_site")  # daily 09:00-21:00
    reference = await ask_for_syringes(world)
    assert reference in texts(world.chat.inbox("sam"))


async def test_hours_after_clocks_go_forward(sessions: Sessions) -> None:
    # Sun 2027-03-14 09:30 PDT (UTC-7 since 02:00); on standard time it would be 08:30, closed.
    world = await make_world(sessions, clock=utc_clock(2027, 3, 14, 16, 30))
    await world.peer("sam", "strathcona_site")  # daily 09:00-21:00
    reference = await ask_for_syringes(world)
    assert reference in texts(world.chat.inbox("sam"))
