"""The outbox's one-statement claim and outcomes on PostgreSQL: a claim takes at most its count
and skips rows another claim holds, returns each row's recipient, and an outcome is written only
while the row still carries its claim's ``attempts``."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from bot.db.models import Delivery
from bot.domain import Channel, DeliveryStatus
from bot.services import outbox_pg
from tests.services.test_outbox import _alert
from tests.support.alerts import add_subscribers
from tests.support.engine import make_deps

Sessions = async_sessionmaker[AsyncSession]


@pytest.fixture(autouse=True)
def postgresql_only(backend: str) -> None:
    if backend != "postgresql":
        pytest.skip("PostgreSQL's own statements (SQLite keeps the portable ones)")


def _bind(sessions: Sessions) -> AsyncEngine:
    bind = sessions.kw["bind"]
    assert isinstance(bind, AsyncEngine)
    return bind


async def test_claims_at_most_its_count_and_skips_rows_another_claim_holds(
    sessions: Sessions,
) -> None:
    async with sessions.begin() as session:
        await add_subscribers(session, [f"p{i}" for i in range(30)], ["dtes"])
    await _alert(sessions, make_deps().content, ["dtes"])
    async with sessions() as session:
        now = await session.scalar(select(Delivery.next_attempt_at).limit(1))
    assert now is not None
    lease = now + timedelta(seconds=15)
    engine = _bind(sessions)
    async with engine.connect() as holder, engine.connect() as other:
        # One claim's transaction still open: its rows are locked, the next claim skips them.
        await holder.begin()
        held = await outbox_pg.claim(
            holder, channel=Channel.TELEGRAM, count=12, now=now, lease_until=lease
        )
        taken = await outbox_pg.claim(
            other, channel=Channel.TELEGRAM, count=100, now=now, lease_until=lease
        )
        await other.commit()
        await holder.commit()
    assert len(held) == 12
    assert len(taken) == 18
    assert not {row.id for row in held} & {row.id for row in taken}
    both = [*held, *taken]
    assert all(row.known is not None and row.reply_address for row in both)
    assert {row.attempts for row in both} == {1}
    async with sessions() as session:
        statuses = set(await session.scalars(select(Delivery.status)))
    assert statuses == {DeliveryStatus.SENDING}


async def test_an_outcome_is_written_only_under_its_claims_attempts(sessions: Sessions) -> None:
    async with sessions.begin() as session:
        await add_subscribers(session, ["a", "b"], ["dtes"])
    await _alert(sessions, make_deps().content, ["dtes"])
    async with sessions() as session:
        now = await session.scalar(select(Delivery.next_attempt_at).limit(1))
    assert now is not None
    engine = _bind(sessions)
    async with engine.begin() as connection:
        first, second = await outbox_pg.claim(
            connection,
            channel=Channel.TELEGRAM,
            count=2,
            now=now,
            lease_until=now + timedelta(seconds=15),
        )
    outcome = {
        "b_status": DeliveryStatus.SENT,
        "b_doubtful": False,
        "b_next": None,
        "b_sent": now.replace(minute=0, second=0, microsecond=0),
        "b_error": None,
    }
    async with engine.begin() as connection:
        await outbox_pg.record(
            connection,
            [
                {**outcome, "b_id": first.id, "b_attempts": first.attempts},
                # A late result of an earlier claim: the row has moved on, nothing changes.
                {**outcome, "b_id": second.id, "b_attempts": second.attempts - 1},
            ],
        )
    async with sessions() as session:
        rows = {d.id: d for d in await session.scalars(select(Delivery))}
    assert rows[first.id].status is DeliveryStatus.SENT
    assert rows[first.id].sent_at == outcome["b_sent"]
    assert rows[first.id].lease_until is None
    assert rows[second.id].status is DeliveryStatus.SENDING
