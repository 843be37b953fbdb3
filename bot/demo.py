"""``hrbot demo``: the real application against a local Bot API emulator, as a transcript.

A person asks for syringes, a peer accepts and hands them over, a coordinator reads the
numbers. Everything runs for real (python-telegram-bot, the engine, SQLite, the scheduler);
only Telegram's servers are replaced by :class:`~bot.emulator.TelegramEmulator` on 127.0.0.1,
and the clock starts on a weekday morning in the demo city so the demo outlets are open.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from bot.app import Runtime, build_runtime, prepare_database
from bot.channels.telegram import TelegramChannel
from bot.content import load_outlets
from bot.domain import Role
from bot.emulator import TelegramEmulator
from bot.emulator.people import FakeUser
from bot.emulator.records import SentMessage
from bot.privacy import generate_secret
from bot.runner import BotService, build_engine
from bot.services import invites
from bot.services.outlets import import_outlets
from bot.settings import load_settings
from handlers.routes import build_routes

# Wednesday 25 November 2026, 11:00 in Vancouver: the demo outlets are open.
DEMO_START = datetime(2026, 11, 25, 19, 0, tzinfo=UTC)
# Where the demo person stands: a block from the Main & Hastings outlet (not on it).
NEAR_MAIN_AND_HASTINGS = (49.28071, -123.09843)
SYRINGES = '1 ml syringe, 29G ½" fixed needle'
_CODE = re.compile(r"/join ([0-9A-Z-]{10,11})")
_PICKUP = re.compile(r"\b(\d{6})\b")


class DemoClock:
    """Real time, shifted so the demo starts at :data:`DEMO_START`."""

    def __init__(self, start: datetime = DEMO_START) -> None:
        self._offset = start.timestamp() - time.time()

    def __call__(self) -> datetime:
        return datetime.fromtimestamp(time.time() + self._offset, tz=UTC)


@dataclass
class DemoResult:
    """What happened, for tests: the handover code matched and stats were shown."""

    reference: str
    handed_over: bool
    stats: str


class _Transcript:
    """Prints each step as ``name › text`` and each bot message as ``bot → name``."""

    def __init__(self, out: Callable[[str], None]) -> None:
        self.out = out
        self.names: dict[int, str] = {}

    def person(self, user: FakeUser) -> FakeUser:
        self.names[user.chat.id] = user.name
        return user

    def said(self, user: FakeUser, text: str) -> None:
        self.out(f"\n{user.name:>5} › {text}")

    def bot(self, message: SentMessage) -> None:
        name = self.names.get(message.chat_id, "?")
        lines = message.text.splitlines() or [""]
        self.out(f"  bot → {name}: {lines[0]}")
        for line in lines[1:]:
            self.out(f"          {line}")
        if message.buttons:
            self.out("          " + "  ".join(f"[{b}]" for b in message.buttons))


async def run_demo(
    *,
    data_dir: Path,
    out: Callable[[str], None] = print,
    database_url: str | None = None,
    emulator: Callable[[TelegramEmulator], None] | None = None,
) -> DemoResult:
    """Run one whole journey and print it.

    The database is the SQLite file in ``data_dir`` that every other command reads there, unless
    ``database_url`` names another (migrated) one; ``emulator`` is called with the running
    emulator (tests read its records). The key is made for this run and never written: a
    kept demo database reads (``hrbot outlets list``) without it, and the demo leaves no
    key in the user config folder, where the real bot's lives.
    """
    async with TelegramEmulator(seed=1) as emu:
        if emulator is not None:
            emulator(emu)
        settings = load_settings(
            data_dir=data_dir,
            database_url=database_url,
            telegram_token=emu.token,
            telegram_api_url=emu.base_url,
            secret_key=generate_secret(),
        )
        runtime = build_runtime(settings)
        try:
            return await _journey(runtime, emu, out)
        finally:
            await runtime.close()


async def _journey(
    runtime: Runtime, emu: TelegramEmulator, out: Callable[[str], None]
) -> DemoResult:
    await prepare_database(runtime)
    content = runtime.content
    demo_outlets = runtime.settings.content_dir / "outlets.demo.yaml"
    specs = load_outlets(demo_outlets, content.catalogue, content.gazetteer)
    clock = DemoClock()
    async with runtime.sessions.begin() as session:
        await import_outlets(session, specs=specs, catalogue=content.catalogue, now=clock())
        coordinator_code = await invites.create(
            session,
            codes_key=runtime.keys.codes,
            role=Role.COORDINATOR,
            ttl=runtime.settings.invite_ttl,
            now=clock(),
        )
    engine = build_engine(runtime, build_routes(), clock=clock)
    channel = TelegramChannel(engine, token=emu.token, base_url=emu.base_url, poll_timeout=1.0)
    service = BotService(engine, [channel], tick_seconds=1.0)
    script = _Transcript(out)
    emu.add_listener(script.bot)
    cora = script.person(emu.user("cora"))
    pat = script.person(emu.user("pat"))
    ana = script.person(emu.user("ana"))

    async def act(user: FakeUser, text: str, expect: int = 1) -> list[SentMessage]:
        script.said(user, text)
        return await user.say(text, expect=expect)

    async def tap(user: FakeUser, label: str, expect: int = 1) -> list[SentMessage]:
        script.said(user, f"[{label}]")
        return await user.tap(label, expect=expect)

    out(f"hrbot demo: {len(specs)} demo outlets imported; Telegram is emulated on {emu.base_url}")
    await service.start()
    try:
        out("\n— a coordinator enrols with the code `hrbot invite coordinator` printed —")
        await act(cora, f"/join {coordinator_code}")
        invite = await act(cora, "/invite peer main_hastings_peer")
        match = _CODE.search(invite[-1].text)
        assert match is not None, "the coordinator got no invite code"

        out("\n— a peer worker joins the outlet and starts a shift —")
        await act(pat, f"/join {match.group(1)}")
        await act(pat, "/shift")
        await tap(pat, "Go on shift")

        out("\n— a person asks for syringes, anonymously —")
        await act(ana, "/start")
        await act(ana, "/supplies")
        await tap(ana, "Kit for injecting and smoking")
        await tap(ana, SYRINGES)
        await tap(ana, "2")
        await tap(ana, "Done: choose where")
        script.said(ana, "(shares a location near Main & Hastings)")
        await ana.share_location(*NEAR_MAIN_AND_HASTINGS)
        offers_before = len(pat.transcript)
        sent = await tap(ana, "Send request")
        reference = sent[-1].text.split("Reference: ", 1)[1].split()[0]
        await emu.wait_for(lambda: len(pat.transcript) > offers_before, what="the offer")

        out("\n— the peer accepts; the person gets the place and a pickup code —")
        codes_before = len(ana.transcript)
        await tap(pat, "Accept")
        await emu.wait_for(lambda: len(ana.transcript) > codes_before, what="the pickup code")
        pickup = _PICKUP.search(ana.transcript[-1].text)
        assert pickup is not None, "the person got no pickup code"

        out("\n— at the outlet, the person shows the code; the peer hands over —")
        await tap(pat, "Handed over")
        thanks_before = len(ana.transcript)
        done = await act(pat, pickup.group(1))
        await emu.wait_for(lambda: len(ana.transcript) > thanks_before, what="the thank-you")
        handed_over = any("Handed over" in m.text for m in done)

        out("\n— the coordinator reads the anonymous numbers —")
        stats = await act(cora, "/stats")
        return DemoResult(reference=reference, handed_over=handed_over, stats=stats[-1].text)
    finally:
        await service.stop()
