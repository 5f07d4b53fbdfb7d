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


async def _start_bot(emulator, db_url: str, log: Path, **extra: str) -> asyncio.subprocess.Process:
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
        **extra,
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
            lambda: all(any("👤" in (m.text or "") for m in emulator.messages(u.id)) for u in slow),
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
        assert [("👤" in (m.text or "")) for m in emulator.messages(u.id)] == [True]
    attempts = {r.update_id: r.attempts for r in rows}
    assert sorted(attempts[a.update_id] for a in seconds) == [1] * 10  # the interrupted run counted
    assert sorted(attempts[a.update_id] for a in firsts) == [0] * 30
    assert emulator.unknown_methods == []


async def test_sigterm_finishes_what_it_holds_within_the_grace(emulator, sessionmaker, db_url, tmp_path):
    """SIGTERM while answers are in flight: those are finished, nothing is answered
    twice, the process exits 0 within SHUTDOWN_GRACE_SECONDS, and what it had not
    started is left for the next run."""
    users = [emulator.create_user(first_name=f"居民{i}") for i in range(8)]
    delays = [emulator.faults.inject(method="sendMessage", kind="delay", delay=2, times=1, chat_id=u.id)
              for u in users]
    for u in users:
        await emulator.send_text(u, "/help")
        await emulator.send_text(u, "/help")  # waits behind the first: not started at the stop
    log = tmp_path / "bot.log"
    proc = await _start_bot(emulator, db_url, log, SHUTDOWN_GRACE_SECONDS="6")
    try:
        await emulator.wait_for(lambda: all(d.hits == 1 for d in delays), timeout=60)  # all eight in flight
    finally:
        loop = asyncio.get_running_loop()
        began = loop.time()
        assert await end_process(proc, signal.SIGTERM) == 0, log.read_text(errors="replace")[-3000:]
        took = loop.time() - began
    assert took < 6 + 3, took  # the grace, and the process's own exit
    assert all(len(emulator.messages(u.id)) == 1 for u in users)  # each answer in flight arrived, once
    # The second messages were not started: they are left pending for the next run
    # (test_sigterm_does_not_wait_past_the_grace shows that run handling them).
    assert (await _statuses(sessionmaker)) == {InboundStatus.done: len(users), InboundStatus.pending: len(users)}


async def test_sigterm_does_not_wait_past_the_grace(emulator, sessionmaker, db_url, tmp_path):
    """A handler stuck on a slow Telegram does not hold the stop: after the grace
    the process exits 0 anyway, and the updates it had not started are left for
    the next run."""
    users = [emulator.create_user(first_name=f"居民{i}") for i in range(3)]
    stuck = [emulator.faults.inject(method="sendMessage", kind="delay", delay=8, times=1, chat_id=u.id)
             for u in users]
    for u in users:
        await emulator.send_text(u, "/help")
        await emulator.send_text(u, "/help")
    log = tmp_path / "bot.log"
    proc = await _start_bot(emulator, db_url, log, SHUTDOWN_GRACE_SECONDS="1")
    try:
        await emulator.wait_for(lambda: all(d.hits == 1 for d in stuck), timeout=60)
    finally:
        loop = asyncio.get_running_loop()
        began = loop.time()
        assert await end_process(proc, signal.SIGTERM) == 0, log.read_text(errors="replace")[-3000:]
        took = loop.time() - began
    assert took < 1 + 3, took
    assert (await _statuses(sessionmaker)).get(InboundStatus.pending) == len(users)  # the second messages

    for handle in stuck:
        handle.remove()
    proc = await _start_bot(emulator, db_url, log)
    try:
        async with asyncio.timeout(60):  # the next run handles the second messages
            while (await _statuses(sessionmaker)).get(InboundStatus.pending):  # noqa: ASYNC110 - another process's rows: no event to wait on
                await asyncio.sleep(0.1)
    finally:
        assert await end_process(proc, signal.SIGTERM) == 0, log.read_text(errors="replace")[-3000:]
    assert await _statuses(sessionmaker) == {InboundStatus.done: 2 * len(users)}
