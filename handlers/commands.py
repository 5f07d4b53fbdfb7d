"""The command list shown by Telegram, per language.

Telegram targets command lists by two-letter language code, which cannot tell
Simplified from Traditional Chinese; so the default list is the deployment's
default locale, ``en`` gets English, and a user who picks a language gets a
list for their own chat.
"""

from __future__ import annotations

from aiogram import Bot
from aiogram.types import BotCommand, BotCommandScopeChat, BotCommandScopeDefault

from bot.i18n import PoI18n


def N_(message: str) -> str:
    """Marks a string for extraction; it is translated later, per locale."""
    return message


_COMMANDS = (
    ("menu", N_("Main menu")),
    ("mycases", N_("My cases and their progress")),
    ("appointments", N_("My appointments at service stations")),
    ("profile", N_("My profile and home building")),
    ("lang", N_("Change language")),
    ("help", N_("What this bot can do")),
    ("cancel", N_("Cancel what I am doing")),
)


def commands_for(i18n: PoI18n, locale: str) -> list[BotCommand]:
    return [BotCommand(command=name, description=i18n.gettext(text, locale=locale)) for name, text in _COMMANDS]


async def publish_default_commands(bot: Bot, i18n: PoI18n) -> None:
    await bot.set_my_commands(commands_for(i18n, i18n.default_locale), scope=BotCommandScopeDefault())
    await bot.set_my_commands(commands_for(i18n, "en"), scope=BotCommandScopeDefault(), language_code="en")


async def set_chat_commands(bot: Bot, i18n: PoI18n, chat_id: int, locale: str) -> None:
    await bot.set_my_commands(commands_for(i18n, locale), scope=BotCommandScopeChat(chat_id=chat_id))
