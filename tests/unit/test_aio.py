"""bot.aio: bounded waits that keep a cancellation which arrives with the wake-up."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Awaitable, Callable

import pytest

from bot.aio import bounded, wait_event


def _loop_until_cancelled(wait: Callable[[asyncio.Event], Awaitable[object]], event: asyncio.Event) -> asyncio.Task[None]:
    """A background loop that ends only by being cancelled (as the answers'
    confirmation loop), waking on ``event``."""

    async def loop() -> None:
        while True:
            await wait(event)
            event.clear()

    return asyncio.create_task(loop())


async def _woken_and_cancelled_at_once(task: asyncio.Task[None], event: asyncio.Event) -> bool:
    """Wake the loop and cancel it in the same turn of the event loop (a stop that
    comes as work arrives); True if the task ended cancelled."""
    await asyncio.sleep(0)  # one turn: the loop is now waiting on the event
    event.set()
    task.cancel()
    done, _ = await asyncio.wait([task], timeout=5)
    if not done:
        task.cancel()  # the first cancel was lost; this one lands while it waits again
        await asyncio.wait([task], timeout=5)
        return False
    return task.cancelled()


async def test_a_cancel_that_comes_with_the_wake_up_ends_the_loop() -> None:
    event = asyncio.Event()
    task = _loop_until_cancelled(lambda e: wait_event(e, 10), event)
    assert await _woken_and_cancelled_at_once(task, event)


@pytest.mark.skipif(sys.version_info >= (3, 12), reason="CPython 3.12 rewrote wait_for (gh-86296)")
async def test_why_not_wait_for_on_python_3_11() -> None:
    """The reason for bot.aio: the same loop with ``asyncio.wait_for`` loses the cancel."""
    event = asyncio.Event()

    async def with_wait_for(e: asyncio.Event) -> None:
        try:
            await asyncio.wait_for(e.wait(), 10)
        except TimeoutError:
            pass

    task = _loop_until_cancelled(with_wait_for, event)
    assert not await _woken_and_cancelled_at_once(task, event)


async def test_the_bounds() -> None:
    event = asyncio.Event()
    assert await wait_event(event, 0) is False
    event.set()
    assert await wait_event(event, 0) is True
    assert await bounded(asyncio.sleep(0, result="done"), 5) == "done"
    with pytest.raises(TimeoutError):
        await bounded(asyncio.Event().wait(), 0.01)
