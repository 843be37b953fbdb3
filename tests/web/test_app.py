"""The web app as ``hrbot run`` serves it: a real BotService with ``web`` set, uvicorn on a
free port of 127.0.0.1, and httpx asking ``/healthz`` and ``/metrics``."""

from __future__ import annotations

import re
import socket
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker, create_async_engine

from bot.channels.signal import Reconnect, SignalChannel, SignalPacing
from bot.channels.telegram import TelegramChannel, WebhookConfig
from bot.core.engine import Engine
from bot.core.messages import Incoming, InputKind, Reply, SendResult, SendStatus
from bot.db.models import Delivery
from bot.domain import Channel, DeliveryStatus
from bot.emulator import TelegramEmulator
from bot.runner import BotService
from bot.services import alerts
from bot.signal_emulator import FaultKind, SignalEmulator
from handlers.routes import build_routes
from tests.support.alerts import RecordingSender, add_subscribers, alert_engine, bad_batch_draft
from tests.support.chat import Clock
from tests.support.engine import make_engine
from tests.support.waiting import until
from tests.support.webhook import raw_post

# What must never show in /metrics: a person's platform id and address.
SENDER_ID = "5550173946"
ADDRESS = "+16045550188"


class _Sender:
    """Sends to memory; the first ``limited`` sends are refused with a 429."""

    def __init__(self, *, limited: int = 0) -> None:
        self.limited = limited
        self.sent: list[str] = []

    async def send(self, address: str, reply: Reply) -> SendStatus:
        return (await self.send_result(address, reply)).status

    async def send_result(self, address: str, reply: Reply) -> SendResult:
        if self.limited > 0:
            self.limited -= 1
            return SendResult(SendStatus.RETRY, retry_after=3.0)
        self.sent.append(address)
        return SendResult(SendStatus.SENT)


async def _serving(service: BotService) -> AsyncIterator[httpx.AsyncClient]:
    await service.start()
    try:
        assert service.web is not None
        base = f"http://127.0.0.1:{service.web.port}"
        async with httpx.AsyncClient(base_url=base, timeout=10) as client:
            yield client
    finally:
        await service.stop()


@pytest.fixture
def closed_port() -> int:
    """A port on 127.0.0.1 that nothing listens on (bound, then let go)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _start(who: str, address: str, n: int, *, channel: Channel = Channel.TELEGRAM) -> Incoming:
    return Incoming(
        channel=channel,
        sender_id=who,
        address=address,
        kind=InputKind.COMMAND,
        command="start",
        update_key=f"web-test:{n}",
    )


def _sample(text: str, name: str, **labels: str) -> float:
    """The value of one sample in Prometheus text, 0 when absent."""
    wanted = ",".join(f'{k}="{v}"' for k, v in sorted(labels.items()))
    for line in text.splitlines():
        if line.startswith("#"):
            continue
        sample, _, value = line.rpartition(" ")
        found = re.fullmatch(r"([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?", sample)
        if found is None or found[1] != name:
            continue
        got = ",".join(sorted((found[2] or "").split(","))) if found[2] else ""
        if got == wanted:
            return float(value)
    return 0.0


async def test_healthz_is_200_while_all_answer_and_503_naming_a_channel_that_does_not(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    engine = make_engine(sessions, build_routes())
    async with TelegramEmulator() as emu:
        channel = TelegramChannel(engine, token=emu.token, base_url=emu.base_url, poll_timeout=1)
        service = BotService(engine, [channel], tick_seconds=3600, web=("127.0.0.1", 0))
        async for client in _serving(service):
            answer = await client.get("/healthz")
            assert answer.status_code == 200
            body = answer.json()
            assert body["ok"] is True
            assert body["failed"] == []
            assert set(body["checks"]) == {"database", "bot", "telegram"}
            assert all(check["ok"] for check in body["checks"].values())

            emu.fail_next("getme", status=502, retry_after=None)  # the probe at the next tick
            await service.tick()
            answer = await client.get("/healthz")
            assert answer.status_code == 503
            body = answer.json()
            assert body["failed"] == ["telegram"]
            assert body["checks"]["telegram"] == {"ok": False, "detail": "not connected"}
            assert body["checks"]["database"]["ok"] is True

            await service.tick()  # the server answers again
            assert (await client.get("/healthz")).status_code == 200


async def test_healthz_is_503_naming_the_database_when_it_does_not_answer(
    sessions: async_sessionmaker[AsyncSession], backend: str, tmp_path: Path, closed_port: int
) -> None:
    engine = make_engine(sessions, build_routes())
    service = BotService(engine, [], tick_seconds=3600, web=("127.0.0.1", 0))
    async for client in _serving(service):
        assert (await client.get("/healthz")).status_code == 200
        # The database goes away under the running bot.
        if backend == "sqlite":
            url = f"sqlite+aiosqlite:///{tmp_path / 'gone' / 'hrbot.sqlite3'}"
        else:
            url = f"postgresql+asyncpg://postgres@127.0.0.1:{closed_port}/postgres"
        gone = create_async_engine(url)
        engine.sessions = async_sessionmaker(gone, expire_on_commit=False)
        try:
            answer = await client.get("/healthz")
        finally:
            engine.sessions = sessions
            await gone.dispose()
        assert answer.status_code == 503
        body = answer.json()
        assert body["failed"] == ["database"]
        assert body["checks"]["database"]["ok"] is False
        assert body["checks"]["database"]["detail"].startswith("does not answer")


async def test_metrics_count_updates_sends_and_429s_and_name_no_one(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    clock = Clock()
    engine = make_engine(sessions, build_routes(), clock=clock)
    sender = _Sender(limited=1)
    engine.add_sender(Channel.TELEGRAM, sender)
    service = BotService(engine, [], tick_seconds=3600, web=("127.0.0.1", 0))
    async for client in _serving(service):
        before = await client.get("/metrics")
        assert before.status_code == 200
        assert before.headers["content-type"].startswith("text/plain")
        assert _sample(before.text, "hrbot_updates_handled_total") == 0

        # One known person (whose first reply meets a 429, so it is queued), then two more.
        await engine.handle(_start(SENDER_ID, ADDRESS, 1))
        await engine.handle(_start("5550100001", "5550100001", 2))
        await engine.handle(_start("5550100002", "5550100002", 3))

        answer = await client.get("/metrics")
        assert answer.status_code == 200
        text = answer.text
        labels = {"channel": "telegram", "kind": "command"}
        assert _sample(text, "hrbot_updates_handled_total", **labels) == 3
        assert _sample(text, "hrbot_handler_latency_seconds_count", channel="telegram") == 3
        assert _sample(text, "hrbot_rate_limited_total", channel="telegram") == 1
        assert _sample(text, "hrbot_sends_total", channel="telegram", result="retry") == 1
        sent = _sample(text, "hrbot_sends_total", channel="telegram", result="sent")
        assert sent == len(sender.sent) >= 2
        assert _sample(text, "hrbot_queued_messages") >= 1  # the refused reply waits, queued
        assert _sample(text, "hrbot_outbox_backlog", channel="telegram") == 0  # no alert

        # Nothing that could identify anyone: not the id, not the address, in any form.
        for secret in (SENDER_ID, ADDRESS, ADDRESS.lstrip("+"), "5550100001", "5550100002"):
            assert secret not in text
        label_names = set(re.findall(r"([a-z_]+)=\"", text))
        assert label_names <= {"channel", "kind", "result", "reason", "le"}

        # The tick sends the queued reply once its pause is over: counted, backlog empty.
        clock.advance(minutes=1)
        await service.tick()
        text = (await client.get("/metrics")).text
        assert _sample(text, "hrbot_sends_total", channel="telegram", result="sent") == sent + 1
        assert _sample(text, "hrbot_queued_messages") == 0


async def test_an_engine_without_a_meter_counts_nothing(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    """Without HRBOT_WEB_LISTEN nothing changes: no meter on the engine, no server."""
    engine: Engine = make_engine(sessions, build_routes())
    engine.add_sender(Channel.TELEGRAM, _Sender())
    service = BotService(engine, [], tick_seconds=3600)
    await service.start()
    try:
        assert engine.meter is None
        assert service.web is None
        await engine.handle(_start(SENDER_ID, ADDRESS, 1))
    finally:
        await service.stop()


async def test_a_port_in_use_fails_start_and_stops_what_started(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    engine = make_engine(sessions, build_routes())
    first = BotService(engine, [], tick_seconds=3600, web=("127.0.0.1", 0))
    await first.start()
    try:
        assert first.web is not None
        port = first.web.port
        assert port is not None
        second = BotService(
            make_engine(sessions, build_routes()), [], tick_seconds=3600, web=("127.0.0.1", port)
        )
        with pytest.raises(OSError, match="in use"):
            await second.start()
        assert second.web is None
    finally:
        await first.stop()
    # Stopped: the port is free again.
    again = BotService(engine, [], tick_seconds=3600, web=("127.0.0.1", port))
    await again.start()
    await again.stop()


async def test_metrics_count_alert_sends_from_the_outbox(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    clock = Clock()
    engine = alert_engine(sessions, clock=clock)
    platform = RecordingSender()
    engine.add_sender(Channel.TELEGRAM, platform)
    async with sessions.begin() as session:
        await add_subscribers(session, ["ana", "ben"], ["dtes"])
        draft = await bad_batch_draft(session, gazetteer=engine.deps.content.gazetteer, now=clock())
        at = clock() + timedelta(seconds=1)
        await alerts.schedule_once(session, alert_id=draft.id, at=at, now=clock())
    clock.advance(seconds=2)  # due by the start-up tick, which sends it
    service = BotService(engine, [], tick_seconds=3600, web=("127.0.0.1", 0))
    async for client in _serving(service):
        await until(lambda: platform.counts() == {"ana": 1, "ben": 1})
        text = (await client.get("/metrics")).text
        assert _sample(text, "hrbot_sends_total", channel="telegram", result="sent") == 2
        assert _sample(text, "hrbot_updates_handled_total", channel="telegram", kind="command") == 0
        assert _sample(text, "hrbot_outbox_backlog", channel="telegram") == 0
        assert _sample(text, "hrbot_outbox_oldest_pending_seconds") == 0


async def test_signal_429s_are_counted_as_rate_limited(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    """signal-cli-rest-api's 429 (with a challenge, or the plain one) carries no retry_after:
    it still counts in hrbot_rate_limited_total, through the real channel and emulator."""
    engine = make_engine(sessions, build_routes())
    emu = SignalEmulator(seed=11)
    await emu.start()
    try:
        channel = SignalChannel(
            engine,
            number=emu.number,
            service=emu.service,
            pacing=SignalPacing(recipient_burst=50, recipient_interval=0.001, global_interval=0),
            reconnect=Reconnect(initial=0.02, maximum=0.2),
            ready_timeout=5,
        )
        service = BotService(engine, [channel], tick_seconds=3600, web=("127.0.0.1", 0))
        async for client in _serving(service):
            ana, bob = emu.person("ana"), emu.person("bob")
            emu.fail_next_send(FaultKind.PLAIN_RATE_LIMIT)
            await engine.handle(_start(ana.uuid, ana.uuid, 1, channel=Channel.SIGNAL))
            emu.fail_next_send(FaultKind.RATE_LIMIT)
            await engine.handle(_start(bob.uuid, bob.uuid, 2, channel=Channel.SIGNAL))
            text = (await client.get("/metrics")).text
            assert _sample(text, "hrbot_rate_limited_total", channel="signal") == 2
            assert _sample(text, "hrbot_sends_total", channel="signal", result="retry") == 2
            assert _sample(text, "hrbot_rate_limited_total", channel="telegram") == 0
            for secret in (ana.uuid, bob.uuid):
                assert secret not in text
    finally:
        await emu.stop()


async def test_the_webhook_is_served_by_the_web_app_and_its_refusals_counted(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    """Webhook mode through BotService: one port serves the webhook, /healthz and /metrics."""
    engine = make_engine(sessions, build_routes())
    with socket.socket() as sock:  # the URL Telegram is given must name the port
        sock.bind(("127.0.0.1", 0))
        port = int(sock.getsockname()[1])
    secret = "Webhook_secret-of-32-characters-x"
    async with TelegramEmulator() as emu:
        hook = WebhookConfig(url=f"http://127.0.0.1:{port}/tg/hook", secret=secret)
        channel = TelegramChannel(engine, token=emu.token, base_url=emu.base_url, webhook=hook)
        with pytest.raises(ValueError, match="webhook mode needs the web app"):
            BotService(engine, [channel], tick_seconds=3600)
        service = BotService(engine, [channel], tick_seconds=3600, web=("127.0.0.1", port))
        async for client in _serving(service):
            assert (await client.get("/healthz")).status_code == 200
            ana = emu.user("ana")
            assert await ana.say("/start")  # delivered to the webhook, answered
            assert (await client.post("/tg/hook", content=b"{}")).status_code == 403
            headers = {"X-Telegram-Bot-Api-Secret-Token": secret}
            bad = await client.post("/tg/hook", content=b"{", headers=headers)
            assert bad.status_code == 415  # not application/json
            big = await raw_post(port, secret=secret, length=2_000_000, path="/tg/hook")
            assert big == 413  # announced, refused before a byte of it is read
            text = (await client.get("/metrics")).text
            assert _sample(text, "hrbot_webhook_refused_total", reason="forbidden") == 1
            assert _sample(text, "hrbot_webhook_refused_total", reason="bad_request") == 1
            assert _sample(text, "hrbot_webhook_refused_total", reason="too_large") == 1
            labels = {"channel": "telegram", "kind": "command"}
            assert _sample(text, "hrbot_updates_handled_total", **labels) == 1
            assert str(ana.id) not in text


async def test_metrics_read_the_outbox_backlog_database_wide(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    """Deliveries pending or being sent, by channel, and how long the oldest pending one has
    waited, read from the database: two instances (no sender here, so nothing goes out)
    report the same figures."""
    clock = Clock()
    async with sessions.begin() as session:
        await add_subscribers(session, ["t1", "t2", "t3"], ["dtes"])
        await add_subscribers(session, ["s1", "s2"], ["dtes"], channel=Channel.SIGNAL)
        draft = await bad_batch_draft(
            session, gazetteer=alert_engine(sessions).deps.content.gazetteer, now=clock()
        )
        await alerts.send_now(session, alert_id=draft.id, now=clock())
        # One in flight, one put off for a retry two minutes from now.
        ids = list(await session.scalars(select(Delivery.id).order_by(Delivery.id)))
        await session.execute(
            update(Delivery).where(Delivery.id == ids[0]).values(status=DeliveryStatus.SENDING)
        )
        await session.execute(
            update(Delivery)
            .where(Delivery.id == ids[1])
            .values(next_attempt_at=clock() + timedelta(minutes=2))
        )
    clock.advance(seconds=90)
    texts = []
    for _ in range(2):
        service = BotService(
            alert_engine(sessions, clock=clock), [], tick_seconds=3600, web=("127.0.0.1", 0)
        )
        async for client in _serving(service):
            texts.append((await client.get("/metrics")).text)
    first, second = texts
    for text in texts:
        assert _sample(text, "hrbot_outbox_backlog", channel="telegram") == 3
        assert _sample(text, "hrbot_outbox_backlog", channel="signal") == 2
        assert _sample(text, "hrbot_outbox_oldest_pending_seconds") == 90
        assert "database-wide" in text  # said in HELP
    assert [line for line in first.splitlines() if "outbox" in line] == [
        line for line in second.splitlines() if "outbox" in line
    ]

    async with sessions.begin() as session:
        await session.execute(update(Delivery).values(status=DeliveryStatus.SENT))
    service = BotService(
        alert_engine(sessions, clock=clock), [], tick_seconds=3600, web=("127.0.0.1", 0)
    )
    async for client in _serving(service):
        text = (await client.get("/metrics")).text
    assert _sample(text, "hrbot_outbox_backlog", channel="telegram") == 0
    assert _sample(text, "hrbot_outbox_backlog", channel="signal") == 0
    assert _sample(text, "hrbot_outbox_oldest_pending_seconds") == 0
