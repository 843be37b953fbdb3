"""Neutral message types: what a channel turns a native update into, and what it renders.

Channels (``bot/channels/``) are the only code that knows Telegram or Signal; handlers see
only these frozen values.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from enum import StrEnum

from bot.domain import Channel

MAX_PAYLOAD_BYTES = 64  # Telegram's callback_data limit; Signal maps digits to payloads.
MAX_TEXT_CHARS = 4096  # Telegram's message limit; Signal splits longer texts itself.
# The largest photo file a channel fetches for a handler (what bot.privacy.images accepts).
MAX_PHOTO_BYTES = 10 * 1024 * 1024
# Fetches a photo a person sent (the channel downloads it only when called).
PhotoSource = Callable[[], Awaitable[bytes]]


class PhotoUnavailable(Exception):
    """A photo that could not be fetched: too large, gone, or the platform failed."""


class InputKind(StrEnum):
    """What the person did."""

    COMMAND = "command"
    TEXT = "text"
    OPTION = "option"
    LOCATION = "location"
    UNSUPPORTED = "unsupported"  # stickers, photos, voice...


@dataclass(frozen=True, slots=True)
class Location:
    """A shared position, used in memory for routing and never stored."""

    lat: float
    lon: float


@dataclass(frozen=True, slots=True)
class Incoming:
    """One update from a person, in neutral form.

    ``sender_id`` and ``address`` are platform identifiers: the engine turns the first into a
    pseudonym and seals the second; neither is ever stored or logged in clear.
    """

    channel: Channel
    sender_id: str = field(repr=False)
    address: str = field(repr=False)
    kind: InputKind
    text: str = field(default="", repr=False)
    command: str | None = None
    option: str | None = None
    location: Location | None = field(default=None, repr=False)
    locale_hint: str | None = None
    update_key: str | None = None
    # For a button press: the channel's reference to the message the button was on (Telegram:
    # its message id), so a reply may replace that message (:attr:`Reply.edit`). Not logged.
    message_ref: str | None = field(default=None, repr=False)
    # A photo (or image file) came with the update: fetched only if a handler calls it, so
    # photos nobody asked for are never downloaded. Kind stays UNSUPPORTED (or TEXT for a
    # Signal photo with a caption): only a step that asks for a photo reads this.
    photo: PhotoSource | None = field(default=None, repr=False, compare=False)

    @property
    def args(self) -> str:
        """For a command, the text after it (``/join ABC`` → ``ABC``)."""
        return self.text if self.kind is InputKind.COMMAND else ""


@dataclass(frozen=True, slots=True)
class Option:
    """A choice offered to the person: a button on Telegram, a numbered line on Signal."""

    label: str
    payload: str
    # Alone on its row where the channel shows rows (Telegram): a long label stays whole.
    wide: bool = False
    # What to type for it where options are typed (Signal), instead of its place in the list:
    # "0" for a way out of a step that takes free text, so a message "1" is never a choice.
    key: str = ""

    def __post_init__(self) -> None:
        size = len(self.payload.encode("utf-8"))
        if not 1 <= size <= MAX_PAYLOAD_BYTES:
            raise ValueError(f"option payload must be 1-{MAX_PAYLOAD_BYTES} bytes, got {size}")
        if self.key and not (self.key.isascii() and self.key.isalnum() and len(self.key) <= 2):
            raise ValueError(f"option key must be 1-2 ASCII letters or digits, got {self.key!r}")


@dataclass(frozen=True, slots=True)
class Reply:
    """Plain text (channels escape it) with optional choices."""

    text: str
    options: tuple[Option, ...] = ()
    ask_location: bool = False
    # Options laid out this many per row where the channel shows rows (Telegram).
    columns: int = 1
    # The recipient's locale, for the few words a channel adds itself (button labels, hints).
    locale: str | None = None
    # What may be typed instead of choosing an option (in the recipient's words, e.g. "your
    # area's name, a street or a landmark"): each channel says it once, in its own way, so a
    # question never carries a second, overlapping hint.
    typed: str = ""
    # Replace this message (an :attr:`Incoming.message_ref`) instead of sending a new one,
    # where the channel can edit messages (Telegram); elsewhere, or when the edit is refused
    # (too old, gone, too long for one message), the reply is sent as a new message.
    edit: str | None = field(default=None, repr=False)
    # A JPEG to send with the text (an alert's photo, already stripped of metadata), and
    # where the channel shows a photo apart from the text (Telegram), its short caption.
    photo: bytes | None = field(default=None, repr=False)
    caption: str = ""
    # Send as a paid broadcast where the channel has one (Telegram's allow_paid_broadcast:
    # up to 1,000 messages a second, for Stars); only the alert outbox sets it.
    paid: bool = False


@dataclass(frozen=True, slots=True)
class Notice:
    """A message for another contact (a peer's offer, a person's pickup code...)."""

    contact_id: int
    reply: Reply


class SendStatus(StrEnum):
    """How a send ended, as far as the channel can tell."""

    SENT = "sent"
    UNREACHABLE = "unreachable"  # blocked the bot / unregistered: stop trying
    RETRY = "retry"  # rate limited or a transient error: nothing was delivered
    FAILED = "failed"


@dataclass(frozen=True, slots=True)
class SendResult:
    """A send's outcome with what bulk sending needs beyond :class:`SendStatus`.

    A channel may offer ``async def send_result(address, reply) -> SendResult`` beside ``send``;
    the alert outbox prefers it and falls back to ``send`` (wrapping the bare status).

    ``retry_after``: the platform asked for a pause of this many seconds (a 429: nothing was
    delivered). ``maybe_delivered``: a RETRY after the request may already have reached the
    platform (a timeout, a connection lost mid-call), so sending again may duplicate it.
    ``rate_limited``: the platform refused for sending too much (also when it gave no
    ``retry_after``, as Signal does); a ``retry_after`` implies it.
    """

    status: SendStatus
    retry_after: float | None = None
    maybe_delivered: bool = False
    rate_limited: bool = False

    @property
    def limited(self) -> bool:
        """Whether the platform refused this send for sending too much (an HTTP 429)."""
        return self.rate_limited or self.retry_after is not None
