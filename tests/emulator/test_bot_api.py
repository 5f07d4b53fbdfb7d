"""Core Bot API behaviour, exercised with a real aiogram Bot over HTTP."""

from __future__ import annotations

import asyncio
import json
import time

import aiohttp
import pytest
from aiogram import Bot, Dispatcher, F, Router
from aiogram.exceptions import (
    TelegramConflictError,
    TelegramNotFound,
    TelegramUnauthorizedError,
)
from aiogram.methods import TelegramMethod
from aiogram.types import (
    BotCommand,
    BotCommandScopeChat,
    CallbackQuery,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    KeyboardButton,
    MenuButtonCommands,
    Message,
    ReplyKeyboardMarkup,
    ReplyKeyboardRemove,
)

from bot.sandbox.emulator import BotAPIEmulator, EmuUser
from tests.emulator.conftest import TOKEN, make_bot


class SendUnicorn(TelegramMethod[bool]):
    """A method the Bot API does not have."""

    __returning__ = bool
    __api_method__ = "sendUnicorn"

    chat_id: int


def keyboard(*rows: list[tuple[str, str]]) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(
        inline_keyboard=[
            [InlineKeyboardButton(text=t, callback_data=d) for t, d in row] for row in rows
        ]
    )


async def test_get_me(bot: Bot) -> None:
    me = await bot.get_me()
    assert (me.id, me.username, me.first_name, me.is_bot) == (
        123456,
        "gridbot_test",
        "GridBot",
        True,
    )


async def test_unknown_token_is_unauthorized(emu: BotAPIEmulator) -> None:
    stranger = make_bot(emu, "999:NOPE")
    try:
        with pytest.raises(TelegramUnauthorizedError):
            await stranger.get_me()
    finally:
        await stranger.session.close()


async def test_inline_keyboard_press_reaches_dispatcher(
    emu: BotAPIEmulator, bot: Bot, user: EmuUser
) -> None:
    sent = await bot.send_message(user.id, "选一个", reply_markup=keyboard([("是", "vote:yes")]))
    record = emu.messages(user.id)[-1]
    assert record.inline_buttons == [[("是", "vote:yes")]]
    assert sent.reply_markup is not None

    router = Router()
    seen: list[CallbackQuery] = []

    @router.callback_query(F.data.startswith("vote:"))
    async def on_vote(query: CallbackQuery) -> None:
        seen.append(query)
        await query.answer("收到", show_alert=True)
        assert isinstance(query.message, Message)
        await query.message.edit_text(f"已选 {query.data}")

    dp = Dispatcher()
    dp.include_router(router)
    polling = asyncio.create_task(
        dp.start_polling(bot, handle_signals=False, close_bot_session=False, polling_timeout=5)
    )
    try:
        action = await emu.press_button(user, sent.message_id, "vote:yes")
        edited = await emu.wait_for_message(user.id, lambda m: m.text.startswith("已选"))
    finally:
        await dp.stop_polling()
        await polling

    assert edited.message_id == sent.message_id
    assert edited.text == "已选 vote:yes" and edited.edits == 1
    assert edited.inline_buttons == []  # edit without reply_markup drops the keyboard
    assert seen[0].from_user.id == user.id and seen[0].id == action.callback_query_id
    assert emu.callback_answers == [
        {
            "callback_query_id": action.callback_query_id,
            "text": "收到",
            "show_alert": True,
            "url": None,
            "cache_time": 0,
            "chat_id": user.id,
            "message_id": sent.message_id,
            "time": emu.callback_answers[0]["time"],
        }
    ]
    assert emu.unknown_methods == []


async def test_forged_callback_data_and_missing_message(
    emu: BotAPIEmulator, bot: Bot, user: EmuUser
) -> None:
    sent = await bot.send_message(user.id, "hi", reply_markup=keyboard([("a", "a")]))
    await emu.press_button(user, sent.message_id, "admin:drop_all")
    with pytest.raises(LookupError):
        await emu.press_button(user, 999, "x")
    await emu.press_button(user, 999, "x", allow_missing=True)
    updates = await bot.get_updates()
    assert [u.callback_query.data for u in updates] == ["admin:drop_all", "x"]
    assert updates[1].callback_query.message.date == 0  # InaccessibleMessage


async def test_edit_message_text_in_place(emu: BotAPIEmulator, bot: Bot, user: EmuUser) -> None:
    sent = await bot.send_message(user.id, "第一版", reply_markup=keyboard([("x", "x")]))
    edited = await bot.edit_message_text(
        "第二版", chat_id=user.id, message_id=sent.message_id, reply_markup=keyboard([("y", "y")])
    )
    assert isinstance(edited, Message) and edited.edit_date is not None
    messages = emu.messages(user.id)
    assert len(messages) == 1
    assert (messages[0].text, messages[0].edits) == ("第二版", 1)
    assert messages[0].inline_buttons == [[("y", "y")]]
    await bot.edit_message_reply_markup(chat_id=user.id, message_id=sent.message_id)
    assert emu.messages(user.id)[0].inline_buttons == []


async def test_offset_confirmation_drops_updates(
    emu: BotAPIEmulator, bot: Bot, user: EmuUser
) -> None:
    for text in ("一", "二", "三"):
        await emu.send_text(user, text)
    updates = await bot.get_updates()
    assert [u.message.text for u in updates] == ["一", "二", "三"]
    assert len(await bot.get_updates()) == 3  # nothing confirmed yet
    rest = await bot.get_updates(offset=updates[1].update_id + 1)
    assert [u.message.text for u in rest] == ["三"]
    assert len(emu.pending_updates()) == 1
    assert await bot.get_updates(offset=rest[0].update_id + 1) == []
    assert emu.pending_updates() == []
    limited = [await emu.send_text(user, str(i)) for i in range(3)]
    assert len(await bot.get_updates(limit=2)) == 2
    last = await bot.get_updates(offset=-1)
    assert [u.update_id for u in last] == [limited[-1].update_id]


async def test_long_polling_returns_promptly(emu: BotAPIEmulator, bot: Bot, user: EmuUser) -> None:
    poll = asyncio.create_task(bot.get_updates(timeout=20))
    await emu.wait_for(lambda: emu.long_polls_waiting() == 1, timeout=2)
    started = time.monotonic()
    await emu.send_text(user, "/start")
    updates = await asyncio.wait_for(poll, timeout=2)
    assert time.monotonic() - started < 1.0
    assert updates[0].message.text == "/start"
    assert updates[0].message.entities[0].type == "bot_command"

    started = time.monotonic()
    empty = await bot.get_updates(offset=updates[0].update_id + 1, timeout=1)
    assert empty == [] and time.monotonic() - started >= 0.9


async def test_second_poller_terminates_first(emu: BotAPIEmulator, bot: Bot, user: EmuUser) -> None:
    first = asyncio.create_task(bot.get_updates(timeout=20))
    await emu.wait_for(lambda: emu.long_polls_waiting() == 1, timeout=2)
    second = asyncio.create_task(bot.get_updates(timeout=20))
    with pytest.raises(TelegramConflictError, match="terminated by other getUpdates"):
        await asyncio.wait_for(first, timeout=2)
    await emu.wait_for(lambda: emu.long_polls_waiting() == 1, timeout=2)
    await emu.send_text(user, "ping")
    updates = await asyncio.wait_for(second, timeout=2)
    assert [u.message.text for u in updates] == ["ping"]


async def test_allowed_updates_filter_new_updates(
    emu: BotAPIEmulator, bot: Bot, user: EmuUser
) -> None:
    await bot.get_updates(allowed_updates=["callback_query"])
    action = await emu.send_text(user, "ignored")
    assert action.queued is False and emu.pending_updates() == []
    await bot.get_updates(allowed_updates=[])
    assert (await emu.send_text(user, "seen")).queued is True


async def test_unknown_method_is_recorded(emu: BotAPIEmulator, bot: Bot, user: EmuUser) -> None:
    with pytest.raises(TelegramNotFound):
        await bot(SendUnicorn(chat_id=user.id))
    assert emu.unknown_methods == ["sendUnicorn"]
    assert emu.calls[-1].status == 404


async def test_raw_http_encodings(emu: BotAPIEmulator, user: EmuUser) -> None:
    base = f"{emu.base_url}/bot{TOKEN}"
    async with aiohttp.ClientSession() as http:
        async with http.get(f"{base}/GETME") as resp:
            assert resp.status == 200 and (await resp.json())["result"]["id"] == 123456
        async with http.get(f"{base}/sendMessage", params={"chat_id": user.id, "text": "q"}) as r:
            assert (await r.json())["result"]["text"] == "q"
        markup = {"inline_keyboard": [[{"text": "j", "callback_data": "j"}]]}
        body = {"chat_id": user.id, "text": "json", "reply_markup": markup}
        async with http.post(f"{base}/sendMessage", json=body) as resp:
            assert (await resp.json())["result"]["reply_markup"] == markup
        form = {"chat_id": str(user.id), "text": "form", "reply_markup": json.dumps(markup)}
        async with http.post(f"{base}/sendmessage", data=form) as resp:
            assert resp.status == 200
        async with http.post(f"{emu.base_url}/bot1:x/getMe") as resp:
            assert resp.status == 401
            assert await resp.json() == {
                "ok": False,
                "error_code": 401,
                "description": "Unauthorized",
            }
        async with http.post(f"{base}/noSuchMethod") as resp:
            assert resp.status == 404
            assert await resp.json() == {"ok": False, "error_code": 404, "description": "Not Found"}
    assert [m.text for m in emu.messages(user.id)] == ["q", "json", "form"]
    assert emu.unknown_methods == ["noSuchMethod"]


async def test_reply_keyboards(emu: BotAPIEmulator, bot: Bot, user: EmuUser) -> None:
    markup = ReplyKeyboardMarkup(
        keyboard=[
            [KeyboardButton(text="📍 位置", request_location=True)],
            [KeyboardButton(text="取消")],
        ],
        resize_keyboard=True,
    )
    sent = await bot.send_message(user.id, "请分享位置", reply_markup=markup)
    assert sent.reply_markup is None  # Telegram does not echo reply keyboards
    assert emu.messages(user.id)[-1].reply_keyboard == [["📍 位置"], ["取消"]]
    await bot.send_message(user.id, "好", reply_markup=ReplyKeyboardRemove())
    assert emu.messages(user.id)[-1].reply_markup == {"remove_keyboard": True}
    assert emu.messages(user.id)[-1].reply_keyboard is None


async def test_commands_menu_and_misc_methods(emu: BotAPIEmulator, bot: Bot, user: EmuUser) -> None:
    await bot.set_my_commands([BotCommand(command="start", description="开始")])
    await bot.set_my_commands(
        [BotCommand(command="help", description="Help")],
        scope=BotCommandScopeChat(chat_id=user.id),
        language_code="en",
    )
    assert emu.commands() == [{"command": "start", "description": "开始"}]
    assert emu.commands({"type": "chat", "chat_id": user.id}, "en") == [
        {"command": "help", "description": "Help"}
    ]
    got = await bot.get_my_commands(scope=BotCommandScopeChat(chat_id=user.id), language_code="en")
    assert [c.command for c in got] == ["help"]
    await bot.delete_my_commands()
    assert emu.commands() == [] and await bot.get_my_commands() == []

    await bot.set_chat_menu_button(chat_id=user.id, menu_button=MenuButtonCommands())
    assert emu.menu_button(user.id) == {"type": "commands"}
    assert await bot.send_chat_action(user.id, "typing") is True
    loc = await bot.send_location(user.id, latitude=31.23, longitude=121.47)
    contact = await bot.send_contact(user.id, phone_number="+8613800000000", first_name="客服")
    assert loc.location.latitude == pytest.approx(31.23)
    assert contact.contact.phone_number == "+8613800000000"
    assert [m.kind for m in emu.messages(user.id)] == ["location", "contact"]
    assert await bot.delete_message(user.id, loc.message_id) is True
    assert emu.messages(user.id)[0].deleted is True
    assert [m.kind for m in emu.messages(user.id, include_deleted=False)] == ["contact"]
    chat = await bot.get_chat(user.id)
    assert chat.first_name == "王"
    assert emu.unknown_methods == []


async def test_reply_parameters_and_group_messages(
    emu: BotAPIEmulator, bot: Bot, user: EmuUser
) -> None:
    group = emu.create_group("网格群")
    said = await emu.send_text(user, "@gridbot_test 你好", chat=group)
    reply = await bot.send_message(group.id, "您好", reply_to_message_id=said.message_id)
    assert reply.reply_to_message is not None
    assert reply.reply_to_message.message_id == said.message_id
    assert reply.chat.type == "group" and reply.chat.title == "网格群"
    update = (await bot.get_updates())[0]
    assert update.message.chat.id == group.id and update.message.from_user.id == user.id
    assert [m.from_bot for m in emu.chat_history(group.id)] == [False, True]


async def test_clock_sets_message_dates() -> None:
    async with BotAPIEmulator(clock=lambda: 1_700_000_000.5) as emu:
        emu.add_bot(TOKEN)
        who = emu.create_user("Li")
        action = await emu.send_text(who, "hi")
        assert action.update["message"]["date"] == 1_700_000_000
        client = make_bot(emu)
        try:
            sent = await client.send_message(who.id, "yo")
        finally:
            await client.session.close()
        assert int(sent.date.timestamp()) == 1_700_000_000


async def test_close_and_log_out(emu: BotAPIEmulator, bot: Bot) -> None:
    assert await bot.close() is True
    assert await bot.log_out() is True
    with pytest.raises(TelegramUnauthorizedError):
        await bot.get_me()


async def test_user_edits_and_wait_timeout(emu: BotAPIEmulator, bot: Bot, user: EmuUser) -> None:
    said = await emu.send_text(user, "地址：1号楼")
    await emu.edit_user_message(user, said.message_id, "地址：2号楼")
    first, second = await bot.get_updates()
    assert first.message.text == "地址：1号楼"
    assert second.edited_message.text == "地址：2号楼"
    assert second.edited_message.message_id == said.message_id
    assert emu.user_messages(user.id)[0].edits == 1
    with pytest.raises(TimeoutError, match="no matching bot message"):
        await emu.wait_for_message(user.id, timeout=0.05)
    await bot.send_message(user.id, "已记录")
    found = await emu.wait_for_message(user.id, after_message_id=said.message_id, timeout=1)
    assert found.text == "已记录" and emu.last_message(user.id) == found
