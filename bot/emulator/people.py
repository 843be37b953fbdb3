"""Fake people and chats: a test (or ``hrbot demo``) acts as a person through these.

Every action builds the update the real Telegram server would send, queues it on the emulator
(the bot receives it by long polling or on its webhook), and by default waits until the bot has
sent ``expect`` new messages to the chat the action happened in; those messages are returned.
"""

from __future__ import annotations

import string
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from bot.emulator.html import utf16_len
from bot.emulator.records import SentMessage

if TYPE_CHECKING:
    from bot.emulator.server import TelegramEmulator

DEFAULT_TIMEOUT = 5.0
_COMMAND_CHARS = frozenset(string.ascii_letters + string.digits + "_@")


@dataclass(eq=False)
class FakeChat:
    """A chat the bot is in: a person's private chat, or a group.

    ``messages`` holds what the bot sent there, in order; edits change a message in place.
    """

    id: int
    type: str  # "private", "group" or "supergroup"
    title: str | None = None
    user: FakeUser | None = field(default=None, repr=False)
    messages: list[SentMessage] = field(default_factory=list, repr=False)
    # Every message as sent and again at each edit, in order: what the person saw change.
    changes: list[SentMessage] = field(default_factory=list, repr=False)
    actions: list[str] = field(default_factory=list, repr=False)
    next_message_id: int = 1

    def as_dict(self) -> dict[str, Any]:
        """The ``Chat`` object as the Bot API shows it."""
        if self.user is not None:
            chat: dict[str, Any] = {
                "id": self.id,
                "type": "private",
                "first_name": self.user.first_name,
                "username": self.user.username,
            }
            return chat
        return {"id": self.id, "type": self.type, "title": self.title or "group"}

    def take_message_id(self) -> int:
        """Message ids are per chat and shared by both sides, as in Telegram."""
        self.next_message_id += 1
        return self.next_message_id - 1

    @property
    def transcript(self) -> list[SentMessage]:
        """What the bot sent here, oldest first."""
        return self.messages

    @property
    def texts(self) -> list[str]:
        """The visible text of every message the bot sent here."""
        return [m.text for m in self.messages]


class FakeUser:
    """A Telegram account that talks to the bot. Create with ``emulator.user(name)``."""

    def __init__(
        self,
        emulator: TelegramEmulator,
        *,
        id: int,
        name: str,
        username: str,
        language_code: str | None,
        is_bot: bool,
    ) -> None:
        self._emulator = emulator
        self.id = id
        self.name = name
        self.first_name = name[:1].upper() + name[1:]
        self.username = username
        self.language_code = language_code
        self.is_bot = is_bot
        # A person who blocked the bot: sends to them fail with 403.
        self.blocked = False
        # Telegram lets a bot write first only to people who wrote to it.
        self.started = False
        self.chat = FakeChat(id=id, type="private", user=self)
        self.last_callback_id: str | None = None

    def __repr__(self) -> str:
        return f"FakeUser({self.name!r})"

    def as_dict(self) -> dict[str, Any]:
        """The ``User`` object as the Bot API shows it."""
        user: dict[str, Any] = {
            "id": self.id,
            "is_bot": self.is_bot,
            "first_name": self.first_name,
            "username": self.username,
        }
        if self.language_code:
            user["language_code"] = self.language_code
        return user

    # -- reading -------------------------------------------------------------------------

    @property
    def transcript(self) -> list[SentMessage]:
        """Everything the bot sent in this person's private chat."""
        return self.chat.messages

    @property
    def texts(self) -> list[str]:
        """Visible texts of everything the bot sent this person."""
        return self.chat.texts

    @property
    def last(self) -> SentMessage:
        """The newest message the bot sent this person."""
        if not self.chat.messages:
            raise AssertionError(f"{self.name} has received nothing")
        return self.chat.messages[-1]

    # -- acting --------------------------------------------------------------------------

    def block(self) -> None:
        """Block the bot: from now on it gets 403 when it writes to this person."""
        self.blocked = True

    def unblock(self) -> None:
        """Unblock the bot."""
        self.blocked = False

    async def say(
        self,
        text: str,
        *,
        chat: FakeChat | None = None,
        expect: int = 1,
        within: float = DEFAULT_TIMEOUT,
    ) -> list[SentMessage]:
        """Send ``text``; a leading ``/command`` gets its ``bot_command`` entity like a client's."""
        if not text.strip():
            raise ValueError("Telegram clients do not send empty messages")
        fields: dict[str, Any] = {"text": text}
        command = _command_length(text)
        if command:
            fields["entities"] = [{"type": "bot_command", "offset": 0, "length": command}]
        return await self._act(chat, {"message": fields}, expect, within)

    async def command(
        self,
        name: str,
        args: str = "",
        *,
        chat: FakeChat | None = None,
        expect: int = 1,
        within: float = DEFAULT_TIMEOUT,
    ) -> list[SentMessage]:
        """Send ``/name args`` (with ``@botname`` in a group, as clients do)."""
        target = chat or self.chat
        suffix = f"@{self._emulator.bot_username}" if target.type != "private" else ""
        text = f"/{name}{suffix}" + (f" {args}" if args else "")
        return await self.say(text, chat=chat, expect=expect, within=within)

    async def tap(
        self, label: str, *, expect: int = 1, within: float = DEFAULT_TIMEOUT
    ) -> list[SentMessage]:
        """Press the button labelled ``label`` on the newest bot message that has it.

        An inline button sends a ``callback_query``; a reply-keyboard button sends its label as
        a text message, as Telegram clients do (a location button shares ``(0, 0)``: use
        :meth:`share_location` to choose the place).
        """
        for message in reversed(self.chat.messages):
            button = message.button(label)
            if button is None:
                continue
            if message.keyboard_kind == "inline":
                data = button.get("callback_data")
                if not isinstance(data, str):
                    raise AssertionError(f"button {label!r} has no callback_data")
                return await self.press(data, message=message, expect=expect, within=within)
            if button.get("request_location"):
                return await self.share_location(0.0, 0.0, expect=expect, within=within)
            return await self.say(label, expect=expect, within=within)
        offered = [m.buttons for m in self.chat.messages if m.buttons]
        raise AssertionError(f"no button {label!r}; buttons offered so far: {offered}")

    async def press(
        self,
        data: str,
        *,
        message: SentMessage | None = None,
        expect: int = 1,
        within: float = DEFAULT_TIMEOUT,
    ) -> list[SentMessage]:
        """Send a callback query with ``data`` from ``message`` (default: the newest bot
        message). Any ``data`` is allowed: a modified client can forge it."""
        target = message or self.last
        query_id = self._emulator.new_callback(self.chat, target, data)
        self.last_callback_id = query_id
        query = {
            "id": query_id,
            "from": self.as_dict(),
            "message": self._emulator.message_dict(target),
            "chat_instance": self._emulator.chat_instance(self.chat),
            "data": data,
        }
        self.started = True
        return await self._emulator.deliver_and_wait(
            self.chat, {"callback_query": query}, expect, within
        )

    async def share_location(
        self,
        lat: float,
        lon: float,
        *,
        chat: FakeChat | None = None,
        expect: int = 1,
        within: float = DEFAULT_TIMEOUT,
    ) -> list[SentMessage]:
        """Share a position (any floats, including out-of-range ones, for hostile tests)."""
        fields = {"location": {"latitude": lat, "longitude": lon}}
        return await self._act(chat, {"message": fields}, expect, within)

    async def send_sticker(
        self, *, chat: FakeChat | None = None, expect: int = 1, within: float = DEFAULT_TIMEOUT
    ) -> list[SentMessage]:
        """Send a sticker."""
        sticker = {
            **self._emulator.file_ids(),
            "type": "regular",
            "width": 512,
            "height": 512,
            "is_animated": False,
            "is_video": False,
            "emoji": "👍",
        }
        return await self._act(chat, {"message": {"sticker": sticker}}, expect, within)

    async def send_photo(
        self,
        image: bytes | None = None,
        *,
        caption: str | None = None,
        chat: FakeChat | None = None,
        expect: int = 1,
        within: float = DEFAULT_TIMEOUT,
    ) -> list[SentMessage]:
        """Send a photo (two sizes, like a client), optionally with a caption. With ``image``
        the largest size is those bytes (``getFile`` and the download serve them; the small
        size is a stand-in), as a client uploads a photo with its metadata."""
        if image is None:
            small = self._emulator.file_ids()
            large = self._emulator.file_ids()
            size = 98000
        else:
            thumb = self._emulator.store_file(b"\xff\xd8 thumbnail stand-in")
            full = self._emulator.store_file(image)
            small = {"file_id": thumb.file_id, "file_unique_id": thumb.file_unique_id}
            large = {"file_id": full.file_id, "file_unique_id": full.file_unique_id}
            size = len(image)
        sizes = [
            {**small, "width": 90, "height": 60, "file_size": 1200},
            {**large, "width": 1280, "height": 853, "file_size": size},
        ]
        fields: dict[str, Any] = {"photo": sizes}
        if caption:
            fields["caption"] = caption
        return await self._act(chat, {"message": fields}, expect, within)

    async def send_image_file(
        self,
        image: bytes,
        *,
        mime_type: str = "image/jpeg",
        expect: int = 1,
        within: float = DEFAULT_TIMEOUT,
    ) -> list[SentMessage]:
        """Send an image as a file (a document), as clients do to keep it uncompressed."""
        stored = self._emulator.store_file(image, folder="documents")
        document = {
            "file_id": stored.file_id,
            "file_unique_id": stored.file_unique_id,
            "file_name": "IMG_0001.jpg",
            "mime_type": mime_type,
            "file_size": len(image),
        }
        return await self._act(None, {"message": {"document": document}}, expect, within)

    async def send_voice(
        self, *, chat: FakeChat | None = None, expect: int = 1, within: float = DEFAULT_TIMEOUT
    ) -> list[SentMessage]:
        """Send a voice note."""
        voice = {**self._emulator.file_ids(), "duration": 3, "mime_type": "audio/ogg"}
        return await self._act(chat, {"message": {"voice": voice}}, expect, within)

    async def _act(
        self, chat: FakeChat | None, body: dict[str, Any], expect: int, within: float
    ) -> list[SentMessage]:
        target = chat or self.chat
        if target.type == "private" and target is not self.chat:
            raise ValueError("a person can only write in their own private chat with the bot")
        if target is self.chat:
            self.started = True
        message = body["message"]
        message.update(
            {
                "message_id": target.take_message_id(),
                "from": self.as_dict(),
                "chat": target.as_dict(),
                "date": self._emulator.now(),
            }
        )
        return await self._emulator.deliver_and_wait(target, body, expect, within)


def _command_length(text: str) -> int:
    """UTF-16 length of a leading ``/command[@bot]``, or 0."""
    if not text.startswith("/"):
        return 0
    end = 1
    while end < len(text) and text[end] in _COMMAND_CHARS:
        end += 1
    return utf16_len(text[:end]) if end > 1 else 0
