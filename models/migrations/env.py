"""Alembic environment: runs migrations on the configured async engine."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

from alembic import context
from sqlalchemy import pool, text
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

import models  # noqa: F401  (registers every table)
from models.base import Base

config = context.config
target_metadata = Base.metadata


# Several processes started together on an empty PostgreSQL database (three webhook
# processes of a deployment without a separate migrate step) take turns: the first
# migrates, the others find the schema at head.  The lock is a session lock held by a
# connection of its own, idle outside any transaction, and the others ask for it again
# and again instead of queueing in a statement: a waiting statement is a transaction,
# and a migration's CREATE INDEX CONCURRENTLY (0024) waits for every older transaction
# to end (queueing in pg_advisory_lock deadlocked with it).
MIGRATION_LOCK = 0x67726964626F74  # "gridbot"
LOCK_POLL_SECONDS = 0.5


@contextlib.asynccontextmanager
async def _migration_lock(engine: AsyncEngine) -> AsyncIterator[None]:
    async with engine.connect() as holder:
        await holder.execution_options(isolation_level="AUTOCOMMIT")
        key = {"key": MIGRATION_LOCK}
        # noqa below: the lock is another process's; there is no event in this one to wait on.
        while not await holder.scalar(text("SELECT pg_try_advisory_lock(:key)"), key):  # noqa: ASYNC110
            await asyncio.sleep(LOCK_POLL_SECONDS)
        try:
            yield
        finally:
            await holder.scalar(text("SELECT pg_advisory_unlock(:key)"), key)


def _run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


async def _run_async() -> None:
    engine = create_async_engine(config.get_main_option("sqlalchemy.url"), poolclass=pool.NullPool,
                                 hide_parameters=True)
    async with contextlib.AsyncExitStack() as stack:
        if engine.dialect.name == "postgresql":
            await stack.enter_async_context(_migration_lock(engine))
        connection = await stack.enter_async_context(engine.connect())
        await connection.run_sync(_run)
    await engine.dispose()


if context.is_offline_mode():
    context.configure(url=config.get_main_option("sqlalchemy.url"), target_metadata=target_metadata,
                      literal_binds=True)
    with context.begin_transaction():
        context.run_migrations()
else:
    asyncio.run(_run_async())
