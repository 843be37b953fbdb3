"""Helpers for alert tests: subscribers with sealed addresses, an engine, recording senders."""

from __future__ import annotations

import asyncio
import secrets
from collections import Counter, defaultdict
from collections.abc import Callable, Sequence
from datetime import UTC, datetime

from sqlalchemy import insert
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.content import Gazetteer
from bot.core.context import Context
from bot.core.engine import Engine
from bot.core.messages import Incoming, Reply, SendResult, SendStatus
from bot.core.routes import Routes
from bot.db.base import utcnow
from bot.db.models import Contact, Coordinator, Subscription
from bot.domain import AlertKind, Channel
from bot.privacy import AddressBox
from bot.services import alerts
from bot.services.alerts import AlertView
from tests.support.engine import TEST_KEYS, make_deps

NOW = datetime(2026, 11, 25, 19, 0, tzinfo=UTC)
BOX = AddressBox(TEST_KEYS.address)
CHUNK = 2000


async def _ignore(msg: Incoming, ctx: Context) -> None:
    return None


NO_ROUTES = Routes(
    commands={},
    options={},
    flows={},
    fallback=_ignore,
    unknown_command=_ignore,
    unsupported=_ignore,
)


def alert_engine(
    sessions: async_sessionmaker[AsyncSession], clock: Callable[[], datetime] = utcnow
) -> Engine:
    """A production-like engine without chat routes (the outbox needs no handlers)."""
    return Engine(sessions=sessions, deps=make_deps(), box=BOX, routes=NO_ROUTES, clock=clock)


async def add_subscribers(
    session: AsyncSession,
    addresses: Sequence[str],
    areas: Sequence[str],
    *,
    channel: Channel = Channel.TELEGRAM,
    locale: str | None = None,
    box: AddressBox = BOX,
    now: datetime = NOW,
) -> list[int]:
    """Contacts reachable at ``addresses``, each subscribed to ``areas``; returns their ids."""
    ids: list[int] = []
    for start in range(0, len(addresses), CHUNK):
        chunk = addresses[start : start + CHUNK]
        rows = await session.execute(
            insert(Contact).returning(Contact.id),
            [
                {
                    "pseudonym": secrets.token_hex(16),
                    "channel": channel,
                    "reply_address": box.seal(address),
                    "locale": locale,
                    "reachable": True,
                    "created_at": now,
                }
                for address in chunk
            ],
        )
        new = [row[0] for row in rows.all()]
        ids += new
        if areas:
            await session.execute(
                insert(Subscription),
                [{"contact_id": c, "area_code": a, "created_at": now} for c in new for a in areas],
            )
    return ids


async def add_coordinator(session: AsyncSession, address: str) -> tuple[int, int]:
    """A coordinator reachable at ``address``: (coordinator id, contact id)."""
    [contact_id] = await add_subscribers(session, [address], [])
    coordinator_id = await session.scalar(
        insert(Coordinator).values(contact_id=contact_id, created_at=NOW).returning(Coordinator.id)
    )
    assert coordinator_id is not None
    return coordinator_id, contact_id


class RecordingSender:
    """Remembers every message per address, like the platform's log.

    ``blocked`` addresses answer UNREACHABLE; ``script`` maps an address to outcomes used
    (and consumed) before delivering normally; ``delay`` slows every send down.
    """

    def __init__(self, *, delay: float = 0.0) -> None:
        self.sent: dict[str, list[str]] = defaultdict(list)
        self.blocked: set[str] = set()
        self.script: dict[str, list[SendResult | str]] = {}
        self.delay = delay
        self.calls = 0

    async def send_result(self, address: str, reply: Reply) -> SendResult:
        self.calls += 1
        if self.delay:
            await asyncio.sleep(self.delay)
        if address in self.blocked:
            return SendResult(SendStatus.UNREACHABLE)
        planned = self.script.get(address)
        if planned:
            step = planned.pop(0)
            if step == "deliver-then-timeout":
                # The platform got it, but the answer never came back.
                self.sent[address].append(reply.text)
                await asyncio.sleep(3600)
            if isinstance(step, SendResult):
                if step.maybe_delivered:
                    self.sent[address].append(reply.text)
                return step
        self.sent[address].append(reply.text)
        return SendResult(SendStatus.SENT)

    async def send(self, address: str, reply: Reply) -> SendStatus:
        """What the engine uses for notices (a coordinator's report)."""
        return (await self.send_result(address, reply)).status

    def counts(self) -> Counter[str]:
        """How many messages each address got."""
        return Counter({address: len(texts) for address, texts in self.sent.items()})


class PlainSender:
    """A sender with only the old ``send`` (no ``send_result``)."""

    def __init__(self) -> None:
        self.sent: list[str] = []

    async def send(self, address: str, reply: Reply) -> SendStatus:
        self.sent.append(address)
        return SendStatus.SENT


async def bad_batch_draft(
    session: AsyncSession, *, gazetteer: Gazetteer, now: datetime
) -> AlertView:
    """A draft bad-batch alert for dtes: "down" found to contain nitazenes."""
    return await alerts.create_draft(
        session,
        kind=AlertKind.BAD_BATCH,
        severity=3,
        areas=["dtes"],
        fields={"sold_as": "down", "found_to_contain": "nitazenes"},
        gazetteer=gazetteer,
        now=now,
    )
