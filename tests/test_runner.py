"""The runner: its wiring from settings, and stopping the bot mid-tick."""

from __future__ import annotations

import asyncio
import logging

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.core.engine import Engine
from bot.db.base import utcnow
from bot.db.models import SeenUpdate
from bot.domain import Channel
from bot.runner import BotService, fanout_config
from bot.services.outbox import DEFAULT_RATES
from bot.settings import Settings
from handlers.routes import build_routes
from tests.support.engine import make_engine


@pytest.mark.parametrize("rate", [30.0, 12.5, 0.0])
def test_alerts_on_telegram_are_paced_at_the_configured_rate(
    monkeypatch: pytest.MonkeyPatch, rate: float
) -> None:
    monkeypatch.delenv("HRBOT_TELEGRAM_MAX_RATE", raising=False)
    config = fanout_config(Settings(telegram_max_rate=rate))
    assert config.rates[Channel.TELEGRAM] == rate
    # Signal keeps its own cautious pace whatever Telegram's is.
    assert config.rates[Channel.SIGNAL] == DEFAULT_RATES[Channel.SIGNAL]


async def test_stop_cuts_a_tick_short_cleanly(
    sessions: async_sessionmaker[AsyncSession],
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Stopping while the clock's tick is in a transaction: the transaction rolls back, the
    tick has wound down when stop() returns, and nothing is logged as an error (apscheduler
    logs a cancelled job with a traceback)."""
    engine = make_engine(sessions, build_routes())
    service = BotService(engine, [], tick_seconds=0.05)
    await service.start()  # its catch-up tick runs the real due work
    inside, wound_down = asyncio.Event(), asyncio.Event()

    async def stuck_due_work(engine: Engine) -> None:
        try:
            async with engine.sessions.begin() as session:
                session.add(SeenUpdate(key="tick-in-progress", seen_at=utcnow()))
                await session.flush()
                inside.set()
                await asyncio.sleep(3600)
        finally:
            wound_down.set()

    monkeypatch.setattr("handlers.due.run_due", stuck_due_work)
    caplog.set_level(logging.INFO)
    try:
        await asyncio.wait_for(inside.wait(), 5)
        await asyncio.wait_for(service.stop(), 5)
    finally:
        await service.stop()  # a failed wait above must not leave the clock running

    assert wound_down.is_set()
    assert [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR] == []
    assert "due work cut short by stop" in caplog.text
    async with sessions() as session:
        assert await session.get(SeenUpdate, "tick-in-progress") is None
