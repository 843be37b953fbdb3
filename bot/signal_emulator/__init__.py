"""A fake signal-cli-rest-api server (json-rpc mode) for tests and demos.

>>> async with SignalEmulator() as emu:                      # doctest: +SKIP
...     ana = emu.person("ana")                              # +1 604 555 0101 and a UUID
...     # start the bot with number=emu.number, service=emu.service, then:
...     replies = await ana.say("/start")                    # waits for the bot's answer
...     await ana.pick("Supplies")                           # types the option's number
...     await ana.share_location_link(49.2827, -123.1207)    # a maps link, as clients send
...     assert "welcome" in ana.last.text and ana.inbox
"""

from bot.signal_emulator.people import (
    DEFAULT_TIMEOUT,
    FakePerson,
    MapStyle,
    MessageLost,
    Unregistered,
    maps_link,
)
from bot.signal_emulator.records import (
    INLINE_BODY_BYTES,
    ApiCall,
    ApiError,
    Challenge,
    FaultKind,
    Indicator,
    SentMessage,
    SignalFaults,
)
from bot.signal_emulator.server import API_VERSION, DEFAULT_NUMBER, RATE_LIMIT_ERROR, SignalEmulator

__all__ = [
    "API_VERSION",
    "DEFAULT_NUMBER",
    "DEFAULT_TIMEOUT",
    "INLINE_BODY_BYTES",
    "RATE_LIMIT_ERROR",
    "ApiCall",
    "ApiError",
    "Challenge",
    "FakePerson",
    "FaultKind",
    "Indicator",
    "MapStyle",
    "MessageLost",
    "SentMessage",
    "SignalEmulator",
    "SignalFaults",
    "Unregistered",
    "maps_link",
]
