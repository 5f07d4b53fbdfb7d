"""Rate limits against the emulator's caps: none exceeded; a 429 storm pauses
everything, no request goes out during a pause, and the rate recovers."""

from __future__ import annotations

from bot.delivery.limits import ChatLimits, Gcra
from models import OutboxKind, OutboxStatus
from tests.delivery.conftest import delivery_settings, make_recipients, queue, settled, wait_rows


def test_gcra_never_exceeds_the_cap_in_any_window():
    for rate in (1, 30, 1000):
        g = Gcra(rate)
        times = []
        now = 0.0
        while len(times) < rate * 3 + 5:
            now = max(now, g.ready_at(now))
            times.append(g.take(now))
            now += 0.0003  # a busy caller asks again and again
        for i in range(len(times) - rate):
            assert times[i + rate] - times[i] >= 1.0, (rate, i)
        # ...and it is not much slower than the cap either.
        assert (len(times) - 1) / (times[-1] - times[0]) >= rate * 0.96


def test_gcra_keeps_the_pace_when_woken_late_without_exceeding_the_cap():
    import random

    rnd = random.Random(7)
    for rate in (30, 1000):
        g = Gcra(rate)
        times: list[float] = []
        now = 0.0
        while len(times) < rate * 4:
            # The event loop wakes the sender up to ``slack`` late, now and then much later.
            late = rnd.uniform(0, min(g.slack, g.interval)) if rnd.random() < 0.999 else rnd.uniform(0, 0.2)
            now = max(now, g.ready_at(now)) + late
            g.take(now)
            times.append(now)
        for i in range(len(times) - rate):
            assert times[i + rate] - times[i] >= 1.0, (rate, i)
        assert (len(times) - 1) / (times[-1] - times[0]) >= rate * 0.9


def test_chat_limits_space_one_chat_and_groups_per_minute():
    limits = ChatLimits(chat_rate=1, group_rate_per_minute=20)
    limits.take(5, 0.0)
    assert limits.ready_at(5, 0.5) > 1.0 and limits.ready_at(6, 0.5) == 0.5
    limits.take(-100, 0.0)
    assert limits.ready_at(-100, 1.5) >= 3.0  # 20 a minute: one every 3 s


async def test_caps_are_never_hit(db_url, sessionmaker, emulator, senders):
    emulator.set_rate_limits(global_per_second=40, per_chat_per_second=1, per_group_per_minute=20)
    settings = delivery_settings(emulator, db_url, DELIVERY_GLOBAL_RATE=40)
    users = await make_recipients(sessionmaker, emulator, 50)
    await queue(sessionmaker, users, tag="one")
    await queue(sessionmaker, users[:3], tag="two")  # a second message to the same chats
    running = await senders(sessionmaker, settings)
    got = await wait_rows(sessionmaker, lambda g: settled(g))
    await running.stop()
    assert all(r.status == OutboxStatus.sent for r in got) and len(got) == 53
    assert emulator.rate_limit_hits == []
    assert running.sender.stats.rate_limited == 0


async def test_429_storm_pauses_everything_and_the_rate_recovers(db_url, sessionmaker, emulator, senders):
    emulator.set_rate_limits(global_per_second=50, per_chat_per_second=1, per_group_per_minute=20)
    settings = delivery_settings(emulator, db_url, DELIVERY_GLOBAL_RATE=50)
    users = await make_recipients(sessionmaker, emulator, 70)
    await queue(sessionmaker, users, kind=OutboxKind.broadcast, tag="storm")
    running = await senders(sessionmaker, settings)
    await emulator.wait_for(lambda: len(emulator.send_log) >= 10, timeout=10)
    storm = emulator.faults.inject(method=None, kind="429", retry_after=1, times=2)
    await emulator.wait_for(lambda: storm.hits == 2, timeout=10)
    got = await wait_rows(sessionmaker, lambda g: settled(g), timeout=15)
    await running.stop()
    assert all(r.status == OutboxStatus.sent for r in got)
    for u in users:  # every recipient exactly once
        assert len(emulator.messages(u.telegram_id)) == 1
    sends = sorted(c.time for c in emulator.calls if c.method.startswith("send"))
    pauses = [c.time for c in emulator.calls if c.status == 429]
    assert len(pauses) == 2
    for t in pauses:
        # No request during the pause (requests already in flight when the 429
        # was answered arrive within milliseconds of it).
        during = [s for s in sends if t + 0.05 < s < t + 1.0]
        assert during == [], (t, during)
    # The attempts that got the 429 do not count against the message.
    assert max(r.attempts for r in got) == 1
    # The rate recovered: sending went on after the last pause, with no other
    # 429, none of the emulator's caps hit, and the limiter no longer paused.
    after = [s for s in sends if s >= pauses[-1] + 1.0]
    assert after and len(sends) == 70 + 2
    assert [c for c in emulator.calls if c.status == 429 and c.time > pauses[-1]] == []
    assert emulator.rate_limit_hits == [] and not running.sender.limiter.is_paused()
    assert running.sender.stats.rate_limited == 2 and running.sender.limiter.pauses == 2
