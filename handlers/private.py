"""The first router: the bot answers private data only in private chats.

Case cards, phones, households, resident lists, profiles and the menus that
lead to them are shown only in a user's private chat with the bot (issue 16).
In a group, a command for this bot or a button press gets a short "please
ask me in a private chat" (a press as an alert, seen by the presser alone); any other
message is taken here and left unanswered, so a group's chatter never starts
a case, a registration or a patrol note, and nothing is posted to the group.
The bot's own messages (the outbox) always go to a user's private chat.
"""

from __future__ import annotations

from aiogram import Bot, F, Router
from aiogram.types import CallbackQuery, Message
from aiogram.utils.i18n import gettext as _

NOT_PRIVATE = F.chat.type != "private"


def private_only_text() -> str:
    return _("Please ask me in a private chat: I do not show personal information in groups.")


async def command_for_us(message: Message, bot: Bot) -> bool:
    """``/inbox`` or ``/inbox@thisbot``; not ``/inbox@anotherbot`` (a group may have several bots)."""
    text = message.text or ""
    if not text.startswith("/"):
        return False
    mention = text.split(maxsplit=1)[0].partition("@")[2]
    return not mention or mention.lower() == ((await bot.me()).username or "").lower()


async def command_in_group(message: Message) -> None:
    await message.reply(private_only_text())


async def other_in_group(message: Message) -> None:
    """Group chatter: taken, not answered."""


async def press_in_group(query: CallbackQuery) -> None:
    await query.answer(private_only_text(), show_alert=True)


def create_router() -> Router:
    """This module's routing table; a new router each call (one per dispatcher)."""
    router = Router(name="private")
    # Any command for this bot (``/inbox`` or ``/inbox@thisbot``; not ``/inbox@anotherbot``).
    router.message.register(command_in_group, NOT_PRIVATE, command_for_us)
    router.message.register(other_in_group, NOT_PRIVATE)
    router.edited_message.register(other_in_group, NOT_PRIVATE)
    router.callback_query.register(press_in_group, F.message.chat.type != "private")
    return router
