"""One tick of due work: offer deadlines, request expiry, shift ends, held requests,
housekeeping, retention.

:func:`run_due` is what the scheduler calls every minute or so. Everything due is a row with a
due time, so a restart or a second instance loses nothing and repeats nothing: the services
claim rows with conditional updates (``FOR UPDATE SKIP LOCKED`` on PostgreSQL), so two
instances ticking at once each handle a row at most once between them. Each part runs in its
own transaction and its messages are sent after that transaction commits; a part that fails is
logged (no identifiers) and retried on the next tick without holding up the others.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TypeVar
from zoneinfo import ZoneInfo

from sqlalchemy import select

from bot.core.context import Scope
from bot.core.engine import Engine
from bot.core.messages import Option, Reply
from bot.core.words import Translator
from bot.db.engine import drop_old_page_images
from bot.db.models import Offer, PeerWorker, Request
from bot.domain import OfferStatus
from bot.services import (
    alerts,
    closures,
    console_access,
    consultations,
    contacts,
    conversations,
    reports,
    requests,
    retention,
    rollup,
    running,
    shifts,
    shown_menus,
)
from bot.services.requests import RouteResult
from handlers import offers, survey
from handlers import waiting as held_requests
from handlers.routes import ModuleRoutes

log = logging.getLogger(__name__)

# Rows claimed per transaction, and transactions per part per tick: keeps each transaction short
# and a tick bounded; whatever is left is due again on the next tick.
BATCH = 100
MAX_BATCHES = 20

ROUTES = ModuleRoutes()

T = TypeVar("T")


@dataclass
class DueReport:
    """What one tick did (counts only)."""

    timed_out: int = 0
    offered: int = 0
    unrouted: int = 0
    expired: int = 0
    shifts_ended: int = 0
    held_offered: int = 0
    held_seen: int = 0
    digests: int = 0
    states_purged: int = 0
    addresses_dropped: int = 0
    console_purged: int = 0
    updates_purged: int = 0
    menus_purged: int = 0
    closures_purged: int = 0
    weeks_rolled: int = 0
    weeks_carried: int = 0
    purged: retention.Purged = field(default_factory=retention.Purged)
    reports_purged: int = 0
    deliveries_purged: int = 0
    alert_texts_purged: int = 0
    consultations_closed: int = 0
    invitations_queued: int = 0
    summaries_queued: int = 0
    consultation_rows_purged: int = 0
    failed: list[str] = field(default_factory=list)


async def run_due(engine: Engine, *, retention_period: timedelta | None = None) -> DueReport:
    """Do everything that is due at ``engine.clock()``; never raises.

    ``retention_period`` defaults to ``engine.deps.config.retention_days``.
    """
    now = engine.clock()
    report = DueReport()
    if retention_period is None:
        retention_period = timedelta(days=engine.deps.config.retention_days)
    period = retention_period

    for _ in range(MAX_BATCHES):
        claimed = await _part(engine, now, report, "timeouts", _timeouts)
        if claimed is None or claimed < BATCH:
            break
    for _ in range(MAX_BATCHES):
        claimed = await _part(engine, now, report, "expiry", _expiry)
        if claimed is None or claimed < BATCH:
            break
    await _part(engine, now, report, "shifts", _shifts)
    after = 0  # held requests in batches, oldest first, each batch its own transaction
    for _ in range(MAX_BATCHES):
        batch = await _part(engine, now, report, "waiting", _held(after))
        if batch is None or batch.claimed < held_requests.BATCH:
            break
        after = batch.last_id
    if report.held_seen:
        await _part(engine, now, report, "waiting digest", _digest)
    await _part(engine, now, report, "consultations", _consultations(engine))
    await _part(engine, now, report, "housekeeping", _housekeeping)

    async def purge(scope: Scope, report: DueReport) -> int:
        report.purged = await retention.purge(scope.session, now=scope.now, retention=period)
        # Community reports and who-got-which-alert go with the same retention period.
        report.reports_purged = await reports.purge(scope.session, now=scope.now, retention=period)
        report.deliveries_purged = await alerts.purge_deliveries(
            scope.session, now=scope.now, retention=period
        )
        # And what alerts said, once they stopped being current that long ago.
        report.alert_texts_purged = await retention.purge_alert_texts(
            scope.session, now=scope.now, retention=period
        )
        # Consultations closed that long ago: who took part, and the free texts.
        report.consultation_rows_purged = await consultations.purge(
            scope.session, now=scope.now, retention=period
        )
        return 0

    await _part(engine, now, report, "retention", purge)
    try:
        await drop_old_page_images(engine.sessions)
    except Exception:
        log.exception("due work failed: wal")
        report.failed.append("wal")
    return report


async def _part(
    engine: Engine,
    now: datetime,
    report: DueReport,
    name: str,
    work: Callable[[Scope, DueReport], Awaitable[T]],
) -> T | None:
    """Run ``work`` in its own transaction, then send what it queued."""
    try:
        async with engine.sessions.begin() as session:
            scope = engine.scope(session, now)
            result = await work(scope, report)
    except Exception:
        log.exception("due work failed: %s", name)
        report.failed.append(name)
        return None
    await engine.deliver(scope.outbound)
    return result


async def _timeouts(scope: Scope, report: DueReport) -> int:
    """Offers past their deadline go to the next outlet; the outlet's peers hear it lapsed."""
    ids = await requests.timeout_due(scope.session, now=scope.now, limit=BATCH)
    report.timed_out += len(ids)
    if ids:
        lapsed = await scope.session.execute(
            select(Offer.outlet_id, Request.reference)
            .join(Request, Request.id == Offer.request_id)
            .where(
                Offer.request_id.in_(ids),
                Offer.status == OfferStatus.TIMED_OUT,
                Offer.answered_at == scope.now,
            )
        )
        for row in lapsed.all():
            reference = row.reference
            for contact_id in await offers.on_shift_contacts(
                scope.session, outlet_id=row.outlet_id, now=scope.now
            ):
                scope.notify(contact_id, _lapsed(reference))
    for request_id in ids:
        outcome = await offers.dispatch(scope, request_id=request_id)
        if outcome.result is RouteResult.OFFERED:
            report.offered += 1
        elif outcome.result is RouteResult.UNROUTED:
            report.unrouted += 1
    return len(ids)


async def _expiry(scope: Scope, report: DueReport) -> int:
    """Open requests past their lifetime close; the person and the outlet holding it hear."""
    ids = await requests.expire_due(scope.session, now=scope.now, limit=BATCH)
    report.expired += len(ids)
    if not ids:
        return 0
    rows = await scope.session.execute(
        select(Request.id, Request.reference, Request.contact_id).where(Request.id.in_(ids))
    )
    for row in rows.all():
        scope.notify(row.contact_id, _expired_to_person(row.reference))
    withdrawn = await scope.session.execute(
        select(Offer.outlet_id, Offer.accepted_by_id, Request.reference)
        .join(Request, Request.id == Offer.request_id)
        .where(
            Offer.request_id.in_(ids),
            Offer.status == OfferStatus.WITHDRAWN,
            Offer.answered_at == scope.now,
        )
    )
    for offer in withdrawn.all():
        if offer.accepted_by_id is not None:
            contacts = await offers.peer_contacts(scope.session, [offer.accepted_by_id])
            render = _expired_to_holder(offer.reference)
        else:
            contacts = await offers.on_shift_contacts(
                scope.session, outlet_id=offer.outlet_id, now=scope.now
            )
            render = _lapsed(offer.reference)
        for contact_id in contacts:
            scope.notify(contact_id, render)
    return len(ids)


async def _shifts(scope: Scope, report: DueReport) -> int:
    """Shifts past their end switch off; each peer is told."""
    ended = await shifts.end_expired_shifts(scope.session, now=scope.now)
    report.shifts_ended += len(ended)
    contacts = await scope.session.scalars(
        select(PeerWorker.contact_id).where(PeerWorker.id.in_(ended))
    )
    for contact_id in set(contacts):
        scope.notify(
            contact_id,
            lambda t: Reply(t("Your shift has ended. Send /shift to start another.")),
        )
    return len(ended)


def _held(after: int) -> Callable[[Scope, DueReport], Awaitable[held_requests.Routed]]:
    """Route one batch of held requests, those with ids above ``after``: they go out when an
    outlet opened by the clock (a shift start or a restock routes them at once)."""

    async def work(scope: Scope, report: DueReport) -> held_requests.Routed:
        routed = await held_requests.route_held(scope, after=after)
        report.held_offered += routed.offered
        report.held_seen += routed.claimed
        return routed

    return work


async def _digest(scope: Scope, report: DueReport) -> int:
    """Coordinators hear when waits pile up (held requests themselves go out when an outlet
    opens by the clock, above; a shift start or a restock routes them at once)."""
    if await held_requests.announce_digest(scope):
        report.digests += 1
    return 0


def _consultations(engine: Engine) -> Callable[[Scope, DueReport], Awaitable[int]]:
    """Consultations: close those whose time came (coordinators hear, a summary is drafted),
    queue the invitations of those just opened and the approved summaries (the notices queue
    sends them, sealed and retried; participant rows go as summaries are queued)."""

    async def work(scope: Scope, report: DueReport) -> int:
        words = engine.deps.words
        closed = await consultations.close_due(scope.session, now=scope.now)
        report.consultations_closed += len(closed)
        await consultations.prepare_summaries(scope.session, translators=dict(words.locales))
        if closed:
            for consultation_id in closed:
                view = await consultations.get(scope.session, consultation_id=consultation_id)
                for contact_id in await offers.coordinator_contacts(scope.session):
                    scope.notify(contact_id, _closed_notice(view))
        zone = ZoneInfo(engine.deps.content.gazetteer.city.timezone)
        report.invitations_queued += await consultations.queue_invitations(
            scope.session,
            box=engine.box,
            render=lambda view, locale: survey.invitation(view, words.for_locale(locale), zone),
            now=scope.now,
        )
        report.summaries_queued += await consultations.send_summaries(
            scope.session,
            box=engine.box,
            render=lambda view, locale: survey.summary_message(view, words.for_locale(locale)),
            now=scope.now,
        )
        return len(closed)

    return work


def _closed_notice(view: consultations.ConsultationView) -> Callable[[Translator], Reply]:
    def render(t: Translator) -> Reply:
        return Reply(
            t(
                "The consultation “{title}” has closed. /consult shows its results and the "
                "summary to approve for the people who took part.",
                title=consultations.pick(view.title, t.locale),
            ),
            (
                Option(t("Results #{id}", id=view.id), f"cn:results:{view.id}", wide=True),
                Option(t("Summary #{id}", id=view.id), f"cn:summary:{view.id}", wide=True),
            ),
        )

    return render


async def _housekeeping(scope: Scope, report: DueReport) -> int:
    """Forget old update ids, lists shown on Signal over a day ago, lapsed conversation
    states, outlet closures that have ended, spent console links and sessions, and the reply
    addresses of contacts with nothing open any more (after the parts above closed what was
    due and sent what closing it said); roll finished weeks of counters up and carry them into
    the outlets' running totals."""
    report.updates_purged += await retention.purge_seen_updates(scope.session, now=scope.now)
    report.menus_purged += await shown_menus.purge(scope.session, now=scope.now)
    report.closures_purged += await closures.purge_ended(scope.session, now=scope.now)
    report.states_purged += await conversations.purge_stale(scope.session, now=scope.now)
    report.addresses_dropped += await contacts.drop_idle_addresses(scope.session, now=scope.now)
    report.console_purged += await console_access.purge(scope.session, now=scope.now)
    report.weeks_rolled += await rollup.roll_up(scope.session, now=scope.now)
    report.weeks_carried += await running.carry(scope.session)
    return 0


def _lapsed(reference: str) -> Callable[[Translator], Reply]:
    def render(t: Translator) -> Reply:
        return Reply(t("Offer {ref} is no longer open; no need to answer.", ref=reference))

    return render


def _expired_to_person(reference: str) -> Callable[[Translator], Reply]:
    def render(t: Translator) -> Reply:
        return Reply(
            t("Your request {ref} has expired. You can make a new one any time.", ref=reference)
        )

    return render


def _expired_to_holder(reference: str) -> Callable[[Translator], Reply]:
    def render(t: Translator) -> Reply:
        return Reply(
            t(
                "Request {ref} expired before pickup: no need to hand over, and its items "
                "are free again.",
                ref=reference,
            )
        )

    return render
