"""Concurrent update processing for python-telegram-bot that keeps each chat in order.

PTB hands every update to its update processor in arrival order: the fetcher makes one task
per update, and each task passes the processor's FIFO semaphore before
:meth:`~ChatOrderedProcessor.do_process_update` is called, so those calls come in arrival order.
Here an update whose chat is already being served is queued behind that chat's earlier updates
and run by the task serving the chat; an update of an idle chat starts at once. Different
chats therefore run concurrently, at most ``max_concurrent_updates`` chats at a time, and one
person's taps are never reordered. A chat with a backlog holds a single slot, so one flooding
person cannot fill the slots that other people's updates need.

A queued update lets go of PTB's semaphore and ``update_queue`` at once (PTB counts it as
processed); ``Application.stop()`` still waits for it, since the serving task is one of the
application's tasks. :meth:`wait_idle` says when nothing is left.

A webhook must answer Telegram only once its update has been handled (an acknowledged update
that dies with the process is lost for good), so :func:`tracked` wraps an update's processing
in an awaitable that reports, on a future, whether it ran to its end: also when it waited
behind the chat's earlier updates and ran in another task.

Privacy: the chat id is used as a dictionary key in memory only, while its updates are in hand.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Awaitable, Coroutine, Generator
from typing import Any, Final

from telegram import Update
from telegram.ext import BaseUpdateProcessor

log = logging.getLogger(__name__)

DEFAULT_CONCURRENCY: Final = 64


class ChatOrderedProcessor(BaseUpdateProcessor):
    """Up to ``max_concurrent_updates`` chats at once; each chat's updates one at a time, in
    the order they arrived. Updates with no chat or user run without waiting for anything."""

    def __init__(self, max_concurrent_updates: int = DEFAULT_CONCURRENCY) -> None:
        super().__init__(max_concurrent_updates)
        # Chat id → updates waiting behind the one being processed. A chat is present exactly
        # while a task is serving it.
        self._chats: dict[int, deque[Awaitable[Any]]] = {}
        self._idle = asyncio.Event()
        self._idle.set()

    @property
    def chats_in_hand(self) -> int:
        """How many chats have an update being processed now."""
        return len(self._chats)

    async def wait_idle(self) -> None:
        """Return once no chat has an update being processed or waiting."""
        await self._idle.wait()

    async def do_process_update(self, update: object, coroutine: Awaitable[Any]) -> None:
        """Run ``coroutine`` now, or after the earlier updates of the same chat."""
        key = chat_key(update)
        if key is None:
            await coroutine
            return
        waiting = self._chats.get(key)
        if waiting is not None:
            waiting.append(coroutine)  # the task serving this chat runs it in turn
            return
        waiting = self._chats[key] = deque()
        self._idle.clear()
        try:
            await _run(coroutine)
            while waiting:
                await _run(waiting.popleft())
        finally:
            # No await between the last check of `waiting` and here: nothing can slip in.
            del self._chats[key]
            for leftover in waiting:  # only when cancelled: never started, so close them
                _close(leftover)
            if not self._chats:
                self._idle.set()

    async def initialize(self) -> None:
        """Nothing to set up: state is made as updates arrive."""

    async def shutdown(self) -> None:
        """Close updates that never ran (only left when serving tasks were cancelled)."""
        for waiting in self._chats.values():
            while waiting:
                _close(waiting.popleft())


def chat_key(update: object) -> int | None:
    """The chat an update belongs to (the user for a button under an inline message)."""
    if not isinstance(update, Update):
        return None
    if update.effective_chat is not None:
        return update.effective_chat.id
    if update.effective_user is not None:
        return update.effective_user.id
    return None


class _Tracked:
    """An update's processing that reports its end on ``done``: True once it ran (a failure
    inside counts: it was handled as far as it goes, and the engine answered it), False when
    it was cut short by cancellation or closed before it started."""

    def __init__(self, coroutine: Coroutine[Any, Any, Any], done: asyncio.Future[bool]) -> None:
        self._coroutine = coroutine
        self.done = done

    def __await__(self) -> Generator[Any, None, None]:
        return self._run().__await__()

    async def _run(self) -> None:
        ended = False
        try:
            await self._coroutine
            ended = True
        except asyncio.CancelledError:
            raise
        except Exception:
            ended = True
            raise
        finally:
            self._report(ended)

    def close(self) -> None:
        """Never started (its chat's serving task was cancelled): report it as not run."""
        self._coroutine.close()
        self._report(False)

    def _report(self, ran: bool) -> None:
        if not self.done.done():  # the waiter may have gone (its request was cancelled)
            self.done.set_result(ran)


def tracked(coroutine: Coroutine[Any, Any, Any]) -> tuple[Awaitable[None], asyncio.Future[bool]]:
    """``coroutine`` as an awaitable to hand to the processor, and a future that says, once it
    is over, whether it ran (True) or was cancelled or dropped unstarted (False)."""
    done: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
    return _Tracked(coroutine, done), done


async def _run(coroutine: Awaitable[Any]) -> None:
    try:
        await coroutine
    except Exception:
        # PTB's process_update sends handler errors to error handlers itself; this is a
        # failure around them. The next update of the chat must still run.
        log.exception("telegram update processing failed")


def _close(coroutine: Awaitable[Any]) -> None:
    close = getattr(coroutine, "close", None)
    if close is not None:
        close()  # no "coroutine was never awaited" warning
