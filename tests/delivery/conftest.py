"""Helpers for the delivery engine's tests: recipients on both sides, a sender
running against the emulator, and sender processes for the fault tests."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import pytest
from sqlalchemy import insert, select

from bot.app import create_bot
from bot.config import Settings
from bot.delivery.engine import Sender
from bot.delivery.transport import BotApiTransport
from bot.services.notify import notify
from models import OutboxKind, OutboxMessage, User, utcnow
from tests.conftest import BOT_TOKEN
from tests.processes import spawn_module

FIRST_ID = 8_100_000_000


def delivery_settings(emulator, db_url: str, **extra) -> Settings:  # type: ignore[no-untyped-def]
    values = {
        "BOT_TOKEN": BOT_TOKEN, "TELEGRAM_API_URL": emulator.base_url, "DATABASE_URL": db_url,
        "DELIVERY_POLL_INTERVAL": 0.1, "DELIVERY_BACKOFF_BASE": 0.05, "DELIVERY_BACKOFF_MAX": 0.2,
        "QUIET_HOURS": "",
    }
    values.update({k: v for k, v in extra.items()})
    return Settings(_env_file=None, **values)


async def make_recipients(sessionmaker, emulator, n: int, *, first_id: int = FIRST_ID,
                          locale: str = "zh-Hans") -> list[User]:
    """``n`` users of ours who also exist (and have started the bot) in the emulator."""
    ids = [first_id + i for i in range(n)]
    async with sessionmaker() as s:
        await s.execute(insert(User), [
            {"telegram_id": t, "first_name": f"r{t}", "locale": locale, "registered_at": utcnow(),
             "unreachable": False, "created_at": utcnow()} for t in ids
        ])
        await s.commit()
        users = list(await s.scalars(select(User).where(User.telegram_id.in_(ids)).order_by(User.telegram_id)))
    for t in ids:
        emulator.create_user(first_name=f"r{t}", user_id=t)
    return users


async def queue(sessionmaker, users: list[User], *, kind: OutboxKind = OutboxKind.case_update, tag: str = "m",
                **kw) -> None:
    async with sessionmaker() as s:
        for u in users:
            await notify(s, recipient=u, kind=kind, dedupe_key=f"{tag}:{u.id}", text=f"{tag} for {u.first_name}", **kw)
        await s.commit()


async def queue_broadcast(sessionmaker, users: list[User]) -> int:
    """A district notice to ``users``: its row and one outbox row each; returns its id."""
    from models import Broadcast, BroadcastAudience, BroadcastScope

    async with sessionmaker() as s:
        b = Broadcast(scope_type=BroadcastScope.district, scope_id=1, audience=BroadcastAudience.residents,
                      text="notice", total=len(users))
        s.add(b)
        await s.commit()
    await queue(sessionmaker, users, kind=OutboxKind.broadcast, tag="bc", broadcast_id=b.id)
    return b.id


async def rows(sessionmaker) -> list[OutboxMessage]:
    async with sessionmaker() as s:
        return list(await s.scalars(select(OutboxMessage).order_by(OutboxMessage.id)))


@dataclass
class RunningSender:
    sender: Sender
    task: asyncio.Task[None]
    stop_event: asyncio.Event
    bot: object

    async def stop(self) -> None:
        self.stop_event.set()
        try:
            await asyncio.wait_for(self.task, 30)
        finally:
            await self.bot.session.close()  # type: ignore[attr-defined]


async def start_sender(sessionmaker, settings: Settings, *, clock: Callable[[], datetime] | None = None,
                       owner: str | None = None, **kw) -> RunningSender:
    bot = create_bot(settings)
    transport = BotApiTransport.for_bot(bot, settings)
    extra = {"clock": clock} if clock else {}
    sender = Sender(sessionmaker, transport, settings, owner=owner, **extra, **kw)
    stop = asyncio.Event()
    task = asyncio.create_task(sender.run(stop))
    return RunningSender(sender, task, stop, bot)


@pytest.fixture
async def senders():  # type: ignore[no-untyped-def]
    started: list[RunningSender] = []

    async def start(*args, **kw) -> RunningSender:  # type: ignore[no-untyped-def]
        running = await start_sender(*args, **kw)
        started.append(running)
        return running

    yield start
    for running in started:
        if not running.task.done():
            await running.stop()


# ------------------------------------------------------------ sender processes

def process_env(emulator, db_url: str, **extra: str) -> dict[str, str]:  # type: ignore[no-untyped-def]
    env = {**os.environ, "BOT_TOKEN": BOT_TOKEN, "TELEGRAM_API_URL": emulator.base_url, "DATABASE_URL": db_url,
           "LOG_LEVEL": "INFO", "JOBS_ENABLED": "false", "DELIVERY_POLL_INTERVAL": "0.1", "QUIET_HOURS": ""}
    for name in ("REDIS_URL", "WEBHOOK_URL"):
        env.pop(name, None)
    env.update(extra)
    return env


async def spawn_sender(env: dict[str, str], log: Path) -> asyncio.subprocess.Process:
    return await spawn_module(env, log, "bot.delivery", "--no-jobs")


async def wait_rows(sessionmaker, predicate: Callable[[list[OutboxMessage]], bool], timeout: float = 10.0,
                    ) -> list[OutboxMessage]:
    """Poll the outbox until ``predicate(rows)`` holds (a condition with a deadline, not a sleep)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        got = await rows(sessionmaker)
        if predicate(got):
            return got
        if loop.time() > deadline:
            raise AssertionError(f"outbox never reached the condition: {[(r.id, r.status) for r in got][:20]}")
        await asyncio.sleep(0.02)


def settled(got: list[OutboxMessage]) -> bool:
    from models import OutboxStatus

    return all(r.status not in (OutboxStatus.pending, OutboxStatus.claimed, OutboxStatus.sending) for r in got)
