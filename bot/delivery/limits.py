"""Rate limiting for outgoing messages: Telegram's caps, kept from our side.

Telegram allows a bot about 30 messages a second to different chats, 1 a
second per chat and 20 a minute per group, and answers 429 with
``retry_after`` when pushed.  We pace every send so that no sliding window of
the cap's length ever holds more than the cap (GCRA: sends are spread evenly
at ``rate / (1 + margin)``, with a small burst allowance that still fits the
window), and a 429 stops *all* sending until ``retry_after`` has passed.

Two global limiters share one interface (``slot = await acquire()``, then
``await admit(slot)`` right before the request is written):

* :class:`LocalLimiter`: the budget of one process (SQLite deployments run one).
* :class:`SharedLimiter`: several processes on PostgreSQL take the budget in
  small blocks of time slots from one ``delivery_state`` row (a short
  ``SELECT ... FOR UPDATE``), so together they stay under the cap; a 429 seen
  by one process is written to the same row and every process waits it out
  (the others notice it at their next block, a fraction of a second later).
  A slot is used at its time or a little after (a third of the margin),
  never later: a request that could not leave in time takes a fresh slot,
  because the other processes, which it cannot see, are already sending in
  the blocks after it.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from models import DeliveryState

# Sends are spaced for a rate this much below the cap: request latency varies,
# and the server counts arrivals, not our departures.  In one process a quarter
# of the margin goes to a burst allowance, a quarter to keeping the pace when
# the event loop wakes us late, and half is left for the latency jitter between
# us and the server; with several processes a third goes to a slot's allowed
# lateness and two thirds to the jitter (SharedLimiter).  Fast paid broadcasts
# get a wider margin: one 429 costs them a full second, a thousand messages.
DEFAULT_MARGIN = 0.03
FAST_MARGIN = 0.06
FAST_RATE = 100


def margin_for(rate: float) -> float:
    return FAST_MARGIN if rate > FAST_RATE else DEFAULT_MARGIN
# How far ahead a SharedLimiter takes slots (seconds of sending).
BLOCK_SECONDS = 0.2


@dataclass
class Gcra:
    """At most ``rate`` events per ``period`` in any window of that length.

    ``interval`` spaces events evenly; ``burst`` lets a few go early to catch
    up after the event loop lagged, never more than the window allows.
    """

    rate: float
    period: float = 1.0
    margin: float = DEFAULT_MARGIN
    burst: int | None = None
    tat: float = field(default=0.0)  # theoretical arrival time of the next event

    def __post_init__(self) -> None:
        self.interval = self.period * (1.0 + self.margin) / self.rate
        if self.burst is None:
            # A quarter of the head-room the margin leaves inside one window.
            self.burst = max(1, math.floor(self.rate * self.margin / (1.0 + self.margin) / 4))
        self.tolerance = (self.burst - 1) * self.interval
        # Another quarter (or what the burst left of half): lateness we absorb.
        self.slack = max(0.0, self.period * self.margin / 2 - self.tolerance)

    def ready_at(self, now: float) -> float:
        return max(now, self.tat - self.tolerance)

    def take(self, now: float) -> float:
        """Book the next event (call when ``ready_at(now) <= now``); returns its time.

        A caller a little late for its slot (the event loop woke it late) keeps
        the pace: the next slot follows the theoretical one, not the late
        arrival, or every wake-up delay would lower the rate.  Lateness up to
        ``slack`` plus the burst tolerance stays within the margin, so no
        window of the cap's length ever holds more than the cap.
        """
        slot = self.ready_at(now)
        self.tat = max(self.tat, now - self.slack) + self.interval
        return slot


class ChatLimits:
    """Per chat 1/s and per group 20/min (groups have negative chat ids)."""

    def __init__(self, chat_rate: float, group_rate_per_minute: float, margin: float = DEFAULT_MARGIN) -> None:
        self.chat_rate = chat_rate
        self.group_rate = group_rate_per_minute
        self.margin = margin
        self._chats: dict[int, Gcra] = {}
        self._groups: dict[int, Gcra] = {}
        self._last_prune = 0.0

    def _limiters(self, chat_id: int, create: bool) -> list[Gcra]:
        out = []
        chat = self._chats.get(chat_id)
        if chat is None and create:
            chat = self._chats[chat_id] = Gcra(self.chat_rate, 1.0, self.margin, burst=1)
        if chat is not None:
            out.append(chat)
        if chat_id < 0:
            group = self._groups.get(chat_id)
            if group is None and create:
                group = self._groups[chat_id] = Gcra(self.group_rate, 60.0, self.margin, burst=1)
            if group is not None:
                out.append(group)
        return out

    def ready_at(self, chat_id: int, now: float) -> float:
        return max([now, *(g.ready_at(now) for g in self._limiters(chat_id, create=False))])

    def take(self, chat_id: int, now: float) -> None:
        for g in self._limiters(chat_id, create=True):
            g.take(now)
        if now - self._last_prune > 30:
            self._prune(now)

    def hold(self, chat_id: int, now: float) -> None:
        """A send to ``chat_id`` just ended at ``now``: the next one waits a full
        interval from here.  The server counts a message when it has it, which
        may be well after it left; pacing from departures alone can then let
        two arrive closer than the cap allows."""
        for g in self._limiters(chat_id, create=True):
            g.tat = max(g.tat, now + g.interval)

    def _prune(self, now: float) -> None:
        """Forget chats whose limiters are back at rest (a 100,000-chat broadcast)."""
        self._last_prune = now
        for table in (self._chats, self._groups):
            for chat_id in [c for c, g in table.items() if g.tat <= now]:
                del table[chat_id]

    def __len__(self) -> int:
        return len(self._chats)


@dataclass(frozen=True, slots=True)
class Slot:
    """A send's place in the global budget: it may leave at ``at`` (the limiter's
    clock) and, from a :class:`SharedLimiter`, no later than its lateness allows."""

    at: float


Sleep = Callable[[float], Awaitable[object]]


class LocalLimiter:
    """The global budget of one process, plus the pause a 429 imposes.

    Waits are plain sleeps (a pause only ever extends them, and every wake-up
    re-checks); :meth:`interrupt` makes waiting callers return None or False at
    their next wake-up, within ``MAX_NAP``.  ``clock`` and ``sleep`` are
    replaceable (tests run the limiters on a simulated clock).
    """

    MAX_NAP = 0.25

    def __init__(self, rate: float, *, margin: float | None = None,
                 clock: Callable[[], float] = time.monotonic, sleep: Sleep = asyncio.sleep) -> None:
        self.gcra = Gcra(rate, 1.0, margin_for(rate) if margin is None else margin)
        self.clock = clock
        self.sleep = sleep
        self.paused_until = 0.0  # on ``clock``
        self.pauses = 0
        self.interrupted = False
        # The last sends of this process, as written: the final guard (see ``admit``).
        self._log: deque[float] = deque()
        self._cap = max(1, math.floor(self.gcra.rate))
        self._window = 1.0 + self.gcra.margin

    @property
    def rate(self) -> float:
        return self.gcra.rate

    def pause(self, seconds: float) -> None:
        """A 429 said wait ``seconds``: nothing is sent before then."""
        until = self.clock() + seconds
        if until > self.paused_until:
            self.paused_until = until
            self.pauses += 1

    def is_paused(self) -> bool:
        return self.clock() < self.paused_until

    def interrupt(self) -> None:
        """Stopping: callers waiting for a slot give up."""
        self.interrupted = True

    async def wait_unpaused(self) -> bool:
        while (delay := self.paused_until - self.clock()) > 0:
            if self.interrupted:
                return False
            await self.sleep(min(delay, self.MAX_NAP))
        return not self.interrupted

    async def acquire(self, want: int = 1) -> Slot | None:
        """Wait for the next global slot (and for any pause to end); None if interrupted.

        Hand the slot to :meth:`admit` right before the request is written."""
        while True:
            if not await self.wait_unpaused():
                return None
            now = self.clock()
            ready = self.gcra.ready_at(now)
            if ready <= now:
                self.gcra.take(now)
                return Slot(now)
            await self.sleep(min(ready - now, self.MAX_NAP))

    async def admit(self, slot: Slot | None = None) -> bool:
        """The last check, right before a request is written; False: do not send (stopping).

        Pacing can be undone by a stall between taking a slot and writing the
        request (a garbage collection, a busy event loop): requests delayed
        together then leave together.  This sliding-window log of actual
        departures keeps any window of one second plus the margin under
        the cap, whatever happened before, and waits out a 429 pause too.
        One process sees all of its own sends, so the log is exact here.
        """
        while True:
            if (delay := self.paused_until - self.clock()) > 0:
                if self.interrupted:
                    return False
                await self.sleep(min(delay, self.MAX_NAP))
                continue
            now = self.clock()
            log = self._log
            while log and log[0] <= now - self._window:
                log.popleft()
            if len(log) < self._cap:
                log.append(now)
                return True
            await self.sleep(log[0] + self._window - now)

    def counts(self) -> dict[str, int]:
        """For the log: 429 pauses."""
        return {"pauses": self.pauses}

    async def close(self) -> None:
        return None


class SharedLimiter(LocalLimiter):
    """The global budget shared through the ``delivery_state`` row (PostgreSQL).

    The budget is a sequence of time slots ``interval`` apart (the rate less
    the margin), handed out in blocks of up to ``BLOCK_SECONDS``: under the
    row lock a process takes ``n`` slots from the shared ``tat`` on and moves
    it past them, so the slots of all processes together are never closer
    than ``interval``.  Clocks of the processes are assumed in step (one host,
    or NTP).

    The rule that makes the sharing exact: a slot is used no earlier than its
    time and no later than ``late`` after it.  Then any window of one second
    holds only sends whose slots lie in a window of ``1 + late`` seconds, at
    most ``ceil((1 + late) / interval)`` of them, below the cap as long as
    ``late`` is below the margin (a third of it: the rest is left for the
    latency jitter between us and the server, which counts arrivals).  A
    process cannot see the other processes' sends, so a slot it could not use
    in time (a stall between taking it and writing the request: a claim's
    results, a garbage collection, a busy machine) is never used late:
    :meth:`admit` takes a fresh one instead, and slots of a block that went
    by unused are given up (``missed``).  A late slot used anyway would share
    its second with the next block of another process.
    """

    NAME = "global"

    def __init__(self, rate: float, sessionmaker: async_sessionmaker[AsyncSession], *,
                 margin: float | None = None, clock: Callable[[], float] = time.time,
                 sleep: Sleep = asyncio.sleep) -> None:
        super().__init__(rate, margin=margin, clock=clock, sleep=sleep)
        self.sessionmaker = sessionmaker
        self.late = self.gcra.margin / 3
        self._slots: deque[float] = deque()  # the times of our block's slots not used yet
        self._want = 1
        self._lock = asyncio.Lock()
        self.blocks = 0
        self.missed = 0  # slots of our blocks that went by unused
        self.voided = 0  # slots too late at the request: replaced by a fresh one

    def counts(self) -> dict[str, int]:
        """For the log: blocks taken, slots gone by unused, slots replaced at the request, 429 pauses."""
        return {"blocks": self.blocks, "missed": self.missed, "voided": self.voided, "pauses": self.pauses}

    async def _take_block(self, want: int) -> None:
        interval = self.gcra.interval
        n = max(1, min(want, math.ceil(BLOCK_SECONDS / interval)))
        async with self.sessionmaker() as session:
            await session.execute(
                pg_insert(DeliveryState).values(name=self.NAME, tat=0.0, paused_until=0.0)
                .on_conflict_do_nothing(index_elements=["name"])
            )
            state = await session.scalar(
                select(DeliveryState).where(DeliveryState.name == self.NAME).with_for_update()
            )
            assert state is not None
            now = self.clock()
            self.paused_until = max(self.paused_until, state.paused_until)
            start = max(now, state.tat, self.paused_until)
            state.tat = start + n * interval
            await session.commit()
        self._slots = deque(start + k * interval for k in range(n))
        self.blocks += 1

    def pause(self, seconds: float) -> None:
        super().pause(seconds)
        self._slots.clear()  # the block is void: take a new one after the pause
        task = asyncio.get_running_loop().create_task(self._share_pause(self.paused_until))
        task.add_done_callback(lambda t: t.exception())

    async def _share_pause(self, until: float) -> None:
        async with self.sessionmaker() as session:
            state = await session.scalar(
                select(DeliveryState).where(DeliveryState.name == self.NAME).with_for_update()
            )
            if state is not None and state.paused_until < until:
                state.paused_until = until
                state.tat = max(state.tat, until)
            await session.commit()

    async def acquire(self, want: int = 1) -> Slot | None:
        """The next slot of our block (a new block when it is used up or gone by)."""
        self._want = max(1, want)
        async with self._lock:
            while True:
                if not await self.wait_unpaused():
                    return None
                now = self.clock()
                slots = self._slots
                while slots and slots[0] + self.late < now:
                    slots.popleft()
                    self.missed += 1
                if not slots:
                    # Shielded: a stop never cuts the short transaction in half.
                    await asyncio.shield(self._take_block(self._want))
                    continue
                if slots[0] > now:
                    await self.sleep(min(slots[0] - now, self.MAX_NAP))
                    continue
                return Slot(slots.popleft())

    async def admit(self, slot: Slot | None = None) -> bool:
        """Right before the request: the slot is still on time, or a fresh one is taken
        (after any pause); False: do not send (stopping)."""
        while True:
            if slot is None:
                return False
            if self.is_paused() and not await self.wait_unpaused():
                return False
            if self.clock() <= slot.at + self.late:
                return True
            self.voided += 1
            slot = await self.acquire(self._want)
