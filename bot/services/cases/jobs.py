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
from bot.jobs import JobContext, JobFunc, in_transaction, recurring
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
        done = await in_transaction(ctx, step, limit=BATCH)
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


def _sweep_job(name: str, every: timedelta, step: Step, doc: str, done_message: str,
               level: int = logging.INFO) -> JobFunc:
    """The job ``name``: drain ``step`` (see :func:`_drain`) and log ``done_message`` with how many
    cases it handled, when any."""

    async def job(ctx: JobContext) -> None:
        done = await _drain(ctx, step)
        if done:
            log.log(level, done_message, done)

    job.__name__ = job.__qualname__ = name.rpartition(".")[2]
    job.__doc__ = doc
    return recurring(name, every=every)(job)


accept_reminders = _sweep_job(
    "cases.accept_reminders", timedelta(minutes=1), sweep_accept_reminders,
    "New cases near their acceptance limit (CASE_ACCEPT_REMIND_MINUTES): the grid's workers, once.",
    "acceptance reminders: %d cases")
escalation_climb = _sweep_job(
    "cases.escalation_climb", timedelta(minutes=1), sweep_climb,
    "Overdue cases nobody acted on for a step (CASE_ESCALATION_STEP_HOURS): the next level, once.",
    "escalations climbed a level: %d cases")
emergency_repeat = _sweep_job(
    "cases.emergency_repeat", timedelta(minutes=1), emergency_tick,
    "Unacknowledged emergencies are alerted again, up the chain (every EMERGENCY_REPEAT_MINUTES).",
    "emergencies still unacknowledged, alerted again: %d", logging.WARNING)
auto_close = _sweep_job(
    "cases.auto_close", timedelta(minutes=10), auto_close_due,
    "Resolved cases the resident has not answered for CASE_AUTO_CLOSE_DAYS close themselves.",
    "auto-closed %d resolved cases")


async def run_all(sessionmaker, settings: Settings, now: datetime) -> None:  # type: ignore[no-untyped-def]
    """Every case job once at ``now`` (for the sandbox clock and tests)."""
    ctx = JobContext(sessionmaker=sessionmaker, settings=settings, due_at=now, now=now)
    for job in (accept_reminders, time_limits, escalation_climb, emergency_repeat, auto_close):
        await job(ctx)

