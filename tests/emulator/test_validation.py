"""Payloads the real Bot API rejects are rejected here too, with Telegram's wording."""

from __future__ import annotations

import pytest
from aiogram import Bot
from aiogram.exceptions import TelegramBadRequest
from aiogram.types import (
    BotCommand,
    BufferedInputFile,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    ReplyParameters,
)

from bot.sandbox.emulator import BotAPIEmulator, EmuUser


def one_button(**kwargs: str) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(inline_keyboard=[[InlineKeyboardButton(text="b", **kwargs)]])


async def bad_request(coro: object) -> str:
    with pytest.raises(TelegramBadRequest) as err:
        await coro  # type: ignore[misc]
    return err.value.message


async def test_text_length_is_counted_after_entity_parsing(
    emu: BotAPIEmulator, bot: Bot, user: EmuUser
) -> None:
    assert await bad_request(bot.send_message(user.id, "a" * 4097)) == (
        "Bad Request: message is too long"
    )
    ok = await bot.send_message(user.id, "<b>" + "a" * 4096 + "</b>", parse_mode="HTML")
    assert len(ok.text) == 4096
    assert await bad_request(bot.send_message(user.id, "  \n ")) == (
        "Bad Request: message text is empty"
    )
    assert await bad_request(bot.send_message(user.id, "<b></b>", parse_mode="HTML")) == (
        "Bad Request: message text is empty"
    )
    assert (
        await bad_request(
            bot.send_photo(user.id, BufferedInputFile(b"img", "p.jpg"), caption="c" * 1025)
        )
        == "Bad Request: message caption is too long"
    )


async def test_callback_data_and_buttons(emu: BotAPIEmulator, bot: Bot, user: EmuUser) -> None:
    for data in ("x" * 65, "网" * 22):  # 65 bytes, 66 bytes in UTF-8
        message = await bad_request(
            bot.send_message(user.id, "t", reply_markup=one_button(callback_data=data))
        )
        assert message == "Bad Request: BUTTON_DATA_INVALID"
    assert await bot.send_message(user.id, "t", reply_markup=one_button(callback_data="网" * 21))
    assert "Text buttons are unallowed" in await bad_request(
        bot.send_message(user.id, "t", reply_markup=one_button())
    )
    assert (
        await bad_request(bot.send_message(user.id, "t", reply_markup=one_button(url="not a url")))
        == "Bad Request: BUTTON_URL_INVALID"
    )


async def test_chat_and_message_lookups(emu: BotAPIEmulator, bot: Bot, user: EmuUser) -> None:
    assert await bad_request(bot.send_message(987654321, "hi")) == "Bad Request: chat not found"
    assert (
        await bad_request(bot.edit_message_text("x", chat_id=user.id, message_id=42))
        == "Bad Request: message to edit not found"
    )
    assert await bad_request(bot.delete_message(user.id, 42)) == (
        "Bad Request: message to delete not found"
    )
    sent = await bot.send_message(user.id, "hello", reply_markup=one_button(callback_data="k"))
    assert await bad_request(
        bot.edit_message_text(
            "hello",
            chat_id=user.id,
            message_id=sent.message_id,
            reply_markup=one_button(callback_data="k"),
        )
    ) == (
        "Bad Request: message is not modified: specified new message content and reply markup "
        "are exactly the same as a current content and reply markup of the message"
    )
    assert "there is no caption" in await bad_request(
        bot.edit_message_caption(chat_id=user.id, message_id=sent.message_id, caption="c")
    )
    await bot.delete_message(user.id, sent.message_id)
    assert await bad_request(bot.delete_message(user.id, sent.message_id)) == (
        "Bad Request: message to delete not found"
    )
    assert (
        await bad_request(
            bot.send_message(
                user.id, "r", reply_parameters=ReplyParameters(message_id=sent.message_id)
            )
        )
        == "Bad Request: message to be replied not found"
    )
    lenient = ReplyParameters(message_id=sent.message_id, allow_sending_without_reply=True)
    assert (await bot.send_message(user.id, "r", reply_parameters=lenient)).reply_to_message is None


async def test_answer_callback_query_once(emu: BotAPIEmulator, bot: Bot, user: EmuUser) -> None:
    sent = await bot.send_message(user.id, "q", reply_markup=one_button(callback_data="go"))
    action = await emu.press_button(user, sent.message_id, "go")
    assert action.callback_query_id is not None
    assert await bot.answer_callback_query(action.callback_query_id, text="ok") is True
    too_old = "Bad Request: query is too old and response timeout expired or query ID is invalid"
    assert await bad_request(bot.answer_callback_query(action.callback_query_id)) == too_old
    assert await bad_request(bot.answer_callback_query("123")) == too_old
    assert len(emu.callback_answers) == 1


async def test_parse_modes(emu: BotAPIEmulator, bot: Bot, user: EmuUser) -> None:
    assert await bad_request(bot.send_message(user.id, "<b>x", parse_mode="HTML")) == (
        "Bad Request: can't parse entities: Can't find end tag corresponding to start tag \"b\""
    )
    assert await bad_request(bot.send_message(user.id, "<x>y</x>", parse_mode="HTML")) == (
        'Bad Request: can\'t parse entities: Unsupported start tag "x" at byte offset 0'
    )
    assert "Unmatched end tag" in await bad_request(
        bot.send_message(user.id, "<b><i>x</b></i>", parse_mode="HTML")
    )
    assert "Character '!' is reserved" in await bad_request(
        bot.send_message(user.id, "Hi!", parse_mode="MarkdownV2")
    )
    assert await bad_request(bot.send_message(user.id, "x", parse_mode="Bogus")) == (
        "Bad Request: unsupported parse_mode"
    )
    sent = await bot.send_message(
        user.id, '🙂 <b>粗</b> <a href="https://example.org">链接</a> &lt;3', parse_mode="HTML"
    )
    assert sent.text == "🙂 粗 链接 <3"
    assert [(e.type, e.offset, e.length) for e in sent.entities] == [
        ("bold", 3, 1),
        ("text_link", 5, 2),
    ]
    stored = emu.messages(user.id)[-1]
    assert stored.text == "🙂 粗 链接 <3" and stored.entities[1]["url"] == "https://example.org"
    md = await bot.send_message(user.id, "*粗* _斜_ 1\\.5", parse_mode="MarkdownV2")
    assert md.text == "粗 斜 1.5" and [e.type for e in md.entities] == ["bold", "italic"]


async def test_misc_parameter_validation(emu: BotAPIEmulator, bot: Bot, user: EmuUser) -> None:
    assert await bad_request(bot.send_chat_action(user.id, "dancing")) == (
        "Bad Request: wrong parameter action in request"
    )
    assert (
        await bad_request(bot.set_my_commands([BotCommand(command="Bad-Command", description="x")]))
        == "Bad Request: BOT_COMMAND_INVALID"
    )
    assert await bad_request(bot.send_location(user.id, latitude=91, longitude=0)) == (
        "Bad Request: wrong latitude or longitude specified"
    )
    status, body = await emu.call("123456:TEST", "sendMessage", {"text": "no chat"})
    assert (status, body["description"]) == (400, "Bad Request: chat_id is empty")
    status, body = await emu.call(
        "123456:TEST", "sendMessage", {"chat_id": user.id, "text": "x", "reply_markup": "{oops"}
    )
    assert body == {
        "ok": False,
        "error_code": 400,
        "description": "Bad Request: can't parse reply keyboard markup JSON object",
    }
    status, body = await emu.call("123456:TEST", "getUpdates", {"offset": "abc"})
    assert status == 400 and "offset" in body["description"]
