"""Waiting for something another task does, without timing it."""

from __future__ import annotations

import asyncio
from collections.abc import Callable


async def until(done: Callable[[], bool], *, limit: float = 20.0, step: float = 0.01) -> None:
    """Return once ``done()`` holds; fail after ``limit`` seconds (a bound on a failure, not a
    measure of speed)."""
    for _ in range(int(limit / step)):
        if done():
            return
        await asyncio.sleep(step)
    raise AssertionError(f"still not done after {limit:g} s")
