"""Recurring jobs of the case loop (run by the delivery engine's scheduler).

Each job opens its own short transactions: a batch of cases is claimed,
changed, given its events and its outbox rows, and committed together.
They take the time from :class:`bot.jobs.JobContext` (``ctx.now``), so tests
call them directly with an injected clock.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta

from bot.config import Settings
from bot.jobs import JobContext, recurring
from bot.services.cases.emergency import emergency_tick
from bot.services.cases.escalation import (
    sweep_accept_overdue,
    sweep_department_overdue,
    sweep_handling_overdue,
)
from bot.services.cases.loop import auto_close_due
from bot.services.cases.oversight import sweep_accept_reminders, sweep_climb

log = logging.getLogger(__name__)

BATCH = 200

Step = Callable[..., Awaitable[int]]


async def _drain(ctx: JobContext, step: Step, *, max_batches: int = 50) -> int:
    """Run ``step`` in committed batches until it finds nothing more to do."""
    total = 0
    for _ in range(max_batches):
        async with ctx.sessionmaker() as session:
            done = await step(session, ctx.settings, ctx.now, limit=BATCH)
            await session.commit()
        total += done
        if done < BATCH:
            break
    return total


@recurring("cases.time_limits", every=timedelta(minutes=1))
async def time_limits(ctx: JobContext) -> None:
    """Unaccepted past the acceptance limit → grid heads; unresolved past the
    handling limit → community staff; departments late to acknowledge."""
    accepted = await _drain(ctx, sweep_accept_overdue)
    handling = await _drain(ctx, sweep_handling_overdue)
    departments = await _drain(ctx, sweep_department_overdue)
    if accepted or handling or departments:
        log.info("time limits: %d unaccepted, %d overdue, %d departments late", accepted, handling, departments)


@recurring("cases.accept_reminders", every=timedelta(minutes=1))
async def accept_reminders(ctx: JobContext) -> None:
    """New cases near their acceptance limit (CASE_ACCEPT_REMIND_MINUTES): the grid's workers, once."""
    reminded = await _drain(ctx, sweep_accept_reminders)
    if reminded:
        log.info("acceptance reminders: %d cases", reminded)


@recurring("cases.escalation_climb", every=timedelta(minutes=1))
async def escalation_climb(ctx: JobContext) -> None:
    """Overdue cases nobody acted on for a step (CASE_ESCALATION_STEP_HOURS): the next level, once."""
    climbed = await _drain(ctx, sweep_climb)
    if climbed:
        log.info("escalations climbed a level: %d cases", climbed)


@recurring("cases.emergency_repeat", every=timedelta(minutes=1))
async def emergency_repeat(ctx: JobContext) -> None:
    """Unacknowledged emergencies are alerted again, up the chain (every EMERGENCY_REPEAT_MINUTES)."""
    repeated = await _drain(ctx, emergency_tick)
    if repeated:
        log.warning("emergencies still unacknowledged, alerted again: %d", repeated)


@recurring("cases.auto_close", every=timedelta(minutes=10))
async def auto_close(ctx: JobContext) -> None:
    """Resolved cases the resident has not answered for CASE_AUTO_CLOSE_DAYS close themselves."""
    closed = await _drain(ctx, auto_close_due)
    if closed:
        log.info("auto-closed %d resolved cases", closed)


async def run_all(sessionmaker, settings: Settings, now: datetime) -> None:  # type: ignore[no-untyped-def]
    """Every case job once at ``now`` (for the sandbox clock and tests)."""
    ctx = JobContext(sessionmaker=sessionmaker, settings=settings, due_at=now, now=now)
    for job in (accept_reminders, time_limits, escalation_climb, emergency_repeat, auto_close):
        await job(ctx)

