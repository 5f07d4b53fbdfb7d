"""Bounded input: the one parser every feature uses for numbers that come from
buttons (callback data) or typed text, and the day range the bot accepts.

Anything a client sends can be forged.  An id past BIGINT (``2**63 - 1``)
used to reach the driver and raise ``OverflowError`` ("Python int too large
to convert to SQLite INTEGER"); a day in year 1 or 9999 broke day arithmetic.
Here a number is either in its range or not a number at all: a button whose
data is out of range does not match its filter (the fallback answers "This
button is no longer valid."), a typed value out of range is refused.

The types are pydantic ``Annotated`` ints, the form aiogram's ``CallbackData``
fields take (its filter treats a ``ValidationError`` as "no match").
"""

from __future__ import annotations

from datetime import date
from typing import Annotated

from pydantic import AfterValidator, Field

from bot.services.errors import InvalidInput

MAX_ID = 2**63 - 1  # BIGINT, on SQLite and PostgreSQL alike
MAX_PAGE = 10_000  # pages and small counters a keyboard carries
MIN_YEAR, MAX_YEAR = 2000, 2100  # days the bot reads: a district's records start after 2000
MIN_DAY, MAX_DAY = date(MIN_YEAR, 1, 1), date(MAX_YEAR, 12, 31)
MIN_ORDINAL, MAX_ORDINAL = MIN_DAY.toordinal(), MAX_DAY.toordinal()
MAX_CODE = 10**9  # a day ordinal or a slot in minutes since the epoch (year 2100: 6.9e7)

# A database id: 0 < n < 2**63.
Id = Annotated[int, Field(gt=0, le=MAX_ID)]
# An id where 0 means "none" (a default, a top level): 0 <= n < 2**63.
OptId = Annotated[int, Field(ge=0, le=MAX_ID)]
# A page or a small choice (a score, a direction, a flag).
Page = Annotated[int, Field(ge=0, le=MAX_PAGE)]
# A page, a day ordinal or a slot code (appointments' ``x``): never negative, never huge.
Code = Annotated[int, Field(ge=0, lt=MAX_CODE)]


def _day_ordinal(value: int) -> int:
    if value != 0 and not MIN_ORDINAL <= value <= MAX_ORDINAL:
        raise ValueError("day out of range")
    return value


# A day as its ordinal (0: none), within MIN_YEAR..MAX_YEAR.
DayOrdinal = Annotated[int, AfterValidator(_day_ordinal)]


def parse_int(text: str | int | None, *, lo: int = 1, hi: int = MAX_ID, error: str = "stale_button") -> int:
    """A whole number in ``[lo, hi]`` from text (digits, an optional minus, at most 19
    of them); ``InvalidInput(error)`` for anything else."""
    if isinstance(text, int) and not isinstance(text, bool):
        value = text
    else:
        s = (text or "").strip() if isinstance(text, str) else ""
        digits = s[1:] if s[:1] == "-" else s
        if not digits or len(digits) > 19 or not digits.isascii() or not digits.isdigit():
            raise InvalidInput(error)
        value = int(s)
    if not lo <= value <= hi:
        raise InvalidInput(error)
    return value


def in_range(day: date) -> bool:
    return MIN_DAY <= day <= MAX_DAY


def check_day(day: date, error: str = "bad_date") -> date:
    """``day`` if it lies within MIN_YEAR..MAX_YEAR, else ``InvalidInput(error)``."""
    if not in_range(day):
        raise InvalidInput(error)
    return day


def day_from_ordinal(code: int, error: str = "stale_button") -> date:
    """A day a button carries as its ordinal, within the range."""
    if not isinstance(code, int) or not MIN_ORDINAL <= code <= MAX_ORDINAL:
        raise InvalidInput(error)
    return date.fromordinal(code)
