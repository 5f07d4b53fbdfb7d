"""Appointments at service stations (预约服务).

* ``appointment_plans``: a station's weekly working plan for one service
  (hours and breaks per weekday, slot length, seats per slot, booking
  horizon, minimum notice, cancellation cut-off).  A station offering a
  bookable service without a row here gets a plan derived from its opening
  hours (see :mod:`bot.services.appointments.plans`); a row is written the
  first time staff edit or pause it.
* ``appointment_closures``: a day a station takes no appointments (public
  holidays come from the working calendar's ``holidays`` table).
* ``appointment_slots``: one seat counter per (station, service, start).
  A seat is taken with a conditional ``UPDATE ... SET booked = booked + 1
  WHERE booked < capacity``: on SQLite and PostgreSQL alike, two residents
  racing for the last seat cannot both get it.
* ``appointments``: the bookings.  No-show counts are derived from them.
"""

from __future__ import annotations

import enum
from datetime import date, datetime

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    ForeignKey,
    Index,
    String,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from models.base import DefaultNow, IdBase, JSONType, TimestampMixin, UserRestrict, UserSetNull

__all__ = ["Appointment", "AppointmentClosure", "AppointmentPlan", "AppointmentSlot",
           "AppointmentStatus", "CancelReason", "FollowUp"]


class AppointmentStatus(enum.StrEnum):
    booked = "booked"  # upcoming (or today, not yet marked)
    cancelled = "cancelled"  # see cancel_reason
    attended = "attended"
    no_show = "no_show"


class CancelReason(enum.StrEnum):
    resident = "resident"  # the resident (or the worker who booked for them) cancelled
    closure = "closure"  # the station closed the day
    holiday = "holiday"  # the day became a public holiday


class FollowUp(enum.StrEnum):
    """What a resident chose after a missed appointment."""

    offered = "offered"  # the offer was sent, no answer yet
    proxy = "proxy"  # a proxy errand case was opened
    home_visit = "home_visit"  # a home-visit case was opened
    rebooked = "rebooked"


class AppointmentPlan(IdBase):
    __tablename__ = "appointment_plans"
    __table_args__ = (UniqueConstraint("station_id", "service_id"),)

    station_id: Mapped[int] = mapped_column(ForeignKey("stations.id", ondelete="CASCADE"))
    service_id: Mapped[int] = mapped_column(ForeignKey("service_items.id", ondelete="CASCADE"), index=True)
    # {"mon": ["08:30-11:30", "13:30-17:00"], ..., "sun": []}: local time; breaks are the gaps.
    weekly: Mapped[dict[str, list[str]]] = mapped_column(JSONType)
    slot_minutes: Mapped[int]
    capacity: Mapped[int]   # residents per slot
    horizon_days: Mapped[int]
    min_notice_minutes: Mapped[int]
    cancel_cutoff_minutes: Mapped[int]
    # The service happens at the resident's home (a worker of the station comes).
    at_home: Mapped[bool] = mapped_column(default=False)
    active: Mapped[bool] = mapped_column(default=True)
    updated_by_id: Mapped[UserSetNull]
    updated_at: Mapped[DefaultNow]


class AppointmentClosure(IdBase):
    __tablename__ = "appointment_closures"
    __table_args__ = (UniqueConstraint("station_id", "day"),)

    station_id: Mapped[int] = mapped_column(ForeignKey("stations.id", ondelete="CASCADE"))
    day: Mapped[date]   # local date (DISPLAY_TZ)
    reason: Mapped[str] = mapped_column(String(200), default="")
    created_by_id: Mapped[UserSetNull]
    created_at: Mapped[DefaultNow]


class AppointmentSlot(IdBase):
    """The seat counter of one slot; created on the first booking."""

    __tablename__ = "appointment_slots"
    __table_args__ = (
        UniqueConstraint("station_id", "service_id", "starts_at"),
        CheckConstraint("booked >= 0", name="booked_not_negative"),
    )

    station_id: Mapped[int] = mapped_column(ForeignKey("stations.id", ondelete="CASCADE"))
    service_id: Mapped[int] = mapped_column(ForeignKey("service_items.id", ondelete="CASCADE"))
    starts_at: Mapped[datetime]
    booked: Mapped[int] = mapped_column(default=0)


class Appointment(TimestampMixin, IdBase):
    __tablename__ = "appointments"
    __table_args__ = (
        Index("ix_appointments_station_id_day", "station_id", "day"),
        Index("ix_appointments_resident_id_status_starts_at", "resident_id", "status", "starts_at"),
        Index("ix_appointments_status_day", "status", "day"),
        # One seat per resident per slot, whatever the race.
        Index("uq_appointments_slot_resident_booked", "slot_id", "resident_id", unique=True,
              sqlite_where=text("status = 'booked'"), postgresql_where=text("status = 'booked'")),
    )

    slot_id: Mapped[int] = mapped_column(ForeignKey("appointment_slots.id", ondelete="RESTRICT"))
    station_id: Mapped[int] = mapped_column(ForeignKey("stations.id", ondelete="RESTRICT"))
    service_id: Mapped[int] = mapped_column(ForeignKey("service_items.id", ondelete="RESTRICT"))
    resident_id: Mapped[UserRestrict]
    starts_at: Mapped[datetime]
    ends_at: Mapped[datetime]
    day: Mapped[date]   # local date of starts_at
    status: Mapped[AppointmentStatus] = mapped_column(default=AppointmentStatus.booked)
    at_home: Mapped[bool] = mapped_column(default=False)
    # Booked by a worker for a resident without Telegram (暖心代办's warm-heart path).
    proxy: Mapped[bool] = mapped_column(default=False)
    booked_by_id: Mapped[UserSetNull]
    # Bumped by every reschedule: reminders' dedupe keys and the .ics SEQUENCE carry it.
    version: Mapped[int] = mapped_column(default=1)
    cancel_reason: Mapped[CancelReason | None]
    cancelled_at: Mapped[datetime | None]
    cancelled_by_id: Mapped[UserSetNull]
    marked_at: Mapped[datetime | None]  # attended / no-show recorded
    marked_by_id: Mapped[UserSetNull]
    follow_up: Mapped[FollowUp | None]
    # The case opened instead (issue 3's cases table; no foreign key across the two branches).
    follow_up_case_id: Mapped[int | None] = mapped_column(BigInteger)
    # A closure-cancelled booking rebooked with one tap points at its replacement.
    rebooked_as_id: Mapped[int | None] = mapped_column(BigInteger)

