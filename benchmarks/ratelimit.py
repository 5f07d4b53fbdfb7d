"""The per-user rate limit (bot/ratelimit.py) measured alone: no database, no network.

    .venv/bin/python -m benchmarks.ratelimit [--calls 1000000] [--users 300000]

Four workloads, each timed over ``--calls`` calls (best of 5 rounds):

- ``check, one user, allowed``: the limiter's check for a user under the limit
  (a huge rate, so every call is allowed);
- ``check, one user, over``: a user far over the limit (every call dropped);
- ``check, many users``: calls spread over ``--users`` distinct users (the
  dictionary grows to that size; a 300,000-resident district), default rate;
- ``middleware, allowed`` / ``middleware, over``: the aiogram middleware's
  ``__call__`` with a parsed Message and a handler that returns at once, as
  the dispatcher calls it for every message (the notice is not sent: the
  over-limit user was already told this minute).

Prints nanoseconds per call and the dictionary's size; the memory of the
buckets of ``--users`` users (tracemalloc).
"""

from __future__ import annotations

import argparse
import asyncio
import time
import tracemalloc
from datetime import UTC, datetime
from typing import Any

from aiogram.types import Chat, Message, User

from bot.ratelimit import RateLimitMiddleware, UserRateLimiter, Verdict


def _best(fn, calls: int, rounds: int = 5) -> float:  # type: ignore[no-untyped-def]
    best = float("inf")
    for _ in range(rounds):
        start = time.perf_counter()
        fn(calls)
        best = min(best, time.perf_counter() - start)
    return best / calls * 1e9


def bench_checks(calls: int, users: int) -> None:
    allowed = UserRateLimiter(per_minute=6000, burst=1000)
    allowed.rate = 1e12  # refills at once: every call is allowed

    def one_allowed(n: int) -> None:
        check = allowed.check
        for _ in range(n):
            check(42)

    over = UserRateLimiter(per_minute=1, burst=1)
    over.check(42)
    over.check(42)  # the notice, once

    def one_over(n: int) -> None:
        check = over.check
        for _ in range(n):
            check(42)

    many = UserRateLimiter(per_minute=30, burst=20)

    def many_users(n: int) -> None:
        check = many.check
        for i in range(n):
            check(i % users)

    assert allowed.check(42) == Verdict.ALLOW and over.check(42) == Verdict.DROP
    print(f"check, one user, allowed   {_best(one_allowed, calls):8.0f} ns/call")
    print(f"check, one user, over      {_best(one_over, calls):8.0f} ns/call")
    print(f"check, {users:,} users  {_best(many_users, calls):8.0f} ns/call  (buckets kept: {len(many):,})")

    tracemalloc.start()
    fresh = UserRateLimiter(per_minute=30, burst=20)
    before = tracemalloc.get_traced_memory()[0]
    for i in range(users):
        fresh.check(i)
    after = tracemalloc.get_traced_memory()[0]
    tracemalloc.stop()
    print(f"memory for {users:,} users' buckets: {(after - before) / 2**20:.1f} MiB "
          f"({(after - before) / users:.0f} bytes each)")


async def bench_middleware(calls: int) -> None:
    tg_user = User(id=42, is_bot=False, first_name="王")
    message = Message(message_id=1, date=datetime.now(UTC), chat=Chat(id=42, type="private"), from_user=tg_user,
                      text="/help")
    data: dict[str, Any] = {"event_from_user": tg_user}

    async def handler(event: Any, data: dict[str, Any]) -> None:
        return None

    for label, limiter in (("allowed", UserRateLimiter(per_minute=6000, burst=1000)),
                           ("over", UserRateLimiter(per_minute=1, burst=1))):
        if label == "allowed":
            limiter.rate = 1e12
        else:
            limiter.check(42)
            limiter.check(42)  # told once already
        middleware = RateLimitMiddleware(limiter)
        best = float("inf")
        for _ in range(5):
            start = time.perf_counter()
            for _ in range(calls):
                await middleware(handler, message, data)
            best = min(best, time.perf_counter() - start)
        print(f"middleware, {label:8}        {best / calls * 1e9:8.0f} ns/call")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=1_000_000)
    parser.add_argument("--users", type=int, default=300_000)
    args = parser.parse_args()
    bench_checks(args.calls, args.users)
    asyncio.run(bench_middleware(args.calls // 4))


if __name__ == "__main__":
    main()
