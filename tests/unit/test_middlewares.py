"""The update's session: how it marks its inbound row done (or, committing before
slow work, leaves it pending), and how it closes."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select, text

from bot.middlewares import _MARK_DONE, DbSessionMiddleware, UpdateAlreadyDone, commit_keep_pending
from models import InboundStatus, InboundUpdate, User, utcnow
from models.database import create_engine, runs_in_place
from tests.factories import pending_inbound


async def test_done_mark_is_written_as_the_core_statement_writes_it(sessionmaker):
    """On SQLite the mark goes to sqlite3 directly: the stored row must be the
    same, byte for byte, as the one SQLAlchemy's statement writes."""
    by_middleware, by_core = await pending_inbound(sessionmaker, 1), await pending_inbound(sessionmaker, 2)

    async def handler(event: Any, data: dict[str, Any]) -> str:  # noqa: ARG001
        data["session"].add(User(telegram_id=77, first_name="x"))
        return "handled"

    assert await DbSessionMiddleware(sessionmaker)(handler, object(), {"inbound_id": by_middleware}) == "handled"
    async with sessionmaker() as s:
        await s.execute(_MARK_DONE, {"inbound_id": by_core, "processed_at": utcnow()})
        await s.commit()
    async with sessionmaker() as s:
        rows = {r.id: r for r in (await s.scalars(select(InboundUpdate))).all()}
        assert await s.scalar(select(User.first_name).where(User.telegram_id == 77)) == "x"
        sqlite = s.bind.dialect.name == "sqlite"
        raw = {i: tuple(r) for i, *r in (await s.execute(text(
            "SELECT id, status, typeof(processed_at), length(processed_at) FROM inbound_updates" if sqlite
            else "SELECT id, status, pg_typeof(processed_at)::text FROM inbound_updates"))).all()}
    assert rows[by_middleware].status == rows[by_core].status == InboundStatus.done
    assert rows[by_middleware].processed_at.tzinfo is not None
    assert abs((rows[by_core].processed_at - rows[by_middleware].processed_at).total_seconds()) < 60
    assert raw[by_middleware] == raw[by_core]


async def test_a_failed_handler_leaves_its_updatepending_inbound(sessionmaker):
    row_id = await pending_inbound(sessionmaker, 3)

    async def handler(event: Any, data: dict[str, Any]) -> None:  # noqa: ARG001
        data["session"].add(User(telegram_id=78, first_name="y"))
        await data["session"].flush()
        raise RuntimeError("handler bug")

    with pytest.raises(RuntimeError):
        await DbSessionMiddleware(sessionmaker)(handler, object(), {"inbound_id": row_id})
    async with sessionmaker() as s:
        assert await s.scalar(select(InboundUpdate.status).where(InboundUpdate.id == row_id)) == InboundStatus.pending
        assert await s.scalar(select(User.id).where(User.telegram_id == 78)) is None


async def test_the_session_gives_its_connection_back(sessionmaker):
    engine = sessionmaker.kw["bind"]
    middleware = DbSessionMiddleware(sessionmaker)
    assert middleware.close_in_place == (engine.dialect.name == "sqlite")
    row_id = await pending_inbound(sessionmaker, 4)

    async def handler(event: Any, data: dict[str, Any]) -> None:  # noqa: ARG001
        await data["session"].execute(select(User.id))

    await middleware(handler, object(), {"inbound_id": row_id})
    assert engine.sync_engine.pool.checkedout() == 0


def test_only_sqlite_run_in_place_runs_in_place(tmp_path):
    assert runs_in_place(create_engine(f"sqlite+aiosqlite:///{tmp_path / 'x.db'}"))
    # A URL with a query string keeps aiosqlite's threads (models/database.py).
    assert not runs_in_place(create_engine(f"sqlite+aiosqlite:///{tmp_path / 'y.db'}?timeout=5"))
    assert not runs_in_place(create_engine("postgresql+asyncpg://postgres@127.0.0.1:5432/test"))


async def test_an_update_finished_by_another_process_commits_nothing(sessionmaker):
    """A process whose lease ran out while it worked, and the one that took the
    update over: whichever commits second has its effects rolled back."""
    row_id = await pending_inbound(sessionmaker, 5)

    async def handler(event: Any, data: dict[str, Any]) -> None:  # noqa: ARG001
        data["session"].add(User(telegram_id=79, first_name="z"))
        async with sessionmaker() as other:  # the other process finishes first
            await other.execute(_MARK_DONE, {"inbound_id": row_id, "processed_at": utcnow()})
            await other.commit()

    with pytest.raises(UpdateAlreadyDone):
        await DbSessionMiddleware(sessionmaker)(handler, object(), {"inbound_id": row_id})
    async with sessionmaker() as s:
        assert await s.scalar(select(User.id).where(User.telegram_id == 79)) is None
        assert await s.scalar(select(InboundUpdate.status).where(InboundUpdate.id == row_id)) == InboundStatus.done


async def _status(sessionmaker, row_id: int) -> InboundStatus:  # type: ignore[no-untyped-def]
    async with sessionmaker() as s:
        return await s.scalar(select(InboundUpdate.status).where(InboundUpdate.id == row_id))  # type: ignore[return-value]


async def test_a_commit_before_slow_work_leaves_the_update_pending(sessionmaker):
    """commit_keep_pending (a report's files about to render): the work so far is
    committed and the writer freed, the update stays pending; the handler's final
    commit marks it done with the rest.  Killed in between, the update would be
    handled again (tests/e2e/test_durability.py kills a real process there)."""
    row_id = await pending_inbound(sessionmaker, 6)
    seen: dict[str, Any] = {}

    async def handler(event: Any, data: dict[str, Any]) -> None:  # noqa: ARG001
        session = data["session"]
        session.add(User(telegram_id=80, first_name="before"))
        await commit_keep_pending(session)
        assert not session.in_transaction()
        # The slow work: meanwhile another update writes (on SQLite the one writer is free).
        async with sessionmaker() as other:
            other.add(User(telegram_id=81, first_name="meanwhile"))
            await other.commit()
            seen["before"] = await other.scalar(select(User.first_name).where(User.telegram_id == 80))
        seen["status"] = await _status(sessionmaker, row_id)
        await commit_keep_pending(session)  # nothing open: nothing to commit
        session.add(User(telegram_id=82, first_name="after"))

    await DbSessionMiddleware(sessionmaker)(handler, object(), {"inbound_id": row_id})
    assert seen == {"before": "before", "status": InboundStatus.pending}
    assert await _status(sessionmaker, row_id) == InboundStatus.done
    async with sessionmaker() as s:
        assert set(await s.scalars(select(User.telegram_id).where(User.telegram_id >= 80))) == {80, 81, 82}


async def test_a_handler_failing_after_a_commit_that_kept_it_pending_is_not_done(sessionmaker):
    """What the early commit wrote stays (it must be safe to write again); the
    update stays pending for its next attempt."""
    row_id = await pending_inbound(sessionmaker, 7)

    async def handler(event: Any, data: dict[str, Any]) -> None:  # noqa: ARG001
        data["session"].add(User(telegram_id=83, first_name="kept"))
        await commit_keep_pending(data["session"])
        data["session"].add(User(telegram_id=84, first_name="undone"))
        await data["session"].flush()
        raise RuntimeError("the rendering failed")

    with pytest.raises(RuntimeError):
        await DbSessionMiddleware(sessionmaker)(handler, object(), {"inbound_id": row_id})
    assert await _status(sessionmaker, row_id) == InboundStatus.pending
    async with sessionmaker() as s:
        assert set(await s.scalars(select(User.telegram_id).where(User.telegram_id >= 83))) == {83}
