"""Replies and notices a channel refused for now, kept sealed and sent again by the tick.

A message for a known contact is sent at once, as ever. Only when the send says RETRY (a 429,
a 5xx, no connection, a Signal captcha) is it queued here, in ``pending_messages``, sealed with
the address key: the database holds neither its text nor a pickup code in clear. The tick's
:func:`run_notices_due` sends what is due and deletes each row once it is sent, refused for
good or expired, so nothing is kept longer than its use; a contact's rows go with the contact
(``/forget``, the retention purge) and with a block (:func:`subscriptions.drop_unreachable`).

The same table journals an update's messages while the engine sends them right after its
commit (:mod:`bot.services.journal`): leased to the engine, never tried by the tick (``attempts
= 0``), deleted once sent; the tick takes them back only once that lease lapses (the engine
died) and sends them as doubtful.

Which messages, and for how long. Every engine-delivered message to a known contact is kept:
answers to a person's own message for :data:`REPLY_TTL` (a menu that turns up an hour later
only confuses), notices to other contacts (a pickup code, an offer, a cascade or unrouted
notice, a handover, a report to a coordinator) for the request TTL.

Order. Once a contact has a queued message, later ones to that contact queue behind it
without a first try, and the pump sends a contact's rows one at a time in ``id`` order: a
"handed over" can never overtake the pickup code it follows.

Exactly once or reported unknown, as in the alert outbox (:mod:`bot.services.outbox`): a row is
claimed by a conditional UPDATE (one worker wins), with a lease; a send that may have reached
the platform (a timeout after the request was written, a crash mid-send: the lease runs out)
marks the row ``doubtful``, and a doubtful row that is then sent counts as ``unknown``
(delivered, possibly twice). A 429 or a refused connection sent nothing and is simply retried,
after the platform's ``retry_after`` or with back-off. While Signal wants a captcha
(``bulk_hold``), nothing is claimed for it but a probe, as for alerts.
"""

from __future__ import annotations

import asyncio
import json
import logging
import random
import time
from collections.abc import Collection
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, NamedTuple

from sqlalchemy import ColumnElement, and_, delete, exists, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from bot.core.messages import Option, Reply, SendResult, SendStatus
from bot.db.models import Contact, PendingMessage
from bot.domain import Channel
from bot.privacy import AddressBox, AddressUnreadable
from bot.services import subscriptions

if TYPE_CHECKING:
    from bot.core.engine import Engine

log = logging.getLogger(__name__)

__all__ = [
    "REPLY_TTL",
    "NoticeTick",
    "attempt",
    "enqueue",
    "held",
    "open_reply",
    "queued_for",
    "retry_delay",
    "run_notices_due",
    "seal_reply",
    "waiting",
]

REPLY_TTL = timedelta(minutes=10)
LEASE = timedelta(seconds=60)
SEND_TIMEOUT = 30.0  # seconds; a send taking longer may have arrived: doubtful
BACKOFF_BASE = 2.0
BACKOFF_CAP = 60.0  # seconds: once the platform is back, a message waits at most this + a tick
_CLAIM_LIMIT = 32
_BUDGET = 10.0  # seconds one pump may take, besides sends in flight
_rng = random.Random()  # noqa: S311 - back-off jitter, not a secret


# -- sealing -----------------------------------------------------------------------------


def seal_reply(box: AddressBox, reply: Reply) -> bytes:
    """The whole reply (text, buttons, language) as one Fernet token.

    Never the message it was to replace (:attr:`Reply.edit`): a queued reply goes out later,
    after other messages may have followed, so it is sent as a new message. Editing then would
    change a message scrolled out of sight (nobody would notice the answer) or, once the
    person had moved on, overwrite a newer step with an older one."""
    body = {
        "text": reply.text,
        "options": [[o.label, o.payload, *([o.key] if o.key else [])] for o in reply.options],
        "ask_location": reply.ask_location,
        "columns": reply.columns,
        "locale": reply.locale,
        "typed": reply.typed,
    }
    return box.seal(json.dumps(body, ensure_ascii=False, separators=(",", ":")))


def open_reply(box: AddressBox, token: bytes) -> Reply:
    """The reply sealed by :func:`seal_reply`; :class:`AddressUnreadable` if it cannot be."""
    try:
        body = json.loads(box.open(token))
        return Reply(
            text=str(body["text"]),
            options=tuple(
                Option(str(label), str(payload), key=str(key[0]) if key else "")
                for label, payload, *key in body["options"]
            ),
            ask_location=bool(body["ask_location"]),
            columns=int(body["columns"]),
            locale=body["locale"] if isinstance(body["locale"], str) else None,
            # Absent from messages queued before it existed.
            typed=str(body.get("typed") or ""),
        )
    except (ValueError, KeyError, TypeError):
        raise AddressUnreadable("stored message cannot be read") from None


# -- the first try (the engine) ---------------------------------------------------------


def held(sender: object) -> bool:
    """Whether the channel asks sends to wait (Signal while a captcha stands and no probe is
    due): a message is then queued without a try that would only meet the captcha again."""
    bulk_hold = getattr(sender, "bulk_hold", None)
    if bulk_hold is None:
        return False
    hold = bulk_hold()
    return hold is not None and hold > 0


async def attempt(sender: Any, address: str, reply: Reply) -> SendResult:
    """One send with its full outcome; never raises (a raise may have sent: maybe delivered)."""
    try:
        async with asyncio.timeout(SEND_TIMEOUT):
            send_result = getattr(sender, "send_result", None)
            if send_result is not None:
                result: SendResult = await send_result(address, reply)
                return result
            return SendResult(SendStatus(await sender.send(address, reply)))
    except TimeoutError:
        return SendResult(SendStatus.RETRY, maybe_delivered=True)
    except Exception as exc:
        log.error("send raised %s", type(exc).__name__)
        return SendResult(SendStatus.RETRY, maybe_delivered=True)


def in_hand() -> ColumnElement[bool]:
    """Rows an engine is sending right after its commit (:mod:`bot.services.journal`): leased,
    never tried (the tick's claim always counts an attempt)."""
    return and_(PendingMessage.attempts == 0, PendingMessage.lease_until.is_not(None))


def waiting(now: datetime | ColumnElement[datetime]) -> ColumnElement[bool]:
    """Rows that make a contact's later messages queue behind them: all but those in hand
    under a live lease, which their writer is sending at this moment (as it did before they
    were journaled). A lapsed one counts: its writer died, and the tick sends it first."""
    return or_(
        PendingMessage.lease_until.is_(None),
        PendingMessage.attempts > 0,
        PendingMessage.lease_until <= now,
    )


async def queued_for(
    session: AsyncSession, contact_ids: Collection[int], *, now: datetime
) -> set[int]:
    """Which of ``contact_ids`` have messages waiting (later ones must queue behind)."""
    if not contact_ids:
        return set()
    rows = await session.scalars(
        select(PendingMessage.contact_id)
        .where(PendingMessage.contact_id.in_(sorted(contact_ids)), waiting(now))
        .distinct()
    )
    return set(rows)


async def enqueue(
    engine: Engine,
    *,
    contact_id: int,
    reply: Reply,
    keep_for: timedelta,
    result: SendResult | None = None,
) -> bool:
    """Queue ``reply`` for ``contact_id``: due now, or after ``result``'s pause when a first
    try was refused. False (logged) if it could not be stored: the message is then lost."""
    now = engine.clock()
    delay = retry_delay(result, 1) if result is not None else 0.0
    try:
        async with engine.sessions.begin() as session:
            if await session.get(Contact, contact_id) is None:
                return False  # deleted meanwhile (/forget): nobody to send to
            session.add(
                PendingMessage(
                    contact_id=contact_id,
                    sealed=seal_reply(engine.box, reply),
                    created_at=now,
                    due_at=now + timedelta(seconds=delay),
                    expires_at=now + keep_for,
                    attempts=1 if result is not None else 0,
                    doubtful=result is not None and result.maybe_delivered,
                )
            )
    except Exception:
        log.exception("could not queue a refused message; it is lost")
        return False
    log.info("message queued to retry (%s)", "refused" if result is not None else "behind others")
    return True


# -- the pump (the tick) -----------------------------------------------------------------


@dataclass
class NoticeTick:
    """What one :func:`run_notices_due` call did (counts only)."""

    sent: int = 0
    unknown: int = 0  # sent, but an earlier attempt may have arrived too
    failed: int = 0
    unreachable: int = 0
    expired: int = 0
    retried: int = 0
    recovered: int = 0
    held: list[str] = field(default_factory=list)  # channels that asked to wait

    def __bool__(self) -> bool:
        return any(
            (self.sent, self.unknown, self.failed, self.unreachable, self.expired, self.retried)
        ) or bool(self.recovered)


class _Claimed(NamedTuple):
    id: int
    contact_id: int
    attempts: int
    doubtful: bool
    sealed: bytes
    channel: Channel
    reply_address: bytes | None
    reachable: bool


async def run_notices_due(engine: Engine, *, budget: float = _BUDGET) -> NoticeTick:
    """Send queued messages that are due, each contact's in order; never raises."""
    report = NoticeTick()
    try:
        await _housekeeping(engine, report)
        stopped: set[Channel] = set()
        deadline = time.monotonic() + budget
        while time.monotonic() < deadline:
            batch = await _claim(engine, stopped, report)
            if not batch:
                break
            outcomes = await asyncio.gather(*(_send(engine, row) for row in batch))
            await _record(engine, list(zip(batch, outcomes, strict=True)), report)
            for row, result in zip(batch, outcomes, strict=True):
                if result.status is SendStatus.RETRY:
                    stopped.add(row.channel)  # still refusing: try again at a later tick
    except Exception:
        log.exception("sending queued messages failed; will retry at the next tick")
    if report:
        log.info(
            "queued messages: sent %d, unknown %d, failed %d, unreachable %d, expired %d, "
            "to retry %d, recovered %d",
            report.sent,
            report.unknown,
            report.failed,
            report.unreachable,
            report.expired,
            report.retried,
            report.recovered,
        )
    return report


async def _housekeeping(engine: Engine, report: NoticeTick) -> None:
    """Take back rows whose sender died mid-send (doubtful now), drop expired ones."""
    now = engine.clock()
    async with engine.sessions.begin() as session:
        recovered = await session.execute(
            update(PendingMessage)
            .where(PendingMessage.lease_until < now)
            .values(lease_until=None, doubtful=True, due_at=now)
            .returning(PendingMessage.id)
            .execution_options(synchronize_session=False)
        )
        report.recovered += len(recovered.all())
        expired = await session.execute(
            delete(PendingMessage)
            .where(PendingMessage.expires_at <= now, PendingMessage.lease_until.is_(None))
            .returning(PendingMessage.id)
            .execution_options(synchronize_session=False)
        )
        report.expired += len(expired.all())


async def _claim(engine: Engine, stopped: set[Channel], report: NoticeTick) -> list[_Claimed]:
    """Claim each due contact's first message (a probe only for a held channel)."""
    now = engine.clock()
    skip = set(stopped)
    probes: set[Channel] = set()
    for channel, sender in engine.senders.items():
        hold = getattr(sender, "bulk_hold", None)
        wait = hold() if hold is not None else None
        if wait is not None and wait > 0:
            skip.add(channel)
            if channel.value not in report.held:
                report.held.append(channel.value)
        elif wait is not None:
            probes.add(channel)  # one row, so a captcha still in force costs one attempt
    channels = [c for c in Channel if c in engine.senders and c not in skip]
    if not channels:
        return []
    earlier = aliased(PendingMessage)
    head = ~exists().where(
        and_(earlier.contact_id == PendingMessage.contact_id, earlier.id < PendingMessage.id)
    )
    async with engine.sessions.begin() as session:
        due = (
            await session.execute(
                select(PendingMessage.id, Contact.channel)
                .join(Contact, Contact.id == PendingMessage.contact_id)
                .where(
                    PendingMessage.lease_until.is_(None),
                    PendingMessage.due_at <= now,
                    Contact.channel.in_(channels),
                    head,
                )
                .order_by(PendingMessage.due_at, PendingMessage.id)
                .limit(_CLAIM_LIMIT)
            )
        ).all()
        ids: list[int] = []
        probing = set(probes)
        for row_id, channel in due:
            if channel in probing:
                if channel not in probes:
                    continue
                probes.discard(channel)  # one probe per claim; its outcome decides the next
            ids.append(row_id)
        if not ids:
            return []
        claimed = await session.execute(
            update(PendingMessage)
            .where(PendingMessage.id.in_(ids), PendingMessage.lease_until.is_(None))
            .values(lease_until=now + LEASE, attempts=PendingMessage.attempts + 1)
            .returning(PendingMessage.id)
            .execution_options(synchronize_session=False)
        )
        won = [row[0] for row in claimed.all()]
        if not won:
            return []
        rows = await session.execute(
            select(
                PendingMessage.id,
                PendingMessage.contact_id,
                PendingMessage.attempts,
                PendingMessage.doubtful,
                PendingMessage.sealed,
                Contact.channel,
                Contact.reply_address,
                Contact.reachable,
            )
            .join(Contact, Contact.id == PendingMessage.contact_id)
            .where(PendingMessage.id.in_(won))
            .order_by(PendingMessage.id)
        )
        return [_Claimed(*row) for row in rows.all()]


async def _send(engine: Engine, row: _Claimed) -> SendResult:
    if not row.reachable:
        return SendResult(SendStatus.UNREACHABLE)
    if row.reply_address is None:  # never while a message waits; but never crash on it
        return SendResult(SendStatus.FAILED)
    sender = engine.senders.get(row.channel)
    if sender is None:
        return SendResult(SendStatus.FAILED)
    try:
        address = engine.box.open(row.reply_address)
        reply = open_reply(engine.box, row.sealed)
    except AddressUnreadable:
        log.warning("queued message or address unreadable (key changed?); dropped")
        return SendResult(SendStatus.FAILED)
    result = await attempt(sender, address, reply)
    engine.count_send(row.channel, result)
    return result


async def _record(
    engine: Engine, outcomes: list[tuple[_Claimed, SendResult]], report: NoticeTick
) -> None:
    """Write what each send did; a row still carrying another claim's count is left alone."""
    now = engine.clock()
    async with engine.sessions.begin() as session:
        blocked: set[int] = set()
        for row, result in outcomes:
            mine = and_(
                PendingMessage.id == row.id,
                PendingMessage.attempts == row.attempts,
                PendingMessage.lease_until.is_not(None),
            )
            if result.status is SendStatus.RETRY:
                report.retried += 1
                await session.execute(
                    update(PendingMessage)
                    .where(mine)
                    .values(
                        lease_until=None,
                        doubtful=row.doubtful or result.maybe_delivered,
                        due_at=now + timedelta(seconds=retry_delay(result, row.attempts)),
                    )
                    .execution_options(synchronize_session=False)
                )
                continue
            if result.status is SendStatus.SENT:
                if row.doubtful:
                    report.unknown += 1
                else:
                    report.sent += 1
            elif result.status is SendStatus.UNREACHABLE:
                report.unreachable += 1
                blocked.add(row.contact_id)
            else:
                report.failed += 1
            await session.execute(
                delete(PendingMessage).where(mine).execution_options(synchronize_session=False)
            )
        if blocked:
            await subscriptions.drop_unreachable(session, contact_ids=blocked)


def retry_delay(result: SendResult | None, attempts: int) -> float:
    """Seconds before the next try: the platform's ``retry_after``, else a gentle back-off."""
    if result is not None and result.retry_after is not None:
        return max(0.0, result.retry_after)
    base = BACKOFF_BASE * 1.5 ** min(max(attempts - 1, 0), 20)
    return float(min(BACKOFF_CAP, base * (1 + 0.25 * _rng.random())))
