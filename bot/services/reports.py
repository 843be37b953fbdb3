"""Community reports of a bad batch: anyone sends one, coordinators review them.

A report is anonymous by construction: the table has no contact, pseudonym or address column,
so nothing here can tie a report to whoever sent it without the key, and its time is kept to
the hour only. Nor does its text name anyone else, as far as a heuristic can tell: phone
numbers, addresses, names, @usernames, e-mails and links are masked *before* it is stored
(:mod:`bot.privacy.masking`), so neither the table, its backups nor a coordinator ever holds
them; the markers left in their place say what was hidden (:attr:`ReportView.hidden`).
Its ``author_tag`` (:mod:`bot.privacy.authorship`) names no one without the key, and with it
can only be checked against a pseudonym one holds: :func:`forget_author` uses it so that
``/forget`` deletes the person's reports too. (Flood control is the engine's per-contact
limiter; a per-person quota would need a link that can be looked up, which this module
refuses to store.)

Review: :func:`queue` lists new reports; :func:`dismiss` drops one; :func:`to_draft` turns one
into a draft bad-batch alert in one step, held until the coordinator edits its text or confirms
no one can be identified in it (``needs_check``; then previews and sends it with
:mod:`bot.services.alerts`). Both are conditional updates, so two coordinators acting on
the same report at once get one winner. :func:`purge` deletes reports past the retention period.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.content import Gazetteer
from bot.db.models import EVERYWHERE, Contact, Report, ReportStatus
from bot.domain import AlertKind
from bot.privacy.authorship import author_tag, is_author
from bot.privacy.masking import Kind, Masked, hidden, mask
from bot.services import alerts
from bot.services.alerts import AlertError, AlertView

__all__ = [
    "LIMITS",
    "ReportError",
    "ReportStatus",
    "ReportView",
    "author_tag_of",
    "clean_field",
    "count_new",
    "dismiss",
    "forget_author",
    "get",
    "mask_text",
    "purge",
    "queue",
    "submit",
    "to_draft",
]

LIMITS = {"sold_as": 200, "what_happened": 1000, "appearance": 200}
_MULTILINE = frozenset({"what_happened"})
PURGE_BATCH = 1000


class ReportError(ValueError):
    """A report that cannot be stored; the message names the first problem."""


@dataclass(frozen=True, slots=True)
class ReportView:
    """A report as coordinators see it."""

    id: int
    status: ReportStatus
    sold_as: str
    area_code: str | None
    what_happened: str
    appearance: str | None
    created_at: datetime
    alert_id: int | None = None

    @property
    def reference(self) -> str:
        return f"R{self.id}"

    @property
    def hidden(self) -> dict[Kind, int]:
        """What masking hid in this report, by kind."""
        return hidden(self.sold_as, self.what_happened, self.appearance or "")


def _view(report: Report) -> ReportView:
    return ReportView(
        id=report.id,
        status=report.status,
        sold_as=report.sold_as,
        area_code=report.area_code,
        what_happened=report.what_happened,
        appearance=report.appearance,
        created_at=report.created_at,
        alert_id=report.alert_id,
    )


def _place_names(gazetteer: Gazetteer) -> list[str]:
    """Area names and aliases: places an alert needs, never masked as a person's name."""
    names = [gazetteer.city.name]
    for area in gazetteer.areas:
        names += [area.name, *area.aliases]
    return names


def mask_text(text: str, *, gazetteer: Gazetteer) -> Masked:
    """``text`` with whatever could identify someone masked, the areas' names kept."""
    return mask(text, keep=_place_names(gazetteer))


def clean_field(name: str, value: str, *, gazetteer: Gazetteer) -> str:
    """One answer as it would be stored: checked as alert text is (it may become one), then
    masked. Raises ReportError when it cannot be used; may come back empty."""
    try:
        text = alerts.check_text(name, value, LIMITS[name], multiline=name in _MULTILINE)
    except AlertError as exc:
        raise ReportError(str(exc)) from None
    # A marker may be a character longer than a very short name it replaced.
    return mask_text(text, gazetteer=gazetteer).text[: LIMITS[name]]


def _text(name: str, value: str | None, *, required: bool, gazetteer: Gazetteer) -> str | None:
    text = clean_field(name, value, gazetteer=gazetteer) if value is not None else ""
    if not text:
        if required:
            raise ReportError(f"{name}: please fill this in")
        return None
    return text


async def submit(
    session: AsyncSession,
    *,
    sold_as: str,
    what_happened: str,
    area_code: str | None,
    appearance: str | None = None,
    gazetteer: Gazetteer,
    now: datetime,
    author_tag: bytes | None = None,
) -> ReportView:
    """Store an anonymous report, masked; raises ReportError for a missing or malformed
    field. ``author_tag`` is :func:`bot.privacy.authorship.author_tag` of the sender's
    pseudonym."""
    if area_code is not None and gazetteer.by_code(area_code) is None:
        raise ReportError("unknown area")
    report = Report(
        status=ReportStatus.NEW,
        sold_as=_text("sold_as", sold_as, required=True, gazetteer=gazetteer),
        what_happened=_text("what_happened", what_happened, required=True, gazetteer=gazetteer),
        appearance=_text("appearance", appearance, required=False, gazetteer=gazetteer),
        area_code=area_code,
        # To the hour: the exact time could match a message in the platform's records.
        created_at=now.replace(minute=0, second=0, microsecond=0),
        author_tag=author_tag,
    )
    session.add(report)
    await session.flush()
    return _view(report)


async def queue(
    session: AsyncSession, *, limit: int = 10, after_id: int | None = None
) -> list[ReportView]:
    """New reports, oldest first (``after_id`` pages on)."""
    query = select(Report).where(Report.status == ReportStatus.NEW).order_by(Report.id).limit(limit)
    if after_id is not None:
        query = query.where(Report.id > after_id)
    return [_view(r) for r in await session.scalars(query)]


async def count_new(session: AsyncSession) -> int:
    """How many reports wait for review."""
    count = await session.scalar(
        select(func.count()).select_from(Report).where(Report.status == ReportStatus.NEW)
    )
    return int(count or 0)


async def get(session: AsyncSession, *, report_id: int) -> ReportView | None:
    """One report, or None."""
    report = await session.get(Report, report_id, populate_existing=True)
    return _view(report) if report is not None else None


async def dismiss(session: AsyncSession, *, report_id: int, now: datetime) -> bool:
    """Drop a new report; False if it was already reviewed (or does not exist)."""
    won = await session.scalar(
        update(Report)
        .where(Report.id == report_id, Report.status == ReportStatus.NEW)
        .values(status=ReportStatus.DISMISSED, reviewed_at=now)
        .returning(Report.id)
    )
    return won is not None


async def to_draft(
    session: AsyncSession,
    *,
    report_id: int,
    gazetteer: Gazetteer,
    now: datetime,
    created_by_id: int | None = None,
    severity: int = 2,
) -> AlertView | None:
    """Turn a new report into a draft bad-batch alert for its area (everywhere when it named
    none): sold as, appearance and what happened become the alert's fields. The draft needs a
    coordinator's check before it can go out. None if the report was already reviewed."""
    won = await session.scalar(
        update(Report)
        .where(Report.id == report_id, Report.status == ReportStatus.NEW)
        .values(status=ReportStatus.DRAFTED, reviewed_at=now)
        .returning(Report.id)
    )
    if won is None:
        return None
    report = await session.get_one(Report, report_id, populate_existing=True)
    draft = await alerts.create_draft(
        session,
        kind=AlertKind.BAD_BATCH,
        severity=severity,
        areas=[report.area_code or EVERYWHERE],
        fields={
            "sold_as": report.sold_as,
            "appearance": report.appearance,
            "symptoms": report.what_happened[: alerts.FIELD_LIMITS["symptoms"]],
        },
        gazetteer=gazetteer,
        now=now,
        created_by_id=created_by_id,
        needs_check=True,
    )
    report.alert_id = draft.id
    await session.flush()
    return draft


async def author_tag_of(session: AsyncSession, *, key: bytes, contact_id: int) -> bytes | None:
    """A fresh author tag for the contact (None if it is gone), to pass to :func:`submit`."""
    alias = await session.scalar(select(Contact.pseudonym).where(Contact.id == contact_id))
    return author_tag(key, alias) if alias is not None else None


async def forget_author(session: AsyncSession, *, key: bytes, pseudonym: str) -> int:
    """Delete every stored report whose tag is ``pseudonym``'s, whatever its status (a
    drafted alert keeps its own copy of the fields, which the coordinator may have edited);
    how many. One HMAC per tagged report: reports live only for the retention period."""
    mine = [
        row.id
        for row in await session.execute(
            select(Report.id, Report.author_tag).where(Report.author_tag.is_not(None))
        )
        if is_author(key, pseudonym, row.author_tag)
    ]
    for start in range(0, len(mine), PURGE_BATCH):
        await session.execute(
            delete(Report).where(Report.id.in_(mine[start : start + PURGE_BATCH]))
        )
    return len(mine)


async def purge(
    session: AsyncSession, *, now: datetime, retention: timedelta, batches: int = 20
) -> int:
    """Delete reports older than ``retention``, whatever their status; returns how many."""
    if retention <= timedelta(0):
        raise ValueError("retention must be positive")
    cutoff = now - retention
    done = 0
    for _ in range(batches):
        ids = list(
            await session.scalars(
                select(Report.id).where(Report.created_at < cutoff).limit(PURGE_BATCH)
            )
        )
        if not ids:
            break
        await session.execute(delete(Report).where(Report.id.in_(ids)))
        done += len(ids)
        if len(ids) < PURGE_BATCH:
            break
    return done
