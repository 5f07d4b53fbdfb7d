"""Last router: anything no other handler took gets a clear answer."""

from __future__ import annotations

from aiogram import Bot, F, Router
from aiogram.fsm.context import FSMContext
from aiogram.types import CallbackQuery, Message, Update
from aiogram.utils.i18n import gettext as _
from sqlalchemy.ext.asyncio import AsyncSession

from bot.config import Settings
from bot.i18n import PoI18n
from bot.services import privacy
from bot.services import users as user_service
from handlers.commands import newcomer_commands
from handlers.labels import menu_labels
from handlers.resident import ask_place, found_by_words, needs_home, remind_consent, welcome
from models import User, utcnow


async def noop(query: CallbackQuery) -> None:
    await query.answer()


async def stale_button(query: CallbackQuery) -> None:
    await query.answer(_("This button is no longer valid."), show_alert=True)


async def unknown_command(message: Message) -> None:
    await message.answer(_("I do not know that command. Tap ❓ Help to see what I can do."))


async def anything_else(message: Message, user: User, state: FSMContext, session: AsyncSession,
                        i18n: PoI18n, settings: Settings, bot: Bot, event_update: Update | None = None) -> None:
    if needs_home(user):
        if user.locale is None:
            user.locale = i18n.current_locale
        if user_service.created_now(session, user):  # their first words, before any /start
            await newcomer_commands(bot, i18n, message.chat.id, user,
                                    message.from_user.language_code if message.from_user else None)
        elif (user_service.needs_privacy_consent(user) and event_update is not None
              and await privacy.notice_just_above(session, bot.id, message.chat.id, event_update.update_id,
                                                  utcnow(), not_words=menu_labels(i18n))):
            await remind_consent(message)
            return
        if await found_by_words(message, state, session, i18n.current_locale, user):
            return
        await ask_place(message, state, session, i18n.current_locale, user, settings,
                        intro=welcome() if user.registered_at is None else None)
        return
    await message.answer(_("Please choose from the menu below, or tap ❓ Help."))


def create_router() -> Router:
    """This audience's routing table; a new router each call (one per dispatcher)."""
    router = Router(name="fallback")
    router.callback_query.register(noop, F.data == "noop")
    router.callback_query.register(stale_button)
    router.message.register(unknown_command, F.text.startswith("/"))
    router.message.register(anything_else)
    return router
