"""Injected faults, blocked users and flood limits surface as aiogram exceptions."""

from __future__ import annotations

import time

import pytest
from aiogram import Bot
from aiogram.exceptions import (
    TelegramBadRequest,
    TelegramForbiddenError,
    TelegramRetryAfter,
    TelegramServerError,
)

from bot.sandbox.emulator import BotAPIEmulator, EmuUser


@pytest.mark.parametrize(
    ("kind", "exc", "status", "text"),
    [
        ("429", TelegramRetryAfter, 429, "Too Many Requests: retry after 3"),
        ("403", TelegramForbiddenError, 403, "Forbidden: bot was blocked by the user"),
        ("400_not_found", TelegramBadRequest, 400, "Bad Request: chat not found"),
        ("5xx", TelegramServerError, 502, "Bad Gateway"),
    ],
)
async def test_fault_kinds_map_to_aiogram_exceptions(
    emu: BotAPIEmulator,
    bot: Bot,
    user: EmuUser,
    kind: str,
    exc: type[Exception],
    status: int,
    text: str,
) -> None:
    handle = emu.faults.inject("sendMessage", kind=kind, retry_after=3)
    with pytest.raises(exc) as err:
        await bot.send_message(user.id, "hi")
    assert text in err.value.message  # type: ignore[attr-defined]
    if kind == "429":
        assert isinstance(err.value, TelegramRetryAfter) and err.value.retry_after == 3
    assert handle.hits == 1 and not handle.active
    assert (await bot.send_message(user.id, "hi again")).text == "hi again"
    first, second = emu.calls_to("sendMessage")
    assert (first.status, first.description, second.status) == (status, text, 200)


async def test_delay_fault_times_and_filters(emu: BotAPIEmulator, bot: Bot, user: EmuUser) -> None:
    emu.faults.inject("getMe", kind="delay", delay=0.2)
    started = time.monotonic()
    assert (await bot.get_me()).id == 123456
    assert time.monotonic() - started >= 0.2

    other = emu.create_user("Other")
    forever = emu.faults.inject(kind="5xx", status=503, times=None, chat_id=user.id)
    for _ in range(3):
        with pytest.raises(TelegramServerError, match="Service Unavailable"):
            await bot.send_message(user.id, "x")
    await bot.send_message(other.id, "unaffected")
    assert await bot.get_updates() == []  # method-less faults never hit getUpdates
    forever.remove()
    await bot.send_message(user.id, "recovered")
    assert forever.hits == 3

    emu.faults.inject("sendMessage", kind="429", times=2)
    for _ in range(2):
        with pytest.raises(TelegramRetryAfter):
            await bot.send_message(user.id, "x")
    await bot.send_message(user.id, "third time lucky")


async def test_block_and_unblock(emu: BotAPIEmulator, bot: Bot, user: EmuUser) -> None:
    emu.block(user, notify=True)
    with pytest.raises(TelegramForbiddenError, match="bot was blocked by the user"):
        await bot.send_message(user.id, "hello?")
    with pytest.raises(TelegramForbiddenError):
        await bot.send_chat_action(user.id, "typing")
    update = (await bot.get_updates())[0]
    assert update.my_chat_member is not None
    assert update.my_chat_member.new_chat_member.status == "kicked"
    emu.unblock(user)
    assert (await bot.send_message(user.id, "welcome back")).text == "welcome back"


async def test_bot_cannot_initiate_conversation(emu: BotAPIEmulator, bot: Bot) -> None:
    shy = emu.create_user("Shy", started=False)
    with pytest.raises(TelegramForbiddenError, match="can't initiate conversation"):
        await bot.send_message(shy.id, "hi")
    await emu.send_text(shy, "/start")
    assert (await bot.send_message(shy.id, "hi")).chat.id == shy.id


async def test_per_chat_rate_limit(emu: BotAPIEmulator, bot: Bot, user: EmuUser) -> None:
    emu.set_rate_limits(global_per_second=None, per_chat_per_second=1, per_group_per_minute=None)
    other = emu.create_user("Other")
    await bot.send_message(user.id, "1")
    with pytest.raises(TelegramRetryAfter) as err:
        await bot.send_message(user.id, "2")
    assert err.value.retry_after == 1
    assert "Too Many Requests: retry after 1" in err.value.message
    await bot.send_message(other.id, "other chat is fine")
    assert [(h.scope, h.chat_id, h.retry_after) for h in emu.rate_limit_hits] == [
        ("chat", user.id, 1)
    ]
    assert [e.chat_id for e in emu.send_log] == [user.id, other.id]


async def test_global_and_group_rate_limits(emu: BotAPIEmulator, bot: Bot) -> None:
    emu.set_rate_limits(global_per_second=5, per_chat_per_second=None, per_group_per_minute=3)
    users = [emu.create_user(f"u{i}") for i in range(6)]
    for u in users[:5]:
        await bot.send_message(u.id, "broadcast")
    with pytest.raises(TelegramRetryAfter):
        await bot.send_message(users[5].id, "broadcast")
    assert emu.rate_limit_hits[-1].scope == "global"

    emu.set_rate_limits(global_per_second=None, per_chat_per_second=None, per_group_per_minute=3)
    group = emu.create_group("楼栋群")
    for i in range(3):
        await bot.send_message(group.id, f"通知 {i}")
    with pytest.raises(TelegramRetryAfter) as err:
        await bot.send_message(group.id, "通知 3")
    assert 55 <= err.value.retry_after <= 60
    assert emu.rate_limit_hits[-1].scope == "group"
    emu.set_rate_limits(None, None, None)
    await bot.send_message(group.id, "limits off")
    assert len(emu.send_log) == 9
