"""Residents book, change and cancel appointments at service stations.

Booking: service → station → a day with free seats → a time showing the seats
left → confirm; then a summary, the station's location and an ``.ics`` file.
A worker books for a resident without Telegram through the same steps (the
buttons carry ``r``, the resident; the services check the worker may).
Every button carries what it needs, so old messages and forged buttons are
judged by the services alone, and nothing depends on conversation state
except waiting for a shared location.  A day or a time typed instead of
tapped ("明天上午") is read against the step last shown, which the FSM data
remembers for a while (``ui.on_screen``, :func:`typed_when`).

A refusal of a service is answered by :mod:`handlers.refusal`; the few
handlers that catch one themselves say why.
"""

from __future__ import annotations

import html
from datetime import date, datetime

from aiogram import Bot, F, Router
from aiogram.filters import Command, StateFilter
from aiogram.fsm.context import FSMContext
from aiogram.types import (
    BufferedInputFile,
    CallbackQuery,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    KeyboardButton,
    Message,
    ReplyKeyboardMarkup,
)
from aiogram.utils.i18n import gettext as _
from sqlalchemy.ext.asyncio import AsyncSession

from bot.config import Settings
from bot.i18n import PoI18n
from bot.services import appointments as appt
from bot.services import family
from bot.services import users as user_service
from bot.services.appointments import clock, day_label, seats_left, when_label
from bot.services.errors import DomainError
from handlers import labels
from handlers.appointments.ui import (
    BOOK,
    MY_APPOINTMENTS,
    ApCb,
    ApptInput,
    Booker,
    TypedWhen,
    below,
    card,
    day_button,
    done,
    kb,
    off_screen,
    on_screen,
    part_label,
    step,
    today,
)
from handlers.keyboards import cancel_button, main_menu, with_nav
from handlers.refusal import error_text
from handlers.render import esc
from handlers.replies import edit_in_place
from models import Appointment, User, i18n_name, utcnow

STATIONS_PER_PAGE = 6
DAYS_PER_PAGE = 7


def _btn(text: str, cb: ApCb) -> list[InlineKeyboardButton]:
    return [InlineKeyboardButton(text=text, callback_data=cb.pack())]


def _way_out(text: str, back: ApCb, cb: ApCb) -> list[InlineKeyboardButton]:
    """The last row of a booking step: ``text`` back one step and, for a new booking, ❌ Cancel
    (the booking ends, the menu shows).  Moving an appointment keeps only the way back to it:
    "Cancelled" there would read as the appointment cancelled."""
    row = _btn(text, back)
    return row if cb.b else [*row, cancel_button()]


def _other_days(cb: ApCb) -> ApCb:
    """Back to the days of the station (and booking, resident) a step is about."""
    return ApCb(a="st", sv=cb.sv, st=cb.st, b=cb.b, r=cb.r)


async def _fail(query: CallbackQuery, err: DomainError, retry: ApCb) -> None:
    """A refused booking step: the alert, and the step's message says it too, with
    a way back (rather than leaving a stale step on screen)."""
    text = error_text(err)
    await query.answer(text, show_alert=True)
    await edit_in_place(query, text, kb([_btn(_("⬅️ Choose again"), retry)]))


# ------------------------------------------------------------------ step 1: the service

async def _services_markup(session: AsyncSession, settings: Settings, locale: str, r: int) -> InlineKeyboardMarkup | None:
    services = await appt.bookable_services(session, settings, locale)
    if not services:
        return None
    return with_nav(kb([_btn(s.name, ApCb(a="svc", sv=s.id, r=r)) for s in services]))


def _services_prompt(name: str | None) -> str:
    return (_("Booking for {name}. Which service?").format(name=esc(name)) if name
            else _("Which service do you want to book?"))


async def book_start(message: Message, session: AsyncSession, user: User, state: FSMContext, settings: Settings,
                     i18n: PoI18n) -> None:
    await state.clear()
    people = await family.principals(session, user)
    if people:  # a family member: for whom, in one tap (then the usual steps, carrying ``r``)
        mine = [_btn(_("👤 For myself"), ApCb(a="svcs"))] if user.is_registered else []
        await message.answer(_("Who is it for?"), reply_markup=kb(
            mine + [_btn(_("👪 For {name}").format(name=p.name)[:28], ApCb(a="svcs", r=p.user_id or 0))
                    for p in people]))
        return
    if not user.is_registered:
        await message.answer(error_text(DomainError("appt_register")))
        return
    markup = await _services_markup(session, settings, i18n.current_locale, 0)
    if markup is None:
        await message.answer(_("No station takes bookings at the moment."))
        return
    await message.answer(_services_prompt(None), reply_markup=markup)


async def services_again(query: CallbackQuery, callback_data: ApCb, session: AsyncSession, user: User,
                         settings: Settings, i18n: PoI18n) -> None:
    name = await appt.proxy_name(session, user, callback_data.r)
    markup = await _services_markup(session, settings, i18n.current_locale, callback_data.r)
    await _show(query, _services_prompt(name) if markup else _("No station takes bookings at the moment."), markup,
                new=callback_data.a.endswith("n"))


async def _show(query: CallbackQuery, text: str, markup: InlineKeyboardMarkup | None, *, new: bool) -> None:
    """Edit the message the button is on (a step of the same conversation), or,
    for a button on a notification (``new``), answer below it and keep it."""
    if new:
        await below(query, text, markup)
    else:
        await step(query, text, markup)


# ------------------------------------------------------------------ step 2: the station

async def _stations_markup(session: AsyncSession, settings: Settings, user: User, cb: ApCb, locale: str,
                           near: tuple[float, float] | None = None) -> tuple[str, InlineKeyboardMarkup]:
    options = await appt.stations_for(session, settings, user, cb.sv, locale, utcnow(), near=near,
                                      resident_id=cb.r or None)
    page = max(cb.x, 0)
    pages = max(1, -(-len(options) // STATIONS_PER_PAGE))
    page = min(page, pages - 1)
    rows = []
    for o in options[page * STATIONS_PER_PAGE:(page + 1) * STATIONS_PER_PAGE]:
        label = f"🏢 {o.name}"
        if o.distance_m is not None:
            label += f" · {o.distance_m / 1000:.1f} km" if o.distance_m >= 1000 else f" · {o.distance_m} m"
        if o.free_days == 0:
            label += " · " + _("full")
        rows.append(_btn(label, ApCb(a="st", sv=cb.sv, st=o.id, r=cb.r)))
    if page + 1 < pages:
        rows.append(_btn(_("More stations ▶️"), ApCb(a="svc", sv=cb.sv, x=page + 1, r=cb.r)))
    if near is None and not cb.r:
        rows.append(_btn(_("📍 Nearest to me"), ApCb(a="near", sv=cb.sv)))
    rows.append(_way_out(_("⬅️ Back"), ApCb(a="svcs", r=cb.r), cb))
    text = _("Which station?") if options else _("No station takes bookings for this service at the moment.")
    return text, kb(rows)


async def service_picked(query: CallbackQuery, callback_data: ApCb, session: AsyncSession, user: User,
                         settings: Settings, i18n: PoI18n) -> None:
    try:
        text, markup = await _stations_markup(session, settings, user, callback_data, i18n.current_locale)
    except DomainError as err:  # the message shows it too, with a way back (_fail)
        await _fail(query, err, ApCb(a="svcs", r=callback_data.r))
        return
    await _show(query, text, markup, new=callback_data.a.endswith("n"))


async def near_asked(query: CallbackQuery, callback_data: ApCb, state: FSMContext) -> None:
    await state.set_state(ApptInput.near)
    await state.update_data(sv=callback_data.sv)
    keyboard = ReplyKeyboardMarkup(keyboard=[[KeyboardButton(text=_("📍 Send my location"), request_location=True)],
                                             [KeyboardButton(text=str(labels.CANCEL))]],
                                   resize_keyboard=True, one_time_keyboard=True)
    await below(query, _("Tap the button below to send your location."), keyboard)


async def location_received(message: Message, session: AsyncSession, user: User, state: FSMContext,
                            settings: Settings, i18n: PoI18n) -> None:
    data = await state.get_data()
    await state.clear()
    assert message.location is not None
    cb = ApCb(a="svc", sv=int(data.get("sv", 0)))
    try:
        text, markup = await _stations_markup(session, settings, user, cb, i18n.current_locale,
                                              near=(message.location.latitude, message.location.longitude))
    except DomainError as err:  # the location keyboard is gone: the main menu comes back with the refusal
        await message.answer(error_text(err), reply_markup=_menu(user))
        return
    await message.answer(_("Thank you. Nearest first:"), reply_markup=_menu(user))
    await message.answer(text, reply_markup=markup)


async def near_other(message: Message, user: User, state: FSMContext) -> None:
    if message.text == labels.CANCEL:  # the step ends: its keyboard goes, the menu comes back
        await state.clear()
        await message.answer(_("Cancelled."), reply_markup=_menu(user))
        return
    await message.answer(_("Please tap “📍 Send my location”, or ❌ Cancel."))


def _menu(user: User):  # type: ignore[no-untyped-def]
    return main_menu(user_service.staff_roles(user), resident=user.building_id is not None)


# ------------------------------------------------------------------ step 3: the day

async def _days_markup(session: AsyncSession, settings: Settings, cb: ApCb) -> tuple[str, InlineKeyboardMarkup]:
    days = await appt.free_days(session, settings, cb.st, cb.sv, utcnow())
    page = max(cb.x, 0)
    rows = [_btn(day_button(d.day, d.seats_left, settings),
                 ApCb(a="day", sv=cb.sv, st=cb.st, x=d.day.toordinal(), b=cb.b, r=cb.r))
            for d in days[page * DAYS_PER_PAGE:(page + 1) * DAYS_PER_PAGE]]
    if (page + 1) * DAYS_PER_PAGE < len(days):
        rows.append(_btn(_("Later dates ▶️"), ApCb(a="st", sv=cb.sv, st=cb.st, x=page + 1, b=cb.b, r=cb.r)))
    if page > 0:
        rows.append(_btn(_("◀️ Earlier dates"), ApCb(a="st", sv=cb.sv, st=cb.st, x=page - 1, b=cb.b, r=cb.r)))
    back = ApCb(a="my", r=cb.r) if cb.b else ApCb(a="svc", sv=cb.sv, r=cb.r)
    rows.append(_way_out(_("⬅️ Back"), back, cb))
    text = _("Which day?") if days else _("No free seats at this station in the coming days. "
                                          "Please choose another station.")
    return text, kb(rows)


async def station_picked(query: CallbackQuery, callback_data: ApCb, session: AsyncSession,
                         settings: Settings, state: FSMContext) -> None:
    try:
        text, markup = await _days_markup(session, settings, callback_data)
    except DomainError as err:  # the message shows it too, with a way back (_fail)
        await _fail(query, err, ApCb(a="svc", sv=callback_data.sv, r=callback_data.r))
        return
    await on_screen(state, callback_data)
    await _show(query, text, markup, new=callback_data.a.endswith("n"))


# ------------------------------------------------------------------ step 4: the time

def _times_markup(cb: ApCb, slots: list[appt.SlotView], settings: Settings) -> InlineKeyboardMarkup:
    rows = [_btn(f"🕘 {clock(s.starts_at, settings.tz)} · {seats_left(_, s.seats_left)}",
                 ApCb(a="tm", sv=cb.sv, st=cb.st, x=appt.slot_code(s.starts_at), b=cb.b, r=cb.r)) for s in slots]
    rows.append(_way_out(_("⬅️ Other days"), _other_days(cb), cb))
    return kb(rows)


async def day_picked(query: CallbackQuery, callback_data: ApCb, session: AsyncSession, settings: Settings,
                     state: FSMContext) -> None:
    cb = callback_data
    try:
        day = appt.day_from_code(cb.x)
        slots = await appt.free_slots_of_day(session, settings, cb.st, cb.sv, day, utcnow())
    except DomainError as err:  # the message shows it too, with a way back (_fail)
        await _fail(query, err, _other_days(cb))
        return
    await on_screen(state, cb, day)
    await step(query, _("What time?") if slots else _("That day is full now. Please choose another day."),
               _times_markup(cb, slots, settings))


# ------------------------------------------------------------------ step 5: confirm

async def time_picked(query: CallbackQuery, callback_data: ApCb, session: AsyncSession, user: User,
                      settings: Settings, i18n: PoI18n) -> None:
    cb = callback_data
    try:
        starts_at = appt.slot_from_code(cb.x)
        text, markup = await _confirm_step(session, settings, user, cb, starts_at, i18n.current_locale)
    except DomainError as err:  # a step of the booking: _not_booked says why in place, with a way on
        await _not_booked(query, session, err, cb, settings)
        return
    await step(query, text, markup)


async def _confirm_step(session: AsyncSession, settings: Settings, user: User, cb: ApCb, starts_at: datetime,
                        locale: str) -> tuple[str, InlineKeyboardMarkup]:
    """The booking as it would be, and ✅ Confirm: the slot checked for ``user`` first
    (``appt.preview`` raises what stands in the way)."""
    slot = await appt.preview(session, settings, user, station_id=cb.st, service_id=cb.sv, starts_at=starts_at,
                              now=utcnow(), resident_id=cb.r or None)
    bk = await appt.load_bookable(session, settings, cb.st, cb.sv)
    name = await appt.proxy_name(session, user, cb.r)
    lines = [_("Please check:")]
    if name:
        lines.append(_("👤 For: {name}").format(name=esc(name)))
    lines.append(_("📅 {when} ({minutes} min)").format(
        when=when_label(_, starts_at, settings.tz, today(settings)), minutes=bk.plan.slot_minutes))
    lines.append(_("🗂️ {service}").format(service=esc(i18n_name(bk.service.names, locale, bk.service.code))))
    lines.append(_("📍 {station}, {address}").format(station=esc(i18n_name(bk.station.names, locale, bk.station.code)),
                                                    address=esc(i18n_name(bk.station.address, locale, ""))))
    if bk.plan.at_home:
        lines.append(_("A worker of the station comes to your home."))
    lines.append(seats_left(_, slot.seats_left))
    confirm = _("✅ Move it to this time") if cb.b else _("✅ Confirm")
    return "\n".join(lines), kb([
        _btn(confirm, ApCb(a="ok", sv=cb.sv, st=cb.st, x=appt.slot_code(starts_at), b=cb.b, r=cb.r)),
        _way_out(_("⬅️ Other times"), ApCb(a="day", sv=cb.sv, st=cb.st, x=starts_at.astimezone(settings.tz).date()
                                           .toordinal(), b=cb.b, r=cb.r), cb),
    ])


async def _not_booked(query: CallbackQuery, session: AsyncSession, err: DomainError, cb: ApCb,
                      settings: Settings) -> None:
    """A time or a confirmation refused: a full slot is not a dead end (the nearest
    free times instead, the new empty seat counter kept); anything else says why,
    with a way back to the days."""
    if isinstance(err, appt.SlotFull):
        await session.commit()
        await query.answer()
        await _offer_alternatives(query, err, cb, settings)
    else:
        await _fail(query, err, _other_days(cb))


async def _offer_alternatives(query: CallbackQuery, full: appt.SlotFull, cb: ApCb, settings: Settings) -> None:
    rows = [_btn(f"📅 {when_label(_, s.starts_at, settings.tz, today(settings))} · {seats_left(_, s.seats_left)}",
                 ApCb(a="tm", sv=cb.sv, st=cb.st, x=appt.slot_code(s.starts_at), b=cb.b, r=cb.r))
            for s in full.alternatives]
    rows.append(_way_out(_("⬅️ Other days"), _other_days(cb), cb))
    text = _("Sorry, that time was just taken.")
    text += "\n" + (_("The nearest free times:") if full.alternatives else _("There is no free time soon here."))
    await edit_in_place(query, text, kb(rows))


async def confirmed(query: CallbackQuery, callback_data: ApCb, session: AsyncSession, user: User, bot: Bot,
                    settings: Settings, i18n: PoI18n, state: FSMContext) -> None:
    cb = callback_data
    now = utcnow()
    try:
        starts_at = appt.slot_from_code(cb.x)
        if cb.b:
            booking = await appt.reschedule(session, settings, user, cb.b, starts_at, now)
        else:
            booking = await appt.book(session, settings, user, station_id=cb.st, service_id=cb.sv,
                                      starts_at=starts_at, now=now, resident_id=cb.r or None)
    except DomainError as err:  # a step of the booking: _not_booked says why in place, with a way on
        await _not_booked(query, session, err, cb, settings)
        return
    await off_screen(state)
    await _send_booked(query, session, bot, booking, settings, i18n, moved=bool(cb.b), now=now)


async def _send_booked(query: CallbackQuery, session: AsyncSession, bot: Bot, booking: Appointment,
                       settings: Settings, i18n: PoI18n, *, moved: bool, now: datetime) -> None:
    """Commit; the summary in place of the card, then the map location and the .ics file."""
    view = await appt.describe(session, settings, booking, i18n.current_locale)
    head = _("✅ Moved. Your appointment is now:") if moved else _("✅ Booked!")
    tail = (_("You will get a reminder the day before, to ring them.") if view.proxy else
            _("We will remind you a day before and an hour before. To change or cancel it: 🗓️ My appointments."))
    text = card(view, settings)
    await done(query, session, _("Booked"), f"{head}\n{text}\n\n{tail}")
    chat_id = query.from_user.id
    if not view.proxy and not view.at_home and view.latitude is not None and view.longitude is not None:
        await bot.send_location(chat_id, view.latitude, view.longitude)
    title = _("{service} at {station}").format(service=view.service, station=view.station)
    data = appt.ics_bytes(view, title=title, description=html.unescape(text),
                     alarm_text=_("In one hour: {title}").format(title=title), now=now)
    await bot.send_document(chat_id, BufferedInputFile(data, filename=appt.ics_filename(view)),
                            caption=_("📎 Add it to your calendar: open this file."))


# ------------------------------------------------------------------ a day and a time typed instead

async def typed_when(message: Message, pick: dict[str, int], wanted: appt.Wanted | DomainError,
                     session: AsyncSession, user: User, settings: Settings, i18n: PoI18n, state: FSMContext) -> None:
    """A day or a time typed while a booking step shows ("明天上午", "周三下午3点"): the step
    it asks for, as a new message, as if its buttons had been tapped (they still work)."""
    if isinstance(wanted, DomainError):  # a day that does not exist (2月30日)
        await message.answer(error_text(wanted))
        return
    cb = ApCb(a="st", sv=pick.get("sv", 0), st=pick.get("st", 0), b=pick.get("b", 0), r=pick.get("r", 0))
    day = wanted.day or (date.fromordinal(pick["day"]) if pick.get("day") else None)
    if day is None:  # only a time, and no day chosen yet
        await message.answer(_("Which day? Tap it above, or write it, for example “tomorrow morning”."))
        return
    try:
        found = await appt.wanted_slots(session, settings, cb.st, cb.sv, wanted, day, utcnow())
        if wanted.at is not None and found.fitting:  # that very time is free: check it and confirm
            text, markup = await _confirm_step(session, settings, user, cb, found.fitting[0].starts_at,
                                               i18n.current_locale)
            await on_screen(state, cb, day)
            await message.answer(text, reply_markup=markup)
            return
    except DomainError as err:  # a past day, beyond the horizon, a booking not allowed: why, and the days
        await message.answer(error_text(err), reply_markup=kb([_btn(_("⬅️ Choose again"), _other_days(cb))]))
        return
    named = day_label(_, day, today(settings))
    if not found.free:
        text, markup = await _days_markup(session, settings, cb)
        await on_screen(state, cb)
        await message.answer(_("{day}: no free time here.").format(day=named) + "\n" + text, reply_markup=markup)
        return
    slots = found.free  # what the day has, when what was asked is not there
    if wanted.at is not None:
        text = _("{day} at {time} is not free. Free times that day:").format(
            day=named, time=wanted.at.strftime("%H:%M"))
    elif found.fitting:
        text, slots = _("{day}. What time?").format(day=named), found.fitting
    else:
        text = _("{day}, {part}: nothing free. Free times that day:").format(
            day=named, part=part_label(wanted.part))  # type: ignore[arg-type]
    await on_screen(state, cb, day)
    await message.answer(text, reply_markup=_times_markup(cb, slots, settings))


# ------------------------------------------------------------------ my appointments

def _booking_buttons(view: appt.AppointmentView, r: int) -> InlineKeyboardMarkup:
    rows = [_btn(_("🔁 Change the time"), ApCb(a="rs", b=view.id, r=r)),
            _btn(_("❌ Cancel it"), ApCb(a="cx", b=view.id, r=r))]
    if not view.at_home and view.latitude is not None:
        rows.append(_btn(_("🗺️ Show the way"), ApCb(a="map", b=view.id)))
    return kb(rows)


async def show_mine(message: Message, session: AsyncSession, user: User, settings: Settings, i18n: PoI18n,
                    *, resident_id: int | None = None) -> None:
    try:
        views = await appt.upcoming(session, settings, user, i18n.current_locale, utcnow(), resident_id=resident_id)
    except DomainError as err:  # also called after a button was answered: the refusal is a reply, not an alert
        await message.answer(error_text(err))
        return
    r = resident_id or 0
    if not views:
        await message.answer(_("No upcoming appointments."),
                             reply_markup=with_nav(kb([_btn(_("📅 Book an appointment"), ApCb(a="svcs", r=r))])))
        return
    await message.answer(_("Upcoming appointments: {n}").format(n=len(views)))
    for view in views:
        await message.answer(card(view, settings), reply_markup=_booking_buttons(view, r))
    if len(views) < settings.appointment_max_upcoming:
        await message.answer(_("Need another one?"),
                             reply_markup=with_nav(kb([_btn(_("📅 Book an appointment"), ApCb(a="svcs", r=r))])))


async def my_appointments(message: Message, session: AsyncSession, user: User, state: FSMContext,
                          settings: Settings, i18n: PoI18n) -> None:
    await state.clear()
    await show_mine(message, session, user, settings, i18n)


async def my_again(query: CallbackQuery, callback_data: ApCb, session: AsyncSession, user: User,
                   settings: Settings, i18n: PoI18n) -> None:
    await step(query, _("Kept as it was."), None)
    if isinstance(query.message, Message):
        await show_mine(query.message, session, user, settings, i18n, resident_id=callback_data.r or None)


async def cancel_asked(query: CallbackQuery, callback_data: ApCb, session: AsyncSession, user: User,
                       settings: Settings, i18n: PoI18n) -> None:
    view = await appt.booked_view(session, settings, user, callback_data.b, i18n.current_locale)
    await step(query, _("Cancel this appointment?") + "\n" + card(view, settings), kb([
        _btn(_("Yes, cancel it"), ApCb(a="cxy", b=view.id, r=callback_data.r)),
        _btn(_("No, keep it"), ApCb(a="keep", b=view.id, r=callback_data.r)),
    ]))


async def cancel_confirmed(query: CallbackQuery, callback_data: ApCb, session: AsyncSession, user: User,
                           settings: Settings, i18n: PoI18n) -> None:
    booking = await appt.cancel(session, settings, user, callback_data.b, utcnow())
    view = await appt.describe(session, settings, booking, i18n.current_locale)
    await done(query, session, _("Cancelled"), _("❌ Cancelled.") + "\n" + card(view, settings), kb([
        _btn(_("📅 Book another time"), ApCb(a="st", sv=view.service_id, st=view.station_id, r=callback_data.r))]))


async def keep(query: CallbackQuery, callback_data: ApCb, session: AsyncSession, user: User, settings: Settings,
               i18n: PoI18n) -> None:
    view = await appt.view(session, settings, user, callback_data.b, i18n.current_locale)
    await step(query, card(view, settings), _booking_buttons(view, callback_data.r))


async def reschedule_asked(query: CallbackQuery, callback_data: ApCb, session: AsyncSession, user: User,
                           settings: Settings, i18n: PoI18n, state: FSMContext) -> None:
    view = await appt.changeable_view(session, settings, user, callback_data.b, i18n.current_locale, utcnow())
    cb = ApCb(a="st", sv=view.service_id, st=view.station_id, b=view.id, r=callback_data.r)
    text, markup = await _days_markup(session, settings, cb)
    await on_screen(state, cb)
    header = _("Your appointment: {when}. Choose the new day:").format(
        when=when_label(_, view.starts_at, settings.tz, today(settings)))
    await _show(query, f"{header}\n{text}", markup, new=callback_data.a.endswith("n"))


async def show_way(query: CallbackQuery, callback_data: ApCb, session: AsyncSession, user: User, bot: Bot,
                   settings: Settings, i18n: PoI18n) -> None:
    view = await appt.view(session, settings, user, callback_data.b, i18n.current_locale)
    await query.answer()
    if view.latitude is not None and view.longitude is not None and not view.at_home:
        await bot.send_location(query.from_user.id, view.latitude, view.longitude)


# ------------------------------------------------------------------ after a closure: one-tap rebooking

async def rebook_tapped(query: CallbackQuery, callback_data: ApCb, session: AsyncSession, user: User, bot: Bot,
                        settings: Settings, i18n: PoI18n, state: FSMContext) -> None:
    now = utcnow()
    try:
        booking = await appt.rebook(session, settings, user, callback_data.b, appt.slot_from_code(callback_data.x),
                                    now)
    except appt.SlotFull as full:  # not a dead end: the nearest free times instead
        await session.commit()
        await query.answer()
        old = await appt.rebook_target(session, user, callback_data.b)
        await _offer_alternatives(query, full, _rebook_cb(old, user), settings)
        return
    await off_screen(state)
    await _send_booked(query, session, bot, booking, settings, i18n, moved=False, now=now)


def _rebook_cb(old: Appointment, user: User) -> ApCb:
    """The station and service of a cancelled booking, for the person it was for."""
    return ApCb(a="st", sv=old.service_id, st=old.station_id, r=old.resident_id if old.resident_id != user.id else 0)


async def rebook_other(query: CallbackQuery, callback_data: ApCb, session: AsyncSession, user: User,
                       settings: Settings, state: FSMContext) -> None:
    old = await appt.rebook_target(session, user, callback_data.b)
    text, markup = await _days_markup(session, settings, _rebook_cb(old, user))
    await on_screen(state, _rebook_cb(old, user))
    await below(query, text, markup)


# ------------------------------------------------------------------ after a missed appointment

async def errand_asked(query: CallbackQuery, callback_data: ApCb, session: AsyncSession, user: User,
                       i18n: PoI18n) -> None:
    options = await appt.errand_options(session, user, callback_data.b, i18n.current_locale)
    rows = [_btn(o.name, ApCb(a="fps", sv=o.id, b=callback_data.b)) for o in options]
    await below(query, _("Which errand should a grid worker run for you?"), kb(rows))


async def errand_picked(query: CallbackQuery, callback_data: ApCb, session: AsyncSession, user: User,
                        settings: Settings, i18n: PoI18n) -> None:
    name = (await appt.errand_option(session, user, callback_data.b, callback_data.sv, i18n.current_locale)).name
    text = _("A grid worker will handle “{errand}” for you and contact you.").format(errand=esc(name))
    text += "\n\n" + _("By tapping Send you say: {authorisation}").format(
        authorisation=esc(appt.authorisation_text(i18n.current_locale, name)))
    await step(query, text, kb([_btn(_("✅ Send"), ApCb(a="fpy", sv=callback_data.sv, b=callback_data.b)),
                                 _btn(_("⬅️ Back"), ApCb(a="fpx", b=callback_data.b))]))


async def errand_confirmed(query: CallbackQuery, callback_data: ApCb, session: AsyncSession, user: User,
                           settings: Settings) -> None:
    opened = await appt.proxy_errand(session, settings, user, callback_data.b, callback_data.sv, utcnow())
    await done(query, session, _("Sent"), _("✅ Sent as case {number}. Your grid worker will contact you.").format(
        number=esc(opened.number)))


async def visit_asked(query: CallbackQuery, callback_data: ApCb, session: AsyncSession, user: User) -> None:
    await appt.check_offer(session, user, callback_data.b)
    await below(query, _("Ask a grid worker to visit you at home?"), kb([
        _btn(_("✅ Yes, please"), ApCb(a="fhy", b=callback_data.b))]))


async def visit_confirmed(query: CallbackQuery, callback_data: ApCb, session: AsyncSession, user: User,
                          settings: Settings) -> None:
    opened = await appt.home_visit(session, settings, user, callback_data.b, utcnow())
    await done(query, session, _("Sent"), _(
        "✅ Sent as case {number}. Your grid worker will contact you to agree a time.").format(number=esc(opened.number)))


def create_router() -> Router:
    """This audience's routing table; a new router each call (one per dispatcher)."""
    router = Router(name="appointments_resident")
    router.message.register(book_start, F.text == BOOK)
    router.message.register(book_start, Command("book"))
    router.message.register(my_appointments, F.text == MY_APPOINTMENTS)
    router.message.register(my_appointments, Command("appointments"))
    router.message.register(location_received, ApptInput.near, F.location)
    router.message.register(near_other, ApptInput.near, ~F.text.startswith("/"))
    router.message.register(typed_when, StateFilter(None), Booker(), F.text, TypedWhen())
    # Actions ending in "n" come from notifications: answered below them, not in place.
    buttons = {
        services_again: ("svcs", "svcsn"), service_picked: ("svc", "svcn"), near_asked: ("near",),
        station_picked: ("st", "stn"), day_picked: ("day",), time_picked: ("tm",), confirmed: ("ok",),
        my_again: ("my",), cancel_asked: ("cx",), cancel_confirmed: ("cxy",), keep: ("keep",),
        reschedule_asked: ("rs", "rsn"), show_way: ("map",), rebook_tapped: ("rb",), rebook_other: ("rbo",),
        errand_asked: ("fpx",), errand_picked: ("fps",), errand_confirmed: ("fpy",), visit_asked: ("fhv",),
        visit_confirmed: ("fhy",),
    }
    for handler, actions in buttons.items():
        router.callback_query.register(handler, ApCb.filter(F.a.in_(set(actions))))
    return router
