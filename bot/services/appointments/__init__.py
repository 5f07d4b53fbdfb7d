"""Appointments at service stations (docs/appointments.md): the public face.

Handlers and other features import appointments only from here::

    plans         working plans, closed days, slot times, the staff's plan text
    common        the button codec, a booking as the reader sees it, cancelling one
    availability  free seats by day, the nearest free slots
    booking       the booking rules: book, cancel, reschedule, rebook, lists
    notify        reminders, closure notices, the no-show offer (outbox rows)
    staff         the agenda, attendance, closures, plan editing, proxy residents
    followup      a missed appointment becomes a proxy errand or a home visit
    ics           the .ics file
    wanted        a day and a time typed in words while booking (明天上午), and the slots for it
    texts         words and formats shared by handlers and notifications
    jobs          the recurring holiday sweep (imported here so it is registered)

Inside the package, modules import their siblings directly, never this face.
"""

from __future__ import annotations

from bot.services.appointments import jobs as appointments_jobs  # noqa: F401  (registers the recurring job)
from bot.services.appointments.availability import DayView, SlotView, free_days, free_slots_of_day
from bot.services.appointments.booking import (
    ServiceOption,
    SlotFull,
    StationOption,
    book,
    bookable_services,
    booked_view,
    cancel,
    changeable_view,
    preview,
    proxy_name,
    rebook,
    rebook_target,
    reschedule,
    stations_for,
    upcoming,
    view,
)
from bot.services.appointments.common import (
    AppointmentView,
    ap_cb,
    day_from_code,
    describe,
    no_show_count,
    slot_code,
    slot_from_code,
)
from bot.services.appointments.followup import (
    OpenedCase,
    authorisation_text,
    check_offer,
    errand_option,
    errand_options,
    home_visit,
    proxy_errand,
)
from bot.services.appointments.ics import ics_bytes, ics_filename
from bot.services.appointments.plans import Bookable, Plan, load_bookable, plan_text
from bot.services.appointments.staff import (
    FULL,
    Agenda,
    AgendaLine,
    BookingCard,
    PlanLine,
    StationRef,
    agenda,
    booking_card,
    close_day,
    closure_preview,
    mark,
    my_stations,
    plan_of,
    reopen_day,
    save_plan,
    set_plan_active,
    station_plans,
)
from bot.services.appointments.texts import (
    clock,
    day_label,
    seats_left,
    status_icon,
    status_label,
    when_label,
)
from bot.services.appointments.wanted import (
    DayPart,
    Wanted,
    WantedSlots,
    parse_wanted,
    wanted_slots,
)

# People without Telegram are shared with the heads' case filing (bot.services.offline).
from bot.services.offline import (
    add_offline_resident,
    clean_name,
    offline_resident,
    offline_residents,
)

__all__ = [
    "FULL",
    "Agenda",
    "AgendaLine",
    "AppointmentView",
    "Bookable",
    "BookingCard",
    "DayPart",
    "DayView",
    "OpenedCase",
    "Plan",
    "PlanLine",
    "ServiceOption",
    "SlotFull",
    "SlotView",
    "StationOption",
    "StationRef",
    "Wanted",
    "WantedSlots",
    "add_offline_resident",
    "agenda",
    "ap_cb",
    "authorisation_text",
    "book",
    "bookable_services",
    "booked_view",
    "booking_card",
    "cancel",
    "changeable_view",
    "check_offer",
    "clean_name",
    "clock",
    "close_day",
    "closure_preview",
    "day_from_code",
    "day_label",
    "describe",
    "errand_option",
    "errand_options",
    "free_days",
    "free_slots_of_day",
    "home_visit",
    "ics_bytes",
    "ics_filename",
    "load_bookable",
    "mark",
    "my_stations",
    "no_show_count",
    "offline_resident",
    "offline_residents",
    "parse_wanted",
    "plan_of",
    "plan_text",
    "preview",
    "proxy_name",
    "proxy_errand",
    "rebook",
    "rebook_target",
    "reopen_day",
    "reschedule",
    "save_plan",
    "seats_left",
    "set_plan_active",
    "slot_code",
    "slot_from_code",
    "station_plans",
    "stations_for",
    "status_icon",
    "status_label",
    "upcoming",
    "view",
    "wanted_slots",
    "when_label",
]
