"""A reply keyboard's labels kept with the conversation and read back as options."""

from __future__ import annotations

from bot.core import typed_options
from bot.core.messages import Incoming, InputKind, Option, Reply
from bot.domain import Channel
from bot.services.conversations import State

KEYBOARD = Reply(
    "Where are you?",
    (Option("Downtown Eastside", "sup:r1:area:dtes"), Option("Back to menu", "menu:main")),
    ask_location=True,
)


def typed(text: str) -> Incoming:
    return Incoming(
        channel=Channel.TELEGRAM, sender_id="1", address="1", kind=InputKind.TEXT, text=text
    )


def test_labels_on_screen_read_back_as_their_option() -> None:
    state = State("sup", "location")
    typed_options.remember(state, [Reply("Noted."), KEYBOARD])
    back = typed_options.resolve(typed(" Back  to menu\u200f"), state)
    assert (back.kind, back.option, back.text) == (InputKind.OPTION, "menu:main", "")
    other = typed(" Gastown")
    assert typed_options.resolve(other, state) is other


def test_a_reply_without_the_keyboard_takes_its_labels_away() -> None:
    state = State("sup", "location")
    typed_options.remember(state, [KEYBOARD])
    typed_options.remember(state, [])  # nothing said: the keyboard stays
    assert typed_options.KEY in state.data
    typed_options.remember(state, [Reply("Confirm?", (Option("Yes", "sup:r1:yes"),))])
    assert typed_options.KEY not in state.data
    msg = typed("Back to menu")
    assert typed_options.resolve(msg, state) is msg


def test_no_state_or_no_text_is_left_alone() -> None:
    msg = typed("Back to menu")
    assert typed_options.resolve(msg, None) is msg
    command = Incoming(
        channel=Channel.TELEGRAM,
        sender_id="1",
        address="1",
        kind=InputKind.COMMAND,
        command="start",
    )
    state = State("sup", "location", {typed_options.KEY: {"/start": "menu:main"}})
    assert typed_options.resolve(command, state) is command
    forged = State("sup", "location", {typed_options.KEY: ["not", "a", "map"]})
    assert typed_options.resolve(msg, forged) is msg
