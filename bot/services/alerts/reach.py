"""What sending an alert takes: its recipients per channel, what a paid broadcast would cost
against the cap, and about how long reaching everyone takes at each channel's pace.

Telegram's *paid broadcast* (``allow_paid_broadcast``) lets a bot send up to 1,000 messages a
second instead of about 30, for 0.1 Telegram Stars a message from the bot's balance. A
coordinator may choose it per alert, after seeing the cost, when it is within the cap
(``HRBOT_PAID_BROADCAST_MAX_STARS``, 0 = never). The cap is checked again when the alert goes
out, as its audience may have grown since: over the cap, it goes free (slower, but at once,
and to everyone) and the coordinator is told. An update or all clear starts paid when its
alert was, and follows the same rules.

Estimates are plain arithmetic, nothing measured: each channel's recipients times the
messages each gets, over the channel's rate (channels send side by side, so the slowest one
decides). With several instances each pacing itself at ``rate / instances``, the estimate
uses this instance's rate and so comes out too long.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from types import MappingProxyType
from typing import Final

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.db.models import Alert, Delivery
from bot.domain import AlertStatus, Channel
from bot.services.alerts.audience import audience_by_channel
from bot.services.alerts.model import AlertError, AlertView
from bot.services.alerts.photos import photo_for
from bot.services.alerts.reading import _areas, _require, _view

# Messages per second per bot: Telegram's free broadcast limit, and a cautious guess for
# Signal until that channel measures its own.
DEFAULT_RATES: Final[Mapping[Channel, float]] = MappingProxyType(
    {Channel.TELEGRAM: 30.0, Channel.SIGNAL: 5.0}
)
FALLBACK_RATE: Final = 1.0
# Telegram's paid broadcast: messages per second per bot, and its price per message.
PAID_RATE: Final = 1000.0
STARS_PER_MESSAGE: Final = Decimal("0.1")
# The channel that offers a paid broadcast.
PAID_CHANNEL: Final = Channel.TELEGRAM


@dataclass(frozen=True)
class Pace:
    """How fast alerts go out on this instance: messages per second per channel (0: no
    limit), a paid alert's rate on Telegram, and the most Stars one alert may spend (0: paid
    broadcast off)."""

    rates: Mapping[Channel, float] = field(default_factory=lambda: dict(DEFAULT_RATES))
    paid_rate: float = PAID_RATE
    max_stars: int = 0

    def rate(self, channel: Channel, *, paid: bool = False) -> float:
        if paid and channel is PAID_CHANNEL:
            return self.paid_rate
        return self.rates.get(channel, FALLBACK_RATE)


@dataclass(frozen=True)
class Reach:
    """Who an alert goes to, per channel, and how many messages each Telegram recipient gets
    (its photo goes as a message of its own before the text)."""

    recipients: Mapping[Channel, int]
    messages_each: int = 1

    @property
    def total(self) -> int:
        return sum(self.recipients.values())

    @property
    def paid_messages(self) -> int:
        """The messages a paid broadcast would pay for."""
        return self.recipients.get(PAID_CHANNEL, 0) * self.messages_each

    @property
    def stars(self) -> Decimal:
        """What sending it as a paid broadcast costs, in Stars."""
        return self.paid_messages * STARS_PER_MESSAGE

    def paid_allowed(self, pace: Pace) -> bool:
        """Whether a paid broadcast may be offered: switched on, someone on Telegram, and the
        cost within the cap."""
        return pace.max_stars > 0 and self.paid_messages > 0 and self.stars <= pace.max_stars

    def seconds(self, pace: Pace, *, paid: bool = False) -> float:
        """About how long reaching everyone takes: the slowest channel's messages over its
        rate (a rate of 0 means no limit)."""
        longest = 0.0
        for channel, count in self.recipients.items():
            rate = pace.rate(channel, paid=paid)
            each = self.messages_each if channel is PAID_CHANNEL else 1
            if count and rate > 0 and math.isfinite(rate):
                longest = max(longest, count * each / rate)
        return longest


async def reach(session: AsyncSession, *, alert_id: int) -> Reach:
    """Who the alert would go to if sent now, per channel, and the messages each gets."""
    recipients = await audience_by_channel(session, alert_id=alert_id)
    photo = await photo_for(session, alert_id=alert_id) is not None
    return Reach(recipients=recipients, messages_each=2 if photo else 1)


async def set_paid(session: AsyncSession, *, alert_id: int, paid: bool, pace: Pace) -> AlertView:
    """Choose paid broadcast (or not) for a draft. Choosing it raises AlertError (code
    ``paid``) when paid broadcast is off or the cost is over the cap."""
    alert = await _require(session, alert_id)
    if alert.status is not AlertStatus.DRAFT:
        raise AlertError("only a draft can be edited", code="not_draft")
    if paid and not (await reach(session, alert_id=alert_id)).paid_allowed(pace):
        raise AlertError("a paid broadcast is off, or would cost more than allowed", code="paid")
    alert.paid = paid
    await session.flush()
    return _view(alert, await _areas(session, alert_id))


async def hold_to_cap(session: AsyncSession, *, alert: Alert, max_stars: int) -> bool:
    """At sending, once its deliveries are written: a paid alert whose Telegram messages now
    cost more than ``max_stars`` goes free instead. True when it did (tell the coordinator)."""
    if not alert.paid:
        return False
    telegram = await session.scalar(
        select(func.count())
        .select_from(Delivery)
        .where(Delivery.alert_id == alert.id, Delivery.channel == PAID_CHANNEL)
    )
    photo = await photo_for(session, alert_id=alert.id) is not None
    cost = Reach({PAID_CHANNEL: int(telegram or 0)}, 2 if photo else 1)
    if cost.paid_allowed(Pace(max_stars=max_stars)) or cost.paid_messages == 0:
        return False
    alert.paid = False
    await session.flush()
    return True


__all__ = [
    "DEFAULT_RATES",
    "PAID_RATE",
    "STARS_PER_MESSAGE",
    "Pace",
    "Reach",
    "hold_to_cap",
    "reach",
    "set_paid",
]
