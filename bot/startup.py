"""The start-up report: what the bot runs on, and what will make requests fail.

:func:`report` is a pure function of :class:`StartupFacts`, so every wording is testable
without a bot; :func:`gather` collects the facts from the runtime and the database.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Final

import yaml
from sqlalchemy import make_url
from sqlalchemy.exc import ArgumentError

from bot.app import Runtime
from bot.services.readiness import OPEN_WINDOW, Readiness, readiness

log = logging.getLogger(__name__)

DEMO_OUTLETS_FILE: Final = "outlets.demo.yaml"
_SHOWN_KEYS: Final = 3

Line = tuple[int, str]  # a logging level and one line


def hrbot_version() -> str:
    """The installed package's version (pyproject.toml's, through the package metadata)."""
    try:
        return version("hrbot")
    except PackageNotFoundError:  # running from a tree that was never installed
        return "unknown"


@dataclass(frozen=True)
class ChannelFacts:
    """A connected channel: its name and, where it has one, the bot's public username."""

    name: str
    username: str | None = None


@dataclass(frozen=True)
class StartupFacts:
    """Everything the report says, gathered at start."""

    version: str
    channels: Sequence[ChannelFacts]
    database: str  # described by describe_database: no credentials
    readiness: Readiness
    demo_files: Sequence[str] = field(default_factory=tuple)  # content files marked demo
    content_dir: str = ""


def report(facts: StartupFacts) -> list[Line]:
    """The report's lines: INFO for what runs, WARNING for what will make requests fail."""
    lines: list[Line] = [(logging.INFO, f"hrbot {facts.version} started")]
    lines += [(logging.INFO, _channel_line(c)) for c in facts.channels]
    lines.append((logging.INFO, f"database: {facts.database}"))
    r = facts.readiness
    hours = int(OPEN_WINDOW.total_seconds() // 3600)
    lines.append(
        (
            logging.INFO,
            f"outlets: {r.active_outlets} active, {r.open_soon} open in the next {hours} h, "
            f"{r.staffed_outlets} with a peer worker; coordinators: {r.coordinators}",
        )
    )
    lines += [(logging.WARNING, warning) for warning in _warnings(facts, hours)]
    return lines


def _channel_line(channel: ChannelFacts) -> str:
    # A link, not "@name": the log redaction blanks anything shaped like a @username.
    if channel.username:
        return f"{channel.name}: connected as https://t.me/{channel.username}"
    return f"{channel.name}: connected"


def _warnings(facts: StartupFacts, hours: int) -> list[str]:
    r = facts.readiness
    warnings = []
    if r.active_outlets == 0:
        warnings.append(
            "no active outlet: every request will go unrouted; import yours with "
            "`hrbot outlets import FILE`"
        )
    else:
        if r.open_soon == 0:
            warnings.append(
                f"no active outlet opens in the next {hours} h: requests will find none open "
                "(check the outlets' hours and time zones)"
            )
        if r.staffed_outlets == 0:
            warnings.append(
                "no active outlet has a peer worker: requests cannot be offered to anyone; "
                "a coordinator sends /invite peer OUTLET_KEY to the bot"
            )
    if r.coordinators == 0:
        warnings.append(
            "no coordinator: nobody can enrol peer workers or send alerts; run "
            "`hrbot invite coordinator` and send the code it prints to the bot"
        )
    if r.demo_outlets:
        shown = ", ".join(r.demo_outlets[:_SHOWN_KEYS])
        more = ", …" if len(r.demo_outlets) > _SHOWN_KEYS else ""
        warnings.append(
            f"{len(r.demo_outlets)} demo outlets are active ({shown}{more}): people would be "
            "sent to invented places; import your own outlets, and the demo keys with "
            "`active: false`"
        )
    if facts.demo_files:
        where = f" in {facts.content_dir}" if facts.content_dir else ""
        warnings.append(
            f"demo content in use: {', '.join(facts.demo_files)}{where} (invented places and "
            "services); replace them with your own and delete their `demo: true` line"
        )
    return warnings


def describe_database(url: str) -> str:
    """Driver, host, port and database name, or the SQLite file: never credentials or
    query options (they may hold a password)."""
    try:
        parsed = make_url(url)
    except ArgumentError:
        return "an unreadable database URL"
    if parsed.get_backend_name() == "sqlite":
        return f"SQLite file {parsed.database or '(in memory)'} ({parsed.drivername})"
    host = parsed.host or "localhost"
    port = f":{parsed.port}" if parsed.port else ""
    return f"{parsed.drivername}://{host}{port}/{parsed.database or ''}"


def demo_outlet_keys(content_dir: Path) -> frozenset[str]:
    """Keys of the shipped demo outlets (``outlets.demo.yaml``): an outlet in the database
    with one of them was imported from it. Empty when the file is gone or unreadable."""
    try:
        data = yaml.safe_load((content_dir / DEMO_OUTLETS_FILE).read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError):
        return frozenset()
    outlets = data.get("outlets") if isinstance(data, dict) else None
    if not isinstance(outlets, list):
        return frozenset()
    return frozenset(o["key"] for o in outlets if isinstance(o, dict) and "key" in o)


async def gather(
    runtime: Runtime, channels: Sequence[ChannelFacts], *, now: datetime
) -> StartupFacts:
    """The facts for :func:`report`, read at ``now``."""
    settings = runtime.settings
    async with runtime.sessions() as session:
        counts = await readiness(session, now=now, demo_keys=demo_outlet_keys(settings.content_dir))
    content = runtime.content
    demo_files = [
        name
        for name, demo in (
            ("areas.yaml", content.gazetteer.demo),
            ("referrals.yaml", content.directory.demo),
        )
        if demo
    ]
    return StartupFacts(
        version=hrbot_version(),
        channels=channels,
        database=describe_database(settings.effective_database_url),
        readiness=counts,
        demo_files=demo_files,
        content_dir=str(settings.content_dir),
    )


async def announce(
    runtime: Runtime, channels: Sequence[ChannelFacts], *, now: datetime
) -> list[Line]:
    """Gather the facts, log the report (one record per line) and return its lines. A
    failure to gather is logged, not raised: the report informs, the bot runs on."""
    try:
        facts = await gather(runtime, channels, now=now)
    except Exception as exc:
        log.warning("start-up report unavailable: %s", type(exc).__name__)
        return []
    lines = report(facts)
    for level, text in lines:
        log.log(level, "%s", text)
    return lines
