"""What the Signal emulator remembers: sends, API calls, error answers and injected faults."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

# Signal clients keep a message body inline up to 2 KiB of UTF-8; beyond that the text
# travels as a "long text" attachment, which old or minimal clients show as a file.
INLINE_BODY_BYTES = 2048
_NUMBERED = re.compile(r"^\s*(\d{1,3})[.)]\s+(.+?)\s*$")


@dataclass(frozen=True)
class SentMessage:
    """One message the bot sent to one recipient (a number or a UUID), as delivered."""

    recipient: str
    text: str
    timestamp: int
    text_mode: str | None = None
    body: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)
    # Files sent with the message (``base64_attachments``), decoded: (content type, bytes).
    attachments: tuple[tuple[str, bytes], ...] = field(default=(), repr=False, compare=False)

    @property
    def inline(self) -> bool:
        """Whether the text fits Signal's inline body (else it becomes a long-text file)."""
        return len(self.text.encode("utf-8")) <= INLINE_BODY_BYTES

    @property
    def options(self) -> dict[str, int]:
        """A numbered list in the text (``"1. Supplies"``) as label → number."""
        found: dict[str, int] = {}
        for line in self.text.splitlines():
            match = _NUMBERED.match(line)
            if match is not None:
                found.setdefault(match.group(2), int(match.group(1)))
        return found


@dataclass(frozen=True)
class ApiCall:
    """A request the bot made and the HTTP status the emulator answered."""

    method: str
    path: str
    status: int


@dataclass(frozen=True)
class ApiError:
    """An error answer; ``injected`` when it came from fault injection, not from a check."""

    path: str
    status: int
    error: str
    injected: bool = False


@dataclass(frozen=True)
class Indicator:
    """A typing indicator, reaction or receipt the bot sent (``kind`` names which)."""

    kind: str
    body: dict[str, Any]


class FaultKind(StrEnum):
    """Errors ``/v2/send`` can be told to answer with."""

    RATE_LIMIT = "rate_limit"  # 429 with challenge tokens, as signal-cli-rest-api answers
    # 429 with challenge_tokens [""]: signal-cli's RATE_LIMIT_FAILURE without a token (a plain
    # rate limit, nothing to solve), passed on by signal-cli-rest-api as it is.
    PLAIN_RATE_LIMIT = "plain_rate_limit"
    SERVER_ERROR = "server_error"  # 5xx
    BAD_REQUEST = "bad_request"  # 400 with a generic signal-cli error
    # The message goes out, then the connection drops before the answer: the client cannot
    # tell this from a send that never happened.
    LOST_ANSWER = "lost_answer"


@dataclass(frozen=True)
class SignalFaults:
    """Random failures of ``/v2/send`` from a seeded RNG, so a failing run replays.

    ``rate_limit``, ``plain_rate_limit`` and ``server_error`` are shares (0-1) of sends
    answered with 429 (with a fresh challenge token), 429 without a token, or
    ``server_status``.
    """

    rate_limit: float = 0.0
    server_error: float = 0.0
    server_status: int = 500
    seed: int = 0
    plain_rate_limit: float = 0.0

    def __post_init__(self) -> None:
        shares = (self.rate_limit, self.plain_rate_limit, self.server_error)
        if not all(0 <= share <= 1 for share in shares):
            raise ValueError("fault shares must be between 0 and 1")
        if sum(shares) > 1:
            raise ValueError("fault shares add up to more than 1")
        if not 500 <= self.server_status <= 599:
            raise ValueError("server_status must be a 5xx status")


@dataclass(frozen=True)
class Challenge:
    """A rate-limit challenge token handed out with a 429, and whether it was solved."""

    token: str
    solved_with: str | None = None
