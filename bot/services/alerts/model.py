"""The alert error and the frozen views every alert module speaks (no ORM object escapes the
package)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from bot.db.models import (
    FollowUp,
)
from bot.domain import AlertKind, AlertStatus


class AlertError(ValueError):
    """An alert that cannot be made or changed as asked; the message is safe to show.

    ``code`` says which rule it broke (``area``, ``empty``, ``field``, ``total``, ``when``,
    ``repeat``, ``unchecked``, ``not_draft``...) and ``field`` which field, so a page can say
    it in the reader's language."""

    def __init__(self, message: str, *, code: str = "invalid", field: str | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.field = field


@dataclass(frozen=True, slots=True)
class AlertView:
    """An alert as handlers and rendering see it (no ORM object escapes this module)."""

    id: int
    kind: AlertKind
    severity: int
    status: AlertStatus
    fields: Mapping[str, str]
    areas: tuple[str, ...]
    lifetime: timedelta
    follow_up: FollowUp | None = None
    parent_id: int | None = None
    series_id: int | None = None
    created_by_id: int | None = None
    recurrence: str | None = None
    timezone: str | None = None
    due_at: datetime | None = None
    issued_at: datetime | None = None
    expires_at: datetime | None = None
    finished_at: datetime | None = None
    base_locale: str | None = None
    translations: Mapping[str, Mapping[str, str]] = field(default_factory=dict)
    # Made from a community report and not yet edited or confirmed: it cannot go out.
    needs_check: bool = False
    # How sure the group is (one of fields.CONFIDENCES; None: not said) and the routes of
    # use its advice is for (fields.ROUTES order).
    confidence: str | None = None
    routes: tuple[str, ...] = ()
    # Sent (or to be sent) as Telegram's paid broadcast: faster, for Stars.
    paid: bool = False

    @property
    def reference(self) -> str:
        """What coordinators call it: ``A12``."""
        return f"A{self.id}"

    def expired(self, now: datetime) -> bool:
        """Whether it has stopped being current (an unsent alert has not)."""
        return self.expires_at is not None and self.expires_at <= now

    def fields_in(self, locale: str) -> dict[str, str]:
        """The free text a recipient in ``locale`` reads: each field as written in that
        language where it was, the base text otherwise."""
        written = self.translations.get(locale, {})
        return {name: written.get(name, text) for name, text in self.fields.items()}


@dataclass(frozen=True, slots=True)
class Tally:
    """Deliveries of one alert by status."""

    pending: int = 0
    sending: int = 0
    sent: int = 0
    unknown: int = 0
    failed: int = 0
    unreachable: int = 0
    expired: int = 0

    @property
    def total(self) -> int:
        return (
            self.pending
            + self.sending
            + self.sent
            + self.unknown
            + self.failed
            + self.unreachable
            + self.expired
        )

    @property
    def done(self) -> int:
        """Deliveries that reached a final state."""
        return self.total - self.pending - self.sending

    def as_dict(self) -> dict[str, int]:
        return {
            "pending": self.pending,
            "sending": self.sending,
            "sent": self.sent,
            "unknown": self.unknown,
            "failed": self.failed,
            "unreachable": self.unreachable,
            "expired": self.expired,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Tally:
        return cls(**{k: int(data.get(k, 0)) for k in cls().as_dict()})


@dataclass(frozen=True, slots=True)
class Preview:
    """Exactly what recipients will read, and how many would receive it if sent now."""

    text: str
    recipients: int


@dataclass(frozen=True, slots=True)
class Fired:
    """What firing one due alert did.

    ``alert_id`` is what went out (the occurrence, for a recurring template); ``missed`` means
    its whole lifetime passed before it could be sent (the bot was down), so nobody got it.
    """

    alert_id: int
    deliveries: int
    missed: bool = False
    template_id: int | None = None
    creator_contact_id: int | None = None
    # It was to go as a paid broadcast, but its cost had grown over the cap: it goes free.
    paid_dropped: bool = False


@dataclass(frozen=True, slots=True)
class Finished:
    """An alert whose deliveries all reached a final state, and whom to tell.

    ``took``: from sending to the last delivery's outcome, as the outbox noted it finished
    (``finished_at - issued_at``)."""

    alert_id: int
    tally: Tally
    creator_contact_id: int | None
    took: timedelta | None = None
