"""Fixtures: a running Bot API emulator, an aiogram Bot pointed at it, and a user."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from aiogram import Bot
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer

from bot.sandbox.emulator import BotAPIEmulator, EmuUser

TOKEN = "123456:TEST"


class LoopbackSession(AiohttpSession):
    """aiogram's session minus the 250 ms grace sleep meant for TLS shutdown.

    Plain-HTTP loopback connections close immediately; skipping the sleep keeps the
    suite fast.
    """

    async def close(self) -> None:
        if self._session is not None and not self._session.closed:
            await self._session.close()


def make_bot(emu: BotAPIEmulator, token: str = TOKEN) -> Bot:
    session = LoopbackSession(api=TelegramAPIServer.from_base(emu.base_url))
    return Bot(token, session=session)


@pytest.fixture
async def emu() -> AsyncIterator[BotAPIEmulator]:
    async with BotAPIEmulator() as emulator:
        emulator.add_bot(token=TOKEN, username="gridbot_test", first_name="GridBot")
        yield emulator
        assert emulator.internal_errors == []


@pytest.fixture
async def bot(emu: BotAPIEmulator) -> AsyncIterator[Bot]:
    client = make_bot(emu)
    yield client
    await client.session.close()


@pytest.fixture
def user(emu: BotAPIEmulator) -> EmuUser:
    return emu.create_user(first_name="王", language_code="zh-hans")
