"""A resident's privacy rights: /privacy (the notice), /mydata (a copy of
everything stored about them, as a file), /deletemydata (erasure, after a
confirmation button).  The consent button of the notice is registration's
(handlers/resident.py).  Private chats only: the group gate (handlers/private.py,
the first router) answers these commands in a group before they get here."""

from __future__ import annotations

from aiogram import F, Router
from aiogram.filters import Command
from aiogram.fsm.context import FSMContext
from aiogram.types import (
    BufferedInputFile,
    CallbackQuery,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    Message,
    ReplyKeyboardRemove,
)
from aiogram.utils.i18n import gettext as _
from sqlalchemy.ext.asyncio import AsyncSession

from bot.config import Settings
from bot.i18n import PoI18n
from bot.services import privacy
from bot.services import users as user_service
from handlers.callbacks import PrivacyCb, ProfileCb
from handlers.replies import edit_in_place
from handlers.resident import ask_consent, privacy_notice
from models import User, utcnow


async def show_notice(message: Message, user: User, state: FSMContext, settings: Settings) -> None:
    if user_service.needs_privacy_consent(user):
        await ask_consent(message, state, settings.retention_days)
        return
    await message.answer(privacy_notice(settings.retention_days))


async def my_data(message: Message, session: AsyncSession, user: User, i18n: PoI18n) -> None:
    data = await privacy.export_user_data(session, user, i18n.current_locale)
    await message.answer_document(BufferedInputFile(data, filename="mydata.json"),
                                  caption=_("Everything we store about you (a JSON file)."))


async def delete_ask(message: Message) -> None:
    kb = InlineKeyboardMarkup(inline_keyboard=[
        [InlineKeyboardButton(text=_("🗑 Yes, erase my data"), callback_data=PrivacyCb(action="erase").pack())],
        [InlineKeyboardButton(text=_("Keep my data"), callback_data=PrivacyCb(action="keep").pack())],
    ])
    await message.answer(_(
        "Erase your data? Your name, phone, home building, the messages and files you sent and your words "
        "in your requests are deleted. Your open requests are withdrawn. Only anonymous numbers stay "
        "(how many requests, how fast, ratings). This cannot be undone."), reply_markup=kb)


async def delete_confirmed(query: CallbackQuery, session: AsyncSession, user: User, state: FSMContext,
                           settings: Settings, inbound_id: int | None = None) -> None:
    await privacy.erase_user(session, settings, user, utcnow(), current_update=inbound_id)
    await state.clear()
    await session.commit()
    await query.answer()
    await edit_in_place(query, _("Your data has been erased. Write to me any time if you want to use the service again."), None)
    if isinstance(query.message, Message):
        await query.message.answer(_("Goodbye."), reply_markup=ReplyKeyboardRemove())


async def delete_kept(query: CallbackQuery) -> None:
    await query.answer()
    await edit_in_place(query, _("Nothing was erased."), None)


async def from_profile(query: CallbackQuery, callback_data: ProfileCb, session: AsyncSession, user: User,
                       state: FSMContext, settings: Settings, i18n: PoI18n) -> None:
    """The same three from 👤 My profile's buttons: no command to type (issue 20)."""
    await query.answer()
    if not isinstance(query.message, Message):
        return
    if callback_data.action == "privacy":
        await show_notice(query.message, user, state, settings)
    elif callback_data.action == "mydata":
        await my_data(query.message, session, user, i18n)
    else:
        await delete_ask(query.message)


def create_router() -> Router:
    """The privacy commands; a new router each call (one per dispatcher)."""
    router = Router(name="privacy")
    router.message.register(show_notice, Command("privacy"))
    router.message.register(my_data, Command("mydata"))
    router.message.register(delete_ask, Command("deletemydata"))
    router.callback_query.register(delete_confirmed, PrivacyCb.filter(F.action == "erase"))
    router.callback_query.register(delete_kept, PrivacyCb.filter(F.action == "keep"))
    router.callback_query.register(from_profile, ProfileCb.filter(F.action.in_({"privacy", "mydata", "erase"})))
    return router
