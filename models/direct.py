"""The few statements run on every update, handed to sqlite3 directly.

SQLAlchemy's statement execution (execution context, parameter processing,
result objects, the async session's greenlet hand-off) costs about 250-400 µs
per statement on the development VM, against 10-30 µs for the statement
itself in plain :mod:`sqlite3` (``benchmarks/README.md``, "Inbound
pipeline").  A handful of statements run for nearly every update: the user
lookup, a new user's row, the conversation state and the done-mark.

A :class:`DirectStatement` is an ordinary Core statement.  On SQLite run in
place (``models/sqlite_inline.py``) it is compiled once by SQLAlchemy for the
connection's dialect, and run on the session's own sqlite3 connection, inside
the session's transaction, with the columns' own bind and result processors:
values are written and read exactly as SQLAlchemy writes and reads them
(tests compare the two).  sqlite3's errors are raised as SQLAlchemy's
(:class:`sqlalchemy.exc.IntegrityError` and so on).  On any other database it
is simply executed by the session.

:func:`persistent` turns column values read that way into ORM objects that
belong to the session, as if a query had loaded them.
"""

from __future__ import annotations

import sqlite3
import weakref
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, TypeVar

from sqlalchemy import Connection, Dialect, Select, exc, inspect
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session, make_transient_to_detached
from sqlalchemy.orm.attributes import set_committed_value
from sqlalchemy.sql.expression import Executable

from models.base import UTCDateTime
from models.database import runs_in_place
from models.sqlite_inline import InlineConnection

T = TypeVar("T")
_Processor = Callable[[Any], Any] | None
_REQUIRED = object()


@dataclass(frozen=True, slots=True)
class DirectResult:
    rows: list[tuple[Any, ...]]
    rowcount: int

    @classmethod
    def of(cls, result: Any) -> DirectResult:
        """From a SQLAlchemy result (the statement executed the usual way)."""
        return cls([tuple(r) for r in result] if result.returns_rows else [], result.rowcount)

    def scalar(self) -> Any:
        """The first column of the first row, or None without rows."""
        return self.rows[0][0] if self.rows else None


@dataclass(frozen=True, slots=True)
class _Compiled:
    sql: str
    names: tuple[str, ...]
    fixed: tuple[Any, ...]  # a value given in the statement itself, or _REQUIRED
    binds: tuple[_Processor, ...]
    results: tuple[_Processor, ...] | None  # None: no column needs processing


class DirectStatement:
    """A Core statement that runs on sqlite3 itself where it can."""

    __slots__ = ("statement", "_compiled")

    def __init__(self, statement: Executable) -> None:
        self.statement = statement
        self._compiled: dict[tuple[str, str], _Compiled] = {}

    def _compile(self, dialect: Dialect) -> _Compiled:
        key = (dialect.name, dialect.driver)
        compiled = self._compiled.get(key)
        if compiled is None:
            c = self.statement.compile(dialect=dialect)
            if not c.positional or c.positiontup is None:
                raise TypeError(f"{dialect.name} compiles {self.statement!r} without positional parameters")
            names = tuple(c.positiontup)
            params = [c.binds[n] for n in names]
            if any(p.expanding for p in params):
                raise TypeError(f"{self.statement!r}: expanding parameters (IN lists) are not supported")
            fixed = tuple(_REQUIRED if p.required else p.effective_value for p in params)
            binds = tuple(_bind_processor(p.type, dialect) for p in params)
            # A SELECT's columns, or an INSERT/UPDATE's RETURNING columns.
            statement: Any = self.statement
            columns = statement.selected_columns if isinstance(statement, Select) else statement.exported_columns
            processors = tuple(_result_processor(col.type, dialect) for col in columns)
            results = processors if any(p is not None for p in processors) else None
            compiled = self._compiled[key] = _Compiled(c.string, names, fixed, binds, results)
        return compiled

    def run_sync(self, connection: Connection, params: Mapping[str, Any]) -> DirectResult:
        """Run on a synchronous connection (inside a session event, say)."""
        driver = connection.connection.driver_connection
        if not isinstance(driver, InlineConnection):
            return DirectResult.of(connection.execute(self.statement, dict(params)))
        c = self._compile(connection.dialect)
        args = []
        for name, fixed, process in zip(c.names, c.fixed, c.binds, strict=True):
            if name in params:
                value = params[name]
            elif fixed is _REQUIRED:
                raise exc.InvalidRequestError(f"A value is required for bind parameter {name!r}")
            else:
                value = fixed
            args.append(value if process is None else process(value))
        try:
            cursor = driver.sqlite.execute(c.sql, args)
            try:
                raw = cursor.fetchall() if cursor.description is not None else []
                rowcount = cursor.rowcount
            finally:
                cursor.close()
        except sqlite3.Error as err:
            raise exc.DBAPIError.instance(c.sql, args, err, sqlite3.Error) from err
        results = c.results
        if results is None:
            return DirectResult(raw, rowcount)
        return DirectResult([tuple(v if p is None else p(v) for p, v in zip(results, row, strict=True))
                             for row in raw], rowcount)

    async def run(self, session: AsyncSession, params: Mapping[str, Any]) -> DirectResult:
        """Run in the session's transaction (beginning it if need be), after
        flushing pending ORM changes as ``session.execute`` would."""
        sync_session = session.sync_session
        if sync_session.autoflush and (sync_session.new or sync_session.dirty or sync_session.deleted):
            await session.flush()
        if runs_in_place(session.bind):
            connection = _held_connection(sync_session)
            if connection is None:
                connection = (await session.connection()).sync_connection
                assert connection is not None
                # The transaction by a weak reference: it refers to the session, whose info
                # this is, and that cycle would leave every update's session, connection and
                # transactions to the garbage collector instead of being freed at once.
                sync_session.info[_CONNECTION] = (weakref.ref(sync_session.get_transaction()), connection)
            return self.run_sync(connection, params)
        return DirectResult.of(await session.execute(self.statement, dict(params)))


def _bind_processor(type_: Any, dialect: Dialect) -> _Processor:
    """The column type's bind processor; for :class:`models.base.UTCDateTime` on SQLite the
    same text made by ``datetime.isoformat`` (in C) instead of SQLAlchemy's ``%`` formatting
    of each field in Python (every answer writes three timestamps)."""
    generic = type_.dialect_impl(dialect).bind_processor(dialect)
    if not (isinstance(type_, UTCDateTime) and dialect.name == "sqlite" and _default_storage(dialect)):
        return generic

    def process(value: Any) -> Any:
        if value is None:
            return None
        if type(value) is not datetime or value.tzinfo is None:
            return generic(value)  # type: ignore[misc] # the naive-datetime error, or whatever else it says
        return value.astimezone(UTC).replace(tzinfo=None).isoformat(" ", "microseconds")

    return process


def _result_processor(type_: Any, dialect: Dialect) -> _Processor:
    """The column type's result processor; for :class:`models.base.UTCDateTime` on SQLite,
    ``datetime.fromisoformat`` (in C) reads what :func:`_bind_processor` writes, and any
    other text goes to SQLAlchemy's parser."""
    generic = type_.dialect_impl(dialect).result_processor(dialect, None)
    if generic is None or not (isinstance(type_, UTCDateTime) and dialect.name == "sqlite"
                               and _default_storage(dialect)):
        return generic

    def process(value: Any) -> Any:
        if type(value) is str and len(value) == 26:  # noqa: PLR2004 - YYYY-MM-DD HH:MM:SS.ffffff
            try:
                return datetime.fromisoformat(value).replace(tzinfo=UTC)
            except ValueError:
                pass
        return generic(value)  # type: ignore[misc]

    return process


def _default_storage(dialect: Dialect) -> bool:
    """Whether the dialect writes SQLite DATETIMEs in SQLAlchemy's default format (the
    one ``isoformat(" ", "microseconds")`` makes)."""
    impl = UTCDateTime().dialect_impl(dialect).impl_instance  # the dialect's DATETIME
    return getattr(impl, "_storage_format", None) in (None, _SQLITE_DATETIME_FORMAT)


_SQLITE_DATETIME_FORMAT = ("%(year)04d-%(month)02d-%(day)02d %(hour)02d:%(minute)02d:%(second)02d."
                           "%(microsecond)06d")


# The sqlite3-backed connection of a session's current transaction, kept in
# ``session.info`` so that later statements of the same transaction skip
# ``session.connection()`` (a greenlet hand-off and the transaction's
# bookkeeping, about 30 µs).  A new transaction is a new object: it is
# looked up again.
_CONNECTION = "gridbot.direct_connection"


def _held_connection(session: Session) -> Connection | None:
    held = session.info.get(_CONNECTION)
    if held is None:
        return None
    transaction_ref, connection = held
    transaction = transaction_ref()
    if transaction is None or transaction is not session.get_transaction() or not transaction.is_active \
            or connection.closed:
        return None
    return connection  # type: ignore[no-any-return]


def persistent(cls: type[T], columns: Mapping[str, Any], relationships: Mapping[str, Any] | None = None) -> T:
    """An instance of the mapped class ``cls`` holding these values as its
    committed state, with its identity key set (SQLAlchemy's *detached*
    state), built the way the ORM's loader builds one (no ``__init__``, no
    attribute events).  ``columns`` must give every column attribute: a
    missing one would be loaded on first access, which an async session
    refuses.  ``relationships`` are set as loaded (related objects made the
    same way).  ``session.add()`` then makes it, and through the save-update
    cascade its related objects, persistent in that session, as if a query
    had loaded them."""
    manager = inspect(cls).class_manager
    missing = _column_attributes(cls).difference(columns)
    if missing:
        raise TypeError(f"{cls.__name__}: no value for {sorted(missing)}")
    obj = manager.new_instance()
    obj.__dict__.update(columns)
    for key, value in (relationships or {}).items():
        set_committed_value(obj, key, value)
    make_transient_to_detached(obj)
    return obj  # type: ignore[no-any-return]


_COLUMN_ATTRIBUTES: dict[type, frozenset[str]] = {}


def _column_attributes(cls: type) -> frozenset[str]:
    keys = _COLUMN_ATTRIBUTES.get(cls)
    if keys is None:
        keys = _COLUMN_ATTRIBUTES[cls] = frozenset(p.key for p in inspect(cls).column_attrs)
    return keys


def attribute_names(cls: type, columns: Any) -> tuple[str, ...]:
    """The attribute of mapped class ``cls`` behind each of ``columns``."""
    mapper = inspect(cls)
    return tuple(mapper.get_property_by_column(column).key for column in columns)


def column_defaults(table: Any, values: Mapping[str, Any], *, skip: Sequence[str] = ()) -> dict[str, Any]:
    """``values`` completed with the Python-side defaults of ``table``'s
    columns, as the ORM would apply them to an INSERT."""
    out = dict(values)
    for column in table.c:
        if column.key in out or column.key in skip:
            continue
        default = column.default
        if column.server_default is not None:
            raise TypeError(f"{table.name}.{column.key}: a server-side default cannot be computed here")
        if default is None:
            out[column.key] = None
        elif default.is_callable:
            out[column.key] = default.arg(None)
        elif default.is_scalar:
            out[column.key] = default.arg
        else:
            raise TypeError(f"{table.name}.{column.key}: a SQL-side default cannot be computed here")
    return out
