"""Registry of recurring jobs (time-limit sweeps, diary nudges, weekly digests...).

Feature modules declare their jobs here with :func:`recurring`; the delivery
engine's scheduler (:mod:`bot.delivery.scheduler`) runs each job once per due
time across all processes and survives restarts.  A job only reads and writes
the database (it sends through :func:`bot.services.notify.notify`), so it can
be tested alone.

The scheduler imports the modules that declare jobs with :func:`load_jobs`:
every ``bot/services/<feature>/jobs.py`` module, and :data:`JOB_MODULES`.
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, time, timedelta

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

import bot.services
from bot.config import Settings


@dataclass(frozen=True, slots=True)
class JobContext:
    sessionmaker: async_sessionmaker[AsyncSession]
    settings: Settings
    due_at: datetime  # the due time this run is for (aware UTC)
    now: datetime  # when it actually runs (aware UTC)


JobFunc = Callable[[JobContext], Awaitable[None]]


async def in_transaction(ctx: JobContext, step: Callable[..., Awaitable[int]], **kwargs: object) -> int:
    """``step(session, settings, now, **kwargs)`` in a session of its own, committed; what it returns
    (how many things it handled)."""
    async with ctx.sessionmaker() as session:
        done = await step(session, ctx.settings, ctx.now, **kwargs)
        await session.commit()
    return done


@dataclass(frozen=True, slots=True)
class RecurringJob:
    name: str
    func: JobFunc
    every: timedelta | None = None  # interval jobs, aligned to the epoch
    at: time | None = None  # daily at this local time (DISPLAY_TZ)
    weekdays: frozenset[int] | None = None  # with ``at``: 0 = Monday; None = every day
    workdays_only: bool = False  # with ``at``: skip weekends and configured holidays


REGISTRY: dict[str, RecurringJob] = {}

# Modules with jobs outside the feature packages' ``jobs`` modules (none today).
JOB_MODULES: tuple[str, ...] = ()


def load_jobs() -> dict[str, RecurringJob]:
    """Import every module that declares jobs, so that they are in :data:`REGISTRY`:
    each ``bot/services/<feature>/jobs.py`` and :data:`JOB_MODULES`."""
    names = [m.name for m in pkgutil.walk_packages(bot.services.__path__, "bot.services.")
             if m.name.rpartition(".")[2] == "jobs"]
    for name in (*JOB_MODULES, *names):
        importlib.import_module(name)
    return REGISTRY


def recurring(
    name: str,
    *,
    every: timedelta | None = None,
    at: time | None = None,
    weekdays: set[int] | None = None,
    workdays_only: bool = False,
) -> Callable[[JobFunc], JobFunc]:
    if (every is None) == (at is None):
        raise ValueError("give exactly one of every= or at=")

    def register(func: JobFunc) -> JobFunc:
        if name in REGISTRY and REGISTRY[name].func is not func:
            raise ValueError(f"job {name!r} registered twice")
        REGISTRY[name] = RecurringJob(name, func, every, at, frozenset(weekdays) if weekdays else None,
                                      workdays_only)
        return func

    return register
