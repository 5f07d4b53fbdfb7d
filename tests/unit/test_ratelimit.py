"""The token buckets of bot/ratelimit.py, on a fake clock."""

from __future__ import annotations

from bot.ratelimit import NOTICE_INTERVAL, UserRateLimiter, Verdict


class Clock:
    def __init__(self) -> None:
        self.t = 1000.0

    def __call__(self) -> float:
        return self.t


def test_burst_then_one_notice_then_silence_then_refill() -> None:
    clock = Clock()
    limiter = UserRateLimiter(per_minute=6, burst=3, clock=clock)  # one every 10 s
    assert [limiter.check(1) for _ in range(3)] == [Verdict.ALLOW] * 3
    assert limiter.check(1) == Verdict.NOTICE
    assert [limiter.check(1) for _ in range(50)] == [Verdict.DROP] * 50
    assert limiter.check(2) == Verdict.ALLOW  # someone else is not affected
    clock.t += 10
    assert limiter.check(1) == Verdict.ALLOW  # one token back
    assert limiter.check(1) == Verdict.DROP  # and a notice was given less than a minute ago
    clock.t += NOTICE_INTERVAL
    assert [limiter.check(1) for _ in range(3)] == [Verdict.ALLOW] * 3  # refilled to the burst, no more
    assert limiter.check(1) == Verdict.NOTICE


def test_zero_rate_is_off() -> None:
    limiter = UserRateLimiter(per_minute=0, burst=1)
    assert all(limiter.check(1) == Verdict.ALLOW for _ in range(100))
    assert len(limiter) == 0


def test_full_buckets_are_swept() -> None:
    clock = Clock()
    limiter = UserRateLimiter(per_minute=60, burst=2, clock=clock)
    limiter._sweep_at = 100
    for uid in range(100):
        limiter.check(uid)
    clock.t += 5  # every bucket full again
    limiter.check(1000)
    assert len(limiter) == 1
