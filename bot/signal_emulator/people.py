"""Fake Signal users: a test (or a demo) acts as a person through these.

Every action builds the envelope signal-cli-rest-api would push (json-rpc mode), pushes it to
every connected websocket, and by default waits until the bot has sent ``expect`` new
messages to this person; those messages are returned. A message pushed while no websocket
is connected is lost, as with the real server: :class:`MessageLost` is raised when a reply
was expected.
"""

from __future__ import annotations

from enum import StrEnum
from typing import TYPE_CHECKING, Any

from bot.signal_emulator.records import SentMessage

if TYPE_CHECKING:
    from bot.signal_emulator.server import SignalEmulator

DEFAULT_TIMEOUT = 5.0


class MessageLost(AssertionError):
    """A person wrote while no receiver was connected: the server dropped the message."""


class Unregistered(StrEnum):
    """How sends to a person who left Signal fail.

    ``RESULTS``: 201 with a per-recipient ``UNREGISTERED_FAILURE`` (signal-cli knew them);
    ``ERROR``: 400 ``"The user … is not registered."`` (signal-cli could not resolve them).
    """

    RESULTS = "results"
    ERROR = "error"


class MapStyle(StrEnum):
    """Which maps link a person's client puts in a shared-location message."""

    GOOGLE = "google"  # Signal Android's location attachment text
    OSM = "osm"
    APPLE = "apple"
    GEO = "geo"


class FakePerson:
    """A Signal account that talks to the bot. Create with ``emulator.person(name)``."""

    def __init__(
        self,
        emulator: SignalEmulator,
        *,
        name: str,
        number: str,
        uuid: str,
        share_number: bool = True,
    ) -> None:
        self._emulator = emulator
        self.name = name
        self.profile_name = name[:1].upper() + name[1:]
        self.number = number
        self.uuid = uuid
        # With phone-number privacy the server shows only the UUID (ACI) to the bot.
        self.share_number = share_number
        self.registered = True
        self.unregistered_style = Unregistered.RESULTS
        self._last_timestamp = 0

    def __repr__(self) -> str:
        return f"FakePerson({self.name!r})"

    # -- reading -------------------------------------------------------------------------

    @property
    def identifiers(self) -> tuple[str, ...]:
        """Every recipient string that reaches this person (number and UUID)."""
        return (self.number, self.uuid)

    @property
    def inbox(self) -> list[SentMessage]:
        """Everything the bot sent this person, oldest first."""
        return self._emulator.inbox(self)

    @property
    def texts(self) -> list[str]:
        """Texts of everything the bot sent this person."""
        return [m.text for m in self.inbox]

    @property
    def last(self) -> SentMessage:
        """The newest message the bot sent this person."""
        inbox = self.inbox
        if not inbox:
            raise AssertionError(f"{self.name} has received nothing")
        return inbox[-1]

    # -- account state -------------------------------------------------------------------

    def unregister(self, style: Unregistered = Unregistered.RESULTS) -> None:
        """Leave Signal: sends to this person fail from now on."""
        self.registered = False
        self.unregistered_style = style

    def register(self) -> None:
        """Come back to Signal."""
        self.registered = True

    # -- acting --------------------------------------------------------------------------

    def next_timestamp(self) -> int:
        """A client timestamp (ms) later than this person's previous one."""
        self._last_timestamp = max(self._last_timestamp + 1, self._emulator.now_ms())
        return self._last_timestamp

    def frame(
        self,
        text: str | None = None,
        *,
        timestamp: int | None = None,
        group_id: str | None = None,
        **data: Any,
    ) -> dict[str, Any]:
        """The frame signal-cli-rest-api pushes for a data message from this person.

        ``data`` adds ``dataMessage`` fields (``attachments``, ``sticker``...). Re-pushing a
        frame is how a test models a duplicate delivery.
        """
        sent = timestamp if timestamp is not None else self.next_timestamp()
        message: dict[str, Any] = {
            "timestamp": sent,
            "message": text,
            "expiresInSeconds": 0,
            "viewOnce": False,
        }
        if group_id is not None:
            message["groupInfo"] = {"groupId": group_id, "type": "DELIVER"}
        message.update(data)
        return self._emulator.envelope(self, timestamp=sent, dataMessage=message)

    async def say(
        self, text: str, *, expect: int = 1, within: float = DEFAULT_TIMEOUT
    ) -> list[SentMessage]:
        """Send ``text``; wait for ``expect`` replies and return them."""
        if not text:
            raise ValueError("Signal clients do not send empty messages")
        return await self.send_frame(self.frame(text), expect=expect, within=within)

    async def pick(
        self, label: str, *, expect: int = 1, within: float = DEFAULT_TIMEOUT
    ) -> list[SentMessage]:
        """Answer the newest numbered list that offers ``label`` with its number."""
        for message in reversed(self.inbox):
            number = message.options.get(label)
            if number is not None:
                return await self.say(str(number), expect=expect, within=within)
        offered = [m.options for m in self.inbox if m.options]
        raise AssertionError(f"no option {label!r}; numbered lists so far: {offered}")

    async def share_location_link(
        self,
        lat: float,
        lon: float,
        *,
        style: MapStyle = MapStyle.GOOGLE,
        label: str | None = None,
        expect: int = 1,
        within: float = DEFAULT_TIMEOUT,
    ) -> list[SentMessage]:
        """Send a maps link with coordinates in the text, as Signal clients share places."""
        text = maps_link(lat, lon, style)
        if label:
            text = f"{label}\n\n{text}"
        return await self.say(text, expect=expect, within=within)

    async def send_attachment(
        self,
        data: bytes | None = None,
        *,
        content_type: str = "image/jpeg",
        caption: str | None = None,
        voice_note: bool = False,
        expect: int = 1,
        within: float = DEFAULT_TIMEOUT,
    ) -> list[SentMessage]:
        """Send a file (a photo by default) with an optional caption as message text. With
        ``data``, signal-cli-rest-api keeps those bytes for ``GET /v1/attachments/{id}``."""
        ident = self._emulator.attachment_id(content_type)
        if data is not None:
            self._emulator.attachments[ident] = data
        attachment = {
            "contentType": content_type,
            "filename": None,
            "id": ident,
            "size": len(data) if data is not None else 48213,
            "width": 1280 if content_type.startswith("image/") else None,
            "height": 960 if content_type.startswith("image/") else None,
            "caption": None,
            "uploadTimestamp": self._emulator.now_ms(),
            "isVoiceNote": voice_note,
        }
        frame = self.frame(caption, attachments=[attachment])
        return await self.send_frame(frame, expect=expect, within=within)

    async def send_sticker(
        self, *, expect: int = 1, within: float = DEFAULT_TIMEOUT
    ) -> list[SentMessage]:
        """Send a sticker (no text)."""
        sticker = {"packId": "a1b2c3d4e5f60718293a4b5c6d7e8f90", "stickerId": 3}
        return await self.send_frame(
            self.frame(None, sticker=sticker), expect=expect, within=within
        )

    async def say_in_group(
        self,
        text: str,
        group_id: str = "Z3JvdXAuMDAwMDAwMDAwMDAwMDAwMDAwMDAwMDAwMDAwMDAwMDA=",
        *,
        expect: int = 0,
        within: float = DEFAULT_TIMEOUT,
    ) -> list[SentMessage]:
        """Write in a group the bot is in (the bot should stay silent)."""
        frame = self.frame(text, group_id=group_id)
        return await self.send_frame(frame, expect=expect, within=within)

    async def send_frame(
        self, frame: dict[str, Any], *, expect: int = 1, within: float = DEFAULT_TIMEOUT
    ) -> list[SentMessage]:
        """Push ``frame`` to the bot; wait for ``expect`` new messages to this person."""
        before = len(self.inbox)
        delivered = await self._emulator.push(frame)
        if expect <= 0:
            return []
        if delivered == 0:
            raise MessageLost(f"{self.name}'s message was lost: no receiver was connected")
        await self._emulator.wait_for(
            lambda: len(self.inbox) >= before + expect,
            within=within,
            what=lambda: (
                f"{expect} message(s) to {self.name}, got {len(self.inbox) - before}; "
                f"recent errors: {self._emulator.errors[-3:]}"
            ),
        )
        return self.inbox[before:]


def maps_link(lat: float, lon: float, style: MapStyle = MapStyle.GOOGLE) -> str:
    """A maps URL for ``lat, lon`` in the shape a client of ``style`` sends."""
    if style is MapStyle.GOOGLE:
        return f"https://maps.google.com/maps?q={lat}%2C{lon}"
    if style is MapStyle.OSM:
        return f"https://www.openstreetmap.org/?mlat={lat}&mlon={lon}#map=17/{lat}/{lon}"
    if style is MapStyle.APPLE:
        return f"https://maps.apple.com/?ll={lat},{lon}&q=Dropped%20Pin"
    return f"geo:{lat},{lon}"
