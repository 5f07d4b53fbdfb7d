"""Caps that keep one user from flooding the grid (issue 16, "Limits").

- a resident may have ``CASE_MAX_OPEN`` open cases and send ``CASE_MAX_PER_DAY``
  cases in a local day (``DISPLAY_TZ``);
- a resident may raise ``EMERGENCY_MAX_PER_DAY`` emergencies in a local day
  (sending an emergency case and flagging an open one both count);
- nobody may flag the same case an emergency again within
  ``EMERGENCY_COOLDOWN_MINUTES`` of the last time (an unacknowledged one is
  refused anyway: its alerts are still repeating);
- a case carries at most ``RELAY_MAX_PER_HOUR`` relayed messages in an hour,
  both directions together.

Each check is one counting query in the caller's transaction; a refusal is a
``DomainError`` like any other (texts in ``handlers/cases/ui.py``).
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.config import Settings
from bot.services.dates import day_start, local_day
from bot.services.errors import Conflict
from models import OPEN_STATUSES, Case, CaseEvent, CaseEventType, User


async def check_new_case(session: AsyncSession, settings: Settings, resident: User, now: datetime) -> None:
    """Before a resident's draft is sent: the open and the daily caps."""
    open_count = await session.scalar(
        select(func.count()).select_from(Case)
        .where(Case.resident_id == resident.id, Case.status.in_(OPEN_STATUSES)))
    if (open_count or 0) >= settings.case_max_open:
        raise Conflict("too_many_open", limit=settings.case_max_open)
    since = day_start(local_day(now, settings.tz), settings.tz)
    today = await session.scalar(
        select(func.count()).select_from(Case)
        .where(Case.resident_id == resident.id, Case.submitted_at >= since))
    if (today or 0) >= settings.case_max_per_day:
        raise Conflict("too_many_today", limit=settings.case_max_per_day)


async def check_emergency(session: AsyncSession, settings: Settings, case: Case, actor: User, *,
                          as_resident: bool, now: datetime) -> None:
    """Before ``case`` is flagged an emergency: the cooldown on the case, and
    for a resident the daily cap on emergencies they raise."""
    cooldown = timedelta(minutes=settings.emergency_cooldown_minutes)
    if case.emergency_at is not None and now - case.emergency_at < cooldown:
        left = cooldown - (now - case.emergency_at)
        raise Conflict("emergency_cooldown", number=case.number or "",
                       minutes=max(1, -(-int(left.total_seconds()) // 60)))
    if not as_resident:
        return
    since = day_start(local_day(now, settings.tz), settings.tz)
    raised = await session.scalar(
        select(func.count()).select_from(CaseEvent)
        .where(CaseEvent.type == CaseEventType.emergency_flagged, CaseEvent.at >= since,
               CaseEvent.actor_id == actor.id))
    if (raised or 0) >= settings.emergency_max_per_day:
        raise Conflict("too_many_emergencies", limit=settings.emergency_max_per_day)


async def check_relay(session: AsyncSession, settings: Settings, case: Case, now: datetime) -> None:
    """Before a message is relayed about ``case``: the hourly cap of the case."""
    sent = await session.scalar(
        select(func.count()).select_from(CaseEvent)
        .where(CaseEvent.case_id == case.id, CaseEvent.type == CaseEventType.message,
               CaseEvent.at > now - timedelta(hours=1)))
    if (sent or 0) >= settings.relay_max_per_hour:
        raise Conflict("relay_busy", number=case.number or "", limit=settings.relay_max_per_hour)
