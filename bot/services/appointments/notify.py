"""Messages the appointment services send on their own: reminders, closure
notices with one-tap rebooking, and the offer after a missed appointment.

All of them are outbox rows written with :func:`bot.services.notify.notify`
in the caller's transaction; the delivery engine sends them.

Dedupe keys (one row each, whatever retries happen)::

    appt:{id}:v{version}:r24     the resident's reminder 24 h before
    appt:{id}:v{version}:r1      the resident's reminder 1 h before
    appt:{id}:v{version}:r24w    for a proxy booking: the worker who booked it, 24 h before
    appt:{id}:off{version}       the station closed / a holiday: the notice with rebooking
    appt:{id}:noshow             the offer after a missed appointment

The version is bumped by every reschedule, so moving a booking cancels the
keys of its old version (status ``cancelled``) and writes new ones; cancelling
cancels the current version's rows (:func:`bot.services.appointments.common.cancel_reminders`).  A reminder already sent stays sent.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from bot.config import Settings
from bot.services import audit
from bot.services.appointments.availability import nearest_free
from bot.services.appointments.common import AppointmentView, ap_cb, describe, slot_code
from bot.services.appointments.plans import load_bookable
from bot.services.appointments.texts import when_label
from bot.services.errors import NotFound
from bot.services.escape import esc
from bot.services.l10n import Translate, translator
from bot.services.notify import Button, notify, recipient_locale
from models import AccessAction, Appointment, OutboxKind, ScopeType, Station, User

REMINDERS = (("r24", timedelta(hours=24)), ("r1", timedelta(hours=1)))


def _place_line(_: Translate, view: AppointmentView) -> str:
    if view.at_home:
        return _("🏠 At your home: {address}").format(address=esc(view.home_address or ""))
    return _("📍 {station}, {address}").format(station=esc(view.station), address=esc(view.address))


async def schedule_reminders(session: AsyncSession, settings: Settings, appointment: Appointment,
                             now: datetime) -> int:
    """Queue the reminders still ahead (a booking made 3 hours ahead gets only the 1-hour one)."""
    resident = await session.get(User, appointment.resident_id)
    assert resident is not None
    queued = 0
    if resident.telegram_id is not None:
        locale = recipient_locale(resident, settings.default_locale)
        _ = translator(locale)
        view = await describe(session, settings, appointment, locale)
        # Written now, read later (quiet hours may hold a row): the day is absolute, never
        # "today"/"tomorrow"/"in one hour" (issue 20: "tomorrow" arrived on the day itself).
        when = when_label(_, appointment.starts_at, settings.tz)
        for name, before in REMINDERS:
            due = appointment.starts_at - before
            if due <= now:
                continue
            if name == "r24":
                text = _("⏰ Reminder: {when}, {service}.").format(when=when, service=esc(view.service))
                buttons = [[Button(_("🔁 Change the time"), ap_cb("rsn", b=appointment.id))],
                           [Button(_("❌ Cancel it"), ap_cb("cx", b=appointment.id))]]
            else:
                text = _("⏰ Coming up: {when}, {service}.").format(when=when, service=esc(view.service))
                buttons = ([[Button(_("🗺️ Show the way"), ap_cb("map", b=appointment.id))]]
                           if not view.at_home and view.latitude is not None else None)
            text += "\n" + _place_line(_, view)
            if await notify(session, recipient=resident, kind=OutboxKind.reminder,
                            dedupe_key=f"appt:{appointment.id}:v{appointment.version}:{name}", text=text,
                            buttons=buttons, due_at=due, event_at=appointment.starts_at):
                queued += 1
    elif appointment.proxy and appointment.booked_by_id is not None:
        # A resident without Telegram: the worker who booked gets a nudge to ring them.
        worker = await session.get(User, appointment.booked_by_id)
        due = appointment.starts_at - timedelta(hours=24)
        if worker is not None and due > now:
            locale = recipient_locale(worker, settings.default_locale)
            _ = translator(locale)
            view = await describe(session, settings, appointment, locale)
            text = _("⏰ {when}: {name} ({phone}) has an appointment you booked: {service}. "
                     "Please remind them.").format(
                when=when_label(_, appointment.starts_at, settings.tz), name=esc(view.resident_name),
                phone=esc(resident.phone or ""), service=esc(view.service))
            text += "\n" + _place_line(_, view)
            if await notify(session, recipient=worker, kind=OutboxKind.reminder,
                            dedupe_key=f"appt:{appointment.id}:v{appointment.version}:r24w", text=text,
                            due_at=due, event_at=appointment.starts_at):
                await _log_phone_sent(session, worker, resident, appointment)
                queued += 1
    return queued


async def _log_phone_sent(session: AsyncSession, worker: User, resident: User, appointment: Appointment) -> None:
    """A resident's phone went out in a message to the worker who booked for them: logged."""
    if not resident.phone:
        return
    station = await session.get(Station, appointment.station_id)
    await audit.record(session, AccessAction.phone_viewed, actor_id=worker.id, subject_id=resident.id,
                       place=await audit.place_of(session, ScopeType.community, station.community_id)
                       if station is not None else audit.Place(), object_type="appointment",
                       object_id=appointment.id)


async def tell_closed(session: AsyncSession, settings: Settings, appointment: Appointment, reason: str,
                      now: datetime, *, holiday: bool = False) -> bool:
    """The booking was cancelled because its day closed: tell the resident (or, for
    a proxy booking, the worker who made it) and offer the nearest free times,
    each bookable with one tap."""
    resident = await session.get(User, appointment.resident_id)
    assert resident is not None
    recipient = resident
    if resident.telegram_id is None:
        if appointment.booked_by_id is None:
            return False
        recipient = await session.get(User, appointment.booked_by_id)  # type: ignore[assignment]
        if recipient is None:
            return False
    locale = recipient_locale(recipient, settings.default_locale)
    _ = translator(locale)
    view = await describe(session, settings, appointment, locale)
    when = when_label(_, appointment.starts_at, settings.tz)  # absolute: quiet hours may hold the notice
    if recipient is resident:
        text = _("🚫 {station} is closed on that day, so your appointment ({service}, {when}) is cancelled.").format(
            station=esc(view.station), service=esc(view.service), when=when)
    else:
        text = _("🚫 {station} is closed on that day: the appointment you booked for {name} ({phone}), "
                 "{service}, {when}, is cancelled. Please tell them.").format(
            station=esc(view.station), name=esc(view.resident_name), phone=esc(resident.phone or ""),
            service=esc(view.service), when=when)
    if holiday:
        reason = _("public holiday")
    if reason:
        text += "\n" + _("Reason: {reason}").format(reason=esc(reason))
    buttons: list[list[Button]] = []
    try:
        bk = await load_bookable(session, settings, appointment.station_id, appointment.service_id)
        alternatives = await nearest_free(session, settings, bk, appointment.starts_at, now)
    except NotFound:
        alternatives = []
    if alternatives:
        text += "\n\n" + _("Tap a time to book it instead:")
        for s in alternatives:
            buttons.append([Button(_("📅 {when}").format(when=when_label(_, s.starts_at, settings.tz)),
                                   ap_cb("rb", b=appointment.id, x=slot_code(s.starts_at)))])
        buttons.append([Button(_("Other times"), ap_cb("rbo", b=appointment.id))])
    else:
        text += "\n\n" + _("There is no free time at this station soon. Please choose another station.")
        buttons.append([Button(_("📅 Book an appointment"), ap_cb("svcn", sv=appointment.service_id,
                                                                 r=0 if recipient is resident else resident.id))])
    queued = await notify(session, recipient=recipient, kind=OutboxKind.reminder,
                          dedupe_key=f"appt:{appointment.id}:off{appointment.version}", text=text, buttons=buttons,
                          event_at=appointment.starts_at)
    if queued and recipient is not resident:
        await _log_phone_sent(session, recipient, resident, appointment)
    return queued


async def offer_after_no_show(session: AsyncSession, settings: Settings, appointment: Appointment,
                              now: datetime) -> bool:
    """After a missed appointment: offer a proxy errand or a home visit instead
    (or another booking).  A resident without Telegram: the worker who booked
    for them is asked to ring and offer the same."""
    resident = await session.get(User, appointment.resident_id)
    assert resident is not None
    if resident.telegram_id is not None:
        locale = recipient_locale(resident, settings.default_locale)
        _ = translator(locale)
        view = await describe(session, settings, appointment, locale)
        text = _("We missed you at {station} ({service}, {when}). We can still help: a grid worker can run "
                 "the errand for you, or visit you at home.").format(
            station=esc(view.station), service=esc(view.service),
            when=when_label(_, appointment.starts_at, settings.tz))
        buttons = [[Button(_("🤝 Run the errand for me"), ap_cb("fpx", b=appointment.id))],
                   [Button(_("🏠 Visit me at home"), ap_cb("fhv", b=appointment.id))],
                   [Button(_("📅 Book another time"), ap_cb("stn", sv=appointment.service_id,
                                                           st=appointment.station_id))]]
        return await notify(session, recipient=resident, kind=OutboxKind.reminder,
                            dedupe_key=f"appt:{appointment.id}:noshow", text=text, buttons=buttons)
    if appointment.booked_by_id is None:
        return False
    worker = await session.get(User, appointment.booked_by_id)
    if worker is None:
        return False
    locale = recipient_locale(worker, settings.default_locale)
    _ = translator(locale)
    view = await describe(session, settings, appointment, locale)
    text = _("{name} ({phone}) missed the appointment you booked ({service}, {when}). Please ring them and "
             "offer a proxy errand or a home visit.").format(
        name=esc(view.resident_name), phone=esc(resident.phone or ""), service=esc(view.service),
        when=when_label(_, appointment.starts_at, settings.tz))
    queued = await notify(session, recipient=worker, kind=OutboxKind.reminder,
                          dedupe_key=f"appt:{appointment.id}:noshow", text=text)
    if queued:
        await _log_phone_sent(session, worker, resident, appointment)
    return queued
