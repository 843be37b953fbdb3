"""A consultation's life: draft → open → closed → approved → done.

- :func:`open_consultation` (a coordinator): answers are taken until ``closes_at``; the tick
  then queues one invitation per person in the audience (:func:`queue_invitations`).
- :func:`close_due` (the tick) or :func:`close_consultation` (a coordinator): no more answers;
  the tick drafts a "what you told us" summary per language (:mod:`.closing`).
- :func:`set_summary` (optional edit) and :func:`approve_summary` (a coordinator).
- :func:`send_summaries` (the tick): the summary is queued to each participant, in their
  language, through the notices queue (sealed, retried, paced by the channel), and the
  participant rows are deleted in the same transaction.

Invitations and summaries go through ``pending_messages`` (:mod:`bot.services.notices`): the
same sealed, retried queue as refused replies, so the database never holds a message in
clear and the tick sends them at the channel's pace.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping
from datetime import datetime, timedelta

from sqlalchemy import Select, delete, exists, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.core.messages import Reply
from bot.db.models import (
    EVERYWHERE,
    Consultation,
    ConsultationParticipant,
    ConsultationStatus,
    ConsultationText,
    Contact,
    PendingMessage,
    Subscription,
)
from bot.privacy import AddressBox
from bot.services.consultations.model import ConsultationError, ConsultationView, view
from bot.services.consultations.writing import _text
from bot.services.notices import seal_reply

__all__ = [
    "SUMMARY_CHARS",
    "SUMMARY_KEPT",
    "Render",
    "approve_summary",
    "audience_size",
    "close_consultation",
    "close_due",
    "get",
    "list_all",
    "open_consultation",
    "purge",
    "queue_invitations",
    "send_summaries",
    "set_summary",
    "to_draft_summary",
]

SUMMARY_CHARS = 1500
# How long a queued summary may wait for a channel that refuses it.
SUMMARY_KEPT = timedelta(days=3)

# (consultation, the contact's locale or None) → the message.
Render = Callable[[ConsultationView, str | None], Reply]


async def get(session: AsyncSession, *, consultation_id: int) -> ConsultationView:
    """One consultation; ConsultationError ``not_found``."""
    row = await session.get(Consultation, consultation_id)
    if row is None:
        raise ConsultationError("no such consultation", code="not_found")
    return view(row)


async def list_all(session: AsyncSession) -> list[ConsultationView]:
    """Every consultation, newest first."""
    rows = await session.scalars(select(Consultation).order_by(Consultation.id.desc()))
    return [view(row) for row in rows]


async def _move(
    session: AsyncSession,
    consultation_id: int,
    expected: ConsultationStatus,
    **values: object,
) -> ConsultationView:
    """One conditional UPDATE: of two coordinators tapping at once, one wins."""
    moved = await session.scalar(
        update(Consultation)
        .where(Consultation.id == consultation_id, Consultation.status == expected)
        .values(**values)
        .returning(Consultation.id)
        .execution_options(synchronize_session=False)
    )
    if moved is None:
        row = await session.get(Consultation, consultation_id)
        if row is None:
            raise ConsultationError("no such consultation", code="not_found")
        raise ConsultationError(f"it is {row.status.value}, not {expected.value}", code="status")
    row = await session.get(Consultation, consultation_id, populate_existing=True)
    assert row is not None
    return view(row)


async def open_consultation(
    session: AsyncSession, *, consultation_id: int, now: datetime
) -> ConsultationView:
    """Open a draft: it takes answers until its closing time; invitations follow at the tick."""
    row = await session.get(Consultation, consultation_id)
    if row is None:
        raise ConsultationError("no such consultation", code="not_found")
    if row.status is ConsultationStatus.DRAFT and row.closes_at <= now:
        raise ConsultationError("its closing time has passed: change it first", code="closes")
    return await _move(
        session,
        consultation_id,
        ConsultationStatus.DRAFT,
        status=ConsultationStatus.OPEN,
        opened_at=now,
    )


async def close_consultation(
    session: AsyncSession, *, consultation_id: int, now: datetime
) -> ConsultationView:
    """Close an open consultation now (before its closing time)."""
    return await _move(
        session,
        consultation_id,
        ConsultationStatus.OPEN,
        status=ConsultationStatus.CLOSED,
        closed_at=now,
    )


async def close_due(session: AsyncSession, *, now: datetime) -> list[int]:
    """Close every open consultation whose time has come; their ids."""
    result = await session.execute(
        update(Consultation)
        .where(Consultation.status == ConsultationStatus.OPEN, Consultation.closes_at <= now)
        .values(status=ConsultationStatus.CLOSED, closed_at=now)
        .returning(Consultation.id)
        .execution_options(synchronize_session=False)
    )
    return sorted(row[0] for row in result.all())


async def set_summary(
    session: AsyncSession,
    *,
    consultation_id: int,
    texts: Mapping[str, str],
    languages: Collection[str],
) -> ConsultationView:
    """Replace the summary (every language required, ≤ 1500 characters, no control
    characters) of a closed consultation whose summary is not yet approved."""
    clean: dict[str, str] = {}
    for locale in languages:
        raw = texts.get(locale)
        if not isinstance(raw, str) or not raw.strip():
            raise ConsultationError("missing or empty", code="missing", where=f"summary.{locale}")
        clean[locale] = _text(raw, f"summary.{locale}", SUMMARY_CHARS, multiline=True)
    extra = sorted(k for k in texts if k not in languages)
    if extra:
        raise ConsultationError(f"unknown language {extra[0][:16]!r}", code="languages")
    return await _move(session, consultation_id, ConsultationStatus.CLOSED, summary=clean)


async def to_draft_summary(
    session: AsyncSession, *, consultation_id: int, texts: Mapping[str, str]
) -> bool:
    """Store a drafted summary unless one is there already (the tick's draft never
    overwrites a coordinator's edit). True when stored."""
    stored = await session.scalar(
        update(Consultation)
        .where(
            Consultation.id == consultation_id,
            Consultation.status == ConsultationStatus.CLOSED,
            Consultation.summary.is_(None),
        )
        .values(summary=dict(texts))
        .returning(Consultation.id)
        .execution_options(synchronize_session=False)
    )
    return stored is not None


async def approve_summary(
    session: AsyncSession, *, consultation_id: int, now: datetime
) -> ConsultationView:
    """Approve the summary as it stands; the tick then sends it to the participants."""
    row = await session.get(Consultation, consultation_id)
    if row is None:
        raise ConsultationError("no such consultation", code="not_found")
    if row.status is ConsultationStatus.CLOSED and not row.summary:
        raise ConsultationError("no summary drafted yet", code="no_summary")
    return await _move(
        session, consultation_id, ConsultationStatus.CLOSED, status=ConsultationStatus.APPROVED
    )


def _audience(consultation: Consultation) -> Select[int, str | None]:
    """Reachable contacts with a reply address subscribed to the consultation's areas (any
    area when it is for everyone), each once."""
    return (
        select(Contact.id, Contact.locale)
        .where(
            Contact.reachable.is_(True),
            Contact.reply_address.is_not(None),
            exists().where(
                Subscription.contact_id == Contact.id,
                *(
                    [Subscription.area_code.in_([*consultation.areas, EVERYWHERE])]
                    if consultation.areas
                    else []
                ),
            ),
        )
        .order_by(Contact.id)
    )


async def audience_size(session: AsyncSession, *, consultation_id: int) -> int:
    """How many people an invitation would reach if it were opened now."""
    row = await session.get(Consultation, consultation_id)
    if row is None:
        raise ConsultationError("no such consultation", code="not_found")
    audience = _audience(row).subquery()
    return int(await session.scalar(select(func.count()).select_from(audience)) or 0)


async def queue_invitations(
    session: AsyncSession, *, box: AddressBox, render: Render, now: datetime
) -> int:
    """For each open consultation not yet announced, queue one invitation per person in its
    audience (kept until it closes); returns how many were queued."""
    queued = 0
    rows = await session.scalars(
        select(Consultation).where(
            Consultation.status == ConsultationStatus.OPEN,
            Consultation.invitations_queued.is_(False),
            Consultation.closes_at > now,
        )
    )
    for row in list(rows):
        claimed = await session.scalar(
            update(Consultation)
            .where(Consultation.id == row.id, Consultation.invitations_queued.is_(False))
            .values(invitations_queued=True)
            .returning(Consultation.id)
            .execution_options(synchronize_session=False)
        )
        if claimed is None:
            continue  # another instance took it
        consultation = view(row)
        audience = (await session.execute(_audience(row))).all()
        for contact_id, locale in audience:
            _queue(session, box, contact_id, render(consultation, locale), now, row.closes_at)
        await session.execute(
            update(Consultation)
            .where(Consultation.id == row.id)
            .values(invited=len(audience))
            .execution_options(synchronize_session=False)
        )
        queued += len(audience)
    await session.flush()
    return queued


async def send_summaries(
    session: AsyncSession, *, box: AddressBox, render: Render, now: datetime
) -> int:
    """Queue each approved consultation's summary to its participants (each in their
    language), delete the participant rows and mark it done; returns how many were queued."""
    queued = 0
    rows = await session.scalars(
        select(Consultation).where(Consultation.status == ConsultationStatus.APPROVED)
    )
    for row in list(rows):
        claimed = await session.scalar(
            update(Consultation)
            .where(Consultation.id == row.id, Consultation.status == ConsultationStatus.APPROVED)
            .values(status=ConsultationStatus.DONE)
            .returning(Consultation.id)
            .execution_options(synchronize_session=False)
        )
        if claimed is None:
            continue
        consultation = view(row)
        people = (
            await session.execute(
                select(Contact.id, Contact.locale)
                .join(ConsultationParticipant, ConsultationParticipant.contact_id == Contact.id)
                .where(
                    ConsultationParticipant.consultation_id == row.id,
                    Contact.reachable.is_(True),
                    Contact.reply_address.is_not(None),
                )
                .order_by(Contact.id)
            )
        ).all()
        for contact_id, locale in people:
            _queue(session, box, contact_id, render(consultation, locale), now, now + SUMMARY_KEPT)
        await session.execute(
            delete(ConsultationParticipant).where(ConsultationParticipant.consultation_id == row.id)
        )
        await session.execute(
            update(Consultation)
            .where(Consultation.id == row.id)
            .values(summary_sent=len(people))
            .execution_options(synchronize_session=False)
        )
        queued += len(people)
    await session.flush()
    return queued


def _queue(
    session: AsyncSession,
    box: AddressBox,
    contact_id: int,
    reply: Reply,
    now: datetime,
    expires_at: datetime,
) -> None:
    session.add(
        PendingMessage(
            contact_id=contact_id,
            sealed=seal_reply(box, reply),
            created_at=now,
            due_at=now,
            expires_at=expires_at,
            attempts=0,
            doubtful=False,
        )
    )


async def purge(session: AsyncSession, *, now: datetime, retention: timedelta) -> int:
    """Retention: once a consultation closed longer ago than ``retention``, its participant
    rows (a summary never approved will not be sent now) and its free texts go; the counters
    stay. Returns how many rows went."""
    cutoff = now - retention
    old = select(Consultation.id).where(
        Consultation.closed_at.is_not(None), Consultation.closed_at < cutoff
    )
    gone = await session.execute(
        delete(ConsultationParticipant)
        .where(ConsultationParticipant.consultation_id.in_(old))
        .returning(ConsultationParticipant.contact_id)
    )
    texts = await session.execute(
        delete(ConsultationText)
        .where(ConsultationText.consultation_id.in_(old))
        .returning(ConsultationText.id)
    )
    return len(gone.all()) + len(texts.all())
