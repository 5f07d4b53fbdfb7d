"""Webhook delivery: secret header, ordering, retries, replies carrying a method."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from aiogram import Bot, Dispatcher
from aiogram.exceptions import TelegramConflictError
from aiogram.filters import CommandStart
from aiogram.types import Message
from aiogram.webhook.aiohttp_server import SimpleRequestHandler
from aiohttp import web

from bot.sandbox.emulator import BotAPIEmulator, EmuUser


@dataclass
class Receiver:
    """A tiny webhook endpoint that fails its first ``fail_first`` requests."""

    fail_first: int = 0
    bodies: list[dict[str, Any]] = field(default_factory=list)
    secrets: list[str | None] = field(default_factory=list)
    reply: dict[str, Any] | None = None

    async def handle(self, request: web.Request) -> web.Response:
        self.bodies.append(await request.json())
        self.secrets.append(request.headers.get("X-Telegram-Bot-Api-Secret-Token"))
        if len(self.bodies) <= self.fail_first:
            return web.Response(status=500, text="boom")
        return web.json_response(self.reply or {})


async def serve(app: web.Application, port: int = 0) -> tuple[web.AppRunner, int]:
    runner = web.AppRunner(app, shutdown_timeout=0.1)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", port)
    await site.start()
    return runner, int(runner.addresses[0][1])


@pytest.fixture
async def receiver() -> AsyncIterator[tuple[Receiver, str]]:
    rec = Receiver(fail_first=1)
    app = web.Application()
    app.router.add_post("/hook", rec.handle)
    runner, port = await serve(app)
    yield rec, f"http://127.0.0.1:{port}/hook"
    await runner.cleanup()


async def test_webhook_delivery_secret_order_and_retry(
    emu: BotAPIEmulator, bot: Bot, user: EmuUser, receiver: tuple[Receiver, str]
) -> None:
    rec, url = receiver
    assert await bot.set_webhook(url, secret_token="s3cr3t-Token_1") is True
    one = await emu.send_text(user, "一")
    two = await emu.send_text(user, "二")
    await emu.wait_for(lambda: len(rec.bodies) == 3 and not emu.pending_updates(), timeout=5)

    assert [b["update_id"] for b in rec.bodies] == [one.update_id, one.update_id, two.update_id]
    assert rec.bodies[2]["message"]["text"] == "二"
    assert rec.secrets == ["s3cr3t-Token_1"] * 3
    assert [d.status for d in emu.webhook_deliveries] == [500, 200, 200]
    info = await bot.get_webhook_info()
    assert info.url == url and info.pending_update_count == 0
    assert "500" in (info.last_error_message or "")

    with pytest.raises(TelegramConflictError) as err:
        await bot.get_updates()
    assert err.value.message == (
        "Conflict: can't use getUpdates method while webhook is active; "
        "use deleteWebhook to delete the webhook first"
    )
    assert await bot.delete_webhook() is True
    assert await bot.get_updates() == []
    assert (await bot.get_webhook_info()).url == ""


async def test_webhook_retries_connection_errors_until_endpoint_is_up(
    emu: BotAPIEmulator, bot: Bot, user: EmuUser
) -> None:
    rec = Receiver()
    app = web.Application()
    app.router.add_post("/hook", rec.handle)
    runner, port = await serve(app)
    await runner.cleanup()  # the port is now closed: deliveries fail to connect

    await bot.set_webhook(f"http://127.0.0.1:{port}/hook")
    action = await emu.send_text(user, "排队")
    await emu.wait_for(lambda: len(emu.webhook_deliveries) >= 2, timeout=5)
    assert all(d.error and d.status is None for d in emu.webhook_deliveries)
    assert (await bot.get_webhook_info()).pending_update_count == 1

    runner, _ = await serve(app, port)
    try:
        await emu.wait_for(lambda: rec.bodies, timeout=5)
        await emu.wait_for(lambda: not emu.pending_updates(), timeout=5)
    finally:
        await runner.cleanup()
    assert rec.bodies[0]["update_id"] == action.update_id


async def test_set_webhook_drop_pending_updates(
    emu: BotAPIEmulator, bot: Bot, user: EmuUser, receiver: tuple[Receiver, str]
) -> None:
    rec, url = receiver
    await emu.send_text(user, "old")
    await bot.set_webhook(url, drop_pending_updates=True)
    assert emu.pending_updates() == []
    await bot.delete_webhook()
    await emu.send_text(user, "new")
    await bot.delete_webhook(drop_pending_updates=True)
    assert emu.pending_updates() == [] and rec.bodies == []


async def test_aiogram_webhook_reply_method_is_executed(
    emu: BotAPIEmulator, bot: Bot, user: EmuUser
) -> None:
    dp = Dispatcher()

    @dp.message(CommandStart())
    async def start(message: Message) -> Any:
        return message.answer("欢迎使用网格助手")  # answered inside the webhook response

    app = web.Application()
    SimpleRequestHandler(dp, bot, handle_in_background=False, secret_token="tok").register(
        app, path="/tg"
    )
    runner, port = await serve(app)
    try:
        await bot.set_webhook(f"http://127.0.0.1:{port}/tg", secret_token="tok")
        action = await emu.send_text(user, "/start")
        reply = await emu.wait_for_message(user.id, after_message_id=action.message_id)
    finally:
        await runner.cleanup()
    assert reply.text == "欢迎使用网格助手"
    assert emu.calls_to("sendMessage")[-1].status == 200
    assert emu.unknown_methods == []
