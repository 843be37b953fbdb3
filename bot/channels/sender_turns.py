"""One person's Signal messages one at a time, in arrival order, on one instance and across
instances; different people side by side.

**In one instance.** signalbot's pipeline runs a few consumer tasks over one queue, so two
messages of one person could be handled at once and the second could overtake the first.
Each consumer hands its message to :meth:`SenderQueues.run`: a message whose sender is being
served is queued behind that sender's earlier ones, to be run by the task serving them, and
the consumer is free again at once (someone who floods holds one consumer, not all of them).
Consumers take messages from the pipeline's queue in arrival order and reach :meth:`run`
without awaiting anything in between, so each sender's messages queue in arrival order.

**Across instances** (PostgreSQL): every instance receives every message, in the same order.
Each handles a person's message inside that person's *turn* (:class:`DatabaseTurns`: an
advisory lock held from before the engine's transaction until its replies are sent); the
engine's transaction notes the update key in ``seen_updates`` and commits before the turn
ends, so an instance that gets the turn for a message another already handled skips it. Hence:

- *exactly once*: a message is answered by the first instance to get its turn; the others
  find its key seen;
- *in order*: an instance starts a person's message n+1 only after it finished message n,
  having answered or skipped it, and skipping means another instance committed it; so when
  anyone handles message n+1, message n was handled before it, and its replies sent (they
  go out inside the turn, after commit);
- *a killed instance* loses its connections, so PostgreSQL ends its transactions and its
  turns at once: the message it had in hand is handled by the next instance to get the turn.

What remains (README, "Several instances on one number"): an instance killed between its
commit and its send leaves that message answered in the database but not on the phone; a
message whose handling *fails* (rolled back, the person told "nothing was changed") is tried
again by the next instance to get the turn, which may be after that person's next message
(the engine could note the key of a failed update as seen, in a transaction of its own); and
the engine's flood warning is sent by each instance. Numbered lists live in the memory of the
instance that showed them: ``SignalChannel`` lets that instance answer a digit first.

Privacy: the sender's address is a dictionary key while their messages are in hand, and no
longer; a turn's lock key is a 32-bit slice of the person's keyed pseudonym, kept in
PostgreSQL's memory while the turn lasts.
"""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Final

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

log = logging.getLogger(__name__)

Job = Callable[[], Awaitable[None]]

# The two-int4 advisory key space, which never overlaps the one-bigint space the engine
# locks a person's transaction in (bot.core.engine.lock_key): a turn and the transaction
# inside it must not wait for each other.
_TURN_SPACE: Final = 0x68726274  # "hrbt"
_TURN: Final = text("SELECT pg_advisory_xact_lock(:space, :key)")


class SenderQueues:
    """Each sender's jobs one at a time in the order given; different senders concurrently."""

    def __init__(self) -> None:
        # Sender → jobs waiting behind the one running. A sender is present exactly while a
        # task is serving them.
        self._waiting: dict[str, deque[Job]] = {}

    @property
    def in_hand(self) -> int:
        """How many senders have a message being handled now."""
        return len(self._waiting)

    async def run(self, sender: str, job: Job) -> None:
        """Run ``job`` now, then any jobs queued for ``sender`` meanwhile; or, when
        ``sender`` is being served already, queue it for that task and return at once."""
        waiting = self._waiting.get(sender)
        if waiting is not None:
            waiting.append(job)
            return
        waiting = self._waiting[sender] = deque()
        try:
            await _guarded(job)
            while waiting:
                await _guarded(waiting.popleft())
        finally:
            # No await between the last look at `waiting` and here: nothing slips in. Jobs
            # left (only when cancelled, as at a stop that ran out of time) are dropped.
            del self._waiting[sender]


class DatabaseTurns:
    """A person's turn across instances on PostgreSQL: a transaction-scoped advisory lock on
    a connection of its own, so it lasts across the engine's transaction and the sends after
    it. Ends at commit, rollback or a dropped connection (a killed instance holds nothing).

    Each turn in hand holds a second pooled connection beside the engine's: a channel runs at
    most ``HRBOT_DATABASE_POOL_SIZE`` / 2 turns at once (see ``SignalChannel.from_settings``).
    """

    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self.sessions = sessions

    @asynccontextmanager
    async def hold(self, alias: str) -> AsyncIterator[None]:
        """Wait for the turn of the person with pseudonym ``alias``; hold it inside."""
        async with self.sessions.begin() as session:
            await session.execute(_TURN, {"space": _TURN_SPACE, "key": turn_key(alias)})
            yield


def turn_key(alias: str) -> int:
    """A person's turn key: the first 32 bits of their pseudonym (a keyed hash) as a signed
    int4. Two people sharing one only wait for each other."""
    return int.from_bytes(bytes.fromhex(alias[:8]), "big", signed=True)


async def _guarded(job: Job) -> None:
    try:
        await job()
    except Exception as exc:
        # The job logs its own failures; this keeps the sender's next message running.
        log.error("signal message handling failed (%s)", type(exc).__name__)
