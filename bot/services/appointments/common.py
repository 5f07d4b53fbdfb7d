"""What every part of appointments shares: the callback codec of the buttons
services write, a booking as the reader sees it (:func:`describe`), and
cancelling one booking (:func:`set_cancelled`, with its seat and reminders).

Booking, the notifications, the staff side and the jobs all import this
module and nothing of each other's that would lead back here.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.config import Settings
from bot.services.appointments.plans import load_bookable
from bot.services.bounds import MAX_CODE, day_from_ordinal, in_range
from bot.services.errors import Conflict, InvalidInput, NotFound
from models import (
    Appointment,
    AppointmentSlot,
    AppointmentStatus,
    Building,
    CancelReason,
    OutboxMessage,
    OutboxStatus,
    ServiceItem,
    Station,
    User,
    i18n_name,
)

# ------------------------------------------------------------------ the callback codec

# Callback data of appointment buttons that services write into outbox rows;
# the same layout aiogram packs for handlers.appointments.ui.ApCb.
AP_CB = "ap"


def ap_cb(a: str, *, sv: int = 0, st: int = 0, x: int = 0, b: int = 0, r: int = 0) -> str:
    return f"{AP_CB}:{a}:{sv}:{st}:{x}:{b}:{r}"


def slot_code(starts_at: datetime) -> int:
    """A slot start as whole minutes since the epoch (what buttons carry)."""
    return int(starts_at.timestamp()) // 60


def slot_from_code(code: int) -> datetime:
    if not 0 < code < MAX_CODE:
        raise InvalidInput("appt_no_slot")
    starts_at = datetime.fromtimestamp(code * 60, UTC)
    if not in_range(starts_at.date()):
        raise InvalidInput("appt_no_slot")
    return starts_at


def day_from_code(code: int) -> date:
    """A day as buttons carry it (its ordinal), within the bot's years (bot.services.bounds)."""
    return day_from_ordinal(code, "appt_no_slot")


# ------------------------------------------------------------------ a booking as the reader sees it

@dataclass(frozen=True, slots=True)
class AppointmentView:
    id: int
    status: AppointmentStatus
    cancel_reason: CancelReason | None
    station_id: int
    station: str
    address: str
    station_phone: str | None
    latitude: float | None
    longitude: float | None
    service_id: int
    service: str
    starts_at: datetime
    ends_at: datetime
    at_home: bool
    home_address: str | None
    proxy: bool
    resident_id: int
    resident_name: str
    version: int
    cancel_until: datetime  # the cut-off: cancelling and rescheduling end here
    by_family: bool = False  # booked by a family member acting for the resident (bot.services.family)


def person_name(user: User) -> str:
    return " ".join(p for p in (user.first_name, user.last_name) if p)


async def describe(session: AsyncSession, settings: Settings, appointment: Appointment,
                   locale: str) -> AppointmentView:
    station = await session.get(Station, appointment.station_id)
    service = await session.get(ServiceItem, appointment.service_id)
    resident = await session.get(User, appointment.resident_id)
    assert station is not None and service is not None and resident is not None
    home_address = None
    if appointment.at_home and resident.building_id is not None:
        building = await session.get(Building, resident.building_id)
        if building is not None:
            home_address = building.address or i18n_name(building.names, locale, building.code)
    try:
        bk = await load_bookable(session, settings, station.id, service.id, include_paused=True)
        cutoff = bk.plan.cancel_cutoff
    except NotFound:
        cutoff = timedelta(minutes=settings.appointment_cancel_cutoff_minutes)
    return AppointmentView(
        id=appointment.id, status=appointment.status, cancel_reason=appointment.cancel_reason,
        station_id=station.id, station=i18n_name(station.names, locale, station.code),
        address=i18n_name(station.address, locale, ""), station_phone=station.phone,
        latitude=station.latitude, longitude=station.longitude,
        service_id=service.id, service=i18n_name(service.names, locale, service.code),
        starts_at=appointment.starts_at, ends_at=appointment.ends_at, at_home=appointment.at_home,
        home_address=home_address, proxy=appointment.proxy, resident_id=resident.id,
        resident_name=person_name(resident), version=appointment.version,
        cancel_until=appointment.starts_at - cutoff,
        by_family=(appointment.booked_by_id is not None and appointment.booked_by_id != resident.id
                   and not appointment.proxy),
    )


async def no_show_count(session: AsyncSession, resident_id: int) -> int:
    return int(await session.scalar(select(func.count()).select_from(Appointment).where(
        Appointment.resident_id == resident_id, Appointment.status == AppointmentStatus.no_show)) or 0)


# ------------------------------------------------------------------ cancelling one booking

def reminder_keys(appointment: Appointment, version: int | None = None) -> list[str]:
    """The dedupe keys of a booking version's reminders (see :mod:`.notify`)."""
    v = appointment.version if version is None else version
    return [f"appt:{appointment.id}:v{v}:{name}" for name in ("r24", "r1", "r24w")]


async def cancel_reminders(session: AsyncSession, appointment: Appointment) -> int:
    """Withdraw the current version's reminders that have not gone out."""
    result = await session.execute(
        update(OutboxMessage)
        .where(OutboxMessage.dedupe_key.in_(reminder_keys(appointment)),
               OutboxMessage.status.in_([OutboxStatus.pending, OutboxStatus.claimed]))
        .values(status=OutboxStatus.cancelled, last_error="appointment cancelled or moved")
        .execution_options(synchronize_session=False))
    return int(result.rowcount or 0)


async def release_seat(session: AsyncSession, slot_id: int) -> None:
    await session.execute(
        update(AppointmentSlot).where(AppointmentSlot.id == slot_id, AppointmentSlot.booked > 0)
        .values(booked=AppointmentSlot.booked - 1).execution_options(synchronize_session=False))


async def set_cancelled(session: AsyncSession, appointment: Appointment, reason: CancelReason,
                        actor: User | None, now: datetime) -> None:
    """Cancel (once: a double click or a racing job gets ``Conflict("appt_not_upcoming")``
    and changes nothing), free the seat, withdraw the reminders."""
    result = await session.execute(
        update(Appointment).where(Appointment.id == appointment.id,
                                  Appointment.status == AppointmentStatus.booked)
        .values(status=AppointmentStatus.cancelled, cancel_reason=reason, cancelled_at=now,
                cancelled_by_id=actor.id if actor else None, updated_at=now)
        .execution_options(synchronize_session=False))
    if not result.rowcount:
        raise Conflict("appt_not_upcoming")
    await session.refresh(appointment)
    await release_seat(session, appointment.slot_id)
    await cancel_reminders(session, appointment)
