"""The same migrations build the schema on SQLite and PostgreSQL, and go back down."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

import pytest
from sqlalchemy import inspect

from models import Base
from models.database import create_engine, downgrade_sync, upgrade_sync
from tests.conftest import _in_thread

ROOT = Path(__file__).resolve().parents[1]


async def _tables(url: str) -> set[str]:
    engine = create_engine(url)
    async with engine.connect() as conn:
        names = await conn.run_sync(lambda c: set(inspect(c).get_table_names()))
    await engine.dispose()
    return names - {"alembic_version"}


async def test_upgrade_empty_database_to_head_and_back(db_url: str) -> None:
    # db_url is already at head (the fixture migrates it): go down to nothing and up again.
    assert await _tables(db_url) == set(Base.metadata.tables)
    _in_thread(downgrade_sync, db_url, "base")
    assert await _tables(db_url) == set()
    _in_thread(upgrade_sync, db_url)
    assert await _tables(db_url) == set(Base.metadata.tables)


async def test_models_match_migrations(db_url: str) -> None:
    """Autogenerate finds nothing to do: the models and the migrations agree."""
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    engine = create_engine(db_url)

    def diff(conn):  # type: ignore[no-untyped-def]
        ctx = MigrationContext.configure(conn, opts={"compare_type": True})
        return compare_metadata(ctx, Base.metadata)

    async with engine.connect() as conn:
        changes = await conn.run_sync(diff)
    await engine.dispose()
    assert changes == []




async def test_processes_started_together_migrate_in_turn(db_url: str) -> None:
    """Three processes starting at once on an empty database: one migrates, the others
    wait for it (PostgreSQL: an advisory lock in models/migrations/env.py) and find the
    schema at head; none fails on a table another has just created."""
    if not db_url.startswith("postgresql"):
        pytest.skip("one SQLite file has one writer at a time: nothing to race")
    _in_thread(downgrade_sync, db_url, "base")
    # Processes, as in a deployment (alembic's context is one per process, not per thread).
    started = [await asyncio.create_subprocess_exec(
        sys.executable, "-c", "import sys; from models.database import upgrade_sync; upgrade_sync(sys.argv[1])",
        db_url, cwd=ROOT, stderr=asyncio.subprocess.PIPE) for _ in range(3)]
    for process in started:
        _, errors = await asyncio.wait_for(process.communicate(), 300)
        assert process.returncode == 0, errors.decode()[-3000:]
    assert await _tables(db_url) == set(Base.metadata.tables)
