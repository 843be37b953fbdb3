"""Feedback after a handover: once per own handed-over request, kept only as counters."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.db.models import DailyCount, Request
from bot.domain import RequestKind, RequestStatus
from bot.services import feedback
from tests.services.factories import NOW, add_contact

Sessions = async_sessionmaker[AsyncSession]


async def _request(sessions: Sessions, status: RequestStatus) -> tuple[int, int]:
    async with sessions.begin() as session:
        contact = await add_contact(session)
        request = Request(
            reference=f"R{status.value[:6]}",
            contact_id=contact,
            kind=RequestKind.NALOXONE,
            status=status,
            created_at=NOW,
            expires_at=NOW + timedelta(hours=24),
        )
        session.add(request)
        await session.flush()
        return request.id, contact


async def _counted(sessions: Sessions) -> dict[str, int]:
    async with sessions() as session:
        rows = (await session.scalars(select(DailyCount))).all()
    return {row.measure: row.count for row in rows}


async def test_ten_taps_at_once_count_once(sessions: Sessions) -> None:
    request_id, contact = await _request(sessions, RequestStatus.HANDED_OVER)

    async def tap(good: bool) -> bool:
        async with sessions.begin() as session:
            return await feedback.rate(
                session, request_id=request_id, contact_id=contact, good=good, now=NOW
            )

    results = await asyncio.gather(*(tap(n % 2 == 0) for n in range(10)))
    assert results.count(True) == 1
    assert sum((await _counted(sessions)).values()) == 1


@pytest.mark.parametrize("status", [RequestStatus.ACCEPTED, RequestStatus.CANCELLED])
async def test_only_handed_over_requests(sessions: Sessions, status: RequestStatus) -> None:
    request_id, contact = await _request(sessions, status)
    async with sessions.begin() as session:
        assert not await feedback.rate(
            session, request_id=request_id, contact_id=contact, good=True, now=NOW
        )
    assert await _counted(sessions) == {}


async def test_only_ones_own(sessions: Sessions) -> None:
    request_id, _ = await _request(sessions, RequestStatus.HANDED_OVER)
    async with sessions.begin() as session:
        other = await add_contact(session)
        assert not await feedback.rate(
            session, request_id=request_id, contact_id=other, good=False, now=NOW
        )
        assert not await feedback.rate(
            session, request_id=request_id + 99, contact_id=other, good=False, now=NOW
        )
    assert await _counted(sessions) == {}


async def test_reasons(sessions: Sessions) -> None:
    async with sessions.begin() as session:
        feedback.add_reason(session, reason="unsafe", now=NOW)
        with pytest.raises(ValueError, match="unknown feedback reason"):
            feedback.add_reason(session, reason="other", now=NOW)
    assert await _counted(sessions) == {"feedback.unsafe": 1}
