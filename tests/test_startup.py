"""The start-up report: its words from facts (no bot needed), and the facts from a database."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from bot.app import build_runtime
from bot.services.readiness import Readiness
from bot.settings import Settings
from bot.startup import (
    ChannelFacts,
    StartupFacts,
    announce,
    demo_outlet_keys,
    describe_database,
    hrbot_version,
    report,
)
from tests.support.chat import Clock

CONTENT = Path(__file__).resolve().parents[1] / "content"
READY = Readiness(active_outlets=8, open_soon=5, staffed_outlets=3, coordinators=2)
EMPTY = Readiness(active_outlets=0, open_soon=0, staffed_outlets=0, coordinators=0)


def facts(readiness: Readiness = READY, **changes: object) -> StartupFacts:
    base: dict[str, object] = {
        "version": "1.2.3",
        "channels": [ChannelFacts("telegram", "hrbot_test_bot"), ChannelFacts("signal")],
        "database": "postgresql+asyncpg://db:5432/hrbot",
        "readiness": readiness,
    }
    return StartupFacts(**{**base, **changes})  # type: ignore[arg-type]


def warnings(lines: list[tuple[int, str]]) -> list[str]:
    return [text for level, text in lines if level == logging.WARNING]


def test_a_ready_bot_says_what_it_runs_on_and_warns_of_nothing() -> None:
    assert report(facts()) == [
        (logging.INFO, "hrbot 1.2.3 started"),
        (logging.INFO, "telegram: connected as https://t.me/hrbot_test_bot"),
        (logging.INFO, "signal: connected"),
        (logging.INFO, "database: postgresql+asyncpg://db:5432/hrbot"),
        (
            logging.INFO,
            "outlets: 8 active, 5 open in the next 24 h, 3 with a peer worker; coordinators: 2",
        ),
    ]


def test_an_empty_database_warns_how_to_fix_it() -> None:
    assert warnings(report(facts(EMPTY))) == [
        "no active outlet: every request will go unrouted; import yours with "
        "`hrbot outlets import FILE`",
        "no coordinator: nobody can enrol peer workers or send alerts; run "
        "`hrbot invite coordinator` and send the code it prints to the bot",
    ]


def test_outlets_that_cannot_take_requests() -> None:
    shut = Readiness(active_outlets=3, open_soon=0, staffed_outlets=0, coordinators=1)
    assert warnings(report(facts(shut))) == [
        "no active outlet opens in the next 24 h: requests will find none open (check the "
        "outlets' hours and time zones)",
        "no active outlet has a peer worker: requests cannot be offered to anyone; a "
        "coordinator sends /invite peer OUTLET_KEY to the bot",
    ]


def test_demo_outlets_and_content_are_named() -> None:
    demo = Readiness(
        active_outlets=8,
        open_soon=5,
        staffed_outlets=3,
        coordinators=2,
        demo_outlets=("a_peer", "b_van", "c_site", "d_pharmacy"),
    )
    found = warnings(
        report(facts(demo, demo_files=["areas.yaml", "referrals.yaml"], content_dir="/srv/c"))
    )
    assert found == [
        "4 demo outlets are active (a_peer, b_van, c_site, …): people would be sent to "
        "invented places; import your own outlets, and the demo keys with `active: false`",
        "demo content in use: areas.yaml, referrals.yaml in /srv/c (invented places and "
        "services); replace them with your own and delete their `demo: true` line",
    ]


@pytest.mark.parametrize(
    ("url", "described"),
    [
        (
            "postgresql+asyncpg://hrbot:s3cret@db.internal:5433/hrbot?password=other",
            "postgresql+asyncpg://db.internal:5433/hrbot",
        ),
        ("postgresql+asyncpg:///hrbot", "postgresql+asyncpg://localhost/hrbot"),
        (
            "sqlite+aiosqlite:////srv/hrbot/data/hrbot.sqlite3",
            "SQLite file /srv/hrbot/data/hrbot.sqlite3 (sqlite+aiosqlite)",
        ),
        ("no url at all", "an unreadable database URL"),
    ],
)
def test_the_database_is_described_without_credentials(url: str, described: str) -> None:
    assert describe_database(url) == described


def test_demo_outlet_keys_come_from_the_demo_file(tmp_path: Path) -> None:
    keys = demo_outlet_keys(CONTENT)
    assert len(keys) == 8
    assert "main_hastings_peer" in keys
    assert demo_outlet_keys(tmp_path) == frozenset()  # no demo file: nothing is demo
    (tmp_path / "outlets.demo.yaml").write_text("outlets: [:")
    assert demo_outlet_keys(tmp_path) == frozenset()


def test_the_version_comes_from_the_package_metadata() -> None:
    import tomllib

    pyproject = tomllib.loads((CONTENT.parent / "pyproject.toml").read_text(encoding="utf-8"))
    assert hrbot_version() == pyproject["project"]["version"]


async def test_announce_on_an_empty_database(
    db_url: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    settings = Settings(
        database_url=db_url,
        data_dir=tmp_path,
        content_dir=CONTENT,
        secret_key="k" * 40,
        telegram_token=None,
    )
    runtime = build_runtime(settings)
    try:
        lines = await announce(runtime, [ChannelFacts("telegram", "x_bot")], now=Clock().now)
    finally:
        await runtime.close()
    assert (logging.INFO, "telegram: connected as https://t.me/x_bot") in lines
    assert (logging.INFO, f"database: {describe_database(db_url)}") in lines
    said = warnings(lines)
    assert said[0].startswith("no active outlet")
    assert said[1].startswith("no coordinator")
    assert said[2].startswith("demo content in use: areas.yaml, referrals.yaml")
    assert [(r.levelno, r.getMessage()) for r in caplog.records if r.name == "bot.startup"] == lines
