"""Service days: staff's "🎪 Service days" (announce, attendance); everyone's
sign-up and cancel buttons on the announcement and the card; /events lists
the open ones a person may join."""

from __future__ import annotations

from datetime import datetime

from aiogram import F, Router
from aiogram.filters import Command
from aiogram.fsm.context import FSMContext
from aiogram.types import CallbackQuery, InlineKeyboardButton, InlineKeyboardMarkup, Message
from aiogram.utils.i18n import gettext as _
from sqlalchemy.ext.asyncio import AsyncSession

from bot.config import Settings
from bot.i18n import PoI18n
from bot.services import events
from bot.services.errors import InvalidInput
from handlers import labels
from handlers.events.ui import EventCb, EventForm
from handlers.filters import HasRole
from handlers.keyboards import with_nav
from handlers.render import esc, local_time
from handlers.replies import edit_in_place
from handlers.routing import on_press
from models import EventAudience, Role, SignupStatus, User, utcnow

AUDIENCES = list(EventAudience)


def _kb(*buttons: tuple[str, EventCb]) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(inline_keyboard=[[InlineKeyboardButton(text=t, callback_data=cb.pack())]
                                                 for t, cb in buttons])


def _audience(a: EventAudience) -> str:
    return {EventAudience.residents: _("👪 Residents"), EventAudience.volunteers: _("🙋 Volunteers"),
            EventAudience.both: _("👪🙋 Both")}[a]


async def listing(message: Message, session: AsyncSession, user: User, settings: Settings,
                  state: FSMContext) -> None:
    await state.clear()
    items = await events.upcoming(session, user, utcnow())
    buttons = [(f"{local_time(e.starts_at, settings.tz)[5:]} · {e.title}"[:60], EventCb(action="view", id=e.id))
               for e in items]
    buttons += [(_("➕ Announce an event"), EventCb(action="new", id=c))
                for c in sorted(events.managed_communities(user))]
    if not buttons:
        await message.answer(_("No service days are open to you right now."))
        return
    await message.answer(_("🎪 Service days:"), reply_markup=with_nav(_kb(*buttons)))


# ------------------------------------------------------------------ announcing (staff)

async def new(query: CallbackQuery, callback_data: EventCb, user: User, state: FSMContext) -> None:
    if callback_data.id not in events.managed_communities(user):
        raise InvalidInput("stale_button")
    await state.set_state(EventForm.text)
    await state.set_data({"community": callback_data.id})
    await query.answer()
    if isinstance(query.message, Message):
        await query.message.answer(_("Send the event in four or five lines:\ntitle\ndate and time, e.g. 2026-12-20 "
                                     "09:00\nplace\nnumber of seats\nvolunteer hours credited (optional, 2)"))


async def form_typed(message: Message, state: FSMContext, settings: Settings) -> None:
    draft = events.parse_draft(message.text or "", utcnow(), settings)
    await state.update_data(title=draft.title, when=draft.starts_at.isoformat(), place=draft.place,
                            capacity=draft.capacity, hours=draft.hours)
    await state.set_state(EventForm.audience)
    await message.answer(_("📣 {title}\n🕘 {when}\n📍 {place}\nSeats: {capacity} · hours: {hours}\n\nWho may sign up?")
                         .format(title=esc(draft.title), when=local_time(draft.starts_at, settings.tz),
                                 place=esc(draft.place), capacity=draft.capacity, hours=draft.hours),
                         reply_markup=_kb(*((_audience(a), EventCb(action="aud", arg=i + 1))
                                            for i, a in enumerate(AUDIENCES))))


async def audience_chosen(query: CallbackQuery, callback_data: EventCb, session: AsyncSession, user: User,
                          state: FSMContext, settings: Settings) -> None:
    if await state.get_state() != EventForm.audience.state or not 0 < callback_data.arg <= len(AUDIENCES):
        raise InvalidInput("stale_button")
    data = await state.get_data()
    draft = events.Draft(str(data["title"]), datetime.fromisoformat(str(data["when"])), str(data["place"]),
                         int(data["capacity"]), int(data["hours"]))
    event = await events.announce(session, settings, user, int(data["community"]), draft,
                                  AUDIENCES[callback_data.arg - 1], utcnow())
    await state.clear()
    await session.commit()
    await query.answer()
    await edit_in_place(query, _("📣 Announced: {title}. Those who may come get a sign-up button.").format(
        title=esc(event.title)), _kb((_("📄 Details"), EventCb(action="view", id=event.id))))


# ------------------------------------------------------------------ the card, signing up

def _card_text(c: events.EventCard, tz) -> str:  # type: ignore[no-untyped-def]
    lines = [f"📣 <b>{esc(c.title)}</b>", f"🕘 {local_time(c.starts_at, tz)}", f"📍 {esc(c.place)}",
             _("Seats taken: {going}/{capacity} · waiting: {waiting}").format(going=c.going, capacity=c.capacity,
                                                                              waiting=c.waiting)]
    if c.mine == SignupStatus.going:
        lines.append(_("✅ You have a seat."))
    elif c.mine == SignupStatus.waiting:
        lines.append(_("⏳ You are number {n} on the waiting list.").format(n=c.position))
    return "\n".join(lines)


def _card_kb(c: events.EventCard) -> InlineKeyboardMarkup:
    buttons = []
    if c.mine in (SignupStatus.going, SignupStatus.waiting):
        buttons.append((_("❌ Cancel my seat"), EventCb(action="leave", id=c.id)))
    elif not c.manages:
        buttons.append((_("✋ Sign up"), EventCb(action="join", id=c.id)))
    if c.manages:
        buttons.append((_("✅ Attendance"), EventCb(action="att", id=c.id)))
    return _kb(*buttons)


async def _show(query: CallbackQuery, session: AsyncSession, user: User, event_id: int, locale: str,
                settings: Settings, *, note: str | None = None) -> None:
    c = await events.card(session, user, event_id, locale)
    await query.answer(note, show_alert=bool(note))
    if isinstance(query.message, Message):
        await query.message.answer(_card_text(c, settings.tz), reply_markup=_card_kb(c))


async def view(query: CallbackQuery, callback_data: EventCb, session: AsyncSession, user: User, i18n: PoI18n,
               settings: Settings) -> None:
    await _show(query, session, user, callback_data.id, i18n.current_locale, settings)


async def join(query: CallbackQuery, callback_data: EventCb, session: AsyncSession, user: User, i18n: PoI18n,
               settings: Settings) -> None:
    status = await events.sign_up(session, user, callback_data.id, utcnow())
    await session.commit()
    note = (_("✅ You have a seat. You will be reminded the day before.") if status == SignupStatus.going
            else _("⏳ It is full: you are on the waiting list and will be told if a seat comes free."))
    await _show(query, session, user, callback_data.id, i18n.current_locale, settings, note=note)


async def leave(query: CallbackQuery, callback_data: EventCb, session: AsyncSession, user: User, i18n: PoI18n,
                settings: Settings) -> None:
    await events.cancel(session, settings, user, callback_data.id, utcnow())
    await session.commit()
    await _show(query, session, user, callback_data.id, i18n.current_locale, settings,
                note=_("Cancelled. Thank you for telling us."))


# ------------------------------------------------------------------ attendance (staff)

def _attendance(people: list[events.Attendee], event_id: int) -> tuple[str, InlineKeyboardMarkup]:
    """The people with a seat, a came / absent pair each (``event_id``: for the caller's record)."""
    rows = []
    for p in people:
        mark = {True: "✅", False: "❌", None: "·"}[p.attended]
        who = f"{mark} {p.name}" + (" 🙋" if p.volunteer else "")
        rows.append([InlineKeyboardButton(text=who[:40], callback_data=EventCb(action="here", id=p.signup_id,
                                                                                  arg=1).pack()),
                     InlineKeyboardButton(text=_("❌ Absent"), callback_data=EventCb(action="here", id=p.signup_id,
                                                                                      arg=2).pack())])
    text = _("Tap a name when the person came (🙋: a volunteer, credited the event's hours).") if people else \
        _("Nobody has a seat.")
    return text, InlineKeyboardMarkup(inline_keyboard=rows)


async def attendance(query: CallbackQuery, callback_data: EventCb, session: AsyncSession, user: User) -> None:
    text, markup = _attendance(await events.attendees(session, user, callback_data.id), callback_data.id)
    await query.answer()
    if isinstance(query.message, Message):
        await query.message.answer(text, reply_markup=markup)


async def marked(query: CallbackQuery, callback_data: EventCb, session: AsyncSession, user: User,
                 settings: Settings) -> None:
    if callback_data.arg not in (1, 2):
        raise InvalidInput("stale_button")
    done = await events.mark(session, settings, user, callback_data.id, callback_data.arg == 1, utcnow())
    await session.commit()
    await query.answer()
    text, markup = _attendance(await events.attendees(session, user, done.event_id), done.event_id)
    await edit_in_place(query, text, markup)


def create_router() -> Router:
    """This feature's routing table; a new router each call (one per dispatcher)."""
    router = Router(name="events")
    router.message.register(listing, F.text == labels.EVENTS, HasRole(Role.staff, Role.admin, Role.volunteer))
    router.message.register(listing, Command("events"))
    router.message.register(form_typed, EventForm.text, F.text, ~F.text.startswith("/"))
    # Buttons are not filtered by role: a forged one reaches the service, which refuses it.
    on_press(router, EventCb, {"new": new, "aud": audience_chosen, "view": view, "join": join, "leave": leave,
                               "att": attendance, "here": marked})
    return router
