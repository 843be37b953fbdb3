"""The runner's wiring from settings."""

from __future__ import annotations

import pytest

from bot.domain import Channel
from bot.runner import fanout_config
from bot.services.outbox import DEFAULT_RATES
from bot.settings import Settings


@pytest.mark.parametrize("rate", [30.0, 12.5, 0.0])
def test_alerts_on_telegram_are_paced_at_the_configured_rate(
    monkeypatch: pytest.MonkeyPatch, rate: float
) -> None:
    monkeypatch.delenv("HRBOT_TELEGRAM_MAX_RATE", raising=False)
    config = fanout_config(Settings(telegram_max_rate=rate))
    assert config.rates[Channel.TELEGRAM] == rate
    # Signal keeps its own cautious pace whatever Telegram's is.
    assert config.rates[Channel.SIGNAL] == DEFAULT_RATES[Channel.SIGNAL]
