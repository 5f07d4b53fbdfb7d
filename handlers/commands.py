"""The command list shown by Telegram, per language.

Telegram targets command lists by two-letter language code, which cannot tell
Simplified from Traditional Chinese; so the default list is the deployment's
default locale, ``en`` gets English, and a user who picks a language (or
takes a role through an invite) gets a list for their own chat, which also
names the commands of their roles (/diary, /report, /broadcast).
"""

from __future__ import annotations

from collections.abc import Collection

from aiogram import Bot
from aiogram.types import BotCommand, BotCommandScopeChat, BotCommandScopeDefault

from bot.answers import send_aside
from bot.i18n import PoI18n
from bot.services import users as user_service
from models import Role, User


def N_(message: str) -> str:
    """Marks a string for extraction; it is translated later, per locale."""
    return message


_COMMANDS = (
    ("menu", N_("Main menu")),
    ("mycases", N_("My cases and their progress")),
    ("appointments", N_("My appointments at service stations")),
    ("profile", N_("My profile and home building")),
    ("family", N_("My family: who may act for me")),
    ("lang", N_("Change language")),
    ("mydata", N_("A copy of my data")),
    ("deletemydata", N_("Erase my data")),
    ("help", N_("What this bot can do")),
    ("cancel", N_("Cancel what I am doing")),
)


# Commands for some roles only, listed (after the common ones) in the chats
# of people who hold one of the roles; the menus show the same entries.
_ROLE_COMMANDS = (
    ("diary", N_("Patrol diary"), {Role.worker, Role.grid_head, Role.staff}),
    ("report", N_("Reports and figures"), {Role.grid_head, Role.staff, Role.admin}),
    ("broadcast", N_("Send a notice"), {Role.grid_head, Role.staff, Role.admin}),
    ("consult", N_("Residents' consultations"), {Role.grid_head, Role.staff, Role.admin}),
)


def commands_for(i18n: PoI18n, locale: str, roles: Collection[Role] = ()) -> list[BotCommand]:
    names = [(name, text) for name, text in _COMMANDS]
    names += [(name, text) for name, text, holders in _ROLE_COMMANDS if holders.intersection(roles)]
    return [BotCommand(command=name, description=i18n.gettext(text, locale=locale)) for name, text in names]


async def publish_default_commands(bot: Bot, i18n: PoI18n) -> None:
    await bot.set_my_commands(commands_for(i18n, i18n.default_locale), scope=BotCommandScopeDefault())
    await bot.set_my_commands(commands_for(i18n, "en"), scope=BotCommandScopeDefault(), language_code="en")


def default_list_fits(i18n: PoI18n, locale: str, language_code: str | None, roles: Collection[Role] = ()) -> bool:
    """Whether the list Telegram shows a chat with no list of its own (by the person's
    language code: English for ``en``, else the default locale's) is already the one
    ``set_chat_commands`` would set: then a new person's chat needs no request."""
    shown = "en" if (language_code or "").split("-")[0].lower() == "en" else i18n.default_locale
    return not roles and shown == locale


async def set_chat_commands(
    bot: Bot, i18n: PoI18n, chat_id: int, locale: str, roles: Collection[Role] = ()
) -> None:
    """The chat's own command list, at once and aside from the update's answers
    (``bot.answers.send_aside``): no transaction stays open across the request, and
    the update is not marked done by it, so a process killed while it is in flight
    leaves the update to be handled again and its answers are not lost (a list that
    did not reach Telegram is only logged: the menu buttons work without it)."""
    await send_aside(bot.set_my_commands(commands_for(i18n, locale, roles),
                                         scope=BotCommandScopeChat(chat_id=chat_id)))


async def newcomer_commands(bot: Bot, i18n: PoI18n, chat_id: int, user: User,
                            language_code: str | None) -> None:
    """A newcomer's first update (``/start`` or their first words): their chat gets a list
    of its own only when the one Telegram shows by their language code is not in their
    language (most people's is: a request and a commit fewer per newcomer)."""
    roles = user_service.staff_roles(user)
    if user.locale is None or default_list_fits(i18n, user.locale, language_code, roles):
        return
    await set_chat_commands(bot, i18n, chat_id, user.locale, roles)
