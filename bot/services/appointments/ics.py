"""The ``.ics`` file of a booking (RFC 5545, written with the ``icalendar`` library).

One VEVENT with a stable UID per booking; a reschedule bumps SEQUENCE so a
calendar that imported the first file updates the event instead of adding a
second one.  Times are UTC; an alarm rings an hour before.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from icalendar import Alarm, Calendar, Event

from bot.services.appointments.common import AppointmentView

PRODID = "-//gridbot//station appointments//EN"


def ics_filename(view: AppointmentView) -> str:
    return f"appointment-{view.id}.ics"


def ics_bytes(view: AppointmentView, *, title: str, description: str, alarm_text: str, now: datetime,
              domain: str = "gridbot") -> bytes:
    """``title``/``description``/``alarm_text`` come rendered in the reader's language."""
    cal = Calendar()
    cal.add("prodid", PRODID)
    cal.add("version", "2.0")
    cal.add("calscale", "GREGORIAN")
    cal.add("method", "PUBLISH")
    event = Event()
    event.add("uid", f"appointment-{view.id}@{domain}")
    event.add("dtstamp", now)
    event.add("dtstart", view.starts_at)
    event.add("dtend", view.ends_at)
    event.add("sequence", view.version - 1)
    event.add("summary", title)
    event.add("description", description)
    event.add("location", (view.home_address or "") if view.at_home else f"{view.station}, {view.address}")
    if not view.at_home and view.latitude is not None and view.longitude is not None:
        event.add("geo", (view.latitude, view.longitude))
    event.add("status", "CONFIRMED")
    event.add("transp", "OPAQUE")
    alarm = Alarm()
    alarm.add("action", "DISPLAY")
    alarm.add("description", alarm_text)
    alarm.add("trigger", timedelta(hours=-1))
    event.add_component(alarm)
    cal.add_component(event)
    return cal.to_ical()
