"""Wake-ups between processes (bot/wakeup.py), on PostgreSQL's LISTEN/NOTIFY and on
Redis pub/sub: a chat waiting for its turn in another process, and updates handed
back by a stopping process, are taken up on a wake-up, not on a poll.  The polls
are set an hour apart here, so only a wake-up can finish these tests in time."""

from __future__ import annotations

import asyncio

import pytest

from bot.wakeup import PostgresWakeups, RedisWakeups, Wakeups
from models.database import create_engine, create_sessionmaker
from tests.conftest import _truncate_all
from tests.unit.test_inbound import FakeDispatcher, msg, pipeline

HOUR = 3600.0


@pytest.fixture
async def sessionmaker(pg_migrated):  # type: ignore[no-untyped-def]
    """PostgreSQL only: wake-ups join several processes (SQLite runs one)."""
    await _truncate_all(pg_migrated)
    engine = create_engine(pg_migrated)
    yield create_sessionmaker(engine)
    await engine.dispose()


@pytest.fixture(params=["postgresql", "redis"])
async def make_wakeups(request, pg_migrated):  # type: ignore[no-untyped-def]
    db_url = pg_migrated
    if request.param == "redis":
        redis_url = request.getfixturevalue("redis_url")
    started: list[Wakeups] = []

    async def make() -> Wakeups:
        w = (RedisWakeups("gridbot_test", redis_url) if request.param == "redis"
             else PostgresWakeups("gridbot_test", db_url))
        await w.start()
        await asyncio.wait_for(w.connected.wait(), 10)
        started.append(w)
        return w

    yield make
    for w in started:
        await w.stop()


async def test_a_waiting_chat_is_woken_when_the_other_process_finishes(sessionmaker, make_wakeups):
    first_dp = FakeDispatcher(sessionmaker)  # its update 1 blocks until released
    first = pipeline(sessionmaker, first_dp, shared=True)
    second_dp = FakeDispatcher(sessionmaker)
    second_dp.release.set()
    second = pipeline(sessionmaker, second_dp, shared=True)
    for p in (first, second):
        (await make_wakeups()).serve(p)
        p.turn_poll = (HOUR, HOUR)
    await first.feed_raw([msg(1, 5)])
    await asyncio.wait_for(first_dp.blocked.wait(), 5)
    await second.feed_raw([msg(2, 5)])
    await asyncio.wait_for(second.waited_for_turn.wait(), 5)
    assert second_dp.seen == []
    first_dp.release.set()
    await asyncio.wait_for(second_dp.until_seen([2]), 10)
    assert first_dp.seen == [1]
    assert second.wakeups is not None and second.wakeups.received >= 1


async def test_updates_handed_back_are_taken_over_at_once(sessionmaker, make_wakeups):
    stopping = pipeline(sessionmaker, FakeDispatcher(sessionmaker), shared=True, lease_seconds=HOUR)
    (await make_wakeups()).serve(stopping)
    await stopping.store([msg(1, 7), msg(2, 7)])  # stored, then the process is told to stop
    dp = FakeDispatcher(sessionmaker)
    dp.release.set()
    other = pipeline(sessionmaker, dp, shared=True, lease_seconds=HOUR)  # its own upkeep: every 20 min
    (await make_wakeups()).serve(other)
    await other.start()
    try:
        await stopping.stop(timeout=1)
        await asyncio.wait_for(dp.until_seen([1, 2]), 10)
    finally:
        await other.stop(timeout=1)
