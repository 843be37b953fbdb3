"""Alerts: compose, preview, send now, schedule (once or recurring), cancel, update, all clear.

Life of an alert::

    draft ─┬─ send_now ──────────────→ sending ── (outbox drains) ──→ sent
           ├─ schedule_once ─→ scheduled ─ fire ─┘
           ├─ schedule_recurring → scheduled template ─ fire → occurrence (sending → sent)
           └─ cancel (any time before sent) → cancelled

Sending *materialises* the audience: one :class:`Delivery` row per (alert, contact), written by
one ``INSERT ... SELECT ... ON CONFLICT DO NOTHING`` so the audience never passes through Python
(memory stays flat however many subscribers) and can never hold a contact twice. The outbox
(:mod:`bot.services.outbox`) sends those rows.

A recurring alert is a template whose ``due_at`` is its next occurrence, in the areas' time
zone (:class:`Recurrence`). Firing advances the template with a conditional ``UPDATE ... WHERE
due_at = :seen`` and inserts the occurrence in the same transaction, so two instances firing at
once produce one occurrence, and a restart neither loses nor repeats one.

An update or all clear is a child alert sent to its parent's audience: those the parent reached
or is still reaching. An all clear also ends the parent: it expires now, and whoever had not
received it yet will not.

Every function is keyword-only and session-first; the caller owns the transaction and passes
``now``, so tests control the clock.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any, Final
from zoneinfo import ZoneInfo

from sqlalchemy import (
    Boolean,
    Integer,
    String,
    delete,
    exists,
    func,
    literal,
    or_,
    select,
    update,
)
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from bot.content import Cards, Gazetteer
from bot.core import bidi
from bot.core.words import Translator
from bot.db.base import UTCDateTime
from bot.db.models import (
    EVERYWHERE,
    Alert,
    AlertArea,
    Contact,
    Coordinator,
    Delivery,
    FollowUp,
    Subscription,
)
from bot.domain import AlertKind, AlertStatus, DeliveryStatus
from bot.services.subscriptions import SubscriptionError, validate_areas

__all__ = [
    "DEFAULT_LIFETIME",
    "FIELD_LIMITS",
    "LIFETIME_CHOICES",
    "MAX_FIELDS_TOTAL",
    "MAX_LANGUAGES",
    "SEVERITIES",
    "WHEN_FORMAT",
    "AlertError",
    "AlertView",
    "Finished",
    "Fired",
    "FollowUp",
    "Preview",
    "Recurrence",
    "Tally",
    "audience_size",
    "cancel",
    "check_field",
    "check_locale",
    "check_text",
    "create_draft",
    "create_follow_up",
    "due_alert_ids",
    "finish_done",
    "fire",
    "get",
    "get_many",
    "list_alerts",
    "list_current",
    "local_when",
    "mark_checked",
    "preview",
    "progress",
    "purge_deliveries",
    "render_alert",
    "repeat_rule",
    "schedule_local",
    "schedule_once",
    "schedule_recurring",
    "send_now",
    "tallies",
    "update_draft",
    "validate_fields",
    "validate_translation",
    "validate_translations",
    "zone_for",
]

# Structured fields, in the order they are shown, with their longest accepted length.
FIELD_LIMITS: Final[Mapping[str, int]] = {
    "sold_as": 200,
    "found_to_contain": 200,
    "appearance": 200,
    "symptoms": 500,
    "advice": 1000,
}
# All fields together: with the overdose steps and a long area list the English text stays
# under Telegram's 4096, so it goes as one message (a split one could repeat its first part
# when the second is retried).
MAX_FIELDS_TOTAL: Final = 1500
# Fields that may span lines; the others are one line.
_MULTILINE: Final = frozenset({"symptoms", "advice"})
SEVERITIES: Final = (1, 2, 3)
# Languages an alert may be written in besides its first (each adds up to MAX_FIELDS_TOTAL).
MAX_LANGUAGES: Final = 12
_LOCALE: Final = re.compile(r"[a-z]{2,3}(?:_[A-Z]{2})?")
DEFAULT_LIFETIME: Final = timedelta(hours=72)
# How long an alert may stay current, as coordinators are offered it (hours).
LIFETIME_CHOICES: Final = (6, 24, 72, 168)
# Local date and time as coordinators type and read them.
WHEN_FORMAT: Final = "%Y-%m-%d %H:%M"
_WHEN_CHARS: Final = 40
_DAY_CODES: Final = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
# 18:00, 9:30, 18.00 or 18h00; anything longer is not a time.
_CLOCK: Final = re.compile(r"([01]?\d|2[0-3])[:.h]([0-5]\d)")
_CLOCK_CHARS: Final = 12
MIN_LIFETIME: Final = timedelta(hours=1)
MAX_LIFETIME: Final = timedelta(days=30)
MAX_SCHEDULE_AHEAD: Final = timedelta(days=366)
# Bad-batch deliveries are claimed before anything else queued (0 = first).
_PRIORITY: Final[Mapping[AlertKind, int]] = {
    AlertKind.BAD_BATCH: 0,
    AlertKind.SAFETY: 1,
    AlertKind.SERVICE_CHANGE: 1,
}
# A parent's recipients who still get its follow-ups (not those it never reached).
_REACHED: Final = (
    DeliveryStatus.PENDING,
    DeliveryStatus.SENDING,
    DeliveryStatus.SENT,
    DeliveryStatus.UNKNOWN,
)
_OPEN_DELIVERY: Final = (DeliveryStatus.PENDING, DeliveryStatus.SENDING)
EMERGENCY_CARD: Final = "overdose"
PURGE_BATCH: Final = 1000


class AlertError(ValueError):
    """An alert that cannot be made or changed as asked; the message is safe to show.

    ``code`` says which rule it broke (``area``, ``empty``, ``field``, ``total``, ``when``,
    ``repeat``, ``unchecked``, ``not_draft``...) and ``field`` which field, so a page can say
    it in the reader's language."""

    def __init__(self, message: str, *, code: str = "invalid", field: str | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.field = field


# --- views ---------------------------------------------------------------------------------------


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


@dataclass(frozen=True, slots=True)
class Finished:
    """An alert whose deliveries all reached a final state, and whom to tell."""

    alert_id: int
    tally: Tally
    creator_contact_id: int | None


# --- validation ----------------------------------------------------------------------------------


def check_text(name: str, value: str, limit: int, *, multiline: bool = False) -> str:
    """``value`` trimmed and NFC-normalised; AlertError if it holds control or format
    characters (a newline is fine when ``multiline``) or is longer than ``limit``."""
    text = unicodedata.normalize("NFC", value).strip()
    for ch in text:
        if ch == "\n" and multiline:
            continue
        # Control and format characters (bidi overrides, zero-width) can hide or reorder text.
        if unicodedata.category(ch) in ("Cc", "Cf", "Cs", "Co"):
            raise AlertError(f"{name}: no control characters, please", code="field", field=name)
    if multiline:
        text = re.sub(r"\n{3,}", "\n\n", "\n".join(line.strip() for line in text.split("\n")))
    if len(text) > limit:
        raise AlertError(f"{name}: at most {limit} characters", code="field", field=name)
    return text


def check_field(name: str, value: str) -> str:
    """One structured field checked as :func:`validate_fields` checks it (may come back empty)."""
    if name not in FIELD_LIMITS:
        raise AlertError(f"unknown field {name[:32]!r}")
    return check_text(name, value, FIELD_LIMITS[name], multiline=name in _MULTILINE)


def validate_fields(fields: Mapping[str, str | None]) -> dict[str, str]:
    """Known fields only, trimmed, within their lengths, no control characters; empty ones
    dropped. At least one must remain."""
    clean: dict[str, str] = {}
    for name, value in fields.items():
        if name not in FIELD_LIMITS:
            raise AlertError(f"unknown field {name[:32]!r}")
        if value is None:
            continue
        if not isinstance(value, str):
            raise AlertError(f"{name}: text expected")
        text = check_text(name, value, FIELD_LIMITS[name], multiline=name in _MULTILINE)
        if text:
            clean[name] = text
    if not clean:
        raise AlertError("an alert needs at least one field filled in", code="empty")
    if sum(len(text) for text in clean.values()) > MAX_FIELDS_TOTAL:
        raise AlertError(
            f"at most {MAX_FIELDS_TOTAL} characters in all fields together", code="total"
        )
    return {name: clean[name] for name in FIELD_LIMITS if name in clean}


def check_locale(locale: object) -> str:
    """A locale code as catalogues name them (``ru``, ``fa_AF``); AlertError otherwise."""
    if not isinstance(locale, str) or _LOCALE.fullmatch(locale) is None:
        raise AlertError("a language is a code like ru or fa_AF", code="language")
    return locale


def validate_translation(
    base: Mapping[str, str], texts: Mapping[str, str | None]
) -> dict[str, str]:
    """One language's texts checked exactly as :func:`validate_fields` checks the base, for
    fields the base has filled only; empty ones dropped (they fall back to the base text).
    The text a recipient then reads (these plus base fallbacks) must fit the same total."""
    clean: dict[str, str] = {}
    for name, value in texts.items():
        if value is None:
            continue
        if not isinstance(value, str):
            raise AlertError(f"{str(name)[:32]}: text expected")
        text = check_field(name, value)
        if text and name not in base:
            raise AlertError(f"{name}: the alert has no such text to write again")
        if text:
            clean[name] = text
    if sum(len(clean.get(name, text)) for name, text in base.items()) > MAX_FIELDS_TOTAL:
        raise AlertError(f"at most {MAX_FIELDS_TOTAL} characters in all fields together")
    return {name: clean[name] for name in FIELD_LIMITS if name in clean}


def validate_translations(
    base: Mapping[str, str],
    translations: Mapping[str, Mapping[str, str | None]],
    *,
    base_locale: str | None,
) -> dict[str, dict[str, str]]:
    """Every language's texts (:func:`validate_translation`); languages left empty dropped.
    No language may be the base one itself, and there are at most :data:`MAX_LANGUAGES`."""
    clean: dict[str, dict[str, str]] = {}
    for locale, texts in translations.items():
        if check_locale(locale) == base_locale:
            raise AlertError("the alert is already written in that language", code="language")
        if not isinstance(texts, Mapping):
            raise AlertError("texts per field expected")
        written = validate_translation(base, texts)
        if written:
            clean[locale] = written
    if len(clean) > MAX_LANGUAGES:
        raise AlertError(f"at most {MAX_LANGUAGES} languages besides the first")
    return clean


def _check_severity(severity: int) -> int:
    if severity not in SEVERITIES:
        raise AlertError("severity is 1 (advisory), 2 (warning) or 3 (danger)", code="severity")
    return severity


def _check_lifetime(lifetime: timedelta) -> int:
    if not MIN_LIFETIME <= lifetime <= MAX_LIFETIME:
        raise AlertError("an alert stays current between 1 hour and 30 days", code="lifetime")
    return int(lifetime.total_seconds())


def _check_areas(areas: Sequence[str], gazetteer: Gazetteer) -> list[str]:
    if not any(code.strip() for code in areas):
        raise AlertError("choose at least one area", code="no_area")
    try:
        codes = validate_areas(areas, gazetteer)
    except SubscriptionError as exc:
        raise AlertError(str(exc), code="area") from None
    return [EVERYWHERE] if EVERYWHERE in codes else codes


def local_when(typed: str, zone: ZoneInfo) -> datetime:
    """``2026-11-26 18:00`` (or ``2026-11-26T18:00``, as a browser sends it) read as wall-clock
    time in ``zone``; AlertError (code ``when``) if it is not a date and time."""
    text = typed.strip()[:_WHEN_CHARS].replace("T", " ", 1)
    try:
        local = datetime.strptime(text, WHEN_FORMAT)
    except ValueError:
        raise AlertError("a date and time like 2026-11-26 18:00", code="when") from None
    return local.replace(tzinfo=zone)


def repeat_rule(days: Collection[int], typed: str) -> str | None:
    """``weekly:fri@18:00`` (or ``daily@18:00`` for all seven) from chosen weekdays (0 =
    Monday) and a typed local time; None if it is not a time or no day is chosen."""
    chosen = sorted({d for d in days if 0 <= d < 7})
    typed = typed.strip()
    match = _CLOCK.fullmatch(typed) if len(typed) <= _CLOCK_CHARS else None
    if match is None or not chosen:
        return None
    clock = f"{int(match[1]):02d}:{match[2]}"
    if len(chosen) == 7:
        return f"daily@{clock}"
    return "weekly:" + ",".join(_DAY_CODES[d] for d in chosen) + f"@{clock}"


def zone_for(areas: Sequence[str], gazetteer: Gazetteer) -> ZoneInfo:
    """The time zone schedules of an alert for ``areas`` use: the first area's, or the city's
    for everywhere."""
    for code in areas:
        area = gazetteer.by_code(code)
        if area is not None:
            return area.zone
    return ZoneInfo(gazetteer.city.timezone)


# --- recurrence ----------------------------------------------------------------------------------

_DAYS: Final = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_RULE: Final = re.compile(
    r"(?:(?P<daily>daily)|weekly:(?P<days>[a-z]{3}(?:,[a-z]{3})*))@(?P<h>[01]\d|2[0-3]):(?P<m>[0-5]\d)"
)


@dataclass(frozen=True, slots=True)
class Recurrence:
    """``daily@HH:MM`` or ``weekly:fri@18:00`` / ``weekly:mon,thu@09:30``, in local time.

    Local time means wall-clock time in the alert's zone: 18:00 stays 18:00 across daylight
    saving changes. A time that does not exist on a spring-forward day (02:30) runs an hour
    later by the clock (it is the same instant as 02:30 standard time); a time that happens
    twice on a fall-back day runs at its first occurrence.
    """

    weekdays: frozenset[int]  # 0 = Monday
    at: time

    @classmethod
    def parse(cls, text: str) -> Recurrence:
        """Parse a rule; raises AlertError naming the expected format."""
        match = _RULE.fullmatch(text.strip().lower())
        if match is None:
            raise AlertError(
                "repeat as daily@18:00 or weekly:fri@18:00 (days mon..sun)", code="repeat"
            )
        if match["daily"]:
            weekdays = frozenset(range(7))
        else:
            names = match["days"].split(",")
            if any(name not in _DAYS for name in names):
                raise AlertError("days are mon, tue, wed, thu, fri, sat, sun", code="repeat")
            weekdays = frozenset(_DAYS.index(name) for name in names)
        return cls(weekdays=weekdays, at=time(int(match["h"]), int(match["m"])))

    def __str__(self) -> str:
        clock = f"{self.at.hour:02d}:{self.at.minute:02d}"
        if len(self.weekdays) == 7:
            return f"daily@{clock}"
        return "weekly:" + ",".join(_DAYS[d] for d in sorted(self.weekdays)) + f"@{clock}"

    def next_after(self, after: datetime, zone: ZoneInfo) -> datetime:
        """The first occurrence strictly after ``after`` (aware), in UTC."""
        start: date = after.astimezone(zone).date()
        for offset in range(9):
            day = start + timedelta(days=offset)
            if day.weekday() not in self.weekdays:
                continue
            # fold=0: the first of a repeated hour; a skipped hour maps past the gap.
            candidate = datetime.combine(day, self.at, tzinfo=zone).astimezone(UTC)
            if candidate > after:
                return candidate
        raise AssertionError("a weekly rule always has an occurrence within 8 days")

    def latest_until(self, first: datetime, now: datetime, zone: ZoneInfo) -> datetime:
        """The last occurrence at or before ``now``, counting from ``first`` (itself one)."""
        latest = first
        while (following := self.next_after(latest, zone)) <= now:
            latest = following
        return latest


# --- reading -------------------------------------------------------------------------------------


def _view(alert: Alert, areas: Sequence[str]) -> AlertView:
    return AlertView(
        id=alert.id,
        kind=alert.kind,
        severity=alert.severity,
        status=alert.status,
        fields=dict(alert.fields or {}),
        areas=tuple(areas),
        lifetime=timedelta(seconds=alert.lifetime_seconds),
        follow_up=alert.follow_up,
        parent_id=alert.parent_id,
        series_id=alert.series_id,
        created_by_id=alert.created_by_id,
        recurrence=alert.recurrence,
        timezone=alert.timezone,
        due_at=alert.due_at,
        issued_at=alert.issued_at,
        expires_at=alert.expires_at,
        finished_at=alert.finished_at,
        base_locale=alert.base_locale,
        translations={k: dict(v) for k, v in (alert.translations or {}).items()},
        needs_check=bool(alert.needs_check),
    )


async def _areas(session: AsyncSession, alert_id: int) -> list[str]:
    rows = await session.scalars(
        select(AlertArea.area_code)
        .where(AlertArea.alert_id == alert_id)
        .order_by(AlertArea.area_code)
    )
    return list(rows)


async def _views(session: AsyncSession, alerts: Sequence[Alert]) -> list[AlertView]:
    if not alerts:
        return []
    rows = await session.execute(
        select(AlertArea.alert_id, AlertArea.area_code)
        .where(AlertArea.alert_id.in_([a.id for a in alerts]))
        .order_by(AlertArea.area_code)
    )
    areas: dict[int, list[str]] = {}
    for alert_id, code in rows.all():
        areas.setdefault(alert_id, []).append(code)
    return [_view(alert, areas.get(alert.id, [])) for alert in alerts]


async def get(session: AsyncSession, *, alert_id: int) -> AlertView | None:
    """The alert, or None."""
    alert = await session.get(Alert, alert_id, populate_existing=True)
    if alert is None:
        return None
    return _view(alert, await _areas(session, alert_id))


async def get_many(session: AsyncSession, *, alert_ids: Sequence[int]) -> list[AlertView]:
    """The alerts with these ids that exist, in the order given."""
    if not alert_ids:
        return []
    found = await session.scalars(select(Alert).where(Alert.id.in_(list(alert_ids))))
    by_id = {alert.id: alert for alert in found}
    return await _views(session, [by_id[i] for i in alert_ids if i in by_id])


async def _require(session: AsyncSession, alert_id: int) -> Alert:
    alert = await session.get(Alert, alert_id, populate_existing=True)
    if alert is None:
        raise AlertError("no such alert")
    return alert


async def list_alerts(
    session: AsyncSession,
    *,
    statuses: Collection[AlertStatus] | None = None,
    limit: int = 20,
    include_templates: bool = True,
) -> list[AlertView]:
    """Alerts for coordinators, newest first (optionally only some statuses)."""
    query = select(Alert).order_by(Alert.id.desc()).limit(limit)
    if statuses is not None:
        query = query.where(Alert.status.in_(list(statuses)))
    if not include_templates:
        query = query.where(Alert.recurrence.is_(None))
    return await _views(session, list(await session.scalars(query)))


async def list_current(
    session: AsyncSession, *, contact_id: int, now: datetime, limit: int = 10
) -> list[AlertView]:
    """Current (issued, unexpired) alerts for the areas the contact subscribed to, newest
    first: what ``/alerts`` shows a person."""
    matches = (
        select(AlertArea.alert_id)
        .join(Subscription, Subscription.contact_id == contact_id)
        .where(
            AlertArea.alert_id == Alert.id,
            or_(
                AlertArea.area_code == Subscription.area_code,
                AlertArea.area_code == EVERYWHERE,
                Subscription.area_code == EVERYWHERE,
            ),
        )
    )
    query = (
        select(Alert)
        .where(
            Alert.status.in_([AlertStatus.SENDING, AlertStatus.SENT]),
            Alert.recurrence.is_(None),
            Alert.issued_at.is_not(None),
            or_(Alert.expires_at.is_(None), Alert.expires_at > now),
            exists(matches),
        )
        .order_by(Alert.issued_at.desc(), Alert.id.desc())
        .limit(limit)
    )
    return await _views(session, list(await session.scalars(query)))


# --- composing -----------------------------------------------------------------------------------


async def create_draft(
    session: AsyncSession,
    *,
    kind: AlertKind,
    severity: int,
    areas: Sequence[str],
    fields: Mapping[str, str | None],
    gazetteer: Gazetteer,
    now: datetime,
    lifetime: timedelta = DEFAULT_LIFETIME,
    created_by_id: int | None = None,
    locale: str | None = None,
    needs_check: bool = False,
) -> AlertView:
    """A new draft; raises AlertError for an unknown area, a bad field or severity.
    ``locale`` is the language the fields are written in (the composer's). ``needs_check``
    holds it until :func:`mark_checked` or an edit of its fields (text from a report)."""
    codes = _check_areas(areas, gazetteer)
    alert = Alert(
        kind=AlertKind(kind),
        severity=_check_severity(severity),
        status=AlertStatus.DRAFT,
        fields=validate_fields(fields),
        lifetime_seconds=_check_lifetime(lifetime),
        created_by_id=created_by_id,
        created_at=now,
        base_locale=check_locale(locale) if locale is not None else None,
        needs_check=needs_check,
    )
    session.add(alert)
    await session.flush()
    session.add_all([AlertArea(alert_id=alert.id, area_code=code) for code in codes])
    await session.flush()
    return _view(alert, sorted(codes))


async def update_draft(
    session: AsyncSession,
    *,
    alert_id: int,
    gazetteer: Gazetteer,
    kind: AlertKind | None = None,
    severity: int | None = None,
    areas: Sequence[str] | None = None,
    fields: Mapping[str, str | None] | None = None,
    lifetime: timedelta | None = None,
) -> AlertView:
    """Change a draft (only what is given). ``fields`` replaces all fields; texts in other
    languages keep only the fields still there (AlertError if one no longer fits). Fields
    written again count as the check a draft from a report needs."""
    alert = await _require(session, alert_id)
    if alert.status is not AlertStatus.DRAFT:
        raise AlertError("only a draft can be edited")
    if kind is not None:
        if alert.parent_id is not None:
            raise AlertError("an update keeps the kind of its alert")
        alert.kind = AlertKind(kind)
    if severity is not None:
        alert.severity = _check_severity(severity)
    if fields is not None:
        alert.fields = validate_fields(fields)
        alert.needs_check = False
        if alert.translations:
            kept = {
                locale: {k: v for k, v in texts.items() if k in alert.fields}
                for locale, texts in alert.translations.items()
            }
            alert.translations = (
                validate_translations(alert.fields, kept, base_locale=alert.base_locale) or None
            )
    if lifetime is not None:
        alert.lifetime_seconds = _check_lifetime(lifetime)
    if areas is not None:
        if alert.parent_id is not None:
            raise AlertError("an update goes to the audience of its alert")
        codes = _check_areas(areas, gazetteer)
        await session.execute(delete(AlertArea).where(AlertArea.alert_id == alert_id))
        session.add_all([AlertArea(alert_id=alert_id, area_code=code) for code in codes])
    await session.flush()
    return _view(alert, await _areas(session, alert_id))


async def mark_checked(session: AsyncSession, *, alert_id: int) -> AlertView:
    """A coordinator read a draft made from a report and found no one identifiable in it:
    it may now be sent or scheduled."""
    alert = await _require(session, alert_id)
    if alert.status is not AlertStatus.DRAFT:
        raise AlertError("only a draft can be checked")
    alert.needs_check = False
    await session.flush()
    return _view(alert, await _areas(session, alert_id))


def _refuse_unchecked(alert: Alert) -> None:
    if alert.needs_check:
        raise AlertError(
            "a draft from a community report must be edited or checked first", code="unchecked"
        )


async def create_follow_up(
    session: AsyncSession,
    *,
    parent_id: int,
    follow_up: FollowUp,
    fields: Mapping[str, str | None] | None = None,
    now: datetime,
    created_by_id: int | None = None,
    lifetime: timedelta | None = None,
    locale: str | None = None,
    translations: Mapping[str, Mapping[str, str | None]] | None = None,
) -> AlertView:
    """A draft update or all clear for an alert that was sent (or is being sent).

    It keeps the parent's kind, severity and areas and goes to the parent's audience. An
    update needs fields; an all clear may carry advice. Its free text is its own, so it has
    its own languages: ``translations`` ({locale: {field: text}}) of its own ``fields``,
    written in ``locale`` (the parent's language when not given).
    """
    parent = await _require(session, parent_id)
    if parent.status not in (AlertStatus.SENDING, AlertStatus.SENT) or parent.recurrence:
        raise AlertError("only an alert that was sent can be updated")
    given = dict(fields or {})
    if follow_up is FollowUp.ALL_CLEAR and not any(given.values()):
        clean: dict[str, str] = {}
    else:
        clean = validate_fields(given)
    base_locale = check_locale(locale) if locale is not None else parent.base_locale
    written = validate_translations(clean, translations or {}, base_locale=base_locale)
    alert = Alert(
        kind=parent.kind,
        severity=parent.severity,
        status=AlertStatus.DRAFT,
        fields=clean,
        parent_id=parent.id,
        follow_up=FollowUp(follow_up),
        base_locale=base_locale,
        translations=written or None,
        lifetime_seconds=(
            _check_lifetime(lifetime) if lifetime is not None else parent.lifetime_seconds
        ),
        created_by_id=created_by_id if created_by_id is not None else parent.created_by_id,
        created_at=now,
    )
    session.add(alert)
    await session.flush()
    codes = await _areas(session, parent.id)
    session.add_all([AlertArea(alert_id=alert.id, area_code=code) for code in codes])
    await session.flush()
    return _view(alert, codes)


# --- rendering -----------------------------------------------------------------------------------


def _first_line(alert: AlertView, t: Translator) -> str:
    # Shown on lock screens: never a drug word, never a field a coordinator typed.
    if alert.follow_up is FollowUp.ALL_CLEAR:
        return t("✅ All clear on an earlier notice from your community group")
    if alert.follow_up is FollowUp.UPDATE:
        return t("🔁 Update to an earlier notice from your community group")
    if alert.kind is AlertKind.BAD_BATCH:
        if alert.severity >= 3:
            return t("🔴 Urgent notice from your community group")
        if alert.severity == 2:
            return t("🟠 Important notice from your community group")
        return t("🟡 Notice from your community group")
    if alert.kind is AlertKind.SAFETY:
        return t("💬 A reminder from your community group")
    return t("ℹ️ Service news from your community group")


def _heading(alert: AlertView, t: Translator) -> str:
    if alert.kind is AlertKind.BAD_BATCH:
        return t("Bad batch warning")
    if alert.kind is AlertKind.SAFETY:
        return t("Safety message")
    return t("Service change")


def _area_names(alert: AlertView, t: Translator, gazetteer: Gazetteer) -> str:
    if EVERYWHERE in alert.areas or not alert.areas:
        return t("everywhere")
    names = []
    for code in alert.areas:
        area = gazetteer.by_code(code)
        names.append(area.name if area is not None else code)
    return ", ".join(names)


def _emergency_number(alert: AlertView, gazetteer: Gazetteer) -> str:
    numbers: list[str] = []
    for code in alert.areas:
        area = gazetteer.by_code(code)
        number = area.emergency_number if area is not None else gazetteer.city.emergency_number
        if number not in numbers:
            numbers.append(number)
    return " / ".join(numbers) or gazetteer.city.emergency_number


def _set_apart(value: str, t: Translator) -> str:
    """Free text set apart from the recipient's writing direction where it runs the other way.

    A Dari text in an English line (or a Latin or number run in a Dari one) is otherwise
    reordered by its neighbours: "Sold as: <Dari> 2" would show the 2 in the wrong place. Each
    line is isolated (FSI … PDI) on its own, as a line break ends every isolate. A right-to-
    left translator isolates placeholder values itself; doing it here too is harmless (an
    isolated value is not wrapped twice) and covers a template that is not translated yet.
    """
    if t.rtl:
        return bidi.isolate(value)
    if not bidi.has_rtl(value):
        return value
    return "\n".join(f"{bidi.FSI}{line}{bidi.PDI}" if line else line for line in value.split("\n"))


def _field_lines(written: Mapping[str, str], t: Translator) -> list[str]:
    fields = {name: _set_apart(text, t) for name, text in written.items()}
    lines = []
    # Each label a literal, so message extraction finds it.
    if "sold_as" in fields:
        lines.append(t("Sold as: {value}", value=fields["sold_as"]))
    if "found_to_contain" in fields:
        lines.append(t("Found to contain: {value}", value=fields["found_to_contain"]))
    if "appearance" in fields:
        lines.append(t("Looks like: {value}", value=fields["appearance"]))
    if "symptoms" in fields:
        lines.append(t("Effects seen: {value}", value=fields["symptoms"]))
    if "advice" in fields:
        lines.append(t("Advice: {value}", value=fields["advice"]))
    return lines


def render_alert(alert: AlertView, t: Translator, gazetteer: Gazetteer, cards: Cards) -> str:
    """The text recipients get, in ``t``'s language.

    A discreet first line (the lock-screen preview), a blank line, then the facts: kind and
    areas, the structured fields, and the emergency number for the areas; a bad-batch warning
    also carries the overdose steps (with naloxone) from the info cards.

    The structured parts come from ``t``'s catalogue; the free text is the coordinator's, in
    ``t``'s language where they wrote it in that language and in the base language otherwise
    (field by field): a bad-batch warning in another language beats no warning at all.
    """
    areas = _area_names(alert, t, gazetteer)
    number = _emergency_number(alert, gazetteer)
    lines = [_first_line(alert, t), ""]
    if alert.follow_up is FollowUp.ALL_CLEAR:
        lines.append(
            t(
                "{heading} for {areas}: the earlier warning is over.",
                heading=_heading(alert, t),
                areas=areas,
            )
        )
    else:
        lines.append(t("{heading} · Areas: {areas}", heading=_heading(alert, t), areas=areas))
    lines += _field_lines(alert.fields_in(t.locale), t)
    lines.append("")
    card = cards.by_code(EMERGENCY_CARD)
    if alert.kind is AlertKind.BAD_BATCH and alert.follow_up is not FollowUp.ALL_CLEAR and card:
        city = gazetteer.city.name
        lines.append(t(card.title))
        lines.append(t(card.text, emergency_number=number, city=city).strip())
    else:
        lines.append(
            t(
                "If someone can't be woken or isn't breathing: call {number}, give naloxone, "
                "and stay with them. /emergency shows the steps.",
                number=number,
            )
        )
    return "\n".join(lines).strip()


async def preview(
    session: AsyncSession,
    *,
    alert_id: int,
    t: Translator,
    gazetteer: Gazetteer,
    cards: Cards,
) -> Preview:
    """What recipients will read (in ``t``'s language) and how many would receive it now."""
    view = await get(session, alert_id=alert_id)
    if view is None:
        raise AlertError("no such alert")
    return Preview(
        text=render_alert(view, t, gazetteer, cards),
        recipients=await audience_size(session, alert_id=alert_id),
    )


# --- audience ------------------------------------------------------------------------------------


def _area_audience(areas: Sequence[str]) -> Any:
    """Contacts (id, channel) subscribed to any of ``areas``, reachable, each once."""
    query = (
        select(Contact.id, Contact.channel)
        .join(Subscription, Subscription.contact_id == Contact.id)
        .where(Contact.reachable.is_(True))
        .distinct()
    )
    if EVERYWHERE not in areas:
        query = query.where(Subscription.area_code.in_([*areas, EVERYWHERE]))
    return query


def _follow_up_audience(parent_id: int, statuses: Sequence[DeliveryStatus]) -> Any:
    """The parent's recipients (id, channel) who are still reachable and subscribed."""
    return (
        select(Contact.id, Contact.channel)
        .join(Delivery, Delivery.contact_id == Contact.id)
        .where(
            Delivery.alert_id == parent_id,
            Delivery.status.in_(list(statuses)),
            Contact.reachable.is_(True),
            # STOP means nothing more, follow-ups included.
            exists().where(Subscription.contact_id == Contact.id),
        )
    )


def _audience(alert: Alert, areas: Sequence[str]) -> Any:
    if alert.parent_id is None:
        return _area_audience(areas)
    statuses = (
        (DeliveryStatus.SENDING, DeliveryStatus.SENT, DeliveryStatus.UNKNOWN)
        if alert.follow_up is FollowUp.ALL_CLEAR
        else _REACHED
    )
    return _follow_up_audience(alert.parent_id, statuses)


async def audience_size(session: AsyncSession, *, alert_id: int) -> int:
    """How many contacts the alert would go to if sent now."""
    alert = await _require(session, alert_id)
    audience = _audience(alert, await _areas(session, alert_id)).subquery()
    return int(await session.scalar(select(func.count()).select_from(audience)) or 0)


async def _materialise(session: AsyncSession, alert: Alert, now: datetime) -> int:
    """Write one pending delivery per audience member; returns how many the alert has."""
    audience = _audience(alert, await _areas(session, alert.id)).subquery()
    rows = select(
        literal(alert.id, Integer),
        audience.c.id,
        audience.c.channel,
        literal(_PRIORITY[alert.kind], Integer),
        literal(DeliveryStatus.PENDING.value, String),
        literal(0, Integer),
        literal(False, Boolean),
        literal(now, UTCDateTime()),
    ).where(audience.c.id.is_not(None))  # SQLite's upsert needs a WHERE to parse INSERT..SELECT
    insert = pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
    await session.execute(
        insert(Delivery)
        .from_select(
            [
                "alert_id",
                "contact_id",
                "channel",
                "priority",
                "status",
                "attempts",
                "doubtful",
                "next_attempt_at",
            ],
            rows,
        )
        .on_conflict_do_nothing(index_elements=["alert_id", "contact_id"])
    )
    count = await session.scalar(
        select(func.count()).select_from(Delivery).where(Delivery.alert_id == alert.id)
    )
    return int(count or 0)


# --- sending and scheduling ----------------------------------------------------------------------


async def send_now(session: AsyncSession, *, alert_id: int, now: datetime) -> int:
    """Send a draft now: it becomes ``sending`` and its deliveries are queued in this
    transaction. Returns how many people it goes to. The outbox sends it at its next tick.

    For an all clear, the parent stops being current now and is not sent to anyone it had not
    reached yet.
    """
    alert = await _require(session, alert_id)
    if alert.status is not AlertStatus.DRAFT:
        raise AlertError("this alert is not a draft any more", code="not_draft")
    _refuse_unchecked(alert)
    expires = now + timedelta(seconds=alert.lifetime_seconds)
    won = await session.scalar(
        update(Alert)
        .where(Alert.id == alert_id, Alert.status == AlertStatus.DRAFT, ~Alert.needs_check)
        .values(status=AlertStatus.SENDING, issued_at=now, due_at=now, expires_at=expires)
        .returning(Alert.id)
    )
    if won is None:
        raise AlertError("this alert is not a draft any more", code="not_draft")
    await session.refresh(alert)
    if alert.follow_up is FollowUp.ALL_CLEAR and alert.parent_id is not None:
        await _end_parent(session, alert.parent_id, now)
    return await _materialise(session, alert, now)


async def _end_parent(session: AsyncSession, parent_id: int, now: datetime) -> None:
    await session.execute(
        update(Alert)
        .where(
            Alert.id == parent_id,
            or_(Alert.expires_at.is_(None), Alert.expires_at > now),
        )
        .values(expires_at=now)
    )
    await session.execute(
        update(Delivery)
        .where(Delivery.alert_id == parent_id, Delivery.status == DeliveryStatus.PENDING)
        .values(status=DeliveryStatus.EXPIRED, last_error="all_clear")
    )


async def schedule_once(
    session: AsyncSession, *, alert_id: int, at: datetime, now: datetime
) -> AlertView:
    """Send a draft at ``at`` (aware; build it in the area's zone, see :func:`zone_for`)."""
    if at.tzinfo is None:
        raise AlertError("a schedule needs a time zone")
    if not now < at <= now + MAX_SCHEDULE_AHEAD:
        raise AlertError("choose a time in the future, within a year", code="when")
    await _schedule(session, alert_id, values={"due_at": at.astimezone(UTC)})
    return await _get_view(session, alert_id)


async def schedule_recurring(
    session: AsyncSession,
    *,
    alert_id: int,
    rule: str | Recurrence,
    gazetteer: Gazetteer,
    now: datetime,
    until: datetime | None = None,
) -> AlertView:
    """Repeat a draft by ``rule`` (e.g. ``weekly:fri@18:00``) in its areas' local time, until
    ``until`` if given. Each occurrence is sent as its own alert. Returns the template; its
    ``due_at`` is the first occurrence."""
    recurrence = rule if isinstance(rule, Recurrence) else Recurrence.parse(rule)
    alert = await _require(session, alert_id)
    if alert.parent_id is not None:
        raise AlertError("an update cannot repeat")
    zone = zone_for(await _areas(session, alert_id), gazetteer)
    first = recurrence.next_after(now, zone)
    if until is not None and until < first:
        raise AlertError("the series ends before its first occurrence")
    await _schedule(
        session,
        alert_id,
        values={
            "due_at": first,
            "recurrence": str(recurrence),
            "timezone": zone.key,
            "expires_at": until,
        },
    )
    return await _get_view(session, alert_id)


async def _schedule(session: AsyncSession, alert_id: int, *, values: dict[str, Any]) -> None:
    alert = await _require(session, alert_id)
    if alert.parent_id is not None and alert.follow_up is FollowUp.ALL_CLEAR:
        raise AlertError("an all clear is sent now")
    _refuse_unchecked(alert)
    won = await session.scalar(
        update(Alert)
        .where(Alert.id == alert_id, Alert.status == AlertStatus.DRAFT, ~Alert.needs_check)
        .values(status=AlertStatus.SCHEDULED, **values)
        .returning(Alert.id)
    )
    if won is None:
        raise AlertError("this alert is not a draft any more", code="not_draft")


async def _get_view(session: AsyncSession, alert_id: int) -> AlertView:
    view = await get(session, alert_id=alert_id)
    if view is None:
        raise AlertError("no such alert")
    return view


async def cancel(session: AsyncSession, *, alert_id: int, now: datetime) -> bool:
    """Stop an alert: a draft or schedule (a recurring series too) is dropped; while sending,
    nobody who has not received it yet will. Returns False when it was already sent or
    cancelled."""
    won = await session.scalar(
        update(Alert)
        .where(
            Alert.id == alert_id,
            Alert.status.in_([AlertStatus.DRAFT, AlertStatus.SCHEDULED, AlertStatus.SENDING]),
        )
        .values(status=AlertStatus.CANCELLED, finished_at=now)
        .returning(Alert.id)
    )
    if won is None:
        return False
    await session.execute(
        update(Delivery)
        .where(Delivery.alert_id == alert_id, Delivery.status == DeliveryStatus.PENDING)
        .values(status=DeliveryStatus.EXPIRED, last_error="cancelled")
    )
    return True


# --- due work (called by the outbox tick) --------------------------------------------------------


async def due_alert_ids(session: AsyncSession, *, now: datetime, limit: int = 20) -> list[int]:
    """Scheduled alerts (one-off or recurring templates) whose time has come."""
    rows = await session.scalars(
        select(Alert.id)
        .where(Alert.status == AlertStatus.SCHEDULED, Alert.due_at <= now)
        .order_by(Alert.due_at)
        .limit(limit)
    )
    return list(rows)


async def _creator_contact(session: AsyncSession, coordinator_id: int | None) -> int | None:
    if coordinator_id is None:
        return None
    return await session.scalar(
        select(Coordinator.contact_id).where(Coordinator.id == coordinator_id)
    )


async def fire(
    session: AsyncSession, *, alert_id: int, now: datetime, gazetteer: Gazetteer
) -> Fired | None:
    """Send one due scheduled alert, if this caller wins it (None when another instance did,
    or it is not due). A recurring template moves on to its next occurrence in the same
    transaction; occurrences missed while the bot was down are not sent late, except the
    latest if it is still current."""
    alert = await session.get(Alert, alert_id, populate_existing=True)
    if alert is None or alert.status is not AlertStatus.SCHEDULED or alert.due_at is None:
        return None
    if alert.due_at > now:
        return None
    if alert.recurrence:
        return await _fire_occurrence(session, alert, now, gazetteer)
    lifetime = timedelta(seconds=alert.lifetime_seconds)
    expires = alert.due_at + lifetime
    missed = expires <= now
    won = await session.scalar(
        update(Alert)
        .where(Alert.id == alert.id, Alert.status == AlertStatus.SCHEDULED)
        .values(
            status=AlertStatus.CANCELLED if missed else AlertStatus.SENDING,
            issued_at=None if missed else now,
            expires_at=expires,
            finished_at=now if missed else None,
        )
        .returning(Alert.id)
    )
    if won is None:
        return None
    creator = await _creator_contact(session, alert.created_by_id)
    if missed:
        return Fired(alert_id=alert.id, deliveries=0, missed=True, creator_contact_id=creator)
    await session.refresh(alert)
    count = await _materialise(session, alert, now)
    return Fired(alert_id=alert.id, deliveries=count, creator_contact_id=creator)


async def schedule_local(
    session: AsyncSession, *, alert_id: int, typed: str, gazetteer: Gazetteer, now: datetime
) -> tuple[AlertView, datetime]:
    """Schedule a draft at a typed local date and time (:func:`local_when`) in its areas'
    zone; returns the alert and the local time it goes out."""
    view = await _get_view(session, alert_id)
    try:
        at = local_when(typed, zone_for(view.areas, gazetteer))
    except OverflowError:
        raise AlertError("a date and time like 2026-11-26 18:00", code="when") from None
    return await schedule_once(session, alert_id=alert_id, at=at, now=now), at


async def _fire_occurrence(
    session: AsyncSession, template: Alert, now: datetime, gazetteer: Gazetteer
) -> Fired | None:
    assert template.recurrence is not None
    assert template.due_at is not None
    rule = Recurrence.parse(template.recurrence)
    areas = await _areas(session, template.id)
    zone = ZoneInfo(template.timezone) if template.timezone else zone_for(areas, gazetteer)
    seen = template.due_at
    occurrence = rule.latest_until(seen, now, zone)
    following = rule.next_after(occurrence, zone)
    ended = template.expires_at is not None and following > template.expires_at
    won = await session.scalar(
        update(Alert)
        .where(
            Alert.id == template.id,
            Alert.status == AlertStatus.SCHEDULED,
            Alert.due_at == seen,
        )
        .values(
            due_at=following,
            status=AlertStatus.SENT if ended else AlertStatus.SCHEDULED,
            finished_at=now if ended else None,
        )
        .returning(Alert.id)
    )
    if won is None:
        return None
    creator = await _creator_contact(session, template.created_by_id)
    lifetime = timedelta(seconds=template.lifetime_seconds)
    if occurrence + lifetime <= now:
        return Fired(
            alert_id=template.id,
            deliveries=0,
            missed=True,
            template_id=template.id,
            creator_contact_id=creator,
        )
    instance = Alert(
        kind=template.kind,
        severity=template.severity,
        status=AlertStatus.SENDING,
        fields=dict(template.fields or {}),
        # Each occurrence is the template's text, in every language it was written in.
        base_locale=template.base_locale,
        translations={k: dict(v) for k, v in template.translations.items()}
        if template.translations
        else None,
        series_id=template.id,
        created_by_id=template.created_by_id,
        timezone=template.timezone,
        lifetime_seconds=template.lifetime_seconds,
        created_at=now,
        due_at=occurrence,
        issued_at=now,
        expires_at=occurrence + lifetime,
    )
    session.add(instance)
    await session.flush()
    session.add_all([AlertArea(alert_id=instance.id, area_code=code) for code in areas])
    await session.flush()
    count = await _materialise(session, instance, now)
    return Fired(
        alert_id=instance.id,
        deliveries=count,
        template_id=template.id,
        creator_contact_id=creator,
    )


async def progress(session: AsyncSession, *, alert_id: int) -> Tally:
    """Deliveries of the alert by status (from the kept tally once they are purged)."""
    rows = await session.execute(
        select(Delivery.status, func.count())
        .where(Delivery.alert_id == alert_id)
        .group_by(Delivery.status)
    )
    counts = {DeliveryStatus(status).value: int(n) for status, n in rows.all()}
    if not counts:
        kept = await session.scalar(select(Alert.tally).where(Alert.id == alert_id))
        if kept:
            return Tally.from_dict(kept)
    return Tally.from_dict(counts)


async def tallies(session: AsyncSession, *, alert_ids: Collection[int]) -> dict[int, Tally]:
    """:func:`progress` of many alerts in one query (kept tallies where rows are purged)."""
    if not alert_ids:
        return {}
    rows = await session.execute(
        select(Delivery.alert_id, Delivery.status, func.count())
        .where(Delivery.alert_id.in_(list(alert_ids)))
        .group_by(Delivery.alert_id, Delivery.status)
    )
    counts: dict[int, dict[str, int]] = {}
    for alert_id, status, n in rows.all():
        counts.setdefault(alert_id, {})[DeliveryStatus(status).value] = int(n)
    kept = await session.execute(
        select(Alert.id, Alert.tally).where(
            Alert.id.in_([i for i in alert_ids if i not in counts]), Alert.tally.is_not(None)
        )
    )
    for alert_id, tally in kept.all():
        counts[alert_id] = dict(tally or {})
    return {alert_id: Tally.from_dict(counts.get(alert_id, {})) for alert_id in alert_ids}


async def finish_done(session: AsyncSession, *, now: datetime, limit: int = 50) -> list[Finished]:
    """Alerts being sent whose deliveries are all final become ``sent``, with their tally
    kept. Each is returned once (to whichever instance wins it) so its creator hears once.
    Cancelled alerts get their tally kept too, without a notice."""
    open_rows = (
        select(Delivery.id)
        .where(Delivery.alert_id == Alert.id, Delivery.status.in_(list(_OPEN_DELIVERY)))
        .exists()
    )
    ids = list(
        await session.scalars(
            select(Alert.id)
            .where(
                or_(
                    Alert.status == AlertStatus.SENDING,
                    (Alert.status == AlertStatus.CANCELLED) & Alert.tally.is_(None),
                ),
                ~open_rows,
            )
            .limit(limit)
        )
    )
    finished = []
    for alert_id in ids:
        tally = await progress(session, alert_id=alert_id)
        await session.execute(
            update(Alert)
            .where(Alert.id == alert_id, Alert.status == AlertStatus.CANCELLED)
            .values(tally=tally.as_dict())
        )
        won = (
            await session.execute(
                update(Alert)
                .where(Alert.id == alert_id, Alert.status == AlertStatus.SENDING, ~open_rows)
                .values(status=AlertStatus.SENT, finished_at=now, tally=tally.as_dict())
                .returning(Alert.id, Alert.created_by_id)
            )
        ).first()
        if won is None:
            continue
        creator = await _creator_contact(session, won.created_by_id)
        finished.append(Finished(alert_id=alert_id, tally=tally, creator_contact_id=creator))
    return finished


async def purge_deliveries(
    session: AsyncSession, *, now: datetime, retention: timedelta, batches: int = 20
) -> int:
    """Forget who received which alert once the alert finished more than ``retention`` ago
    (its counts stay in ``tally``). At most ``batches`` × 1000 rows per call."""
    if retention <= timedelta(0):
        raise ValueError("retention must be positive")
    cutoff = now - retention
    done = 0
    for _ in range(batches):
        ids = list(
            await session.scalars(
                select(Delivery.id)
                .join(Alert, Alert.id == Delivery.alert_id)
                .where(
                    Alert.status.in_([AlertStatus.SENT, AlertStatus.CANCELLED]),
                    Alert.finished_at < cutoff,
                )
                .limit(PURGE_BATCH)
            )
        )
        if not ids:
            break
        await session.execute(delete(Delivery).where(Delivery.id.in_(ids)))
        done += len(ids)
        if len(ids) < PURGE_BATCH:
            break
    return done
