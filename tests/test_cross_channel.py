"""A person on Signal served by a peer on Telegram, and the other way round.

Both real clients (signalbot, python-telegram-bot) run in one event loop against their
emulators on 127.0.0.1, sharing one engine and database. Afterwards no table or log holds the
Signal number or UUID in clear.
"""

from __future__ import annotations

import io
import logging
import re
from collections.abc import AsyncIterator, Iterator

import pytest
from sqlalchemy import MetaData, select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from bot.privacy import RedactionFilter
from tests.support.cross_channel import World, cross_channel_world

SYRINGES = '1 ml syringe, 29G ½" fixed needle'
PICKUP = re.compile(r"Your pickup code: (\d{6})")


@pytest.fixture
def captured_logs() -> Iterator[io.StringIO]:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    root = logging.getLogger()
    old_level = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    handler.addFilter(RedactionFilter())  # this handler only: the root keeps no filter after
    try:
        yield stream
    finally:
        root.removeHandler(handler)
        root.setLevel(old_level)


@pytest.fixture
async def world(sessions: async_sessionmaker[AsyncSession]) -> AsyncIterator[World]:
    async with cross_channel_world(sessions, seed=3) as world:
        yield world


async def test_signal_person_telegram_peer(world: World) -> None:
    pat = world.telegram.user("pat")
    await pat.say(f"/join {await world.peer_invite()}")
    await pat.say("/shift")
    await pat.tap("Go on shift")

    ana = world.signal.person("ana")
    await ana.say("/supplies")
    await ana.pick("Kit for injecting and smoking")
    await ana.pick(SYRINGES)
    await ana.pick("2")
    where = await ana.pick("Done: choose where")
    assert "type" in where[-1].text.lower()  # Signal has no location button
    await ana.say("DTES")
    before = len(pat.transcript)
    sent = await ana.pick("Send request")
    reference = sent[-1].text.split("Reference: ", 1)[1].split()[0]
    await world.telegram.wait_for(lambda: len(pat.transcript) > before, what="the offer")
    assert reference in pat.last.text

    waiting = len(ana.inbox)
    await pat.tap("Accept")
    await world.signal.wait_for(lambda: len(ana.inbox) > waiting, what="the pickup code")
    code = PICKUP.search(ana.inbox[-1].text)
    assert code is not None
    await pat.tap("Handed over")
    waiting = len(ana.inbox)
    done = await pat.say(code.group(1))
    assert f"Handed over {reference}" in done[-1].text
    # One tap (one number) of feedback on Signal: 👎, then a reason.
    await world.signal.wait_for(lambda: len(ana.inbox) > waiting, what="the thanks")
    assert ana.inbox[-1].text.endswith("1. 👍\n2. 👎\nReply with a number.")
    [why] = await ana.say("2")
    assert "3. I felt unsafe\n4. Skip" in why.text
    [thanks] = await ana.say("3")
    assert thanks.text == "Thank you."


async def test_telegram_person_signal_peer(world: World) -> None:
    sam = world.signal.person("sam")
    await sam.say(f"/join {await world.peer_invite()}")
    await sam.say("/shift")
    await sam.pick("Go on shift")

    ana = world.telegram.user("ana")
    await ana.say("/naloxone")
    await ana.tap("Shot kit (injectable)")  # the kind this outlet stocks
    await ana.share_location(49.28071, -123.09843)
    before = len(sam.inbox)
    await ana.tap("Send request")
    await world.signal.wait_for(lambda: len(sam.inbox) > before, what="the offer")
    assert sam.inbox[-1].text.startswith("New pickup request")

    waiting = len(ana.transcript)
    await sam.pick("Accept")
    await world.telegram.wait_for(lambda: len(ana.transcript) > waiting, what="the code")
    code = PICKUP.search(ana.transcript[-1].text)
    assert code is not None
    await sam.pick("Handed over")
    # Words for a platform without buttons: nothing to "tap" on Signal.
    assert not [m for m in sam.inbox if re.search(r"\btap\b", m.text, re.IGNORECASE)]
    waiting = len(ana.transcript)
    done = await sam.say(code.group(1))
    assert "Handed over" in done[-1].text
    await world.telegram.wait_for(lambda: len(ana.transcript) > waiting, what="the thanks")
    [thanks] = await ana.tap("👍")
    assert thanks.text == "Thank you."


async def test_no_signal_identifier_in_clear(
    world: World, engine: AsyncEngine, captured_logs: io.StringIO
) -> None:
    ana = world.signal.person("ana")
    await ana.say("/start")
    await ana.say("/supplies")
    await ana.say("/forget")
    bob = world.signal.person("bob")
    await bob.say("/start")
    await bob.say("/alerts")
    async with engine.connect() as conn:
        metadata = MetaData()
        await conn.run_sync(metadata.reflect)
        rows = [
            repr(row)
            for table in metadata.sorted_tables
            for row in (await conn.execute(select(table))).all()
        ]
    dump = "\n".join(rows)
    logs = captured_logs.getvalue()
    assert "contacts" in {t.name for t in metadata.sorted_tables}
    for person in (ana, bob):
        for identifier in person.identifiers:
            assert identifier not in dump
            assert identifier not in logs
            assert identifier.lstrip("+") not in dump


async def test_masked_line_across_channels(
    world: World, engine: AsyncEngine, captured_logs: io.StringIO
) -> None:
    """A person on Signal and a peer on Telegram write through the masked line; neither sees
    the other's identifiers, and no table or log keeps what they wrote."""
    pat = world.telegram.user("pat")
    await pat.say(f"/join {await world.peer_invite()}")
    await pat.say("/shift")
    await pat.tap("Go on shift")
    ana = world.signal.person("ana")
    await ana.say("/supplies")
    await ana.pick("Kit for injecting and smoking")
    await ana.pick(SYRINGES)
    await ana.pick("2")
    await ana.pick("Done: choose where")
    await ana.say("DTES")
    before = len(pat.transcript)
    sent = await ana.pick("Send request")
    reference = sent[-1].text.split("Reference: ", 1)[1].split()[0]
    await world.telegram.wait_for(lambda: len(pat.transcript) > before, what="the offer")
    waiting = len(ana.inbox)
    await pat.tap("Accept")
    await world.signal.wait_for(lambda: len(ana.inbox) > waiting, what="the pickup code")

    before = len(pat.transcript)
    await ana.pick("On my way")
    await world.telegram.wait_for(lambda: len(pat.transcript) > before, what="a quick reply")
    assert pat.last.text == f"{reference} · Person: On my way"

    await pat.tap("Message")
    waiting = len(ana.inbox)
    await pat.say(f"at the zebra bench, or call +1 604 555 0199 / @{pat.username}")
    await world.signal.wait_for(lambda: len(ana.inbox) > waiting, what="the peer's message")
    got = ana.inbox[-1].text
    assert got.startswith(f"{reference} · Peer: at the zebra bench, or call [📞] / [@]")
    for secret in ("555", pat.username, pat.first_name, str(pat.id)):
        assert all(secret not in m.text for m in ana.inbox)

    await ana.pick("Message")
    before = len(pat.transcript)
    await ana.say("quokka coat, 2 min")
    await world.telegram.wait_for(lambda: len(pat.transcript) > before, what="ana's message")
    assert pat.last.text == f"{reference} · Person: quokka coat, 2 min"
    assert all(i not in m.text for m in pat.transcript for i in ana.identifiers)

    async with engine.connect() as conn:
        metadata = MetaData()
        await conn.run_sync(metadata.reflect)
        rows = [
            repr(row)
            for table in metadata.sorted_tables
            for row in (await conn.execute(select(table))).all()
        ]
    dump = "\n".join(rows)
    assert "relay_lines" in {t.name for t in metadata.sorted_tables}
    logs = captured_logs.getvalue()
    for word in ("zebra", "quokka"):
        assert word not in dump
        assert word not in logs


async def test_common_kit_in_four_actions_on_each_channel(world: World) -> None:
    """From the first message to a request offered to a peer: counted on both real clients."""
    pat = world.telegram.user("pat")
    await pat.say(f"/join {await world.peer_invite()}")
    await pat.say("/shift")
    await pat.tap("Go on shift")
    kit = "1 ml syringes ×10 + swabs + water"

    ana = world.signal.person("ana")  # Signal: typed messages, numbers for the list
    sent_by_ana = 0

    async def ana_says(text: str) -> str:
        nonlocal sent_by_ana
        sent_by_ana += 1
        return (await ana.say(text))[-1].text

    async def ana_picks(label: str) -> str:
        nonlocal sent_by_ana
        sent_by_ana += 1
        return (await ana.pick(label))[-1].text

    await ana_says("hi")  # a first message on Signal is rarely /start
    assert "Where are you?" in await ana_picks(kit)
    assert "Area: Downtown Eastside" in await ana_says("DTES")
    before = len(pat.transcript)
    sent = await ana_picks("Send request")
    assert sent.startswith("Request sent. Reference: ")
    assert sent_by_ana == 4
    await world.telegram.wait_for(lambda: len(pat.transcript) > before, what="the offer")

    bo = world.telegram.user("bo")  # Telegram: /start and three taps
    taps = 0
    for step in ("/start", kit, "Downtown Eastside", "Send request"):
        replies = await (bo.say(step) if step.startswith("/") else bo.tap(step))
        taps += 1
    assert replies[-1].text.startswith("Request sent. Reference: ")
    assert taps == 4
