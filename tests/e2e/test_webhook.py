"""Webhook mode: the emulator pushes updates; each is committed before 200."""

from __future__ import annotations

import asyncio
import socket

import aiohttp
import pytest
from sqlalchemy import select

from bot.app import GridBotApp
from bot.config import ConfigError
from models import InboundStatus, InboundUpdate
from tests.conftest import BOT_TOKEN
from tests.e2e.conftest import make_settings


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


async def test_webhook_stores_then_handles(emulator, db_url, demo_sessionmaker):
    port = _free_port()
    settings = make_settings(
        emulator, db_url,
        WEBHOOK_URL=f"http://127.0.0.1:{port}/tg/webhook",
        WEBHOOK_SECRET="s3cret-token",
        WEBHOOK_LISTEN_HOST="127.0.0.1",
        WEBHOOK_LISTEN_PORT=port,
    )
    app = GridBotApp.create(settings, token=BOT_TOKEN)
    task = asyncio.create_task(app.run())
    try:
        await emulator.wait_for(lambda: emulator.webhook_url() == f"http://127.0.0.1:{port}/tg/webhook", 15)
        user = emulator.create_user(first_name="网钩")
        action = await emulator.send_text(user, "/start")
        reply = await emulator.wait_for_message(user.id, timeout=10)
        assert "👋" in reply.text  # the welcome (her Telegram speaks Chinese: no language question)
        await app.pipeline.wait_handled(action.update_id)
        async with demo_sessionmaker() as s:
            row = await s.scalar(select(InboundUpdate).where(InboundUpdate.update_id == action.update_id))
        assert row.status == InboundStatus.done

        # A request without the secret is refused and stores nothing.
        async with aiohttp.ClientSession() as http:
            forged = {"update_id": 999999, "message": action.update["message"]}
            async with http.post(f"http://127.0.0.1:{port}/tg/webhook", json=forged) as resp:
                assert resp.status == 401
            async with http.post(f"http://127.0.0.1:{port}/tg/webhook", data=b"not json",
                                 headers={"X-Telegram-Bot-Api-Secret-Token": "s3cret-token"}) as resp:
                assert resp.status == 400
        async with demo_sessionmaker() as s:
            assert await s.scalar(select(InboundUpdate).where(InboundUpdate.update_id == 999999)) is None
    finally:
        app.request_stop()
        await asyncio.wait_for(task, 15)
        await app.close()
    assert emulator.unknown_methods == []


async def test_webhook_without_secret_never_listens(emulator, db_url):
    """The app itself refuses to build a webhook server with no secret (``run`` says so first)."""
    settings = make_settings(emulator, db_url, WEBHOOK_URL="http://127.0.0.1:9/tg/webhook", WEBHOOK_SECRET="")
    app = GridBotApp.create(settings, token=BOT_TOKEN)
    try:
        with pytest.raises(ConfigError, match="^WEBHOOK_SECRET:"):
            app.webhook_app("/tg/webhook")
    finally:
        await app.close()
