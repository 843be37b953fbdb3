"""Settings: defaults, one-line errors naming the setting, and the generated secret key."""

from __future__ import annotations

import stat
from datetime import timedelta
from pathlib import Path

import pytest

from bot.settings import SettingsError, load_settings, resolve_secret


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No HRBOT_ variable or .env file of the developer's leaks into these tests."""
    import os

    for name in list(os.environ):
        if name.startswith("HRBOT_"):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)


def test_defaults_use_sqlite_in_data_dir(tmp_path: Path) -> None:
    settings = load_settings()
    assert settings.is_sqlite
    assert (
        settings.effective_database_url
        == f"sqlite+aiosqlite:///{tmp_path / 'data' / 'hrbot.sqlite3'}"
    )
    assert settings.offer_timeout == timedelta(minutes=15)
    assert settings.telegram_token is None
    assert settings.telegram_max_rate == 30.0


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
        ("HRBOT_DATABASE_URL", "postgresql://u@h/db"),
        ("HRBOT_SIGNAL_SERVICE", "http://127.0.0.1:8080"),
        ("HRBOT_TELEGRAM_API_URL", "not a url"),
        ("HRBOT_LOG_LEVEL", "LOUD"),
        ("HRBOT_TELEGRAM_MAX_RATE", "-1"),
        ("HRBOT_TELEGRAM_MAX_RATE", "fast"),
        ("HRBOT_TELEGRAM_MAX_RATE", "inf"),
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


def test_secret_generated_once_into_private_file(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    settings = load_settings(data_dir=tmp_path / "d")
    first = resolve_secret(settings)
    path = tmp_path / "d" / "secret.key"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert "generated a new key" in caplog.text
    assert first not in caplog.text
    assert resolve_secret(settings) == first


def test_secret_file_readable_by_others_is_refused(tmp_path: Path) -> None:
    settings = load_settings(data_dir=tmp_path)
    resolve_secret(settings)
    (tmp_path / "secret.key").chmod(0o644)
    with pytest.raises(SettingsError, match="chmod 600"):
        resolve_secret(settings)


def test_short_secret_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HRBOT_SECRET_KEY", "short")
    with pytest.raises(SettingsError, match="HRBOT_SECRET_KEY"):
        resolve_secret(load_settings())
