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


async def _table(engine) -> None:
    async with engine.begin() as conn:
        await conn.execute(text("CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT UNIQUE)"))


async def test_a_session_runs_its_calls_without_a_greenlet_when_none_can_wait(tmp_path, monkeypatch):
    import sqlalchemy.ext.asyncio.session as async_session

    from models.database import create_sessionmaker
    from models.sqlite_inline import InPlaceSession

    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'x.db'}")
    sessionmaker = create_sessionmaker(engine)
    spawned: list[object] = []
    real_spawn = async_session.greenlet_spawn

    async def counting_spawn(fn, *args, **kwargs):
        spawned.append(fn)
        return await real_spawn(fn, *args, **kwargs)

    try:
        await _table(engine)  # the pool's connection is made (in a greenlet: its first use takes a lock)
        monkeypatch.setattr(async_session, "greenlet_spawn", counting_spawn)
        session = sessionmaker()
        assert isinstance(session, InPlaceSession)
        await session.execute(text("INSERT INTO t (v) VALUES ('a')"))
        await session.flush()
        assert (await session.scalar(text("SELECT v FROM t"))) == "a"
        assert [r.v for r in (await session.execute(text("SELECT v FROM t"))).all()] == ["a"]
        (await session.connection()).sync_connection.exec_driver_sql("INSERT INTO t (v) VALUES ('b')")
        await session.commit()
        await session.execute(text("INSERT INTO t (v) VALUES ('c')"))
        await session.rollback()
        await session.close()
        assert spawned == []
        async with sessionmaker() as session:
            assert list(await session.scalars(text("SELECT v FROM t ORDER BY v"))) == ["a", "b"]
            with pytest.raises(IntegrityError):
                await session.execute(text("INSERT INTO t (v) VALUES ('a')"))
            await session.rollback()
        assert spawned == []
    finally:
        await engine.dispose()


async def test_a_session_waits_on_the_event_loop_while_another_holds_the_connection(tmp_path):
    """The pool's one connection, held by a session in a transaction: a second
    session's statement waits for it (in a greenlet, as any AsyncSession),
    and runs once the first commits."""
    import asyncio

    from models.database import create_sessionmaker

    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'x.db'}")
    sessionmaker = create_sessionmaker(engine)
    try:
        await _table(engine)
        first = sessionmaker()
        await first.execute(text("INSERT INTO t (v) VALUES ('a')"))
        second = sessionmaker()
        waiting = asyncio.create_task(second.scalar(text("SELECT count(*) FROM t")))
        for _ in range(20):
            await asyncio.sleep(0)
        assert not waiting.done()
        await first.commit()
        assert await asyncio.wait_for(waiting, 10) == 1
        await second.close()
        await first.close()
    finally:
        await engine.dispose()
