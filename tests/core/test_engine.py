"""The engine: routing, state in the database, de-duplication, flood control, failures."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field

import pytest
from sqlalchemy import func, insert, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.core.context import Context, Outbound, Person
from bot.core.engine import lock_key
from bot.core.messages import Incoming, InputKind, Reply, SendStatus
from bot.core.ratelimit import RateLimiter
from bot.core.routes import Routes
from bot.db.models import (
    Contact,
    ConversationState,
    Coordinator,
    PeerWorker,
    PendingMessage,
    Subscription,
)
from bot.domain import Channel
from bot.services import subscriptions
from bot.services.journal import JOURNAL_LEASE
from bot.services.notices import run_notices_due
from tests.services.factories import NOW, add_outlet
from tests.support.chat import Chat, Clock, MemorySender, texts
from tests.support.engine import make_engine

SEEN: list[Person] = []


async def _start(msg: Incoming, ctx: Context) -> None:
    ctx.goto("echo", "waiting")
    ctx.reply("say something")


async def _echo(msg: Incoming, ctx: Context) -> None:
    count = int(ctx.state.data.get("count", 0)) + 1 if ctx.state else 1
    ctx.goto("echo", "waiting", count=count)
    ctx.reply(f"heard {count}")


async def _boom(msg: Incoming, ctx: Context) -> None:
    ctx.goto("echo", "broken")
    raise RuntimeError("handler bug with +447700900123 in it")


async def _fallback(msg: Incoming, ctx: Context) -> None:
    ctx.reply("menu")


async def _unknown(msg: Incoming, ctx: Context) -> None:
    ctx.reply("unknown command")


async def _unsupported(msg: Incoming, ctx: Context) -> None:
    ctx.reply("text only please")


async def _whoami(msg: Incoming, ctx: Context) -> None:
    SEEN.append(ctx.person)
    ctx.reply("noted")


async def _poke(msg: Incoming, ctx: Context) -> None:
    """Tell everyone else (as a peer hears of an offer), then answer twice."""
    others = await ctx.session.scalars(
        select(Contact.id).where(Contact.id != ctx.person.contact_id).order_by(Contact.id)
    )
    for other in others:
        ctx.notify(other, lambda t: Reply("you were poked"))
    ctx.reply("poked them")
    ctx.reply("anything else?")


ROUTES = Routes(
    commands={"start": _start, "boom": _boom, "whoami": _whoami, "poke": _poke},
    options={},
    flows={"echo": _echo},
    fallback=_fallback,
    unknown_command=_unknown,
    unsupported=_unsupported,
)


async def test_state_lives_in_the_database(sessions: async_sessionmaker[AsyncSession]) -> None:
    chat = Chat(make_engine(sessions, ROUTES))
    assert texts(await chat.say("ana", "/start")) == "say something"
    assert texts(await chat.say("ana", "hello")) == "heard 1"
    # A second engine (a restart, or another instance) continues the same conversation.
    other = Chat(make_engine(sessions, ROUTES))
    assert texts(await other.say("ana", "again")) == "heard 2"
    assert texts(await chat.say("bob", "hello")) == "menu"


async def test_unknown_and_unsupported(sessions: async_sessionmaker[AsyncSession]) -> None:
    chat = Chat(make_engine(sessions, ROUTES))
    assert texts(await chat.say("ana", "/nope")) == "unknown command"
    assert texts(await chat.send_sticker("ana")) == "text only please"


async def test_duplicate_update_is_dropped(sessions: async_sessionmaker[AsyncSession]) -> None:
    engine = make_engine(sessions, ROUTES)
    chat = Chat(engine)
    msg = Incoming(
        channel=Channel.TELEGRAM,
        sender_id="id-ana",
        address="telegram-ana",
        kind=InputKind.TEXT,
        text="hi",
        update_key="tg:77",
    )
    await engine.handle(msg)
    await engine.handle(msg)
    assert texts(chat.inbox("ana")) == "menu"


async def test_failure_rolls_back_and_apologises(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    chat = Chat(make_engine(sessions, ROUTES))
    await chat.say("ana", "/start")
    replies = await chat.say("ana", "/boom")
    assert "Nothing was changed" in texts(replies)
    async with sessions() as session:
        state = (await session.scalars(select(ConversationState))).one()
    assert state.step == "waiting"
    assert texts(await chat.say("ana", "still here")) == "heard 1"


async def test_a_tap_too_soon_waits_then_is_handled(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    """One message past the burst waits for its token (on the fake clock) instead of being
    dropped with a warning."""
    engine = make_engine(sessions, ROUTES)
    now = [0.0]
    waits: list[float] = []

    async def sleep(seconds: float) -> None:
        waits.append(seconds)
        now[0] += seconds

    engine.monotonic = lambda: now[0]
    engine.sleep = sleep
    chat = Chat(engine)
    for _ in range(engine.limiter.burst + 1):
        await chat.say("ana", "x")
    received = texts(chat.inbox("ana")).splitlines()
    assert received == ["menu"] * (engine.limiter.burst + 1)
    assert waits == [1.0]  # one token at 1 per second


async def test_flood_waits_a_few_answers_once_then_drops(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    engine = make_engine(sessions, ROUTES)
    now = [0.0]
    waits: list[float] = []

    async def sleep(seconds: float) -> None:
        waits.append(seconds)  # the clock stands still: every message arrives at once

    engine.monotonic = lambda: now[0]
    engine.sleep = sleep
    chat = Chat(engine)
    for _ in range(30):
        await chat.say("ana", "x")
    received = texts(chat.inbox("ana")).splitlines()
    limiter = engine.limiter
    assert received.count("menu") == limiter.burst + limiter.max_waiting
    assert sum("very fast" in line for line in received) == 1
    assert len(waits) == limiter.max_waiting
    assert max(waits) <= limiter.max_wait
    # Another sender is not held up by ana's flood.
    assert texts(await chat.say("bob", "x")) == "menu"
    now[0] += 60
    assert texts(await chat.say("ana", "x")) == "menu"


async def test_blocked_contact_marked_unreachable(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    chat = Chat(make_engine(sessions, ROUTES, clock=Clock()))
    await chat.say("ana", "hi")
    chat.sender.blocked.add("telegram-ana")
    await chat.say("ana", "hi")
    async with sessions() as session:
        contact = (await session.scalars(select(Contact))).one()
        assert not contact.reachable
        assert await session.scalar(select(func.count()).select_from(Contact)) == 1


async def _subscribed_contact(sessions: async_sessionmaker[AsyncSession], chat: Chat) -> int:
    async with sessions.begin() as session:
        contact_id = (await session.scalars(select(Contact.id))).one()
        await subscriptions.subscribe(
            session,
            contact_id=contact_id,
            areas=["dtes", "kitsilano"],
            gazetteer=chat.engine.deps.content.gazetteer,
            now=chat.engine.clock(),
        )
    return contact_id


async def _subscriptions(sessions: async_sessionmaker[AsyncSession]) -> int:
    async with sessions() as session:
        return int(await session.scalar(select(func.count()).select_from(Subscription)) or 0)


async def test_blocked_on_a_reply_also_unsubscribes(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    # The engine and the alert outbox treat a refusal alike: unreachable and unsubscribed.
    chat = Chat(make_engine(sessions, ROUTES, clock=Clock()))
    await chat.say("ana", "hi")
    await _subscribed_contact(sessions, chat)
    assert await _subscriptions(sessions) == 2
    chat.sender.blocked.add("telegram-ana")
    await chat.say("ana", "hi")
    assert await _subscriptions(sessions) == 0


async def test_blocked_on_a_notice_also_unsubscribes(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    chat = Chat(make_engine(sessions, ROUTES, clock=Clock()))
    await chat.say("ana", "hi")
    contact_id = await _subscribed_contact(sessions, chat)
    chat.sender.blocked.add("telegram-ana")
    await chat.engine.deliver([Outbound(contact_id, lambda t: Reply("an offer"))])
    assert await _subscriptions(sessions) == 0
    async with sessions() as session:
        contact = await session.get(Contact, contact_id)
        assert contact is not None
        assert not contact.reachable
    # Unreachable contacts are skipped afterwards: nothing more is attempted for them.
    chat.sender.blocked.clear()
    await chat.engine.deliver([Outbound(contact_id, lambda t: Reply("another"))])
    assert chat.inbox("ana")[-1].text != "another"


async def test_person_carries_active_peer_roles_and_coordinator(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    chat = Chat(make_engine(sessions, ROUTES))
    SEEN.clear()
    await chat.say("ana", "/whoami")
    await chat.say("bob", "/whoami")
    ana, bob = SEEN[0].contact_id, SEEN[1].contact_id
    assert (SEEN[0].peer_ids, SEEN[0].coordinator_id) == ((), None)
    async with sessions.begin() as session:
        outlets = [(await add_outlet(session, peers=0)).outlet_id for _ in range(3)]
        peer_ids = []
        for outlet_id, active in zip(outlets, (True, False, True), strict=True):
            peer_ids.append(
                await session.scalar(
                    insert(PeerWorker)
                    .values(contact_id=ana, outlet_id=outlet_id, active=active, created_at=NOW)
                    .returning(PeerWorker.id)
                )
            )
        coordinator_id = await session.scalar(
            insert(Coordinator).values(contact_id=ana, created_at=NOW).returning(Coordinator.id)
        )
        bob_coordinator = await session.scalar(
            insert(Coordinator).values(contact_id=bob, created_at=NOW).returning(Coordinator.id)
        )
    SEEN.clear()
    await chat.say("ana", "/whoami")
    await chat.say("bob", "/whoami")
    assert SEEN[0].contact_id == ana
    assert SEEN[0].peer_ids == (peer_ids[0], peer_ids[2])  # the inactive one is not a role
    assert SEEN[0].coordinator_id == coordinator_id
    assert (SEEN[0].is_peer, SEEN[0].is_coordinator) == (True, True)
    assert (SEEN[1].peer_ids, SEEN[1].coordinator_id) == ((), bob_coordinator)
    # Two peer roles make two rows in the lookup: the conversation state still reads once.
    await chat.say("ana", "/start")
    assert texts(await chat.say("ana", "hello")) == "heard 1"
    assert texts(await chat.say("ana", "hello")) == "heard 2"


async def test_a_lapsed_state_is_dropped_and_no_state_writes_nothing(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    clock = Clock()
    chat = Chat(make_engine(sessions, ROUTES, clock=clock))
    await chat.say("ana", "/start")
    clock.advance(hours=3)  # past the two-hour state TTL
    assert texts(await chat.say("ana", "hello")) == "menu"
    await chat.say("bob", "hello")  # no state before or after
    async with sessions() as session:
        assert await session.scalar(select(func.count()).select_from(ConversationState)) == 0


async def _slow_count(msg: Incoming, ctx: Context) -> None:
    count = int(ctx.state.data.get("count", 0)) + 1 if ctx.state else 1
    await asyncio.sleep(0.02)  # between reading the state and writing it: room for a fork
    ctx.goto("count", "waiting", count=count)
    ctx.reply(f"count {count}")


async def test_one_persons_updates_on_two_instances_never_fork_the_conversation(
    backend: str, sessions: async_sessionmaker[AsyncSession]
) -> None:
    """Two engines on one PostgreSQL database (two instances) get one person's updates at
    the same moment: each is handled after the other, so every count is seen once."""
    if backend != "postgresql":
        pytest.skip("one instance runs on a SQLite file; the lock is PostgreSQL's")
    routes = Routes(
        commands={},
        options={},
        flows={"count": _slow_count},
        fallback=_slow_count,
        unknown_command=_unknown,
        unsupported=_unsupported,
    )
    sender = MemorySender()
    engines = [make_engine(sessions, routes) for _ in range(2)]
    for engine in engines:
        engine.add_sender(Channel.TELEGRAM, sender)

    def update(n: int, who: str) -> Incoming:
        return Incoming(
            channel=Channel.TELEGRAM,
            sender_id=f"id-{who}",
            address=who,
            update_key=f"fork:{who}:{n}",
            kind=InputKind.TEXT,
            text=f"n{n}",
        )

    await asyncio.gather(
        *(engines[n % 2].handle(update(n, who)) for n in range(12) for who in ("ana", "bob"))
    )
    for who in ("ana", "bob"):
        counts = sorted(int(r.text.split()[1]) for r in sender.sent[who])
        assert counts == list(range(1, 13)), counts


def test_lock_keys_are_signed_64_bit_and_follow_the_pseudonym() -> None:
    assert lock_key("f" * 64) == -1
    assert lock_key("7fffffffffffffff" + "0" * 48) == 2**63 - 1
    assert lock_key("00000000000000010" + "0" * 47) == 1


# -- replies journaled with the update: a crash between commit and send loses none ----------


class Killed(BaseException):
    """The process dies here (a SIGKILL): nothing after it runs, no handler catches it."""


@dataclass
class Dying:
    """A sender whose process is killed at its first send, before anything leaves."""

    attempts: int = 0

    async def send(self, address: str, reply: Reply) -> SendStatus:
        self.attempts += 1
        raise Killed


@dataclass
class Spy:
    """A sender that runs ``during`` inside each send (while the message is in hand)."""

    during: Callable[[str, Reply], object]
    sent: list[tuple[str, str]] = field(default_factory=list)
    status: list[SendStatus] = field(default_factory=list)  # per send, then SENT

    async def send(self, address: str, reply: Reply) -> SendStatus:
        result = self.during(address, reply)
        if asyncio.iscoroutine(result):
            await result
        status = self.status.pop(0) if self.status else SendStatus.SENT
        if status is SendStatus.SENT:
            self.sent.append((address, reply.text))
        return status


def _update(who: str, text: str, n: int, *, command: str | None = None) -> Incoming:
    return Incoming(
        channel=Channel.TELEGRAM,
        sender_id=f"id-{who}",
        address=f"telegram-{who}",
        update_key=f"journal:{who}:{n}",
        kind=InputKind.COMMAND if command else InputKind.TEXT,
        command=command,
        text=text,
    )


async def _rows(sessions: async_sessionmaker[AsyncSession]) -> list[PendingMessage]:
    async with sessions() as session:
        return list(await session.scalars(select(PendingMessage).order_by(PendingMessage.id)))


async def test_a_crash_between_commit_and_send_loses_no_reply(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    """Killed after the update committed, before anything was sent: the replies and the
    notice are in the database, sealed and in hand; another instance's tick sends each of
    them once the lease lapses, exactly once, and a re-delivered update is still dropped."""
    clock = Clock()
    bob = Chat(make_engine(sessions, ROUTES, clock=clock))
    await bob.say("bob", "hi")  # someone to notify
    doomed = make_engine(sessions, ROUTES, clock=clock)
    dying = Dying()
    doomed.add_sender(Channel.TELEGRAM, dying)
    poke = _update("ana", "", 1, command="poke")
    with pytest.raises(Killed):
        await doomed.handle(poke)
    assert dying.attempts == 1

    rows = await _rows(sessions)
    assert len(rows) == 3  # ana's two replies, bob's notice
    assert all(row.lease_until == clock() + JOURNAL_LEASE and row.attempts == 0 for row in rows)
    for row in rows:  # sealed: neither text nor address in clear
        assert b"poke" not in row.sealed
        assert b"telegram-" not in row.sealed

    survivor = make_engine(sessions, ROUTES, clock=clock)
    sender = MemorySender()
    survivor.add_sender(Channel.TELEGRAM, sender)
    await survivor.handle(poke)  # Telegram re-delivers: already handled, dropped
    assert sender.sent == {}
    clock.advance(seconds=JOURNAL_LEASE.total_seconds() - 1)
    assert not await run_notices_due(survivor)  # the dead instance's lease still runs
    clock.advance(seconds=2)
    report = await run_notices_due(survivor)
    # Taken back as doubtful: the dead process might have sent them (it did not, here).
    assert (report.recovered, report.unknown, report.sent) == (3, 3, 0)
    assert texts(sender.sent["telegram-ana"]) == "poked them\nanything else?"
    assert texts(sender.sent["telegram-bob"]) == "you were poked"
    clock.advance(minutes=5)
    assert not await run_notices_due(survivor)
    assert await _rows(sessions) == []
    assert sum(len(replies) for replies in sender.sent.values()) == 3


async def test_replies_are_journaled_before_the_send_and_gone_after(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    """While a reply is sent its row is in the database (in hand, so a tick leaves it
    alone); once the update's sends are done no row is left, the notice's included."""
    clock = Clock()
    engine = make_engine(sessions, ROUTES, clock=clock)
    seen: list[int] = []

    async def during(address: str, reply: Reply) -> None:
        seen.append(len(await _rows(sessions)))
        assert not await run_notices_due(engine)  # in hand: no tick takes it meanwhile

    spy = Spy(during)
    engine.add_sender(Channel.TELEGRAM, spy)
    await engine.handle(_update("bob", "hi", 1))
    await engine.handle(_update("ana", "", 2, command="poke"))
    assert seen == [1, 3, 3, 3]
    assert spy.sent[1:] == [
        ("telegram-ana", "poked them"),
        ("telegram-ana", "anything else?"),
        ("telegram-bob", "you were poked"),
    ]
    assert await _rows(sessions) == []


async def test_a_slow_send_keeps_its_lease(sessions: async_sessionmaker[AsyncSession]) -> None:
    """Sends that together outlast the lease renew it: a tick meanwhile resends nothing."""
    clock = Clock()
    engine = make_engine(sessions, ROUTES, clock=clock)
    others = make_engine(sessions, ROUTES, clock=clock)
    others.add_sender(Channel.TELEGRAM, MemorySender())

    async def during(address: str, reply: Reply) -> None:
        clock.advance(seconds=25)  # each send slow, under the send timeout
        assert not await run_notices_due(others)

    spy = Spy(during)
    engine.add_sender(Channel.TELEGRAM, spy)
    await engine.handle(_update("bob", "hi", 1))
    await engine.handle(_update("ana", "", 2, command="poke"))  # 3 sends: 75 s
    assert [text for _, text in spy.sent] == [
        "menu",
        "poked them",
        "anything else?",
        "you were poked",
    ]
    assert await _rows(sessions) == []


async def test_a_refused_reply_queues_the_rest_in_place(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    """A 429 on the first reply: it and the one after it wait in the queue (the second
    untried), the other contact's notice still goes out; the tick sends them in order."""
    clock = Clock()
    engine = make_engine(sessions, ROUTES, clock=clock)
    spy = Spy(lambda address, reply: None)
    engine.add_sender(Channel.TELEGRAM, spy)
    await engine.handle(_update("bob", "hi", 1))
    spy.status = [SendStatus.RETRY]
    await engine.handle(_update("ana", "", 2, command="poke"))
    assert spy.sent[1:] == [("telegram-bob", "you were poked")]
    rows = await _rows(sessions)
    assert [(row.lease_until, row.attempts) for row in rows] == [(None, 1), (None, 0)]
    # ana's next update joins the queue too (behind the refused ones), untried
    await engine.handle(_update("ana", "again", 3))
    assert len(spy.sent) == 2
    clock.advance(minutes=2)
    report = await run_notices_due(engine)
    assert report.sent == 3
    assert [text for address, text in spy.sent[2:]] == ["poked them", "anything else?", "menu"]
    assert await _rows(sessions) == []


async def test_a_reply_in_hand_elsewhere_does_not_hold_up_the_next(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    """Normal case: bob's notice is in hand (its instance is sending it) when bob's own
    update is handled: his answer goes at once, not to the tick. Only a lapsed lease (its
    sender died) makes later messages queue behind, and the tick keeps their order."""
    clock = Clock()
    gate = asyncio.Event()
    sending = asyncio.Event()

    async def during(address: str, reply: Reply) -> None:
        if reply.text == "you were poked":
            sending.set()
            await gate.wait()

    slow = make_engine(sessions, ROUTES, clock=clock)
    slow.add_sender(Channel.TELEGRAM, Spy(during))
    chat = Chat(make_engine(sessions, ROUTES, clock=clock))
    await chat.say("bob", "hi")
    poking = asyncio.create_task(slow.handle(_update("ana", "", 1, command="poke")))
    await sending.wait()
    assert len(await _rows(sessions)) == 3  # ana's replies (sent) and bob's notice, in hand
    assert texts(await chat.say("bob", "hello")) == "menu"  # at once
    gate.set()
    await poking
    assert await _rows(sessions) == []

    # A dead instance's notice for bob, lapsed: bob's next answer waits behind it.
    doomed = make_engine(sessions, ROUTES, clock=clock)
    doomed.add_sender(Channel.TELEGRAM, Dying())
    with pytest.raises(Killed):
        await doomed.handle(_update("ana", "", 2, command="poke"))
    clock.advance(seconds=JOURNAL_LEASE.total_seconds() + 1)
    assert await chat.say("bob", "hello") == []
    await run_notices_due(chat.engine)
    assert texts(chat.inbox("bob")[-2:]) == "you were poked\nmenu"


async def test_many_updates_at_once_leave_no_row(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    """Updates finishing together share the sweeps that delete their sent rows: every reply
    arrives once and nothing stays behind for the tick."""
    engine = make_engine(sessions, ROUTES)
    sender = MemorySender()
    engine.add_sender(Channel.TELEGRAM, sender)
    await asyncio.gather(*(engine.handle(_update(f"p{n}", "hi", n)) for n in range(12)))
    assert sorted(sender.sent) == sorted(f"telegram-p{n}" for n in range(12))
    assert all(texts(replies) == "menu" for replies in sender.sent.values())
    assert await _rows(sessions) == []
    clock = engine.clock
    assert isinstance(clock, Clock)
    clock.advance(minutes=5)
    assert not await run_notices_due(engine)


async def test_an_update_answered_outside_its_handler_is_answered_by_one_instance_only(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    """Every instance connected to Signal receives every message: a message that failed on
    one (the person was told nothing changed) is not handled again by the next, and a flood
    warning comes once, not once per instance."""
    sender = MemorySender()
    engines = [make_engine(sessions, ROUTES) for _ in range(2)]
    for engine in engines:
        engine.add_sender(Channel.SIGNAL, sender)

    def update(key: str, text: str, kind: InputKind = InputKind.TEXT) -> Incoming:
        return Incoming(
            channel=Channel.SIGNAL,
            sender_id="id-ana",
            address="ana",
            update_key=key,
            kind=kind,
            command=text.lstrip("/") if kind is InputKind.COMMAND else None,
            text="" if kind is InputKind.COMMAND else text,
        )

    for engine in engines:
        await engine.handle(update("sig:start", "/start", InputKind.COMMAND))
        await engine.handle(update("sig:boom", "/boom", InputKind.COMMAND))
    said = texts(sender.sent["ana"]).splitlines()
    assert said == [
        "say something",
        "Sorry, something went wrong. Nothing was changed; please try again.",
    ]

    for engine in engines:
        engine.limiter = RateLimiter(burst=1, max_waiting=0)
        engine.monotonic = lambda: 0.0
    sender.sent.clear()
    for n in range(2):
        for engine in engines:
            await engine.handle(update(f"sig:fast{n}", "x"))
    said = texts(sender.sent["ana"]).splitlines()
    assert said.count("heard 1") == 1
    assert sum("very fast" in line for line in said) == 1
