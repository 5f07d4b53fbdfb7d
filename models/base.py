"""Declarative base, the one UTC datetime type and shared column helpers.

The tables declare their columns with the annotations of SQLAlchemy 2: a bare
``Mapped[datetime | None]`` is a nullable :class:`UTCDateTime`, a bare
``Mapped[SomeStrEnum]`` the enum stored as its value (:func:`enum_column`),
``Mapped[int]`` / ``Mapped[bool]`` / ``Mapped[float]`` / ``Mapped[date]``
SQLAlchemy's own Integer, Boolean, Float and Date.  What many tables repeat
is written once below: :class:`IdBase` gives a table its BIGINT ``id``
primary key, ``Annotated`` presets stand for the insert and update times and
the references to people and cases, and :class:`TimestampMixin` adds the
pair of timestamps that close many tables.
"""

from __future__ import annotations

import enum
import logging
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

from sqlalchemy import (
    JSON,
    BigInteger,
    DateTime,
    Enum,
    Float,
    ForeignKey,
    Integer,
    MetaData,
    TypeDecorator,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

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
    # What a column's annotation alone maps to: every datetime is aware UTC, an enum
    # (the class is taken from the annotation) is enum_column's VARCHAR(16), and a
    # float the FLOAT of the migrations (SQLAlchemy 2.1's default would be DOUBLE).
    type_annotation_map = {datetime: UTCDateTime, enum.Enum: enum_column(enum.Enum), float: Float}


class IdBase(Base):
    """The base of the tables keyed by a BIGINT ``id`` (always their first column)."""

    __abstract__ = True
    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, sort_order=-1)


# Column presets, used as ``at: Mapped[DefaultNow]``; a ``mapped_column(...)`` on the
# attribute adds to its preset (``index=True``, ``unique=True``, ``primary_key=True``).
# DefaultNow: the time the row is inserted; RefreshedNow: also whenever the ORM updates it.
DefaultNow = Annotated[datetime, mapped_column(default=utcnow)]
RefreshedNow = Annotated[datetime, mapped_column(default=utcnow, onupdate=utcnow)]
# The person who did something: the row stays when they are erased.
UserSetNull = Annotated[int | None, mapped_column(ForeignKey("users.id", ondelete="SET NULL"))]
# Rows that are about one person and go with them.
UserCascade = Annotated[int, mapped_column(ForeignKey("users.id", ondelete="CASCADE"))]
# Rows a person must not be deleted from under (cases, patrols, appointments).
UserRestrict = Annotated[int, mapped_column(ForeignKey("users.id", ondelete="RESTRICT"))]
CaseCascade = Annotated[int, mapped_column(ForeignKey("cases.id", ondelete="CASCADE"))]
CommunityRestrict = Annotated[int, mapped_column(ForeignKey("communities.id", ondelete="RESTRICT"))]
GridRestrict = Annotated[int, mapped_column(ForeignKey("grids.id", ondelete="RESTRICT"))]


class TimestampMixin:
    """``created_at`` and ``updated_at`` (kept by the ORM), after the table's own columns."""

    created_at: Mapped[DefaultNow]
    updated_at: Mapped[RefreshedNow]
