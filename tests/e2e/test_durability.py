"""No accepted update is lost, none is handled twice: kill the bot mid-batch.

The bot runs as a real process (`python -m bot run`) against the emulator in
this test process.  Thirty residents write at once; ten of their chats answer
very slowly and each of those ten residents has sent a second message, which
waits behind the first (updates of a chat are handled in order).  When the
twenty fast chats are answered and the ten slow answers are in flight, the
process is killed with SIGKILL and started again.

What must hold (see bot/middlewares.py for the semantics): every update was
stored exactly once; the twenty finished ones are not handled again; the ten
whose effects were committed before their (lost) answer are not handled
again either; the ten second messages, never started, are handled after the
restart; at the end nothing is pending.
"""

from __future__ import annotations

import asyncio
import os
import signal
from pathlib import Path

from sqlalchemy import func, select

from models import InboundStatus, InboundUpdate, User
from tests.conftest import BOT_TOKEN
from tests.processes import end_process, spawn_module


async def _start_bot(emulator, db_url: str, log: Path) -> asyncio.subprocess.Process:
    env = {
        **os.environ,
        "BOT_TOKEN": BOT_TOKEN,
        "TELEGRAM_API_URL": emulator.base_url,
        "DATABASE_URL": db_url,
        "LOG_LEVEL": "INFO",
        # The restarted process is the same instance: on PostgreSQL it takes its
        # unfinished updates back at once (tests/unit/test_inbound.py covers the
        # takeover of a dead process's updates once their lease runs out).
        "INSTANCE_NAME": "durability-test",
    }
    for name in ("REDIS_URL", "WEBHOOK_URL", "INBOUND_LEASE_SECONDS"):
        env.pop(name, None)
    return await spawn_module(env, log, "bot", "run")


async def _statuses(sessionmaker) -> dict[InboundStatus, int]:
    async with sessionmaker() as s:
        return dict((await s.execute(
            select(InboundUpdate.status, func.count()).group_by(InboundUpdate.status))).all())


async def test_kill_mid_batch_loses_nothing_and_repeats_nothing(emulator, sessionmaker, db_url, tmp_path):
    users = [emulator.create_user(first_name=f"居民{i}") for i in range(30)]
    fast, slow = users[:20], users[20:]
    delays = [
        emulator.faults.inject(method="sendMessage", kind="delay", delay=120, times=1, chat_id=u.id)
        for u in slow
    ]
    firsts = [await emulator.send_text(u, "/start") for u in users]
    seconds = [await emulator.send_text(u, "/help") for u in slow]
    log = tmp_path / "bot.log"

    proc = await _start_bot(emulator, db_url, log)
    try:
        await emulator.wait_for(
            lambda: all(len(emulator.messages(u.id)) == 1 for u in fast) and all(d.hits == 1 for d in delays),
            timeout=60,
        )
        before = await _statuses(sessionmaker)
    finally:
        assert await end_process(proc, signal.SIGKILL) == -signal.SIGKILL
    # Mid-batch: 20 + 10 done (the slow ten committed before their answer went out), 10 never started.
    assert before == {InboundStatus.done: 30, InboundStatus.pending: 10}, before
    assert all(len(emulator.messages(u.id)) == 0 for u in slow)

    proc = await _start_bot(emulator, db_url, log)
    try:
        # Each slow chat now gets the answer to its second message (/help).
        await emulator.wait_for(
            lambda: all(any("/profile" in (m.text or "") for m in emulator.messages(u.id)) for u in slow),
            timeout=60,
        )
    finally:
        # A graceful stop lets running handlers finish their transaction.
        assert await end_process(proc, signal.SIGTERM) == 0, log.read_text(errors="replace")[-3000:]

    async with sessionmaker() as s:
        rows = (await s.execute(select(InboundUpdate.update_id, InboundUpdate.status, InboundUpdate.attempts))).all()
        people = await s.scalar(select(func.count()).select_from(User))
    assert sorted(r.update_id for r in rows) == sorted(a.update_id for a in firsts + seconds)  # each stored once
    assert {r.status for r in rows} == {InboundStatus.done}
    assert people == 30
    for u in fast:  # finished before the kill: not handled again
        assert len(emulator.messages(u.id)) == 1
    for u in slow:  # first answer lost with the process, second message answered once
        assert [("/profile" in (m.text or "")) for m in emulator.messages(u.id)] == [True]
    attempts = {r.update_id: r.attempts for r in rows}
    assert sorted(attempts[a.update_id] for a in seconds) == [1] * 10  # the interrupted run counted
    assert sorted(attempts[a.update_id] for a in firsts) == [0] * 30
    assert emulator.unknown_methods == []
