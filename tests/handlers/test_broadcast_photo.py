"""``/broadcast``'s photo step with in-memory people: what each kind of input gets, and that a
photo is fetched only where it is asked for."""

from __future__ import annotations

from sqlalchemy import func, select

from bot.core.messages import InputKind, PhotoUnavailable
from bot.db.models import AlertPhoto
from bot.privacy.images import hidden_data
from bot.services import alerts
from tests.handlers.peer_world import Sessions, World, make_world
from tests.handlers.test_broadcast import _compose
from tests.support.images import tagged_jpeg


class Source:
    """A photo source that counts its fetches (and may fail as a platform does)."""

    def __init__(self, data: bytes | None) -> None:
        self.data = data
        self.fetches = 0

    async def __call__(self) -> bytes:
        self.fetches += 1
        if self.data is None:
            raise PhotoUnavailable("gone")
        return self.data


async def _photo(world: World, source: Source) -> str:
    [reply] = await world.chat._send("coco", kind=InputKind.UNSUPPORTED, photo=source)
    return reply.text


async def _stored(world: World) -> list[bytes]:
    async with world.sessions() as session:
        return list(await session.scalars(select(AlertPhoto.jpeg)))


async def test_photo_step(sessions: Sessions) -> None:
    world = await make_world(sessions)
    await _compose(world, "Strathcona")
    # At the preview a photo is not asked for: never fetched.
    early = Source(tagged_jpeg())
    await _photo(world, early)
    assert early.fetches == 0

    await world.chat.tap("coco", "Add photo")
    assert "could not be fetched" in await _photo(world, Source(None))
    assert "not a photo this bot can use" in await _photo(world, Source(b"junk"))
    assert await _stored(world) == []
    good = Source(tagged_jpeg())
    text = await _photo(world, good)
    assert good.fetches == 1
    assert "The photo is attached, with its hidden data removed." in text
    assert "A photo is attached" in text
    [jpeg] = await _stored(world)
    assert hidden_data(jpeg) == []
    assert jpeg != good.data

    # Cancel: nothing is sent, and the photo is gone with the draft.
    await world.chat.tap("coco", "Cancel")
    assert await _stored(world) == []
    async with world.sessions() as session:
        assert await session.scalar(select(func.count()).select_from(AlertPhoto)) == 0
        assert not await alerts.has_photo(session, alert_id=1)
