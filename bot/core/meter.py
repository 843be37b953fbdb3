"""What the engine and the outboxes report for metrics: counts by channel, kind and result.

A protocol here, so that the core needs no metrics library; :mod:`bot.web.metrics` implements
it. Nothing that could identify anyone passes through: only channel names, update kinds, send
results and durations.
"""

from __future__ import annotations

from typing import Protocol

from bot.core.messages import SendResult


class Meter(Protocol):
    """Receives the engine's counts (an engine without one pays nothing)."""

    def update_handled(self, channel: str, kind: str, seconds: float) -> None:
        """One update of ``kind`` on ``channel`` was handled in ``seconds``."""

    def sent(self, channel: str, result: SendResult) -> None:
        """One send on ``channel`` ended with ``result``."""
