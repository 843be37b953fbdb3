"""Retention: delete the deliveries of alerts long finished, in batches."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Final

from sqlalchemy import (
    delete,
    select,
)
from sqlalchemy.ext.asyncio import AsyncSession

from bot.db.models import (
    Alert,
    Delivery,
)
from bot.domain import AlertStatus

PURGE_BATCH: Final = 1000


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
