"""Settings read from the environment (prefix ``HRBOT_``) and an optional ``.env`` file.

Nothing is read at import time: the composition root calls :func:`load_settings` once.
"""

from __future__ import annotations

import logging
import math
import os
import re
from datetime import timedelta
from importlib.resources import files
from pathlib import Path
from typing import Annotated, Literal

import platformdirs
from pydantic import (
    AnyHttpUrl,
    BeforeValidator,
    Field,
    SecretStr,
    TypeAdapter,
    ValidationError,
    ValidationInfo,
    field_validator,
)
from pydantic_core import PydanticCustomError
from pydantic_settings import BaseSettings, SettingsConfigDict
from sqlalchemy import make_url

from bot.db.engine import POSTGRES_POOL_SIZE
from bot.privacy.files import PRIVATE_FILE, open_to_others, private_dir
from bot.privacy.keys import generate_secret

log = logging.getLogger(__name__)

APP_NAME = "hrbot"
# content/ at the top of a checkout (an editable install runs from there).
CHECKOUT_CONTENT = Path(__file__).resolve().parent.parent / "content"
# Where a wheel carries the same folder (pyproject.toml maps content/ there).
PACKAGED_CONTENT = "_content"
DATABASE_FILE_NAME = "hrbot.sqlite3"
SECRET_FILE_NAME = "secret.key"  # noqa: S105 (a file name, not a secret)
MIN_SECRET_LENGTH = 32


def default_data_dir() -> Path:
    """The user's data folder for hrbot (``~/.local/share/hrbot`` on Linux).

    Not the working directory: every ``hrbot`` command must find the same database and key
    wherever it is started from.
    """
    return Path(platformdirs.user_data_dir(APP_NAME, appauthor=False))


def default_content_dir(package: str = "bot", checkout: Path = CHECKOUT_CONTENT) -> Path:
    """The content shipped in ``package`` (a wheel), else the checkout's ``content/``."""
    shipped = files(package) / PACKAGED_CONTENT
    if isinstance(shipped, Path) and shipped.is_dir():
        return shipped
    return checkout


DURATION_FORMS = (
    "a positive duration: seconds (120), ISO 8601 (PT15M) or numbers with units "
    "s, m/min, h, d (90s, 15min, 24h, 3d, 1h30m)"
)
_SECONDS_PER_UNIT = {
    **dict.fromkeys(("s", "sec", "secs", "second", "seconds"), 1),
    **dict.fromkeys(("m", "min", "mins", "minute", "minutes"), 60),
    **dict.fromkeys(("h", "hr", "hrs", "hour", "hours"), 3600),
    **dict.fromkeys(("d", "day", "days"), 86400),
}
_NUMBER = re.compile(r"\d+(?:\.\d+)?")
_HUMAN = re.compile(r"(?:\d+(?:\.\d+)?\s*[a-z]+\s*)+")
_HUMAN_PART = re.compile(r"(\d+(?:\.\d+)?)\s*([a-z]+)")
# A webhook secret: Telegram's alphabet, and long enough (192 bits and more) not to be guessed.
_WEBHOOK_SECRET = re.compile(r"[A-Za-z0-9_-]{32,256}")
_ISO_8601 = TypeAdapter(timedelta)  # pydantic parses ISO 8601 durations itself


def parse_duration(value: object) -> timedelta:
    """A duration from seconds, ISO 8601 or ``1h30m``-style text; raises a one-line error."""
    try:
        if isinstance(value, timedelta):
            result = value
        elif isinstance(value, int | float) and not isinstance(value, bool):
            result = timedelta(seconds=value)
        elif isinstance(value, str):
            result = _parse_duration_text(value.strip().lower())
        else:
            raise ValueError(value)
    except (ValueError, OverflowError, ValidationError):
        result = None
    if result is None or result <= timedelta(0):
        raise PydanticCustomError("duration", f"must be {DURATION_FORMS}")
    return result


def _parse_duration_text(text: str) -> timedelta:
    if _NUMBER.fullmatch(text):
        return timedelta(seconds=float(text))
    if text.startswith("p"):
        return _ISO_8601.validate_python(text.upper())
    if not _HUMAN.fullmatch(text):
        raise ValueError(text)
    seconds = 0.0
    for number, unit in _HUMAN_PART.findall(text):
        if unit not in _SECONDS_PER_UNIT:
            raise ValueError(unit)
        seconds += float(number) * _SECONDS_PER_UNIT[unit]
    return timedelta(seconds=seconds)


MAX_SHIFT_HOURS = 24


def _shift_hours(value: object) -> float:
    try:
        hours = float(value) if isinstance(value, str | int | float) else math.nan
    except ValueError:
        hours = math.nan
    if not 0 < hours <= MAX_SHIFT_HOURS:  # NaN fails this too
        raise PydanticCustomError(
            "hours",
            f"must be a number of hours above 0 and at most {MAX_SHIFT_HOURS}, e.g. 8 or 7.5",
        )
    return hours


Duration = Annotated[timedelta, BeforeValidator(parse_duration)]
Hours = Annotated[float, BeforeValidator(_shift_hours)]


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
        # HRBOT_X= (as in an uncommented line of .env.example) means the default, not "".
        env_ignore_empty=True,
    )

    data_dir: Path = Field(
        default_factory=default_data_dir,
        validate_default=True,
        description="Where the SQLite file and the status file live (never the key).",
    )
    database_url: str | None = Field(
        default=None, description="SQLAlchemy async URL; default an SQLite file in data_dir."
    )
    database_pool_size: Annotated[int, Field(ge=1, le=1000)] = Field(
        default=POSTGRES_POOL_SIZE,
        description="PostgreSQL connections this process keeps open and uses at most.",
    )
    instances: Annotated[int, Field(ge=1, le=100)] = Field(
        default=1,
        description="How many hrbot processes serve this bot together on one PostgreSQL "
        "database. Telegram's and Signal's limits are per bot: each instance sends at the "
        "configured rates divided by this.",
    )
    content_dir: Path = Field(default_factory=default_content_dir)
    secret_key: SecretStr | None = Field(
        default=None, description="Master secret; wins over secret_key_file."
    )
    secret_key_file: Path | None = Field(
        default=None,
        description="A file holding the master secret (a Docker secret, a systemd "
        "credential); read, never written. Neither set: generated into the user config folder.",
    )

    telegram_token: SecretStr | None = None
    telegram_api_url: AnyHttpUrl = AnyHttpUrl("https://api.telegram.org/bot")
    telegram_max_rate: Annotated[float, Field(ge=0, allow_inf_nan=False)] = Field(
        default=30.0,
        description="Messages per second for the whole bot (each of HRBOT_INSTANCES sends "
        "its share); 0 = no limit.",
    )
    paid_broadcast_max_stars: Annotated[int, Field(ge=0)] = Field(
        default=0,
        description="Most Telegram Stars one alert may spend as a paid broadcast (0.1 Stars "
        "a message, up to 1,000 messages/s); a coordinator is offered it only when the "
        "estimate is within this; 0 = never offered.",
    )
    paid_broadcast_rate: Annotated[float, Field(gt=0, le=1000, allow_inf_nan=False)] = Field(
        default=1000.0,
        description="Messages per second a paid alert goes at, for the whole bot (Telegram "
        "allows 1,000 a bot); each of HRBOT_INSTANCES sends its share.",
    )
    telegram_http_client: Literal["aiohttp", "httpx"] = Field(
        default="aiohttp", description="The Bot API client: aiohttp (lighter) or PTB's httpx."
    )
    webhook_url: AnyHttpUrl | None = None
    webhook_listen: str = "127.0.0.1"
    webhook_port: Annotated[int, Field(ge=1, le=65535)] = 8443
    webhook_secret: SecretStr | None = None
    web_listen: str | None = Field(
        default=None,
        description="host:port of the web app (/healthz, /metrics, the webhook); unset: "
        "none, or in webhook mode webhook_listen:webhook_port",
    )
    web_url: AnyHttpUrl | None = Field(
        default=None,
        description="The web console's public address (https://… behind a TLS proxy); "
        "unset: http://HRBOT_WEB_LISTEN",
    )

    signal_number: str | None = None
    signal_service: str | None = Field(default=None, description="host:port of signal-cli-rest-api")

    retention_days: Annotated[int, Field(ge=1, le=3650)] = 30
    offer_timeout: Duration = timedelta(minutes=15)
    request_ttl: Duration = timedelta(hours=24)
    shift_hours: Hours = 8.0
    invite_ttl: Duration = timedelta(hours=72)
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"

    @field_validator("data_dir", "secret_key_file")
    @classmethod
    def _absolute(cls, value: Path | None) -> Path | None:
        # Resolved once, here: a relative HRBOT_DATA_DIR means "from where hrbot started".
        return value.expanduser().absolute() if value is not None else None

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

    @field_validator("instances")
    @classmethod
    def _instances_share_postgres(cls, value: int, info: ValidationInfo) -> int:
        url = info.data.get("database_url") or ""
        if value > 1 and not url.startswith("postgresql"):
            # A second process on a SQLite file is refused at start (bot.instance).
            raise ValueError("above 1 needs PostgreSQL (HRBOT_DATABASE_URL)")
        return value

    @field_validator("webhook_secret")
    @classmethod
    def _strong_webhook_secret(cls, value: SecretStr | None) -> SecretStr | None:
        # Unset: derived from the secret key and the bot's token, so every instance agrees
        # (bot.channels.telegram.webhook_secret). Set: long enough not to be guessed, in the
        # alphabet Telegram allows for it.
        if value is None or not value.get_secret_value():
            return None
        if not _WEBHOOK_SECRET.fullmatch(value.get_secret_value()):
            raise ValueError(
                "must be 32-256 characters of A-Z, a-z, 0-9, _ and - (or unset: one is "
                "derived from the secret key)"
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

    @field_validator("web_listen")
    @classmethod
    def _listen_address(cls, value: str | None) -> str | None:
        if not value:
            return None
        host, sep, port = value.rpartition(":")
        if not sep or not host or "/" in value or not port.isdigit() or not 0 <= int(port) <= 65535:
            raise ValueError("must be host:port without a scheme, e.g. 127.0.0.1:8080")
        return value

    @property
    def web_address(self) -> tuple[str, int] | None:
        """Where the web app listens (host, port): ``web_listen``, else in webhook mode
        ``webhook_listen``:``webhook_port`` (one port serves all); None: no web app."""
        if self.web_listen is None:
            if self.webhook_url is not None:
                return self.webhook_listen.strip("[]"), self.webhook_port
            return None
        host, _, port = self.web_listen.rpartition(":")
        return host.strip("[]"), int(port)  # [::1]:8080 → ::1

    @property
    def web_setting(self) -> str:
        """The setting that says where the web app listens, for messages."""
        return "HRBOT_WEB_LISTEN" if self.web_listen else "HRBOT_WEBHOOK_LISTEN/PORT"

    @property
    def console_url(self) -> str | None:
        """Where ``/console`` links point (no trailing slash), or None without a web app."""
        if self.web_url is not None:
            return str(self.web_url).rstrip("/")
        address = self.web_address  # HRBOT_WEB_LISTEN, or the webhook's in webhook mode
        if address is None:
            return None
        host, port = address
        if host in ("0.0.0.0", "::"):  # noqa: S104 (a wildcard bind: no public name)
            host = "127.0.0.1"
        return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"

    @property
    def effective_database_url(self) -> str:
        """The configured URL, or an SQLite file inside the data directory."""
        if self.database_url:
            return self.database_url
        return f"sqlite+aiosqlite:///{(self.data_dir / DATABASE_FILE_NAME).resolve()}"

    def share(self, rate: float) -> float:
        """This instance's share of ``rate``, messages per second for the whole bot (0, no
        limit, stays 0)."""
        return rate / self.instances

    @property
    def is_sqlite(self) -> bool:
        return self.effective_database_url.startswith("sqlite")

    @property
    def sqlite_file(self) -> Path | None:
        """The SQLite database file; None on PostgreSQL or for an in-memory database."""
        if not self.is_sqlite:
            return None
        database = make_url(self.effective_database_url).database
        if not database or database == ":memory:" or "mode=memory" in database:
            return None
        return Path(database)


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


def default_secret_file() -> Path:
    """Where a generated key lives: the user's config folder (``~/.config/hrbot`` on Linux).

    Not the data folder: a copy of the data folder, or of the database, must name no one.
    """
    return Path(platformdirs.user_config_dir(APP_NAME, appauthor=False)) / SECRET_FILE_NAME


def resolve_secret(settings: Settings, *, generate: bool = False) -> str:
    """The master secret: ``HRBOT_SECRET_KEY``, else the file ``HRBOT_SECRET_KEY_FILE`` names,
    else :func:`default_secret_file`, generated there (0600, in a 0700 folder) when missing
    and ``generate`` allows it.

    A key file inside the data folder (``HRBOT_DATA_DIR``), or one the group or others may
    open, is refused: whoever copies the data would read everyone's reply addresses with it. So is a
    key left in the data folder by an older version, whatever the configured source: the
    operator moves it (a silent move would leave it in every old backup, and in Docker would
    put it in the container's throw-away layer).
    """
    refuse_key_in_data(settings)
    if settings.secret_key is not None:
        secret = settings.secret_key.get_secret_value().strip()
        if len(secret) < MIN_SECRET_LENGTH:
            raise SettingsError(
                f"invalid setting HRBOT_SECRET_KEY: must be at least {MIN_SECRET_LENGTH} characters"
            )
        return secret
    if settings.secret_key_file is not None:
        path = settings.secret_key_file
        _refuse_inside_data(settings, path, "HRBOT_SECRET_KEY_FILE")
        if not path.is_file():
            raise SettingsError(f"invalid setting HRBOT_SECRET_KEY_FILE: no file at {path}")
        return _read_key(path)
    path = default_secret_file()
    _refuse_inside_data(settings, path, "the key")
    if path.exists():
        return _read_key(path)
    if not generate:
        raise SettingsError(
            f"no key at {path}: `hrbot run` or `hrbot db upgrade` generates it, or set "
            "HRBOT_SECRET_KEY_FILE"
        )
    private_dir(path.parent)
    secret = generate_secret()
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, PRIVATE_FILE)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(secret + "\n")
    log.warning(
        "no key configured: generated a new one in %s; back it up apart from the data, "
        "without it stored reply addresses cannot be read",
        path,
    )
    return secret


def _refuse_inside_data(settings: Settings, path: Path, name: str) -> None:
    folder = settings.data_dir.resolve()
    if path.resolve().is_relative_to(folder):
        raise SettingsError(
            f"{name} ({path}) is inside the data folder {folder}: keep the key apart from "
            "the data, or a copy of the data reveals everyone"
        )


def refuse_key_in_data(settings: Settings) -> None:
    """Stop at the ``secret.key`` earlier versions generated in the data folder."""
    old = settings.data_dir / SECRET_FILE_NAME
    if not old.exists():
        return
    if settings.secret_key is not None or settings.secret_key_file is not None:
        where = "HRBOT_SECRET_KEY" if settings.secret_key else "HRBOT_SECRET_KEY_FILE"
        raise SettingsError(
            f"a key lies in the data folder ({old}), where a copy of the data reveals everyone: "
            f"the key now comes from {where}; delete {old} once you checked it is the same key"
        )
    new = default_secret_file()
    raise SettingsError(
        f"a key lies in the data folder ({old}), where a copy of the data reveals everyone: "
        f"move it out (mkdir -p -m 700 {new.parent} && mv {old} {new}, or elsewhere and set "
        "HRBOT_SECRET_KEY_FILE), then delete old backups that hold it"
    )


def _read_key(path: Path) -> str:
    try:
        if open_to_others(path):
            raise SettingsError(f"{path} must be readable by its owner only (chmod 600)")
        secret = path.read_text(encoding="utf-8").strip()
    except OSError as exc:
        raise SettingsError(f"cannot read the key at {path}: {exc.strerror or exc}") from None
    except UnicodeDecodeError:
        secret = ""
    if len(secret) < MIN_SECRET_LENGTH:
        raise SettingsError(f"{path} holds a key shorter than {MIN_SECRET_LENGTH} characters")
    return secret
