"""Engine and session factory; applying migrations."""

from __future__ import annotations

import asyncio
import functools
import weakref
from pathlib import Path
from typing import Any

from sqlalchemy import event, inspect, text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

from models.sqlite_inline import DRIVER, InPlaceSession, inline_creator

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"

# Engines whose connections run every call in place (models/sqlite_inline.py):
# their sessions never suspend while closing.
_IN_PLACE: weakref.WeakSet[Any] = weakref.WeakSet()


def create_engine(database_url: str, *, echo: bool = False) -> AsyncEngine:
    """The engine for ``database_url``.  Its errors and logs never carry a
    statement's parameter values (``hide_parameters``): they are residents'
    names, phones and words (docs/privacy.md)."""
    url = make_url(database_url)
    if url.get_backend_name() == "sqlite":
        # SQLite has one writer.  Many sessions each with a connection of their
        # own would contend for its lock through SQLite's busy handler, which
        # sleeps in growing steps (up to 100 ms) and makes latency explode under
        # load.  One pooled connection turns that into a fair asyncio queue:
        # sessions take turns per transaction (handlers commit before every
        # request to Telegram, so nobody holds it across the network).  Never
        # open a second session while holding one with an open transaction.
        # Statements run on the event loop's thread, without aiosqlite's
        # worker-thread hand-off (see models/sqlite_inline.py).
        path = url.database
        in_place = bool(path and path != ":memory:" and not url.query)
        options: dict[str, Any] = (
            {"creator": inline_creator(path, timeout=30)} if in_place else {"connect_args": {"timeout": 30}}
        )
        if in_place:
            url = url.set(drivername=f"sqlite+{DRIVER}")
        engine = create_async_engine(url, echo=echo, pool_size=1, max_overflow=0, pool_timeout=60,
                                     hide_parameters=True, **options)
        if in_place:
            _IN_PLACE.add(engine.sync_engine)

        @event.listens_for(engine.sync_engine, "connect")
        def _sqlite_pragmas(dbapi_conn, _record):  # type: ignore[no-untyped-def]
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA busy_timeout=30000")
            cur.close()

        return engine
    return create_async_engine(url, echo=echo, pool_size=10, max_overflow=10, pool_pre_ping=True,
                               hide_parameters=True)


def create_sessionmaker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    if runs_in_place(engine):
        return async_sessionmaker(engine, class_=InPlaceSession, expire_on_commit=False)
    return async_sessionmaker(engine, expire_on_commit=False)


def runs_in_place(engine: AsyncEngine | Any) -> bool:
    """True if ``engine`` is SQLite run on the event loop's thread
    (``models/sqlite_inline.py``): nothing its sessions do yields to the
    event loop, and its statements may go to sqlite3 directly
    (``models/direct.py``).

    Closing such a session: ``async with session`` closes it in a task of
    its own, shielded from cancellation, so that a cancelled caller cannot
    abandon a connection half returned to the pool.  That costs a task and
    several turns of the event loop per session.  When nothing in
    ``close()`` can suspend, no cancellation can arrive partway through it,
    and the session may simply be closed with ``await session.close()``.
    """
    return isinstance(engine, AsyncEngine) and engine.sync_engine in _IN_PLACE


def alembic_config(database_url: str):  # type: ignore[no-untyped-def]
    from alembic.config import Config  # alembic is loaded only to migrate

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    cfg.set_main_option("sqlalchemy.url", database_url.replace("%", "%%"))
    return cfg


def upgrade_sync(database_url: str, revision: str = "heads") -> None:
    from alembic import command  # alembic is loaded only to migrate

    command.upgrade(alembic_config(database_url), revision)


def downgrade_sync(database_url: str, revision: str) -> None:
    from alembic import command  # alembic is loaded only to migrate

    command.downgrade(alembic_config(database_url), revision)


async def upgrade(database_url: str, revision: str = "heads") -> None:
    """Apply migrations (Alembic runs them on the async engine in a thread).  Refuses
    (:class:`SchemaTooNew`) a database a newer version of the code has migrated."""
    engine = create_engine(database_url)
    try:
        await check_schema_known(engine)
    finally:
        await engine.dispose()
    await asyncio.to_thread(upgrade_sync, database_url, revision)


# -- the schema's revision: rolling upgrades -------------------------------------------


class SchemaTooNew(Exception):
    """The database is at a migration this code does not know (a newer version ran it)."""


@functools.cache
def migration_heads() -> tuple[frozenset[str], frozenset[str]]:
    """This code's head revision(s) and every revision it knows."""
    from alembic.script import ScriptDirectory  # alembic is loaded only for migrations

    script = ScriptDirectory.from_config(alembic_config("sqlite://"))
    return frozenset(script.get_heads()), frozenset(rev.revision for rev in script.walk_revisions())


async def schema_revisions(engine: AsyncEngine) -> frozenset[str]:
    """The revision(s) the database is at (empty: never migrated)."""
    async with engine.connect() as conn:
        exists = await conn.run_sync(lambda c: inspect(c).has_table("alembic_version"))
        if not exists:
            return frozenset()
        return frozenset((await conn.execute(text("SELECT version_num FROM alembic_version"))).scalars())


async def check_schema_known(engine: AsyncEngine) -> frozenset[str]:
    """Raise :class:`SchemaTooNew` (one line) if the database is at a migration this
    code does not know; returns the database's revisions."""
    revisions = await schema_revisions(engine)
    heads, known = migration_heads()
    unknown = revisions - known
    if unknown:
        raise SchemaTooNew(
            f"the database is at migration {', '.join(sorted(unknown))}, newer than this version of gridbot "
            f"knows (its latest is {', '.join(sorted(heads))}): run the newer version, not this one")
    return revisions
