"""A database dump attacked as finding 3 of issue 14 did: match stored times and update keys
against Telegram's own records (update ids and their exact times) to name the people.

After a whole journey at an odd instant (a coordinator, a peer joining, a person asking,
subscribing, being served), every time kept past a day is a whole hour, no stored time is the
instant of an update, and the handled-update log keeps keyed hashes, not Telegram's ids.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import cast

from sqlalchemy import Table, select

from bot.core.engine import seen_key
from bot.core.messages import Incoming, InputKind
from bot.db.base import UTCDateTime
from bot.db.models import (
    AuditEvent,
    Contact,
    Coordinator,
    Invite,
    Offer,
    PeerWorker,
    Request,
    SeenUpdate,
    Subscription,
)
from bot.domain import Channel
from tests.handlers.peer_world import HERE, Sessions, World, make_world
from tests.support.chat import Clock, texts

# Rows kept past a day, and the columns that are deadlines, exact by need while they run.
KEPT = (AuditEvent, Contact, Coordinator, Invite, Offer, PeerWorker, Request, Subscription)
RUNNING_DEADLINES = {("peer_workers", "shift_ends_at")}
START = datetime(2026, 11, 25, 19, 17, 23, 456789, tzinfo=UTC)
CODE = re.compile(r"Your pickup code: ([0-9]{6})")
SYRINGES = '1 ml syringe, 29G ½" fixed needle'


async def _journey(world: World) -> list[datetime]:
    """The whole journey, a few seconds between updates; the instant of every update."""
    instants: list[datetime] = []
    original = world.chat._send

    async def timed(who: str, **fields: object) -> object:
        world.clock.advance(seconds=7, microseconds=1234)
        instants.append(world.clock.now)
        return await original(who, **fields)

    world.chat._send = timed  # type: ignore[method-assign,assignment]
    await world.outlet("alpha")
    await world.peer("pat", "alpha")
    chat = world.chat
    await chat.say("ana", "/supplies")
    await chat.tap("ana", "Kit for injecting and smoking")
    await chat.tap("ana", SYRINGES)
    await chat.tap("ana", "2")
    await chat.tap("ana", "Done: choose where")
    await chat.share_location("ana", *HERE)
    assert "Request sent" in texts(await chat.tap("ana", "Send request"))
    assert "You accepted" in texts(await chat.tap("pat", "Accept"))
    match = CODE.search("\n".join(r.text for r in chat.inbox("ana")))
    assert match is not None
    await chat.tap("pat", "Handed over")
    assert "Handed over" in texts(await chat.say("pat", match.group(1)))
    await chat.say("bo", "/alerts")
    await chat.tap("bo", "Add an area")
    assert "Added" in texts(await chat.tap("bo", "Strathcona"))
    return instants


async def _times(sessions: Sessions) -> list[tuple[str, str, datetime]]:
    found: list[tuple[str, str, datetime]] = []
    async with sessions() as session:
        for model in KEPT:
            table = cast(Table, model.__table__)
            columns = [c for c in table.columns if isinstance(c.type, UTCDateTime)]
            for row in (await session.execute(select(*columns))).all():
                for column, value in zip(columns, row, strict=True):
                    if value is not None and (table.name, column.name) not in RUNNING_DEADLINES:
                        found.append((table.name, column.name, value))
    return found


async def test_kept_times_are_hours_and_match_no_update(sessions: Sessions) -> None:
    world = await make_world(sessions, clock=Clock(START))
    instants = await _journey(world)
    times = await _times(sessions)
    tables = {table for table, _, _ in times}
    assert {"contacts", "requests", "offers", "audit_events", "peer_workers"} <= tables
    assert {"coordinators", "invites", "subscriptions"} <= tables
    fine = [(t, c, v) for t, c, v in times if (v.minute, v.second, v.microsecond) != (0, 0, 0)]
    assert fine == []
    async with sessions() as session:
        seen = (await session.execute(select(SeenUpdate.key, SeenUpdate.seen_at))).all()
    assert len(seen) >= len(instants)
    assert not {v for _, _, v in times} & set(instants)
    assert not {at for _, at in seen} & set(instants)
    assert all((at.minute, at.second, at.microsecond) == (0, 0, 0) for _, at in seen)
    # Keyed hashes of the channel's update keys: no raw key, no prefix, one fixed width.
    assert all(re.fullmatch(r"[0-9a-f]{48}", key) for key, _ in seen)
    raw = {f"mem:{world.chat._run}:{n}" for n in range(1, world.chat._update + 1)}
    keyed = {seen_key(world.engine.deps.keys.pseudonym, key) for key in raw}
    assert {key for key, _ in seen} == keyed


async def test_the_same_update_twice_is_handled_once(sessions: Sessions) -> None:
    world = await make_world(sessions, clock=Clock(START))
    msg = Incoming(
        channel=Channel.TELEGRAM,
        sender_id="id-ana",
        address="telegram-ana",
        update_key="tg:424242",
        kind=InputKind.COMMAND,
        command="start",
        text="",
    )
    await world.engine.handle(msg)
    answered = len(world.chat.inbox("ana"))
    assert answered > 0
    world.clock.advance(minutes=5)  # a webhook retry
    await world.engine.handle(msg)
    assert len(world.chat.inbox("ana")) == answered
    async with sessions() as session:
        keys = (await session.scalars(select(SeenUpdate.key))).all()
    assert "tg:424242" not in keys
    assert seen_key(world.engine.deps.keys.pseudonym, "tg:424242") in keys
