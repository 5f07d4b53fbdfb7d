"""The SQLite engine runs statements on the event loop's own thread."""

from __future__ import annotations

import threading

import pytest
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError

from models.database import create_engine


async def test_statements_run_on_the_loop_thread(tmp_path):
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'x.db'}")
    threads: list[int] = []
    try:
        async with engine.connect() as conn:
            raw = await conn.get_raw_connection()
            await conn.run_sync(
                lambda _: raw.driver_connection._conn.create_function(
                    "whoami", 0, lambda: threads.append(threading.get_ident()) or 1
                )
            )
            assert (await conn.execute(text("SELECT whoami()"))).scalar() == 1
    finally:
        await engine.dispose()
    assert threads == [threading.get_ident()]


async def test_transactions_and_errors_behave_as_with_aiosqlite(tmp_path):
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'x.db'}")
    try:
        async with engine.begin() as conn:
            await conn.execute(text("CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT UNIQUE)"))
            await conn.execute(text("INSERT INTO t (v) VALUES ('a'), ('b')"))
        async with engine.connect() as conn:
            await conn.execute(text("INSERT INTO t (v) VALUES ('c')"))
            await conn.rollback()
            with pytest.raises(IntegrityError):
                await conn.execute(text("INSERT INTO t (v) VALUES ('a')"))
            await conn.rollback()
            rows = (await conn.execute(text("SELECT v FROM t ORDER BY v"))).scalars().all()
            assert rows == ["a", "b"]
            # Many rows through one cursor, fetched in pieces.
            result = await conn.stream(text("SELECT v FROM t ORDER BY v"))
            assert [v async for v in result.scalars()] == ["a", "b"]
    finally:
        await engine.dispose()
