"""Importing outlets: the file is configuration, the stock counts peers keep are live."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import insert, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.content import OutletSpec, load_catalogue, load_gazetteer
from bot.content.referrals import area_context
from bot.db.models import AuditEvent, Item, Outlet, PeerWorker, Stock
from bot.services import routing, stock
from bot.services.outlets import ImportResult, StockPromised, import_outlets, list_outlets
from tests.services.factories import NOW, add_contact

Sessions = async_sessionmaker[AsyncSession]

CONTENT = Path(__file__).resolve().parents[2] / "content"
CATALOGUE = load_catalogue(CONTENT / "items.yaml")
CONTEXT = {**area_context(load_gazetteer(CONTENT / "areas.yaml")), "items": CATALOGUE.codes}
FINE, NALOX, SWAB = "syr_1ml_29g", "nalox_inj", "swab"


def spec(**fields: Any) -> OutletSpec:
    """An outlet entry as the file loader builds it (fields left out stay out of the entry)."""
    entry: dict[str, Any] = {
        "key": "table",
        "name": "Peer table (test)",
        "kind": "peer",
        "area": "dtes",
        "lat": 49.2812,
        "lon": -123.0994,
        "instructions": "Green umbrella.",
        "hours": "daily 00:00-24:00",
        "stock": {FINE: 40, NALOX: 6},
    }
    entry.update(fields)
    return OutletSpec.model_validate(
        {k: v for k, v in entry.items() if v is not None}, context=CONTEXT
    )


async def run(sessions: Sessions, *specs: OutletSpec, reset: bool = False) -> ImportResult:
    async with sessions.begin() as session:
        return await import_outlets(
            session, specs=specs, catalogue=CATALOGUE, now=NOW, reset_stock=reset
        )


async def ids(sessions: Sessions, key: str = "table") -> tuple[int, dict[str, int]]:
    async with sessions() as session:
        outlet_id = await session.scalar(select(Outlet.id).where(Outlet.key == key))
        items = {row.code: row.id for row in await session.execute(select(Item.code, Item.id))}
    assert outlet_id is not None
    return outlet_id, items


async def counts(sessions: Sessions, key: str = "table") -> dict[str, tuple[int, int, int]]:
    """Item code → (quantity, reserved, low threshold) at the outlet."""
    async with sessions() as session:
        rows = await session.execute(
            select(Item.code, Stock.quantity, Stock.reserved, Stock.low_threshold)
            .join(Item, Item.id == Stock.item_id)
            .join(Outlet, Outlet.id == Stock.outlet_id)
            .where(Outlet.key == key)
        )
        return {row.code: (row.quantity, row.reserved, row.low_threshold) for row in rows}


async def peer_sets(sessions: Sessions, code: str, quantity: int) -> None:
    """What ``/stock CODE N`` does."""
    outlet_id, items = await ids(sessions)
    async with sessions.begin() as session:
        await stock.set_quantity(
            session, outlet_id=outlet_id, item_id=items[code], quantity=quantity, now=NOW
        )


async def test_reimport_keeps_the_counts_peers_set(sessions: Sessions) -> None:
    assert await run(sessions, spec()) == ImportResult(created=1, updated=0, unchanged=0)
    await peer_sets(sessions, FINE, 38)

    again = await run(sessions, spec())
    assert again == ImportResult(created=0, updated=0, unchanged=1, stock_kept=1)
    assert await counts(sessions) == {FINE: (38, 0, 5), NALOX: (6, 0, 5)}

    # An hours edit is an update, and still leaves the count alone.
    edited = await run(sessions, spec(hours="mon-fri 10:00-18:00"))
    assert (edited.updated, edited.stock_kept) == (1, 1)
    assert (await counts(sessions))[FINE] == (38, 0, 5)
    async with sessions() as session:
        outlet = (await session.scalars(select(Outlet))).one()
        assert outlet.hours == "Mo-Fr 10:00-18:00"  # the legacy form, stored as OSM text
        assert outlet.updated_at == NOW


async def test_reset_stock_sets_every_listed_count(sessions: Sessions) -> None:
    await run(sessions, spec(low_threshold=10))
    outlet_id, items = await ids(sessions)
    await peer_sets(sessions, FINE, 3)  # at or below the threshold: coordinators were told
    async with sessions.begin() as session:
        assert await stock.reserve(session, outlet_id=outlet_id, items={items[FINE]: 2})

    result = await run(sessions, spec(low_threshold=10), reset=True)
    assert result == ImportResult(created=0, updated=1, unchanged=0, stock_set=1)
    # The promise to the accepted request stands; the count is the file's.
    assert await counts(sessions) == {FINE: (40, 2, 10), NALOX: (6, 0, 10)}
    async with sessions() as session:
        levels = await stock.levels(session, outlet_id=outlet_id, item_ids=[items[FINE]])
    assert not levels[0].low_notified  # restocked above the threshold: the next crossing is told

    assert await run(sessions, spec(low_threshold=10), reset=True) == ImportResult(
        created=0, updated=0, unchanged=1
    )


async def test_a_new_item_starts_with_the_files_count(sessions: Sessions) -> None:
    await run(sessions, spec())
    await peer_sets(sessions, FINE, 38)
    result = await run(sessions, spec(stock={FINE: 40, NALOX: 6, SWAB: 30}))
    assert result == ImportResult(created=0, updated=1, unchanged=0, stock_kept=1)
    assert await counts(sessions) == {FINE: (38, 0, 5), NALOX: (6, 0, 5), SWAB: (30, 0, 5)}


async def test_thresholds_are_configuration(sessions: Sessions) -> None:
    await run(sessions, spec())
    await peer_sets(sessions, NALOX, 4)  # low at 5: noticed
    result = await run(sessions, spec(low_threshold=3))
    assert result == ImportResult(created=0, updated=1, unchanged=0, stock_kept=1)
    assert await counts(sessions) == {FINE: (40, 0, 3), NALOX: (4, 0, 3)}
    outlet_id, items = await ids(sessions)
    async with sessions() as session:
        (level,) = await stock.levels(session, outlet_id=outlet_id, item_ids=[items[NALOX]])
    assert not level.low_notified  # 4 is above the new threshold: a later fall to 3 is told


async def test_an_item_left_out_of_the_file_is_no_longer_offered(sessions: Sessions) -> None:
    await run(sessions, spec())
    outlet_id, items = await ids(sessions)
    async with sessions.begin() as session:
        contact_id = await add_contact(session)
        await session.execute(
            insert(PeerWorker).values(
                contact_id=contact_id,
                outlet_id=outlet_id,
                active=True,
                on_shift=True,
                created_at=NOW,
            )
        )

    async def routed(code: str) -> bool:
        async with sessions() as session:
            found = await routing.nearest_available(
                session, lat=49.2812, lon=-123.0994, items={items[code]: 1}, now=NOW
            )
        return [c.outlet_id for c in found] == [outlet_id]

    assert await routed(NALOX)
    result = await run(sessions, spec(stock={FINE: 40}))
    assert result == ImportResult(created=0, updated=1, unchanged=0, withdrawn=(("table", NALOX),))
    assert await counts(sessions) == {FINE: (40, 0, 5)}
    assert not await routed(NALOX)
    assert await routed(FINE)
    # Listed again later: offered again, starting from the file's count.
    await run(sessions, spec())
    assert await counts(sessions) == {FINE: (40, 0, 5), NALOX: (6, 0, 5)}


async def test_an_item_promised_to_accepted_requests_cannot_be_dropped(
    sessions: Sessions,
) -> None:
    await run(sessions, spec())
    outlet_id, items = await ids(sessions)
    async with sessions.begin() as session:
        assert await stock.reserve(session, outlet_id=outlet_id, items={items[NALOX]: 2})

    with pytest.raises(StockPromised) as refused:
        await run(sessions, spec(name="Renamed (test)", stock={FINE: 40}))
    assert str(refused.value) == (
        "table: 2 packs of nalox_inj promised to accepted requests; "
        "keep nalox_inj in the file until they are handed over or released"
    )
    # The caller's transaction rolled back: nothing of the import is left.
    assert await counts(sessions) == {FINE: (40, 0, 5), NALOX: (6, 2, 5)}
    async with sessions() as session:
        assert await session.scalar(select(Outlet.name)) == "Peer table (test)"
        actions = (await session.scalars(select(AuditEvent.action))).all()
    assert actions.count("outlets.import") == 1


async def test_an_entry_without_stock_leaves_the_outlets_items(sessions: Sessions) -> None:
    await run(sessions, spec())
    await peer_sets(sessions, SWAB, 12)  # an item a peer added with /stock
    # A file of names and hours only: no item is withdrawn, no count or threshold touched.
    assert await run(sessions, spec(stock=None)) == ImportResult(created=0, updated=0, unchanged=1)
    assert await counts(sessions) == {FINE: (40, 0, 5), NALOX: (6, 0, 5), SWAB: (12, 0, 5)}
    # ... unless it names a threshold, which then applies to each of the outlet's items.
    assert (await run(sessions, spec(stock=None, low_threshold=2))).updated == 1
    assert {code: row[2] for code, row in (await counts(sessions)).items()} == {
        FINE: 2,
        NALOX: 2,
        SWAB: 2,
    }


async def test_several_outlets_and_the_listing(sessions: Sessions) -> None:
    first = await run(sessions, spec(), spec(key="van", kind="van", stock={SWAB: 0}))
    assert first == ImportResult(created=2, updated=0, unchanged=0)
    await peer_sets(sessions, NALOX, 0)
    second = await run(sessions, spec(), spec(key="van", kind="van", stock={SWAB: 0}))
    assert second == ImportResult(created=0, updated=0, unchanged=2, stock_kept=1)
    async with sessions() as session:
        listing = await list_outlets(session)
    assert [(o.key, o.items_in_stock) for o in listing] == [("table", 1), ("van", 0)]


async def test_meets_nearby_is_imported_and_changed_by_a_reimport(sessions: Sessions) -> None:
    await run(sessions, spec())
    await run(sessions, spec(key="van", meets_nearby=True))
    async with sessions() as session:
        rows = {
            r.key: r.meets_nearby
            for r in await session.execute(select(Outlet.key, Outlet.meets_nearby))
        }
    assert rows == {"table": False, "van": True}
    result = await run(sessions, spec(meets_nearby=True))
    assert result.updated == 1
    async with sessions() as session:
        assert await session.scalar(select(Outlet.meets_nearby).where(Outlet.key == "table"))
