"""Prometheus metrics for one bot: a registry of its own per instance (never the library's
global one), so two bots or two tests in one process never mix their counts.

Labels are channel, update kind, send result and refusal reason only: nothing that could
identify anyone. The outbox gauges are read from the database at each scrape, so every instance
reports the same database-wide figures.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST

from bot.core.messages import SendResult

CONTENT_TYPE = CONTENT_TYPE_LATEST
# Handler latency: most updates take milliseconds; a slow database shows in the upper buckets.
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


class Metrics:
    """The bot's counters (a :class:`bot.core.meter.Meter`) and the outbox gauges."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.updates = Counter(
            "hrbot_updates_handled",
            "Updates handled, by channel and kind.",
            ("channel", "kind"),
            registry=self.registry,
        )
        self.latency = Histogram(
            "hrbot_handler_latency_seconds",
            "Time to handle one update, replies included.",
            ("channel",),
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.sends = Counter(
            "hrbot_sends",
            "Sends (replies, notices, alerts), by channel and result.",
            ("channel", "result"),
            registry=self.registry,
        )
        self.rate_limited = Counter(
            "hrbot_rate_limited",
            "Sends the platform refused with a request to wait (HTTP 429), by channel.",
            ("channel",),
            registry=self.registry,
        )
        self.webhook_refused = Counter(
            "hrbot_webhook_refused",
            "Requests the Telegram webhook refused, by reason: forbidden (wrong or missing "
            "secret), too_large (body over the limit), bad_request (not a JSON update).",
            ("reason",),
            registry=self.registry,
        )
        self.backlog = Gauge(
            "hrbot_outbox_backlog",
            "Alert deliveries pending or being sent, by channel; database-wide (every "
            "instance reports the same figure).",
            ("channel",),
            registry=self.registry,
        )
        self.oldest_pending = Gauge(
            "hrbot_outbox_oldest_pending_seconds",
            "Age of the oldest pending alert delivery: seconds since it was queued or its "
            "retry fell due (0 when none is waiting); database-wide (every instance reports "
            "the same figure).",
            registry=self.registry,
        )
        self.queued = Gauge(
            "hrbot_queued_messages",
            "Replies and notices a channel refused, queued to be sent again; database-wide "
            "(every instance reports the same figure).",
            registry=self.registry,
        )

    def update_handled(self, channel: str, kind: str, seconds: float) -> None:
        self.updates.labels(channel, kind).inc()
        self.latency.labels(channel).observe(seconds)

    def sent(self, channel: str, result: SendResult) -> None:
        self.sends.labels(channel, result.status.value).inc()
        if result.limited:
            self.rate_limited.labels(channel).inc()

    def webhook_refusal(self, reason: str) -> None:
        self.webhook_refused.labels(reason).inc()

    def render(self) -> bytes:
        """The Prometheus text format of every metric."""
        return generate_latest(self.registry)
