"""An update's replies and notices, written with the update and sent right after its commit.

Between an update's commit and its sends lies a gap: a process killed there (a SIGKILL, a
crash, a lost machine) loses what the handler answered, for good, since the update is already
marked handled and a re-delivery is dropped. So the engine writes every message a handler
produced into ``pending_messages`` in the handler's own transaction, sealed like any queued
message, and *in hand*: leased to this process for :data:`JOURNAL_LEASE`, with no attempt
counted. Right after commit it sends them and :func:`settle` deletes the sent ones in one
statement; a refused one joins the queue in place (:mod:`bot.services.notices`). If the process
dies first, the lease lapses and the notices tick of any instance takes the rows back as
doubtful and sends them: a rare duplicate rather than a loss.

In hand = ``attempts = 0`` with a lease (the tick's claim always counts an attempt). Rows in
hand under a live lease do not make a contact's later messages queue
(:func:`bot.services.notices.waiting`): whoever wrote them is sending them at this moment, as
before they were journaled. A lapsed one does (its writer died): later messages queue behind
it and the tick sends them in order.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Final, cast

from sqlalchemy import Table, bindparam, delete, insert, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.core.messages import Reply, SendResult
from bot.db.models import PendingMessage
from bot.privacy import AddressBox
from bot.services import subscriptions
from bot.services.notices import SEND_TIMEOUT, in_hand, retry_delay, seal_reply

log = logging.getLogger(__name__)

__all__ = [
    "JOURNAL_LEASE",
    "RENEW_MARGIN",
    "Entry",
    "Outcome",
    "Sweeper",
    "renew",
    "settle",
    "write",
]

# The sends right after commit each take at most SEND_TIMEOUT; the engine renews the lease
# before a send that could outlast it (see :func:`renew`), so the lease need only cover one
# send plus the commit and some clock skew between instances. Shorter than the tick's 60 s
# claim lease: after a crash, this long (plus a tick) is how late the replies arrive.
JOURNAL_LEASE: Final = timedelta(seconds=45)
RENEW_MARGIN: Final = timedelta(seconds=SEND_TIMEOUT + 5)

_PENDING: Final = cast(Table, PendingMessage.__table__)
_COLUMNS: Final = (
    "contact_id",
    "sealed",
    "created_at",
    "due_at",
    "expires_at",
    "attempts",
    "doubtful",
    "lease_until",
)
# Built once: building a statement costs more CPU than SQLite takes to run it.
_WRITE: Final = (
    insert(_PENDING).values({name: bindparam(name) for name in _COLUMNS}).returning(_PENDING.c.id)
)
_DELETE_SENT: Final = delete(_PENDING).where(
    _PENDING.c.id.in_(bindparam("ids", expanding=True)), _PENDING.c.attempts == 0
)


@dataclass(frozen=True)
class Entry:
    """One message to journal: for ``contact_id``, kept ``keep_for`` if refused; ``queued``:
    straight into the queue (others wait for that contact, or the channel holds sends)."""

    contact_id: int
    reply: Reply
    keep_for: timedelta
    queued: bool = False


async def write(
    session: AsyncSession, *, box: AddressBox, entries: Sequence[Entry], now: datetime
) -> list[int]:
    """Journal ``entries`` in the caller's transaction; their row ids, in order.

    Sealed without :attr:`Reply.edit` (see :func:`seal_reply`): only the tick sends from the
    row, later, as a new message; the engine sends the reply it holds, edit and all.
    """
    if not entries:
        return []
    lease = now + JOURNAL_LEASE
    rows = [
        {
            "contact_id": entry.contact_id,
            "sealed": seal_reply(box, entry.reply),
            "created_at": now,
            "due_at": now,
            "expires_at": now + entry.keep_for,
            "attempts": 0,
            "doubtful": False,
            "lease_until": None if entry.queued else lease,
        }
        for entry in entries
    ]
    # One prebuilt single-row INSERT per message, in order (ids then follow the order the tick
    # sends a contact's rows in): most updates answer with one message, and a statement built
    # per update, or an executemany with ordered RETURNING, costs more CPU than it saves.
    return [cast(int, await session.scalar(_WRITE, row)) for row in rows]


async def renew(session: AsyncSession, *, ids: Collection[int], now: datetime) -> datetime:
    """Extend the lease of ``ids`` still in hand; the new lease end."""
    lease = now + JOURNAL_LEASE
    await session.execute(
        update(PendingMessage)
        .where(PendingMessage.id.in_(sorted(ids)), in_hand())
        .values(lease_until=lease)
        .execution_options(synchronize_session=False)
    )
    return lease


@dataclass
class Outcome:
    """How the sends of journaled rows ended, for :func:`settle`."""

    done: list[int]  # sent, or refused for good: nothing left to send
    release: list[int]  # not tried, behind a refused one: into the queue as they are
    refused: list[tuple[int, SendResult]]  # RETRY: into the queue after the platform's pause
    blocked: set[int]  # contacts that blocked us (their rows go with drop_unreachable)

    def __bool__(self) -> bool:
        return bool(self.done or self.release or self.refused or self.blocked)


async def settle(session: AsyncSession, *, outcome: Outcome, now: datetime) -> None:
    """Write what the sends did: the normal case is one DELETE.

    Only rows still in hand or taken back but not yet claimed (``attempts = 0``) are touched:
    a row the tick already claimed after a lapsed lease is the tick's (it sends it again,
    counted unknown).
    """
    ours = PendingMessage.attempts == 0
    if outcome.done:
        await session.execute(_DELETE_SENT, {"ids": sorted(outcome.done)})
    if outcome.release:
        await session.execute(
            update(PendingMessage)
            .where(PendingMessage.id.in_(sorted(outcome.release)), ours)
            .values(lease_until=None, due_at=now)
            .execution_options(synchronize_session=False)
        )
    for row_id, result in outcome.refused:
        values: dict[str, object] = {
            "lease_until": None,
            "attempts": 1,
            "due_at": now + timedelta(seconds=retry_delay(result, 1)),
        }
        if result.maybe_delivered:
            values["doubtful"] = True
        await session.execute(
            update(PendingMessage)
            .where(PendingMessage.id == row_id, ours)
            .values(**values)
            .execution_options(synchronize_session=False)
        )
    if outcome.refused:
        log.info("message queued to retry (refused)")
    if outcome.blocked:
        await subscriptions.drop_unreachable(session, contact_ids=outcome.blocked)


class Sweeper:
    """Deletes the rows of sent messages, many updates' at once (a group commit).

    The normal end of an update's sends is a DELETE of its rows in a transaction of its own,
    about as dear as the journal's INSERT. While one sweep waits for its turn (a database
    connection, SQLite's one writer) or runs, the updates finishing meanwhile add their rows
    and wait for the next one, which takes them all: under load a sweep serves many updates;
    alone, an update still waits only for its own. One per engine.

    A sweep that fails (logged) leaves its rows in hand: once the lease lapses the tick sends
    them again, counted unknown.
    """

    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = sessions
        self._ids: list[int] = []
        self._next: asyncio.Future[None] | None = None  # the sweep that will take _ids
        self._turn = asyncio.Lock()

    async def sweep(self, ids: Collection[int]) -> None:
        """Delete ``ids`` (rows sent) with whatever else is waiting; back once they are gone."""
        self._ids.extend(ids)
        coming = self._next
        if coming is not None and not coming.done():
            await asyncio.shield(coming)  # it has not taken its rows yet: ours go with it
            return
        mine = self._next = asyncio.get_running_loop().create_future()
        try:
            async with self._turn:
                if self._next is mine:
                    self._next = None  # from here on, new rows wait for the next sweep
                batch, self._ids = self._ids, []
                if batch:
                    try:
                        async with self._sessions.begin() as session:
                            await session.execute(_DELETE_SENT, {"ids": sorted(batch)})
                    except Exception:
                        log.exception("could not delete sent messages; some may be sent twice")
        finally:
            if not mine.done():
                mine.set_result(None)
