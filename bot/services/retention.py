"""Forgetting on a schedule: request details and silent contacts go after the retention period.

What goes, once ``retention`` has passed:

- **closed requests** (handed over, unrouted, cancelled, expired) with their items and offers:
  what someone asked for, where roughly, and which outlet served them is exactly what a seized
  server or stolen backup must not hold. Open requests stay until they close (their expiry
  closes them).
- **audit events**: the events about each request deleted here go with it, and any event
  older than the period goes too (stock changes, imports, events of a request long open).
  Each is a per-request record: a public reference (still in the person's chat), kind,
  outlet, items. What funders need was counted from it into the daily counters
  (:mod:`bot.services.counts`) when it was recorded, so deleting it changes no number.
- **contacts** not seen for the whole period that have no open request, no role and no alert
  subscription. A contact row is a pseudonym plus a sealed reply address: it is needed to answer
  someone, and nothing else. Peer workers and coordinators keep theirs because their role is
  tied to it (they leave through their coordinator or /forget); subscribers keep theirs because
  a subscription is a standing request to be written to, often by someone who never writes
  back; and a contact with an open request must still hear about it. Deleting a contact
  cascades to its conversation state and any closed requests still within the period (their
  audit events go with them).
- **invites** used or expired before the cutoff: only hashes, but no longer of any use.
- **alert free text** (:func:`purge_alert_texts`, its own call): what coordinators typed, or a
  community report became, once the alert stopped being current that long ago; the alert's
  kind, severity, areas, times and delivery tally stay for the numbers.

What stays: the daily counters, per day, area or outlet, kind and item, with no person,
reference or time finer than the day in them; :mod:`bot.services.stats` reads them alone.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import (
    Select,
    String,
    and_,
    cast,
    delete,
    exists,
    func,
    null,
    or_,
    select,
    update,
)
from sqlalchemy.ext.asyncio import AsyncSession

from bot.db.models import (
    Alert,
    AlertPhoto,
    AuditEvent,
    Contact,
    Coordinator,
    Invite,
    Offer,
    PeerWorker,
    Request,
    RequestItem,
    SeenUpdate,
    Subscription,
)
from bot.domain import OPEN_REQUEST_STATUSES, AlertStatus
from bot.privacy import hour_of

DEFAULT_RETENTION = timedelta(days=30)
SEEN_UPDATES_KEPT = timedelta(days=1)
# Rows deleted per statement: keeps each statement (and its lock) short on a big backlog.
BATCH = 500


@dataclass(frozen=True, slots=True)
class Purged:
    """How many rows of each kind one purge removed."""

    requests: int = 0
    contacts: int = 0
    invites: int = 0
    events: int = 0


async def purge(
    session: AsyncSession, *, now: datetime, retention: timedelta, batches: int = 20
) -> Purged:
    """Delete what is older than ``retention`` (see the module docstring); at most
    ``batches`` × :data:`BATCH` requests and contacts per call, the rest on the next tick."""
    if retention <= timedelta(0):
        raise ValueError("retention must be positive")
    cutoff = now - retention
    requests = contacts = 0
    for _ in range(batches):
        done = await _purge_requests(session, cutoff)
        requests += done
        if done < BATCH:
            break
    for _ in range(batches):
        done = await _purge_contacts(session, cutoff)
        contacts += done
        if done < BATCH:
            break
    invites = await session.execute(
        delete(Invite)
        .where(or_(Invite.expires_at < cutoff, Invite.used_at < cutoff))
        .returning(Invite.id)
    )
    events = await _purge_old_events(session, cutoff, batches)
    return Purged(requests=requests, contacts=contacts, invites=len(invites.all()), events=events)


async def _purge_requests(session: AsyncSession, cutoff: datetime) -> int:
    ids = list(
        await session.scalars(
            select(Request.id)
            .where(
                Request.status.not_in(sorted(OPEN_REQUEST_STATUSES)),
                func.coalesce(Request.closed_at, Request.updated_at, Request.created_at) < cutoff,
            )
            .order_by(Request.id)
            .limit(BATCH)
        )
    )
    if not ids:
        return 0
    await _forget_events_of(session, select(Request.reference).where(Request.id.in_(ids)))
    # Children first and explicitly: correct even where foreign keys are not enforced.
    await session.execute(delete(Offer).where(Offer.request_id.in_(ids)))
    await session.execute(delete(RequestItem).where(RequestItem.request_id.in_(ids)))
    await session.execute(delete(Request).where(Request.id.in_(ids)))
    return len(ids)


async def _purge_contacts(session: AsyncSession, cutoff: datetime) -> int:
    ids = list(
        await session.scalars(
            select(Contact.id)
            .where(
                func.coalesce(Contact.last_seen_on, Contact.created_at) < cutoff,
                ~exists().where(
                    Request.contact_id == Contact.id,
                    Request.status.in_(sorted(OPEN_REQUEST_STATUSES)),
                ),
                ~exists().where(PeerWorker.contact_id == Contact.id),
                ~exists().where(Coordinator.contact_id == Contact.id),
                ~exists().where(Subscription.contact_id == Contact.id),
            )
            .order_by(Contact.id)
            .limit(BATCH)
        )
    )
    if not ids:
        return 0
    requests = select(Request.id).where(Request.contact_id.in_(ids)).scalar_subquery()
    await _forget_events_of(session, select(Request.reference).where(Request.contact_id.in_(ids)))
    await session.execute(delete(Offer).where(Offer.request_id.in_(requests)))
    await session.execute(delete(RequestItem).where(RequestItem.request_id.in_(requests)))
    await session.execute(delete(Request).where(Request.contact_id.in_(ids)))
    # Conversation state, deliveries and the rest go by ON DELETE CASCADE.
    await session.execute(delete(Contact).where(Contact.id.in_(ids)))
    return len(ids)


async def _forget_events_of(session: AsyncSession, references: Select[Any]) -> None:
    """Delete the audit events about requests about to be deleted (``references`` selects
    theirs). While a request exists its reference is unique, so these are its own events;
    their counts are already in the daily counters."""
    await session.execute(delete(AuditEvent).where(AuditEvent.subject.in_(references)))


async def _purge_old_events(session: AsyncSession, cutoff: datetime, batches: int) -> int:
    """Delete audit events older than the cutoff, :data:`BATCH` at a time: whatever they are
    about, they were counted when recorded and are of no use now."""
    done = 0
    for _ in range(batches):
        ids = list(
            await session.scalars(
                select(AuditEvent.id)
                .where(AuditEvent.at < cutoff)
                .order_by(AuditEvent.id)
                .limit(BATCH)
            )
        )
        if ids:
            await session.execute(delete(AuditEvent).where(AuditEvent.id.in_(ids)))
        done += len(ids)
        if len(ids) < BATCH:
            break
    return done


async def purge_seen_updates(session: AsyncSession, *, now: datetime) -> int:
    """Forget handled updates seen over a day ago (re-deliveries come within minutes).

    ``seen_at`` is the hour an update was seen, so a row goes 23 to 24 hours after it.
    """
    result = await session.execute(
        delete(SeenUpdate)
        .where(SeenUpdate.seen_at < now - SEEN_UPDATES_KEPT)
        .returning(SeenUpdate.key)
    )
    return len(result.all())


async def purge_alert_texts(
    session: AsyncSession, *, now: datetime, retention: timedelta, batches: int = 20
) -> int:
    """Blank the free text of alerts done with for longer than ``retention``; returns how many.

    Free text is ``fields`` and their ``translations``: what a coordinator typed, or what a
    community report said; the alert's photo goes with it. An alert is done with when it
    stops being current (``expires_at``) once sent (or being sent), and when it was
    cancelled otherwise. A draft older than the period is cancelled and blanked: no
    conversation lives that long, so nobody can reach it to send it. Scheduled alerts and
    recurring series are in use and stay. What the numbers need stays too: kind, severity,
    areas, times and the delivery ``tally``.
    """
    if retention <= timedelta(0):
        raise ValueError("retention must be positive")
    cutoff = now - retention
    # JSON is compared as its text: the same on SQLite and PostgreSQL, and blanked rows
    # (``{}`` and SQL NULL) are not picked again. Older rows may hold a JSON ``null``.
    has_text = or_(
        cast(Alert.fields, String) != "{}",
        and_(Alert.translations.is_not(None), cast(Alert.translations, String) != "null"),
        exists().where(AlertPhoto.alert_id == Alert.id),
    )
    ended = or_(
        # Still "sending" past its expiry only if no outbox tick finished it: the outbox
        # sends nothing of an expired alert.
        and_(Alert.status.in_([AlertStatus.SENDING, AlertStatus.SENT]), Alert.expires_at < cutoff),
        and_(
            Alert.status == AlertStatus.CANCELLED,
            func.coalesce(Alert.finished_at, Alert.created_at) < cutoff,
        ),
    )
    done = 0
    for _ in range(batches):
        ids = list(
            await session.scalars(
                select(Alert.id).where(ended, has_text).order_by(Alert.id).limit(BATCH)
            )
        )
        stale = list(
            await session.scalars(
                select(Alert.id)
                .where(Alert.status == AlertStatus.DRAFT, Alert.created_at < cutoff)
                .order_by(Alert.id)
                .limit(BATCH)
            )
        )
        if stale:
            await session.execute(
                update(Alert)
                .where(Alert.id.in_(stale), Alert.status == AlertStatus.DRAFT)
                .values(status=AlertStatus.CANCELLED, finished_at=hour_of(now))
            )
        blank = ids + stale
        if not blank:
            break
        await session.execute(
            update(Alert).where(Alert.id.in_(blank)).values(fields={}, translations=null())
        )
        # The photo is coordinator content too: it goes with the text.
        await session.execute(delete(AlertPhoto).where(AlertPhoto.alert_id.in_(blank)))
        done += len(blank)
        if len(ids) < BATCH and len(stale) < BATCH:
            break
    return done
