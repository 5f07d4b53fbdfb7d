"""SQLite on the event loop's own thread, behind SQLAlchemy's aiosqlite dialect.

aiosqlite runs every call (cursor, execute, fetch, close, commit) on a worker
thread and wakes the event loop for each result.  For the short statements a
bot runs, that hand-off costs far more than the statement: measured on the
development VM, a session that runs ``SELECT 1`` took 780 µs of CPU through
aiosqlite and 180 µs with the calls made in place (``benchmarks/README.md``,
"Inbound pipeline").  SQLite on a local file answers an indexed lookup in a
few microseconds, so we call the standard :mod:`sqlite3` module directly.

The object below has the small part of aiosqlite's ``Connection`` interface
that SQLAlchemy's adapter uses (it is passed as ``async_creator`` to
:func:`~sqlalchemy.ext.asyncio.create_async_engine`, a documented hook); its
coroutines never suspend.  The dialect, the ``sqlite+aiosqlite://`` URLs,
sqlite3's transaction handling and its errors are all unchanged.

The price: while a statement runs, the event loop waits for it.  With one
pooled connection (see :func:`models.database.create_engine`) every other
update already waited for a long statement; now network I/O waits too.  The
long ones are rare and bounded (a month report over a full-size district,
1.5 s; queueing a broadcast to 100,000 residents, about 3 s), and a
deployment that needs more moves to PostgreSQL.
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Awaitable, Callable, Iterable, Sequence
from typing import Any


class InlineCursor:
    __slots__ = ("_cursor",)

    def __init__(self, cursor: sqlite3.Cursor) -> None:
        self._cursor = cursor

    async def __aenter__(self) -> InlineCursor:
        return self

    async def __aexit__(self, *exc: object) -> None:
        self._cursor.close()

    @property
    def description(self) -> Any:
        return self._cursor.description

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

    async def execute(self, sql: str, parameters: Sequence[Any] | dict[str, Any] | None = None) -> InlineCursor:
        if parameters is None:
            self._cursor.execute(sql)
        else:
            self._cursor.execute(sql, parameters)
        return self

    async def executemany(self, sql: str, seq_of_parameters: Iterable[Any]) -> InlineCursor:
        self._cursor.executemany(sql, seq_of_parameters)
        return self

    async def fetchone(self) -> Any:
        return self._cursor.fetchone()

    async def fetchmany(self, size: int | None = None) -> list[Any]:
        return self._cursor.fetchmany(self._cursor.arraysize if size is None else size)

    async def fetchall(self) -> list[Any]:
        return self._cursor.fetchall()

    async def close(self) -> None:
        self._cursor.close()

    def __aiter__(self) -> InlineCursor:
        return self

    async def __anext__(self) -> Any:
        row = self._cursor.fetchone()
        if row is None:
            raise StopAsyncIteration
        return row


class _InlineTasks:
    """Stands in for aiosqlite's task queue, which SQLAlchemy's adapter uses
    directly to change the isolation level: run the call now."""

    __slots__ = ()

    @staticmethod
    def put_nowait(item: tuple[asyncio.Future[Any], Callable[[], Any]]) -> None:
        future, function = item
        try:
            future.set_result(function())
        except Exception as exc:  # noqa: BLE001 - handed to the awaiting caller
            future.set_exception(exc)


class InlineConnection:
    __slots__ = ("_conn", "_tx", "_connection")

    def __init__(self, conn: sqlite3.Connection) -> None:
        self._conn = conn
        self._tx = _InlineTasks()
        # aiosqlite's name for the open sqlite3 connection (None once closed);
        # SQLAlchemy's adapter checks it before commit and rollback.
        self._connection: sqlite3.Connection | None = conn

    @property
    def isolation_level(self) -> str | None:
        return self._conn.isolation_level

    def cursor(self) -> InlineCursor:
        return InlineCursor(self._conn.cursor())

    async def execute(self, sql: str, parameters: Sequence[Any] | dict[str, Any] | None = None) -> InlineCursor:
        return await self.cursor().execute(sql, parameters)

    async def commit(self) -> None:
        self._conn.commit()

    async def rollback(self) -> None:
        self._conn.rollback()

    async def close(self) -> None:
        self.stop()

    def stop(self) -> None:
        self._connection = None
        self._conn.close()

    async def create_function(self, *args: Any, **kwargs: Any) -> None:
        self._conn.create_function(*args, **kwargs)

    @property
    def sqlite(self) -> sqlite3.Connection:
        """The sqlite3 connection itself, for statements run directly
        (``models/direct.py``) in the connection's current transaction."""
        return self._conn


def inline_creator(path: str, *, timeout: float = 30.0) -> Callable[[], Awaitable[InlineConnection]]:
    """An ``async_creator`` for :func:`create_async_engine` opening ``path``."""

    async def connect() -> InlineConnection:
        # The pool may hand the connection to a task on another event loop
        # (tests run loops in threads); SQLAlchemy's pool keeps it to one user.
        return InlineConnection(sqlite3.connect(path, timeout=timeout, check_same_thread=False))

    return connect
