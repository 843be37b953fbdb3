"""Settings: defaults, one-line errors naming the setting, and the generated secret key."""

from __future__ import annotations

import re
import stat
from datetime import timedelta
from pathlib import Path

import pytest

from bot.settings import (
    DURATION_FORMS,
    Settings,
    SettingsError,
    default_content_dir,
    default_secret_file,
    load_settings,
    resolve_secret,
)

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No HRBOT_ variable or .env file of the developer's leaks into these tests."""
    import os

    for name in list(os.environ):
        if name.startswith("HRBOT_"):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)


def test_defaults_use_sqlite_in_the_user_data_dir(data_home: Path) -> None:
    settings = load_settings()
    assert settings.is_sqlite
    # platformdirs' user data dir (XDG_DATA_HOME points into tmp_path), not the working dir.
    assert settings.data_dir == data_home / "hrbot"
    assert settings.sqlite_file == data_home / "hrbot" / "hrbot.sqlite3"
    assert settings.effective_database_url == f"sqlite+aiosqlite:///{settings.sqlite_file}"
    assert settings.content_dir == ROOT / "content"
    assert settings.offer_timeout == timedelta(minutes=15)
    assert settings.telegram_token is None
    assert settings.telegram_max_rate == 30.0
    assert settings.paid_broadcast_max_stars == 0  # paid broadcast off
    assert settings.paid_broadcast_rate == 1000.0
    assert settings.instances == 1


def test_instances_share_the_bots_rates_on_postgresql(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("HRBOT_DATABASE_URL", raising=False)
    settings = load_settings(instances=4, database_url="postgresql+asyncpg://bot@db/hrbot")
    assert (settings.share(1000.0), settings.share(30.0), settings.share(0.0)) == (250, 7.5, 0)
    assert load_settings().share(30.0) == 30.0  # one instance: all of it
    # On SQLite one instance runs (bot.instance): more would be a mistake worth a word.
    with pytest.raises(SettingsError, match=r"^invalid setting HRBOT_INSTANCES: .*PostgreSQL"):
        load_settings(instances=2)


def test_env_and_dotenv_are_read(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    (tmp_path / ".env").write_text("HRBOT_RETENTION_DAYS=7\nHRBOT_OFFER_TIMEOUT=PT5M\n")
    monkeypatch.setenv("HRBOT_TELEGRAM_TOKEN", "123:abc")
    settings = load_settings()
    assert settings.retention_days == 7
    assert settings.offer_timeout == timedelta(minutes=5)
    assert settings.telegram_token is not None
    assert settings.telegram_token.get_secret_value() == "123:abc"
    assert "abc" not in repr(settings)


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("HRBOT_RETENTION_DAYS", "soon"),
        ("HRBOT_RETENTION_DAYS", "0"),
        ("HRBOT_OFFER_TIMEOUT", "-5"),
        ("HRBOT_SHIFT_HOURS", "8h"),
        ("HRBOT_DATABASE_URL", "postgresql://u@h/db"),
        ("HRBOT_SIGNAL_SERVICE", "http://127.0.0.1:8080"),
        ("HRBOT_TELEGRAM_API_URL", "not a url"),
        ("HRBOT_LOG_LEVEL", "LOUD"),
        ("HRBOT_TELEGRAM_MAX_RATE", "-1"),
        ("HRBOT_TELEGRAM_MAX_RATE", "fast"),
        ("HRBOT_TELEGRAM_MAX_RATE", "inf"),
        ("HRBOT_PAID_BROADCAST_MAX_STARS", "-1"),
        ("HRBOT_PAID_BROADCAST_RATE", "0"),
        ("HRBOT_PAID_BROADCAST_RATE", "1001"),
        ("HRBOT_INSTANCES", "0"),
        ("HRBOT_INSTANCES", "two"),
        ("HRBOT_WEBHOOK_SECRET", "x"),
        ("HRBOT_WEBHOOK_SECRET", "a" * 31),
        ("HRBOT_WEBHOOK_SECRET", "a" * 31 + "!"),
        ("HRBOT_WEBHOOK_SECRET", "a" * 257),
        ("HRBOT_WEB_LISTEN", "8080"),
        ("HRBOT_WEB_LISTEN", "http://127.0.0.1:8080"),
        ("HRBOT_WEB_LISTEN", "127.0.0.1:http"),
        ("HRBOT_WEB_LISTEN", "127.0.0.1:65536"),
    ],
)
def test_wrong_value_is_one_line_naming_the_setting(
    monkeypatch: pytest.MonkeyPatch, name: str, value: str
) -> None:
    monkeypatch.setenv(name, value)
    with pytest.raises(SettingsError) as info:
        load_settings()
    message = str(info.value)
    assert message.startswith(f"invalid setting {name}:")
    assert "\n" not in message
    if name == "HRBOT_WEBHOOK_SECRET":
        assert value not in message  # a secret is never echoed


@pytest.mark.parametrize(
    ("value", "address"),
    [
        (None, None),
        ("", None),
        ("127.0.0.1:8080", ("127.0.0.1", 8080)),
        ("0.0.0.0:9100", ("0.0.0.0", 9100)),  # noqa: S104 (a value to parse, not a bind)
        ("[::1]:8080", ("::1", 8080)),
        ("localhost:0", ("localhost", 0)),
    ],
)
def test_web_listen_is_host_and_port_or_unset(
    monkeypatch: pytest.MonkeyPatch, value: str | None, address: tuple[str, int] | None
) -> None:
    if value is None:
        monkeypatch.delenv("HRBOT_WEB_LISTEN", raising=False)
    else:
        monkeypatch.setenv("HRBOT_WEB_LISTEN", value)
    assert load_settings().web_address == address


def test_webhook_mode_always_has_the_web_app_on_one_port(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Webhook mode serves the web app on HRBOT_WEB_LISTEN, else where the webhook settings
    say (127.0.0.1:8443 by default): one port for the webhook, /healthz and /metrics."""
    for name in ("HRBOT_WEB_LISTEN", "HRBOT_WEBHOOK_LISTEN", "HRBOT_WEBHOOK_PORT"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HRBOT_WEBHOOK_URL", "https://bot.example.org/hook")
    settings = load_settings()
    assert (settings.web_address, settings.web_setting) == (
        ("127.0.0.1", 8443),
        "HRBOT_WEBHOOK_LISTEN/PORT",
    )
    monkeypatch.setenv("HRBOT_WEBHOOK_LISTEN", "0.0.0.0")  # noqa: S104 (a container's)
    monkeypatch.setenv("HRBOT_WEBHOOK_PORT", "8444")
    settings = load_settings()
    assert settings.web_address == ("0.0.0.0", 8444)  # noqa: S104
    assert settings.console_url == "http://127.0.0.1:8444"  # console links: the same port
    monkeypatch.setenv("HRBOT_WEB_LISTEN", "127.0.0.1:8080")
    settings = load_settings()
    assert (settings.web_address, settings.web_setting) == (
        ("127.0.0.1", 8080),
        "HRBOT_WEB_LISTEN",
    )
    monkeypatch.delenv("HRBOT_WEBHOOK_URL")
    monkeypatch.delenv("HRBOT_WEB_LISTEN")
    assert load_settings().web_address is None  # polling: no web app unless asked


def test_webhook_secret_strong_or_unset(monkeypatch: pytest.MonkeyPatch) -> None:
    strong = "Az09_-" * 6
    monkeypatch.setenv("HRBOT_WEBHOOK_SECRET", strong)
    secret = load_settings().webhook_secret
    assert secret is not None
    assert secret.get_secret_value() == strong
    monkeypatch.setenv("HRBOT_WEBHOOK_SECRET", "")
    assert load_settings().webhook_secret is None  # derived from the key


def test_secret_generated_once_into_the_config_folder_apart_from_the_data(
    config_home: Path, data_home: Path, caplog: pytest.LogCaptureFixture
) -> None:
    settings = load_settings()
    first = resolve_secret(settings, generate=True)
    path = config_home / "hrbot" / "secret.key"
    assert default_secret_file() == path
    assert not path.is_relative_to(settings.data_dir)
    assert path.read_text().strip() == first
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    assert not (data_home / "hrbot").exists()  # nothing in the data folder
    assert "generated a new one" in caplog.text
    assert first not in caplog.text
    assert resolve_secret(settings) == first


def test_no_key_and_no_leave_to_generate_one_writes_nothing(config_home: Path) -> None:
    with pytest.raises(SettingsError) as info:
        resolve_secret(load_settings())
    path = config_home / "hrbot" / "secret.key"
    assert str(info.value) == (
        f"no key at {path}: `hrbot run` or `hrbot db upgrade` generates it, or set "
        "HRBOT_SECRET_KEY_FILE"
    )
    assert list(config_home.iterdir()) == []


def _key_file(path: Path, key: str = "k" * 40, mode: int = 0o600) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(key + "\n")
    path.chmod(mode)
    return path


def test_secret_key_file_is_read_and_never_written(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, config_home: Path
) -> None:
    """A Docker secret or systemd credential: HRBOT_SECRET_KEY_FILE names it."""
    key = _key_file(tmp_path / "run" / "secrets" / "hrbot_key", "f" * 44, 0o400)
    monkeypatch.setenv("HRBOT_SECRET_KEY_FILE", str(key))
    monkeypatch.setenv("HRBOT_DATA_DIR", str(tmp_path / "data"))
    assert resolve_secret(load_settings(), generate=True) == "f" * 44
    assert list(config_home.iterdir()) == []  # nothing generated beside it
    # HRBOT_SECRET_KEY, when set too, wins.
    monkeypatch.setenv("HRBOT_SECRET_KEY", "e" * 40)
    assert resolve_secret(load_settings()) == "e" * 40


def test_missing_secret_key_file_is_one_line_and_not_created(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    missing = tmp_path / "secrets" / "hrbot_key"
    monkeypatch.setenv("HRBOT_SECRET_KEY_FILE", str(missing))
    monkeypatch.setenv("HRBOT_DATA_DIR", str(tmp_path / "data"))
    with pytest.raises(SettingsError) as info:
        resolve_secret(load_settings(), generate=True)
    assert str(info.value) == f"invalid setting HRBOT_SECRET_KEY_FILE: no file at {missing}"
    assert not missing.exists()


@pytest.mark.parametrize("mode", [0o644, 0o640, 0o604])
def test_key_file_others_may_read_is_refused(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, config_home: Path, mode: int
) -> None:
    given = _key_file(tmp_path / "secrets" / "hrbot_key", mode=mode)
    monkeypatch.setenv("HRBOT_SECRET_KEY_FILE", str(given))
    monkeypatch.setenv("HRBOT_DATA_DIR", str(tmp_path / "data"))
    with pytest.raises(SettingsError) as info:
        resolve_secret(load_settings())
    assert str(info.value) == f"{given} must be readable by its owner only (chmod 600)"
    # The default file too.
    monkeypatch.delenv("HRBOT_SECRET_KEY_FILE")
    default = _key_file(config_home / "hrbot" / "secret.key", mode=mode)
    with pytest.raises(SettingsError, match=r"readable by its owner only \(chmod 600\)$"):
        resolve_secret(load_settings(), generate=True)
    assert default.read_text() == "k" * 40 + "\n"  # not replaced


def test_short_key_in_a_file_is_refused(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    given = _key_file(tmp_path / "secrets" / "hrbot_key", "short")
    monkeypatch.setenv("HRBOT_SECRET_KEY_FILE", str(given))
    monkeypatch.setenv("HRBOT_DATA_DIR", str(tmp_path / "data"))
    with pytest.raises(SettingsError, match="holds a key shorter than 32 characters"):
        resolve_secret(load_settings())


def test_key_file_inside_the_data_folder_is_refused(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    data = tmp_path / "data"
    inside = _key_file(data / "keys" / "hrbot.key")
    monkeypatch.setenv("HRBOT_DATA_DIR", str(data))
    monkeypatch.setenv("HRBOT_SECRET_KEY_FILE", str(inside))
    with pytest.raises(SettingsError) as info:
        resolve_secret(load_settings())
    assert str(info.value) == (
        f"HRBOT_SECRET_KEY_FILE ({inside}) is inside the data folder {data}: keep the key "
        "apart from the data, or a copy of the data reveals everyone"
    )


def test_default_key_folder_inside_the_data_folder_is_refused(
    monkeypatch: pytest.MonkeyPatch, config_home: Path
) -> None:
    """HRBOT_DATA_DIR at the config folder (or above it) would put the generated key there."""
    monkeypatch.setenv("HRBOT_DATA_DIR", str(config_home))
    with pytest.raises(SettingsError, match="is inside the data folder"):
        resolve_secret(load_settings(), generate=True)
    assert list(config_home.iterdir()) == []


@pytest.mark.parametrize("configured", [None, "HRBOT_SECRET_KEY", "HRBOT_SECRET_KEY_FILE"])
def test_key_left_in_the_data_folder_stops_start_up(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, config_home: Path, configured: str | None
) -> None:
    """Where earlier versions generated it: the operator moves it; nothing is moved or made."""
    data = tmp_path / "data"
    old = _key_file(data / "secret.key", "o" * 64)
    monkeypatch.setenv("HRBOT_DATA_DIR", str(data))
    if configured == "HRBOT_SECRET_KEY":
        monkeypatch.setenv(configured, "o" * 64)
    elif configured == "HRBOT_SECRET_KEY_FILE":
        monkeypatch.setenv(configured, str(_key_file(tmp_path / "elsewhere" / "key", "o" * 64)))
    with pytest.raises(SettingsError) as info:
        resolve_secret(load_settings(), generate=True)
    message = str(info.value)
    assert message.startswith(
        f"a key lies in the data folder ({old}), where a copy of the data reveals everyone: "
    )
    if configured is None:
        new = config_home / "hrbot" / "secret.key"
        assert f"mv {old} {new}" in message
    else:
        assert f"the key now comes from {configured}; delete {old}" in message
    assert "\n" not in message
    assert old.read_text() == "o" * 64 + "\n"
    assert list(config_home.iterdir()) == []


def test_short_secret_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HRBOT_SECRET_KEY", "short")
    with pytest.raises(SettingsError, match="HRBOT_SECRET_KEY"):
        resolve_secret(load_settings())


def test_relative_data_dir_is_resolved_once_at_load(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("HRBOT_DATA_DIR", "here")
    settings = load_settings()
    monkeypatch.chdir(tmp_path.parent)
    assert settings.data_dir == tmp_path / "here"
    assert settings.sqlite_file == tmp_path / "here" / "hrbot.sqlite3"


def test_empty_value_means_the_default(monkeypatch: pytest.MonkeyPatch, data_home: Path) -> None:
    # An uncommented `HRBOT_X=` line of .env.example must not mean "the working directory".
    monkeypatch.setenv("HRBOT_DATA_DIR", "")
    monkeypatch.setenv("HRBOT_OFFER_TIMEOUT", "")
    settings = load_settings()
    assert settings.data_dir == data_home / "hrbot"
    assert settings.offer_timeout == timedelta(minutes=15)


def test_content_dir_is_the_packaged_copy_when_there_is_one(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    checkout = tmp_path / "checkout" / "content"
    package = tmp_path / "site" / "fakebot"
    package.mkdir(parents=True)
    (package / "__init__.py").write_text("")
    monkeypatch.syspath_prepend(str(tmp_path / "site"))
    # A plain install without the copy (an editable one): the checkout's content/.
    assert default_content_dir("fakebot", checkout) == checkout
    # A wheel: content/ shipped as fakebot/_content.
    (package / "_content").mkdir()
    assert default_content_dir("fakebot", checkout) == package / "_content"


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("120", timedelta(seconds=120)),
        ("90.5", timedelta(seconds=90.5)),
        ("PT15M", timedelta(minutes=15)),
        ("pt1h30m", timedelta(hours=1, minutes=30)),
        ("P3D", timedelta(days=3)),
        ("90s", timedelta(seconds=90)),
        ("15m", timedelta(minutes=15)),
        ("15min", timedelta(minutes=15)),
        ("15 minutes", timedelta(minutes=15)),
        ("24h", timedelta(hours=24)),
        ("1.5h", timedelta(minutes=90)),
        ("3d", timedelta(days=3)),
        ("1h30m", timedelta(hours=1, minutes=30)),
        (" 2 Days ", timedelta(days=2)),
    ],
)
@pytest.mark.parametrize("name", ["HRBOT_OFFER_TIMEOUT", "HRBOT_REQUEST_TTL", "HRBOT_INVITE_TTL"])
def test_duration_forms(
    monkeypatch: pytest.MonkeyPatch, name: str, value: str, expected: timedelta
) -> None:
    monkeypatch.setenv(name, value)
    settings = load_settings()
    assert getattr(settings, name.removeprefix("HRBOT_").lower()) == expected


@pytest.mark.parametrize(
    "value",
    [
        "banana",
        "0",
        "PT0S",
        "-5",
        "-PT5M",
        "15 fortnights",
        "1h30",
        "h",
        "P",
        "nan",
        "1e3",
        "9" * 30,
    ],
)
def test_wrong_duration_says_what_is_accepted(monkeypatch: pytest.MonkeyPatch, value: str) -> None:
    monkeypatch.setenv("HRBOT_REQUEST_TTL", value)
    with pytest.raises(SettingsError) as info:
        load_settings()
    assert str(info.value) == (
        "invalid setting HRBOT_REQUEST_TTL: must be a positive duration: seconds (120), "
        "ISO 8601 (PT15M) or numbers with units s, m/min, h, d (90s, 15min, 24h, 3d, 1h30m)"
    )
    assert DURATION_FORMS in str(info.value)


@pytest.mark.parametrize("value", ["0", "-1", "25", "8h", "nan", "inf", "eight"])
def test_wrong_shift_hours_says_what_is_accepted(
    monkeypatch: pytest.MonkeyPatch, value: str
) -> None:
    monkeypatch.setenv("HRBOT_SHIFT_HOURS", value)
    with pytest.raises(SettingsError) as info:
        load_settings()
    assert str(info.value) == (
        "invalid setting HRBOT_SHIFT_HOURS: must be a number of hours above 0 and at most 24, "
        "e.g. 8 or 7.5"
    )


def test_shift_hours_takes_a_fraction(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HRBOT_SHIFT_HOURS", "7.5")
    assert load_settings().shift_hours == 7.5


# `# HRBOT_X=value` or `HRBOT_X=value` in .env.example; a row `| `HRBOT_X`, `HRBOT_Y` | ...`
# of README's settings table.
_EXAMPLE_LINE = re.compile(r"^#?\s*(HRBOT_[A-Z0-9_]+)=(.*)$")
_README_NAME = re.compile(r"`(HRBOT_[A-Z0-9_]+)`")


def _env_names() -> set[str]:
    return {f"HRBOT_{name.upper()}" for name in Settings.model_fields}


def _example() -> dict[str, str]:
    lines = (ROOT / ".env.example").read_text(encoding="utf-8").splitlines()
    return {m.group(1): m.group(2) for line in lines if (m := _EXAMPLE_LINE.match(line))}


def _readme_table() -> dict[str, str]:
    """Setting -> its default cell, from the table under README's "## Settings"."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme.split("\n## Settings\n", 1)[1].split("\n## ", 1)[0]
    rows: dict[str, str] = {}
    for line in section.splitlines():
        if line.startswith("| `HRBOT_"):
            cells = [cell.strip() for cell in line.strip("|").split("|")]
            rows.update(dict.fromkeys(_README_NAME.findall(cells[0]), cells[1]))
    return rows


def test_env_example_lists_every_setting_with_its_default(tmp_path: Path) -> None:
    example = _example()
    assert set(example) == _env_names()
    # Uncommenting every setting line as it stands changes nothing.
    lines = (ROOT / ".env.example").read_text(encoding="utf-8").splitlines()
    uncommented = [line.removeprefix("# ") for line in lines if _EXAMPLE_LINE.match(line)]
    (tmp_path / ".env").write_text("\n".join(uncommented) + "\n", encoding="utf-8")
    assert load_settings() == Settings(_env_file=None)


def test_readme_table_lists_every_setting_like_env_example() -> None:
    table = _readme_table()
    assert set(table) == _env_names()
    example = _example()
    for name, default in table.items():
        literal = re.fullmatch(r"`([^`\s]+)`", default)
        if literal:  # a plain value: the same as .env.example's
            assert example[name] == literal.group(1), name
