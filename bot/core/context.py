"""What a handler gets for one update: the session, the clock, who is asking, and outputs."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from bot.content import Content
from bot.core.messages import Option, Reply
from bot.core.words import Translator, Words
from bot.domain import Channel
from bot.privacy import Keys
from bot.services.alerts.reach import Pace
from bot.services.catalogue import ItemIds
from bot.services.conversations import State
from bot.services.routing import StartRadius


@dataclass(frozen=True)
class Config:
    """The settings handlers need (a subset of Settings, easy to build in tests)."""

    offer_timeout: timedelta = timedelta(minutes=15)
    request_ttl: timedelta = timedelta(hours=24)
    shift_hours: float = 8.0
    invite_ttl: timedelta = timedelta(hours=72)
    state_ttl: timedelta = timedelta(hours=2)
    retention_days: int = 30
    bot_username: str | None = None  # for t.me deep links, learnt from getMe
    # Where the web console answers (no trailing slash); None: no console on this server.
    console_url: str | None = None
    # How fast alerts go out, and the paid broadcast's cap (for previews' estimates).
    pace: Pace = field(default_factory=Pace)


@dataclass(frozen=True)
class Deps:
    """Long-lived, read-only things every handler may use."""

    content: Content
    keys: Keys
    words: Words
    config: Config
    # Where routing searches start, learnt per process (a speed hint only).
    routing: StartRadius = field(default_factory=StartRadius)
    # Catalogue code → item id, read once per process (see ItemIds).
    items: ItemIds = field(default_factory=ItemIds)


Render = Callable[[Translator], Reply]


@dataclass(frozen=True)
class Outbound:
    """A message for a contact other than the sender, rendered in that contact's language."""

    contact_id: int
    render: Render


@dataclass
class Scope:
    """One unit of work: a transaction, a clock reading, and messages to send after commit."""

    session: AsyncSession
    now: datetime
    deps: Deps
    outbound: list[Outbound] = field(default_factory=list)
    wakes_outbox: bool = False

    def wake_outbox(self) -> None:
        """Alert deliveries were queued or an alert scheduled: once this commits, the outbox
        starts at once (or sets its timer), instead of at the clock's next tick."""
        self.wakes_outbox = True

    def notify(self, contact_id: int, render: Render) -> None:
        """Queue a message for another contact; sent only if the transaction commits."""
        self.outbound.append(Outbound(contact_id, render))


@dataclass(frozen=True)
class Person:
    """Who is talking: a contact id and its roles. Never a platform id or a name.

    One person has two contacts that nothing stored joins: ``contact_id`` holds their own
    requests, subscriptions and reports; ``staff_contact_id`` (a pseudonym under a separate
    key, see :mod:`bot.privacy.keys`) holds their peer and coordinator roles and is where
    notices to those roles go. Only the engine, from the platform id, knows both.
    """

    contact_id: int
    channel: Channel
    locale: str | None
    peer_ids: tuple[int, ...] = ()
    coordinator_id: int | None = None
    staff_contact_id: int | None = None

    @property
    def is_peer(self) -> bool:
        return bool(self.peer_ids)

    @property
    def is_coordinator(self) -> bool:
        return self.coordinator_id is not None


@dataclass
class Context(Scope):
    """A :class:`Scope` for one person's update, with replies and conversation state."""

    who: Person | None = None
    t: Translator | None = None
    state: State | None = None
    replies: list[Reply] = field(default_factory=list)
    # The message holding the button just pressed (Incoming.message_ref), while no reply has
    # replaced it yet: what ``reply(in_place=True)`` edits.
    pressed: str | None = None

    @property
    def person(self) -> Person:
        assert self.who is not None, "Context built without a person"
        return self.who

    @property
    def tr(self) -> Translator:
        assert self.t is not None, "Context built without a translator"
        return self.t

    def reply(
        self,
        text: str,
        options: tuple[Option, ...] | list[Option] = (),
        *,
        ask_location: bool = False,
        columns: int = 1,
        typed: str = "",
        in_place: bool = False,
    ) -> None:
        """Answer the sender (``typed``: what may be typed instead of choosing, see Reply).

        ``in_place``: replace the message whose button was pressed, so a conversation keeps
        one message on screen instead of a trail of stale buttons. Only the first such reply
        of an update takes it; after typed text (no button) the reply is a new message."""
        edit = None
        if in_place:
            edit, self.pressed = self.pressed, None
        self.replies.append(
            Reply(
                text=text,
                options=tuple(options),
                ask_location=ask_location,
                columns=columns,
                locale=self.t.locale if self.t is not None else None,
                typed=typed,
                edit=edit,
            )
        )

    def goto(self, flow: str, step: str, **data: object) -> None:
        """Move the conversation to ``flow``/``step`` (data merges into what is kept)."""
        keep = dict(self.state.data) if self.state and self.state.flow == flow else {}
        keep.update(data)
        self.state = State(flow=flow, step=step, data=keep)

    def end(self) -> None:
        """Leave any conversation."""
        self.state = None
