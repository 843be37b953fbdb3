"""``/console`` in chat: a link for members, a short refusal for everyone else."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.core.context import Config
from tests.handlers.peer_world import make_world
from tests.support.chat import texts


async def test_members_get_a_single_use_link_and_others_a_refusal(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    world = await make_world(sessions, config=Config(console_url="https://hr.example.org"))
    await world.outlet("alpha")
    await world.peer("pat", "alpha")
    for member in ("coco", "pat"):
        answer = texts(await world.chat.say(member, "/console"))
        assert "https://hr.example.org/console/signin/" in answer
        assert "10 minutes" in answer
    first = texts(await world.chat.say("coco", "/console"))
    second = texts(await world.chat.say("coco", "/console"))
    assert first.rsplit("/", 1)[1] != second.rsplit("/", 1)[1]  # a fresh token each time
    assert "for coordinators and peer workers" in texts(await world.chat.say("ana", "/console"))


async def test_without_a_web_app_the_command_says_so(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    world = await make_world(sessions)  # Config() has no console_url
    assert "not set up" in texts(await world.chat.say("coco", "/console"))
