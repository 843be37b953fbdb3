"""The engine: one update in, one transaction, replies and notices out after commit.

Order of work for an update: flood control → de-duplication → contact by pseudonym →
conversation state → handler → journal its messages → commit → send. An exception in a
handler rolls the transaction back, is logged without identifiers, and the person gets a short
apology: it never stops the bot.

The replies and notices are written sealed in the update's own transaction, in hand to this
process, sent right after commit and then deleted in one statement: killed in between, it
leaves them to the notices tick of any instance (:mod:`bot.services.journal`). A message to a
known contact that a channel refuses for now (RETRY: a 429, an outage, a captcha) stays queued
and is sent again by the tick (:mod:`bot.services.notices`), as are later messages to that
contact until the queue is empty, so none overtakes another.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any, Final, Protocol, cast

from sqlalchemy import (
    Executable,
    Row,
    Table,
    and_,
    bindparam,
    select,
    text,
)
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.core import typed_options
from bot.core.context import Context, Deps, Outbound, Person, Scope
from bot.core.messages import Incoming, InputKind, Reply, SendResult, SendStatus
from bot.core.meter import Meter
from bot.core.ratelimit import RateLimiter, Verdict
from bot.core.routes import Routes
from bot.db.models import (
    Contact,
    ConversationState,
    Coordinator,
    PeerWorker,
    PendingMessage,
    SeenUpdate,
)
from bot.domain import Channel
from bot.privacy import AddressBox, AddressUnreadable, hour_of, pseudonym
from bot.services import contacts, conversations, journal, notices, subscriptions
from bot.services.conversations import State

log = logging.getLogger(__name__)

Clock = Callable[[], datetime]


class Sender(Protocol):
    """What a channel offers the engine: deliver one reply to one address."""

    async def send(self, address: str, reply: Reply) -> SendStatus: ...


@dataclass
class Outgoing:
    """One message to send after commit, addressed and rendered.

    ``contact_id`` and ``keep_for``: whose queue it joins, and for how long, if refused (None:
    nobody's, e.g. last words after /forget). ``row``: its journal row (see
    :mod:`bot.services.journal`); ``behind``: messages wait for that contact, so it goes
    into the queue without a try (with a row: already written there).
    """

    channel: Channel
    address: str
    reply: Reply
    contact_id: int | None = None
    keep_for: timedelta | None = None
    behind: bool = False
    row: int | None = None


@dataclass
class Batch:
    """What one unit of work sends after commit; ``lease``: until when its journaled rows
    in hand are this process's to send (None: nothing journaled)."""

    items: list[Outgoing] = field(default_factory=list)
    lease: datetime | None = None


class Engine:
    """Turns neutral updates into handler calls and delivers what they produce."""

    def __init__(
        self,
        *,
        sessions: async_sessionmaker[AsyncSession],
        deps: Deps,
        box: AddressBox,
        routes: Routes,
        clock: Clock,
        limiter: RateLimiter | None = None,
        monotonic: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        meter: Meter | None = None,
    ) -> None:
        self.sessions = sessions
        self.deps = deps
        self.box = box
        self.routes = routes
        self.clock = clock
        self.limiter = limiter or RateLimiter()
        self.monotonic = monotonic
        self.sleep = sleep  # how a message too early waits for its turn (tests pass a fake)
        self.senders: dict[Channel, Sender] = {}
        self._outbox_wakers: list[Callable[[], None]] = []
        self.meter = meter  # counts for /metrics (bot.web); None: nothing counted
        self._sweeper = journal.Sweeper(sessions)  # deletes journaled messages once sent

    def count_send(self, channel: Channel, result: SendResult) -> None:
        """Tell the meter (if any) how a send on ``channel`` ended."""
        if self.meter is not None:
            self.meter.sent(channel.value, result)

    def add_sender(self, channel: Channel, sender: Sender) -> None:
        """Register the channel that delivers to contacts of ``channel``."""
        self.senders[channel] = sender

    def on_outbox_work(self, wake: Callable[[], None]) -> None:
        """Call ``wake`` when a handler queued alert work (the runner starts the outbox)."""
        self._outbox_wakers.append(wake)

    def wake_outbox(self) -> None:
        """Tell the outbox that alert work was committed (see :meth:`Scope.wake_outbox`)."""
        for wake in self._outbox_wakers:
            wake()

    async def handle(self, msg: Incoming) -> None:
        """Process one update completely; never raises."""
        if self.meter is None:
            await self._handle(msg)
            return
        started = self.monotonic()
        try:
            await self._handle(msg)
        finally:
            seconds = max(0.0, self.monotonic() - started)
            self.meter.update_handled(msg.channel.value, msg.kind.value, seconds)

    async def _handle(self, msg: Incoming) -> None:
        alias = pseudonym(self.deps.keys.pseudonym, msg.channel.value, msg.sender_id)
        admission = self.limiter.admit(alias, self.monotonic())
        verdict = admission.verdict
        if verdict is Verdict.DROP:
            return
        if verdict is Verdict.WAIT:
            # A second tap a moment too soon: handled shortly, not lost. The limiter bounds
            # both the wait and how many of one sender's messages wait at once.
            await self.sleep(admission.wait)
        translator = self.deps.words.for_locale(msg.locale_hint)
        if verdict is Verdict.WARN:
            if await self._answer_once(msg):
                text = translator("You are sending messages very fast. Please wait a moment.")
                await self._send(msg.channel, msg.address, Reply(text, locale=translator.locale))
            return
        try:
            ran = await self._run(msg, alias)
        except Exception:
            # Only the type and where it happened: the update itself may hold identifiers.
            log.exception("update failed (channel=%s kind=%s)", msg.channel.value, msg.kind.value)
            if not await self._answer_once(msg):
                return
            sorry = translator(
                "Sorry, something went wrong. Nothing was changed; please try again."
            )
            await self._send(msg.channel, msg.address, Reply(sorry, locale=translator.locale))
            return
        if ran is None:
            return
        ctx, batch = ran
        if ctx.wakes_outbox:
            self.wake_outbox()  # committed: the outbox may claim what the handler queued
        await self._dispatch(batch)

    async def _answer_once(self, msg: Incoming) -> bool:
        """Note an update answered outside its handler (a flood warning, an apology) as seen;
        False when it already was. Every instance connected to Signal receives every message,
        so without this each would warn, and the next would handle again a message that
        failed here after the person was told "nothing was changed". True when the database
        cannot say (the person is answered rather than left without a word)."""
        if not msg.update_key:
            return True
        try:
            async with self.sessions.begin() as session:
                return await self._first_sight(session, msg.update_key, self.clock())
        except Exception:
            log.warning("could not note an update as answered; answering anyway")
            return True

    async def _run(self, msg: Incoming, alias: str) -> tuple[Context, Batch] | None:
        """The handler's context after commit, and its messages, journaled (see
        :mod:`bot.services.journal`) with the update so that a crash after commit loses none."""
        now = self.clock()
        async with self.sessions.begin() as session:
            await self._serialise(session, alias)
            if msg.update_key and not await self._first_sight(session, msg.update_key, now):
                return None
            contact, person, state, state_on, queued = await self._who(session, msg, alias, now)
            ctx = Context(
                session=session,
                now=now,
                deps=self.deps,
                who=person,
                t=self.deps.words.for_locale(contact.locale),
                state=state,
                pressed=msg.message_ref if msg.kind is InputKind.OPTION else None,
            )
            msg = typed_options.resolve(msg, state)
            handler = self.routes.resolve(msg, state)
            await handler(msg, ctx)
            typed_options.remember(ctx.state, ctx.replies)
            await self._keep_state(session, ctx, state_on)
            batch = await self._journal(session, msg, ctx, queued)
        return ctx, batch

    async def _journal(
        self, session: AsyncSession, msg: Incoming, ctx: Context, queued: bool
    ) -> Batch:
        """The update's replies (to the sender) and notices (to others), written in its
        transaction: in hand to be sent after commit, or straight into the queue behind
        messages already waiting for that contact (or while the channel holds sends)."""
        mine = ctx.person.contact_id
        spoken = ctx.t.locale if ctx.t is not None else None
        outgoing = [
            Outgoing(
                channel=msg.channel,
                address=msg.address,
                # one built without ctx.reply(): in the language the handler spoke
                reply=replace(reply, locale=spoken) if reply.locale is None else reply,
                contact_id=mine,
                keep_for=notices.REPLY_TTL,
                behind=queued,
            )
            for reply in ctx.replies
        ]
        if outgoing and await session.get(Contact, mine) is None:
            # /forget: nobody left to queue for; its last words go out unjournaled
            outgoing = [replace(item, contact_id=None) for item in outgoing]
        outgoing += await self._addressed(session, ctx.outbound)
        now = self.clock()
        kept = [
            item
            for item in outgoing
            if item.contact_id is not None
            and item.keep_for is not None
            and item.channel in self.senders
        ]
        if not kept:
            return Batch(outgoing)  # no statement for an update that answers nothing
        entries = [
            journal.Entry(
                contact_id=cast(int, item.contact_id),
                reply=item.reply,
                keep_for=cast(timedelta, item.keep_for),
                queued=item.behind or notices.held(self.senders[item.channel]),
            )
            for item in kept
        ]
        ids = await journal.write(session, box=self.box, entries=entries, now=now)
        for item, entry, row in zip(kept, entries, ids, strict=True):
            item.row, item.behind = row, entry.queued
        return Batch(outgoing, lease=now + journal.JOURNAL_LEASE)

    async def _keep_state(self, session: AsyncSession, ctx: Context, state_on: int | None) -> None:
        """Store the conversation state the handler left: a staff flow's on the staff contact,
        any other on the person's own, so no row ties the person to staff work; the contact
        that held it before loses it when it moves. No state before or after: no round trip."""
        person, ttl = ctx.person, self.deps.config.state_ttl
        target = state_on
        if ctx.state is not None:
            staff = ctx.state.flow in self.routes.staff_flows and person.staff_contact_id
            target = person.staff_contact_id if staff else person.contact_id
        if state_on is not None and state_on != target:
            await conversations.save(session, contact_id=state_on, state=None, now=ctx.now, ttl=ttl)
        if target is not None and await session.get(Contact, target) is not None:  # not /forget
            await conversations.save(
                session, contact_id=target, state=ctx.state, now=ctx.now, ttl=ttl
            )

    async def _serialise(self, session: AsyncSession, alias: str) -> None:
        """On PostgreSQL, wait for any other transaction handling this person's updates, on
        this instance or another, and hold them off until this one ends.

        Telegram sends over several webhook connections at once and every instance connected
        to signal-cli receives every Signal message, so two updates of one person can be in
        hand on two instances together: without this both would read the same conversation
        state and the conversation would fork. The transaction-scoped advisory lock is gone at
        commit, rollback or a dropped connection (a killed instance never leaves it held), and
        lives in PostgreSQL's memory only. Taken first, so updates go through in the order
        they reached the database. SQLite needs nothing: one instance runs on a file, and each
        channel keeps one chat's updates in order in-process.
        """
        if session.get_bind().dialect.name == "postgresql":
            await session.execute(_PERSON_LOCK, {"key": lock_key(alias)})

    async def _first_sight(self, session: AsyncSession, key: str, now: datetime) -> bool:
        """Note update ``key`` as handled; False if it already was (a re-delivery).

        Stored keyed and to the hour: Telegram's update id and the exact time would let whoever
        holds the platform's logs name the sender of the rows the update wrote.
        """
        statement = _FIRST_SIGHT[session.get_bind().dialect.name]
        values = {"key": seen_key(self.deps.keys.pseudonym, key), "seen_at": hour_of(now)}
        result = await session.execute(statement, values)
        return result.first() is not None

    async def _who(
        self, session: AsyncSession, msg: Incoming, alias: str, now: datetime
    ) -> tuple[Contact, Person, State | None, int | None, bool]:
        """The sender's contact, roles, conversation state (and the contact holding it) and
        whether messages wait for it: one round trip for someone known (most updates); a new
        contact is added first, then read the same way.

        The person's own contact and their staff contact (roles; see :class:`Person`) are
        read together by their two pseudonyms, which only the platform id connects.
        """
        staff_alias = contacts.staff_alias(self.deps.keys, msg.channel, msg.sender_id)
        mine, staff = await self._known(session, alias, staff_alias, now)
        if not mine:
            await contacts.add(
                session,
                alias=alias,
                box=self.box,
                channel=msg.channel,
                address=msg.address,
                locale=_locale_tag(msg.locale_hint),
                now=now,
            )
            # Normally the row just added; but another instance may have created it a moment
            # ago, roles and state included.
            mine, staff = await self._known(session, alias, staff_alias, now)
        first = mine[0]
        contact = first.Contact
        if any(row.peer_id is not None or row.coordinator_id is not None for row in mine):
            # A contact from before staff contacts: its roles move to a staff contact of their
            # own now that the platform id is at hand to derive it (the one moment it is).
            staff_id = await contacts.staff_contact(
                session,
                keys=self.deps.keys,
                channel=msg.channel,
                platform_id=msg.sender_id,
                address=msg.address,
                locale=contact.locale,
                now=now,
            )
            await contacts.move_roles(session, from_id=contact.id, to_id=staff_id)
            mine, staff = await self._known(session, alias, staff_alias, now)
            first = mine[0]
        staff_contact = staff[0].Contact if staff else None
        for found in (contact, staff_contact):
            if found is None:
                continue
            await contacts.mark_seen(session, found, now=now)
            if found.reply_address is None:  # dropped while nothing was open: seal it again
                await contacts.reseal(session, found, box=self.box, address=msg.address)
        person = Person(
            contact_id=contact.id,
            channel=contact.channel,
            locale=contact.locale,
            peer_ids=tuple(sorted(row.peer_id for row in staff if row.peer_id is not None)),
            coordinator_id=staff[0].coordinator_id if staff else None,
            staff_contact_id=staff_contact.id if staff_contact is not None else None,
        )
        # At most one of the two holds a state (see _keep_state); the person's own first.
        state = await conversations.from_row(session, first, contact_id=contact.id, now=now)
        state_on = contact.id if state is not None else None
        if state is None and staff_contact is not None:
            state = await conversations.from_row(
                session, staff[0], contact_id=staff_contact.id, now=now
            )
            state_on = staff_contact.id if state is not None else None
        # Replies are queued under the person's own contact: its queue is the one they join.
        return contact, person, state, state_on, bool(first.queued)

    async def _known(
        self, session: AsyncSession, alias: str, staff_alias: str, now: datetime
    ) -> tuple[Sequence[Row[Any]], Sequence[Row[Any]]]:
        """The rows of the person's own contact and of their staff contact (either may be
        empty), from one query."""
        values = {"alias": alias, "staff": staff_alias, "now": now}
        rows = (await session.execute(_KNOWN, values)).all()
        mine = [row for row in rows if row.Contact.pseudonym == alias]
        staff = [row for row in rows if row.Contact.pseudonym == staff_alias]
        return mine, staff

    def scope(self, session: AsyncSession, now: datetime | None = None) -> Scope:
        """A scope for due work that has no sender (timeouts, expiry)."""
        return Scope(session=session, now=now or self.clock(), deps=self.deps)

    async def deliver(self, outbound: list[Outbound]) -> None:
        """Render each message in its recipient's language and send it on their channel
        (not journaled: for due work that sends what its own transaction produced)."""
        if not outbound:
            return
        async with self.sessions() as session:
            items = await self._addressed(session, outbound)
        await self._dispatch(Batch(items))

    async def _addressed(self, session: AsyncSession, outbound: list[Outbound]) -> list[Outgoing]:
        """``outbound`` rendered for its recipients that can be reached, each marked
        ``behind`` when messages already wait for its contact."""
        if not outbound:
            return []
        ids = {o.contact_id for o in outbound}
        rows = (await session.scalars(select(Contact).where(Contact.id.in_(ids)))).all()
        behind = await notices.queued_for(session, ids, now=self.clock())
        by_id: Mapping[int, Contact] = {c.id: c for c in rows}
        items: list[Outgoing] = []
        for item in outbound:
            contact = by_id.get(item.contact_id)
            if contact is None or not contact.reachable or contact.reply_address is None:
                continue  # gone (/forget), blocked us, or nothing open: no address kept
            try:
                address = self.box.open(contact.reply_address)
            except AddressUnreadable:
                log.warning("reply address unreadable (key changed?); contact skipped")
                continue
            translator = self.deps.words.for_locale(contact.locale)
            reply = item.render(translator)
            if reply.locale is None:
                reply = replace(reply, locale=translator.locale)
            items.append(
                Outgoing(
                    channel=contact.channel,
                    address=address,
                    reply=reply,
                    contact_id=contact.id,
                    keep_for=self.deps.config.request_ttl,  # may carry state: a code, an offer
                    behind=contact.id in behind,
                )
            )
        return items

    async def _dispatch(self, batch: Batch) -> None:
        """Send a batch in order; a contact's messages after one refused queue behind it.

        Journaled rows are settled afterwards in one transaction (normally one DELETE); a
        message not journaled is queued on its own if refused, as :meth:`_send` does.
        """
        outcome = journal.Outcome(done=[], release=[], refused=[], blocked=set())
        refused: set[int] = set()  # contacts with a message of this batch queued
        lease = batch.lease
        mine = [item.row for item in batch.items if item.row is not None and not item.behind]
        for item in batch.items:
            if item.row is None:  # not journaled
                status = await self._send(
                    item.channel,
                    item.address,
                    item.reply,
                    contact_id=item.contact_id,
                    keep_for=item.keep_for,
                    behind=item.behind or item.contact_id in refused,
                )
                if status is SendStatus.RETRY and item.contact_id is not None:
                    refused.add(item.contact_id)
                continue
            if item.behind:
                continue  # written into the queue: the tick sends it in turn
            contact_id = cast(int, item.contact_id)
            sender = self.senders.get(item.channel)
            if sender is not None and notices.held(sender):
                refused.add(contact_id)  # the channel began to hold sends since the commit
            if contact_id in refused or contact_id in outcome.blocked:
                # Behind one refused (into the queue, untried) or to a contact that blocked
                # us (drop_unreachable deletes its rows; sending again would not arrive).
                outcome.release.append(item.row)
                continue
            if lease is not None and lease - self.clock() < journal.RENEW_MARGIN:
                lease = await self._renew(mine, lease)
            result = await self._attempt(item)
            if result.status is SendStatus.RETRY:
                outcome.refused.append((item.row, result))
                refused.add(contact_id)
            elif result.status is SendStatus.UNREACHABLE:
                outcome.blocked.add(contact_id)
            else:
                outcome.done.append(item.row)
        if not outcome:
            return
        if not (outcome.release or outcome.refused or outcome.blocked):
            await self._sweeper.sweep(outcome.done)  # the normal case: all sent
            return
        try:
            async with self.sessions.begin() as session:
                await journal.settle(session, outcome=outcome, now=self.clock())
        except Exception:
            # The rows stay in hand until their lease lapses; then the tick sends them again.
            log.exception("could not record sent messages; some may be sent twice")

    async def _renew(self, rows: list[int], lease: datetime) -> datetime:
        """A longer lease for the batch's rows in hand, before a send that could outlast it;
        the old one if it cannot be written (a lapse costs a duplicate, never a loss)."""
        try:
            async with self.sessions.begin() as session:
                return await journal.renew(session, ids=rows, now=self.clock())
        except Exception:
            log.exception("could not extend the lease of messages being sent")
            return lease

    async def _attempt(self, item: Outgoing) -> SendResult:
        """One try of a journaled message (what becomes of it is :func:`journal.settle`'s)."""
        sender = self.senders.get(item.channel)
        if sender is None:
            log.warning("no sender for channel %s; message dropped", item.channel.value)
            return SendResult(SendStatus.FAILED)
        result = await notices.attempt(sender, item.address, item.reply)
        self.count_send(item.channel, result)
        return result

    async def _send(
        self,
        channel: Channel,
        address: str,
        reply: Reply,
        *,
        contact_id: int | None = None,
        keep_for: timedelta | None = None,
        behind: bool = False,
    ) -> SendStatus:
        """Send at once; with ``contact_id`` and ``keep_for``, a refused message is queued for
        the tick instead of lost (and queued straight away ``behind`` others, or while the
        channel holds sends back)."""
        sender = self.senders.get(channel)
        if sender is None:
            log.warning("no sender for channel %s; message dropped", channel.value)
            return SendStatus.FAILED
        # Queued straight away; if it cannot be stored (the contact was just deleted,
        # /forget), its last words are sent now instead.
        if (
            contact_id is not None
            and keep_for is not None
            and (behind or notices.held(sender))
            and await notices.enqueue(self, contact_id=contact_id, reply=reply, keep_for=keep_for)
        ):
            return SendStatus.RETRY
        result = await notices.attempt(sender, address, reply)
        self.count_send(channel, result)
        status = result.status
        if status is SendStatus.RETRY and contact_id is not None and keep_for is not None:
            await notices.enqueue(
                self, contact_id=contact_id, reply=reply, keep_for=keep_for, result=result
            )
        if status is SendStatus.UNREACHABLE and contact_id is not None:
            # The same consequence as in the alert outbox: unreachable, unsubscribed, and
            # nothing else queued for it.
            async with self.sessions.begin() as session:
                await subscriptions.drop_unreachable(session, contact_ids=[contact_id])
        return status


def seen_key(key: bytes, update_key: str) -> str:
    """What ``seen_updates`` keeps for a channel's update key: its keyed hash, 48 hex digits
    (192 bits: no collision in a day's updates; the column's width, so no migration).

    The ``update`` label keeps it apart from every person's pseudonym under the same key.
    """
    return pseudonym(key, "update", update_key)[:48]


def lock_key(alias: str) -> int:
    """The advisory lock key of the person with pseudonym ``alias``: its first 64 bits as a
    signed bigint (a keyed hash, so the key names no one; a shared key between two people
    only makes them wait for each other)."""
    return int.from_bytes(bytes.fromhex(alias[:16]), "big", signed=True)


_PERSON_LOCK: Final = text("SELECT pg_advisory_xact_lock(:key)")

# The statements every update runs, built once: building one costs more CPU than SQLite
# takes to run it. Inserts name the table, not the mapped class: an ORM-enabled insert goes
# through the ORM's bulk machinery, about 0.2 ms more per statement for nothing used here.
_SEEN: Final = cast(Table, SeenUpdate.__table__)
_FIRST_SIGHT: Final[Mapping[str, Executable]] = {
    name: insert(_SEEN)
    .values(key=bindparam("key"), seen_at=bindparam("seen_at"))
    .on_conflict_do_nothing(index_elements=["key"])
    .returning(_SEEN.c.key)
    for name, insert in (("postgresql", pg_insert), ("sqlite", sqlite_insert))
}


# For each of the two contacts found (the person's own, their staff one), one row per active
# peer role (or one with no peer), each with the contact, its coordinator id and its
# conversation state.
_KNOWN: Final = (
    select(
        Contact,
        PeerWorker.id.label("peer_id"),
        select(Coordinator.id)
        .where(Coordinator.contact_id == Contact.id)
        .scalar_subquery()
        .label("coordinator_id"),
        select(PendingMessage.id)
        .where(PendingMessage.contact_id == Contact.id, notices.waiting(bindparam("now")))
        .limit(1)
        .exists()
        .label("queued"),
        *conversations.COLUMNS,
    )
    .outerjoin(ConversationState, ConversationState.contact_id == Contact.id)
    .outerjoin(PeerWorker, and_(PeerWorker.contact_id == Contact.id, PeerWorker.active.is_(True)))
    .where(Contact.pseudonym.in_([bindparam("alias"), bindparam("staff")]))
)


def _locale_tag(hint: str | None) -> str | None:
    if not hint:
        return None
    tag = hint.strip()[:16]
    return tag if tag.replace("-", "").replace("_", "").isalnum() else None
