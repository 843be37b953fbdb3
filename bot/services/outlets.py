"""Outlets: all-or-nothing import keyed by outlet key, and listing.

The import file is configuration: name, place, hours, which items an outlet offers and their
low-stock thresholds. Live stock counts belong to the peers who keep them with ``/stock``, so a
re-import sets a count only for an item new at its outlet, unless the caller asks to reset them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import case, false, literal, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from bot.content import Catalogue, OutletSpec
from bot.db.models import Outlet, Stock
from bot.services import audit, stock
from bot.services.catalogue import sync_items


@dataclass(frozen=True)
class ImportResult:
    """What an import did, outlet by outlet and for stock.

    ``stock_kept``: items whose live count differs from the file and was left as it is;
    ``stock_set``: items whose count was set from the file over a different live count (reset);
    ``withdrawn``: (outlet key, item code) pairs the outlet no longer offers.
    """

    created: int
    updated: int
    unchanged: int
    stock_kept: int = 0
    stock_set: int = 0
    withdrawn: tuple[tuple[str, str], ...] = field(default=())


class StockPromised(Exception):
    """The file drops an item that accepted requests still hold packs of: nothing is imported."""

    def __init__(self, held: Sequence[tuple[str, str, int]]) -> None:
        self.held = tuple(held)
        super().__init__(self.held)

    def __str__(self) -> str:
        return "\n".join(
            f"{key}: {packs} {'pack' if packs == 1 else 'packs'} of {code} promised to accepted "
            f"requests; keep {code} in the file until they are handed over or released"
            for key, code, packs in self.held
        )


async def import_outlets(
    session: AsyncSession,
    *,
    specs: Sequence[OutletSpec],
    catalogue: Catalogue,
    now: datetime,
    reset_stock: bool = False,
) -> ImportResult:
    """Create or update outlets by key; the caller validated the file and commits once.

    A new outlet, or an item new at an outlet, starts with the file's count. Otherwise counts are
    live and kept, unless ``reset_stock``. An outlet whose entry lists stock offers exactly those
    items: one no longer listed is withdrawn (its stock row removed, so routing stops choosing
    the outlet for it), unless accepted requests hold packs of it, which raises
    :class:`StockPromised` for the caller to roll back. An entry without stock leaves the
    outlet's items as they are. Thresholds from the file are configuration and always apply.
    """
    item_ids = await sync_items(session, catalogue=catalogue)
    codes = {item_id: code for code, item_id in item_ids.items()}
    keys = [spec.key for spec in specs]
    existing = {
        o.key: o for o in (await session.scalars(select(Outlet).where(Outlet.key.in_(keys)))).all()
    }
    plan = _StockPlan(session, reset=reset_stock, now=now)
    created = updated = unchanged = 0
    for spec in specs:
        values = _outlet_values(spec)
        row = existing.get(spec.key)
        if row is None:
            row = Outlet(key=spec.key, created_at=now, **values)
            session.add(row)
            await session.flush()
            await plan.new_outlet(row.id, spec, item_ids)
            created += 1
            continue
        changed = any(getattr(row, name) != value for name, value in values.items())
        for name, value in values.items():
            setattr(row, name, value)
        changed = await plan.existing_outlet(row.id, spec, item_ids, codes) or changed
        if changed:
            row.updated_at = now
            updated += 1
        else:
            unchanged += 1
    if plan.held:
        raise StockPromised(plan.held)
    await audit.record(
        session,
        actor="cli",
        action="outlets.import",
        detail={
            "created": created,
            "updated": updated,
            "unchanged": unchanged,
            "reset_stock": reset_stock,
            "stock_kept": plan.kept,
            "stock_set": plan.set,
            "withdrawn": len(plan.withdrawn),
        },
        now=now,
    )
    await session.flush()
    return ImportResult(
        created=created,
        updated=updated,
        unchanged=unchanged,
        stock_kept=plan.kept,
        stock_set=plan.set,
        withdrawn=tuple(plan.withdrawn),
    )


def _outlet_values(spec: OutletSpec) -> dict[str, object]:
    return {
        "name": spec.name,
        "kind": spec.kind,
        "area_code": spec.area,
        "latitude": spec.lat,
        "longitude": spec.lon,
        "timezone": spec.timezone,
        "instructions": spec.instructions,
        "hours": spec.hours.text,
        "active": spec.active,
        "meets_nearby": spec.meets_nearby,
    }


class _StockPlan:
    """Applies one import's stock rows and keeps the tally.

    Live rows change only through conditional one-statement writes (never read-modify-write), so
    a peer's count or an accept that lands meanwhile is not overwritten; each outlet's rows are
    touched in ascending item id, the order every request transition uses (no deadlock).
    """

    def __init__(self, session: AsyncSession, *, reset: bool, now: datetime) -> None:
        self.session = session
        self.reset = reset
        self.now = now
        self.kept = 0
        self.set = 0
        self.withdrawn: list[tuple[str, str]] = []
        self.held: list[tuple[str, str, int]] = []
        dialect = session.get_bind().dialect.name
        self._insert = pg_insert if dialect == "postgresql" else sqlite_insert

    async def new_outlet(self, outlet_id: int, spec: OutletSpec, item_ids: dict[str, int]) -> None:
        for item_id, quantity in sorted((item_ids[c], q) for c, q in spec.stock.items()):
            await self._add(outlet_id, item_id, quantity, spec.low_threshold)

    async def existing_outlet(
        self, outlet_id: int, spec: OutletSpec, item_ids: dict[str, int], codes: dict[int, str]
    ) -> bool:
        """Bring one existing outlet's rows in line with its entry; whether anything changed."""
        live = {
            row.item_id: row
            for row in await self.session.execute(
                select(Stock.item_id, Stock.quantity, Stock.reserved, Stock.low_threshold).where(
                    Stock.outlet_id == outlet_id
                )
            )
        }
        listed = "stock" in spec.model_fields_set
        wanted = {item_ids[c]: q for c, q in spec.stock.items()} if listed else {}
        # An entry that names no threshold and lists no stock says nothing about this outlet's rows.
        threshold = (
            spec.low_threshold if listed or "low_threshold" in spec.model_fields_set else None
        )
        changed = False
        for item_id in sorted(live.keys() | wanted.keys()):
            row = live.get(item_id)
            if row is None:
                await self._add(outlet_id, item_id, wanted[item_id], spec.low_threshold)
                changed = True
            elif item_id not in wanted and listed:
                changed = (
                    await self._withdraw(outlet_id, item_id, spec.key, codes[item_id]) or changed
                )
            else:
                count = wanted.get(item_id)
                if count == row.quantity:
                    count = None
                elif count is not None and not self.reset:
                    self.kept += 1
                    count = None  # the live count stands
                limit = row.low_threshold if threshold is None else threshold
                if count is not None or limit != row.low_threshold:
                    await self._update(outlet_id, item_id, count, limit)
                    self.set += count is not None
                    changed = True
        return changed

    async def _add(self, outlet_id: int, item_id: int, quantity: int, threshold: int) -> None:
        # A peer who counted this item in the meantime has the live count: theirs stands.
        await self.session.execute(
            self._insert(Stock)
            .values(
                outlet_id=outlet_id,
                item_id=item_id,
                quantity=quantity,
                reserved=0,
                low_threshold=threshold,
                low_notified=False,
            )
            .on_conflict_do_nothing(index_elements=["outlet_id", "item_id"])
        )

    async def _withdraw(self, outlet_id: int, item_id: int, key: str, code: str) -> bool:
        """Stop offering an item, unless accepted requests hold packs of it (then: refuse)."""
        # The import is audited as a whole (no actor here).
        held = await stock.withdraw(
            self.session, outlet_id=outlet_id, item_id=item_id, now=self.now
        )
        if held == 0:
            self.withdrawn.append((key, code))
            return True
        if held:
            self.held.append((key, code, held))
        return False

    async def _update(
        self, outlet_id: int, item_id: int, quantity: int | None, threshold: int
    ) -> None:
        """Set the threshold (and the count, on reset); re-arm the low notice above it."""
        values: dict[str, object] = {"low_threshold": threshold}
        if quantity is not None:
            values["quantity"] = quantity
        count = Stock.quantity if quantity is None else literal(quantity)
        # Still low: a notice already sent stands; an unsent one goes out on the next handover.
        values["low_notified"] = case((count > threshold, false()), else_=Stock.low_notified)
        await self.session.execute(
            update(Stock)
            .where(Stock.outlet_id == outlet_id, Stock.item_id == item_id)
            .values(values)
        )


async def set_active(
    session: AsyncSession, *, outlet_id: int, active: bool, actor: str, now: datetime
) -> bool:
    """Open or close an outlet to routing (routing only chooses active outlets); whether it
    changed. Deactivating does not touch its pending offers: the caller lapses them
    (:func:`bot.services.requests.lapse_pending`) and routes the requests on."""
    changed = await session.scalar(
        update(Outlet)
        .where(Outlet.id == outlet_id, Outlet.active != active)
        .values(active=active, updated_at=now)
        .returning(Outlet.id)
    )
    if changed is None:
        return False
    await audit.record(
        session,
        actor=actor,
        action="outlet.activate" if active else "outlet.deactivate",
        detail={"outlet_id": outlet_id},
        now=now,
    )
    return True


@dataclass(frozen=True)
class OutletSummary:
    """One line of ``hrbot outlets list``: public facts only."""

    key: str
    name: str
    kind: str
    area_code: str
    active: bool
    items_in_stock: int


async def list_outlets(session: AsyncSession) -> list[OutletSummary]:
    """Every outlet with the number of items it holds at least one pack of."""
    outlets = (await session.scalars(select(Outlet).order_by(Outlet.key))).all()
    stock = (await session.scalars(select(Stock).where(Stock.quantity > Stock.reserved))).all()
    counts: dict[int, int] = {}
    for row in stock:
        counts[row.outlet_id] = counts.get(row.outlet_id, 0) + 1
    return [
        OutletSummary(
            key=o.key,
            name=o.name,
            kind=o.kind.value,
            area_code=o.area_code,
            active=o.active,
            items_in_stock=counts.get(o.id, 0),
        )
        for o in outlets
    ]
