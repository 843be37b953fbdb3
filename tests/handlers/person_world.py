"""The demo Vancouver for person-side transcripts: shipped outlets, peers on shift, a clock.

The clock stands at Wednesday 11:00 in Vancouver (the harness default), when the Main &
Hastings peer table, the Broadway pharmacy, the Strathcona hub and the Kingsway window are open.
Peers are enrolled through the invite and shift services, so these tests do not depend on the
peer-side conversations; offers reach a peer's inbox through the real dispatch.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.content import load_outlets
from bot.core.engine import Engine
from bot.core.messages import Option, Reply
from bot.core.ratelimit import RateLimiter
from bot.db.models import Contact, ConversationState, Offer, Outlet, PeerWorker, Request, Stock
from bot.domain import Channel, OfferStatus, Role
from bot.services import contacts, invites, requests, shifts
from bot.services.outlets import import_outlets
from bot.services.requests import AcceptResult
from handlers.routes import build_routes
from tests.support.chat import Chat, Clock
from tests.support.engine import CONTENT_DIR, make_engine

Sessions = async_sessionmaker[AsyncSession]
# Spots in the demo city (public street corners, not anyone's address).
MAIN_AND_HASTINGS = (49.2812, -123.0990)
KITSILANO = (49.2680, -123.1650)
SEATTLE = (47.6062, -122.3321)


@dataclass
class World:
    """An engine with a chat over the demo outlets, and helpers to look at the database."""

    sessions: Sessions
    clock: Clock
    engine: Engine
    chat: Chat
    outlets: dict[str, int] = field(default_factory=dict)

    async def contact_id(self, who: str) -> int:
        """The contact row of a chat participant (created if new)."""
        async with self.sessions.begin() as session:
            contact = await contacts.find_or_create(
                session,
                pseudonym_key=self.engine.deps.keys.pseudonym,
                box=self.engine.box,
                channel=Channel.TELEGRAM,
                platform_id=f"id-{who}",
                address=f"telegram-{who}",
                now=self.clock.now,
            )
            return contact.id

    async def peer(self, who: str, outlet_key: str, *, on_shift: bool = True) -> int:
        """``who`` becomes a peer worker at ``outlet_key`` (and goes on shift); the worker id."""
        contact_id = await self.contact_id(who)
        deps = self.engine.deps
        async with self.sessions.begin() as session:
            code = await invites.create(
                session,
                codes_key=deps.keys.codes,
                role=Role.PEER,
                ttl=deps.config.invite_ttl,
                outlet_id=self.outlets[outlet_key],
                now=self.clock.now,
            )
            await invites.redeem(
                session,
                codes_key=deps.keys.codes,
                code=code,
                contact_id=contact_id,
                now=self.clock.now,
            )
            peer_id = await session.scalar(
                select(PeerWorker.id).where(
                    PeerWorker.contact_id == contact_id,
                    PeerWorker.outlet_id == self.outlets[outlet_key],
                )
            )
            assert peer_id is not None
            if on_shift:
                await shifts.start_shift(
                    session, peer_worker_id=peer_id, hours=8, now=self.clock.now
                )
        return peer_id

    async def requests(self, who: str | None = None) -> list[Request]:
        """Every request (or ``who``'s), oldest first."""
        async with self.sessions() as session:
            query = select(Request).order_by(Request.id)
            if who is not None:
                query = query.where(Request.contact_id == await self.contact_id(who))
            return list((await session.scalars(query)).all())

    async def snapshot(self) -> list[tuple[Any, ...]]:
        """Every request, offer and stock row as plain values (to prove nothing changed)."""
        async with self.sessions() as session:
            rows: list[tuple[Any, ...]] = []
            for model in (Request, Offer, Stock):
                for row in (await session.execute(select(model.__table__))).all():
                    rows.append((model.__tablename__, *row))
        return rows

    async def state(self, who: str) -> ConversationState | None:
        """``who``'s stored conversation state."""
        contact_id = await self.contact_id(who)
        async with self.sessions() as session:
            return await session.get(ConversationState, contact_id)

    async def contacts(self) -> int:
        """How many contacts exist."""
        async with self.sessions() as session:
            return int(await session.scalar(select(func.count()).select_from(Contact)) or 0)

    async def outlet_name(self, key: str) -> str:
        async with self.sessions() as session:
            name = await session.scalar(select(Outlet.name).where(Outlet.key == key))
        assert name is not None
        return name


async def make_world(sessions: Sessions, *, clock: Clock | None = None) -> World:
    """The demo outlets imported, the catalogue synced, nobody on shift yet."""
    clock = clock or Clock()
    engine = make_engine(sessions, build_routes(), clock=clock)
    # Transcripts send many messages at one instant: flood control is tested with the engine.
    engine.limiter = RateLimiter(rate=1000.0, burst=1_000_000)
    content = engine.deps.content
    specs = load_outlets(CONTENT_DIR / "outlets.demo.yaml", content.catalogue, content.gazetteer)
    async with sessions.begin() as session:
        await import_outlets(session, specs=specs, catalogue=content.catalogue, now=clock.now)
        outlets = {o.key: o.id for o in (await session.scalars(select(Outlet))).all()}
    return World(sessions=sessions, clock=clock, engine=engine, chat=Chat(engine), outlets=outlets)


async def ask_for_syringes(world: World, who: str = "ana") -> str:
    """``who`` sends a request for two packs of syringes from the DTES; its reference."""
    await world.chat.say(who, "/supplies")
    await world.chat.tap(who, "Kit for injecting and smoking")
    await world.chat.tap(who, '1 ml syringe, 29G ½" fixed needle')
    await world.chat.tap(who, "2")
    await world.chat.tap(who, "Done: choose where")
    await world.chat.share_location(who, *MAIN_AND_HASTINGS)
    await world.chat.tap(who, "Send request")
    return (await world.requests(who))[-1].reference


async def accept(world: World, peer_id: int, reference: str) -> str:
    """The peer accepts the request's pending offer (through the service); the pickup code."""
    async with world.sessions.begin() as session:
        offer_id = await session.scalar(
            select(Offer.id)
            .join(Request, Request.id == Offer.request_id)
            .where(Request.reference == reference, Offer.status == OfferStatus.PENDING)
        )
        assert offer_id is not None
        outcome = await requests.accept(
            session,
            offer_id=offer_id,
            peer_worker_id=peer_id,
            codes_key=world.engine.deps.keys.codes,
            now=world.clock.now,
            box=world.engine.box,  # as the peer's handler does: /status shows the code
        )
    assert outcome.result is AcceptResult.ACCEPTED
    assert outcome.reference == reference
    assert outcome.code is not None
    return outcome.code


async def reserved(world: World) -> int:
    async with world.sessions() as session:
        return sum((await session.scalars(select(Stock.reserved))).all())


def labels(reply: Reply) -> list[str]:
    """The option labels of a reply."""
    return [o.label for o in reply.options]


def option(reply: Reply, label: str) -> Option:
    """The option labelled ``label``."""
    for candidate in reply.options:
        if candidate.label == label:
            return candidate
    raise AssertionError(f"no {label!r} in {labels(reply)}")


def first_line(reply: Reply) -> str:
    return reply.text.splitlines()[0] if reply.text else ""
