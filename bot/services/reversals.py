"""Naloxone used and kits given: counted by day, never kept per person or per peer.

A person tells the service they used naloxone (``/used``): the area, the doses bucket and what
happened are added to the daily counters and nothing else is written, so no row says who told
us or when within the day. A peer records kits handed out outside the bot (``/gave``): the
outlet's shelf count goes down as a handover's would, and the packs are counted per outlet and
item. Measures (see :mod:`bot.services.counts`):

- ``reversals.reported`` (area); ``reversals.doses`` (area, bucket = 1, 2 or 3 for "3 or more");
- ``reversals.outcome`` (area, kind = one of :data:`OUTCOMES`);
- ``reversals.kit_asked`` (area): the person asked for a replacement kit at once;
- ``outlet.given`` (outlet, item): packs handed out outside the bot.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.db.models import Stock
from bot.services import counts
from bot.services.counts import Key
from bot.services.stock import LowStock, mark_low

__all__ = ["DOSES", "OUTCOMES", "GiveResult", "give_out", "record_reversal"]

DOSES = (1, 2, 3)  # 3 stands for "3 or more"
OUTCOMES = ("woke", "ambulance", "unknown")
REPORTED, DOSES_MEASURE, OUTCOME, KIT_ASKED = (
    "reversals.reported",
    "reversals.doses",
    "reversals.outcome",
    "reversals.kit_asked",
)
GIVEN = "outlet.given"
MEASURES = (REPORTED, DOSES_MEASURE, OUTCOME, KIT_ASKED)


def record_reversal(
    session: AsyncSession,
    *,
    area_code: str,
    doses: int,
    outcome: str,
    kit_asked: bool,
    now: datetime,
) -> None:
    """Count one reported use of naloxone (counters only: written when the session commits)."""
    if doses not in DOSES or outcome not in OUTCOMES:
        raise ValueError("unknown doses or outcome")
    day = counts.day_of(now)
    counts.add(session, Key(day, REPORTED, area_code=area_code))
    counts.add(session, Key(day, DOSES_MEASURE, area_code=area_code, bucket=doses))
    counts.add(session, Key(day, OUTCOME, area_code=area_code, kind=outcome))
    if kit_asked:
        counts.add(session, Key(day, KIT_ASKED, area_code=area_code))


@dataclass(frozen=True, slots=True)
class GiveResult:
    """What :func:`give_out` did: ``quantity`` left, or None when the stock was not there."""

    quantity: int | None
    low: list[LowStock] = field(default_factory=list)


async def give_out(
    session: AsyncSession,
    *,
    outlet_id: int,
    item_id: int,
    item_code: str,
    packs: int,
    now: datetime,
) -> GiveResult:
    """Take ``packs`` handed out outside the bot off the shelf and count them.

    One conditional ``UPDATE``: refused (nothing changed, nothing counted) unless the packs not
    promised to accepted requests cover it, so a pickup already promised is never left short.
    """
    if packs < 1:
        raise ValueError("packs must be at least 1")
    left = await session.scalar(
        update(Stock)
        .where(
            Stock.outlet_id == outlet_id,
            Stock.item_id == item_id,
            Stock.quantity - Stock.reserved >= packs,
        )
        .values(quantity=Stock.quantity - packs)
        .returning(Stock.quantity)
    )
    if left is None:
        return GiveResult(None)
    counts.add(
        session, Key(counts.day_of(now), GIVEN, outlet_id=outlet_id, item_code=item_code), packs
    )
    return GiveResult(left, await mark_low(session, outlet_id=outlet_id, item_ids=[item_id]))
