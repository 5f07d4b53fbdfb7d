"""The routers' filters, as prepared by handlers.routers.prepare_filters, answer as
aiogram's own would."""

from __future__ import annotations

from datetime import UTC, datetime

from aiogram import Bot
from aiogram.filters import Command
from aiogram.types import Chat, Message, User

from handlers.routers import get_routers

TEXTS = ["/start", "/start inv_abc", "  /help", "/help@gridbot_test", "/help@someone_else", "/HELP", "hello",
         "❓ 帮助", "", " ", "/", "/ help", "！help", "\n/menu", "help /help", "/cancel"]


def _message(text: str | None = None, caption: str | None = None) -> Message:
    return Message(message_id=1, date=datetime(2026, 11, 27, tzinfo=UTC), chat=Chat(id=5, type="private"),
                   from_user=User(id=5, is_bot=False, first_name="A"), text=text, caption=caption)


def _command_filters(routers):  # type: ignore[no-untyped-def]
    for router in routers:
        for observer in router.observers.values():
            for handler in observer.handlers:
                for item in handler.filters or ():
                    original = getattr(item.callback, "__wrapped__", None)
                    if isinstance(original, Command):
                        yield item, original
        yield from _command_filters(router.sub_routers)


async def test_command_filters_answer_as_aiograms_own():
    bot = Bot("1:test")
    bot._me = User(id=1, is_bot=True, first_name="Bot", username="gridbot_test")  # no getMe call
    filters = list(_command_filters(get_routers()))
    assert len(filters) > 10  # every command of every router was prepared
    messages = [_message(text=t) for t in TEXTS] + [_message(caption="/menu"), _message(caption="menu"),
                                                     _message()]
    for item, original in filters:
        for message in messages:
            assert await item.call(message, bot=bot) == await original(message, bot=bot), (original, message.text)
    await bot.session.close()
