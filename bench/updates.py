"""Update-handling benchmark: hrbot's real application against the Bot API emulator, next to a
bare python-telegram-bot echo bot.

Run ``python -m bench.updates``. One run measures:

(a) **echo**: a bare PTB ``Application`` with one ``MessageHandler`` that sends the text back,
    polling the emulator (PTB's defaults: one update at a time, its own HTTP client, no rate
    limiter; allowed updates as hrbot's channel, which handles chats concurrently). Many fake
    people each send a few messages; each sends the next as soon as the reply to the previous
    one is recorded: one update in flight per person and hundreds of people at once, so the
    bot's queue never runs dry.
(b) **full**: the same load through hrbot (``TelegramChannel`` → engine → handlers → database):
    distinct people each send ``/start`` and ``/supplies``, tap kit → syringes → 2 packs →
    done, and share a location, ending on the "Send request" screen (7 updates, under the
    per-person flood limit). SQLite in a temp dir always; PostgreSQL too when
    ``HRBOT_TEST_POSTGRES_URL`` is set (a database of its own, dropped afterwards).
(c) **confirm→offer**: people on the "Send request" screen tap it at a steady rate while a peer
    is on shift at each demo peer outlet; a sample is the time from the tap being queued at the
    emulator to the offer being recorded in the peer's chat.
(d) **replay**: (b)'s load against a bare PTB bot with no handler work that makes exactly the
    Bot API calls hrbot made for one person in (b) (the same messages and buttons, and an
    ``answerCallbackQuery`` for every tap), with PTB's own client and with hrbot's: the most any
    PTB bot could do with (b)'s updates, so the table shows how much of full's cost is hrbot's.

(a)+(b) and (a)+(d) run ``--rounds`` times (5 by default), the echo bot each time right before
the bot it is compared with: this machine's speed drifts by 10-20 % within minutes, and a
ratio of two runs far apart in time measured the drift. The summary gives the median ratio
and every round's. Single rounds of one run have differed by up to 0.2 (0.57-0.76): with 3
rounds, one slow stretch of the machine could move the median by 0.1.

Throughput is counted from the first update queued to the last reply recorded. ``cpu ms/u`` is
the process's CPU time per update (bot, emulator and driver alike: they share one process and
one event loop, as in ``hrbot demo``); it moves less than updates/s when the machine is busy.
Throughput rows print no latency: with every person waiting on one reply, queued→reply time is
just (people in flight) / throughput. Figures are printed, never asserted.

**Rate limiter.** hrbot's channel wraps PTB's ``AIORateLimiter``, whose overall limit
(Telegram's 30 messages/s for a whole bot) pins any bot that answers every update at ~30/s and
hides what the handler costs. So (a) and (b) run with that limit off (``TelegramChannel(
max_rate=0)``, everything else as the app sets it), and (c) runs both ways: ``off``
shows what the application itself adds, ``app`` is production, where each confirm costs two
limited messages (the person's "Request sent" and the peer's offer).

People for (c) are the ones (b) left on the "Send request" screen, then copies of one of them:
a new contact given that person's conversation state, and the same confirm message in the new
chat (seeded straight into the database and the emulator: no hand-written state).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import functools
import logging
import math
import os
import random
import re
import secrets
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Final

from sqlalchemy import make_url, select, text
from telegram import Update
from telegram.ext import (
    Application,
    ApplicationBuilder,
    BaseHandler,
    ContextTypes,
    MessageHandler,
    TypeHandler,
    filters,
)
from telegram.request import BaseRequest

from bot.app import Runtime, build_runtime, prepare_database
from bot.channels.telegram import (
    ALLOWED_UPDATES,
    DEFAULT_MAX_RATE,
    TelegramChannel,
    post_message,
)
from bot.channels.telegram_request import AiohttpRequest
from bot.content import load_outlets
from bot.db.engine import make_engine
from bot.db.models import ConversationState, Stock
from bot.demo import NEAR_MAIN_AND_HASTINGS, SYRINGES, DemoClock
from bot.domain import Channel, Role
from bot.emulator import TelegramEmulator
from bot.emulator.people import FakeUser
from bot.emulator.records import SentMessage
from bot.runner import BotService, build_engine
from bot.services import contacts, conversations, invites, stock
from bot.services.outlets import import_outlets
from bot.settings import load_settings
from handlers.routes import build_routes

POSTGRES_ENV: Final = "HRBOT_TEST_POSTGRES_URL"
POLL_TIMEOUT: Final = 10.0  # TelegramChannel's default long poll
PEER_OUTLETS: Final = ("main_hastings_peer", "oppenheimer_peer", "drive_peer", "whalley_peer")
KIT: Final = "Kit for injecting and smoking"
SEND: Final = "Send request"
STOCK: Final = 1_000_000
# A load run ends when nobody got a reply for this long; who is still waiting counts as dropped.
STALL_SECONDS: Final = 10.0
# After the last confirm, how long offers may take to arrive.
DRAIN_SECONDS: Final = 60.0
# hrbot's HTTP client: AiohttpRequest (the channel's default) or PTB's own httpx.
HTTP_CLIENTS: Final[dict[str, Callable[[], BaseRequest] | None]] = {
    "aiohttp": AiohttpRequest,  # the channel's default
    "httpx": None,  # PTB's own, as the echo bot uses
}
_REFERENCE = re.compile(r"Reference: (\S+)")
_JOIN = re.compile(r"/join ([0-9A-Z-]{10,11})")
_FLOOD_WARNING = "sending messages very fast"

JSONDict = dict[str, Any]
Ready = tuple[FakeUser, SentMessage]  # a person and the confirm message they can tap


# --- results -------------------------------------------------------------------------------------


def percentile(samples: Sequence[float], share: float) -> float:
    """Nearest-rank percentile (``share`` in 0-1) of a non-empty sample."""
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, max(0, math.ceil(share * len(ordered)) - 1))]


@dataclass
class Row:
    """One line of the result table."""

    scenario: str
    backend: str
    http: str
    limiter: str
    updates: int
    seconds: float
    rate: float
    cpu_seconds: float | None = None
    ratio: float | None = None
    latencies_ms: Sequence[float] = ()
    dropped: int = 0
    note: str = ""
    round: int = 0  # which load round (a, b and the replay run several; see --rounds)


# --- fake people ---------------------------------------------------------------------------------


def message_update(emu: TelegramEmulator, user: FakeUser, fields: JSONDict) -> JSONDict:
    """A ``message`` update from ``user`` in their private chat, as a client sends it."""
    user.started = True
    message = {
        **fields,
        "message_id": user.chat.take_message_id(),
        "from": user.as_dict(),
        "chat": user.chat.as_dict(),
        "date": emu.now(),
    }
    return {"message": message}


def say(emu: TelegramEmulator, user: FakeUser, words: str) -> JSONDict:
    """``user`` types ``words``; a leading command gets its ``bot_command`` entity."""
    fields: JSONDict = {"text": words}
    if words.startswith("/"):
        length = len(words.split(maxsplit=1)[0])
        fields["entities"] = [{"type": "bot_command", "offset": 0, "length": length}]
    return message_update(emu, user, fields)


def tap(emu: TelegramEmulator, user: FakeUser, message: SentMessage, label: str) -> JSONDict:
    """``user`` presses the inline button ``label`` of ``message`` (LookupError if none)."""
    data = message.callback_data.get(label)
    if data is None:
        raise LookupError(f"no inline button {label!r}")
    user.started = True
    query = {
        "id": emu.new_callback(user.chat, message, data),
        "from": user.as_dict(),
        "message": emu.message_dict(message),
        "chat_instance": emu.chat_instance(user.chat),
        "data": data,
    }
    return {"callback_query": query}


# A step builds its update from the message that completed the previous step (None at first).
Act = Callable[[FakeUser, SentMessage | None], JSONDict]
Done = Callable[[SentMessage], bool]


@dataclass(frozen=True)
class Step:
    """One update a person sends, and which reply lets them go on."""

    act: Act
    done: Done


def any_reply(_message: SentMessage) -> bool:
    return True


def has_button(label: str) -> Done:
    return lambda message: label in message.buttons


def asks_location(message: SentMessage) -> bool:
    return message.asks_location


def echo_script(emu: TelegramEmulator, messages: int) -> list[Step]:
    """``hello 1``, ``hello 2``... each once the previous one came back."""

    def saying(number: int) -> Act:
        return lambda user, _message: say(emu, user, f"hello {number}")

    return [Step(saying(n), any_reply) for n in range(1, messages + 1)]


def supplies_script(emu: TelegramEmulator, where: tuple[float, float]) -> list[Step]:
    """``/start``, ``/supplies``, kit → syringes → 2 packs → done, share a location: 7 updates,
    ending on the confirm screen."""

    def typing(words: str) -> Act:
        return lambda user, _message: say(emu, user, words)

    def pressing(label: str) -> Act:
        def act(user: FakeUser, message: SentMessage | None) -> JSONDict:
            if message is None:
                raise LookupError("nothing to press yet")
            return tap(emu, user, message, label)

        return act

    def locating(user: FakeUser, _message: SentMessage | None) -> JSONDict:
        lat, lon = where
        return message_update(emu, user, {"location": {"latitude": lat, "longitude": lon}})

    return [
        Step(typing("/start"), has_button("Supplies")),
        Step(typing("/supplies"), has_button(KIT)),
        Step(pressing(KIT), has_button(SYRINGES)),
        Step(pressing(SYRINGES), has_button("2")),
        Step(pressing("2"), has_button("Done: choose where")),
        Step(pressing("Done: choose where"), asks_location),
        Step(locating, has_button(SEND)),
    ]


def near_main_and_hastings(rng: random.Random) -> tuple[float, float]:
    """A point within ~250 m of the demo's person (all in the DTES area)."""
    lat, lon = NEAR_MAIN_AND_HASTINGS
    return lat + rng.uniform(-0.002, 0.002), lon + rng.uniform(-0.003, 0.003)


@dataclass
class _Walker:
    user: FakeUser
    steps: list[Step]
    index: int = 0
    queued_at: float = 0.0
    last: SentMessage | None = None
    stuck: bool = False


@dataclass(frozen=True)
class Outcome:
    """What a load run did."""

    updates: int
    seconds: float
    cpu_seconds: float
    finished: list[Ready]
    dropped: int  # updates never answered as the script expected
    warned: int  # flood-control warnings among the replies


class Crowd:
    """People working through their scripts at once, one update in flight each: the next update
    is queued the moment the reply completing the last one is recorded. Driven by an emulator
    listener, so nothing polls and nothing waits per person."""

    def __init__(self, emu: TelegramEmulator, people: Sequence[tuple[FakeUser, list[Step]]]):
        self.emu = emu
        self._walkers = {user.chat.id: _Walker(user, steps) for user, steps in people}
        self._left = len(self._walkers)
        self._all_done = asyncio.Event()
        self.updates = 0
        self.replies = 0
        self.warned = 0
        self.last_reply = 0.0
        self.finished: list[Ready] = []

    def _push(self, walker: _Walker) -> None:
        try:
            body = walker.steps[walker.index].act(walker.user, walker.last)
        except LookupError:
            walker.stuck = True  # the bot answered something else: this person stops here
            return
        walker.queued_at = time.perf_counter()
        self.emu.push_raw(body)
        self.updates += 1

    def on_message(self, message: SentMessage) -> None:
        walker = self._walkers.get(message.chat_id)
        if walker is None or walker.stuck or walker.index >= len(walker.steps):
            return
        if _FLOOD_WARNING in message.text:
            self.warned += 1
        if not walker.steps[walker.index].done(message):
            return
        self.replies += 1
        self.last_reply = time.perf_counter()
        walker.index += 1
        walker.last = message
        if walker.index < len(walker.steps):
            self._push(walker)
            return
        self.finished.append((walker.user, message))
        self._left -= 1
        if self._left == 0:
            self._all_done.set()

    async def run(self, stall: float = STALL_SECONDS) -> Outcome:
        """Start everyone; return once all are done or no reply came for ``stall`` seconds."""
        cpu = time.process_time()
        first = self.last_reply = time.perf_counter()
        for walker in self._walkers.values():
            self._push(walker)
        seen = -1
        while not self._all_done.is_set() and seen != self.replies:
            seen = self.replies
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._all_done.wait(), stall)
        return Outcome(
            updates=self.updates,
            seconds=max(self.last_reply - first, 1e-9),
            cpu_seconds=time.process_time() - cpu,
            finished=self.finished,
            dropped=self.updates - self.replies,
            warned=self.warned,
        )


class Listeners:
    """The emulator keeps every listener it is given: route them all through one."""

    def __init__(self, emu: TelegramEmulator) -> None:
        self._current: Callable[[SentMessage], None] | None = None
        emu.add_listener(self._dispatch)

    def _dispatch(self, message: SentMessage) -> None:
        if self._current is not None:
            self._current(message)

    @contextlib.contextmanager
    def use(self, listener: Callable[[SentMessage], None]) -> Iterator[None]:
        self._current = listener
        try:
            yield
        finally:
            self._current = None


async def drive(
    emu: TelegramEmulator, listeners: Listeners, people: Sequence[tuple[FakeUser, list[Step]]]
) -> Outcome:
    crowd = Crowd(emu, people)
    with listeners.use(crowd.on_message):
        return await crowd.run()


def crowd_of(
    emu: TelegramEmulator, tag: str, updates: int, script: Callable[[], list[Step]]
) -> list[tuple[FakeUser, list[Step]]]:
    """Enough new people, each with their own ``script()``, for ``updates`` updates in all."""
    per_person = len(script())
    return [(emu.user(f"{tag}{i}"), script()) for i in range(math.ceil(updates / per_person))]


# --- confirm → offer -----------------------------------------------------------------------------


class Confirms:
    """People tap "Send request" at a steady rate; a sample ends when the offer for their
    request (matched by its reference) is recorded in a peer's chat."""

    def __init__(self, emu: TelegramEmulator, peers: set[int]) -> None:
        self.emu = emu
        self.peers = peers
        self.queued: dict[int, float] = {}  # person's chat → when the confirm was queued
        self._owner: dict[str, int] = {}  # request reference → person's chat
        self.latencies_ms: list[float] = []
        self.not_offered = 0  # the person got something else (no peer free, a limit...)
        self.last_offer = 0.0
        self._expected = 0
        self._done = asyncio.Event()

    def on_message(self, message: SentMessage) -> None:
        now = time.perf_counter()
        match = _REFERENCE.search(message.text)
        if message.chat_id in self.queued:
            if match is not None:
                self._owner[match.group(1)] = message.chat_id
            else:
                self.not_offered += 1
                self._check()
            return
        if message.chat_id not in self.peers or match is None:
            return
        chat = self._owner.pop(match.group(1), None)
        if chat is not None:
            self.latencies_ms.append((now - self.queued[chat]) * 1000)
            self.last_offer = now
            self._check()

    def _check(self) -> None:
        if len(self.latencies_ms) + self.not_offered >= self._expected:
            self._done.set()

    async def run(self, ready: Sequence[Ready], rate: float) -> tuple[float, float]:
        """Tap at ``rate``/s, wait for the offers; (first tap, last tap) perf_counter times."""
        self._expected = len(ready)
        start = last = time.perf_counter()
        for index, (user, message) in enumerate(ready):
            delay = start + index / rate - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            body = tap(self.emu, user, message, SEND)
            last = self.queued[user.chat.id] = time.perf_counter()
            self.emu.push_raw(body)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._done.wait(), DRAIN_SECONDS)
        return start, last


# --- the bots ------------------------------------------------------------------------------------


async def _echo(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    message = update.effective_message
    if message is not None and message.text is not None:
        await context.bot.send_message(chat_id=message.chat_id, text=message.text)


@contextlib.asynccontextmanager
async def bare_bot(
    emu: TelegramEmulator,
    handler: BaseHandler[Update, Any, Any],
    request: Callable[[], BaseRequest] | None = None,
) -> AsyncIterator[None]:
    """A bare PTB ``Application`` with one ``handler``, polling ``emu`` with PTB's defaults
    (one update at a time, no rate limiter); ``request`` is the HTTP client (None: PTB's own).
    """
    builder = ApplicationBuilder().token(emu.token).base_url(emu.base_url)
    if request is not None:
        builder = builder.request(request()).get_updates_request(request())
    app: Application[Any, Any, Any, Any, Any, Any] = (
        builder.concurrent_updates(False).job_queue(None).build()
    )
    app.add_handler(handler)
    async with app:
        await app.start()
        try:
            assert app.updater is not None
            await app.updater.start_polling(
                timeout=int(POLL_TIMEOUT), allowed_updates=ALLOWED_UPDATES
            )
            try:
                yield
            finally:
                await app.updater.stop()
        finally:
            await app.stop()


@dataclass(frozen=True)
class Recording:
    """The messages hrbot sent one person for the seven updates of (b), in order: what the
    replay bot sends back, byte for byte."""

    messages: tuple[JSONDict, ...]

    @classmethod
    def of(cls, emu: TelegramEmulator, chat_id: int) -> Recording:
        sent = [
            call.params
            for call in emu.calls
            if call.method == "sendMessage" and call.params.get("chat_id") == str(chat_id)
        ]
        return cls(tuple(sent))


def replay_handler(recording: Recording) -> Callable[[Update, Any], Any]:
    """A handler with no logic and no database that makes exactly hrbot's Bot API calls for (b):
    the person's next recorded message (with its buttons) for every update, sent the way
    hrbot's channel sends (:func:`bot.channels.telegram.post_message`), and an
    ``answerCallbackQuery`` first for a button press. Its rate is the most any bot on PTB can
    do with (b)'s updates on this emulator."""
    messages = [
        {key: value for key, value in params.items() if key != "chat_id"}
        for params in recording.messages
    ]
    step: dict[int, int] = {}

    async def replay(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        chat = update.effective_chat
        if chat is None:
            return
        index = step.get(chat.id, 0)
        step[chat.id] = index + 1
        if update.callback_query is not None:
            await update.callback_query.answer()
        message = messages[index % len(messages)]
        await post_message(context.bot, {"chat_id": chat.id, **message})

    return replay


@contextlib.asynccontextmanager
async def database(backend: str, workdir: Path) -> AsyncIterator[str]:
    """URL of an empty database: a file in ``workdir``, or a PostgreSQL database of its own
    that is dropped afterwards."""
    if backend == "sqlite":
        yield f"sqlite+aiosqlite:///{(workdir / 'bench.sqlite3').resolve()}"
        return
    admin_url = os.environ[POSTGRES_ENV]
    name = f"hrbot_updates_{uuid.uuid4().hex[:12]}"
    await _pg_admin(admin_url, f'CREATE DATABASE "{name}"')
    try:
        yield make_url(admin_url).set(database=name).render_as_string(hide_password=False)
    finally:
        await _pg_admin(admin_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


async def _pg_admin(admin_url: str, statement: str) -> None:
    engine = make_engine(admin_url, isolation_level="AUTOCOMMIT")
    try:
        async with engine.connect() as conn:
            await conn.execute(text(statement))
    finally:
        await engine.dispose()


class Hrbot:
    """hrbot on one database, wired as ``hrbot demo`` wires it (demo outlets, demo clock)."""

    def __init__(self, emu: TelegramEmulator, runtime: Runtime, http: str) -> None:
        self.emu = emu
        self.runtime = runtime
        self.http = http
        self.clock = DemoClock()
        self.engine = build_engine(runtime, build_routes(), clock=self.clock)
        self._service: BotService | None = None

    async def seed(self) -> str:
        """Migrate; import the demo outlets with plenty of stock; a coordinator invite code."""
        runtime, now = self.runtime, self.clock()
        await prepare_database(runtime, auto_upgrade=True)
        content = runtime.content
        path = runtime.settings.content_dir / "outlets.demo.yaml"
        specs = load_outlets(path, content.catalogue, content.gazetteer)
        async with runtime.sessions.begin() as session:
            await import_outlets(session, specs=specs, catalogue=content.catalogue, now=now)
            for row in (await session.execute(select(Stock.outlet_id, Stock.item_id))).all():
                await stock.set_quantity(
                    session, outlet_id=row.outlet_id, item_id=row.item_id, quantity=STOCK, now=now
                )
            return await invites.create(
                session,
                codes_key=runtime.keys.codes,
                role=Role.COORDINATOR,
                ttl=runtime.settings.invite_ttl,
                now=now,
            )

    async def start(self, *, overall_rate: float | None) -> None:
        """Start the channel and the due-work clock, as ``hrbot run`` does; PTB's overall
        limit at ``overall_rate``/s (0: none), or as the app sets it (None)."""
        channel = TelegramChannel(
            self.engine,
            token=self.emu.token,
            base_url=self.emu.base_url,
            poll_timeout=POLL_TIMEOUT,
            request=HTTP_CLIENTS[self.http],
            max_rate=DEFAULT_MAX_RATE if overall_rate is None else overall_rate,
        )
        self._service = BotService(self.engine, [channel])
        await self._service.start()

    async def stop(self) -> None:
        service, self._service = self._service, None
        if service is not None:
            await service.stop()

    async def enrol_peers(self, code: str) -> set[int]:
        """A coordinator joins and invites a peer to each demo peer outlet; each goes on shift.
        Returns the peers' chat ids."""
        cora = self.emu.user("coordinator")
        await cora.say(f"/join {code}")
        peers: set[int] = set()
        for key in PEER_OUTLETS:
            invite = await cora.say(f"/invite peer {key}")
            match = _JOIN.search(invite[-1].text)
            if match is None:
                raise RuntimeError(f"no invite code for {key}")
            peer = self.emu.user(f"peer_{key}")
            await peer.say(f"/join {match.group(1)}")
            await peer.say("/shift on")
            peers.add(peer.chat.id)
        return peers

    async def copies(self, model: Ready, tag: str, count: int) -> list[Ready]:
        """``count`` new people where ``model`` is: its conversation state under a new contact,
        and its confirm message in the new chat."""
        person, message = model
        runtime, engine, now = self.runtime, self.engine, self.clock()
        async with runtime.sessions() as session:
            contact = await contacts.find(
                session,
                pseudonym_key=runtime.keys.pseudonym,
                channel=Channel.TELEGRAM,
                platform_id=str(person.id),
            )
            row = None if contact is None else await session.get(ConversationState, contact.id)
            if row is None:
                raise RuntimeError("the model person is not on the confirm screen")
            state = conversations.State(flow=row.flow, step=row.step, data=dict(row.data))
        made: list[Ready] = []
        async with runtime.sessions.begin() as session:
            for index in range(count):
                user = self.emu.user(f"{tag}{index}")
                user.started = True
                new = await contacts.find_or_create(
                    session,
                    pseudonym_key=runtime.keys.pseudonym,
                    box=runtime.box,
                    channel=Channel.TELEGRAM,
                    platform_id=str(user.id),
                    address=str(user.chat.id),
                    locale=user.language_code,
                    now=now,
                )
                await conversations.save(
                    session,
                    contact_id=new.id,
                    state=state,
                    now=now,
                    ttl=engine.deps.config.state_ttl,
                )
                copy = replace(
                    message,
                    chat_id=user.chat.id,
                    message_id=user.chat.take_message_id(),
                    date=self.emu.now(),
                )
                user.chat.messages.append(copy)
                made.append((user, copy))
        return made


# --- scenarios -----------------------------------------------------------------------------------


async def run_echo(args: argparse.Namespace) -> Row:
    async with TelegramEmulator(seed=1) as emu:
        listeners = Listeners(emu)
        async with bare_bot(emu, MessageHandler(filters.TEXT, _echo)):
            script = functools.partial(echo_script, emu, args.per_person)
            out = await drive(emu, listeners, crowd_of(emu, "echo", args.updates, script))
    return Row(
        "echo",
        "-",
        "httpx",
        "off",
        out.updates,
        out.seconds,
        out.updates / out.seconds,
        cpu_seconds=out.cpu_seconds,
        dropped=out.dropped,
    )


async def run_replay(args: argparse.Namespace, recording: Recording, http: str) -> list[Row]:
    """(b)'s load against a bare bot with :func:`replay_handler`: the same people, updates and
    Bot API calls as hrbot, none of its work; each round right after an echo round, as for
    hrbot."""
    rows: list[Row] = []
    for number in range(1, args.rounds + 1):
        echo = replace(await run_echo(args), round=number)
        async with TelegramEmulator(seed=3) as emu:
            listeners = Listeners(emu)
            replay = TypeHandler(Update, replay_handler(recording))
            async with bare_bot(emu, replay, HTTP_CLIENTS[http]):
                script = functools.partial(supplies_script, emu, NEAR_MAIN_AND_HASTINGS)
                out = await drive(emu, listeners, crowd_of(emu, "replay", args.updates, script))
        rate = out.updates / out.seconds
        rows += [
            echo,
            Row(
                "replay",
                "-",
                http,
                "off",
                out.updates,
                out.seconds,
                rate,
                cpu_seconds=out.cpu_seconds,
                ratio=rate / echo.rate,
                dropped=out.dropped,
                round=number,
            ),
        ]
    return rows


async def run_hrbot(
    backend: str,
    http: str,
    args: argparse.Namespace,
    workdir: Path,
    recordings: list[Recording] | None = None,
) -> list[Row]:
    """``args.rounds`` rounds of (a) then (b), then (c), on a fresh database of ``backend``;
    the messages the first person who finished (b) got are appended to ``recordings``.

    Each round runs the echo bot right before hrbot's load, so the ratio compares two runs
    that saw the same machine (other work on it moves both; the summary takes the median).
    """
    rows: list[Row] = []
    rng = random.Random(7)
    confirms = math.ceil(args.rate * args.seconds)
    async with TelegramEmulator(seed=2) as emu, database(backend, workdir) as url:
        listeners = Listeners(emu)
        settings = load_settings(
            data_dir=workdir,
            database_url=url,
            secret_key=secrets.token_urlsafe(48),
            telegram_token=emu.token,
            telegram_api_url=emu.base_url,
        )
        runtime = build_runtime(settings)
        bot = Hrbot(emu, runtime, http)
        try:
            code = await bot.seed()
            await bot.start(overall_rate=0)
            peers = await bot.enrol_peers(code)

            for number in range(1, args.rounds + 1):
                echo = replace(await run_echo(args), round=number)
                out = await drive(
                    emu,
                    listeners,
                    crowd_of(
                        emu,
                        f"person{number}-",
                        args.updates,
                        lambda: supplies_script(emu, near_main_and_hastings(rng)),
                    ),
                )
                rate = out.updates / out.seconds
                rows += [
                    echo,
                    Row(
                        "full",
                        backend,
                        http,
                        "off",
                        out.updates,
                        out.seconds,
                        rate,
                        cpu_seconds=out.cpu_seconds,
                        ratio=rate / echo.rate,
                        dropped=out.dropped,
                        note=f"{out.warned} flood warnings" if out.warned else "",
                        round=number,
                    ),
                ]
                print(f"{table(rows[-2:])}\n", flush=True)
            if not out.finished:
                return rows  # nobody reached the confirm screen: nothing to confirm
            if recordings is not None:
                recordings.append(Recording.of(emu, out.finished[0][0].chat.id))

            ready = list(out.finished)
            wanted = confirms * len(args.limiter)
            if len(ready) < wanted:
                ready += await bot.copies(ready[0], "copy", wanted - len(ready))
            rng.shuffle(ready)
            for index, limiter in enumerate(args.limiter):
                if limiter == "app":
                    await bot.stop()
                    await bot.start(overall_rate=None)
                batch = ready[index * confirms : (index + 1) * confirms]
                rows.append(await confirm_to_offer(emu, listeners, peers, batch, args.rate))
                rows[-1] = replace(rows[-1], backend=backend, http=http, limiter=limiter)
        finally:
            try:
                await bot.stop()
            finally:
                await runtime.close()
    return rows


async def confirm_to_offer(
    emu: TelegramEmulator,
    listeners: Listeners,
    peers: set[int],
    batch: Sequence[Ready],
    rate: float,
) -> Row:
    confirms = Confirms(emu, peers)
    cpu = time.process_time()
    with listeners.use(confirms.on_message):
        first, last = await confirms.run(batch, rate)
    achieved = (len(batch) - 1) / (last - first) if last > first else 0.0
    offered = len(confirms.latencies_ms)
    end = confirms.last_offer if offered else last
    missing = len(batch) - offered - confirms.not_offered
    notes = [f"{rate:g}/s asked"]
    if confirms.not_offered:
        notes.append(f"{confirms.not_offered} not offered")
    if missing:
        notes.append(f"{missing} offers missing after {DRAIN_SECONDS:g} s")
    return Row(
        "confirm→offer",
        "",
        "",
        "",
        len(batch),
        end - first,
        achieved,
        cpu_seconds=time.process_time() - cpu,
        latencies_ms=confirms.latencies_ms,
        dropped=missing,
        note="; ".join(notes),
    )


# --- output --------------------------------------------------------------------------------------


def table(rows: Sequence[Row]) -> str:
    def ms(samples: Sequence[float], share: float | None) -> str:
        if not samples:
            return "-"
        return f"{max(samples) if share is None else percentile(samples, share):.0f}"

    head = (
        f"{'scenario':<14} {'round':>5} {'backend':<10} {'http':<7} {'limiter':<7} {'updates':>7} "
        f"{'seconds':>7} {'updates/s':>9} {'vs echo':>7} {'cpu ms/u':>8} "
        f"{'p50 ms':>6} {'p95 ms':>6} {'p99 ms':>6} {'max ms':>6} {'dropped':>7}  note"
    )
    lines = [head, "-" * len(head)]
    for row in rows:
        ratio = f"{row.ratio:.2f}" if row.ratio is not None else "-"
        cpu = f"{1000 * row.cpu_seconds / row.updates:.2f}" if row.cpu_seconds else "-"
        lat = row.latencies_ms
        lines.append(
            f"{row.scenario:<14} {row.round or '-':>5} {row.backend:<10} {row.http:<7} "
            f"{row.limiter:<7} "
            f"{row.updates:>7} {row.seconds:>7.2f} {row.rate:>9.1f} {ratio:>7} {cpu:>8} "
            f"{ms(lat, 0.5):>6} {ms(lat, 0.95):>6} {ms(lat, 0.99):>6} {ms(lat, None):>6} "
            f"{row.dropped:>7}  {row.note}".rstrip()
        )
    return "\n".join(lines)


def summary(rows: Sequence[Row]) -> list[str]:
    lines = []
    ratios: dict[tuple[str, str, str], list[float]] = {}
    for row in rows:
        if row.scenario in ("full", "replay") and row.ratio is not None:
            ratios.setdefault((row.scenario, row.backend, row.http), []).append(row.ratio)
    for (scenario, backend, http), found in ratios.items():
        each = ", ".join(f"{r:.2f}" for r in found)
        median = statistics.median(found)
        if scenario == "full":
            lines.append(
                f"full/echo ({backend}, http {http}): median {median:.2f} of {len(found)} "
                f"rounds ({each})  (target ≥ 0.60)"
            )
        else:
            lines.append(
                f"replay/echo (http {http}): median {median:.2f} of {len(found)} rounds ({each})"
                "  (a bare PTB bot making hrbot's Bot API calls for (b), no handler work)"
            )
    for row in rows:
        where = f"{row.backend}, http {row.http}"
        if row.scenario == "confirm→offer" and row.latencies_ms:
            lines.append(
                f"confirm→offer p99 ({where}, limiter {row.limiter}): "
                f"{percentile(row.latencies_ms, 0.99):.0f} ms at {row.rate:.1f} confirms/s  "
                "(target ≤ 500 ms at 20/s)"
            )
    return lines


def _names(allowed: Sequence[str]) -> Callable[[str], list[str]]:
    def parse(value: str) -> list[str]:
        names = [v.strip() for v in value.split(",") if v.strip()]
        unknown = sorted(set(names) - set(allowed))
        if unknown or not names:
            raise argparse.ArgumentTypeError(f"choose from {', '.join(allowed)}")
        return list(dict.fromkeys(names))

    return parse


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench.updates",
        description="hrbot's update handling against the Bot API emulator, next to a bare "
        "python-telegram-bot echo bot (see the module docstring).",
    )
    parser.add_argument("--updates", type=int, default=2000, help="updates per load run (a, b)")
    parser.add_argument(
        "--rounds",
        type=int,
        default=5,
        help="load rounds per bot, each right after an echo round; the summary gives the "
        "median full/echo ratio",
    )
    parser.add_argument("--rate", type=float, default=20.0, help="confirms per second (c)")
    parser.add_argument("--seconds", type=float, default=15.0, help="length of each (c) run")
    parser.add_argument(
        "--backends",
        type=_names(("sqlite", "postgresql")),
        default=None,
        help=f"sqlite,postgresql (default: sqlite, plus postgresql when {POSTGRES_ENV} is set)",
    )
    parser.add_argument(
        "--http",
        type=_names(tuple(HTTP_CLIENTS)),
        default=["aiohttp"],
        help="hrbot's HTTP client: aiohttp (the channel's default, "
        "bot.channels.telegram_request.AiohttpRequest), httpx (PTB's own), or both",
    )
    parser.add_argument(
        "--limiter",
        type=_names(("off", "app")),
        default=["off", "app"],
        help="(c) with PTB's overall 30/s limit off, as the app sets it, or both (default)",
    )
    parser.add_argument(
        "--no-replay",
        dest="replay",
        action="store_false",
        help="skip the replay bot (hrbot's Bot API calls for (b), no handler work)",
    )
    parser.add_argument(
        "--per-person", type=int, default=7, help="echo messages per person (as many as (b)'s)"
    )
    args = parser.parse_args(argv)
    if args.backends is None:
        args.backends = ["sqlite", "postgresql"] if os.environ.get(POSTGRES_ENV) else ["sqlite"]
    if "postgresql" in args.backends and not os.environ.get(POSTGRES_ENV):
        parser.error(f"postgresql needs {POSTGRES_ENV}: an asyncpg URL that may create databases")
    if min(args.updates, args.per_person, args.rounds) < 1 or min(args.rate, args.seconds) <= 0:
        parser.error("--updates, --rounds, --rate, --seconds and --per-person must be positive")
    return args


def _load() -> str:
    one, five, _ = os.getloadavg()
    return f"load average {one:.2f} (1 min), {five:.2f} (5 min) on {os.cpu_count()} CPUs"


async def run(args: argparse.Namespace) -> list[Row]:
    started = time.perf_counter()
    # Other work on the machine moves every figure here: say how busy it was.
    print(f"before: {_load()}", flush=True)
    rows: list[Row] = []
    recordings: list[Recording] = []
    for backend in args.backends:
        for http in args.http:
            with tempfile.TemporaryDirectory(prefix="hrbot-bench-") as tmp:
                rows += await run_hrbot(backend, http, args, Path(tmp), recordings)
    if recordings and args.replay:
        for http in ("httpx", "aiohttp"):
            rows += await run_replay(args, recordings[0], http)
    print(f"\n{table(rows)}", flush=True)
    print("", *summary(rows), sep="\n")
    print(f"after: {_load()}; whole run {time.perf_counter() - started:.0f} s")
    return rows


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    # PTB's coming timedelta durations, as TelegramChannel opts in (the echo bot has no channel).
    os.environ.setdefault("PTB_TIMEDELTA", "true")
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    asyncio.run(run(args))
    return 0


if __name__ == "__main__":
    sys.exit(main())
