"""Appointments at service stations (预约服务): availability, booking,
cancelling and rescheduling, the resident's list.

The feature is split by concern (its public face is the package's ``__init__``)::

    plans         working plans, closed days, slot times, the staff's plan text
    common        the button codec, describe(), set_cancelled()
    availability  free seats by day, the nearest free slots
    booking       (here) the booking rules
    notify        reminders (24 h and 1 h before), closure notices, the no-show offer
    staff         the agenda, attendance, closures, plan editing, proxy residents
    followup      a missed appointment becomes a proxy errand or a home visit (issue 3's cases)
    ics           the .ics file
    jobs          the recurring holiday sweep

Rules (every one is checked here, buttons included, since callback data can be forged):

* a slot can be booked only if it is in the future, within the plan's horizon,
  at least the minimum notice ahead, on an open day (no closure, no public
  holiday) and one of the plan's slot times;
* a resident holds at most ``APPOINTMENT_MAX_UPCOMING`` upcoming bookings and
  never two that overlap;
* seats: one counter row per slot, taken with a conditional UPDATE (see
  :func:`_take_seat`), so the last seat goes to exactly one of two residents
  who press at the same moment, on SQLite and on PostgreSQL; the other gets
  :class:`SlotFull` carrying the nearest free slots;
* cancelling and rescheduling end at the plan's cancellation cut-off.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from bot.config import Settings
from bot.services import family
from bot.services.access import chain_of_grid, field_grid_ids, heads_home, oversees
from bot.services.appointments.availability import SlotView, free_slots, group_days, nearest_free
from bot.services.appointments.common import (
    AppointmentView,
    cancel_reminders,
    describe,
    release_seat,
    set_cancelled,
)
from bot.services.appointments.notify import schedule_reminders
from bot.services.appointments.plans import (
    Bookable,
    all_bookable,
    day_state,
    last_bookable_day,
    load_bookable,
    load_rules,
    slot_starts,
)
from bot.services.dates import local_day
from bot.services.errors import Conflict, InvalidInput, NotAllowed, NotFound
from models import (
    Appointment,
    AppointmentSlot,
    AppointmentStatus,
    Building,
    CancelReason,
    Grid,
    ServiceItem,
    User,
    i18n_name,
)

# ------------------------------------------------------------------ results

@dataclass(frozen=True, slots=True)
class ServiceOption:
    id: int
    name: str
    stations: int


@dataclass(frozen=True, slots=True)
class StationOption:
    id: int
    name: str
    distance_m: int | None
    own_community: bool
    free_days: int


class SlotFull(Conflict):
    """The slot has no seat left; ``alternatives`` are the nearest free ones."""

    code = "appt_full"

    def __init__(self, alternatives: list[SlotView]) -> None:
        super().__init__("appt_full")
        self.alternatives = alternatives


# ------------------------------------------------------------------ people

async def may_act_for(session: AsyncSession, actor: User, resident: User) -> bool:
    """A resident acts for themselves, and so does a family member they linked
    (bot.services.family, while the link is active); a worker, grid head,
    community staff or district admin acts for a resident *without Telegram* of
    their grid / community / district, and a building (unit) head for one of
    their building (unit) (a proxy booking)."""
    if actor.id == resident.id or await family.is_delegate(session, actor.id, resident.id):
        return True
    if resident.telegram_id is not None or resident.grid_id is None:
        return False
    if resident.grid_id in field_grid_ids(actor) or heads_home(actor, resident.building_id, resident.unit):
        return True  # their grid's worker, or the head of their building (unit)
    chain = await chain_of_grid(session, resident.grid_id)
    return chain is not None and oversees(actor, chain)


async def proxy_name(session: AsyncSession, actor: User, resident_id: int | None) -> str | None:
    """The first name of the resident ``actor`` books for (None when booking for
    themselves); ``NotFound`` for anyone they may not act for, so that a forged
    button shows no stranger's name."""
    if not resident_id or resident_id == actor.id:
        return None
    return (await _resident_for(session, actor, resident_id)).first_name


async def _resident_for(session: AsyncSession, actor: User, resident_id: int | None) -> User:
    if resident_id is None or resident_id == actor.id:
        if not actor.is_registered:
            raise NotAllowed("appt_register")
        return actor
    resident = await session.get(User, resident_id)
    if resident is None or not await may_act_for(session, actor, resident):
        raise NotFound("appt_resident")
    return resident


def _distance_m(lat1: float, lon1: float, lat2: float, lon2: float) -> int:
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return int(6371000 * 2 * math.asin(math.sqrt(a)))


# ------------------------------------------------------------------ availability

async def bookable_services(session: AsyncSession, settings: Settings, locale: str) -> list[ServiceOption]:
    """Services some station takes bookings for, in catalogue order."""
    counts: dict[int, tuple[ServiceItem, int]] = {}
    for bk in await all_bookable(session, settings):
        item, n = counts.get(bk.service.id, (bk.service, 0))
        counts[bk.service.id] = (item, n + 1)
    items = sorted(counts.values(), key=lambda t: (t[0].sort_order, t[0].code))
    return [ServiceOption(s.id, i18n_name(s.names, locale, s.code), n) for s, n in items]


async def stations_for(session: AsyncSession, settings: Settings, actor: User, service_id: int, locale: str,
                       now: datetime, *, near: tuple[float, float] | None = None,
                       resident_id: int | None = None) -> list[StationOption]:
    """Stations taking bookings for ``service_id``: nearest first when a location
    is given; otherwise the resident's own community's first, then by distance
    from their home building (when it has coordinates), then by name.
    Stations with no free seat in their horizon come last."""
    resident = await _resident_for(session, actor, resident_id)
    if near is not None and not (-90 <= near[0] <= 90 and -180 <= near[1] <= 180):
        raise InvalidInput("bad_location")
    home: tuple[float, float] | None = None
    own_community: int | None = None
    if resident.grid_id is not None:
        grid = await session.get(Grid, resident.grid_id)
        own_community = grid.community_id if grid else None
    if resident.building_id is not None:
        building = await session.get(Building, resident.building_id)
        if building is not None and building.latitude is not None and building.longitude is not None:
            home = (building.latitude, building.longitude)
    origin = near or home
    out: list[StationOption] = []
    for bk in await all_bookable(session, settings, service_id=service_id):
        st = bk.station
        distance = (_distance_m(origin[0], origin[1], st.latitude, st.longitude)
                    if origin and st.latitude is not None and st.longitude is not None else None)
        days = group_days(await free_slots(session, settings, bk, now), settings)
        out.append(StationOption(st.id, i18n_name(st.names, locale, st.code), distance,
                                 st.community_id == own_community, len(days)))

    def rank(o: StationOption) -> tuple:  # type: ignore[type-arg]
        far = o.distance_m if o.distance_m is not None else 10**9
        if near is not None:
            return (o.free_days == 0, far, o.name)
        return (o.free_days == 0, not o.own_community, far, o.name)

    return sorted(out, key=rank)


# ------------------------------------------------------------------ checks

async def check_slot(session: AsyncSession, settings: Settings, bk: Bookable, starts_at: datetime,
                     now: datetime) -> None:
    """Refuse a slot in the past, past the horizon, inside the minimum notice,
    on a closed day or not in the plan, each with its own code."""
    tz, plan = settings.tz, bk.plan
    if starts_at <= now:
        raise InvalidInput("appt_past")
    d = local_day(starts_at, tz)
    if d > last_bookable_day(plan, now, tz):
        raise InvalidInput("appt_horizon", days=plan.horizon_days)
    if starts_at < now + plan.min_notice:
        raise InvalidInput("appt_notice", minutes=plan.min_notice_minutes)
    rules = await load_rules(session, bk.station.id, d, d)
    state = day_state(plan, d, rules)
    if state == "closed":
        raise InvalidInput("appt_closed", reason=rules.closures.get(d, ""))
    if state == "holiday":
        raise InvalidInput("appt_holiday")
    if starts_at not in slot_starts(plan, d, rules, tz):
        raise InvalidInput("appt_no_slot")


async def upcoming_count(session: AsyncSession, resident_id: int, now: datetime) -> int:
    return int(await session.scalar(select(func.count()).select_from(Appointment).where(
        Appointment.resident_id == resident_id, Appointment.status == AppointmentStatus.booked,
        Appointment.starts_at > now)) or 0)


async def _lock_resident(session: AsyncSession, resident_id: int) -> None:
    """PostgreSQL: one booking at a time per resident (the upcoming limit holds
    under concurrency).  SQLite has a single writer: nothing to do."""
    if session.bind.dialect.name == "postgresql":
        await session.execute(select(User.id).where(User.id == resident_id).with_for_update())


async def _check_overlap(session: AsyncSession, resident_id: int, starts_at: datetime, ends_at: datetime,
                         *, ignore: int | None = None) -> None:
    stmt = select(Appointment.id).where(
        Appointment.resident_id == resident_id, Appointment.status == AppointmentStatus.booked,
        Appointment.starts_at < ends_at, Appointment.ends_at > starts_at)
    if ignore is not None:
        stmt = stmt.where(Appointment.id != ignore)
    if await session.scalar(stmt.limit(1)) is not None:
        raise Conflict("appt_overlap")


# ------------------------------------------------------------------ seats

async def _ensure_slot_row(session: AsyncSession, station_id: int, service_id: int, starts_at: datetime) -> None:
    insert = pg_insert if session.bind.dialect.name == "postgresql" else sqlite_insert
    await session.execute(
        insert(AppointmentSlot).values(station_id=station_id, service_id=service_id, starts_at=starts_at, booked=0)
        .on_conflict_do_nothing(index_elements=["station_id", "service_id", "starts_at"]))


async def _take_seat(session: AsyncSession, station_id: int, service_id: int, starts_at: datetime,
                     capacity: int) -> int | None:
    """Take one seat of the slot; its id, or None when it is full.

    ``UPDATE ... SET booked = booked + 1 WHERE ... AND booked < capacity``:
    SQLite runs writers one at a time; PostgreSQL makes a second concurrent
    UPDATE wait for the first and re-check ``booked < capacity`` on the row
    the first one committed.  Either way the last seat is taken once.
    """
    await _ensure_slot_row(session, station_id, service_id, starts_at)
    result = await session.execute(
        update(AppointmentSlot)
        .where(AppointmentSlot.station_id == station_id, AppointmentSlot.service_id == service_id,
               AppointmentSlot.starts_at == starts_at, AppointmentSlot.booked < capacity)
        .values(booked=AppointmentSlot.booked + 1)
        .returning(AppointmentSlot.id)
        .execution_options(synchronize_session=False))
    return result.scalar_one_or_none()


# ------------------------------------------------------------------ booking

async def book(session: AsyncSession, settings: Settings, actor: User, *, station_id: int, service_id: int,
               starts_at: datetime, now: datetime, resident_id: int | None = None) -> Appointment:
    """Book a seat for the actor (or, for a worker, a resident without Telegram).

    Everything is checked before anything is written, and the seat is taken
    last: a refusal leaves the database as it was (bar an empty seat counter).
    """
    resident = await _resident_for(session, actor, resident_id)
    bk = await load_bookable(session, settings, station_id, service_id)
    await check_slot(session, settings, bk, starts_at, now)
    if bk.plan.at_home and resident.building_id is None:
        raise NotAllowed("appt_home_needed")
    await _lock_resident(session, resident.id)
    if await upcoming_count(session, resident.id, now) >= settings.appointment_max_upcoming:
        raise Conflict("appt_limit", limit=settings.appointment_max_upcoming)
    ends_at = starts_at + bk.plan.slot
    await _check_overlap(session, resident.id, starts_at, ends_at)
    slot_id = await _take_seat(session, station_id, service_id, starts_at, bk.plan.capacity)
    if slot_id is None:
        raise SlotFull(await nearest_free(session, settings, bk, starts_at, now, exclude=starts_at))
    appointment = Appointment(
        slot_id=slot_id, station_id=station_id, service_id=service_id, resident_id=resident.id,
        starts_at=starts_at, ends_at=ends_at, day=local_day(starts_at, settings.tz),
        # proxy: a worker booked for someone without Telegram (a family delegate's booking is
        # not one: booked_by_id names the delegate).
        status=AppointmentStatus.booked, at_home=bk.plan.at_home,
        proxy=resident.id != actor.id and resident.telegram_id is None,
        booked_by_id=actor.id, version=1, created_at=now, updated_at=now)
    session.add(appointment)
    await session.flush()
    await schedule_reminders(session, settings, appointment, now)
    when = local_label(starts_at, settings)
    await family.tell_resident(session, settings, actor, resident.id, f"appt:{appointment.id}:fam:booked",
                               lambda _, name: _("👪 {name} booked an appointment for you: {when}. You can see or "
                                                 "cancel it in 🗓️ My appointments.").format(name=name, when=when))
    return appointment


async def preview(session: AsyncSession, settings: Settings, actor: User, *, station_id: int, service_id: int,
                  starts_at: datetime, now: datetime, resident_id: int | None = None) -> SlotView:
    """Check a slot before the confirmation card: the same refusals as
    :func:`book`, and :class:`SlotFull` when no seat is left (nothing is written)."""
    await _resident_for(session, actor, resident_id)
    bk = await load_bookable(session, settings, station_id, service_id)
    await check_slot(session, settings, bk, starts_at, now)
    booked = await session.scalar(select(AppointmentSlot.booked).where(
        AppointmentSlot.station_id == station_id, AppointmentSlot.service_id == service_id,
        AppointmentSlot.starts_at == starts_at)) or 0
    if booked >= bk.plan.capacity:
        raise SlotFull(await nearest_free(session, settings, bk, starts_at, now, exclude=starts_at))
    return SlotView(starts_at, starts_at + bk.plan.slot, bk.plan.capacity - booked)


async def rebook(session: AsyncSession, settings: Settings, actor: User, appointment_id: int, starts_at: datetime,
                 now: datetime) -> Appointment:
    """One tap after a closure or a holiday: book the same service at the same
    station at ``starts_at`` for the person whose booking was cancelled (once)."""
    old = await _own(session, actor, appointment_id)
    if old.status != AppointmentStatus.cancelled or old.cancel_reason not in (CancelReason.closure,
                                                                              CancelReason.holiday):
        raise Conflict("appt_not_upcoming")
    if old.rebooked_as_id is not None:
        raise Conflict("appt_rebooked")
    new = await book(session, settings, actor, station_id=old.station_id, service_id=old.service_id,
                     starts_at=starts_at, now=now, resident_id=old.resident_id)
    old.rebooked_as_id, old.updated_at = new.id, now
    await session.flush()
    return new


async def rebook_target(session: AsyncSession, actor: User, appointment_id: int) -> Appointment:
    """The cancelled booking behind a "rebook" button, if ``actor`` may rebook it."""
    old = await _own(session, actor, appointment_id)
    if old.rebooked_as_id is not None:
        raise Conflict("appt_rebooked")
    if old.status != AppointmentStatus.cancelled:
        raise Conflict("appt_not_upcoming")
    return old


async def _own(session: AsyncSession, actor: User, appointment_id: int) -> Appointment:
    """The appointment if ``actor`` may change it (its resident, or a worker
    acting for a resident without Telegram); otherwise not found."""
    # Locked on PostgreSQL (SQLite renders no FOR UPDATE; it has one writer anyway):
    # a cancel racing a reschedule of the same booking waits for it.
    appointment = await session.get(Appointment, appointment_id, populate_existing=True, with_for_update=True)
    if appointment is None:
        raise NotFound("appt")
    resident = await session.get(User, appointment.resident_id)
    if resident is None or not await may_act_for(session, actor, resident):
        raise NotFound("appt")
    return appointment


async def _check_changeable(session: AsyncSession, settings: Settings, appointment: Appointment,
                            now: datetime) -> Bookable:
    if appointment.status != AppointmentStatus.booked or appointment.starts_at <= now:
        raise Conflict("appt_not_upcoming")
    bk = await load_bookable(session, settings, appointment.station_id, appointment.service_id,
                             include_paused=True)
    if now > appointment.starts_at - bk.plan.cancel_cutoff:
        raise Conflict("appt_cutoff", minutes=bk.plan.cancel_cutoff_minutes, phone=bk.station.phone or "")
    return bk


async def cancel(session: AsyncSession, settings: Settings, actor: User, appointment_id: int,
                 now: datetime) -> Appointment:
    appointment = await _own(session, actor, appointment_id)
    await _check_changeable(session, settings, appointment, now)
    await set_cancelled(session, appointment, CancelReason.resident, actor, now)
    when = local_label(appointment.starts_at, settings)
    await family.tell_resident(session, settings, actor, appointment.resident_id,
                               f"appt:{appointment.id}:fam:cancelled",
                               lambda _, name: _("👪 {name} cancelled your appointment of {when}.").format(
                                   name=name, when=when))
    return appointment


def local_label(moment: datetime, settings: Settings) -> str:
    """A time as residents read it in a message: ``12-08 09:00``, local."""
    return moment.astimezone(settings.tz).strftime("%m-%d %H:%M")


async def reschedule(session: AsyncSession, settings: Settings, actor: User, appointment_id: int,
                     starts_at: datetime, now: datetime) -> Appointment:
    """Move a booking to another slot of the same station and service, keeping
    its seat until the new one is taken; reminders move with it."""
    appointment = await _own(session, actor, appointment_id)
    await _check_changeable(session, settings, appointment, now)
    if starts_at == appointment.starts_at:
        raise InvalidInput("appt_same_slot")
    bk = await load_bookable(session, settings, appointment.station_id, appointment.service_id)
    await check_slot(session, settings, bk, starts_at, now)
    ends_at = starts_at + bk.plan.slot
    await _lock_resident(session, appointment.resident_id)
    await _check_overlap(session, appointment.resident_id, starts_at, ends_at, ignore=appointment.id)
    await _ensure_slot_row(session, bk.station.id, bk.service.id, starts_at)
    if session.bind.dialect.name == "postgresql":
        # Lock both counters in id order: two residents swapping slots cannot deadlock.
        await session.execute(select(AppointmentSlot.id).where(
            (AppointmentSlot.id == appointment.slot_id)
            | ((AppointmentSlot.station_id == bk.station.id) & (AppointmentSlot.service_id == bk.service.id)
               & (AppointmentSlot.starts_at == starts_at))).order_by(AppointmentSlot.id).with_for_update())
    slot_id = await _take_seat(session, bk.station.id, bk.service.id, starts_at, bk.plan.capacity)
    if slot_id is None:
        raise SlotFull(await nearest_free(session, settings, bk, starts_at, now, exclude=starts_at))
    await cancel_reminders(session, appointment)
    await release_seat(session, appointment.slot_id)
    appointment.slot_id, appointment.starts_at, appointment.ends_at = slot_id, starts_at, ends_at
    appointment.day = local_day(starts_at, settings.tz)
    appointment.version += 1
    appointment.updated_at = now
    await session.flush()
    await schedule_reminders(session, settings, appointment, now)
    when = local_label(starts_at, settings)
    await family.tell_resident(session, settings, actor, appointment.resident_id,
                               f"appt:{appointment.id}:fam:v{appointment.version}",
                               lambda _, name: _("👪 {name} moved your appointment to {when}.").format(
                                   name=name, when=when))
    return appointment


# ------------------------------------------------------------------ reading

async def view(session: AsyncSession, settings: Settings, actor: User, appointment_id: int,
               locale: str) -> AppointmentView:
    appointment = await _own(session, actor, appointment_id)
    return await describe(session, settings, appointment, locale)


async def booked_view(session: AsyncSession, settings: Settings, actor: User, appointment_id: int,
                      locale: str) -> AppointmentView:
    """The booking behind a "cancel it" button: ``Conflict("appt_not_upcoming")``
    unless it is still booked (the cut-off is checked when the cancel is confirmed)."""
    appointment = await _own(session, actor, appointment_id)
    if appointment.status != AppointmentStatus.booked:
        raise Conflict("appt_not_upcoming")
    return await describe(session, settings, appointment, locale)


async def changeable_view(session: AsyncSession, settings: Settings, actor: User, appointment_id: int,
                          locale: str, now: datetime) -> AppointmentView:
    """The booking behind a "change the time" button, if it may still be moved:
    upcoming and before the plan's cancellation cut-off (``appt_cutoff`` with the
    station's phone otherwise)."""
    appointment = await _own(session, actor, appointment_id)
    await _check_changeable(session, settings, appointment, now)
    return await describe(session, settings, appointment, locale)


async def upcoming(session: AsyncSession, settings: Settings, actor: User, locale: str, now: datetime, *,
                   resident_id: int | None = None) -> list[AppointmentView]:
    """Bookings that have not ended yet, soonest first."""
    resident = await _resident_for(session, actor, resident_id)
    rows = await session.scalars(select(Appointment).where(
        Appointment.resident_id == resident.id, Appointment.status == AppointmentStatus.booked,
        Appointment.ends_at > now).order_by(Appointment.starts_at))
    return [await describe(session, settings, a, locale) for a in rows]
