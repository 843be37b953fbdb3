"""What follows a change to an outlet, made in chat (``/stock``) or in the web console.

Both call these, so a count set in either place has the same effects: the count is set (the
low-stock notice re-armed on restock), coordinators hear of a fresh low-stock crossing, and
held requests near the outlet are routed again. Deactivating an outlet lapses its pending
offers so they move on to the next outlet at once, as removing its last peer does.
"""

from __future__ import annotations

from bot.core.context import Scope
from bot.services import outlets, requests, stock
from bot.services.stock import StockLevel
from handlers import offers
from handlers import waiting as held_requests


async def set_count(
    scope: Scope,
    *,
    outlet_id: int,
    item_id: int,
    quantity: int,
    low_threshold: int | None = None,
    actor: str,
) -> StockLevel:
    """Set an item's count (and threshold) at an outlet, creating the row if it is new there."""
    level, low = await stock.set_quantity(
        scope.session,
        outlet_id=outlet_id,
        item_id=item_id,
        quantity=quantity,
        low_threshold=low_threshold,
        now=scope.now,
        actor=actor,
    )
    await offers.announce_low_stock(scope, low)
    # A restock may be what a held request waits for (one read when none wait).
    await held_requests.route_held(scope, near=(outlet_id,))
    return level


async def set_active(scope: Scope, *, outlet_id: int, active: bool, actor: str) -> bool:
    """Open or close an outlet to routing; whether it changed. Closing it moves its pending
    offers on now (accepted pickups stand: the peer still hands them over); opening it routes
    held requests near it."""
    changed = await outlets.set_active(
        scope.session, outlet_id=outlet_id, active=active, actor=actor, now=scope.now
    )
    if not changed:
        return False
    if active:
        await held_requests.route_held(scope, near=(outlet_id,))
        return True
    for request_id in await requests.lapse_pending(
        scope.session, outlet_id=outlet_id, now=scope.now
    ):
        await offers.dispatch(scope, request_id=request_id)
    return True
