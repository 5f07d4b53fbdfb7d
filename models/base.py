"""Declarative base, the one UTC datetime type and shared column helpers."""

from __future__ import annotations

import enum
import logging
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import JSON, BigInteger, DateTime, Enum, Integer, MetaData, TypeDecorator
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import DeclarativeBase

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

# BIGINT primary keys that still autoincrement on SQLite (where only INTEGER does).
BigIntPK = BigInteger().with_variant(Integer(), "sqlite")
# JSON that is JSONB on PostgreSQL.
JSONType = JSON().with_variant(postgresql.JSONB(), "postgresql").with_variant(sqlite.JSON(), "sqlite")


# The process clock.  Every "now" of the bot comes from utcnow(), so one offset
# here moves all of it: the sandbox's clock control ("advance one day") uses it to
# show reminders, escalations and nudges without waiting.  Production never sets
# it.  Code that sleeps until a due time (the delivery engine's scheduler) should
# subscribe with on_clock_change() and re-check its timers when it fires.
_clock_offset = timedelta(0)
_clock_listeners: list[Callable[[timedelta], None]] = []


def utcnow() -> datetime:
    """The current time, aware UTC (plus the clock offset, normally zero)."""
    return datetime.now(UTC) + _clock_offset


def clock_offset() -> timedelta:
    """How far :func:`utcnow` runs ahead of the real clock (process-wide)."""
    return _clock_offset


def set_clock_offset(offset: timedelta) -> None:
    """Move the process clock to real time + ``offset`` and wake the listeners."""
    global _clock_offset
    _clock_offset = offset
    for listener in list(_clock_listeners):
        try:
            listener(offset)
        except Exception:  # a broken listener must not stop the others
            logging.getLogger(__name__).exception("clock listener failed")


def on_clock_change(listener: Callable[[timedelta], None]) -> Callable[[], None]:
    """Call ``listener(new_offset)`` (synchronously) whenever the clock jumps.

    Returns a function that unsubscribes it.
    """
    _clock_listeners.append(listener)

    def unsubscribe() -> None:
        if listener in _clock_listeners:
            _clock_listeners.remove(listener)

    return unsubscribe


def enum_column(cls: type[enum.Enum], length: int = 16) -> Enum:
    """A Python enum stored as its value in a VARCHAR(``length``), the same on
    SQLite and PostgreSQL (no native enum type to migrate)."""
    return Enum(cls, native_enum=False, length=length)


class UTCDateTime(TypeDecorator[datetime]):
    """Stores aware datetimes as UTC; always returns aware UTC datetimes.

    SQLite hands back naive values even for ``DateTime(timezone=True)``; this
    type normalises both directions so the rest of the code only ever sees
    aware UTC.  Naive input is rejected: it is a bug to produce one.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        value = value.astimezone(UTC)
        if dialect.name == "sqlite":
            return value.replace(tzinfo=None)
        return value

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
