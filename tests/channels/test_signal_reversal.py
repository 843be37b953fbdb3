"""/used on Signal, through the real client: a numbered list at each step, words that fit
Signal (never a button or a tap), and the new kit offered to a peer on Telegram."""

from __future__ import annotations

import re

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.domain import RequestStatus
from tests.support.cross_channel import cross_channel_world

_BUTTONS = re.compile(r"\b(buttons?|tap\w*)\b", re.IGNORECASE)


async def test_naloxone_used_and_a_new_kit_read_right_on_signal(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    async with cross_channel_world(sessions, seed=17) as world:
        pat = world.telegram.user("pat")
        await pat.say(f"/join {await world.peer_invite()}")
        await pat.say("/shift")
        await pat.tap("Go on shift")
        ana = world.signal.person("ana")
        [where] = await ana.say("/used")
        assert "anonymous" in where.text
        [doses] = await ana.say("DTES")
        assert doses.text.startswith("How many doses did you give?")
        assert "1. 1 dose\n2. 2 doses\n3. 3 or more doses" in doses.text
        [what] = await ana.say("2")  # the number picks the option
        assert what.text.startswith("What happened?")
        assert "1. They woke up" in what.text
        [kit] = await ana.pick("They woke up")
        assert kit.text.startswith("Do you need a new naloxone kit?")
        before = len(pat.transcript)
        sent = await ana.pick("Yes, send me a new kit", expect=2)
        heard = "\n".join(message.text for message in sent)
        assert heard.startswith("Thank you. You may have saved a life.")
        reference = heard.split("Reference: ", 1)[1].split()[0]
        await world.telegram.wait_for(lambda: len(pat.transcript) > before, what="the offer")
        assert reference in pat.last.text
        assert await world.statuses() == [RequestStatus.OFFERED]
        everything = "\n".join(message.text for message in ana.inbox)
        assert not _BUTTONS.search(everything), everything
