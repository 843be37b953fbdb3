"""A logging filter that keeps identifiers and message text out of log records.

The project's rule comes first: code never logs user text, and passes user data to the
logger only as ``extra=`` fields whose names are in :data:`DENY_FIELDS`, which this filter
blanks. Everything else here is defence in depth: free text cannot be recognised by a
pattern ("I need 10 syringes at Main and Hastings" looks like any other sentence), so the
scrubbing below only catches what *looks like* an identifier — Telegram ids and bot
tokens, phone numbers, UUIDs, @usernames, e-mail addresses, coordinates and
``chat_id=…``-style pairs.

Use :func:`install_redaction` after the logging handlers are configured. It attaches the
filter to the *handlers*, not the logger, because a logger's own filters only see records
logged directly on that logger, never records propagated up from child loggers
(``telegram.ext``, ``httpx``, ``bot.services.…``); a handler's filters see every record the
handler would emit. Handlers added later are not covered: call it again.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Iterable
from typing import Final

from bot.privacy import patterns

__all__ = [
    "DEFAULT_QUIET_LOGGERS",
    "DENY_FIELDS",
    "DROPPED_MESSAGE",
    "REDACTED",
    "RedactionFilter",
    "install_redaction",
    "scrub",
]

REDACTED: Final = "<redacted>"
DROPPED_MESSAGE: Final = "<log record dropped by redaction filter>"

DENY_FIELDS: Final = frozenset(
    {
        "text",
        "message_text",
        "username",
        "first_name",
        "last_name",
        "full_name",
        "phone",
        "phone_number",
        "number",
        "chat_id",
        "user_id",
        "uuid",
        "source",
        "latitude",
        "longitude",
        "location",
        "address",
        # ``name`` cannot arrive through ``extra=`` (logging refuses to overwrite the
        # logger name), so it only matters for attributes set by adapters or other filters.
        "name",
    }
)

# Library loggers that log whole updates, request URLs (the Telegram bot token is part of
# every Bot API URL), SQL parameters or job arguments at DEBUG/INFO. Below WARNING they
# are dropped; warnings and errors are kept, scrubbed.
DEFAULT_QUIET_LOGGERS: Final = (
    "telegram",  # python-telegram-bot: updates and API calls at DEBUG
    "httpx",  # INFO "HTTP Request: POST https://api.telegram.org/bot<token>/…"
    "httpcore",  # DEBUG connection/request traces
    "h11",
    "h2",
    "hpack",  # HTTP/2 header tables, including the request path
    "uvicorn",  # the web app's server (its access log is off: client addresses)
    "signalbot",  # incoming Signal messages
    "websockets",  # frames to/from signal-cli-rest-api, i.e. message bodies
    "aiohttp",  # signalbot's HTTP client, access logs
    "apscheduler",  # INFO "Running job …(args)" may carry ids
    "sqlalchemy",  # echo logs SQL parameters (pseudonyms, sealed addresses)
    "aiosqlite",  # DEBUG traces of executed statements
    "asyncpg",
)

# Attributes every LogRecord has; anything else came from ``extra=`` (or an adapter).
_STANDARD_ATTRS: Final = frozenset(
    logging.LogRecord("", logging.INFO, "", 0, "", (), None).__dict__
) | {"message", "asctime", "taskName"}

# Keys whose value is replaced wherever ``key=value`` / ``"key": value`` appears in text.
_KV_KEYS = sorted(
    DENY_FIELDS - {"name", "source", "number", "location"}
    | {"from_id", "sender_id", "sender", "sender_number", "sender_uuid", "recipient", "token"},
    key=len,
    reverse=True,
)


def _phone_if_long(match: re.Match[str]) -> str:
    return "<phone>" if patterns.is_phone_length(match[0]) else match[0]


_Sub = tuple[re.Pattern[str], str | Callable[[re.Match[str]], str]]

# Order matters: specific shapes first, so e.g. a bot token or a UUID is tagged as such
# before the digit-run rule eats part of it. Every rule consumes a digit run either whole
# or not at all (look-arounds), so no fragment of an id survives.
_RULES: Final[tuple[_Sub, ...]] = (
    # Telegram bot token, also inside an API URL (".../bot123456:AA.../getMe").
    (re.compile(r"(?<!\d)\d{6,}:[A-Za-z0-9_-]{30,}"), "<token>"),
    # key=value, key: value, "key": "value" — quoted values are blanked whole.
    (
        re.compile(
            r"""(?P<key>(?<![A-Za-z0-9])["']?(?:"""
            + "|".join(map(re.escape, _KV_KEYS))
            + r""")["']?)(?P<sep>\s*[=:]\s*)"""
            r"""(?P<value>"(?:[^"\\]|\\.)*"?|'(?:[^'\\]|\\.)*'?|[^\s,;&)}\]]+)""",
            re.IGNORECASE,
        ),
        lambda m: f"{m['key']}{m['sep']}{REDACTED}",
    ),
    (patterns.EMAIL, "<email>"),
    (
        re.compile(
            r"(?<![0-9A-Fa-f])[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}"
            r"-[0-9A-Fa-f]{12}(?![0-9A-Fa-f])"
        ),
        "<uuid>",
    ),
    # Pseudonyms, code hashes, dash-less UUIDs: linkable to a person given the database.
    (re.compile(r"(?<![0-9A-Fa-f])[0-9A-Fa-f]{32,}(?![0-9A-Fa-f])"), "<hex>"),
    # Coordinates: a number with 4+ decimal places (≈11 m or finer).
    (re.compile(r"(?<![\w.])[-+]?\d{1,3}\.\d{4,}(?!\d)"), "<coord>"),
    # Phone numbers: international, then national formats the digit-run rule misses, then
    # trunk-prefix numbers split into groups (shapes shared with report masking).
    (patterns.PHONE_INTERNATIONAL, "<phone>"),
    (patterns.PHONE_NATIONAL, "<phone>"),
    (patterns.PHONE_TRUNK, _phone_if_long),
    # Telegram user/chat ids, numbers without "+", anything else long and numeric.
    (re.compile(r"\d{6,}"), "<id>"),
    (patterns.USERNAME, "<user>"),
)


def scrub(text: str) -> str:
    """Replace identifier-looking parts of ``text`` with tags such as ``<id>``."""
    for pattern, replacement in _RULES:
        text = pattern.sub(replacement, text)
    return text


class RedactionFilter(logging.Filter):
    """Scrub every record in place; drop chatty library records below ``quiet_level``.

    The record is rewritten (message formatted and scrubbed, ``args`` emptied, exception
    and stack text scrubbed, deny-listed extras blanked), so later handlers and formatters
    never see the original values. The filter never raises.
    """

    def __init__(
        self,
        quiet_loggers: Iterable[str] = DEFAULT_QUIET_LOGGERS,
        *,
        quiet_level: int = logging.WARNING,
    ) -> None:
        super().__init__()
        self.quiet_loggers: tuple[str, ...] = tuple(quiet_loggers)
        self.quiet_level = quiet_level

    def _is_quiet(self, name: str) -> bool:
        return any(name == q or name.startswith(q + ".") for q in self.quiet_loggers)

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            if record.levelno < self.quiet_level and self._is_quiet(record.name):
                return False
            self._scrub_record(record)
        except Exception:
            _fallback(record)
        return True

    def _scrub_record(self, record: logging.LogRecord) -> None:
        # Blank deny-listed extras first: the simplest step, so it has happened even if a
        # later one fails and the fallback takes over.
        extras = [key for key in record.__dict__ if key not in _STANDARD_ATTRS]
        for key in extras:
            if key.lower() in DENY_FIELDS:
                setattr(record, key, REDACTED)
            else:
                setattr(record, key, _scrub_value(getattr(record, key)))

        record.msg = scrub(record.getMessage())
        record.args = ()
        if "message" in record.__dict__:  # set by a formatter that ran before us
            record.message = record.msg

        if record.exc_info:
            if not record.exc_text:
                record.exc_text = logging.Formatter().formatException(record.exc_info)
            # The traceback now lives only as scrubbed text; formatters print exc_text.
            record.exc_info = None
        if record.exc_text:
            record.exc_text = scrub(record.exc_text)
        if record.stack_info:
            record.stack_info = scrub(record.stack_info)


def _scrub_value(value: object) -> object:
    """Scrub an extra that is not deny-listed; keep its type when nothing was found."""
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, str):
        return scrub(value)
    text = str(value)
    cleaned = scrub(text)
    return value if cleaned == text else cleaned


def _fallback(record: logging.LogRecord) -> None:
    # Something in the record defeated scrubbing (a __str__ that raises, a bad format
    # string…). Emit a fixed line rather than either crashing or leaking.
    try:
        record.msg = DROPPED_MESSAGE
        record.args = ()
        record.exc_info = None
        record.exc_text = None
        record.stack_info = None
        for key in [k for k in record.__dict__ if k not in _STANDARD_ATTRS]:
            setattr(record, key, REDACTED)
        if "message" in record.__dict__:
            record.message = DROPPED_MESSAGE
    except Exception:  # noqa: S110 - a log filter must never raise
        pass


def install_redaction(logger: logging.Logger | None = None) -> RedactionFilter:
    """Attach one :class:`RedactionFilter` to every handler of ``logger`` (root by default).

    Call it after the handlers exist (e.g. after ``logging.basicConfig``); it raises
    ``ValueError`` when there are none, since silently protecting nothing is worse.
    Handlers that already carry a RedactionFilter are left alone, so calling it twice is
    harmless.
    """
    target = logger if logger is not None else logging.getLogger()
    if not target.handlers:
        raise ValueError("install_redaction needs the logger's handlers to be configured first")
    redaction = RedactionFilter()
    for handler in target.handlers:
        if not any(isinstance(f, RedactionFilter) for f in handler.filters):
            handler.addFilter(redaction)
    return redaction
