"""For everyone: /start (and invites), language, /help, /menu, /profile, /cancel."""

from __future__ import annotations

from aiogram import Bot, F, Router
from aiogram.exceptions import TelegramBadRequest
from aiogram.filters import Command, CommandObject, CommandStart
from aiogram.fsm.context import FSMContext
from aiogram.types import CallbackQuery, Message, ReplyKeyboardRemove
from aiogram.utils.i18n import gettext as _
from aiogram.utils.keyboard import InlineKeyboardBuilder
from sqlalchemy.ext.asyncio import AsyncSession

from bot.config import Settings
from bot.i18n import LOCALE_NAMES, PoI18n, telegram_locale
from bot.services import diary, places
from bot.services import staff as staff_service
from bot.services import users as user_service
from bot.services.invites import redeem_invite
from handlers import labels
from handlers.callbacks import LangCb, NavCb, ProfileCb
from handlers.commands import newcomer_commands, set_chat_commands
from handlers.family.ui import FamCb
from handlers.keyboards import language_keyboard, main_menu, with_nav
from handlers.render import esc, role_label
from handlers.resident import ask_place, needs_home, welcome
from handlers.states import Registration
from models import User


async def show_menu(message: Message, user: User, text: str | None = None) -> None:
    roles = user_service.staff_roles(user)
    await message.answer(
        text or _("What would you like to do? Choose below."),
        reply_markup=main_menu(roles, resident=user.building_id is not None),
    )


async def start_with_invite(
    message: Message, command: CommandObject, session: AsyncSession, user: User, state: FSMContext,
    bot: Bot, i18n: PoI18n,
) -> None:
    grant = await redeem_invite(session, user, command.args or "")
    if user.locale is None:
        user.locale = i18n.current_locale
    await state.clear()
    # The place by its name (站前小区2号楼), as the person knows it; the code is for the office.
    scope = await places.name_of(session, grant.scope_type, grant.scope_id, user.locale or i18n.current_locale)
    await show_menu(message, user, _("Welcome! You are now registered as {role} ({scope}).").format(
        role=role_label(grant.role), scope=esc(grant.scope_code if scope == "?" else scope)))
    # The invite is used once: its redemption, the update's done-mark and the welcome are
    # one commit (a crash after it sends the welcome at the next start), then the list.
    await session.commit()
    await set_chat_commands(bot, i18n, message.chat.id, user.locale, user_service.staff_roles(user))


async def start(message: Message, user: User, state: FSMContext, session: AsyncSession, i18n: PoI18n,
                bot: Bot, settings: Settings) -> None:
    # Telegram says which language the person reads: one of ours was taken when their row was
    # made (it stays changeable with 🌐 Language and in 👤 My profile); else they choose.
    language_code = message.from_user.language_code if message.from_user else None
    first = user_service.created_now(session, user)
    if user.locale is None:
        spoken = telegram_locale(language_code)
        if spoken is None:
            await state.set_state(Registration.language)
            await message.answer(_("Please choose your language."), reply_markup=language_keyboard())
            return
        user_service.set_locale(user, spoken)
        i18n.ctx_locale.set(spoken)
        first = True
    if first:
        await newcomer_commands(bot, i18n, message.chat.id, user, language_code)
    if needs_home(user):
        await ask_place(message, state, session, i18n.current_locale, user, settings,
                        intro=welcome() if user.registered_at is None else None)
        return
    await state.clear()
    await show_menu(message, user, _("Welcome back, {name}!").format(name=esc(user.first_name)))


async def choose_language(message: Message) -> None:
    await message.answer(_("Please choose your language."), reply_markup=with_nav(language_keyboard()))


async def language_chosen(
    query: CallbackQuery, callback_data: LangCb, session: AsyncSession, user: User, state: FSMContext,
    bot: Bot, i18n: PoI18n, settings: Settings,
) -> None:
    user_service.set_locale(user, callback_data.locale)
    i18n.ctx_locale.set(user.locale)  # answer in the language just chosen
    await query.answer()
    if isinstance(query.message, Message):  # not one too old to reach (InaccessibleMessage)
        await query.message.edit_text(_("Language: {name}").format(name=LOCALE_NAMES[user.locale]))
    await set_chat_commands(bot, i18n, query.from_user.id, user.locale, user_service.staff_roles(user))
    if needs_home(user) and isinstance(query.message, Message):
        await ask_place(query.message, state, session, i18n.current_locale, user, settings,
                        intro=welcome() if user.registered_at is None else None)
    elif isinstance(query.message, Message):
        await state.clear()
        await show_menu(query.message, user)


async def cancel(message: Message, user: User, state: FSMContext) -> None:
    current = await state.get_state()
    await state.clear()
    if needs_home(user):  # the step's keyboard (📍 Send my location...) goes with it
        await message.answer(_("Cancelled. Write to me any time when you want to register."),
                             reply_markup=ReplyKeyboardRemove())
        return
    await show_menu(message, user, _("Cancelled.") if current else None)


async def nav_left(query: CallbackQuery, callback_data: NavCb, user: User, state: FSMContext) -> None:
    """⬅️ Back from a first list or a panel, or ❌ Cancel of a list or prompt: the conversation
    ends, the buttons leave the screen (a cancelled prompt says so; a panel keeps its text) and
    the main menu shows."""
    await state.clear()
    await query.answer()
    if isinstance(query.message, Message):
        try:
            if callback_data.action == "cancel":
                await query.message.edit_text(_("Cancelled."))
            else:
                await query.message.edit_reply_markup(reply_markup=None)
        except TelegramBadRequest:
            pass  # pressed twice: already edited
        if needs_home(user):  # the step's keyboard (📍 Send my location...) goes with it
            await query.message.answer(_("Cancelled. Write to me any time when you want to register."),
                                       reply_markup=ReplyKeyboardRemove())
            return
        await show_menu(query.message, user)


async def menu(message: Message, user: User, state: FSMContext, session: AsyncSession, i18n: PoI18n,
               settings: Settings) -> None:
    if needs_home(user):
        await ask_place(message, state, session, i18n.current_locale, user, settings)
        return
    await state.clear()
    await show_menu(message, user)


async def help_(message: Message, user: User) -> None:
    lines = [_("I am the front door of your community's grid service.")]
    lines.append(_("🙋 Ask for help: someone runs an errand for you\n📝 Report a problem: tell us what is wrong "
                   "nearby\n📅 Book an appointment: a visit to the service station\n📂 My cases, 🗓️ My "
                   "appointments: follow them\nOr simply write to me what you need."))
    lines.append(_("👤 My profile: your home, phone and language, how your information is used, a copy of it "
                   "or its erasure\n❌ Cancel or ⬅️ Back under a question leaves it."))
    roles = user_service.staff_roles(user)
    if roles:
        lines.append(_("Your roles: {roles}").format(roles=", ".join(sorted(role_label(r) for r in roles))))
    await message.answer("\n\n".join(lines))


async def profile(message: Message, session: AsyncSession, user: User, i18n: PoI18n) -> None:
    locale = i18n.current_locale
    home = await user_service.home_of(session, user, locale)
    lines = [_("<b>{name}</b>").format(name=esc(user.first_name))]
    if home is not None:
        lines.append(_("Home: {community} · {grid} · {building}").format(
            community=esc(home.community), grid=esc(home.grid), building=esc(home.building)))
    lines.append(_("Phone: {phone}").format(phone=esc(user.phone) if user.phone else _("not given")))
    tags = await diary.own_household_tags(session, user)
    if tags:  # what the household ledger records about them (docs/privacy.md)
        lines.append(_("Household ledger: {tags}").format(
            tags=", ".join(f"{diary.texts.TAG_ICONS[t]} {diary.texts.tag_label(_, t)}" for t in tags)))
    for line in await staff_service.describe_roles(session, user, locale):
        lines.append(_("Role: {role} ({scope})").format(role=role_label(line.role), scope=esc(line.scope)))
    kb = InlineKeyboardBuilder()
    kb.button(text=_("🏠 Change my building"), callback_data=ProfileCb(action="home"))
    kb.button(text=_("📱 Update my phone"), callback_data=ProfileCb(action="phone"))
    kb.button(text=_("🌐 Language: {name}").format(name=LOCALE_NAMES.get(user.locale or "", "")),
              callback_data=ProfileCb(action="lang"))
    kb.button(text=_("🔒 How my information is used"), callback_data=ProfileCb(action="privacy"))
    kb.button(text=_("📦 A copy of my data"), callback_data=ProfileCb(action="mydata"))
    kb.button(text=_("🗑 Erase my data"), callback_data=ProfileCb(action="erase"))
    kb.button(text=_("👪 My family"), callback_data=FamCb(action="menu"))  # handlers/family/
    kb.adjust(1)
    await message.answer("\n".join(lines), reply_markup=with_nav(kb.as_markup()))


def create_router() -> Router:
    """This audience's routing table; a new router each call (one per dispatcher)."""
    router = Router(name="common")
    router.message.register(start_with_invite, CommandStart(deep_link=True))
    router.message.register(start, CommandStart())
    router.message.register(choose_language, Command("lang"))
    router.message.register(choose_language, F.text == labels.LANGUAGE)
    router.callback_query.register(language_chosen, LangCb.filter())
    router.callback_query.register(nav_left, NavCb.filter())
    router.message.register(cancel, Command("cancel"))
    router.message.register(menu, Command("menu"))
    router.message.register(help_, Command("help"))
    router.message.register(help_, F.text == labels.HELP)
    router.message.register(profile, Command("profile"))
    router.message.register(profile, F.text == labels.PROFILE)
    return router
