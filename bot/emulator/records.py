"""What the emulator remembers: messages the bot sent, API calls, errors, injected faults."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass
class SentMessage:
    """One message the bot sent (or edited), as the person would see it.

    ``text`` is after entity parsing; ``source`` is exactly what the bot sent. ``reply_markup``
    is the decoded markup object as sent (inline keyboard, reply keyboard, removal...).
    """

    chat_id: int
    message_id: int
    text: str
    source: str
    parse_mode: str | None
    reply_markup: dict[str, Any] | None
    date: int
    entities: list[dict[str, Any]] = field(default_factory=list)
    edits: int = 0
    # A photo the bot uploaded (sendPhoto): the bytes as received; ``text`` is its caption.
    photo: bytes | None = field(default=None, repr=False)
    # Sent with allow_paid_broadcast (Telegram's paid broadcast, 0.1 Stars a message).
    paid: bool = False

    @property
    def keyboard_kind(self) -> str | None:
        """``"inline"``, ``"reply"``, ``"remove"``, ``"force_reply"`` or None."""
        markup = self.reply_markup or {}
        if "inline_keyboard" in markup:
            return "inline"
        if "keyboard" in markup:
            return "reply"
        if markup.get("remove_keyboard"):
            return "remove"
        if markup.get("force_reply"):
            return "force_reply"
        return None

    @property
    def rows(self) -> list[list[str]]:
        """Button labels row by row (inline or reply keyboard)."""
        markup = self.reply_markup or {}
        rows = markup.get("inline_keyboard") or markup.get("keyboard") or []
        return [[_label(button) for button in row] for row in rows]

    @property
    def buttons(self) -> list[str]:
        """All button labels, in order."""
        return [label for row in self.rows for label in row]

    @property
    def callback_data(self) -> dict[str, str]:
        """Inline buttons' label → callback_data."""
        rows = (self.reply_markup or {}).get("inline_keyboard") or []
        return {
            b["text"]: b["callback_data"]
            for row in rows
            for b in row
            if isinstance(b, dict) and "callback_data" in b
        }

    def button(self, label: str) -> dict[str, Any] | None:
        """The first button labelled ``label`` (a bare-string button becomes ``{"text": ...}``)."""
        markup = self.reply_markup or {}
        for row in markup.get("inline_keyboard") or markup.get("keyboard") or []:
            for button in row:
                if _label(button) == label:
                    return button if isinstance(button, dict) else {"text": button}
        return None

    @property
    def asks_location(self) -> bool:
        """Whether a reply-keyboard button asks for the person's location."""
        rows = (self.reply_markup or {}).get("keyboard") or []
        return any(isinstance(b, dict) and b.get("request_location") for r in rows for b in r)


def _label(button: object) -> str:
    if isinstance(button, str):
        return button
    if isinstance(button, dict):
        return str(button.get("text", ""))
    return ""


@dataclass(frozen=True)
class Upload:
    """A file part of a multipart request (``data`` kept out of reprs and logs)."""

    filename: str | None
    content_type: str | None
    data: bytes = field(repr=False)


@dataclass(frozen=True)
class StoredFile:
    """A file a person sent, as the Bot API keeps it for ``getFile`` and downloads."""

    file_id: str
    file_unique_id: str
    file_path: str
    data: bytes = field(repr=False)


@dataclass(frozen=True)
class ApiCall:
    """A request the bot made, with its decoded parameters and the HTTP status answered."""

    method: str
    params: dict[str, Any]
    status: int


@dataclass(frozen=True)
class ApiError:
    """An error answer; ``injected`` when it came from fault injection, not a real limit."""

    method: str
    code: int
    description: str
    injected: bool = False


@dataclass
class CallbackRecord:
    """An inline-button press and whether the bot answered it."""

    id: str
    chat_id: int
    message_id: int
    data: str | None
    answered: bool = False
    answer_text: str | None = None


@dataclass(frozen=True)
class Faults:
    """Random failures for chosen methods, from a seeded RNG so runs repeat.

    ``rate_limit`` and ``server_error`` are shares (0–1) of calls answered with 429 (and
    ``retry_after`` seconds) or with ``server_status``.
    """

    rate_limit: float = 0.0
    server_error: float = 0.0
    retry_after: int = 1
    server_status: int = 502
    seed: int = 0
    methods: frozenset[str] = frozenset({"sendmessage"})

    def __post_init__(self) -> None:
        if not (0 <= self.rate_limit <= 1 and 0 <= self.server_error <= 1):
            raise ValueError("fault shares must be between 0 and 1")
        if self.rate_limit + self.server_error > 1:
            raise ValueError("fault shares add up to more than 1")
        if self.retry_after < 1:
            raise ValueError("retry_after must be at least 1 second, like Telegram's")
        object.__setattr__(self, "methods", frozenset(m.lower() for m in self.methods))


@dataclass(frozen=True)
class PlannedFault:
    """One error queued for the next call of ``method`` (see ``TelegramEmulator.fail_next``)."""

    method: str
    status: int
    description: str
    retry_after: int | None = None
    after: int = 0  # calls of ``method`` that succeed first


@dataclass(frozen=True)
class PlannedStall:
    """The next call of ``method`` is carried out, then its answer comes ``seconds`` late, or
    (``seconds`` None) the connection is closed with no answer at all (see
    ``TelegramEmulator.stall_next``)."""

    method: str
    seconds: float | None
