"""The per-user rate limit, through the real bot: one user floods, another is served."""

from __future__ import annotations

import asyncio

from sqlalchemy import func, select

from models import InboundStatus, InboundUpdate
from tests.conftest import BOT_TOKEN
from tests.e2e.conftest import make_settings
from tests.e2e.harness import start_bot

SLOW_DOWN = "发送得太快"


async def test_a_flood_is_stored_not_handled_and_others_are_served(emulator, db_url, demo_sessionmaker):
    # A burst of 5, then one a minute: nothing refills during the test.
    settings = make_settings(emulator, db_url, USER_BURST=5, USER_RATE_PER_MINUTE=1)
    running = await start_bot(emulator, settings, BOT_TOKEN)
    try:
        flooder = running.person(emulator.create_user(first_name="刷屏"))
        neighbour = running.person(emulator.create_user(first_name="邻居"))
        flood = [await emulator.send_text(flooder.user, "/help") for _ in range(40)]
        normal = await emulator.send_text(neighbour.user, "/help")
        await running.settle(flood[-1], timeout=30)
        await running.settle(normal, timeout=30)

        texts = [m.text or "" for m in flooder.messages()]
        slow_downs = [t for t in texts if SLOW_DOWN in t]
        assert len(slow_downs) == 1, texts  # told once, not forty times
        assert len(texts) == 5 + 1, texts  # the burst answered, then only the notice
        assert neighbour.messages() and SLOW_DOWN not in neighbour.last.text

        # Still over the limit: a press gets nothing (the notice was given this minute).
        before = len(emulator.callback_answers)
        press = await emulator.press_button(flooder.user, flooder.messages()[0].message_id, "x:1")
        await running.settle(press)
        assert len(emulator.callback_answers) == before
        assert len(flooder.messages()) == 6

        # Nothing is lost or left pending: every update is stored and done.
        async with demo_sessionmaker() as s:
            statuses = dict((await s.execute(
                select(InboundUpdate.status, func.count()).group_by(InboundUpdate.status))).all())
        assert statuses == {InboundStatus.done: 42}, statuses
    finally:
        await running.stop()


async def test_the_limit_is_off_with_zero(emulator, db_url, demo_sessionmaker):
    settings = make_settings(emulator, db_url, USER_BURST=1, USER_RATE_PER_MINUTE=0)
    running = await start_bot(emulator, settings, BOT_TOKEN)
    try:
        p = running.person(emulator.create_user(first_name="快手"))
        sent = [await emulator.send_text(p.user, "/help") for _ in range(5)]
        await running.settle(sent[-1])
        await asyncio.sleep(0)
        assert len(p.messages()) == 5
        assert not any(SLOW_DOWN in (m.text or "") for m in p.messages())
    finally:
        await running.stop()
