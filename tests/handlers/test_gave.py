"""/gave as transcripts: kits handed out outside the bot, off the shelf and counted; /stats."""

from __future__ import annotations

from sqlalchemy import select

from bot.db.models import DailyCount
from tests.handlers.peer_world import Sessions, World, make_world
from tests.support.chat import texts

USAGE = "Use /gave NUMBER ITEM, e.g. /gave 2 nasal (1 to 50)."


async def given(world: World) -> dict[tuple[int, str], int]:
    async with world.sessions() as session:
        rows = await session.execute(
            select(DailyCount.outlet_id, DailyCount.item_code, DailyCount.count.label("n")).where(
                DailyCount.measure == "outlet.given"
            )
        )
        return {(row.outlet_id, row.item_code): row.n for row in rows}


async def test_gave_takes_kits_off_the_shelf_and_counts_them(sessions: Sessions) -> None:
    world = await make_world(sessions)
    alpha = await world.outlet("alpha", stock={"nalox_nasal": 9, "nalox_inj": 1}, low_threshold=3)
    await world.peer("pat", "alpha")

    said = texts(await world.chat.say("pat", "/gave 2 nasal"))
    assert said == "Recorded: 2 × Naloxone nasal spray 1.8 mg given out. 7 left."
    assert await world.stock("alpha", "nalox_nasal") == (7, 0)
    said = texts(await world.chat.say("pat", "/gave 4 NALOX_NASAL"))
    assert said == "Recorded: 4 × Naloxone nasal spray 1.8 mg given out. 3 left."
    assert await world.stock("alpha", "nalox_nasal") == (3, 0)
    # Down to the threshold: coordinators hear of it once, as after a handover.
    assert "Low stock at Alpha table" in world.chat.last("coco").text
    assert await given(world) == {(alpha, "nalox_nasal"): 6}

    # Not there: refused, nothing changed, nothing counted.
    said = texts(await world.chat.say("pat", "/gave 4 nasal"))
    assert said.startswith("Not recorded: your outlet doesn't have 4 of Naloxone nasal spray")
    assert texts(await world.chat.say("pat", "/gave 1 syr_1ml_29g")).startswith("Not recorded")
    assert await world.stock("alpha", "nalox_nasal") == (3, 0)
    assert await given(world) == {(alpha, "nalox_nasal"): 6}

    # An outlet key first works for the peer's own outlet.
    said = texts(await world.chat.say("pat", "/gave alpha 1 inj"))
    assert said == "Recorded: 1 × Naloxone kit, injectable given out. 0 left."
    assert await given(world) == {(alpha, "nalox_nasal"): 6, (alpha, "nalox_inj"): 1}


async def test_promised_kits_are_not_given_twice(sessions: Sessions) -> None:
    world = await make_world(sessions)
    await world.outlet("alpha", stock={"nalox_nasal": 2})
    await world.peer("pat", "alpha")
    await world.request("ana", {"nalox_nasal": 2})
    await world.chat.tap("pat", "Accept")
    assert await world.stock("alpha", "nalox_nasal") == (2, 2)
    assert texts(await world.chat.say("pat", "/gave 1 nasal")).startswith("Not recorded")
    assert await world.stock("alpha", "nalox_nasal") == (2, 2)


async def test_others_and_bad_input_are_refused(sessions: Sessions) -> None:
    world = await make_world(sessions)
    await world.outlet("alpha", stock={"nalox_nasal": 9})
    await world.outlet("beta", east_km=2, stock={"nalox_nasal": 9})
    await world.peer("bea", "beta")

    assert texts(await world.chat.say("ana", "/gave 2 nasal")) == (
        "This command is for peer workers."
    )
    assert texts(await world.chat.say("coco", "/gave 2 nasal")) == (
        "This command is for peer workers."
    )
    assert texts(await world.chat.say("bea", "/gave alpha 2 nasal")) == (
        "You can only record kits for your own outlet."
    )
    for bad in (
        "/gave",
        "/gave 2",
        "/gave 0 nasal",
        "/gave 51 nasal",
        "/gave two nasal",
        "/gave -1 nasal",
        "/gave 00500 nasal",
        "/gave 0049 nasal",
        "/gave 2 nasal spray",
        "/gave 1 2 3 4",
        "/gave nasal 2",
        "/gave ٢ nasal",
    ):
        assert texts(await world.chat.say("bea", bad)) == USAGE, bad
    for unknown in ("/gave 2 nalox", "/gave 2 aspirin"):
        assert texts(await world.chat.say("bea", unknown)) == (
            "Unknown item. Send /stock to see your outlet's codes."
        )
    # A peer at two outlets names one.
    await world.peer("bea", "alpha")
    assert texts(await world.chat.say("bea", "/gave 2 nasal")) == (
        "You work at several outlets: send /gave OUTLET_KEY NUMBER ITEM."
    )
    assert await world.stock("alpha", "nalox_nasal") == (9, 0)
    assert await world.stock("beta", "nalox_nasal") == (9, 0)
    assert await given(world) == {}
    said = texts(await world.chat.say("bea", "/gave alpha 2 nasal"))
    assert said == "Recorded: 2 × Naloxone nasal spray 1.8 mg given out. 7 left."


async def test_stats_show_kits_out_and_naloxone_used_small_counts_hidden(
    sessions: Sessions,
) -> None:
    world = await make_world(sessions)
    await world.outlet("alpha", stock={"nalox_nasal": 20})
    await world.peer("pat", "alpha")
    await world.chat.say("pat", "/gave 3 nasal")
    for _ in range(6):
        await world.chat.say("ana", "/used")
        await world.chat.say("ana", "Downtown Eastside")
        await world.chat.tap("ana", "1 dose")
        await world.chat.tap("ana", "They woke up")
        await world.chat.tap("ana", "No, thanks")
    await world.chat.say("bob", "/used")
    await world.chat.say("bob", "Strathcona")
    await world.chat.tap("bob", "3 or more doses")
    await world.chat.tap("bob", "I don't know")
    await world.chat.tap("bob", "No, thanks")

    lines = texts(await world.chat.say("coco", "/stats 7")).splitlines()
    assert "Naloxone kits out: <5 (0 through the bot, <5 recorded with /gave)" in lines
    at = lines.index(
        "Naloxone used (reported): 5; woke up 5, ambulance came 0, not known <5; "
        "new kit asked for 0"
    )
    assert lines[at + 1 : at + 3] == ["- Downtown Eastside: 5", "- Strathcona: <5"]

    await world.chat.say("pat", "/gave 4 nasal")
    lines = texts(await world.chat.say("coco", "/stats 7")).splitlines()
    assert "Naloxone kits out: 5 (0 through the bot, 5 recorded with /gave)" in lines
    # Another week: nothing.
    world.clock.advance(days=8)
    lines = texts(await world.chat.say("coco", "/stats 7")).splitlines()
    assert "Naloxone kits out: 0 (0 through the bot, 0 recorded with /gave)" in lines
    assert (
        "Naloxone used (reported): 0; woke up 0, ambulance came 0, not known 0; new kit asked for 0"
        in lines
    )
