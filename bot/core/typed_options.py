"""A reply keyboard's button, tapped, arrives as the label's text: read it back as the option.

Telegram's reply keyboard (the location step's, :attr:`Reply.ask_location`) sends a tapped
button as a plain message holding its label. The labels on screen are kept in the
conversation state, next to the step that showed them, so whichever instance receives the tap
reads it as the option, and a restart forgets nothing. They are the bot's own words (area
names, "Back to menu"): nothing the person typed.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from typing import Final

from bot.core.messages import Incoming, InputKind, Reply
from bot.core.text import clean
from bot.services.conversations import State

KEY: Final = "_typed"  # the state data key holding {cleaned label: payload}


def resolve(msg: Incoming, state: State | None) -> Incoming:
    """``msg`` as the option whose label it repeats, when the step's keyboard has one."""
    if msg.kind is not InputKind.TEXT or state is None:
        return msg
    labels = state.data.get(KEY)
    payload = labels.get(clean(msg.text)) if isinstance(labels, dict) else None
    if not isinstance(payload, str):
        return msg
    return replace(msg, kind=InputKind.OPTION, option=payload, text="")


def remember(state: State | None, replies: Sequence[Reply]) -> None:
    """Keep the labels of the last reply keyboard among ``replies`` in ``state``; any other
    reply takes the keyboard down (the channel removes it), so its labels go too. No reply
    leaves the keyboard as it was."""
    if state is None or not replies:
        return
    last = replies[-1]
    if not last.ask_location:
        state.data.pop(KEY, None)
        return
    labels: dict[str, str] = {}
    for option in last.options:
        # Compared cleaned: direction marks in a right-to-left label may not come back.
        labels.setdefault(clean(option.label), option.payload)
    state.data[KEY] = labels
