"""The staff side of appointments: a station's agenda, attendance, closures,
plan editing, and residents without Telegram booked for by a worker.

Who is who (checked on every call):

* **a station's staff** are the community staff (``Role.staff``) of the
  station's community: they see the agenda with full phone numbers, mark
  attended / no-show, edit plans and close days;
* district admins (``Role.admin``) of the station's district see the agenda
  with masked phones, edit plans and close days;
* grid workers and grid heads of a grid in the station's community see the
  agenda with masked phones, and book for residents without Telegram of their
  own grids (a *proxy* booking);
* nobody else sees anything of a station's agenda.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date, datetime

from sqlalchemy import delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.config import Settings
from bot.services import audit
from bot.services.access import (
    admin_district_ids,
    chain_of_community,
    field_grid_ids,
    staff_community_ids,
)
from bot.services.appointments.common import no_show_count, person_name, set_cancelled
from bot.services.appointments.notify import offer_after_no_show, tell_closed
from bot.services.appointments.plans import (
    Plan,
    apply_plan_text,
    load_bookable,
    load_rules,
    slot_starts,
)
from bot.services.appointments.texts import mask_phone
from bot.services.dates import local_day
from bot.services.errors import Conflict, InvalidInput, NotAllowed, NotFound
from models import (
    AccessAction,
    Appointment,
    AppointmentClosure,
    AppointmentPlan,
    AppointmentStatus,
    CancelReason,
    FollowUp,
    Grid,
    HolidayKind,
    ServiceItem,
    Station,
    StationService,
    User,
    i18n_name,
)

FULL = "staff"  # the station's own staff
MANAGE = "admin"  # district admin: plans and closures, masked phones
VIEW = "view"  # grid workers of the station's community: masked phones

MAX_REASON = 200


async def access(session: AsyncSession, actor: User, station: Station) -> str | None:
    """``actor``'s level at ``station`` (see the module), or None."""
    if station.community_id in staff_community_ids(actor):
        return FULL
    chain = await chain_of_community(session, station.community_id)
    if chain is not None and chain.district_id in admin_district_ids(actor):
        return MANAGE
    grid_ids = field_grid_ids(actor)
    if grid_ids and await session.scalar(select(Grid.id).where(
            Grid.id.in_(grid_ids), Grid.community_id == station.community_id).limit(1)) is not None:
        return VIEW
    return None


async def _station(session: AsyncSession, actor: User, station_id: int, *allowed: str) -> tuple[Station, str]:
    station = await session.get(Station, station_id)
    level = await access(session, actor, station) if station is not None else None
    if station is None or level is None:
        raise NotFound("appt_station")
    if allowed and level not in allowed:
        raise NotAllowed()
    return station, level


@dataclass(frozen=True, slots=True)
class StationRef:
    id: int
    name: str
    level: str


async def my_stations(session: AsyncSession, actor: User, locale: str) -> list[StationRef]:
    """Stations whose agenda ``actor`` may see, their own community's first."""
    out = []
    for station in await session.scalars(select(Station).where(Station.active).order_by(Station.code)):
        level = await access(session, actor, station)
        if level is not None:
            out.append(StationRef(station.id, i18n_name(station.names, locale, station.code), level))
    order = {FULL: 0, VIEW: 1, MANAGE: 2}
    return sorted(out, key=lambda s: order[s.level])


# ------------------------------------------------------------------ the agenda

@dataclass(frozen=True, slots=True)
class AgendaLine:
    id: int
    starts_at: datetime
    ends_at: datetime
    service: str
    resident: str
    phone: str  # full to the station's staff, masked to everyone else
    proxy: bool
    at_home: bool
    status: AppointmentStatus
    no_shows: int  # the resident's missed appointments at any station (the agenda: other than this one)


def _line(a: Appointment, person: User, service: str, level: str, no_shows: int) -> AgendaLine:
    return AgendaLine(
        id=a.id, starts_at=a.starts_at, ends_at=a.ends_at, service=service, resident=person_name(person),
        phone=(person.phone or "") if level == FULL else mask_phone(person.phone),
        proxy=a.proxy, at_home=a.at_home, status=a.status, no_shows=no_shows)


@dataclass(frozen=True, slots=True)
class Agenda:
    station_id: int
    station: str
    day: date
    level: str
    state: str  # open, closed (a closure) or holiday
    closed_reason: str
    lines: list[AgendaLine]
    cancelled: int

    @property
    def full_phones(self) -> bool:
        return self.level == FULL

    @property
    def can_mark(self) -> bool:
        return self.level == FULL

    @property
    def can_manage(self) -> bool:
        return self.level in (FULL, MANAGE)


async def agenda(session: AsyncSession, settings: Settings, actor: User, station_id: int, day: date,
                 locale: str) -> Agenda:
    station, level = await _station(session, actor, station_id)
    rows = list(await session.scalars(select(Appointment).where(
        Appointment.station_id == station.id, Appointment.day == day).order_by(Appointment.starts_at,
                                                                              Appointment.id)))
    services = {s.id: s for s in await session.scalars(select(ServiceItem).where(
        ServiceItem.id.in_({a.service_id for a in rows} or {0})))}
    people = {u.id: u for u in await session.scalars(select(User).where(
        User.id.in_({a.resident_id for a in rows} or {0})))}
    misses = dict((await session.execute(
        select(Appointment.resident_id, func.count()).where(
            Appointment.resident_id.in_(set(people) or {0}), Appointment.status == AppointmentStatus.no_show)
        .group_by(Appointment.resident_id))).all())
    lines: list[AgendaLine] = []
    cancelled = 0
    for a in rows:
        if a.status == AppointmentStatus.cancelled:
            cancelled += 1
            continue
        service = services.get(a.service_id)
        # Missed *before*: this booking's own no-show is its status icon.
        missed_before = int(misses.get(a.resident_id, 0)) - (a.status == AppointmentStatus.no_show)
        lines.append(_line(a, people[a.resident_id], i18n_name(service.names, locale, service.code) if service else "",
                           level, missed_before))
    if level == FULL:  # full phones on the agenda: the access log says who saw whose
        await audit.record_phones(session, actor_id=actor.id, place=audit.Place(station.community_id), shown=[
            (a.resident_id, "appointment", a.id) for a in rows
            if a.status != AppointmentStatus.cancelled and people[a.resident_id].phone])
    rules = await load_rules(session, station.id, day, day)
    state = ("closed" if day in rules.closures
             else "holiday" if rules.exceptions.get(day) is HolidayKind.holiday else "open")
    return Agenda(station.id, i18n_name(station.names, locale, station.code), day, level, state,
                  rules.closures.get(day, ""), lines, cancelled)


@dataclass(frozen=True, slots=True)
class BookingCard:
    line: AgendaLine
    station_id: int
    day: date
    booked_by: str | None  # for proxy bookings: the worker
    level: str


async def _booking(session: AsyncSession, actor: User, appointment_id: int, *,
                   lock: bool = False) -> tuple[Appointment, str]:
    """A booking at a station ``actor`` has access to, and their level there; otherwise not found."""
    a = await session.get(Appointment, appointment_id, populate_existing=lock, with_for_update=lock)
    station = await session.get(Station, a.station_id) if a is not None else None
    level = await access(session, actor, station) if station is not None else None
    if a is None or level is None:
        raise NotFound("appt")
    return a, level


async def booking_card(session: AsyncSession, settings: Settings, actor: User, appointment_id: int,
                       locale: str) -> BookingCard:
    a, level = await _booking(session, actor, appointment_id)
    person = await session.get(User, a.resident_id)
    service = await session.get(ServiceItem, a.service_id)
    assert person is not None and service is not None
    by = await session.get(User, a.booked_by_id) if a.proxy and a.booked_by_id else None
    line = _line(a, person, i18n_name(service.names, locale, service.code), level,
                 await no_show_count(session, person.id))
    if level == FULL and person.phone:
        station = await session.get(Station, a.station_id)
        await audit.record(session, AccessAction.phone_viewed, actor_id=actor.id, subject_id=person.id,
                           place=audit.Place(station.community_id if station else None), object_type="appointment",
                           object_id=a.id)
    return BookingCard(line, a.station_id, a.day, by.first_name if by else None, level)


async def mark(session: AsyncSession, settings: Settings, actor: User, appointment_id: int, *, attended: bool,
               now: datetime) -> Appointment:
    """Attended or no-show, by the station's staff.  Attended from the day of the
    appointment on (also correcting a no-show); no-show once it has started.
    A no-show sends the resident the offer of a proxy errand or a home visit."""
    a, level = await _booking(session, actor, appointment_id, lock=True)
    if level != FULL:
        raise NotAllowed()
    today = local_day(now, settings.tz)
    if attended:
        if a.status == AppointmentStatus.attended:
            raise Conflict("appt_already_marked")
        if a.status not in (AppointmentStatus.booked, AppointmentStatus.no_show):
            raise Conflict("appt_not_markable")
        if a.day > today:
            raise InvalidInput("appt_mark_early")
        a.status = AppointmentStatus.attended
    else:
        if a.status == AppointmentStatus.no_show:
            raise Conflict("appt_already_marked")
        if a.status != AppointmentStatus.booked:
            raise Conflict("appt_not_markable")
        if a.starts_at > now:
            raise InvalidInput("appt_mark_early")
        a.status = AppointmentStatus.no_show
    a.marked_at, a.marked_by_id, a.updated_at = now, actor.id, now
    await session.flush()
    if a.status == AppointmentStatus.no_show and a.follow_up is None:
        if await offer_after_no_show(session, settings, a, now):
            a.follow_up = FollowUp.offered
            await session.flush()
    return a


# ------------------------------------------------------------------ closures

async def closure_preview(session: AsyncSession, settings: Settings, actor: User, station_id: int, day: date,
                          now: datetime) -> int:
    """How many bookings closing ``day`` would cancel."""
    station, _level = await _station(session, actor, station_id, FULL, MANAGE)
    _check_day(day, now, settings)
    return len(await _booked_on(session, station.id, day, now))


def _check_day(day: date, now: datetime, settings: Settings) -> None:
    if day < local_day(now, settings.tz):
        raise InvalidInput("appt_closure_past")


async def _booked_on(session: AsyncSession, station_id: int | None, day: date, now: datetime) -> list[Appointment]:
    stmt = select(Appointment).where(Appointment.day == day, Appointment.status == AppointmentStatus.booked,
                                     Appointment.starts_at > now)
    if station_id is not None:
        stmt = stmt.where(Appointment.station_id == station_id)
    return list(await session.scalars(stmt.order_by(Appointment.starts_at, Appointment.id)))


async def close_day(session: AsyncSession, settings: Settings, actor: User, station_id: int, day: date,
                    reason: str, now: datetime) -> int:
    """Close a day at a station: no more bookings, every upcoming booking of that
    day cancelled, each resident told with one-tap rebooking.  Returns how many."""
    station, _level = await _station(session, actor, station_id, FULL, MANAGE)
    _check_day(day, now, settings)
    reason = (reason or "").strip()
    if len(reason) > MAX_REASON:
        raise InvalidInput("appt_reason_long", limit=MAX_REASON)
    if await session.scalar(select(AppointmentClosure.id).where(
            AppointmentClosure.station_id == station.id, AppointmentClosure.day == day)) is not None:
        raise Conflict("appt_closure_exists")
    session.add(AppointmentClosure(station_id=station.id, day=day, reason=reason, created_by_id=actor.id,
                                   created_at=now))
    await session.flush()
    return await cancel_day(session, settings, station.id, day, CancelReason.closure, reason, actor, now)


async def cancel_day(session: AsyncSession, settings: Settings, station_id: int | None, day: date,
                     cause: CancelReason, reason: str, actor: User | None, now: datetime) -> int:
    """Cancel the upcoming bookings of ``day`` (at one station, or everywhere) and tell each one."""
    count = 0
    for a in await _booked_on(session, station_id, day, now):
        try:
            await set_cancelled(session, a, cause, actor, now)
        except Conflict:
            continue  # cancelled meanwhile
        await tell_closed(session, settings, a, reason, now, holiday=cause == CancelReason.holiday)
        count += 1
    return count


async def reopen_day(session: AsyncSession, settings: Settings, actor: User, station_id: int, day: date,
                     now: datetime) -> None:
    """Take bookings on a closed day again (the bookings it cancelled stay cancelled)."""
    station, _level = await _station(session, actor, station_id, FULL, MANAGE)
    _check_day(day, now, settings)
    result = await session.execute(delete(AppointmentClosure).where(
        AppointmentClosure.station_id == station.id, AppointmentClosure.day == day))
    if not result.rowcount:
        raise Conflict("appt_not_closed")


async def upcoming_closures(session: AsyncSession, settings: Settings, actor: User, station_id: int,
                            now: datetime) -> list[AppointmentClosure]:
    station, _level = await _station(session, actor, station_id)
    return list(await session.scalars(select(AppointmentClosure).where(
        AppointmentClosure.station_id == station.id, AppointmentClosure.day >= local_day(now, settings.tz))
        .order_by(AppointmentClosure.day)))


# ------------------------------------------------------------------ plans

@dataclass(frozen=True, slots=True)
class PlanLine:
    service_id: int
    service: str
    plan: Plan


async def station_plans(session: AsyncSession, settings: Settings, actor: User, station_id: int,
                        locale: str) -> list[PlanLine]:
    """Every service the station offers, with its plan (bookable or not)."""
    station, _level = await _station(session, actor, station_id, FULL, MANAGE)
    services = list(await session.scalars(
        select(ServiceItem).join(StationService, StationService.service_id == ServiceItem.id)
        .where(StationService.station_id == station.id, ServiceItem.active)
        .order_by(ServiceItem.sort_order, ServiceItem.code)))
    out = []
    for service in services:
        bk = await load_bookable(session, settings, station.id, service.id, include_paused=True)
        out.append(PlanLine(service.id, i18n_name(service.names, locale, service.code), bk.plan))
    return out


async def plan_of(session: AsyncSession, settings: Settings, actor: User, station_id: int, service_id: int,
                  locale: str) -> PlanLine:
    await _station(session, actor, station_id, FULL, MANAGE)
    bk = await load_bookable(session, settings, station_id, service_id, include_paused=True)
    return PlanLine(service_id, i18n_name(bk.service.names, locale, bk.service.code), bk.plan)


async def _store_plan(session: AsyncSession, plan: Plan, actor: User, now: datetime) -> None:
    row = await session.scalar(select(AppointmentPlan).where(
        AppointmentPlan.station_id == plan.station_id, AppointmentPlan.service_id == plan.service_id))
    if row is None:
        row = AppointmentPlan(station_id=plan.station_id, service_id=plan.service_id)
        session.add(row)
    row.weekly = plan.weekly()
    row.slot_minutes, row.capacity, row.horizon_days = plan.slot_minutes, plan.capacity, plan.horizon_days
    row.min_notice_minutes, row.cancel_cutoff_minutes = plan.min_notice_minutes, plan.cancel_cutoff_minutes
    row.at_home, row.active = plan.at_home, plan.active
    row.updated_by_id, row.updated_at = actor.id, now
    await session.flush()


async def save_plan(session: AsyncSession, settings: Settings, actor: User, station_id: int, service_id: int,
                    text: str, now: datetime) -> tuple[Plan, int]:
    """Apply the staff's plan text; returns the new plan and how many upcoming
    bookings are no longer at one of its slot times (they are kept)."""
    await _station(session, actor, station_id, FULL, MANAGE)
    bk = await load_bookable(session, settings, station_id, service_id, include_paused=True)
    new = apply_plan_text(bk.plan, text)
    await _store_plan(session, new, actor, now)
    outside = 0
    booked = list(await session.scalars(select(Appointment).where(
        Appointment.station_id == station_id, Appointment.service_id == service_id,
        Appointment.status == AppointmentStatus.booked, Appointment.starts_at > now)))
    if booked:
        days = {a.day for a in booked}
        rules = await load_rules(session, station_id, min(days), max(days))
        starts = {d: set(slot_starts(new, d, rules, settings.tz)) for d in days}
        outside = sum(1 for a in booked if a.starts_at not in starts[a.day])
    return new, outside


async def set_plan_active(session: AsyncSession, settings: Settings, actor: User, station_id: int,
                          service_id: int, active: bool, now: datetime) -> Plan:
    """Take bookings for a service at a station, or stop (existing bookings are kept)."""
    await _station(session, actor, station_id, FULL, MANAGE)
    bk = await load_bookable(session, settings, station_id, service_id, include_paused=True)
    plan = replace(bk.plan, active=active)
    await _store_plan(session, plan, actor, now)
    return plan

