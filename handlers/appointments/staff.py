"""Station staff and workers: the day's agenda, attendance, closing a day,
working plans, and booking for residents without Telegram.

Who may do what is decided by :mod:`bot.services.appointments.staff` on every
button; these handlers only render.  A refusal is answered by
:mod:`handlers.refusal`; the handlers that catch one themselves say why.
"""

from __future__ import annotations

from datetime import date

from aiogram import F, Router
from aiogram.fsm.context import FSMContext
from aiogram.types import CallbackQuery, InlineKeyboardButton, InlineKeyboardMarkup, Message
from aiogram.utils.i18n import gettext as _
from aiogram.utils.i18n import ngettext
from sqlalchemy.ext.asyncio import AsyncSession

from bot.config import Settings
from bot.i18n import PoI18n, current_translator
from bot.services import appointments as svc
from bot.services import offline
from bot.services.appointments import Plan, clock, day_label, plan_text, status_icon, status_label
from bot.services.errors import DomainError, InvalidInput
from handlers.appointments.resident import show_mine
from handlers.appointments.ui import (
    AGENDA,
    PROXY_BOOK,
    ApCb,
    ApptInput,
    StCb,
    below,
    done,
    duration,
    kb,
    leave_on_menu_label,
    step,
    today,
)
from handlers.filters import HasRole
from handlers.keyboards import cancel_only, homes_keyboard, with_nav
from handlers.refusal import error_text, refuse
from handlers.render import esc
from models import AppointmentStatus, Role, User, utcnow

PER_PAGE = 10


def _btn(text: str, cb: StCb | ApCb) -> InlineKeyboardButton:
    return InlineKeyboardButton(text=text, callback_data=cb.pack())


# ------------------------------------------------------------------ the agenda

async def agenda_start(message: Message, session: AsyncSession, user: User, state: FSMContext, settings: Settings,
                       i18n: PoI18n) -> None:
    await state.clear()
    stations = await svc.my_stations(session, user, i18n.current_locale)
    if not stations:
        await message.answer(_("No station's agenda is open to you."))
        return
    day = today(settings)
    if len(stations) == 1:
        text, markup = await _agenda(session, settings, user, stations[0].id, day, 0, i18n.current_locale)
        await message.answer(text, reply_markup=markup)
        return
    await message.answer(_("Which station?"), reply_markup=kb(
        [[_btn(s.name, StCb(a="ag", st=s.id, x=day.toordinal()))] for s in stations]))


async def _agenda(session: AsyncSession, settings: Settings, user: User, station_id: int, day: date, page: int,
                  locale: str) -> tuple[str, InlineKeyboardMarkup]:
    ag = await svc.agenda(session, settings, user, station_id, day, locale)
    head = [_("📋 <b>{station}</b>: {day}").format(station=esc(ag.station), day=day_label(_, day, today(settings)))]
    if ag.state == "closed":
        head.append(_("🚫 Closed.") + (" " + _("Reason: {reason}").format(reason=esc(ag.closed_reason))
                                       if ag.closed_reason else ""))
    elif ag.state == "holiday":
        head.append(_("🎌 Public holiday: closed."))
    booked = sum(1 for x in ag.lines if x.status == AppointmentStatus.booked)
    head.append(_("Appointments: {n} · still to come or unmarked: {booked} · cancelled: {cancelled}").format(
        n=len(ag.lines), booked=booked, cancelled=ag.cancelled))
    if not ag.full_phones:
        head.append(_("Phone numbers are shown in full to the station's own staff only."))
    pages = max(1, -(-len(ag.lines) // PER_PAGE))
    page = min(max(page, 0), pages - 1)
    shown = ag.lines[page * PER_PAGE:(page + 1) * PER_PAGE]
    body = []
    for line in shown:
        parts = [f"{clock(line.starts_at, settings.tz)} {status_icon(line.status)} <b>{esc(line.resident)}</b>"]
        if line.phone:
            parts.append(esc(line.phone))
        parts.append(esc(line.service))
        if line.at_home:
            parts.append(_("🏠 home visit"))
        if line.proxy:
            parts.append(_("🤝 booked by a worker"))
        if line.no_shows:
            parts.append(_("missed before: {n}").format(n=line.no_shows))
        body.append(" · ".join(parts))
    text = "\n".join(head) + ("\n\n" + "\n".join(body) if body else "\n\n" + _("Nobody is booked."))
    x = day.toordinal()
    rows = [[_btn(f"{clock(line.starts_at, settings.tz)} {line.resident}", StCb(a="bk", st=station_id, x=x, b=line.id))]
            for line in shown]
    if pages > 1:
        nav = []
        if page > 0:
            nav.append(_btn("◀️", StCb(a="ag", st=station_id, x=x, p=page - 1)))
        nav.append(_btn(f"{page + 1}/{pages}", StCb(a="ag", st=station_id, x=x, p=page)))
        if page + 1 < pages:
            nav.append(_btn("▶️", StCb(a="ag", st=station_id, x=x, p=page + 1)))
        rows.append(nav)
    rows.append([_btn(_("◀️ Day before"), StCb(a="ag", st=station_id, x=x - 1)),
                 _btn(_("Day after ▶️"), StCb(a="ag", st=station_id, x=x + 1))])
    if ag.can_manage and day >= today(settings):
        if ag.state == "closed":
            rows.append([_btn(_("✅ Reopen this day"), StCb(a="open", st=station_id, x=x))])
        else:
            rows.append([_btn(_("🚫 Close this day"), StCb(a="close", st=station_id, x=x))])
    if ag.can_manage:
        rows.append([_btn(_("⚙️ Working plans"), StCb(a="plans", st=station_id, x=x))])
    return text, with_nav(kb(rows))


async def agenda_view(query: CallbackQuery, callback_data: StCb, session: AsyncSession, user: User,
                      settings: Settings, i18n: PoI18n) -> None:
    text, markup = await _agenda(session, settings, user, callback_data.st, svc.day_from_code(callback_data.x),
                                 callback_data.p, i18n.current_locale)
    await step(query, text, markup)


# ------------------------------------------------------------------ one booking: attendance

async def _card(session: AsyncSession, settings: Settings, user: User, appointment_id: int,
                locale: str) -> tuple[str, InlineKeyboardMarkup]:
    c = await svc.booking_card(session, settings, user, appointment_id, locale)
    line = c.line
    lines = [f"<b>{esc(line.resident)}</b>"]
    if line.phone:
        lines.append(_("☎️ {phone}").format(phone=esc(line.phone)))
    lines.append(_("📅 {when}").format(when=f"{day_label(_, c.day, today(settings))} "
                                              f"{clock(line.starts_at, settings.tz)}-{clock(line.ends_at, settings.tz)}"))
    lines.append(_("🗂️ {service}").format(service=esc(line.service)))
    if line.at_home:
        lines.append(_("🏠 home visit"))
    if line.proxy:
        lines.append(_("🤝 Booked by {worker} for a resident without Telegram.").format(
            worker=esc(c.booked_by or "")))
    lines.append(_("Status: {status}").format(status=status_label(current_translator(), line.status)))
    lines.append(_("Missed appointments so far: {n}").format(n=line.no_shows))
    x = c.day.toordinal()
    rows = []
    if c.level == svc.FULL:
        if line.status in (AppointmentStatus.booked, AppointmentStatus.no_show):
            rows.append([_btn(_("✅ Came"), StCb(a="att", st=c.station_id, x=x, b=line.id))])
        if line.status == AppointmentStatus.booked:
            rows.append([_btn(_("❌ Did not come"), StCb(a="ns", st=c.station_id, x=x, b=line.id))])
    rows.append([_btn(_("⬅️ Back to the agenda"), StCb(a="ag", st=c.station_id, x=x))])
    return "\n".join(lines), kb(rows)


async def booking_view(query: CallbackQuery, callback_data: StCb, session: AsyncSession, user: User,
                       settings: Settings, i18n: PoI18n) -> None:
    text, markup = await _card(session, settings, user, callback_data.b, i18n.current_locale)
    await step(query, text, markup)


async def marked(query: CallbackQuery, callback_data: StCb, session: AsyncSession, user: User,
                 settings: Settings, i18n: PoI18n) -> None:
    await svc.mark(session, settings, user, callback_data.b, attended=callback_data.a == "att", now=utcnow())
    text, markup = await _card(session, settings, user, callback_data.b, i18n.current_locale)
    await done(query, session, _("Saved"), text, markup)


# ------------------------------------------------------------------ closing a day

async def close_asked(query: CallbackQuery, callback_data: StCb, session: AsyncSession, user: User,
                      state: FSMContext, settings: Settings) -> None:
    day = svc.day_from_code(callback_data.x)
    count = await svc.closure_preview(session, settings, user, callback_data.st, day, utcnow())
    await state.set_state(ApptInput.close_reason)
    await state.update_data(st=callback_data.st, day=callback_data.x)
    text = _("Close the station on {day}? No more bookings will be taken that day.").format(
        day=day_label(_, day, today(settings)))
    if count:
        text += "\n" + ngettext("{n} booked resident will be told and offered other times.",
                                "{n} booked residents will be told and offered other times.", count).format(n=count)
    text += "\n\n" + _("Send a short reason they will read (for example “staff training”), or tap below.")
    await step(query, text, kb([
        [_btn(_("🚫 Close without a reason"), StCb(a="closey", st=callback_data.st, x=callback_data.x))],
        [_btn(_("⬅️ Keep it open"), StCb(a="ag", st=callback_data.st, x=callback_data.x))]]))


async def _close(session: AsyncSession, settings: Settings, user: User, station_id: int, x: int,
                 reason: str) -> str:
    count = await svc.close_day(session, settings, user, station_id, svc.day_from_code(x), reason, utcnow())
    return _("🚫 Closed. Residents told: {n}.").format(n=count)


async def close_confirmed(query: CallbackQuery, callback_data: StCb, session: AsyncSession, user: User,
                          state: FSMContext, settings: Settings, i18n: PoI18n) -> None:
    await state.clear()
    try:
        closed = await _close(session, settings, user, callback_data.st, callback_data.x, "")
    except DomainError as err:  # refused or not, no reason is awaited any more: the cleared state stays cleared
        await refuse(query, err)
        return
    await _agenda_done(query, session, settings, user, callback_data, closed, i18n)


async def _agenda_done(query: CallbackQuery, session: AsyncSession, settings: Settings, user: User, cb: StCb,
                       alert: str, i18n: PoI18n) -> None:
    """A day closed or reopened: commit, the alert, and the day's agenda in place."""
    text, markup = await _agenda(session, settings, user, cb.st, svc.day_from_code(cb.x), 0, i18n.current_locale)
    await done(query, session, alert, text, markup, show_alert=True)


async def close_reason_typed(message: Message, session: AsyncSession, user: User, state: FSMContext,
                             settings: Settings, i18n: PoI18n) -> None:
    await leave_on_menu_label(message, state)
    data = await state.get_data()
    station_id, x = int(data.get("st", 0)), int(data.get("day", 0))
    try:
        closed = await _close(session, settings, user, station_id, x, message.text or "")
    except DomainError as err:  # a reason too long keeps waiting for a shorter one; any other refusal ends it
        await message.answer(error_text(err))
        if err.code != "appt_reason_long":
            await state.clear()
        return
    await state.clear()
    await session.commit()
    await message.answer(closed)
    text, markup = await _agenda(session, settings, user, station_id, svc.day_from_code(x), 0, i18n.current_locale)
    await message.answer(text, reply_markup=markup)


async def reopen(query: CallbackQuery, callback_data: StCb, session: AsyncSession, user: User,
                 settings: Settings, i18n: PoI18n) -> None:
    await svc.reopen_day(session, settings, user, callback_data.st, svc.day_from_code(callback_data.x), utcnow())
    await _agenda_done(query, session, settings, user, callback_data, _("Open for bookings again."), i18n)


# ------------------------------------------------------------------ working plans

def _plan_summary(plan: Plan) -> str:
    state = "✅" if plan.active else "⏸"
    return _("{state} {minutes} min · {seats} per slot").format(state=state, minutes=plan.slot_minutes,
                                                                seats=plan.capacity)


async def plans_view(query: CallbackQuery, callback_data: StCb, session: AsyncSession, user: User,
                     settings: Settings, i18n: PoI18n) -> None:
    plans = await svc.station_plans(session, settings, user, callback_data.st, i18n.current_locale)
    rows = [[_btn(f"{p.service} · {_plan_summary(p.plan)}", StCb(a="plan", st=callback_data.st, sv=p.service_id,
                                                                   x=callback_data.x))] for p in plans]
    rows.append([_btn(_("⬅️ Back to the agenda"), StCb(a="ag", st=callback_data.st, x=callback_data.x))])
    await step(query, _("Working plans: one per service. ✅ takes bookings, ⏸ does not."), kb(rows))


async def _plan_card(session: AsyncSession, settings: Settings, user: User, station_id: int, service_id: int,
                     x: int, locale: str) -> tuple[str, InlineKeyboardMarkup]:
    line = await svc.plan_of(session, settings, user, station_id, service_id, locale)
    plan = line.plan
    lines = [f"<b>{esc(line.service)}</b>", _plan_summary(plan)]
    if not plan.stored:
        lines.append(_("(From the station's opening hours; not edited yet.)"))
    lines.append(f"<pre>{esc(plan_text(plan))}</pre>")
    lines.append(ngettext("Bookings open {days} day ahead, at least {notice} before; cancelling ends {cutoff} "
                          "before.",
                          "Bookings open {days} days ahead, at least {notice} before; cancelling ends {cutoff} "
                          "before.", plan.horizon_days).format(days=plan.horizon_days,
                                                               notice=duration(plan.min_notice_minutes),
                                                               cutoff=duration(plan.cancel_cutoff_minutes)))
    toggle = (_("⏸ Stop taking bookings"), 0) if plan.active else (_("▶️ Take bookings"), 1)
    rows = [[_btn(_("✏️ Change"), StCb(a="pedit", st=station_id, sv=service_id, x=x))],
            [_btn(toggle[0], StCb(a="pact", st=station_id, sv=service_id, x=x, p=toggle[1]))],
            [_btn(_("⬅️ All plans"), StCb(a="plans", st=station_id, x=x))]]
    return "\n".join(lines), kb(rows)


async def plan_view(query: CallbackQuery, callback_data: StCb, session: AsyncSession, user: User,
                    settings: Settings, i18n: PoI18n) -> None:
    cb = callback_data
    text, markup = await _plan_card(session, settings, user, cb.st, cb.sv, cb.x, i18n.current_locale)
    await step(query, text, markup)


async def plan_toggled(query: CallbackQuery, callback_data: StCb, session: AsyncSession, user: User,
                       settings: Settings, i18n: PoI18n) -> None:
    cb = callback_data
    await svc.set_plan_active(session, settings, user, cb.st, cb.sv, bool(cb.p), utcnow())
    text, markup = await _plan_card(session, settings, user, cb.st, cb.sv, cb.x, i18n.current_locale)
    await done(query, session, _("Saved"), text, markup)


async def plan_edit_asked(query: CallbackQuery, callback_data: StCb, session: AsyncSession, user: User,
                          state: FSMContext, settings: Settings, i18n: PoI18n) -> None:
    cb = callback_data
    await svc.plan_of(session, settings, user, cb.st, cb.sv, i18n.current_locale)
    await state.set_state(ApptInput.plan_text)
    await state.update_data(st=cb.st, sv=cb.sv, x=cb.x)
    await below(query, _(
            "Send the lines you want to change (the others stay), for example:\n"
            "<code>mon 08:30-11:30 13:30-17:00</code>  hours of a weekday, breaks between\n"
            "<code>sat -</code>  no bookings that weekday\n"
            "<code>slot 30</code>  minutes per slot\n"
            "<code>seats 2</code>  residents per slot\n"
            "<code>days 14</code>  how many days ahead bookings open\n"
            "<code>notice 120</code>  minutes ahead a booking must be made\n"
            "<code>cutoff 60</code>  minutes before the time when cancelling ends\n"
            "<code>venue station</code> or <code>venue home</code>\n"
            "❌ Cancel leaves it as it is."), cancel_only())


async def plan_text_typed(message: Message, session: AsyncSession, user: User, state: FSMContext,
                          settings: Settings, i18n: PoI18n) -> None:
    await leave_on_menu_label(message, state)
    data = await state.get_data()
    station_id, service_id, x = int(data.get("st", 0)), int(data.get("sv", 0)), int(data.get("x", 0))
    try:
        _plan, outside = await svc.save_plan(session, settings, user, station_id, service_id, message.text or "",
                                             utcnow())
    except DomainError as err:  # the conversation stays: the refusal asks for the text again
        await message.answer(error_text(err) + "\n" + _("Please send it again, or ❌ Cancel."),
                             reply_markup=cancel_only())
        return
    await state.clear()
    await session.commit()
    reply = _("✅ Saved.")
    if outside:
        reply += "\n" + ngettext(
            "{n} upcoming booking is no longer at one of the plan's times. It is kept: close the day or ring "
            "the resident if they cannot come.",
            "{n} upcoming bookings are no longer at one of the plan's times. They are kept: close the day or "
            "ring them if they cannot come.", outside).format(n=outside)
    await message.answer(reply)
    text, markup = await _plan_card(session, settings, user, station_id, service_id, x, i18n.current_locale)
    await message.answer(text, reply_markup=markup)


# ------------------------------------------------------------------ residents without Telegram

async def proxy_start(message: Message, session: AsyncSession, user: User, state: FSMContext) -> None:
    await state.clear()
    people = await svc.offline_residents(session, user)
    rows = [[_btn(f"👤 {p.first_name} · {p.phone or ''}", StCb(a="pr", b=p.id))] for p in people]
    rows.append([_btn(_("➕ Someone new"), StCb(a="pnew"))])
    await message.answer(_("Book for a resident who is not on Telegram. Who is it?"), reply_markup=with_nav(kb(rows)))


async def proxy_new(query: CallbackQuery, state: FSMContext) -> None:
    await state.set_state(ApptInput.proxy_name)
    await below(query, _("Type the resident's name."))


async def proxy_name_typed(message: Message, state: FSMContext) -> None:
    await leave_on_menu_label(message, state)
    name = svc.clean_name(message.text or "")
    await state.update_data(name=name)
    await state.set_state(ApptInput.proxy_phone)
    await message.answer(_("Type their phone number, so the station can ring them."))


async def proxy_phone_typed(message: Message, session: AsyncSession, user: User, state: FSMContext,
                            settings: Settings, i18n: PoI18n) -> None:
    await leave_on_menu_label(message, state)
    name, phone = str((await state.get_data()).get("name", "")), offline.clean_phone(message.text or "")
    homes = await offline.head_homes(session, user, i18n.current_locale)
    if len(homes) > 1:  # a head of several buildings or units says where the resident lives (one tap)
        await state.update_data(phone=phone)
        await state.set_state(ApptInput.proxy_home)
        await message.answer(_("Where does {name} live?").format(name=esc(name)),
                             reply_markup=homes_keyboard(homes, lambda code: StCb(a="ph", b=code)))
        return
    await _proxy_add(message, session, user, state, settings, i18n, name, phone, None)


async def proxy_home(query: CallbackQuery, callback_data: StCb, session: AsyncSession, user: User,
                     state: FSMContext, settings: Settings, i18n: PoI18n) -> None:
    data = await state.get_data()
    if await state.get_state() != ApptInput.proxy_home.state or "phone" not in data:
        raise InvalidInput("stale_button")
    await query.answer()
    if isinstance(query.message, Message):
        await _proxy_add(query.message, session, user, state, settings, i18n, str(data.get("name", "")),
                         str(data["phone"]), callback_data.b)


async def _proxy_add(message: Message, session: AsyncSession, user: User, state: FSMContext, settings: Settings,
                     i18n: PoI18n, name: str, phone: str, home: int | None) -> None:
    person, new = await svc.add_offline_resident(session, user, name, phone, utcnow(), home=home)
    await state.clear()
    await session.commit()
    if not new:
        await message.answer(_("{name} is already known with this number.").format(name=esc(person.first_name)))
    await _person(message, session, user, person, settings, i18n)


async def _person(message: Message, session: AsyncSession, user: User, person: User, settings: Settings,
                  i18n: PoI18n) -> None:
    await message.answer(_("👤 <b>{name}</b> · {phone}").format(name=esc(person.first_name),
                                                               phone=esc(person.phone or "")))
    await show_mine(message, session, user, settings, i18n, resident_id=person.id)


async def proxy_person(query: CallbackQuery, callback_data: StCb, session: AsyncSession, user: User,
                       settings: Settings, i18n: PoI18n) -> None:
    person = await svc.offline_resident(session, user, callback_data.b)
    await query.answer()
    if isinstance(query.message, Message):
        await _person(query.message, session, user, person, settings, i18n)


def create_router() -> Router:
    """This audience's routing table; a new router each call (one per dispatcher)."""
    router = Router(name="appointments_staff")
    router.message.register(agenda_start, F.text == AGENDA,
                            HasRole(Role.staff, Role.admin, Role.worker, Role.grid_head))
    router.message.register(proxy_start, F.text == PROXY_BOOK,
                            HasRole(Role.worker, Role.grid_head, Role.building_head, Role.unit_head))
    router.message.register(close_reason_typed, ApptInput.close_reason, F.text, ~F.text.startswith("/"))
    router.message.register(plan_text_typed, ApptInput.plan_text, F.text, ~F.text.startswith("/"))
    router.message.register(proxy_name_typed, ApptInput.proxy_name, F.text, ~F.text.startswith("/"))
    router.message.register(proxy_phone_typed, ApptInput.proxy_phone, F.text, ~F.text.startswith("/"))
    # Buttons are not filtered by role: a forged one reaches the service, which refuses it.
    buttons = {
        agenda_view: ("ag",), booking_view: ("bk",), marked: ("att", "ns"), close_asked: ("close",),
        close_confirmed: ("closey",), reopen: ("open",), plans_view: ("plans",), plan_view: ("plan",),
        plan_toggled: ("pact",), plan_edit_asked: ("pedit",), proxy_new: ("pnew",), proxy_person: ("pr",),
        proxy_home: ("ph",),
    }
    for handler, actions in buttons.items():
        router.callback_query.register(handler, StCb.filter(F.a.in_(set(actions))))
    return router

