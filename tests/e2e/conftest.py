from __future__ import annotations

import os

import pytest

from bot.config import Settings
from tests.conftest import BOT_TOKEN, CI, per_worker_redis
from tests.e2e.harness import RunningBot, start_bot

REDIS_URL = per_worker_redis(os.environ.get("TEST_REDIS_URL") or ("redis://127.0.0.1:6379/15" if CI else None))


def make_settings(emulator, db_url: str, **extra) -> Settings:  # type: ignore[no-untyped-def]
    """The bot's settings for a test.  No quiet hours unless a test asks for
    them: at night in Shanghai they would hold every notice, and a test's
    outcome must not depend on the hour it runs at.  No practical rate limit
    either (below)."""
    extra.setdefault("QUIET_HOURS", "")
    # Tests drive the bot at machine speed, far above any person's pace: the
    # per-user rate limit would answer them "please slow down".  Its own
    # tests (tests/e2e/test_ratelimit.py) set it.
    extra.setdefault("USER_BURST", 1000)
    # Likewise the pacing of answers to Telegram's one message a second per chat
    # (a second per extra message); tests/e2e/test_answers.py sets it.
    extra.setdefault("ANSWER_CHAT_RATE", 1000)
    extra.setdefault("ANSWER_GROUP_RATE", 60000)
    return Settings(
        _env_file=None,
        BOT_TOKEN=BOT_TOKEN,
        TELEGRAM_API_URL=emulator.base_url,
        DATABASE_URL=db_url,
        **extra,
    )


@pytest.fixture
async def running(emulator, db_url, demo_sessionmaker):  # type: ignore[no-untyped-def]
    """The real bot polling the emulator, on the demo district."""
    bot: RunningBot = await start_bot(emulator, make_settings(emulator, db_url), BOT_TOKEN)
    yield bot
    await bot.stop()
    # Nothing the bot called may be unknown to the Bot API.
    assert emulator.unknown_methods == []


@pytest.fixture
async def bot(emulator, db_url, demo_sessionmaker):  # type: ignore[no-untyped-def]
    """The bot with its delivery engine on the demo district (the case loop's tests and
    the journeys that cross features); a module may define its own ``bot``."""
    from tests.e2e.cases.helpers import start_cases_bot  # it imports make_settings from here

    running = await start_cases_bot(emulator, db_url)
    yield running
    await running.stop()
    assert emulator.unknown_methods == []
    assert emulator.internal_errors == []


@pytest.fixture
def redis_url() -> str:
    if REDIS_URL is None:
        pytest.skip("Redis variant: set TEST_REDIS_URL (e.g. redis://127.0.0.1:6379/15)")
    import redis

    try:
        redis.Redis.from_url(REDIS_URL, socket_connect_timeout=5).ping()
    except Exception as exc:  # noqa: BLE001
        if CI:
            pytest.fail(f"Redis at {REDIS_URL} unreachable: {exc}")
        pytest.skip(f"Redis at {REDIS_URL} unreachable: {exc}")
    redis.Redis.from_url(REDIS_URL).flushdb()
    return REDIS_URL
