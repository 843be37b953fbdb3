"""The explicit route table: which handler answers which command, option or conversation."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field

from bot.core.context import Context
from bot.core.messages import Incoming, InputKind
from bot.services.conversations import State

Handler = Callable[[Incoming, Context], Awaitable[None]]


@dataclass(frozen=True)
class MenuCommand:
    """A command shown in the platform's menu."""

    name: str
    description: str


@dataclass(frozen=True)
class Routes:
    """Commands by name, options by payload prefix, free input by conversation flow."""

    commands: Mapping[str, Handler]
    options: Mapping[str, Handler]
    flows: Mapping[str, Handler]
    fallback: Handler
    unknown_command: Handler
    unsupported: Handler
    menu: tuple[MenuCommand, ...] = field(default=())
    # Flows a peer or coordinator runs as staff: their state is kept on the staff contact,
    # every other flow's on the person's own contact (see Person).
    staff_flows: frozenset[str] = field(default=frozenset())
    # Per flow, what answers input its steps cannot use (a sticker, a photo...): the flow's
    # current question again, so nobody scrolls up for it. Other flows get ``unsupported``.
    unusable: Mapping[str, Handler] = field(default_factory=dict)

    def resolve(self, msg: Incoming, state: State | None) -> Handler:
        """Pick the handler for ``msg`` given the sender's conversation ``state``."""
        if msg.kind is InputKind.COMMAND:
            return self.commands.get(msg.command or "", self.unknown_command)
        if msg.kind is InputKind.OPTION:
            prefix = (msg.option or "").split(":", 1)[0]
            return self.options.get(prefix, self.fallback)
        if msg.kind is InputKind.UNSUPPORTED:
            if state is not None and state.flow in self.unusable:
                return self.unusable[state.flow]
            return self.unsupported
        if state is not None and state.flow in self.flows:
            return self.flows[state.flow]
        return self.fallback
