"""The durable delivery engine: every message the bot sends on its own initiative.

* :mod:`bot.delivery.engine`: the sender (claim with leases, mark, send, record).
* :mod:`bot.delivery.limits`: Telegram's caps kept from our side; 429 pauses.
* :mod:`bot.delivery.scheduler`: recurring jobs once per due time across processes.
* :mod:`bot.delivery.progress`: broadcast progress messages and delivery reports (the
  broadcast service itself is :mod:`bot.services.broadcasts`).

:class:`DeliveryRuntime` runs them inside a bot process (``GridBotApp``
starts it); ``python -m bot.delivery`` runs a sender and scheduler alone.
"""

from __future__ import annotations

import asyncio
import gc
import logging
from dataclasses import dataclass, field

from aiogram import Bot
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.config import Settings
from bot.delivery.engine import Sender
from bot.delivery.progress import BroadcastMonitor
from bot.delivery.scheduler import Scheduler
from bot.delivery.transport import BotApiTransport
from bot.i18n import PoI18n
from bot.jobs import load_jobs
from bot.metrics import Metrics

log = logging.getLogger(__name__)


# Allocations not yet freed that trigger the collector's young generation (Python's default: 700).
YOUNG_GENERATION_THRESHOLD = 10_000


@dataclass
class DeliveryRuntime:
    """The sender, the scheduler and the broadcast monitor of one process."""

    bot: Bot
    sessionmaker: async_sessionmaker[AsyncSession]
    settings: Settings
    i18n: PoI18n
    sender: Sender | None = None
    scheduler: Scheduler | None = None
    monitor: BroadcastMonitor | None = None
    metrics: Metrics | None = None
    _stop: asyncio.Event = field(default_factory=asyncio.Event)
    _tasks: list[asyncio.Task[None]] = field(default_factory=list)

    def start(self) -> None:
        s = self.settings
        # Everything alive now (modules, classes, caches) lives as long as the
        # process: moved out of the collector's way, a full collection no longer
        # walks it and stalls the event loop for tens of milliseconds, which
        # would bunch sends together (see bot/delivery/limits.py).
        gc.freeze()
        # An update's objects are freed by their reference counts (no cycles: see the
        # test of models/direct.py), so the collector finds nothing to collect in them;
        # but with 700 allocations as its trigger it ran every few updates and walked
        # all the updates in flight (the coroutines of 50 chats' middlewares: thousands
        # of objects) each time.  It now runs after 10,000 allocations not freed.
        gc.set_threshold(YOUNG_GENERATION_THRESHOLD, *gc.get_threshold()[1:])
        if s.delivery_enabled:
            transport = BotApiTransport.for_bot(self.bot, s)
            self.sender = sender = Sender(self.sessionmaker, transport, s)
            sender.metrics = self.metrics
            self.monitor = monitor = BroadcastMonitor(self.bot, self.sessionmaker, s, self.i18n,
                                                      limiter=sender.limiter)
            self._tasks.append(asyncio.create_task(sender.run(self._stop), name="delivery-sender"))
            self._tasks.append(asyncio.create_task(monitor.run(self._stop), name="delivery-monitor"))
        if s.jobs_enabled:
            self.scheduler = scheduler = Scheduler(self.sessionmaker, s, registry=load_jobs())
            scheduler.metrics = self.metrics
            self._tasks.append(asyncio.create_task(scheduler.run(self._stop), name="delivery-scheduler"))

    async def stop(self, timeout: float | None = None) -> None:
        """Stop and record the outcomes of what was sent; after ``timeout`` (default: a
        send's timeout and 10 s) the tasks are cancelled and their rows' leases run out."""
        self._stop.set()
        if not self._tasks:
            return
        limit = self.settings.delivery_send_timeout + 10 if timeout is None else timeout
        done, pending = await asyncio.wait(self._tasks, timeout=limit)
        for task in pending:
            task.cancel()
        for task in done:
            if not task.cancelled() and task.exception() is not None:
                log.error("delivery task %s failed", task.get_name(), exc_info=task.exception())
        self._tasks.clear()
