"""The bot's Bot API session sends JSON bodies, and forms only for uploads."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
from aiogram import Bot
from aiogram.client.default import DefaultBotProperties
from aiogram.client.telegram import TelegramAPIServer
from aiogram.enums import ParseMode
from aiogram.exceptions import TelegramBadRequest
from aiogram.methods import SendDocument, SendMessage
from aiogram.types import BufferedInputFile, InlineKeyboardButton, InlineKeyboardMarkup

from bot.http import JsonAiohttpSession, result_unused
from tests.conftest import BOT_TOKEN


@pytest.fixture
async def bot():  # type: ignore[no-untyped-def]
    session = JsonAiohttpSession()
    bot = Bot(BOT_TOKEN, session=session, default=DefaultBotProperties(parse_mode=ParseMode.HTML))
    yield bot
    await session.close()


async def test_nested_objects_stay_objects_and_defaults_apply(bot):
    keyboard = InlineKeyboardMarkup(inline_keyboard=[[InlineKeyboardButton(text="是", callback_data="y")]])
    body = bot.session.json_body(bot, SendMessage(chat_id=7, text="<b>好</b>", reply_markup=keyboard,
                                                  disable_notification=False))
    assert body == {
        "chat_id": 7,
        "text": "<b>好</b>",
        "parse_mode": "HTML",
        "disable_notification": False,
        "reply_markup": {"inline_keyboard": [[{"text": "是", "callback_data": "y"}]]},
    }


async def test_uploads_fall_back_to_a_form(bot):
    method = SendDocument(chat_id=7, document=BufferedInputFile(b"x", filename="a.csv"))
    assert bot.session.json_body(bot, method) is None


async def test_messages_and_uploads_round_trip_through_the_emulator(emulator):
    session = JsonAiohttpSession(api=TelegramAPIServer.from_base(emulator.base_url))
    bot = Bot(BOT_TOKEN, session=session)
    try:
        user = emulator.create_user(first_name="测")
        keyboard = InlineKeyboardMarkup(inline_keyboard=[[InlineKeyboardButton(text="是", callback_data="y")]])
        sent = await bot.send_message(user.id, "你好", reply_markup=keyboard)
        doc = await bot.send_document(user.id, BufferedInputFile(b"a,b\n", filename="t.csv"))
    finally:
        await session.close()
    assert sent.text == "你好" and sent.reply_markup.inline_keyboard[0][0].callback_data == "y"
    assert doc.document.file_name == "t.csv"


async def test_closing_waits_for_tls_only_when_there_is_tls(monkeypatch):
    import aiogram.client.session.aiohttp as aiogram_aiohttp

    slept: list[float] = []

    async def sleep(seconds: float) -> None:
        slept.append(seconds)

    monkeypatch.setattr(aiogram_aiohttp, "asyncio", SimpleNamespace(sleep=sleep))
    plain = JsonAiohttpSession(api=TelegramAPIServer.from_base("http://127.0.0.1:8081"))
    http = await plain.create_session()
    await plain.close()
    assert http.closed and slept == []
    tls = JsonAiohttpSession()  # Telegram's own server, over TLS
    http = await tls.create_session()
    await tls.close()
    assert http.closed and slept == [0.25]


async def test_a_result_nobody_reads_is_checked_but_not_made_into_objects(emulator):
    """An answer sent after the commit (its handler got a placeholder): a success gives
    Telegram's raw result, an error still raises as aiogram's would."""
    session = JsonAiohttpSession(api=TelegramAPIServer.from_base(emulator.base_url))
    bot = Bot(BOT_TOKEN, session=session)
    user = emulator.create_user(first_name="测")
    token = result_unused.set(True)
    try:
        raw = await bot.send_message(user.id, "你好")
        with pytest.raises(TelegramBadRequest):
            await bot.send_message(user.id, "")  # Telegram refuses an empty text
    finally:
        result_unused.reset(token)
        await session.close()
    assert isinstance(raw, dict) and raw["text"] == "你好" and raw["chat"]["id"] == user.id
    assert [m.text for m in emulator.messages(user.id)] == ["你好"]


async def test_the_json_body_is_prepared_as_aiogram_prepares_it(bot):
    """Plain values, dicts and lists are walked by our own code (bot/http.py ``_prepare``):
    the body must be what aiogram's prepare_value makes of every field, defaults, enums,
    dates and nested objects included."""
    from datetime import UTC, datetime

    from aiogram.enums import ChatAction
    from aiogram.methods import BanChatMember, EditMessageText, SendChatAction, SendPoll
    from aiogram.types import InputPollOption, LinkPreviewOptions, ReplyKeyboardMarkup
    from aiogram.types import KeyboardButton as Key

    methods = [
        SendMessage(chat_id=7, text="好", reply_markup=ReplyKeyboardMarkup(
            keyboard=[[Key(text="📍", request_location=True)], [Key(text="❓")]], resize_keyboard=True),
            link_preview_options=LinkPreviewOptions(is_disabled=True), disable_notification=True),
        EditMessageText(chat_id=-100, message_id=3, text="x", reply_markup=InlineKeyboardMarkup(
            inline_keyboard=[[InlineKeyboardButton(text="a", callback_data="1"),
                              InlineKeyboardButton(text="b", url="https://example.org")]])),
        BanChatMember(chat_id=7, user_id=8, until_date=datetime(2026, 12, 31, tzinfo=UTC)),
        SendChatAction(chat_id=7, action=ChatAction.TYPING),
        SendPoll(chat_id=7, question="?", options=[InputPollOption(text="a"), InputPollOption(text="b")],
                 open_period=30, is_anonymous=False),
    ]
    for method in methods:
        expected: dict = {}
        for key, value in method.model_dump(warnings=False, exclude_none=True).items():
            prepared = bot.session.prepare_value(value, bot=bot, files={}, _dumps_json=False)
            if prepared is not None:
                expected[key] = prepared
        assert bot.session.json_body(bot, method) == expected, method


async def test_bot_defaults_are_prepared_once_and_follow_the_bot(bot):
    """A bot default (``Default("parse_mode")``...) is prepared once per the bot's
    defaults, to what aiogram makes of it; new defaults on the bot are used."""
    from aiogram.client.default import Default

    rich = DefaultBotProperties(parse_mode=ParseMode.HTML, link_preview_is_disabled=True, protect_content=True)
    bot.default = rich
    method = SendMessage(chat_id=7, text="好")
    expected = {key: prepared for key, value in method.model_dump(warnings=False, exclude_none=True).items()
                if (prepared := bot.session.prepare_value(value, bot=bot, files={}, _dumps_json=False)) is not None}
    assert expected["link_preview_options"] == {"is_disabled": True}
    assert bot.session.json_body(bot, method) == expected
    assert bot.session.json_body(bot, SendMessage(chat_id=8, text="再")) == {**expected, "chat_id": 8, "text": "再"}
    bot.default = DefaultBotProperties(parse_mode=ParseMode.MARKDOWN_V2)
    assert bot.session.json_body(bot, method) == {"chat_id": 7, "text": "好", "parse_mode": "MarkdownV2"}
    assert isinstance(method.parse_mode, Default)
