"""Bounded waits that never lose a cancellation.

On Python 3.11, ``asyncio.wait_for`` returns normally when what it waits for finishes
at the moment the waiting task is cancelled (CPython gh-86296, fixed by 3.12's new
``wait_for``): the cancellation is lost.  A loop that ends only by being cancelled
then runs on, and whoever cancelled it waits for it forever.  That was the cause of
``GridBotApp.close()`` hanging about once per full test run: the answers' confirmation
loop was woken in the same moment as it was cancelled at the stop.  ``asyncio.timeout``
keeps the cancellation, so every bounded wait of the bot's own tasks goes through here.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from typing import TypeVar

T = TypeVar("T")


async def wait_event(event: asyncio.Event, timeout: float | None) -> bool:
    """Wait until ``event`` is set, at most ``timeout`` seconds (None: no bound).
    True if it was set, False if the time ran out."""
    if event.is_set():
        return True
    try:
        async with asyncio.timeout(timeout):
            await event.wait()
    except TimeoutError:
        return False
    return True


async def bounded(awaitable: Awaitable[T], timeout: float | None) -> T:
    """``await awaitable`` within ``timeout`` seconds; TimeoutError after it."""
    async with asyncio.timeout(timeout):
        return await awaitable
