"""The recurring job of appointments: bookings on a day that became a public holiday.

Days closed by a station's staff are handled at once (``close_day``); a
public holiday is added to the working calendar by a district admin, who
knows nothing of bookings, so this sweep cancels the bookings on holidays
and tells each resident, with one-tap rebooking, like a closure.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from bot.config import Settings
from bot.jobs import JobContext, in_transaction, recurring
from bot.services.appointments.plans import calendar_exceptions
from bot.services.appointments.staff import cancel_day
from bot.services.dates import local_day
from models import CancelReason, HolidayKind


async def sweep_holidays(session: AsyncSession, settings: Settings, now: datetime) -> int:
    today = local_day(now, settings.tz)
    count = 0
    for day, kind in sorted((await calendar_exceptions(session, today)).items()):
        if kind is HolidayKind.holiday:
            count += await cancel_day(session, settings, None, day, CancelReason.holiday, "", None, now)
    return count


@recurring("appointments.holiday_sweep", every=timedelta(minutes=15))
async def holiday_sweep(ctx: JobContext) -> None:
    await in_transaction(ctx, sweep_holidays)
