"""Shared pieces of the appointment handlers: reply-keyboard labels,
conversation states, callback data, the rendering of cards, the answers to a
button, and the error texts of the appointment services.

Services write some buttons themselves (reminders, closure notices, the
no-show offer) with :func:`bot.services.appointments.ap_cb`; :class:`ApCb`
parses exactly that layout.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from aiogram.dispatcher.event.bases import SkipHandler
from aiogram.filters import BaseFilter
from aiogram.filters.callback_data import CallbackData
from aiogram.fsm.context import FSMContext
from aiogram.fsm.state import State, StatesGroup
from aiogram.types import (
    CallbackQuery,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    Message,
    ReplyKeyboardMarkup,
)
from aiogram.utils.i18n import gettext as _
from aiogram.utils.i18n import lazy_gettext as __
from aiogram.utils.i18n import ngettext
from aiogram.utils.i18n.lazy_proxy import LazyProxy
from sqlalchemy.ext.asyncio import AsyncSession

from bot.config import Settings
from bot.i18n import current_translator
from bot.services.appointments import (
    AppointmentView,
    DayPart,
    day_label,
    parse_wanted,
    seats_left,
    status_label,
    when_label,
)
from bot.services.bounds import Code, DayOrdinal, OptId, Page
from bot.services.dates import local_day
from bot.services.errors import DomainError
from handlers import labels
from handlers.filters import UserFilter
from handlers.labels import AGENDA, BOOK, MY_APPOINTMENTS, PROXY_BOOK  # noqa: F401  (the feature's menu buttons)
from handlers.render import ErrorTexts, esc
from handlers.replies import edit_in_place
from models import AppointmentStatus, User, utcnow

# ------------------------------------------------------------------ conversations

class ApptInput(StatesGroup):
    near = State()  # data: sv, r; waiting for a shared location
    proxy_name = State()  # a worker types the name of a resident without Telegram
    proxy_phone = State()  # data: name
    proxy_home = State()  # data: name, phone (a head of several homes says where the resident lives)
    plan_text = State()  # data: st, sv
    close_reason = State()  # data: st, day


# ------------------------------------------------------------------ callback data

class ApCb(CallbackData, prefix="ap"):
    """Booking steps and a booking's buttons.

    ``a`` action; ``sv`` service; ``st`` station; ``x`` a page, a day (ordinal)
    or a slot (minutes since the epoch); ``b`` the booking being changed;
    ``r`` the resident a worker books for (0: oneself).
    """

    a: str
    sv: OptId = 0
    st: OptId = 0
    x: Code = 0
    b: OptId = 0
    r: OptId = 0


class StCb(CallbackData, prefix="aps"):
    """Staff: the agenda (``st`` station, ``x`` day ordinal, ``p`` page), a booking
    ``b``, a plan (``sv``), residents without Telegram (``b`` = their user id; ``ph``: their home's code)."""

    a: str
    st: OptId = 0
    x: DayOrdinal = 0
    b: OptId = 0
    sv: OptId = 0
    p: Page = 0


# ------------------------------------------------------------------ a day typed while booking

# A booking step on screen (FSM data, beside whatever state there is): sv, st, b, r as the
# step's buttons carry them, ``day`` (ordinal, 0: none chosen yet) and ``t`` (when shown, Unix
# seconds).  A day or a time typed soon after is read as the step's answer (TypedWhen); the
# buttons never depend on it.
PICK = "ap_pick"
PICK_FRESH = timedelta(minutes=30)


async def on_screen(state: FSMContext, cb: ApCb, day: date | None = None) -> None:
    """A booking step (days, times or the check before confirming) has just been shown."""
    await state.update_data({PICK: {"sv": cb.sv, "st": cb.st, "b": cb.b, "r": cb.r,
                                    "day": day.toordinal() if day else 0, "t": int(utcnow().timestamp())}})


async def off_screen(state: FSMContext) -> None:
    """The booking is done: a day typed later is not about it."""
    data = await state.get_data()
    if PICK in data:
        del data[PICK]
        await state.set_data(data)


class Booker(UserFilter):
    """Someone who books: a registered resident, or staff booking for one."""

    def allows(self, user: User | None) -> bool:
        return user is not None and (user.registered_at is not None or bool(user.roles))


class TypedWhen(BaseFilter):
    """Text that says only when ("明天上午", "周三下午3点", "tomorrow 9am"), typed within
    :data:`PICK_FRESH` of a booking step: gives ``pick`` (the step) and ``wanted`` (the wish,
    or the refusal of a day that does not exist).  Any other text is not for the step."""

    async def __call__(self, message: Message, state: FSMContext, settings: Settings) -> bool | dict[str, Any]:
        pick = (await state.get_data()).get(PICK)
        if not isinstance(pick, dict) or utcnow().timestamp() - pick.get("t", 0) > PICK_FRESH.total_seconds():
            return False
        try:
            wanted: Any = parse_wanted(message.text, today(settings))
        except DomainError as err:
            wanted = err
        return False if wanted is None else {"pick": pick, "wanted": wanted}


_PARTS = {DayPart.morning: __("morning"), DayPart.noon: __("noon"), DayPart.afternoon: __("afternoon"),
          DayPart.evening: __("evening")}


def part_label(part: DayPart) -> str:
    return str(_PARTS[part])


# ------------------------------------------------------------------ rendering

def today(settings: Settings) -> date:
    return local_day(utcnow(), settings.tz)


def duration(minutes: int) -> str:
    if minutes and minutes % 1440 == 0:
        return ngettext("{n} day", "{n} days", minutes // 1440).format(n=minutes // 1440)
    if minutes and minutes % 60 == 0:
        return ngettext("{n} hour", "{n} hours", minutes // 60).format(n=minutes // 60)
    return ngettext("{n} minute", "{n} minutes", minutes).format(n=minutes)


def card(view: AppointmentView, settings: Settings, *, for_worker: bool = False) -> str:
    """A booking: when, what, where, and how to reach the station."""
    minutes = int((view.ends_at - view.starts_at).total_seconds() // 60)
    lines = []
    if for_worker or view.proxy or view.by_family:
        lines.append(_("👤 For: {name}").format(name=esc(view.resident_name)))
    if view.by_family:
        lines.append(_("👪 Booked by a family member"))
    lines.append(_("📅 {when} ({minutes} min)").format(
        when=when_label(_, view.starts_at, settings.tz, today(settings)), minutes=minutes))
    lines.append(_("🗂️ {service}").format(service=esc(view.service)))
    if view.at_home:
        lines.append(_("🏠 At your home: {address}").format(address=esc(view.home_address or "")))
        lines.append(_("A worker of {station} comes to you.").format(station=esc(view.station)))
    else:
        lines.append(_("📍 {station}, {address}").format(station=esc(view.station), address=esc(view.address)))
    if view.station_phone:
        lines.append(_("☎️ {phone}").format(phone=esc(view.station_phone)))
    if view.status != AppointmentStatus.booked:
        lines.append(_("Status: {status}").format(status=status_label(current_translator(), view.status, view.cancel_reason)))
    return "\n".join(lines)


def day_button(d: date, seats: int, settings: Settings) -> str:
    return f"{day_label(_, d, today(settings))} · {seats_left(_, seats)}"


# ------------------------------------------------------------------ answers to a button

def kb(rows: list[list[InlineKeyboardButton]]) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(inline_keyboard=rows)


async def step(query: CallbackQuery, text: str, markup: InlineKeyboardMarkup | None = None) -> None:
    """The next step in place of the message the button is on."""
    await query.answer()
    await edit_in_place(query, text, markup)


async def below(query: CallbackQuery, text: str,
                markup: InlineKeyboardMarkup | ReplyKeyboardMarkup | None = None) -> None:
    """Answer below the message the button is on (a notification, a card), keeping it."""
    await query.answer()
    if isinstance(query.message, Message):
        await query.message.answer(text, reply_markup=markup)


async def done(query: CallbackQuery, session: AsyncSession, alert: str, text: str,
               markup: InlineKeyboardMarkup | None = None, *, show_alert: bool = False) -> None:
    """Commit what the button did, say so briefly, and show the result in place."""
    await session.commit()
    await query.answer(alert, show_alert=show_alert)
    await edit_in_place(query, text, markup)


async def leave_on_menu_label(message: Message, state: FSMContext) -> None:
    """A menu button pressed while we wait for typed text: stop waiting and let
    the button's own handler (a later router) take it."""
    text = message.text or ""
    candidates = [v for v in vars(labels).values() if isinstance(v, LazyProxy)]
    if any(text == str(label) for label in candidates):
        await state.clear()
        raise SkipHandler()


# The texts of the appointment error codes (handlers.refusal asks every room's table).
ERRORS: ErrorTexts = {
    "appt": __("That appointment is not available."),
    "appt_service": __("That service cannot be booked there any more. Please choose again."),
    "appt_station": __("That station is not available to you."),
    "appt_resident": __("That person is not available to you."),
    "appt_register": __("Please register first: write to me anything and I will ask where you live."),
    "appt_past": __("That time has already passed. Please choose a later time."),
    "appt_horizon": lambda p: ngettext("Bookings open {days} day ahead. Please choose an earlier date.",
                                       "Bookings open {days} days ahead. Please choose an earlier date.",
                                       p["days"]).format_map(p),
    "appt_notice": lambda p: _("Please book at least {duration} ahead.").format(
        duration=duration(int(p.get("minutes", 0)))),
    "appt_closed": lambda p: (_("The station is closed that day.")
                              + (" " + _("Reason: {reason}").format(reason=esc(str(p["reason"])))
                                 if p.get("reason") else "")),
    "appt_holiday": __("The station is closed that day: public holiday."),
    "appt_no_slot": __("That time is not open for booking. Please choose from the list."),
    "appt_no_such_day": __("There is no such day. Please check the date, or tap a day above."),
    "appt_full": __("Sorry, that time was just taken."),
    "appt_limit": lambda p: ngettext(
        "You already have {limit} upcoming appointment, the most allowed. Please cancel it first.",
        "You already have {limit} upcoming appointments, the most allowed. Please cancel one first.",
        p["limit"]).format_map(p),
    "appt_overlap": __("You already have an appointment at that time."),
    "appt_not_upcoming": __("This appointment is no longer upcoming."),
    "appt_cutoff": lambda p: (_("It is too late to change this appointment here.") + (
        " " + _("Please call the station: {phone}").format(phone=esc(str(p["phone"])))
        if p.get("phone") else "")),
    "appt_same_slot": __("That is the time you already have."),
    "appt_home_needed": __("A home visit needs your home building: set it in 👤 My profile."),
    "appt_rebooked": __("You have already booked a new time for this."),
    "appt_mark_early": __("It is too early to mark this appointment."),
    "appt_already_marked": __("Already marked."),
    "appt_not_markable": __("This appointment was cancelled; there is nothing to mark."),
    "appt_closure_past": __("That day has passed."),
    "appt_closure_exists": __("That day is already closed."),
    "appt_not_closed": __("That day is not closed."),
    "appt_reason_long": __("Please keep the reason under {limit} characters."),
    "appt_name": __("Please type a name (at most {limit} characters)."),
    "plan_line": lambda p: _("I could not read this line: {line}").format(line=esc(str(p.get("line", "")))),
    "plan_empty": __("Please send at least one line to change."),
    "appt_not_missed": __("This offer is only for a missed appointment."),
    "appt_followup_done": __("You have already answered this. Thank you!"),
    "appt_case_draft": __("You have a request you have not sent yet. Please send or discard it "
                          "first (📂 My cases)."),
}

