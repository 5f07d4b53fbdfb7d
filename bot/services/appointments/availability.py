"""Free seats: the bookable slots of a plan that still have a seat, by day,
and the nearest ones to a wanted time (offered when a slot is full or a day
closes).  Reads only; taking a seat is :mod:`bot.services.appointments.booking`'s.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.config import Settings
from bot.services.appointments.plans import (
    Bookable,
    last_bookable_day,
    load_bookable,
    load_rules,
    slot_starts,
)
from bot.services.dates import day_bounds, local_day
from models import AppointmentSlot


@dataclass(frozen=True, slots=True)
class SlotView:
    starts_at: datetime
    ends_at: datetime
    seats_left: int


@dataclass(frozen=True, slots=True)
class DayView:
    day: date
    seats_left: int
    slots: int  # slots with a free seat


async def _counters(session: AsyncSession, bk: Bookable, since: datetime, until: datetime) -> dict[datetime, int]:
    rows = await session.execute(select(AppointmentSlot.starts_at, AppointmentSlot.booked).where(
        AppointmentSlot.station_id == bk.station.id, AppointmentSlot.service_id == bk.service.id,
        AppointmentSlot.starts_at >= since, AppointmentSlot.starts_at < until))
    return {s: n for s, n in rows.all()}


async def free_slots(session: AsyncSession, settings: Settings, bk: Bookable, now: datetime, *,
                     first_day: date | None = None, last_day: date | None = None) -> list[SlotView]:
    """Bookable slots with at least one free seat, in time order."""
    tz, plan = settings.tz, bk.plan
    today = local_day(now, tz)
    start = max(first_day or today, today)
    end = min(last_day or last_bookable_day(plan, now, tz), last_bookable_day(plan, now, tz))
    if end < start:
        return []
    rules = await load_rules(session, bk.station.id, start, end)
    since, until = (t.astimezone(UTC) for t in day_bounds(start, end + timedelta(days=1), tz))
    booked = await _counters(session, bk, since, until)
    earliest = now + plan.min_notice
    out: list[SlotView] = []
    d = start
    while d <= end:
        for s in slot_starts(plan, d, rules, tz):
            if s < earliest or s <= now:
                continue
            left = plan.capacity - booked.get(s, 0)
            if left > 0:
                out.append(SlotView(s, s + plan.slot, left))
        d += timedelta(days=1)
    return out


def group_days(slots: list[SlotView], settings: Settings) -> list[DayView]:
    days: dict[date, list[SlotView]] = {}
    for s in slots:
        days.setdefault(local_day(s.starts_at, settings.tz), []).append(s)
    return [DayView(d, sum(s.seats_left for s in ss), len(ss)) for d, ss in days.items()]


async def free_days(session: AsyncSession, settings: Settings, station_id: int, service_id: int,
                    now: datetime) -> list[DayView]:
    bk = await load_bookable(session, settings, station_id, service_id)
    return group_days(await free_slots(session, settings, bk, now), settings)


async def free_slots_of_day(session: AsyncSession, settings: Settings, station_id: int, service_id: int,
                            day: date, now: datetime) -> list[SlotView]:
    bk = await load_bookable(session, settings, station_id, service_id)
    return await free_slots(session, settings, bk, now, first_day=day, last_day=day)


async def nearest_free(session: AsyncSession, settings: Settings, bk: Bookable, wanted: datetime, now: datetime,
                       *, limit: int = 3, exclude: datetime | None = None) -> list[SlotView]:
    """The free slots closest in time to ``wanted`` (before or after), in time order."""
    slots = [s for s in await free_slots(session, settings, bk, now) if s.starts_at != exclude]
    slots.sort(key=lambda s: (abs((s.starts_at - wanted).total_seconds()), s.starts_at))
    return sorted(slots[:limit], key=lambda s: s.starts_at)
