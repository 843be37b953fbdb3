"""The outbox's two busiest statements, each one round trip on PostgreSQL.

At a paid broadcast's 1,000 messages a second the outbox claims and records hundreds of times a
second; written portably (select the ids, update them, read the recipients; an ``executemany``
of outcomes) that was a fifth of its CPU time. Here:

- :data:`CLAIM` locks the due ids (``FOR UPDATE SKIP LOCKED`` in a ``MATERIALIZED`` CTE, so the
  ``LIMIT`` runs once; see :mod:`bot.services.outbox`), marks them ``sending`` and returns them
  with their recipients' reply address, language and reachability;
- :data:`RECORD` writes a batch of outcomes from arrays (``unnest``), each still guarded by the
  claim's ``attempts``.

SQLite keeps the portable statements in :mod:`bot.services.outbox`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Row, bindparam, text
from sqlalchemy.ext.asyncio import AsyncConnection

from bot.db.base import UTCDateTime
from bot.domain import Channel, DeliveryStatus

CLAIM = text(
    """
    WITH due AS MATERIALIZED (
        SELECT id FROM deliveries
        WHERE status = :pending AND channel = :channel
          AND next_attempt_at <= :now
        ORDER BY priority, next_attempt_at
        LIMIT :count
        FOR UPDATE SKIP LOCKED
    ), claimed AS (
        UPDATE deliveries AS d
        SET status = :sending, lease_until = :lease,
            attempts = d.attempts + 1
        FROM due
        WHERE d.id = due.id AND d.status = :pending
        RETURNING d.id, d.alert_id, d.contact_id, d.attempts, d.doubtful
    )
    SELECT claimed.id, claimed.alert_id, claimed.contact_id, claimed.attempts,
           claimed.doubtful, c.id AS known, c.reply_address, c.locale, c.reachable
    FROM claimed LEFT JOIN contacts AS c ON c.id = claimed.contact_id
    """
).bindparams(bindparam("now", type_=UTCDateTime()), bindparam("lease", type_=UTCDateTime()))

RECORD = text(
    """
    UPDATE deliveries AS d
    SET status = v.status, doubtful = v.doubtful, next_attempt_at = v.next_at,
        sent_at = v.sent_at, last_error = v.error, lease_until = NULL
    FROM unnest(
        CAST(:ids AS integer[]), CAST(:attempts AS integer[]), CAST(:statuses AS varchar[]),
        CAST(:doubtful AS boolean[]), CAST(:next_at AS timestamp[]),
        CAST(:sent_at AS timestamp[]), CAST(:errors AS varchar[])
    ) AS v(id, attempts, status, doubtful, next_at, sent_at, error)
    WHERE d.id = v.id AND d.status = :sending
      AND d.attempts = v.attempts
    """
)


async def claim(
    connection: AsyncConnection,
    *,
    channel: Channel,
    count: int,
    now: datetime,
    lease_until: datetime,
) -> Sequence[Row[Any]]:
    """Claim up to ``count`` due rows of ``channel``: (id, alert_id, contact_id, attempts,
    doubtful, known, reply_address, locale, reachable); ``known`` is None when the contact is
    gone."""
    result = await connection.execute(
        CLAIM,
        {
            "channel": channel.value,
            "now": now,
            "count": count,
            "lease": lease_until,
            "pending": DeliveryStatus.PENDING.value,
            "sending": DeliveryStatus.SENDING.value,
        },
    )
    return result.all()


async def record(connection: AsyncConnection, outcomes: Sequence[Mapping[str, Any]]) -> None:
    """Write outcomes given as :data:`bot.services.outbox`'s ``_RECORD`` parameters."""
    await connection.execute(
        RECORD,
        {
            "ids": [o["b_id"] for o in outcomes],
            "attempts": [o["b_attempts"] for o in outcomes],
            "statuses": [str(o["b_status"]) for o in outcomes],
            "doubtful": [o["b_doubtful"] for o in outcomes],
            "next_at": [_naive(o["b_next"]) for o in outcomes],
            "sent_at": [_naive(o["b_sent"]) for o in outcomes],
            "errors": [o["b_error"] for o in outcomes],
            "sending": DeliveryStatus.SENDING.value,
        },
    )


def _naive(moment: datetime | None) -> datetime | None:
    """As the columns hold it: UTC without a zone (what :class:`UTCDateTime` binds)."""
    return None if moment is None else moment.astimezone(UTC).replace(tzinfo=None)
