"""What follows a change to an outlet, made in chat (``/stock``) or in the web console.

Both call these, so a count set in either place has the same effects: the count is set (the
low-stock notice re-armed on restock), coordinators hear of a fresh low-stock crossing, and
held requests near the outlet are routed again. Deactivating an outlet lapses its pending
offers so they move on to the next outlet at once, as removing its last peer does. One-off
closures (chat ``/closed`` and the console) do the same: closing now moves pending offers on,
reopening routes held requests near the outlet; so does a change of opening hours.
"""

from __future__ import annotations

from datetime import datetime

from bot.content.hours import OpeningHours
from bot.core.context import Scope
from bot.domain import ClosureReason
from bot.services import closures, outlet_hours, outlets, requests, stock
from bot.services.closures import Closed
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


async def set_hours(scope: Scope, *, outlet_id: int, text: str, actor: str) -> OpeningHours:
    """Replace the outlet's hours (HoursError, nothing changed, if unreadable); new hours may
    open it now, so held requests near it are routed again."""
    hours = await outlet_hours.set_hours(
        scope.session, outlet_id=outlet_id, text=text, actor=actor, now=scope.now
    )
    await held_requests.route_held(scope, near=(outlet_id,))
    return hours


async def close(
    scope: Scope,
    *,
    outlet_id: int,
    starts_at: datetime,
    ends_at: datetime,
    reason: ClosureReason,
    actor: str,
) -> Closed:
    """Close the outlet over ``[starts_at, ends_at)`` (ClosureError if not possible); a closure
    in force now moves the offers waiting there on to the next outlet."""
    closed = await closures.close(
        scope.session,
        outlet_id=outlet_id,
        starts_at=starts_at,
        ends_at=ends_at,
        reason=reason,
        actor=actor,
        now=scope.now,
    )
    await _move_on(scope, closed)
    return closed


async def close_today(scope: Scope, *, outlet_id: int, actor: str) -> Closed:
    """Closed for the rest of the outlet's day; its waiting offers move on."""
    closed = await closures.close_today(
        scope.session, outlet_id=outlet_id, actor=actor, now=scope.now
    )
    await _move_on(scope, closed)
    return closed


async def close_tomorrow(scope: Scope, *, outlet_id: int, actor: str) -> Closed:
    """Closed for the whole of the outlet's next day (nothing moves now)."""
    return await closures.close_tomorrow(
        scope.session, outlet_id=outlet_id, actor=actor, now=scope.now
    )


async def reopen_now(scope: Scope, *, outlet_id: int, actor: str) -> int:
    """End the closures in force now (upcoming ones stay) and route held requests near it."""
    ended = await closures.reopen_now(
        scope.session, outlet_id=outlet_id, actor=actor, now=scope.now
    )
    if ended:
        await held_requests.route_held(scope, near=(outlet_id,))
    return ended


async def reopen(scope: Scope, *, outlet_id: int, closure_id: int, actor: str) -> bool:
    """Cancel one of this outlet's closures (current or upcoming); False if it has none by that
    id. Cancelling one in force routes held requests near the outlet."""
    listed = await closures.current_and_upcoming(scope.session, outlet_id=outlet_id, now=scope.now)
    found = next((c for c in listed if c.id == closure_id), None)
    if found is None:
        return False
    await closures.reopen(scope.session, closure_id=closure_id, actor=actor, now=scope.now)
    if found.active(scope.now):
        await held_requests.route_held(scope, near=(outlet_id,))
    return True


async def _move_on(scope: Scope, closed: Closed) -> None:
    for request_id in closed.lapsed:
        await offers.dispatch(scope, request_id=request_id)
