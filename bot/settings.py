"""Settings read from the environment (prefix ``HRBOT_``) and an optional ``.env`` file.

Nothing is read at import time: the composition root calls :func:`load_settings` once.
"""

from __future__ import annotations

import logging
import os
import stat
from datetime import timedelta
from pathlib import Path
from typing import Annotated, Literal

from pydantic import AnyHttpUrl, Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from bot.db.engine import POSTGRES_POOL_SIZE
from bot.privacy.keys import generate_secret

log = logging.getLogger(__name__)

_REPO_CONTENT = Path(__file__).resolve().parent.parent / "content"
SECRET_FILE_NAME = "secret.key"  # noqa: S105 (a file name, not a secret)
MIN_SECRET_LENGTH = 32


class SettingsError(Exception):
    """A setting has a wrong value; the message is one line that names it."""


class Settings(BaseSettings):
    """Every knob of the bot. Field ``x`` is read from ``HRBOT_X``."""

    model_config = SettingsConfigDict(
        env_prefix="HRBOT_",
        env_file=".env",
        env_file_encoding="utf-8",
        extra="ignore",
        frozen=True,
    )

    data_dir: Path = Field(default=Path("data"), description="Where the SQLite file and key live.")
    database_url: str | None = Field(
        default=None, description="SQLAlchemy async URL; default an SQLite file in data_dir."
    )
    database_pool_size: Annotated[int, Field(ge=1, le=1000)] = Field(
        default=POSTGRES_POOL_SIZE,
        description="PostgreSQL connections this process keeps open and uses at most.",
    )
    content_dir: Path = Field(default=_REPO_CONTENT)
    secret_key: SecretStr | None = Field(
        default=None, description="Master secret; generated into data_dir/secret.key when unset."
    )

    telegram_token: SecretStr | None = None
    telegram_api_url: AnyHttpUrl = AnyHttpUrl("https://api.telegram.org/bot")
    telegram_max_rate: Annotated[float, Field(ge=0, allow_inf_nan=False)] = Field(
        default=30.0, description="Messages per second for the whole bot; 0 = no limit."
    )
    telegram_http_client: Literal["aiohttp", "httpx"] = Field(
        default="aiohttp", description="The Bot API client: aiohttp (lighter) or PTB's httpx."
    )
    webhook_url: AnyHttpUrl | None = None
    webhook_listen: str = "127.0.0.1"
    webhook_port: Annotated[int, Field(ge=1, le=65535)] = 8443
    webhook_secret: SecretStr | None = None

    signal_number: str | None = None
    signal_service: str | None = Field(default=None, description="host:port of signal-cli-rest-api")

    retention_days: Annotated[int, Field(ge=1, le=3650)] = 30
    offer_timeout: timedelta = timedelta(minutes=15)
    request_ttl: timedelta = timedelta(hours=24)
    shift_hours: Annotated[float, Field(gt=0, le=24)] = 8.0
    invite_ttl: timedelta = timedelta(hours=72)
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"

    @field_validator("offer_timeout", "request_ttl", "invite_ttl")
    @classmethod
    def _positive(cls, value: timedelta) -> timedelta:
        if value <= timedelta(0):
            raise ValueError("must be a positive duration (seconds or ISO 8601, e.g. PT15M)")
        return value

    @field_validator("database_url")
    @classmethod
    def _async_url(cls, value: str | None) -> str | None:
        if value is None or value == "":
            return None
        if not value.startswith(("sqlite+aiosqlite://", "postgresql+asyncpg://")):
            raise ValueError(
                "must start with sqlite+aiosqlite:// or postgresql+asyncpg:// (async drivers)"
            )
        return value

    @field_validator("signal_service")
    @classmethod
    def _host_port(cls, value: str | None) -> str | None:
        if not value:
            return None
        host, sep, port = value.rpartition(":")
        if not sep or not host or "/" in value or not port.isdigit():
            raise ValueError("must be host:port without a scheme, e.g. 127.0.0.1:8080")
        return value

    @property
    def effective_database_url(self) -> str:
        """The configured URL, or an SQLite file inside the data directory."""
        if self.database_url:
            return self.database_url
        return f"sqlite+aiosqlite:///{(self.data_dir / 'hrbot.sqlite3').resolve()}"

    @property
    def is_sqlite(self) -> bool:
        return self.effective_database_url.startswith("sqlite")


def load_settings(**overrides: object) -> Settings:
    """Read settings, turning a validation error into one line that names the setting."""
    try:
        return Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        raise SettingsError(_describe(exc)) from None


def _describe(exc: ValidationError) -> str:
    lines = []
    for err in exc.errors(include_url=False, include_input=False):
        name = "HRBOT_" + "_".join(str(p) for p in err["loc"][:1]).upper()
        lines.append(f"invalid setting {name}: {err['msg']}")
    return "; ".join(lines)


def resolve_secret(settings: Settings) -> str:
    """Return the master secret, generating it into a 0600 file on first run.

    A generated key is only safe while the data directory survives: losing it makes every
    stored reply address unreadable, hence the warning.
    """
    if settings.secret_key is not None:
        secret = settings.secret_key.get_secret_value().strip()
        if len(secret) < MIN_SECRET_LENGTH:
            raise SettingsError(
                f"invalid setting HRBOT_SECRET_KEY: must be at least {MIN_SECRET_LENGTH} characters"
            )
        return secret
    path = settings.data_dir / SECRET_FILE_NAME
    if path.exists():
        mode = stat.S_IMODE(path.stat().st_mode)
        if mode & 0o077:
            raise SettingsError(f"{path} must be readable by its owner only (chmod 600)")
        secret = path.read_text(encoding="utf-8").strip()
        if len(secret) < MIN_SECRET_LENGTH:
            raise SettingsError(f"{path} holds a key shorter than {MIN_SECRET_LENGTH} characters")
        return secret
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    secret = generate_secret()
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(secret + "\n")
    log.warning(
        "HRBOT_SECRET_KEY is unset: generated a new key in %s; back it up, without it stored "
        "reply addresses cannot be read",
        path,
    )
    return secret
