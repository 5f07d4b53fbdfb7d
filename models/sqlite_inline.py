"""SQLite on the event loop's own thread, under SQLAlchemy's asyncio extension.

aiosqlite runs every call (cursor, execute, fetch, close, commit) on a worker
thread and wakes the event loop for each result.  For the short statements a
bot runs, that hand-off costs far more than the statement: measured on the
development VM, a session that runs ``SELECT 1`` took 780 µs of CPU through
aiosqlite and 180 µs with the calls made in place (``benchmarks/README.md``,
"Inbound pipeline").  SQLite on a local file answers an indexed lookup in a
few microseconds, so we call the standard :mod:`sqlite3` module directly.

How, without a second copy of SQLAlchemy's SQLite support:

* :class:`SQLiteDialect_inplace` is SQLAlchemy's own ``pysqlite`` dialect
  (the one every synchronous SQLite engine uses: same SQL, same types, same
  transaction handling and errors), declared usable by an ``AsyncEngine``
  and given an asyncio-aware pool.  ``sqlite+aiosqlite://`` URLs stay the
  setting people write; :func:`models.database.create_engine` picks this
  dialect for a file database.
* Its connections are plain sqlite3 connections (:class:`InlineConnection`,
  with the one thing SQLAlchemy's asyncio extension asks of a cursor beyond
  the DB-API: ``_async_soft_close``).  Nothing they do ever waits, so a
  session needs no greenlet to run them.
* :class:`InPlaceSession`, the engine's ``AsyncSession``, runs its calls
  (execute, flush, commit, close...) directly instead of in a new greenlet
  each (a greenlet's creation and its switches cost about 8 µs each on the
  development VM, several per update).  The one thing that can wait is the
  pool: with its single connection held by another session, a checkout must
  wait for it on the event loop.  Only then does the session go through
  SQLAlchemy's ``greenlet_spawn`` as any ``AsyncSession`` does.

The price: while a statement runs, the event loop waits for it.  With one
pooled connection (see :func:`models.database.create_engine`) every other
update already waited for a long statement; now network I/O waits too.  The
long ones are rare and bounded (a month report over a full-size district,
1.5 s; queueing a broadcast to 100,000 residents, about 3 s), and a
deployment that needs more moves to PostgreSQL.
"""

from __future__ import annotations

import sqlite3
from collections import deque
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from sqlalchemy import pool, util
from sqlalchemy.dialects import registry
from sqlalchemy.dialects.sqlite.base import SQLiteExecutionContext
from sqlalchemy.dialects.sqlite.pysqlite import SQLiteDialect_pysqlite
from sqlalchemy.engine import URL
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession
from sqlalchemy.ext.asyncio.result import _ensure_sync_result
from sqlalchemy.util import await_only
from sqlalchemy.util.concurrency import in_greenlet

# The name the dialect is registered under (``sqlite+inplace``): internal, never in a setting.
DRIVER = "inplace"


async def _nothing() -> None:
    return None


def _yield_if_asked() -> None:
    """Inside SQLAlchemy's ``greenlet_spawn``, hand one (empty) awaitable to the
    event loop's side: ``AsyncConnection.execute`` checks that its driver awaited
    something and refuses a driver that never does.  Outside one (an
    :class:`InPlaceSession` running in place) there is nothing to hand it to."""
    if in_greenlet():
        await_only(_nothing())


class InlineCursor:
    """A sqlite3 cursor as SQLAlchemy's asyncio adapters present one: a statement's
    rows are read at once (``_rows``), so that the extension's soft close (which
    closes the cursor before the rows are read) keeps them; a server-side cursor
    (``stream``) reads them as asked."""

    __slots__ = ("_cursor", "_rows", "_description", "server_side")

    def __init__(self, cursor: sqlite3.Cursor, server_side: bool = False) -> None:
        self._cursor = cursor
        self._rows: deque[Any] = deque()
        self._description: Any = None  # kept by a soft close
        self.server_side = server_side

    @property
    def description(self) -> Any:
        return self._description if self._description is not None else self._cursor.description

    @property
    def rowcount(self) -> int:
        return self._cursor.rowcount

    @property
    def lastrowid(self) -> int | None:
        return self._cursor.lastrowid

    @property
    def arraysize(self) -> int:
        return self._cursor.arraysize

    @arraysize.setter
    def arraysize(self, value: int) -> None:
        self._cursor.arraysize = value

    def execute(self, sql: str, parameters: Sequence[Any] | dict[str, Any] | None = None) -> InlineCursor:
        _yield_if_asked()
        cursor = self._cursor
        if parameters is None:
            cursor.execute(sql)
        else:
            cursor.execute(sql, parameters)
        if not self.server_side and cursor.description is not None:
            self._rows = deque(cursor.fetchall())
        return self

    def executemany(self, sql: str, seq_of_parameters: Iterable[Any]) -> InlineCursor:
        _yield_if_asked()
        self._cursor.executemany(sql, seq_of_parameters)
        return self

    def fetchone(self) -> Any:
        if self.server_side:
            return self._cursor.fetchone()
        return self._rows.popleft() if self._rows else None

    def fetchmany(self, size: int | None = None) -> list[Any]:
        size = self._cursor.arraysize if size is None else size
        if self.server_side:
            return self._cursor.fetchmany(size)
        rows = self._rows
        return [rows.popleft() for _ in range(min(size, len(rows)))]

    def fetchall(self) -> list[Any]:
        if self.server_side:
            return self._cursor.fetchall()
        rows, self._rows = list(self._rows), deque()
        return rows

    def close(self) -> None:
        self._rows.clear()
        self._cursor.close()

    async def _async_soft_close(self) -> None:
        """Close the cursor, keeping its rows and description (SQLAlchemy's asyncio
        extension calls this before a result goes back to the caller)."""
        if self.server_side:
            return
        self._description = self._cursor.description
        self._cursor.close()


class InlineConnection:
    """A sqlite3 connection whose cursors are :class:`InlineCursor`."""

    __slots__ = ("_conn",)

    def __init__(self, conn: sqlite3.Connection) -> None:
        self._conn = conn

    def cursor(self, server_side: bool = False) -> InlineCursor:
        return InlineCursor(self._conn.cursor(), server_side)

    def commit(self) -> None:
        self._conn.commit()

    def rollback(self) -> None:
        self._conn.rollback()

    def close(self) -> None:
        self._conn.close()

    def create_function(self, *args: Any, **kwargs: Any) -> None:
        self._conn.create_function(*args, **kwargs)

    @property
    def isolation_level(self) -> str | None:
        return self._conn.isolation_level

    @isolation_level.setter
    def isolation_level(self, value: str | None) -> None:
        self._conn.isolation_level = value

    @property
    def in_transaction(self) -> bool:
        return self._conn.in_transaction

    @property
    def sqlite(self) -> sqlite3.Connection:
        """The sqlite3 connection itself, for statements run directly
        (``models/direct.py``) in the connection's current transaction."""
        return self._conn


class _InPlaceExecutionContext(SQLiteExecutionContext):
    def create_server_side_cursor(self) -> Any:
        return self._dbapi_connection.cursor(server_side=True)


class SQLiteDialect_inplace(SQLiteDialect_pysqlite):  # noqa: N801 - SQLAlchemy's naming of dialects
    """SQLAlchemy's pysqlite dialect, for an ``AsyncEngine`` (see the module)."""

    driver = DRIVER
    is_async = True
    supports_statement_cache = True
    supports_server_side_cursors = True
    execution_ctx_cls = _InPlaceExecutionContext

    @classmethod
    def get_pool_class(cls, url: URL) -> type[pool.Pool]:
        # Asyncio-aware: a session waiting for the connection waits on the event loop.
        return pool.AsyncAdaptedQueuePool


registry.register(f"sqlite.{DRIVER}", __name__, "SQLiteDialect_inplace")


def inline_creator(path: str, *, timeout: float = 30.0) -> Callable[[], InlineConnection]:
    """A ``creator`` for :func:`create_async_engine` with :class:`SQLiteDialect_inplace`."""

    def connect() -> InlineConnection:
        # The pool may hand the connection to a task on another event loop
        # (tests run loops in threads); SQLAlchemy's pool keeps it to one user.
        return InlineConnection(sqlite3.connect(path, timeout=timeout, check_same_thread=False))

    return connect


_EXECUTE_OPTIONS = util.immutabledict({"prebuffer_rows": True})  # as AsyncSession's own


def _buffered(execution_options: Any) -> Any:
    """A statement's options with its rows read at once, as ``AsyncSession.execute`` asks."""
    return util.immutabledict(execution_options).union(_EXECUTE_OPTIONS) if execution_options else _EXECUTE_OPTIONS


class InPlaceSession(AsyncSession):
    """An ``AsyncSession`` that runs its calls in place when none can wait (see the module).

    Only the calls a handler makes on every update are here; the rest are
    ``AsyncSession``'s own, in a greenlet, which works the same."""

    def _in_place(self) -> bool:
        """True when nothing this session does now can wait: it holds its
        connection already, or the pool has one idle (taken without waiting; a
        connection still to be made is made in a greenlet, as its first use
        takes a lock)."""
        transaction = self.sync_session.get_transaction()
        if transaction is not None and transaction._connections:  # noqa: SLF001 - its connection, if any
            return True
        return self.bind is not None and self.bind.sync_engine.pool.checkedin() > 0  # type: ignore[attr-defined]

    async def execute(self, statement: Any, params: Any = None, *, execution_options: Any = util.EMPTY_DICT,
                      bind_arguments: Any = None, **kw: Any) -> Any:
        if not self._in_place():
            return await super().execute(statement, params, execution_options=execution_options,
                                         bind_arguments=bind_arguments, **kw)
        result = self.sync_session.execute(statement, params=params, execution_options=_buffered(execution_options),
                                           bind_arguments=bind_arguments, **kw)
        return await _ensure_sync_result(result, self.execute)

    async def scalar(self, statement: Any, params: Any = None, *, execution_options: Any = util.EMPTY_DICT,
                     bind_arguments: Any = None, **kw: Any) -> Any:
        if not self._in_place():
            return await super().scalar(statement, params, execution_options=execution_options,
                                        bind_arguments=bind_arguments, **kw)
        return self.sync_session.scalar(statement, params=params, execution_options=_buffered(execution_options),
                                        bind_arguments=bind_arguments, **kw)

    async def get(self, entity: Any, ident: Any, **kw: Any) -> Any:
        if not self._in_place():
            return await super().get(entity, ident, **kw)
        return self.sync_session.get(entity, ident, **kw)

    async def flush(self, objects: Sequence[Any] | None = None) -> None:
        if not self._in_place():
            return await super().flush(objects)
        self.sync_session.flush(objects=objects)

    async def connection(self, bind_arguments: Any = None, execution_options: Any = None,
                         **kw: Any) -> AsyncConnection:
        if not self._in_place():
            return await super().connection(bind_arguments, execution_options, **kw)
        sync_connection = self.sync_session.connection(bind_arguments=bind_arguments,
                                                       execution_options=execution_options, **kw)
        return AsyncConnection._retrieve_proxy_for_target(sync_connection)  # noqa: SLF001 - as AsyncSession does

    async def commit(self) -> None:
        if not self._in_place():
            return await super().commit()
        self.sync_session.commit()

    async def rollback(self) -> None:
        self.sync_session.rollback()  # gives the connection back: never waits

    async def close(self) -> None:
        self.sync_session.close()  # gives the connection back: never waits
