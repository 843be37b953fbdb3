"""The web app: ``/healthz``, ``/metrics`` and the routes a caller adds (Starlette).

``/healthz`` judges the status the bot keeps at every tick (:func:`bot.health.judge`: its clock
ticks, each channel answered at the last check) and asks the database ``SELECT 1`` on the bot's
own pool; 200 when all pass, else 503, each part named with how it stands. ``/metrics`` is the
Prometheus text of :class:`~bot.web.metrics.Metrics`, with the outbox backlog read from the
database at each scrape. Neither says anything about people. Further routes (the Telegram webhook,
:mod:`bot.web.webhook`) come in as ``routes``.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Final

from sqlalchemy import func, select, text
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from bot.core.engine import Engine
from bot.db.models import Delivery, PendingMessage
from bot.domain import Channel, DeliveryStatus
from bot.health import Check, Status, judge
from bot.web.metrics import CONTENT_TYPE, Metrics

log = logging.getLogger(__name__)

DATABASE_TIMEOUT: Final = 2.0  # seconds: a probe must answer faster than a prober gives up


async def database_check(engine: Engine, *, within: float = DATABASE_TIMEOUT) -> Check:
    """Whether the bot's database answers ``SELECT 1`` within ``within`` seconds."""
    try:
        async with asyncio.timeout(within):
            async with engine.sessions() as session:
                await session.execute(text("SELECT 1"))
    except TimeoutError:
        return Check("database", False, f"no answer within {within:g} s")
    except Exception as exc:
        # The type only: an error's text may carry a host or a user name.
        return Check("database", False, f"does not answer ({type(exc).__name__})")
    return Check("database", True, "answers")


@dataclass(frozen=True)
class Backlog:
    """What waits to be sent, database-wide: alert deliveries pending or being sent per
    channel, how long the oldest pending one has waited, and queued messages."""

    deliveries: Mapping[Channel, int]
    oldest_pending: float
    queued_messages: int


async def backlog(engine: Engine) -> Backlog:
    """The outbox's backlog, read at scrape time. One query on deliveries, answered from the
    claim index (status, channel, priority, next_attempt_at) alone; the wait is counted from
    ``next_attempt_at``: when a row was queued, or when its retry fell due."""
    now = engine.clock()
    async with engine.sessions() as session:
        rows = await session.execute(
            select(
                Delivery.channel,
                Delivery.status,
                func.count(),
                func.min(Delivery.next_attempt_at),
            )
            .where(Delivery.status.in_([DeliveryStatus.PENDING, DeliveryStatus.SENDING]))
            .group_by(Delivery.channel, Delivery.status)
        )
        messages = await session.scalar(select(func.count()).select_from(PendingMessage))
    deliveries = dict.fromkeys(Channel, 0)
    oldest = 0.0
    for channel, status, count, first in rows.all():
        deliveries[Channel(channel)] += int(count)
        if status == DeliveryStatus.PENDING and first is not None:
            oldest = max(oldest, (now - first).total_seconds())
    return Backlog(deliveries, oldest, int(messages or 0))


def make_app(
    engine: Engine,
    *,
    status: Callable[[], Status],
    channels: Sequence[str],
    metrics: Metrics,
    more: Sequence[BaseRoute] = (),
) -> Starlette:
    """The app for one bot: ``status`` gives its current status, ``channels`` the names of
    the configured channels (each must be ready), ``metrics`` its counters; ``more`` adds
    routes (the console's mount)."""

    async def healthz(request: Request) -> Response:
        checks = [
            await database_check(engine),
            *judge(status(), channels=channels, now=engine.clock()),
        ]
        failed = [c.name for c in checks if not c.ok]
        body = {
            "ok": not failed,
            "failed": failed,
            "checks": {c.name: {"ok": c.ok, "detail": c.detail} for c in checks},
        }
        return JSONResponse(body, status_code=503 if failed else 200)

    async def metrics_page(request: Request) -> Response:
        try:
            async with asyncio.timeout(DATABASE_TIMEOUT):
                waiting = await backlog(engine)
            for channel, count in waiting.deliveries.items():
                metrics.backlog.labels(channel.value).set(count)
            metrics.oldest_pending.set(waiting.oldest_pending)
            metrics.queued.set(waiting.queued_messages)
        except Exception as exc:  # the counters still help while the database is away
            log.warning("metrics: cannot count the outbox backlog (%s)", type(exc).__name__)
        return Response(metrics.render(), media_type=CONTENT_TYPE)

    return Starlette(
        routes=[
            Route("/healthz", healthz, methods=["GET"]),
            Route("/metrics", metrics_page, methods=["GET"]),
            *more,
        ]
    )
