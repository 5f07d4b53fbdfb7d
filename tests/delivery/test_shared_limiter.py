"""Two processes' SharedLimiters on one PostgreSQL row keep the global cap
exactly, whatever the stalls between taking a slot and writing the request.

The limiters run on a simulated clock: a process that sleeps waits for the
clock, and the clock moves on to the earliest wake-up only when every
process is asleep (their transactions on the shared row are real).  The
departures are recorded when ``admit`` lets a request go, and every window of
one second is counted afterwards: no timing of the real clock is involved,
and the seeded schedule is the same on every run.
"""

from __future__ import annotations

import asyncio
import bisect
import heapq
import itertools
import math
import random
from collections.abc import Awaitable, Callable

import pytest

from bot.delivery.limits import SharedLimiter, Slot

RATE = 100
MARGIN = 0.06
START = 1_000.0


class SimClock:
    """Simulated time for ``parties`` tasks: it jumps to the earliest wake-up once
    all of them sleep, and wakes one party at a time (ties in the order they
    slept), so the interleaving is the same on every run.  With no party
    running, a sleep just moves it on."""

    def __init__(self) -> None:
        self.now = START
        self.parties = 0
        self._sleepers: list[tuple[float, int, asyncio.Future[None]]] = []
        self._seq = itertools.count()
        self._all_asleep = asyncio.Event()

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        if not self.parties:
            self.now += max(0.0, seconds)
            return
        wake: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        heapq.heappush(self._sleepers, (self.now + max(0.0, seconds), next(self._seq), wake))
        self._check()
        await wake

    def _check(self) -> None:
        if len(self._sleepers) >= self.parties:  # all asleep, or all done
            self._all_asleep.set()

    async def run(self, *parties: Callable[[], Awaitable[None]]) -> None:
        async def party(body: Callable[[], Awaitable[None]]) -> None:
            try:
                await self.sleep(0)  # in line first: from here on one party runs at a time
                await body()
            finally:
                self.parties -= 1
                self._check()

        self.parties = len(parties)
        tasks = [asyncio.create_task(party(body)) for body in parties]
        while self.parties:
            await asyncio.wait_for(self._all_asleep.wait(), 30)
            self._all_asleep.clear()
            if self._sleepers:
                at, _, wake = heapq.heappop(self._sleepers)
                self.now = max(self.now, at)
                wake.set_result(None)
        await asyncio.gather(*tasks)


def busiest_second(departures: list[float]) -> int:
    """The most departures in any window (t - 1, t] (what the server's cap counts)."""
    times = sorted(departures)
    return max(i + 1 - bisect.bisect_right(times, t - 1.0 + 1e-9) for i, t in enumerate(times))


@pytest.fixture
async def limiters(db_url, sessionmaker):  # type: ignore[no-untyped-def]
    if not db_url.startswith("postgresql"):
        pytest.skip("the shared budget is a PostgreSQL row (SQLite runs one process)")
    clock = SimClock()
    return clock, [SharedLimiter(RATE, sessionmaker, margin=MARGIN, clock=clock, sleep=clock.sleep)
                   for _ in range(2)]


def sender(clock: SimClock, lim: SharedLimiter, departures: list[float], until: float,
           rnd: random.Random | None = None) -> Callable[[], Awaitable[None]]:
    """One process's send loop: take slots, write the requests.  With ``rnd``, the send
    loop now and then takes several slots before any request is written, and a stall
    (claim results, a collection, a busy machine) comes between the two."""

    async def body() -> None:
        while clock.now < until:
            held: list[Slot] = []
            for _ in range(rnd.choice([1, 1, 1, 1, 2, 3, 25]) if rnd else 1):
                slot = await lim.acquire(want=200)
                assert slot is not None
                held.append(slot)
            if rnd and rnd.random() < 0.1:
                await clock.sleep(rnd.choice([0.005, 0.03, 0.12, 0.3]))
            for slot in held:
                assert await lim.admit(slot)
                departures.append(clock.now)

    return body


async def test_late_slots_are_never_used_so_two_processes_keep_the_cap(limiters):
    clock, procs = limiters
    rnd = random.Random(19)
    departures: list[float] = []
    await clock.run(*(sender(clock, lim, departures, START + 8.0, rnd) for lim in procs))
    interval = procs[0].gcra.interval
    assert len(departures) > 3 * RATE  # enough to fill many windows
    # Late slots came up (the schedule exercises the rule) and were replaced...
    assert all(lim.voided > 0 for lim in procs)
    # ...so every second holds only sends of slots within 1 + late seconds: at most
    # ceil((1 + late) / interval) of them, below the cap by the jitter allowance.
    bound = math.ceil((1.0 + procs[0].late) / interval)
    assert bound < RATE
    assert busiest_second(departures) <= bound


async def test_two_processes_without_stalls_use_every_slot(limiters):
    clock, procs = limiters
    departures: list[float] = []
    await clock.run(*(sender(clock, lim, departures, START + 5.0) for lim in procs))
    assert sum(lim.missed + lim.voided for lim in procs) == 0
    assert all(lim.blocks > 2 for lim in procs)  # both took part, in turns
    span = max(departures) - min(departures)
    # The full rate less the margin: one send per interval.
    assert (len(departures) - 1) / span >= RATE / (1 + MARGIN) * 0.99
    assert busiest_second(departures) <= math.ceil(1.0 / procs[0].gcra.interval)


async def test_a_pause_voids_the_slots_taken_before_it(limiters):
    clock, procs = limiters
    a, b = procs
    slot = await a.acquire(want=50)
    assert slot is not None
    a.pause(1.0)  # a 429: the slot taken before it is void, and the pause is shared
    shared = [t for t in asyncio.all_tasks() if "_share_pause" in repr(t.get_coro())]
    await asyncio.gather(*shared)
    assert await a.admit(slot)
    assert clock.now >= slot.at + 1.0 and a.voided == 1
    other = await b.acquire(want=50)  # the other process learns of the pause at its next block
    assert other is not None and other.at >= slot.at + 1.0
