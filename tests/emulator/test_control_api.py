"""The HTTP control API used by the browser sandbox page, and the standalone CLI."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
from aiogram import Bot
from aiogram.types import InlineKeyboardButton, InlineKeyboardMarkup

from bot.sandbox.emulator import BotAPIEmulator


@pytest.fixture
async def http(emu: BotAPIEmulator) -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession(base_url=emu.base_url) as session:
        yield session


async def post(http: aiohttp.ClientSession, path: str, body: dict[str, Any]) -> Any:
    async with http.post(path, json=body) as resp:
        assert resp.status == 200, await resp.text()
        assert resp.headers["Access-Control-Allow-Origin"] == "*"
        return await resp.json()


async def get(http: aiohttp.ClientSession, path: str, **params: Any) -> Any:
    async with http.get(path, params=params) as resp:
        assert resp.status == 200, await resp.text()
        return await resp.json()


async def test_control_api_round_trip(
    emu: BotAPIEmulator, bot: Bot, http: aiohttp.ClientSession
) -> None:
    user = await post(http, "/_emu/users", {"first_name": "李", "language_code": "zh-hans"})
    uid = user["id"]
    assert user["chat_id"] == uid and user["language_code"] == "zh-hans"
    assert [b["username"] for b in await get(http, "/_emu/bots")] == ["gridbot_test"]

    said = await post(http, f"/_emu/users/{uid}/text", {"text": "/start"})
    update = (await bot.get_updates())[0]
    assert update.update_id == said["update_id"] and update.message.text == "/start"
    markup = InlineKeyboardMarkup(
        inline_keyboard=[[InlineKeyboardButton(text="报事", callback_data="report")]]
    )
    sent = await bot.send_message(uid, "欢迎", reply_markup=markup)

    page = await get(http, f"/_emu/chats/{uid}/messages")
    assert [(m["from_bot"], m["text"]) for m in page["messages"]] == [
        (False, "/start"),
        (True, "欢迎"),
    ]
    assert page["messages"][1]["inline_buttons"] == [[["报事", "report"]]]
    version = page["version"]

    waiter = asyncio.create_task(
        get(http, f"/_emu/chats/{uid}/wait", since_version=version, timeout=10)
    )
    await bot.edit_message_text("已编辑", chat_id=uid, message_id=sent.message_id)
    changed = await asyncio.wait_for(waiter, timeout=3)
    assert [(m["message_id"], m["text"], m["edits"]) for m in changed["messages"]] == [
        (sent.message_id, "已编辑", 1)
    ]
    assert changed["version"] > version
    idle = await get(http, f"/_emu/chats/{uid}/wait", since_version=changed["version"], timeout=0)
    assert idle == {"version": changed["version"], "messages": []}

    pressed = await post(
        http, f"/_emu/users/{uid}/callback", {"message_id": sent.message_id, "data": "report"}
    )
    await post(http, f"/_emu/users/{uid}/contact", {"phone_number": "+8613900000000"})
    await post(http, f"/_emu/users/{uid}/location", {"latitude": 31.2, "longitude": 121.5})
    form = aiohttp.FormData()
    form.add_field("file", b"\xff\xd8jpeg", filename="p.jpg", content_type="image/jpeg")
    form.add_field("caption", "路灯坏了")
    async with http.post(f"/_emu/users/{uid}/photo", data=form) as resp:
        assert resp.status == 200
    updates = await bot.get_updates(offset=update.update_id + 1)
    assert updates[0].callback_query.id == pressed["callback_query_id"]
    assert updates[1].message.contact.user_id == uid
    assert updates[2].message.location.latitude == pytest.approx(31.2)
    assert updates[3].message.caption == "路灯坏了"

    last = (await get(http, f"/_emu/chats/{uid}/messages"))["messages"][-1]
    assert last["kind"] == "photo" and last["file_url"].startswith("/_emu/files/")
    async with http.get(last["file_url"]) as resp:
        assert await resp.read() == b"\xff\xd8jpeg"


async def test_control_api_errors(emu: BotAPIEmulator, http: aiohttp.ClientSession) -> None:
    async with http.post("/_emu/users/424242/text", json={"text": "x"}) as resp:
        assert resp.status == 404 and "unknown user" in (await resp.json())["error"]
    user = emu.create_user("Z")
    async with http.post(f"/_emu/users/{user.id}/text", json={}) as resp:
        assert resp.status == 400
    async with http.post(
        f"/_emu/users/{user.id}/callback", json={"message_id": 5, "data": "d"}
    ) as resp:
        assert resp.status == 404
    async with http.options(f"/_emu/users/{user.id}/text") as resp:
        assert resp.status == 204 and resp.headers["Access-Control-Allow-Origin"] == "*"
    async with http.get("/_emu/files/nope") as resp:
        assert resp.status == 404


async def test_standalone_cli() -> None:
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot.sandbox.emulator",
        "--port",
        "0",
        "--token",
        "42:CLI",
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.DEVNULL,
    )
    try:
        assert proc.stdout is not None
        line = (await asyncio.wait_for(proc.stdout.readline(), timeout=15)).decode()
        base_url = line.split(" on ", 1)[1].split()[0]
        async with aiohttp.ClientSession() as session:
            async with session.get(f"{base_url}/bot42:CLI/getMe") as resp:
                assert (await resp.json())["result"]["id"] == 42
    finally:
        proc.terminate()
        assert await asyncio.wait_for(proc.wait(), timeout=10) is not None
