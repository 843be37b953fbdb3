"""A small Vancouver for peer, offer, coordinator and due-work transcripts.

Outlets are real rows with the shipped catalogue; coordinators and peers join the way people
do (an invite code typed into the chat); a person's request is made through the same services
the person-side handlers call, then dispatched.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.core.context import Config
from bot.core.engine import Engine
from bot.core.messages import Reply
from bot.core.ratelimit import RateLimiter
from bot.db.models import Item, Outlet, Request, Stock
from bot.domain import Channel, OutletKind, RequestKind, Role
from bot.services import contacts, invites, requests
from bot.services.catalogue import sync_items
from bot.services.requests import RouteOutcome
from handlers import offers
from handlers.routes import build_routes
from tests.services.factories import stored_hours
from tests.support.chat import Chat, Clock, texts
from tests.support.engine import make_engine

Sessions = async_sessionmaker[AsyncSession]
ALWAYS: dict[str, Any] = {"daily": ["00:00-24:00"]}
# Where the person stands, and outlets east of it (KM_LON degrees of longitude to a km).
HERE = (49.2800, -123.1000)
KM_LON = 1 / (111.195 * math.cos(math.radians(HERE[0])))


@dataclass
class World:
    """An engine with a chat, the catalogue synced, and helpers to add people and places."""

    sessions: Sessions
    clock: Clock
    engine: Engine
    chat: Chat
    items: dict[str, int] = field(default_factory=dict)
    outlets: dict[str, int] = field(default_factory=dict)

    async def outlet(
        self,
        key: str,
        *,
        east_km: float = 1.2,
        stock: Mapping[str, int] | None = None,
        hours: Mapping[str, Any] | str = ALWAYS,
        low_threshold: int = 5,
        timezone: str = "America/Vancouver",
        name: str | None = None,
    ) -> int:
        """An active peer outlet ``east_km`` east of the person."""
        async with self.sessions.begin() as session:
            outlet_id: int | None = await session.scalar(
                insert(Outlet)
                .values(
                    key=key,
                    name=name or f"{key.title()} table",
                    kind=OutletKind.PEER,
                    area_code="strathcona",
                    latitude=HERE[0],
                    longitude=HERE[1] + east_km * KM_LON,
                    timezone=timezone,
                    instructions=f"Ask for the {key} peer.",
                    hours=stored_hours(hours),
                    active=True,
                    created_at=self.clock.now,
                )
                .returning(Outlet.id)
            )
            assert outlet_id is not None
            for code, quantity in (stock or {"syr_1ml_29g": 20, "nalox_nasal": 6}).items():
                session.add(
                    Stock(
                        outlet_id=outlet_id,
                        item_id=self.items[code],
                        quantity=quantity,
                        reserved=0,
                        low_threshold=low_threshold,
                        low_notified=False,
                    )
                )
        self.outlets[key] = outlet_id
        return outlet_id

    async def coordinator(self, who: str) -> None:
        """``who`` becomes a coordinator through an invite (as the CLI makes the first one)."""
        async with self.sessions.begin() as session:
            code = await invites.create(
                session,
                codes_key=self.engine.deps.keys.codes,
                role=Role.COORDINATOR,
                ttl=self.engine.deps.config.invite_ttl,
                now=self.clock.now,
            )
        assert "coordinator" in texts(await self.chat.say(who, f"/join {code}"))

    async def invite_code(self, coordinator: str, outlet_key: str) -> str:
        """The code in a coordinator's ``/invite peer KEY`` answer."""
        answer = texts(await self.chat.say(coordinator, f"/invite peer {outlet_key}"))
        match = re.search(r"Code: (\S+)", answer)
        assert match is not None, answer
        return match.group(1)

    async def peer(
        self, who: str, outlet_key: str, *, coordinator: str = "coco", on_shift: bool = True
    ) -> None:
        """``who`` joins ``outlet_key`` with a fresh invite and (by default) goes on shift."""
        code = await self.invite_code(coordinator, outlet_key)
        assert "peer worker" in texts(await self.chat.say(who, f"/join {code}"))
        if on_shift:
            assert "on shift" in texts(await self.chat.say(who, "/shift on"))

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

    async def request(
        self,
        who: str,
        items: Mapping[str, int] | None = None,
        *,
        kind: RequestKind = RequestKind.EQUIPMENT,
        where: tuple[float, float] | None = HERE,
    ) -> RouteOutcome:
        """``who`` asks for ``items``; the request is created and dispatched, notices sent."""
        person = await self.contact_id(who)
        wanted = {self.items[code]: packs for code, packs in (items or {"syr_1ml_29g": 2}).items()}
        async with self.sessions.begin() as session:
            scope = self.engine.scope(session)
            request = await requests.create(
                session,
                contact_id=person,
                kind=kind,
                items=wanted,
                area_code="strathcona",
                cell=where,
                ttl=self.engine.deps.config.request_ttl,
                now=scope.now,
            )
            lat, lon = where if where is not None else (None, None)
            outcome = await offers.dispatch(scope, request_id=request.id, lat=lat, lon=lon)
        await self.engine.deliver(scope.outbound)
        return outcome

    async def status(self, request_id: int) -> str:
        async with self.sessions() as session:
            status = await session.scalar(select(Request.status).where(Request.id == request_id))
        return str(status)

    async def stock(self, outlet_key: str, code: str) -> tuple[int, int]:
        """(quantity, reserved) of an item at an outlet."""
        async with self.sessions() as session:
            row = (
                await session.execute(
                    select(Stock.quantity, Stock.reserved).where(
                        Stock.outlet_id == self.outlets[outlet_key],
                        Stock.item_id == self.items[code],
                    )
                )
            ).one()
        return row.quantity, row.reserved


async def make_world(
    sessions: Sessions,
    *,
    clock: Clock | None = None,
    coordinator: str | None = "coco",
    config: Config | None = None,
) -> World:
    """A world with the catalogue synced and (by default) one coordinator, ``coco``."""
    clock = clock or Clock()
    engine = make_engine(sessions, build_routes(), clock=clock, config=config)
    # Transcripts here send many messages at the same instant: flood control is tested elsewhere.
    engine.limiter = RateLimiter(rate=1000.0, burst=1_000_000)
    async with sessions.begin() as session:
        items = await sync_items(session, catalogue=engine.deps.content.catalogue)
    world = World(sessions=sessions, clock=clock, engine=engine, chat=Chat(engine), items=items)
    if coordinator is not None:
        await world.coordinator(coordinator)
    return world


def offer_payload(reply: Reply, label: str = "Accept") -> str:
    """The payload of the button labelled ``label`` in ``reply``."""
    for option in reply.options:
        if option.label == label:
            return option.payload
    raise AssertionError(f"no {label!r} in {[o.label for o in reply.options]}")


async def item_id(sessions: Sessions, code: str) -> int:
    async with sessions() as session:
        found = await session.scalar(select(Item.id).where(Item.code == code))
    assert found is not None
    return found
