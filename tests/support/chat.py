"""A chat transcript harness: the real engine and handlers behind an in-memory channel.

``await chat.say("ana", "/supplies")`` sends a message as the person ``ana`` and returns the
replies that message produced; ``chat.inbox("peer1")`` shows what another person received.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from bot.core.messages import Incoming, InputKind, Location, Reply, SendStatus
from bot.core.text import clean, parse_command
from bot.domain import Channel


@dataclass
class Clock:
    """A controllable clock for tests."""

    now: datetime = field(default_factory=lambda: datetime(2026, 11, 25, 19, 0, tzinfo=UTC))

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **kwargs: float) -> None:
        self.now += timedelta(**kwargs)


class MemorySender:
    """Collects what the engine sends, per address; can pretend an address blocked the bot."""

    def __init__(self) -> None:
        self.sent: dict[str, list[Reply]] = defaultdict(list)
        self.blocked: set[str] = set()

    async def send(self, address: str, reply: Reply) -> SendStatus:
        if address in self.blocked:
            return SendStatus.UNREACHABLE
        self.sent[address].append(reply)
        return SendStatus.SENT


class Chat:
    """Drive an engine as several people on one in-memory channel."""

    def __init__(self, engine: object, channel: Channel = Channel.TELEGRAM) -> None:
        from bot.core.engine import Engine

        assert isinstance(engine, Engine)
        self.engine = engine
        self.channel = channel
        self.sender = MemorySender()
        engine.add_sender(channel, self.sender)
        self._update = 0
        self._run = uuid.uuid4().hex[:8]  # update keys unique across Chat objects

    def _address(self, who: str) -> str:
        return f"{self.channel.value}-{who}"

    def inbox(self, who: str) -> list[Reply]:
        """Everything ``who`` has received so far."""
        return self.sender.sent[self._address(who)]

    def last(self, who: str) -> Reply:
        """The newest message ``who`` received."""
        return self.inbox(who)[-1]

    async def _send(self, who: str, **fields: object) -> list[Reply]:
        before = len(self.inbox(who))
        self._update += 1
        msg = Incoming(
            channel=self.channel,
            sender_id=f"id-{who}",
            address=self._address(who),
            update_key=f"mem:{self._run}:{self._update}",
            **fields,  # type: ignore[arg-type]
        )
        await self.engine.handle(msg)
        return self.inbox(who)[before:]

    async def say(self, who: str, text: str, *, locale: str | None = None) -> list[Reply]:
        """``who`` types ``text`` (a command when it starts with /)."""
        command = parse_command(text)
        if command is not None:
            return await self._send(
                who, kind=InputKind.COMMAND, command=command[0], text=command[1], locale_hint=locale
            )
        return await self._send(who, kind=InputKind.TEXT, text=clean(text), locale_hint=locale)

    async def tap(self, who: str, label: str) -> list[Reply]:
        """``who`` chooses the option labelled ``label`` (or with that payload) in their newest
        message that has options. The press names that message by its place in the inbox
        (``Incoming.message_ref``), as Telegram names it by its id."""
        inbox = self.inbox(who)
        for index in range(len(inbox) - 1, -1, -1):
            reply = inbox[index]
            if reply.options:
                for option in reply.options:
                    if label in (option.label, option.payload):
                        return await self.press(who, option.payload, message_ref=str(index))
                labels = [o.label for o in reply.options]
                raise AssertionError(f"no option {label!r} in {labels}")
        raise AssertionError(f"{who} has no message with options")

    async def press(self, who: str, payload: str, *, message_ref: str | None = None) -> list[Reply]:
        """``who`` sends an option payload directly (a forged or stale button)."""
        return await self._send(who, kind=InputKind.OPTION, option=payload, message_ref=message_ref)

    async def share_location(self, who: str, lat: float, lon: float) -> list[Reply]:
        """``who`` shares a position."""
        return await self._send(who, kind=InputKind.LOCATION, location=Location(lat, lon))

    async def send_sticker(self, who: str) -> list[Reply]:
        """``who`` sends something the bot does not read (sticker, photo...)."""
        return await self._send(who, kind=InputKind.UNSUPPORTED)


def texts(replies: list[Reply]) -> str:
    """All reply texts joined, for ``in`` assertions."""
    return "\n".join(r.text for r in replies)
