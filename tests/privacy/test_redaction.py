"""The redaction filter: planted identifiers must never reach a log handler's output."""

from __future__ import annotations

import io
import logging
import re
import uuid
from collections.abc import Iterator

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.privacy.redaction import (
    DEFAULT_QUIET_LOGGERS,
    DROPPED_MESSAGE,
    REDACTED,
    RedactionFilter,
    install_redaction,
    scrub,
)

TG_ID = "123456789"
PHONE = "+447700900123"
PHONE_NATIONAL = "+1 (604) 555-0199"
SIGNAL_UUID = "a1b2c3d4-e5f6-4a7b-8c9d-0e1f2a3b4c5d"
USERNAME = "@some_user"
BOT_TOKEN = "7012345678:AAHfiqksKZ8WmR2zSjiQ7_v4TMAKdiHm9T0"
COORDS = "49.28123,-123.10456"
TEXT = "I need 10 syringes at Main and Hastings"

# Fragments that would still identify someone if they survived.
LEAKS = [
    TG_ID,
    PHONE,
    "447700900123",
    "7700900123",
    "604",
    "555-0199",
    "0199",
    SIGNAL_UUID,
    "a1b2c3d4",
    "0e1f2a3b4c5d",
    "some_user",
    BOT_TOKEN,
    "AAHfiqksKZ8WmR2zSjiQ7_v4TMAKdiHm9T0",
    "7012345678",
    "49.28123",
    "123.10456",
    "28123",
    "10456",
    TEXT,
    "syringes",
    "Hastings",
]

_STANDARD = set(logging.LogRecord("", 0, "", 0, "", (), None).__dict__) | {"message", "taskName"}


class ExtrasFormatter(logging.Formatter):
    """Appends every ``extra=`` field, as a structured (JSON-ish) formatter would."""

    def format(self, record: logging.LogRecord) -> str:
        extras = {k: v for k, v in record.__dict__.items() if k not in _STANDARD}
        rendered = " ".join(
            f"{key}='{value}'" if isinstance(value, str) else f"{key}={value!r}"
            for key, value in sorted(extras.items())
        )
        return f"{super().format(record)} | {rendered}"


class ListHandler(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


def make_logger(name: str = "bot.services.test") -> tuple[logging.Logger, io.StringIO]:
    """A fresh logger outside the global hierarchy, with a StringIO handler, redacted."""
    logger = logging.Logger(name, logging.DEBUG)
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(ExtrasFormatter("%(levelname)s %(name)s %(message)s"))
    logger.addHandler(handler)
    install_redaction(logger)
    return logger, stream


def assert_no_leaks(output: str) -> None:
    leaked = [fragment for fragment in LEAKS if fragment in output]
    assert not leaked, f"leaked {leaked!r} in {output!r}"


def test_planted_identifiers_never_reach_the_output() -> None:
    logger, stream = make_logger()
    logger.warning(
        "delivery to %s failed; phones %s / %s; signal %s; handle %s; api %s; near %s; text=%r",
        TG_ID,
        int(TG_ID),
        PHONE_NATIONAL,
        SIGNAL_UUID,
        USERNAME,
        f"https://api.telegram.org/bot{BOT_TOKEN}/sendMessage",
        COORDS,
        TEXT,
        extra={
            "text": TEXT,
            "chat_id": int(TG_ID),
            "username": USERNAME,
            "phone_number": PHONE,
            "uuid": SIGNAL_UUID,
            "latitude": 49.28123,
            "longitude": -123.10456,
        },
    )
    logger.info("sending to %s", PHONE, extra={"message_text": TEXT, "first_name": "Hastings"})
    try:
        raise ConnectionError(f"signal-cli refused {PHONE} and {PHONE_NATIONAL}")
    except ConnectionError:
        logger.exception("send failed for %s", SIGNAL_UUID)

    output = stream.getvalue()
    assert_no_leaks(output)
    # What does not identify anyone is still there to debug with.
    for kept in [
        "WARNING bot.services.test delivery to <id> failed",
        "phones <id> / <phone>",
        "signal <uuid>",
        "handle <user>",
        "api https://api.telegram.org/bot<token>/sendMessage",
        "near <coord>,<coord>",
        f"text={REDACTED}",
        f"chat_id='{REDACTED}'",
        f"latitude='{REDACTED}'",
        "sending to <phone>",
        "send failed for <uuid>",
        "Traceback (most recent call last)",
        "ConnectionError: signal-cli refused <phone> and <phone>",
    ]:
        assert kept in output


def test_record_is_rewritten_for_every_later_consumer() -> None:
    logger = logging.Logger("bot.test", logging.DEBUG)
    handler = ListHandler()
    logger.addHandler(handler)
    install_redaction(logger)
    try:
        raise ValueError(PHONE)
    except ValueError:
        logger.error("user %s", TG_ID, exc_info=True, stack_info=True, extra={"count": 3})
    (record,) = handler.records
    assert record.args == ()
    assert record.msg == "user <id>"
    assert record.getMessage() == "user <id>"
    assert record.exc_info is None
    assert record.exc_text is not None
    assert "ValueError: <phone>" in record.exc_text
    assert record.stack_info is not None
    assert "Stack (most recent call last)" in record.stack_info
    # A harmless extra keeps its type.
    assert record.__dict__["count"] == 3


def test_extras_outside_the_deny_list_are_scrubbed() -> None:
    logger, stream = make_logger()
    logger.info("event", extra={"detail": f"from {TG_ID}", "peer_ref": "K7F3QX", "ids": [TG_ID]})
    output = stream.getvalue()
    assert TG_ID not in output
    assert "detail='from <id>'" in output
    assert "peer_ref='K7F3QX'" in output


def test_deny_list_is_case_insensitive() -> None:
    logger, stream = make_logger()
    logger.info("event", extra={"Text": TEXT, "USER_ID": 42})
    output = stream.getvalue()
    assert "syringes" not in output
    assert f"USER_ID='{REDACTED}'" in output


def test_stack_info_is_scrubbed() -> None:
    def inner(phone: str) -> None:
        logger.info("checkpoint", stack_info=True)

    logger, stream = make_logger()
    inner(PHONE)
    assert "Stack (most recent call last)" in stream.getvalue()
    assert PHONE not in stream.getvalue()


def test_formatter_that_ran_earlier_is_overridden() -> None:
    # A handler without the filter formats first and caches record.message.
    logger = logging.Logger("bot.test", logging.DEBUG)
    raw = logging.StreamHandler(io.StringIO())
    logger.addHandler(raw)
    stream = io.StringIO()
    logger.addHandler(logging.StreamHandler(stream))
    logger.handlers[1].addFilter(RedactionFilter())
    logger.info("user %s", TG_ID)
    assert stream.getvalue() == "user <id>\n"


@pytest.mark.parametrize("level", [logging.DEBUG, logging.INFO])
@pytest.mark.parametrize("name", ["httpx", "httpx._client", "telegram.ext.Updater", "sqlalchemy"])
def test_chatty_library_records_below_warning_are_dropped(level: int, name: str) -> None:
    logger, stream = make_logger(name)
    logger.log(
        level, f'HTTP Request: POST https://api.telegram.org/bot{BOT_TOKEN}/getUpdates "200"'
    )
    assert stream.getvalue() == ""


@pytest.mark.parametrize("level", [logging.WARNING, logging.ERROR, logging.CRITICAL])
def test_chatty_library_warnings_are_kept_and_scrubbed(level: int) -> None:
    logger, stream = make_logger("httpx")
    logger.log(level, "request to https://api.telegram.org/bot%s/getMe failed", BOT_TOKEN)
    output = stream.getvalue()
    assert "request to https://api.telegram.org/bot<token>/getMe failed" in output
    assert BOT_TOKEN not in output


def test_similar_names_are_not_quiet() -> None:
    logger, stream = make_logger("httpxtra")
    logger.debug("hello %s", TG_ID)
    assert stream.getvalue().startswith("DEBUG httpxtra hello <id>")


def test_quiet_loggers_is_configurable() -> None:
    assert "httpx" in DEFAULT_QUIET_LOGGERS
    quiet = RedactionFilter(["noisy"], quiet_level=logging.ERROR)
    record = logging.LogRecord("noisy.sub", logging.WARNING, __file__, 1, "x", (), None)
    assert quiet.filter(record) is False
    record = logging.LogRecord("httpx", logging.DEBUG, __file__, 1, "user %s", (TG_ID,), None)
    assert quiet.filter(record) is True
    assert record.getMessage() == "user <id>"


def test_broken_format_string_falls_back_without_leaking(
    capsys: pytest.CaptureFixture[str],
) -> None:
    logger, stream = make_logger()
    logger.info("%s and %s", PHONE)  # one argument short
    assert stream.getvalue().startswith(f"INFO bot.services.test {DROPPED_MESSAGE}")
    assert PHONE not in stream.getvalue()
    # logging's own error report (which prints the arguments) never fired.
    assert capsys.readouterr().err == ""


class Explodes:
    def __str__(self) -> str:
        raise RuntimeError(PHONE)

    __repr__ = __str__


def test_arguments_that_raise_fall_back(capsys: pytest.CaptureFixture[str]) -> None:
    logger, stream = make_logger()
    logger.info("value %s", Explodes(), extra={"text": TEXT})
    logger.info("extra", extra={"detail": Explodes(), "user_id": TG_ID})
    output = stream.getvalue()
    assert output.count(DROPPED_MESSAGE) == 2
    assert_no_leaks(output)
    assert capsys.readouterr().err == ""


def test_filter_on_a_logger_misses_child_records_but_handler_filter_does_not() -> None:
    # Why install_redaction attaches to handlers.
    parent = logging.getLogger(f"hrbot_redaction_test_{uuid.uuid4().hex}")
    parent.propagate = False
    parent.setLevel(logging.DEBUG)
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    parent.addHandler(handler)
    child = parent.getChild("child")
    try:
        parent.addFilter(RedactionFilter())
        child.info("user %s", TG_ID)
        assert TG_ID in stream.getvalue()  # the logger-level filter never saw it

        install_redaction(parent)
        child.info("user %s", TG_ID)
        assert stream.getvalue().splitlines()[-1] == "user <id>"
    finally:
        parent.removeHandler(handler)
        parent.filters.clear()


@pytest.fixture
def root_handler() -> Iterator[logging.Handler]:
    root = logging.getLogger()
    handler = logging.StreamHandler(io.StringIO())
    root.addHandler(handler)
    try:
        yield handler
    finally:
        root.removeHandler(handler)
        for other in root.handlers:  # pytest's capture handlers got the filter too
            for f in [f for f in other.filters if isinstance(f, RedactionFilter)]:
                other.removeFilter(f)


def test_install_defaults_to_root_and_is_idempotent(root_handler: logging.Handler) -> None:
    first = install_redaction()
    assert first in root_handler.filters
    install_redaction()
    assert sum(isinstance(f, RedactionFilter) for f in root_handler.filters) == 1


def test_install_without_handlers_is_an_error() -> None:
    with pytest.raises(ValueError, match="handlers"):
        install_redaction(logging.Logger("bare"))


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (f"user {TG_ID} said", "user <id> said"),
        ("group -1001234567890", "group -<id>"),
        (PHONE, "<phone>"),
        (f"call {PHONE_NATIONAL} now", "call <phone> now"),
        ("(604) 555-0199.", "<phone>."),
        ("uk 07700 900123", "uk <phone>"),
        ("fr 06 12 34 56 78", "fr <phone>"),
        (f"id {SIGNAL_UUID}", "id <uuid>"),
        (f"id {SIGNAL_UUID.upper()}", "id <uuid>"),
        ("hi @some_user!", "hi <user>!"),
        ("mail first.last+x@example.co.uk", "mail <email>"),
        (f"bot{BOT_TOKEN}/getMe", "bot<token>/getMe"),
        (f"at {COORDS}", "at <coord>,<coord>"),
        ("chat_id=42 user_id: 7", f"chat_id={REDACTED} user_id: {REDACTED}"),
        ('text="I need 10, please" ok', f"text={REDACTED} ok"),
        (
            "{'chat_id': -1001, 'text': 'hi there'}",
            f"{{'chat_id': {REDACTED}, 'text': {REDACTED}}}",
        ),
        (
            "User(first_name='Bob', id=123456789, username='bob')",
            f"User(first_name={REDACTED}, id=<id>, username={REDACTED})",
        ),
        ("pseudonym " + "ab" * 32, "pseudonym <hex>"),
        # Left alone: nothing here identifies anyone.
        ("request K7F3QX: 10 syringes, 2 kits", "request K7F3QX: 10 syringes, 2 kits"),
        ("on 2024-11-27 at 12:30:45", "on 2024-11-27 at 12:30:45"),
        ("took 0.25s from 127.0.0.1:8080", "took 0.25s from 127.0.0.1:8080"),
        ("context=ok", "context=ok"),
    ],
)
def test_scrub(text: str, expected: str) -> None:
    assert scrub(text) == expected
    assert scrub(expected) == expected


_digit_runs = st.from_regex(r"[0-9]{6,30}", fullmatch=True)


@given(prefix=st.text(max_size=20), digits=_digit_runs, suffix=st.text(max_size=20))
def test_digit_runs_never_survive(prefix: str, digits: str, suffix: str) -> None:
    logger, stream = make_logger()
    logger.info("got %s here", prefix + digits + suffix, extra={"detail": digits + suffix})
    output = stream.getvalue()
    assert digits not in output
    assert re.search(r"\d{6,}", output) is None


@given(st.text(max_size=200))
def test_filter_never_raises_and_never_emits_long_digit_runs(text: str) -> None:
    logger, stream = make_logger()
    logger.info(text)
    logger.info("%s", text)
    assert re.search(r"\d{6,}", stream.getvalue()) is None
