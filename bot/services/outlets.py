"""Outlets: all-or-nothing import keyed by outlet key, and listing."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.content import Catalogue, OutletSpec
from bot.db.models import Outlet, Stock
from bot.services import audit
from bot.services.catalogue import sync_items


@dataclass(frozen=True)
class ImportResult:
    """How many outlets an import created, updated and left unchanged."""

    created: int
    updated: int
    unchanged: int


async def import_outlets(
    session: AsyncSession,
    *,
    specs: Sequence[OutletSpec],
    catalogue: Catalogue,
    now: datetime,
) -> ImportResult:
    """Create or update outlets by key, with their stock counts.

    The caller validates the whole file first and commits once, so an import applies fully or
    not at all. Stock listed in the file sets the count; items not listed are left alone.
    """
    item_ids = await sync_items(session, catalogue=catalogue)
    keys = [spec.key for spec in specs]
    existing = {
        o.key: o for o in (await session.scalars(select(Outlet).where(Outlet.key.in_(keys)))).all()
    }
    created = updated = unchanged = 0
    for spec in specs:
        values = _outlet_values(spec)
        row = existing.get(spec.key)
        if row is None:
            row = Outlet(key=spec.key, created_at=now, **values)
            session.add(row)
            await session.flush()
            await _apply_stock(session, row.id, spec, item_ids)
            created += 1
            continue
        changed = any(getattr(row, name) != value for name, value in values.items())
        for name, value in values.items():
            setattr(row, name, value)
        changed = await _apply_stock(session, row.id, spec, item_ids) or changed
        if changed:
            row.updated_at = now
            updated += 1
        else:
            unchanged += 1
    await audit.record(
        session,
        actor="cli",
        action="outlets.import",
        detail={"created": created, "updated": updated, "unchanged": unchanged},
        now=now,
    )
    await session.flush()
    return ImportResult(created=created, updated=updated, unchanged=unchanged)


def _outlet_values(spec: OutletSpec) -> dict[str, object]:
    return {
        "name": spec.name,
        "kind": spec.kind,
        "area_code": spec.area,
        "latitude": spec.lat,
        "longitude": spec.lon,
        "timezone": spec.timezone,
        "instructions": spec.instructions,
        "hours": spec.hours.to_mapping(),
        "active": spec.active,
    }


async def _apply_stock(
    session: AsyncSession, outlet_id: int, spec: OutletSpec, item_ids: dict[str, int]
) -> bool:
    current = {
        s.item_id: s
        for s in (await session.scalars(select(Stock).where(Stock.outlet_id == outlet_id))).all()
    }
    changed = False
    for code, quantity in spec.stock.items():
        item_id = item_ids[code]
        row = current.get(item_id)
        if row is None:
            session.add(
                Stock(
                    outlet_id=outlet_id,
                    item_id=item_id,
                    quantity=quantity,
                    reserved=0,
                    low_threshold=spec.low_threshold,
                    low_notified=False,
                )
            )
            changed = True
        elif row.quantity != quantity or row.low_threshold != spec.low_threshold:
            row.quantity, row.low_threshold = quantity, spec.low_threshold
            row.low_notified = quantity <= spec.low_threshold and row.low_notified
            changed = True
    return changed


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
