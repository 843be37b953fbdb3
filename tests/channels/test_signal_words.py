"""Words that fit Signal: through the real signalbot client and the bot's own routes, a
Signal user who answers a step with something it cannot use is asked again in words about
a numbered list, never about buttons or tapping (Signal has no buttons)."""

from __future__ import annotations

import re

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.signal_emulator import SignalEmulator
from tests.support.cross_channel import cross_channel_world

SYRINGES = '1 ml syringe, 29G ½" fixed needle'

# "button", "buttons", "tap", "tapping"... as words, in any case.
_BUTTONS = re.compile(r"\b(buttons?|tap\w*)\b", re.IGNORECASE)


def _heard(person: object) -> str:
    return "\n".join(message.text for message in person.inbox)  # type: ignore[attr-defined]


async def test_an_unusable_answer_mid_flow_never_says_button_or_tap(
    signal: SignalEmulator,
) -> None:
    bob = signal.person("bob")
    await bob.say("/naloxone")
    [again] = await bob.say("maybe later")  # the kit step wants one of its choices
    assert again.text.startswith("Please choose one of the options.")
    assert again.options  # the step's list again, to answer with a number
    [again] = await bob.say("42")  # a number that picks nothing
    assert again.text.startswith("Please choose one of the options.")

    await bob.say("/supplies")
    [again] = await bob.say("lots of stuff")
    assert again.text.startswith("Please choose one of the options.")
    await bob.send_sticker()

    await bob.say("/forget")
    [again] = await bob.say("hmm")
    assert again.text.startswith("Please choose one of the options.")

    assert not _BUTTONS.search(_heard(bob)), _heard(bob)


async def test_a_message_that_is_only_a_number_is_sent_not_taken_as_a_choice(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    async with cross_channel_world(sessions, seed=5) as world:
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

        # The message step's way out answers to 0, apart from the list's numbers, with no
        # "Reply with a number" under a question that asks for text.
        [step] = await ana.pick("Message")
        assert step.text.endswith("\n\n0. Don't send")
        before = len(pat.transcript)
        [echo] = await ana.say("1")  # "1 minute", say: a message, not option 1
        assert echo.text.startswith(f"Sent on {reference}: 1\n")
        await world.telegram.wait_for(lambda: len(pat.transcript) > before, what="the '1'")
        assert pat.last.text == f"{reference} · Person: 1"

        await ana.pick("Message")
        [kept] = await ana.say("0")
        assert kept.text == "OK, nothing was sent."
        assert pat.last.text == f"{reference} · Person: 1"  # nothing more reached the peer
