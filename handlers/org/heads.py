"""Building and unit heads: their building, the addresses to confirm, and a
case filed for a neighbour without Telegram.

    🏢 My building → [🏠 Confirm addresses] (handlers.worker's claim list, checked by bot.services.homes)
                   → [📝 File for a neighbour] → a neighbour without Telegram (or ➕ someone new:
                     name → phone) → what they need (typed) → sent as their case
Booking for such a neighbour is the appointments' "🤝 Book for a resident".
"""

from __future__ import annotations

from aiogram import F, Router
from aiogram.fsm.context import FSMContext
from aiogram.types import CallbackQuery, InlineKeyboardButton, InlineKeyboardMarkup, Message
from aiogram.utils.i18n import gettext as _
from sqlalchemy.ext.asyncio import AsyncSession

from bot.config import Settings
from bot.i18n import PoI18n
from bot.services import cases, offline, org
from bot.services.errors import InvalidInput
from handlers import labels
from handlers.appointments.ui import leave_on_menu_label
from handlers.callbacks import HomeCb
from handlers.filters import HasRole
from handlers.keyboards import homes_keyboard
from handlers.org.ui import FileFor, OrgCb
from handlers.render import esc
from models import Role, User, utcnow


def _button(text: str, cb: OrgCb | HomeCb) -> list[InlineKeyboardButton]:
    return [InlineKeyboardButton(text=text, callback_data=cb.pack())]


async def my_building(message: Message, session: AsyncSession, user: User, i18n: PoI18n) -> None:
    places = await org.my_places(session, user, i18n.current_locale)
    lines = []
    for p in places:
        where = esc(p.building) if not p.units else _("{building}, unit {units}").format(
            building=esc(p.building), units=", ".join(str(u) for u in p.units))
        lines.append(_("🏢 <b>{where}</b>\nNeighbours on the bot or typed in: {count} · without Telegram: {offline}")
                     .format(where=where, count=p.neighbours, offline=p.offline))
    claims = sum(p.claims for p in places)
    rows = [_button(_("📝 File for a neighbour"), OrgCb(action="file"))]
    if claims:
        lines.append(_("🏠 Neighbours waiting for you to confirm their address: {count}").format(count=claims))
        rows.insert(0, _button(_("🏠 Confirm addresses"), HomeCb(action="list")))
    lines.append(_("You receive the notices sent to your building. For a neighbour without Telegram you can "
                   "file a request here, or book an appointment with “🤝 Book for a resident”."))
    await message.answer("\n\n".join(lines), reply_markup=InlineKeyboardMarkup(inline_keyboard=rows))


# Buttons are not filtered by role: a forged one reaches the service, which refuses it.
async def file_start(query: CallbackQuery, session: AsyncSession, user: User, state: FSMContext) -> None:
    await state.clear()
    people = await offline.offline_residents(session, user)
    rows = [_button(f"👤 {p.first_name}", OrgCb(action="fp", id=p.id)) for p in people]
    rows.append(_button(_("➕ Someone new"), OrgCb(action="fnew")))
    await query.answer()
    if isinstance(query.message, Message):
        await query.message.answer(_("File a request for a neighbour who is not on Telegram. Who is it?"),
                                   reply_markup=InlineKeyboardMarkup(inline_keyboard=rows))


async def file_new(query: CallbackQuery, user: User, state: FSMContext) -> None:
    offline.require_reach(user)  # a forged press by someone who reaches nobody stops here
    await state.set_state(FileFor.name)
    await query.answer()
    if isinstance(query.message, Message):
        await query.message.answer(_("Type your neighbour's name."))


async def name_typed(message: Message, state: FSMContext) -> None:
    await leave_on_menu_label(message, state)
    await state.update_data(name=offline.clean_name(message.text or ""))
    await state.set_state(FileFor.phone)
    await message.answer(_("Type their phone number, so their grid worker can ring them."))


async def phone_typed(message: Message, session: AsyncSession, user: User, state: FSMContext,
                      i18n: PoI18n) -> None:
    await leave_on_menu_label(message, state)
    name, phone = str((await state.get_data()).get("name", "")), offline.clean_phone(message.text or "")
    homes = await offline.head_homes(session, user, i18n.current_locale)
    if len(homes) > 1:  # several buildings or units: the head says which (one tap)
        await state.update_data(phone=phone)
        await state.set_state(FileFor.home)
        await message.answer(_("Where does {name} live?").format(name=esc(name)),
                             reply_markup=homes_keyboard(homes, lambda code: OrgCb(action="fh", id=code)))
        return
    await _add(message, session, user, state, name, phone, None)


async def home_chosen(query: CallbackQuery, callback_data: OrgCb, session: AsyncSession, user: User,
                      state: FSMContext) -> None:
    data = await state.get_data()
    if await state.get_state() != FileFor.home.state or "phone" not in data:
        raise InvalidInput("stale_button")
    await query.answer()
    if isinstance(query.message, Message):
        await _add(query.message, session, user, state, str(data.get("name", "")), str(data["phone"]),
                   callback_data.id)


async def _add(message: Message, session: AsyncSession, user: User, state: FSMContext, name: str, phone: str,
               home: int | None) -> None:
    person, new = await offline.add_offline_resident(session, user, name, phone, utcnow(), home=home)
    if not new:
        await message.answer(_("{name} is already known with this number.").format(name=esc(person.first_name)))
    await _ask_text(message, state, person)


async def _ask_text(message: Message, state: FSMContext, person: User) -> None:
    await state.set_state(FileFor.text)
    await state.set_data({"resident": person.id})
    await message.answer(_("What does {name} need? Type it in a few words; it goes to the grid worker as "
                           "their request.").format(name=esc(person.first_name)))


async def person_chosen(query: CallbackQuery, callback_data: OrgCb, session: AsyncSession, user: User,
                        state: FSMContext) -> None:
    person = await offline.offline_resident(session, user, callback_data.id)
    await query.answer()
    if isinstance(query.message, Message):
        await _ask_text(query.message, state, person)


async def text_typed(message: Message, session: AsyncSession, user: User, state: FSMContext,
                     settings: Settings) -> None:
    await leave_on_menu_label(message, state)
    data = await state.get_data()
    case = await cases.file_for_neighbour(session, settings, user, int(data.get("resident", 0)),
                                          message.text or "", utcnow())
    await state.clear()
    await session.commit()
    await message.answer(_("📨 Sent as case {number}. The grid worker will take it up; you will hear of each "
                           "step, to tell your neighbour.").format(number=case.number))


def register(router: Router) -> None:
    heads = HasRole(Role.building_head, Role.unit_head)
    router.message.register(my_building, F.text == labels.MY_BUILDING, heads)
    router.callback_query.register(file_start, OrgCb.filter(F.action == "file"))
    router.callback_query.register(file_new, OrgCb.filter(F.action == "fnew"))
    router.callback_query.register(person_chosen, OrgCb.filter(F.action == "fp"))
    router.callback_query.register(home_chosen, OrgCb.filter(F.action == "fh"))
    router.message.register(name_typed, FileFor.name, F.text, ~F.text.startswith("/"))
    router.message.register(phone_typed, FileFor.phone, F.text, ~F.text.startswith("/"))
    router.message.register(text_typed, FileFor.text, F.text, ~F.text.startswith("/"))
