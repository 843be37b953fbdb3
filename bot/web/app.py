"""The web app: ``/healthz`` and ``/metrics`` (Starlette).

``/healthz`` judges the status the bot keeps at every tick (:func:`bot.health.judge`: its clock
ticks, each channel answered at the last check) and asks the database ``SELECT 1`` on the bot's
own pool; 200 when all pass, else 503, each part named with how it stands. ``/metrics`` is the
Prometheus text of :class:`~bot.web.metrics.Metrics`, with the outbox backlog counted at each
scrape. Neither says anything about people.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence
from typing import Final

from sqlalchemy import func, select, text
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from bot.core.engine import Engine
from bot.db.models import Delivery, PendingMessage
from bot.domain import DeliveryStatus
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


async def backlog(engine: Engine) -> int:
    """Messages waiting to be sent: pending alert deliveries plus queued messages."""
    async with engine.sessions() as session:
        deliveries = await session.scalar(
            select(func.count())
            .select_from(Delivery)
            .where(Delivery.status == DeliveryStatus.PENDING)
        )
        messages = await session.scalar(select(func.count()).select_from(PendingMessage))
    return int(deliveries or 0) + int(messages or 0)


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
                metrics.backlog.set(await backlog(engine))
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
