"""InboundPipeline alone: ordering per chat, duplicates, retries, recovery."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from types import SimpleNamespace

from sqlalchemy import select, update
from sqlalchemy.exc import DBAPIError, IntegrityError, OperationalError

from bot.inbound import InboundPipeline, chat_key, is_transient
from bot.middlewares import UpdateAlreadyDone
from models import InboundStatus, InboundUpdate, utcnow


def msg(update_id: int, chat: int, text: str = "hi") -> dict:
    return {
        "update_id": update_id,
        "message": {"message_id": update_id, "date": 0, "chat": {"id": chat, "type": "private"},
                    "from": {"id": chat, "is_bot": False, "first_name": "x"}, "text": text},
    }


class FakeDispatcher:
    """Records the order updates are fed in; chat 1's first update blocks until released."""

    def __init__(self, sessionmaker, *, fail: dict[int, int] | None = None,
                 error: type[Exception] = ConnectionError) -> None:
        self.sessionmaker = sessionmaker
        self.seen: list[int] = []
        self.release = asyncio.Event()
        self.blocked = asyncio.Event()
        self.fail = dict(fail or {})
        self.error = error
        self.progress = asyncio.Condition()

    async def feed_update(self, bot, update, inbound_id: int) -> None:  # noqa: ARG002
        if update.update_id == 1:
            self.blocked.set()
            await self.release.wait()
        if self.fail.get(update.update_id, 0) > 0:
            self.fail[update.update_id] -= 1
            raise self.error("boom")
        self.seen.append(update.update_id)
        async with self.sessionmaker() as s:
            await s.execute(update_stmt(inbound_id))
            await s.commit()
        async with self.progress:
            self.progress.notify_all()

    async def until_seen(self, expected: list[int]) -> None:
        async with self.progress:
            await self.progress.wait_for(lambda: self.seen == expected)


def update_stmt(inbound_id: int):  # type: ignore[no-untyped-def]
    return update(InboundUpdate).where(InboundUpdate.id == inbound_id).values(status=InboundStatus.done)


def pipeline(sessionmaker, dp, **kw) -> InboundPipeline:  # type: ignore[no-untyped-def]
    return InboundPipeline(bot=SimpleNamespace(id=42), dispatcher=dp, sessionmaker=sessionmaker, **kw)


async def test_chat_order_kept_while_other_chats_proceed(sessionmaker):
    dp = FakeDispatcher(sessionmaker)
    p = pipeline(sessionmaker, dp)
    await p.feed_raw([msg(1, chat=1), msg(2, chat=1), msg(3, chat=2), msg(4, chat=1), msg(5, chat=2)])
    await dp.blocked.wait()
    # Chat 1 is stuck on update 1; chat 2 is not held up by it.
    await asyncio.wait_for(dp.until_seen([3, 5]), 5)
    dp.release.set()
    await p.wait_handled(5)
    assert dp.seen == [3, 5, 1, 2, 4]


async def test_duplicates_are_stored_once(sessionmaker):
    dp = FakeDispatcher(sessionmaker)
    dp.release.set()
    p = pipeline(sessionmaker, dp)
    assert await p.feed_raw([msg(1, 1), msg(2, 1)]) == 2
    assert await p.feed_raw([msg(2, 1), msg(3, 1)]) == 1  # Telegram re-sent 2
    await p.wait_handled(3)
    assert dp.seen == [1, 2, 3]
    async with sessionmaker() as s:
        assert len((await s.scalars(select(InboundUpdate))).all()) == 3


async def test_a_reused_update_id_is_a_new_update_and_a_redelivery_is_not(sessionmaker):
    """Telegram starts update ids again at a random value after a week without
    updates: an id seen before, with other content, is a new message to answer."""
    dp = FakeDispatcher(sessionmaker)
    dp.release.set()
    p = pipeline(sessionmaker, dp)
    assert await p.feed_raw([msg(7, 1, "上周的消息")]) == 1
    await p.wait_handled(7)
    assert await p.feed_raw([msg(7, 1, "今天的新消息")]) == 1  # the id came round again
    again = msg(7, 1, "今天的新消息")
    again = {"message": again["message"], "update_id": 7}  # the same update, keys in another order
    assert await p.feed_raw([again]) == 0  # a redelivery: stored once
    await p.wait_handled(7)
    assert dp.seen == [7, 7]
    async with sessionmaker() as s:
        rows = (await s.scalars(select(InboundUpdate).order_by(InboundUpdate.id))).all()
    assert [(r.update_id, r.status) for r in rows] == [(7, InboundStatus.done), (7, InboundStatus.done)]
    assert "今天的新消息" in rows[1].payload


async def test_failures_retry_then_park(sessionmaker):
    # A transient failure (the network, the database away) is retried.
    dp = FakeDispatcher(sessionmaker, fail={2: 1, 3: 99}, error=ConnectionError)
    dp.release.set()
    failed_callbacks = []

    async def on_failed(update, exc):  # type: ignore[no-untyped-def]
        failed_callbacks.append(update.update_id)

    p = pipeline(sessionmaker, dp, max_attempts=3, on_failed=on_failed)
    await p.feed_raw([msg(1, 1), msg(2, 1), msg(3, 1), msg(4, 1)])
    await p.wait_handled(4)
    assert dp.seen == [1, 2, 4]  # 2 succeeded on its second try; 3 was parked, 4 not blocked
    assert failed_callbacks == [3]
    async with sessionmaker() as s:
        rows = {r.update_id: r for r in await s.scalars(select(InboundUpdate))}
    assert rows[3].status == InboundStatus.failed and rows[3].attempts == 3 and "boom" in rows[3].last_error
    assert rows[2].status == InboundStatus.done and rows[2].attempts == 1


async def test_a_bug_is_parked_at_once_and_apologised_for(sessionmaker):
    """An unexpected error would fail the same way again: no retry, the error kept,
    the user told once (on_failed)."""
    dp = FakeDispatcher(sessionmaker, fail={2: 99}, error=OverflowError)
    dp.release.set()
    failed_callbacks = []

    async def on_failed(update, exc):  # type: ignore[no-untyped-def]
        failed_callbacks.append((update.update_id, type(exc).__name__))

    p = pipeline(sessionmaker, dp, max_attempts=3, on_failed=on_failed)
    await p.feed_raw([msg(1, 1), msg(2, 1), msg(3, 1)])
    await p.wait_handled(3)
    assert dp.seen == [1, 3] and dp.fail[2] == 98  # tried once
    assert failed_callbacks == [(2, "OverflowError")]
    async with sessionmaker() as s:
        row = await s.scalar(select(InboundUpdate).where(InboundUpdate.update_id == 2))
    assert row.status == InboundStatus.failed and row.attempts == 1 and row.last_error == "OverflowError: boom"


def test_transient_errors_are_told_from_bugs():
    assert is_transient(OperationalError("SELECT 1", {}, Exception("database is locked")))
    assert is_transient(TimeoutError()) and is_transient(ConnectionResetError())
    assert not is_transient(IntegrityError("INSERT", {}, Exception("UNIQUE")))
    assert not is_transient(OverflowError("Python int too large to convert to SQLite INTEGER"))
    assert not is_transient(AttributeError("cases_card has no attribute fail"))

    class Deadlock(Exception):
        sqlstate = "40P01"

    assert is_transient(DBAPIError("UPDATE", {}, Deadlock()))
    assert not is_transient(DBAPIError("UPDATE", {}, ValueError("bad")))


async def test_recover_requeues_pending_and_parks_crash_loops(sessionmaker):
    # Stored, then "the process died" (and, on PostgreSQL, its leases ran out).
    first = pipeline(sessionmaker, FakeDispatcher(sessionmaker), max_attempts=2, lease_seconds=0)
    await first.store([msg(1, 1), msg(2, 2), msg(3, 3)])
    async with sessionmaker() as s:
        await s.execute(update(InboundUpdate).where(InboundUpdate.update_id == 3).values(attempts=2))
        await s.commit()
    dp = FakeDispatcher(sessionmaker)
    dp.release.set()
    second = pipeline(sessionmaker, dp, max_attempts=2)
    assert await second.recover() == 2
    await second.wait_idle(5)
    assert sorted(dp.seen) == [1, 2]
    async with sessionmaker() as s:
        rows = {r.update_id: r for r in await s.scalars(select(InboundUpdate))}
    assert rows[3].status == InboundStatus.failed  # crashed the process twice already
    assert {rows[1].attempts, rows[2].attempts} == {1}


async def test_two_processes_keep_one_chat_in_order(sessionmaker):
    """Two pipelines on one database stand for two webhook processes: the
    second waits for the first's earlier update of the same chat."""
    first_dp = FakeDispatcher(sessionmaker)  # its update 1 blocks until released
    first = pipeline(sessionmaker, first_dp, shared=True)
    second_dp = FakeDispatcher(sessionmaker)
    second_dp.release.set()
    second = pipeline(sessionmaker, second_dp, shared=True)
    await first.feed_raw([msg(1, 5)])
    await asyncio.wait_for(first_dp.blocked.wait(), 5)
    await second.feed_raw([msg(2, 5), msg(3, 6)])
    await asyncio.wait_for(second_dp.until_seen([3]), 5)  # another chat goes ahead
    await asyncio.wait_for(second.waited_for_turn.wait(), 5)
    assert second_dp.seen == [3]  # chat 5's update 2 waits for update 1, pending elsewhere
    first_dp.release.set()
    await asyncio.wait_for(second_dp.until_seen([3, 2]), 5)
    await first.wait_idle(5)
    assert first_dp.seen == [1]


async def test_a_live_process_keeps_its_updates_until_its_lease_runs_out(sessionmaker):
    alive = pipeline(sessionmaker, FakeDispatcher(sessionmaker), shared=True)
    await alive.store([msg(1, 1)])  # being handled over there
    dp = FakeDispatcher(sessionmaker)
    dp.release.set()
    newcomer = pipeline(sessionmaker, dp, shared=True)
    assert await newcomer.recover() == 0
    assert await alive.renew_leases() == 1
    assert await newcomer.recover() == 0
    async with sessionmaker() as s:  # it stops renewing: it died
        await s.execute(update(InboundUpdate).values(lease_until=utcnow() - timedelta(seconds=1)))
        await s.commit()
    assert await newcomer.recover() == 1
    await newcomer.wait_idle(5)
    assert dp.seen == [1]
    async with sessionmaker() as s:
        row = await s.scalar(select(InboundUpdate))
    assert (row.status, row.attempts, row.owner) == (InboundStatus.done, 1, newcomer.owner)


async def test_a_restarted_instance_takes_its_own_updates_back_at_once(sessionmaker):
    before = pipeline(sessionmaker, FakeDispatcher(sessionmaker), shared=True, owner="bot-1")
    await before.store([msg(1, 1)])  # then it died, its lease still running
    dp = FakeDispatcher(sessionmaker)
    dp.release.set()
    assert await pipeline(sessionmaker, dp, shared=True).recover() == 0  # someone else waits
    after = pipeline(sessionmaker, dp, shared=True, owner="bot-1")
    assert await after.recover() == 1
    await after.wait_idle(5)
    assert dp.seen == [1]


async def test_an_update_finished_elsewhere_is_not_retried(sessionmaker):
    class FinishedElsewhere(FakeDispatcher):
        async def feed_update(self, bot, update, inbound_id: int) -> None:  # noqa: ARG002
            self.seen.append(update.update_id)
            raise UpdateAlreadyDone("taken over")

    dp = FinishedElsewhere(sessionmaker)
    p = pipeline(sessionmaker, dp)
    await p.feed_raw([msg(1, 1)])
    await p.wait_handled(1)
    assert dp.seen == [1] and p.handled == 1 and p.failed == 0


def test_chat_key() -> None:
    assert chat_key(msg(1, 77)) == 77
    cb = {"update_id": 5, "callback_query": {"id": "1", "from": {"id": 9}, "message": {"chat": {"id": 8}}}}
    assert chat_key(cb) == 8
    assert chat_key({"update_id": 6, "my_chat_member": {"chat": {"id": 3}, "from": {"id": 4}}}) == 3
    assert chat_key({"update_id": 7, "poll": {"id": "x"}}) == "u7"
