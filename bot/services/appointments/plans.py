"""Working plans of stations: which services can be booked where, when the
slots are, and which days are closed.

A plan belongs to one station and one service.  Until staff edit it, a
station's plan for a bookable service (catalogue kinds ``appointment`` and
``consult``) is derived from the station's opening hours and the
``APPOINTMENT_*`` settings, so an imported district takes bookings out of the
box; editing or pausing it stores an ``appointment_plans`` row.

Days: a station is closed on its closures (``appointment_closures``) and on
the public holidays of the working calendar (issue 3's ``holidays`` table,
read through :func:`calendar_exceptions` only).  On a make-up working day
(调休) a station works the hours of that weekday, or, when the plan has none
that day, its Monday hours (the first weekday with hours).

Everything here is plain data in and out; the booking rules that use it live
in :mod:`bot.services.appointments.booking`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.config import Settings
from bot.services.dates import local_day
from bot.services.errors import InvalidInput, NotFound
from bot.services.workcalendar import load_exceptions, parse_periods
from models import (
    AppointmentClosure,
    AppointmentPlan,
    HolidayKind,
    ServiceItem,
    ServiceKind,
    Station,
    StationService,
)

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
# Catalogue kinds a station takes bookings for without anyone setting it up.
BOOKABLE_KINDS = frozenset({ServiceKind.appointment, ServiceKind.consult})

Periods = tuple[tuple[time, time], ...]

# Limits of what staff may set (the settings' defaults are inside them).
LIMITS = {
    "slot": (5, 480),
    "seats": (1, 200),
    "days": (1, 90),
    "notice": (0, 7 * 24 * 60),
    "cutoff": (0, 7 * 24 * 60),
}


@dataclass(frozen=True, slots=True)
class Plan:
    station_id: int
    service_id: int
    days: tuple[Periods, ...]  # seven entries, Monday first; local time
    slot_minutes: int
    capacity: int
    horizon_days: int
    min_notice_minutes: int
    cancel_cutoff_minutes: int
    at_home: bool
    active: bool
    stored: bool  # False: derived from the opening hours, never edited

    @property
    def slot(self) -> timedelta:
        return timedelta(minutes=self.slot_minutes)

    @property
    def min_notice(self) -> timedelta:
        return timedelta(minutes=self.min_notice_minutes)

    @property
    def cancel_cutoff(self) -> timedelta:
        return timedelta(minutes=self.cancel_cutoff_minutes)

    def weekly(self) -> dict[str, list[str]]:
        """The JSON form stored in ``appointment_plans.weekly``."""
        return {name: [f"{a:%H:%M}-{b:%H:%M}" for a, b in self.days[i]] for i, name in enumerate(WEEKDAYS)}


def parse_day(items: list[str] | str | None) -> Periods:
    """``["08:30-11:30", "13:30-17:00"]`` (or the same comma-separated) -> periods."""
    if not items:
        return ()
    spec = items if isinstance(items, str) else ",".join(str(i) for i in items)
    if not spec.strip():
        return ()
    return parse_periods(spec)


def _days_from_json(weekly: Mapping[str, object] | None) -> tuple[Periods, ...]:
    out: list[Periods] = []
    for name in WEEKDAYS:
        raw = (weekly or {}).get(name)
        try:
            out.append(parse_day(raw if isinstance(raw, (list, str)) else None))
        except ValueError:
            out.append(())  # a malformed day is a closed day, never a crash
    return tuple(out)


def home_service_codes(settings: Settings) -> frozenset[str]:
    return frozenset(c.strip() for c in settings.appointment_home_services.split(",") if c.strip())


def default_plan(station: Station, service: ServiceItem, settings: Settings) -> Plan:
    return Plan(
        station_id=station.id, service_id=service.id, days=_days_from_json(station.opening_hours),
        slot_minutes=settings.appointment_slot_minutes, capacity=settings.appointment_capacity,
        horizon_days=settings.appointment_horizon_days,
        min_notice_minutes=settings.appointment_min_notice_minutes,
        cancel_cutoff_minutes=settings.appointment_cancel_cutoff_minutes,
        at_home=service.code in home_service_codes(settings),
        active=service.kind in BOOKABLE_KINDS, stored=False,
    )


def plan_from_row(row: AppointmentPlan) -> Plan:
    return Plan(
        station_id=row.station_id, service_id=row.service_id, days=_days_from_json(row.weekly),
        slot_minutes=row.slot_minutes, capacity=row.capacity, horizon_days=row.horizon_days,
        min_notice_minutes=row.min_notice_minutes, cancel_cutoff_minutes=row.cancel_cutoff_minutes,
        at_home=row.at_home, active=row.active, stored=True,
    )


@dataclass(frozen=True, slots=True)
class Bookable:
    station: Station
    service: ServiceItem
    plan: Plan


async def load_bookable(session: AsyncSession, settings: Settings, station_id: int, service_id: int, *,
                        include_paused: bool = False) -> Bookable:
    """The station, service and plan; ``NotFound("appt_service")`` when it cannot be booked
    (station or service inactive, not offered there, not a bookable kind, plan paused)."""
    station = await session.get(Station, station_id)
    service = await session.get(ServiceItem, service_id)
    if station is None or service is None or not station.active or not service.active:
        raise NotFound("appt_service")
    offered = await session.scalar(select(StationService.id).where(
        StationService.station_id == station_id, StationService.service_id == service_id))
    if offered is None:
        raise NotFound("appt_service")
    row = await session.scalar(select(AppointmentPlan).where(
        AppointmentPlan.station_id == station_id, AppointmentPlan.service_id == service_id))
    plan = plan_from_row(row) if row is not None else default_plan(station, service, settings)
    if not plan.active and not include_paused:
        raise NotFound("appt_service")
    return Bookable(station, service, plan)


async def all_bookable(session: AsyncSession, settings: Settings, *, service_id: int | None = None,
                       include_paused: bool = False) -> list[Bookable]:
    """Every (station, service) pair that takes bookings (optionally of one service)."""
    stmt = (select(Station, ServiceItem)
            .join(StationService, StationService.station_id == Station.id)
            .join(ServiceItem, ServiceItem.id == StationService.service_id)
            .where(Station.active, ServiceItem.active))
    if service_id is not None:
        stmt = stmt.where(ServiceItem.id == service_id)
    pairs = (await session.execute(stmt)).all()
    plan_stmt = select(AppointmentPlan)
    if service_id is not None:
        plan_stmt = plan_stmt.where(AppointmentPlan.service_id == service_id)
    rows = {(r.station_id, r.service_id): r for r in await session.scalars(plan_stmt)}
    out: list[Bookable] = []
    for station, service in pairs:
        row = rows.get((station.id, service.id))
        plan = plan_from_row(row) if row is not None else default_plan(station, service, settings)
        if plan.active or include_paused:
            out.append(Bookable(station, service, plan))
    return out


# ------------------------------------------------------------------ days and slots

@dataclass(frozen=True, slots=True)
class DayRules:
    """What closes days at one station: public holidays and make-up days, closures."""

    exceptions: Mapping[date, HolidayKind]
    closures: Mapping[date, str]  # day -> reason


async def calendar_exceptions(session: AsyncSession, since: date) -> dict[date, HolidayKind]:
    """Public holidays and make-up working days from the working calendar of issue 3.

    The one place this feature reads that calendar: if its API moves, only
    this function changes.
    """
    return await load_exceptions(session, since=since)


async def load_rules(session: AsyncSession, station_id: int, since: date, until: date) -> DayRules:
    closures = dict((await session.execute(
        select(AppointmentClosure.day, AppointmentClosure.reason).where(
            AppointmentClosure.station_id == station_id, AppointmentClosure.day >= since,
            AppointmentClosure.day <= until))).all())
    exceptions = {d: k for d, k in (await calendar_exceptions(session, since)).items() if d <= until}
    return DayRules(exceptions, closures)


def day_state(plan: Plan, d: date, rules: DayRules) -> str:
    """``open``, ``closed`` (a closure), ``holiday`` or ``no_hours`` (nothing planned that weekday)."""
    if d in rules.closures:
        return "closed"
    if rules.exceptions.get(d) is HolidayKind.holiday:
        return "holiday"
    return "open" if periods_of(plan, d, rules) else "no_hours"


def periods_of(plan: Plan, d: date, rules: DayRules) -> Periods:
    periods = plan.days[d.weekday()]
    if not periods and rules.exceptions.get(d) is HolidayKind.workday:
        periods = next((p for p in plan.days[:5] if p), ())
    return periods


def slot_starts(plan: Plan, d: date, rules: DayRules, tz: ZoneInfo) -> list[datetime]:
    """Every slot start of ``d`` (aware UTC), whether free or not; none on a closed day."""
    if day_state(plan, d, rules) != "open":
        return []
    out: list[datetime] = []
    for a, b in periods_of(plan, d, rules):
        start = datetime.combine(d, a, tz)
        end = datetime.combine(d, b, tz)
        while start + plan.slot <= end:
            out.append(start.astimezone(UTC))
            start += plan.slot
    return out


def last_bookable_day(plan: Plan, now: datetime, tz: ZoneInfo) -> date:
    """The horizon: today and the ``horizon_days - 1`` days after it."""
    return local_day(now, tz) + timedelta(days=plan.horizon_days - 1)


# ------------------------------------------------------------------ the staff's text form of a plan

_DAY_ALIASES = {
    **{name: i for i, name in enumerate(WEEKDAYS)},
    **{f"周{c}": i for i, c in enumerate("一二三四五六日")},
    **{f"星期{c}": i for i, c in enumerate("一二三四五六日")},
    "周天": 6, "星期天": 6,
}
_NUMBER_KEYS = {
    "slot": "slot", "seats": "seats", "days": "days", "notice": "notice", "cutoff": "cutoff",
    "时长": "slot", "名额": "seats", "天数": "days", "提前": "notice", "取消": "cutoff",
}
_CLOSED_WORDS = {"-", "—", "closed", "off", "休息", "不开放", "无"}


def plan_text(plan: Plan) -> str:
    """The plan as the text staff edit and send back (see :func:`apply_plan_text`)."""
    lines = [f"{name} {' '.join(f'{a:%H:%M}-{b:%H:%M}' for a, b in plan.days[i]) or '-'}"
             for i, name in enumerate(WEEKDAYS)]
    lines += [f"slot {plan.slot_minutes}", f"seats {plan.capacity}", f"days {plan.horizon_days}",
              f"notice {plan.min_notice_minutes}", f"cutoff {plan.cancel_cutoff_minutes}",
              f"venue {'home' if plan.at_home else 'station'}"]
    return "\n".join(lines)


def apply_plan_text(plan: Plan, text: str) -> Plan:
    """A new plan: ``plan`` with the lines of ``text`` applied; lines not given keep their value.

    ``mon 08:30-11:30 13:30-17:00`` (or ``周一``), ``sat -`` for a day without
    hours; ``slot 30`` (minutes), ``seats 2``, ``days 14`` (horizon),
    ``notice 120`` and ``cutoff 60`` (minutes), ``venue station|home``.
    Raises ``InvalidInput("plan_line", line=...)`` naming the first bad line.
    """
    if len(text) > 2000:
        raise InvalidInput("text_too_long", limit=2000)
    days = list(plan.days)
    values = {"slot": plan.slot_minutes, "seats": plan.capacity, "days": plan.horizon_days,
              "notice": plan.min_notice_minutes, "cutoff": plan.cancel_cutoff_minutes}
    at_home = plan.at_home
    changed = False
    for raw in text.splitlines():
        line = raw.strip()
        if not line:
            continue
        parts = re.split(r"[\s:：]+", line, maxsplit=1)
        key = parts[0].casefold()
        rest = parts[1].strip() if len(parts) > 1 else ""
        if key in _DAY_ALIASES:
            if rest.casefold() in _CLOSED_WORDS or not rest:
                days[_DAY_ALIASES[key]] = ()
            else:
                try:
                    days[_DAY_ALIASES[key]] = parse_periods(",".join(re.split(r"[\s,，、]+", rest)))
                except ValueError:
                    raise InvalidInput("plan_line", line=line[:60]) from None
        elif key in _NUMBER_KEYS:
            name = _NUMBER_KEYS[key]
            low, high = LIMITS[name]
            if not re.fullmatch(r"\d{1,6}", rest) or not low <= int(rest) <= high:
                raise InvalidInput("plan_line", line=line[:60])
            values[name] = int(rest)
        elif key in ("venue", "地点"):
            word = rest.casefold()
            if word in ("home", "上门"):
                at_home = True
            elif word in ("station", "到站"):
                at_home = False
            else:
                raise InvalidInput("plan_line", line=line[:60])
        else:
            raise InvalidInput("plan_line", line=line[:60])
        changed = True
    if not changed:
        raise InvalidInput("plan_empty")
    return replace(plan, days=tuple(days), slot_minutes=values["slot"], capacity=values["seats"],
                   horizon_days=values["days"], min_notice_minutes=values["notice"],
                   cancel_cutoff_minutes=values["cutoff"], at_home=at_home)
