"""The same migrations build the schema on SQLite and PostgreSQL, and go back down."""

from __future__ import annotations

from sqlalchemy import inspect

from models import Base
from models.database import create_engine, downgrade_sync, upgrade_sync
from tests.conftest import _in_thread


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


