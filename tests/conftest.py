"""Shared fixtures: a migrated database on each backend, and the bot running
against the Bot API emulator over real HTTP.

Databases: every test that takes ``db_url`` runs on SQLite, and on
PostgreSQL when ``TEST_DATABASE_URL`` is set or ``CI`` is set (CI defaults to
the local server).  Without PostgreSQL the PostgreSQL variants skip with the
reason, except under ``CI``, where they fail.
"""

from __future__ import annotations

import asyncio
import os
import shutil
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url

from models.database import create_engine, create_sessionmaker, upgrade_sync

CI = bool(os.environ.get("CI"))
# Under pytest-xdist (scripts/test runs one worker per core) each worker has its own
# PostgreSQL database (``test_gw0``...) and Redis database, created on first use.
XDIST_WORKER = os.environ.get("PYTEST_XDIST_WORKER")


def per_worker_pg(url: str | None) -> str | None:
    if url is None or not XDIST_WORKER:
        return url
    parsed = make_url(url)
    return parsed.set(database=f"{parsed.database}_{XDIST_WORKER}").render_as_string(hide_password=False)


def per_worker_redis(url: str | None) -> str | None:
    """The worker's own Redis database: the given index minus the worker's number."""
    if url is None or not XDIST_WORKER:
        return url
    base, _, index = url.rpartition("/")
    return f"{base}/{int(index or 0) - int(XDIST_WORKER.removeprefix('gw'))}"


BASE_PG_URL = os.environ.get("TEST_DATABASE_URL") or (
    "postgresql+asyncpg://postgres@127.0.0.1:5432/test" if CI else None
)
PG_URL = per_worker_pg(BASE_PG_URL)
BOT_TOKEN = "123456789:TEST-token_for_emulator"


def _in_thread(fn, *args):  # type: ignore[no-untyped-def]
    """Run blocking set-up (it may call asyncio.run) off the test's event loop."""
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(fn, *args).result()


def _pg_reachable(url: str) -> str | None:
    async def probe() -> None:
        engine = create_engine(url)
        try:
            async with engine.connect() as conn:
                await conn.execute(text("select 1"))
        finally:
            await engine.dispose()

    try:
        asyncio.run(asyncio.wait_for(probe(), 10))
    except Exception as exc:  # noqa: BLE001
        return f"{type(exc).__name__}: {exc}"
    return None


def _create_pg_database(url: str, base_url: str) -> None:
    """Create the worker's database beside the configured one, if it is not there yet."""
    async def create() -> None:
        name = make_url(url).database
        engine = create_engine(base_url).execution_options(isolation_level="AUTOCOMMIT")
        try:
            async with engine.connect() as conn:
                exists = await conn.scalar(text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": name})
                if not exists:
                    await conn.execute(text(f'CREATE DATABASE "{name}"'))
        finally:
            await engine.dispose()

    asyncio.run(create())


def _reset_pg_schema(url: str) -> None:
    """An empty schema.  And commits that do not wait for the write-ahead log to reach the
    disk, in every later session of this test database (the bot's processes' too): what
    is committed is seen by every other session as before; only a crash of the server
    itself, which no test causes, could lose the last moments."""
    async def reset() -> None:
        engine = create_engine(url)
        async with engine.begin() as conn:
            await conn.execute(text("DROP SCHEMA IF EXISTS public CASCADE"))
            await conn.execute(text("CREATE SCHEMA public"))
            name = make_url(url).database
            await conn.execute(text(f'ALTER DATABASE "{name}" SET synchronous_commit = off'))
        await engine.dispose()

    asyncio.run(reset())


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("template") / "template.db"
    _in_thread(upgrade_sync, f"sqlite+aiosqlite:///{path}")
    return path


@pytest.fixture(scope="session")
def pg_migrated() -> str:
    if PG_URL is None:
        pytest.skip("PostgreSQL variant: set TEST_DATABASE_URL (e.g. postgresql+asyncpg://postgres@127.0.0.1:5432/test)")
    problem = _in_thread(_pg_reachable, BASE_PG_URL)
    if problem is None and PG_URL != BASE_PG_URL:
        _in_thread(_create_pg_database, PG_URL, BASE_PG_URL)
    if problem is not None:
        message = f"PostgreSQL at {BASE_PG_URL} unreachable: {problem}"
        if CI:
            pytest.fail(message)
        pytest.skip(message)
    _in_thread(_reset_pg_schema, PG_URL)
    _in_thread(upgrade_sync, PG_URL)
    return PG_URL


async def _truncate_all(url: str) -> None:
    from models import Base

    engine = create_engine(url)
    names = ", ".join(f'"{t.name}"' for t in Base.metadata.sorted_tables)
    async with engine.begin() as conn:
        await conn.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))
    await engine.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
async def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[str]:
    """A migrated, empty database: a fresh SQLite file, or the shared PostgreSQL truncated."""
    if request.param == "sqlite":
        template: Path = request.getfixturevalue("sqlite_template")
        path = tmp_path / "test.db"
        shutil.copy(template, path)
        yield f"sqlite+aiosqlite:///{path}"
    else:
        url = request.getfixturevalue("pg_migrated")
        await _truncate_all(url)
        yield url


@pytest.fixture
async def sessionmaker(db_url: str):  # type: ignore[no-untyped-def]
    engine = create_engine(db_url)
    yield create_sessionmaker(engine)
    await engine.dispose()


@pytest.fixture
async def demo_sessionmaker(sessionmaker):  # type: ignore[no-untyped-def]
    """The demo district loaded."""
    from bot.services.org_import import seed_demo

    await seed_demo(sessionmaker)
    return sessionmaker


@pytest.fixture
async def emulator() -> AsyncIterator:  # type: ignore[type-arg]
    from bot.sandbox.emulator import BotAPIEmulator

    emu = BotAPIEmulator()
    await emu.start()
    emu.add_bot(token=BOT_TOKEN, username="gridbot_test", first_name="GridBot")
    yield emu
    await emu.stop()
