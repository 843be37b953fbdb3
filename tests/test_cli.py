"""The hrbot command line, run as a person would, against each database."""

from __future__ import annotations

import asyncio
import os
import re
import signal
import socket
import stat
import sys
from dataclasses import replace
from datetime import timedelta
from importlib.metadata import version
from pathlib import Path

import pytest
from sqlalchemy import delete, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from typer.testing import CliRunner, Result

from bot.cli import app
from bot.db.base import utcnow
from bot.db.models import Consultation, Contact, Coordinator, Invite, Item, Outlet, Stock
from bot.domain import Role
from bot.emulator import TelegramEmulator
from bot.health import STATUS_FILE, Status, write_status
from bot.instance import InstanceLock
from bot.privacy.redaction import scrub
from bot.services import invites, stock
from bot.startup import describe_database
from tests.services.factories import NOW, add_contact, add_outlet

CONTENT = Path(__file__).resolve().parents[1] / "content"
DEMO_YAML = CONTENT / "outlets.demo.yaml"
DEMO_CSV = CONTENT / "outlets.demo.csv"
CONSULTATION_YAML = CONTENT.parent / "docs" / "consultation.example.yaml"


@pytest.fixture
def bare(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """No HRBOT_ variable set; the working directory is an empty folder of tmp_path."""
    for name in list(os.environ):
        if name.startswith("HRBOT_"):
            monkeypatch.delenv(name)
    folder = tmp_path / "cwd"
    folder.mkdir()
    monkeypatch.chdir(folder)
    return folder


@pytest.fixture
def env(db_url: str, tmp_path: Path, bare: Path) -> dict[str, str]:
    return {"HRBOT_DATABASE_URL": db_url, "HRBOT_DATA_DIR": str(tmp_path / "data")}


async def _hrbot(env: dict[str, str], *args: str) -> Result:
    # The CLI runs its own event loop, so it goes to a thread of its own.
    return await asyncio.to_thread(CliRunner().invoke, app, list(args), env=env)


async def _count(sessions: async_sessionmaker[AsyncSession], model: type) -> int:
    async with sessions() as session:
        return int(await session.scalar(select(func.count()).select_from(model)) or 0)


async def test_demo_import_twice_is_idempotent(
    env: dict[str, str], sessions: async_sessionmaker[AsyncSession]
) -> None:
    first = await _hrbot(env, "outlets", "import", str(DEMO_YAML))
    assert first.exit_code == 0, first.output
    assert "8 created, 0 updated, 0 unchanged" in first.output
    stock_rows = await _count(sessions, Stock)
    second = await _hrbot(env, "outlets", "import", str(DEMO_YAML))
    assert second.exit_code == 0, second.output
    assert "0 created, 0 updated, 8 unchanged" in second.output
    # The CSV holds the same outlets: importing it changes nothing either.
    third = await _hrbot(env, "outlets", "import", str(DEMO_CSV))
    assert "0 created, 0 updated, 8 unchanged" in third.output, third.output
    assert await _count(sessions, Outlet) == 8
    assert await _count(sessions, Stock) == stock_rows > 0

    listing = await _hrbot(env, "outlets", "list")
    assert listing.exit_code == 0
    assert len(listing.stdout.strip().splitlines()) == 8
    assert "inactive" in listing.output


async def test_reimport_updates_by_key(
    env: dict[str, str], sessions: async_sessionmaker[AsyncSession], tmp_path: Path
) -> None:
    await _hrbot(env, "outlets", "import", str(DEMO_YAML))
    changed = tmp_path / "changed.yaml"
    text = DEMO_YAML.read_text(encoding="utf-8")
    first_name = text.split("name:", 1)[1].splitlines()[0].strip()
    changed.write_text(text.replace(first_name, '"Renamed outlet"', 1), encoding="utf-8")
    result = await _hrbot(env, "outlets", "import", str(changed))
    assert "0 created, 1 updated, 7 unchanged" in result.output, result.output
    async with sessions() as session:
        names = set((await session.scalars(select(Outlet.name))).all())
    assert "Renamed outlet" in names


async def test_reimport_keeps_live_stock_unless_reset(
    env: dict[str, str], sessions: async_sessionmaker[AsyncSession]
) -> None:
    """Issue 12: after a handover the count is 38; re-importing to change hours set it to 40."""

    async def peer_count(set_to: int | None = None) -> int | None:
        async with sessions.begin() as session:
            outlet_id = await session.scalar(
                select(Outlet.id).where(Outlet.key == "main_hastings_peer")
            )
            item_id = await session.scalar(select(Item.id).where(Item.code == "syr_1ml_29g"))
            assert outlet_id is not None
            assert item_id is not None
            if set_to is not None:  # what /stock syr_1ml_29g 38 does
                await stock.set_quantity(
                    session, outlet_id=outlet_id, item_id=item_id, quantity=set_to, now=NOW
                )
            return await session.scalar(
                select(Stock.quantity).where(Stock.outlet_id == outlet_id, Stock.item_id == item_id)
            )

    first = await _hrbot(env, "outlets", "import", str(DEMO_YAML))
    assert first.exit_code == 0, first.output
    assert await peer_count() == 40
    assert await peer_count(set_to=38) == 38

    again = await _hrbot(env, "outlets", "import", str(DEMO_YAML))
    assert again.exit_code == 0, again.output
    assert again.stdout == (
        "imported 8 outlets: 0 created, 0 updated, 8 unchanged; live stock kept for 1 item"
        " (use --reset-stock to set counts from the file)\n"
    )
    assert await peer_count() == 38

    reset = await _hrbot(env, "outlets", "import", str(DEMO_YAML), "--reset-stock")
    assert reset.exit_code == 0, reset.output
    assert reset.stdout == (
        "imported 8 outlets: 0 created, 1 updated, 7 unchanged; 1 count reset from the file\n"
    )
    assert await peer_count() == 40


async def test_dropping_an_item_withdraws_it_unless_promised(
    env: dict[str, str], sessions: async_sessionmaker[AsyncSession], tmp_path: Path
) -> None:
    await _hrbot(env, "outlets", "import", str(DEMO_YAML))
    text = DEMO_YAML.read_text(encoding="utf-8")
    first_nalox = "      nalox_inj: 6\n"
    assert text.count(first_nalox) == 1  # the first outlet's
    dropped = tmp_path / "dropped.yaml"
    dropped.write_text(text.replace(first_nalox, ""), encoding="utf-8")
    async with sessions.begin() as session:
        outlet_id = await session.scalar(
            select(Outlet.id).where(Outlet.key == "main_hastings_peer")
        )
        nalox = await session.scalar(select(Item.id).where(Item.code == "nalox_inj"))
        assert outlet_id is not None
        assert nalox is not None
        assert await stock.reserve(session, outlet_id=outlet_id, items={nalox: 2})

    refused = await _hrbot(env, "outlets", "import", str(dropped))
    assert refused.exit_code == 2
    assert refused.stderr == (
        "hrbot: main_hastings_peer: 2 packs of nalox_inj promised to accepted requests; keep"
        " nalox_inj in the file until they are handed over or released\nnothing was imported\n"
    )

    async with sessions.begin() as session:
        await stock.unreserve(session, outlet_id=outlet_id, items={nalox: 2})
    withdrawn = await _hrbot(env, "outlets", "import", str(dropped))
    assert withdrawn.stdout == (
        "imported 8 outlets: 0 created, 1 updated, 7 unchanged\n"
        "main_hastings_peer: no longer offers nalox_inj (not listed in the file)\n"
    )


async def test_one_outlet_is_singular(env: dict[str, str], tmp_path: Path) -> None:
    lines = DEMO_CSV.read_text(encoding="utf-8").splitlines()
    header = next(n for n, line in enumerate(lines) if line.startswith("key,"))
    one = tmp_path / "one.csv"
    one.write_text("\n".join(lines[header : header + 2]) + "\n", encoding="utf-8")
    result = await _hrbot(env, "outlets", "import", str(one))
    assert result.stdout == "imported 1 outlet: 1 created, 0 updated, 0 unchanged\n"


async def test_one_bad_row_imports_nothing_and_names_it(
    env: dict[str, str], sessions: async_sessionmaker[AsyncSession], tmp_path: Path
) -> None:
    lines = DEMO_CSV.read_text(encoding="utf-8").splitlines()
    data_rows = [i for i, line in enumerate(lines) if line and not line.startswith(("#", "key,"))]
    bad_index = data_rows[3]
    cells = lines[bad_index].split(",")
    header = next(line for line in lines if line.startswith("key,")).split(",")
    cells[header.index("lat")] = "north-ish"
    lines[bad_index] = ",".join(cells)
    bad = tmp_path / "bad.csv"
    bad.write_text("\n".join(lines) + "\n", encoding="utf-8")

    result = await _hrbot(env, "outlets", "import", str(bad))
    assert result.exit_code != 0
    assert f"bad.csv:{bad_index + 1}: lat:" in result.output
    assert "nothing was imported" in result.output
    assert "Traceback" not in result.output
    assert await _count(sessions, Outlet) == 0


async def test_unreadable_hours_import_nothing(
    env: dict[str, str], sessions: async_sessionmaker[AsyncSession], tmp_path: Path
) -> None:
    """OSM hours (and the older compact form) import; unreadable ones stop the whole file."""
    text = DEMO_YAML.read_text(encoding="utf-8")
    osm = tmp_path / "osm.yaml"
    osm.write_text(
        text.replace("hours: daily 09:00-21:00", 'hours: "Mo-Sa 09:00-21:00; Su off"', 1),
        encoding="utf-8",
    )
    result = await _hrbot(env, "outlets", "import", str(osm))
    assert result.exit_code == 0, result.output
    async with sessions() as session:
        assert "Mo-Sa 09:00-21:00; Su closed" in set(await session.scalars(select(Outlet.hours)))
        await session.execute(delete(Outlet))
        await session.commit()
    bad = tmp_path / "bad.yaml"
    bad.write_text(text.replace("hours: daily 09:00-21:00", "hours: Mo-Fr 9h-5pm", 1))
    result = await _hrbot(env, "outlets", "import", str(bad))
    assert result.exit_code != 0
    assert "hours: cannot read opening hours 'Mo-Fr 9h-5pm' at character 7" in result.output
    assert "nothing was imported" in result.output
    assert "Traceback" not in result.output
    assert await _count(sessions, Outlet) == 0


async def test_missing_file_and_wrong_type(env: dict[str, str], tmp_path: Path) -> None:
    for path in (tmp_path / "nope.yaml", tmp_path / "outlets.txt"):
        if path.suffix == ".txt":
            path.write_text("x")
        result = await _hrbot(env, "outlets", "import", str(path))
        assert result.exit_code != 0
        assert "Traceback" not in result.output


async def test_consultation_add_checks_the_whole_file_first(
    env: dict[str, str], sessions: async_sessionmaker[AsyncSession], tmp_path: Path
) -> None:
    example = CONSULTATION_YAML.read_text(encoding="utf-8")
    # The CLI reads the real clock: close ten days from whenever the test runs.
    closes = (utcnow() + timedelta(days=10)).date().isoformat()
    good = tmp_path / "good.yaml"
    good.write_text(re.sub(r"(?m)^closes: .*$", f"closes: {closes}", example), encoding="utf-8")
    bad = tmp_path / "bad.yaml"
    bad.write_text(good.read_text(encoding="utf-8").replace("  fa_AF: ساعات کاری\n", "", 1))

    result = await _hrbot(env, "consultation", "add", str(bad))
    assert result.exit_code != 0
    assert "title.fa_AF: missing or empty" in result.output
    assert "nothing was saved" in result.output
    assert "Traceback" not in result.output
    assert await _count(sessions, Consultation) == 0

    result = await _hrbot(env, "consultation", "add", str(good))
    assert result.exit_code == 0, result.output
    assert "added consultation #" in result.output
    assert "4 questions, for everyone" in result.output
    assert await _count(sessions, Consultation) == 1


async def test_invite_coordinator_prints_a_one_time_code(
    env: dict[str, str], sessions: async_sessionmaker[AsyncSession], config_home: Path
) -> None:
    # No key yet: the command says where it looked and writes none (the bot's would differ).
    keyless = await _hrbot(env, "invite", "coordinator")
    assert keyless.exit_code == 2
    key = config_home / "hrbot" / "secret.key"
    assert keyless.output == (
        f"hrbot: no key at {key}: `hrbot run` or `hrbot db upgrade` generates it, or set "
        "HRBOT_SECRET_KEY_FILE\n"
    )
    assert not key.exists()
    assert await _count(sessions, Invite) == 0

    result = await _hrbot({**env, "HRBOT_SECRET_KEY": "s" * 48}, "invite", "coordinator")
    assert result.exit_code == 0, result.output
    code = result.stdout.strip().splitlines()[0]
    assert len(code.replace("-", "")) == 10
    async with sessions() as session:
        invite = (await session.scalars(select(Invite))).one()
    assert code not in invite.code_hash
    assert await _count(sessions, Coordinator) == 0


async def test_run_without_channel_says_what_to_set(env: dict[str, str], config_home: Path) -> None:
    result = await _hrbot(env, "run")
    assert result.exit_code == 2
    assert "HRBOT_TELEGRAM_TOKEN" in result.output
    assert "Traceback" not in result.output
    # Nothing created (no key, no database) for a bot that cannot run.
    assert not await asyncio.to_thread(os.path.exists, env["HRBOT_DATA_DIR"])
    assert os.listdir(config_home) == []


async def test_wrong_setting_is_one_line(env: dict[str, str]) -> None:
    result = await _hrbot({**env, "HRBOT_RETENTION_DAYS": "many"}, "outlets", "list")
    assert result.exit_code == 2
    assert result.output.strip() == (
        "hrbot: invalid setting HRBOT_RETENTION_DAYS: "
        "Input should be a valid integer, unable to parse string as an integer"
    )


async def test_db_upgrade_and_current(env: dict[str, str]) -> None:
    result = await _hrbot(env, "db", "upgrade")
    assert result.exit_code == 0, result.output
    current = await _hrbot(env, "db", "current")
    lines = current.output.strip().splitlines()
    assert lines[0].split()[-1] == lines[1].split()[-1]


@pytest.mark.parametrize(
    "args",
    [
        ("outlets", "list"),
        ("outlets", "import", str(DEMO_YAML)),
        ("invite", "coordinator"),
        ("db", "current"),
    ],
)
async def test_only_run_upgrade_and_demo_create_a_database(
    bare: Path, data_home: Path, config_home: Path, args: tuple[str, ...]
) -> None:
    result = await _hrbot({}, *args)
    assert result.exit_code == 2
    database = data_home / "hrbot" / "hrbot.sqlite3"
    assert result.output.splitlines()[0] == (
        f"hrbot: no database at {database}: create it with `hrbot db upgrade` "
        "(or `hrbot run`), or point HRBOT_DATA_DIR at the folder that holds it"
    )
    assert not (data_home / "hrbot").exists()  # no database
    assert os.listdir(config_home) == []  # no key
    assert os.listdir(bare) == []


async def test_every_folder_uses_the_same_database(
    bare: Path, data_home: Path, config_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    created = await _hrbot({}, "db", "upgrade")
    assert created.exit_code == 0, created.output
    elsewhere = bare.parent / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    imported = await _hrbot({}, "outlets", "import", str(DEMO_YAML))
    assert "8 created" in imported.output, imported.output
    monkeypatch.chdir(bare.parent)
    listing = await _hrbot({}, "outlets", "list")
    assert len(listing.stdout.strip().splitlines()) == 8, listing.output
    assert "hrbot.sqlite3" in os.listdir(data_home / "hrbot")
    assert stat.S_IMODE((data_home / "hrbot").stat().st_mode) == 0o700
    assert stat.S_IMODE((data_home / "hrbot" / "hrbot.sqlite3").stat().st_mode) == 0o600
    # The key `db upgrade` generated is in the user config folder, not with the data.
    assert "secret.key" not in os.listdir(data_home / "hrbot")
    assert os.listdir(config_home / "hrbot") == ["secret.key"]
    invite = await _hrbot({}, "invite", "coordinator")  # reads that key
    assert invite.exit_code == 0, invite.output
    assert os.listdir(bare) == os.listdir(elsewhere) == []


def test_help_for_every_command() -> None:
    runner = CliRunner()
    for args in (
        [],
        ["run"],
        ["health"],
        ["demo"],
        ["db"],
        ["db", "upgrade"],
        ["db", "current"],
        ["outlets"],
        ["outlets", "import"],
        ["outlets", "list"],
        ["invite"],
        ["invite", "coordinator"],
        ["consultation"],
        ["consultation", "add"],
    ):
        result = runner.invoke(app, [*args, "--help"])
        assert result.exit_code == 0, (args, result.output)
        assert "Usage" in result.output
        # typer's rich panels printed a type for every flag, even "--help <bool>".
        assert "<bool>" not in result.output, (args, result.output)
        assert re.search(r"^  --help +Show this message and exit\.$", result.output, re.M)


def test_version_comes_from_the_package_metadata() -> None:
    result = CliRunner().invoke(app, ["--version"])
    assert result.exit_code == 0
    assert result.output == f"hrbot {version('hrbot')}\n"


async def test_health_without_a_running_bot(env: dict[str, str]) -> None:
    await _hrbot(env, "db", "upgrade")
    result = await _hrbot({**env, "HRBOT_TELEGRAM_TOKEN": "1:abc"}, "health")
    assert result.exit_code == 1
    assert result.output.splitlines() == [
        "database: answers",
        "bot: no status file: is `hrbot run` running?",
    ]


async def test_health_reads_the_status_the_bot_keeps(env: dict[str, str]) -> None:
    await _hrbot(env, "db", "upgrade")
    path = Path(env["HRBOT_DATA_DIR"]) / STATUS_FILE
    # Written as the running bot would, on the same (wall) clock `hrbot health` reads.
    good = Status(
        written_at=utcnow(), tick_seconds=15, last_tick_at=utcnow(), channels={"telegram": True}
    )
    write_status(path, good)
    both = {**env, "HRBOT_TELEGRAM_TOKEN": "1:abc"}
    result = await _hrbot(both, "health")
    assert result.exit_code == 0, result.output
    assert result.output.splitlines()[0] == "database: answers"
    assert result.output.splitlines()[2] == "telegram: connected"
    # Signal configured too, but the bot does not run it: not healthy.
    signal_too = {**both, "HRBOT_SIGNAL_NUMBER": "+16045550100", "HRBOT_SIGNAL_SERVICE": "x:1"}
    result = await _hrbot(signal_too, "health")
    assert result.exit_code == 1
    assert "signal: not run by the bot" in result.output
    write_status(path, replace(good, channels={"telegram": False}))
    result = await _hrbot(both, "health")
    assert result.exit_code == 1
    assert "telegram: not connected" in result.output
    path.write_text("garbage")
    result = await _hrbot(both, "health")
    assert result.exit_code == 1
    assert result.output.strip() == f"hrbot: {path} is not a status file this version writes"


# -- `hrbot run` as a process: start-up, no network, Ctrl+C ------------------------------------


class RunningBot:
    """``hrbot run`` in a child process; its log lines read as they come."""

    def __init__(self, process: asyncio.subprocess.Process) -> None:
        self.process = process
        self.lines: list[str] = []

    @classmethod
    async def start(cls, env: dict[str, str], cwd: Path) -> RunningBot:
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "bot",
            "run",
            # The test's environment without hrbot's own settings: a moved clock (faketime's
            # LD_PRELOAD, which CI's second pass sets) must reach the bot as it reaches the test.
            env={**{k: v for k, v in os.environ.items() if not k.startswith("HRBOT_")}, **env},
            cwd=cwd,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
        )
        return cls(process)

    async def wait_for(self, text: str) -> None:
        """Read lines until one holds ``text`` (a guard of 60 s for a broken build)."""
        assert self.process.stdout is not None
        async with asyncio.timeout(60):
            while not any(text in line for line in self.lines):
                line = await self.process.stdout.readline()
                if not line:
                    raise AssertionError(f"exited before {text!r}:\n{self.output}")
                self.lines.append(line.decode())

    async def interrupt(self) -> int:
        """Ctrl+C; read the rest; the exit code."""
        assert self.process.stdout is not None
        self.process.send_signal(signal.SIGINT)
        async with asyncio.timeout(60):
            rest = await self.process.stdout.read()
            self.lines += rest.decode().splitlines(keepends=True)
            return await self.process.wait()

    @property
    def output(self) -> str:
        return "".join(self.lines)

    def kill(self) -> None:
        if self.process.returncode is None:
            self.process.kill()


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def test_run_without_network_retries_and_stops_on_ctrl_c(
    env: dict[str, str], tmp_path: Path
) -> None:
    token = "12345:not-a-real-token-value"
    port = closed_port()
    run_env = {
        **env,
        "HRBOT_TELEGRAM_TOKEN": token,
        "HRBOT_TELEGRAM_API_URL": f"http://127.0.0.1:{port}/bot",
    }
    bot = await RunningBot.start(run_env, tmp_path)
    try:
        await bot.wait_for("retrying in")
        code = await bot.interrupt()
    finally:
        bot.kill()
    assert code == 0, bot.output
    assert f"cannot reach Telegram at 127.0.0.1:{port}: connection refused; retrying in 1 s" in (
        bot.output
    )
    assert "stopping before every channel was connected" in bot.output
    assert bot.output.splitlines()[-1].endswith("INFO bot.runner: hrbot stopped")
    assert "Traceback" not in bot.output
    assert token not in bot.output
    assert len(bot.output.splitlines()) < 10, bot.output


async def test_run_reports_at_start_answers_and_keeps_a_status(
    env: dict[str, str], tmp_path: Path
) -> None:
    async with TelegramEmulator() as emu:
        run_env = {**env, "HRBOT_TELEGRAM_TOKEN": emu.token, "HRBOT_TELEGRAM_API_URL": emu.base_url}
        bot = await RunningBot.start(run_env, tmp_path)
        try:
            await bot.wait_for("hrbot is running")
            assert await emu.user("ana").say("/start", within=30)
            healthy = await _hrbot(run_env, "health")
            code = await bot.interrupt()
        finally:
            bot.kill()
        stopped = await _hrbot(run_env, "health")
    assert code == 0, bot.output
    report = [
        line.split(" ", 2)[2].rstrip() for line in bot.output.splitlines() if "bot.startup:" in line
    ]
    assert report[:4] == [
        f"INFO bot.startup: hrbot {version('hrbot')} started",
        f"INFO bot.startup: telegram: connected as https://t.me/{emu.bot_username}",
        # Scrubbed as the log is: a random test database name may hold an id-like digit run.
        f"INFO bot.startup: database: {scrub(describe_database(env['HRBOT_DATABASE_URL']))}",
        "INFO bot.startup: outlets: 0 active, 0 open in the next 24 h, 0 with a peer worker; "
        "coordinators: 0",
    ]
    assert any("WARNING bot.startup: no active outlet" in line for line in report)
    assert any("WARNING bot.startup: no coordinator" in line for line in report)
    assert "Traceback" not in bot.output
    assert emu.token not in bot.output
    assert healthy.exit_code == 0, healthy.output
    assert "telegram: connected" in healthy.output
    assert stopped.exit_code == 1
    assert "telegram: not connected" in stopped.output


async def test_run_serves_healthz_and_metrics_when_web_listen_is_set(
    env: dict[str, str], tmp_path: Path
) -> None:
    """``HRBOT_WEB_LISTEN``: the web app answers while the bot runs, counts the updates it
    handled, and Ctrl+C still stops the whole bot cleanly (uvicorn takes no signal)."""
    import httpx

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = int(sock.getsockname()[1])
    async with TelegramEmulator() as emu:
        run_env = {
            **env,
            "HRBOT_TELEGRAM_TOKEN": emu.token,
            "HRBOT_TELEGRAM_API_URL": emu.base_url,
            "HRBOT_WEB_LISTEN": f"127.0.0.1:{port}",
        }
        bot = await RunningBot.start(run_env, tmp_path)
        try:
            await bot.wait_for("hrbot is running")
            assert await emu.user("ana").say("/start", within=30)
            async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as client:
                health = await client.get("/healthz")
                metrics = await client.get("/metrics")
            code = await bot.interrupt()
        finally:
            bot.kill()
    assert code == 0, bot.output
    assert health.status_code == 200, health.text
    assert health.json()["ok"] is True
    assert 'hrbot_updates_handled_total{channel="telegram",kind="command"} 1.0' in metrics.text
    assert "Traceback" not in bot.output
    assert "hrbot stopped" in bot.output


async def test_run_in_webhook_mode_serves_the_webhook_and_health_on_one_port(
    env: dict[str, str], tmp_path: Path, backend: str
) -> None:
    """``HRBOT_WEBHOOK_URL`` without ``HRBOT_WEB_LISTEN``: the web app listens where
    ``HRBOT_WEBHOOK_LISTEN``/``PORT`` say, and serves the webhook, /healthz and /metrics; a
    second bot on the same port stops in one line naming those settings (on SQLite, sooner:
    one instance per database file)."""
    import httpx

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = int(sock.getsockname()[1])
    async with TelegramEmulator() as emu:
        run_env = {
            **env,
            "HRBOT_TELEGRAM_TOKEN": emu.token,
            "HRBOT_TELEGRAM_API_URL": emu.base_url,
            "HRBOT_WEBHOOK_URL": f"http://127.0.0.1:{port}/tg/hook",
            "HRBOT_WEBHOOK_PORT": str(port),
        }
        bot = await RunningBot.start(run_env, tmp_path)
        try:
            await bot.wait_for("hrbot is running")
            assert emu.webhook is not None
            assert await emu.user("ana").say("/start", within=30)
            async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as client:
                health = await client.get("/healthz")
                metrics = await client.get("/metrics")
            second = await RunningBot.start(run_env, tmp_path)
            async with asyncio.timeout(60):
                await second.process.wait()
                assert second.process.stdout is not None
                refused = (await second.process.stdout.read()).decode()
            code = await bot.interrupt()
        finally:
            bot.kill()
    assert code == 0, bot.output
    assert health.status_code == 200, health.text
    assert 'hrbot_updates_handled_total{channel="telegram",kind="command"} 1.0' in metrics.text
    if backend == "sqlite":
        assert second.process.returncode == 1
        assert "hrbot: another hrbot instance is already running on the SQLite" in refused
    else:
        assert second.process.returncode == 2
        assert (
            f"hrbot: invalid setting HRBOT_WEBHOOK_LISTEN/PORT: cannot listen on 127.0.0.1:{port}"
            in refused
        )
    assert "Traceback" not in bot.output + refused


async def test_a_second_instance_on_one_sqlite_file_refuses_in_one_line(
    env: dict[str, str], backend: str
) -> None:
    """Another ``hrbot run`` runs on this SQLite file (it holds the lock beside it): a second,
    with Telegram and Signal configured, refuses in one line, having made no Bot API call (its
    polling would cut the first instance's off). On PostgreSQL instances run side by side."""
    if backend != "sqlite":
        pytest.skip("no instance lock on PostgreSQL")
    database = Path(env["HRBOT_DATABASE_URL"].removeprefix("sqlite+aiosqlite:///"))
    holder = InstanceLock(database.with_name(database.name + ".lock"))
    holder.acquire()
    try:
        async with TelegramEmulator(seed=2) as emu:
            # A process of its own, as a person runs it (it handles SIGINT and SIGTERM).
            process = await asyncio.create_subprocess_exec(
                sys.executable,
                "-c",
                "from bot.cli import main; main()",
                "run",
                env={
                    **os.environ,
                    **env,
                    "HRBOT_SECRET_KEY": "s" * 48,  # the first instance's, made long ago
                    "HRBOT_TELEGRAM_TOKEN": emu.token,
                    "HRBOT_TELEGRAM_API_URL": emu.base_url,
                    "HRBOT_SIGNAL_NUMBER": "+16045550100",
                    "HRBOT_SIGNAL_SERVICE": "127.0.0.1:9",
                },
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.STDOUT,
            )
            async with asyncio.timeout(60):
                output, _ = await process.communicate()
            calls = [call.method for call in emu.calls]
    finally:
        holder.release()
    assert output.decode().splitlines() == [
        f"hrbot: another hrbot instance is already running on the SQLite database {database}; "
        "only one may (use PostgreSQL, HRBOT_DATABASE_URL, to run several)"
    ]
    assert process.returncode == 1
    assert calls == []


async def test_team_list_remove_coordinator_and_revoke(
    env: dict[str, str], sessions: async_sessionmaker[AsyncSession]
) -> None:
    """An operator who lost every coordinator phone: list by handle, remove, revoke."""
    async with sessions.begin() as session:
        outlet = await add_outlet(session, peers=1)
        first = await add_contact(session)
        second = await add_contact(session)
        session.add_all(
            [
                Coordinator(contact_id=first, created_at=NOW),
                Coordinator(contact_id=second, created_at=NOW),
            ]
        )
        await session.flush()
        await session.execute(update(Contact).values(last_seen_on=NOW.replace(hour=0)))
        now = utcnow()
        for role, outlet_id in ((Role.PEER, outlet.outlet_id), (Role.COORDINATOR, None)):
            await invites.create(
                session,
                codes_key=b"k" * 32,
                role=role,
                ttl=timedelta(hours=2),
                outlet_id=outlet_id,
                created_by_id=2 if role is Role.COORDINATOR else None,
                now=now,
            )
    listed = await _hrbot(env, "team", "list")
    assert listed.exit_code == 0, listed.output
    lines = listed.output.splitlines()
    assert [line.split()[:2] for line in lines] == [
        ["coordinator", "1"],
        ["coordinator", "2"],
        ["peer", str(outlet.peer_ids[0])],
        ["invite", "1"],
        ["invite", "2"],
    ]
    assert "last active 2026-11-25" in lines[0]
    assert "Test outlet" in lines[2]

    removed = await _hrbot(env, "team", "remove-coordinator", "2")
    assert removed.exit_code == 0, removed.output
    assert removed.output == "removed coordinator 2\n"
    # Their unused coordinator invite went with them.
    assert await _count(sessions, Invite) == 1
    last = await _hrbot(env, "team", "remove-coordinator", "1")
    assert last.exit_code == 2
    assert "is the last one" in last.output
    gone = await _hrbot(env, "team", "remove-coordinator", "7")
    assert gone.exit_code == 2
    assert "no coordinator 7" in gone.output
    assert await _count(sessions, Coordinator) == 1

    revoked = await _hrbot(env, "team", "revoke")
    assert revoked.output == "revoked 1 invite(s)\n"
    assert await _count(sessions, Invite) == 0
