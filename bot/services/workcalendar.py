"""The working calendar that time limits are counted in.

Working time is local (``DISPLAY_TZ``, Asia/Shanghai): by default 08:30-12:00
and 13:30-17:30, Monday to Friday (``WORK_HOURS``, ``WORK_DAYS``).  The
``holidays`` table adds days off (public holidays) and make-up working days
(调休, a Saturday or Sunday worked in exchange).

:class:`WorkCalendar` is plain and synchronous so it can be tested alone;
:func:`calendar_for` builds one from the settings and the holidays table.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.config import Settings, parse_periods, parse_weekdays
from bot.services.errors import InvalidInput, NotAllowed
from models import Holiday, HolidayKind, Role, User

# Never loop forever on a calendar with no working time at all.
_MAX_DAYS_SCANNED = 3 * 366


@dataclass(frozen=True)
class WorkCalendar:
    tz: ZoneInfo
    periods: tuple[tuple[time, time], ...] = ((time(8, 30), time(12, 0)), (time(13, 30), time(17, 30)))
    weekdays: frozenset[int] = frozenset(range(5))
    # date -> holiday (day off) or workday (make-up working day)
    exceptions: Mapping[date, HolidayKind] = field(default_factory=dict)

    def is_workday(self, d: date) -> bool:
        kind = self.exceptions.get(d)
        if kind is HolidayKind.holiday:
            return False
        if kind is HolidayKind.workday:
            return True
        return d.weekday() in self.weekdays

    def _day_periods(self, d: date) -> list[tuple[datetime, datetime]]:
        if not self.is_workday(d):
            return []
        return [(datetime.combine(d, a, self.tz), datetime.combine(d, b, self.tz)) for a, b in self.periods]

    def add_working_hours(self, start_utc: datetime, hours: float) -> datetime:
        """The moment (aware UTC) when ``hours`` of working time have passed after ``start_utc``.

        Started outside working time, the clock starts at the next working period.
        """
        if start_utc.tzinfo is None:
            raise ValueError("naive datetime")
        remaining = timedelta(hours=hours)
        if remaining <= timedelta(0):
            return start_utc.astimezone(UTC)
        local = start_utc.astimezone(self.tz)
        day = local.date()
        for _ in range(_MAX_DAYS_SCANNED):
            for begin, end in self._day_periods(day):
                if end <= local:
                    continue
                begin = max(begin, local)
                available = end - begin
                if remaining <= available:
                    return (begin + remaining).astimezone(UTC)
                remaining -= available
            day += timedelta(days=1)
        raise ValueError("the working calendar has no working time")

    def working_time_between(self, start_utc: datetime, end_utc: datetime) -> timedelta:
        """Working time elapsed from ``start_utc`` to ``end_utc`` (zero if end is earlier)."""
        if end_utc <= start_utc:
            return timedelta(0)
        a, b = start_utc.astimezone(self.tz), end_utc.astimezone(self.tz)
        total = timedelta(0)
        day = a.date()
        while day <= b.date():
            for begin, end in self._day_periods(day):
                lo, hi = max(begin, a), min(end, b)
                if hi > lo:
                    total += hi - lo
            day += timedelta(days=1)
        return total

    def next_workday(self, d: date) -> date:
        for i in range(1, _MAX_DAYS_SCANNED):
            candidate = d + timedelta(days=i)
            if self.is_workday(candidate):
                return candidate
        raise ValueError("the working calendar has no working day")


async def load_exceptions(session: AsyncSession, *, since: date | None = None) -> dict[date, HolidayKind]:
    stmt = select(Holiday.day, Holiday.kind)
    if since is not None:
        stmt = stmt.where(Holiday.day >= since)
    return {d: HolidayKind(k) for d, k in (await session.execute(stmt)).all()}


async def calendar_for(session: AsyncSession, settings: Settings, *, now: datetime | None = None) -> WorkCalendar:
    """The calendar of the deployment: settings plus the holidays table.

    Only exceptions from a year before ``now`` on are loaded (a handful per
    year), which covers every deadline a case can have.
    """
    since = (now.astimezone(settings.tz).date() - timedelta(days=366)) if now is not None else None
    return WorkCalendar(
        tz=settings.tz,
        periods=parse_periods(settings.work_hours),
        weekdays=parse_weekdays(settings.work_days),
        exceptions=await load_exceptions(session, since=since),
    )


async def is_workday(session: AsyncSession, settings: Settings, d: date) -> bool:
    return (await calendar_for(session, settings)).is_workday(d)


async def add_working_hours(session: AsyncSession, settings: Settings, start_utc: datetime,
                            hours: float) -> datetime:
    return (await calendar_for(session, settings, now=start_utc)).add_working_hours(start_utc, hours)


# Administration: district administrators keep the holidays table.

def _require_admin(actor: User) -> None:
    if not any(g.role == Role.admin for g in actor.roles):
        raise NotAllowed()


async def upcoming_exceptions(session: AsyncSession, actor: User, today: date) -> list[Holiday]:
    _require_admin(actor)
    return list(await session.scalars(select(Holiday).where(Holiday.day >= today).order_by(Holiday.day)))


async def set_exception(session: AsyncSession, actor: User, day: date, kind: HolidayKind | None,
                        name: str = "") -> None:
    """Mark ``day`` as a holiday or a make-up workday; ``kind`` None removes the mark."""
    _require_admin(actor)
    if len(name) > 100:
        raise InvalidInput("text_too_long", limit=100)
    existing = await session.scalar(select(Holiday).where(Holiday.day == day))
    if kind is None:
        if existing is None:
            raise InvalidInput("holiday_unknown")
        await session.execute(delete(Holiday).where(Holiday.id == existing.id))
        return
    if existing is None:
        session.add(Holiday(day=day, kind=kind, name=name.strip()))
    else:
        existing.kind, existing.name = kind, name.strip()
    await session.flush()
