"""The one parser for numbers and days from buttons and typed text (bot.services.bounds)."""

from __future__ import annotations

from datetime import date

import pytest
from pydantic import BaseModel, ValidationError

from bot.services.bounds import (
    MAX_ID,
    Code,
    DayOrdinal,
    Id,
    OptId,
    Page,
    check_day,
    day_from_ordinal,
    parse_int,
)
from bot.services.dates import parse_date
from bot.services.errors import InvalidInput
from bot.services.reports import period_for


class _Cb(BaseModel):
    id: Id = 1
    opt: OptId = 0
    page: Page = 0
    code: Code = 0
    day: DayOrdinal = 0


@pytest.mark.parametrize("field,value", [
    ("id", 0), ("id", -1), ("id", 2**63), ("id", "99999999999999999999999"),
    ("opt", -1), ("opt", 2**63), ("page", -1), ("page", 10**6), ("code", -1), ("code", 10**9),
    ("day", 1), ("day", date(1999, 12, 31).toordinal()), ("day", date(2101, 1, 1).toordinal()),
])
def test_out_of_range_is_not_a_value(field: str, value: object) -> None:
    with pytest.raises(ValidationError):
        _Cb(**{field: value})


def test_in_range_values() -> None:
    cb = _Cb(id=MAX_ID, opt=0, page=10_000, code=68_000_000, day=date(2026, 12, 5).toordinal())
    assert cb.id == 2**63 - 1 and _Cb(day=0).day == 0


@pytest.mark.parametrize("text", ["", "x", "1.5", "١٢", "99999999999999999999", "-0x1", " ", "1e3"])
def test_parse_int_refuses(text: str) -> None:
    with pytest.raises(InvalidInput):
        parse_int(text)


def test_parse_int_bounds() -> None:
    assert parse_int(" 42 ") == 42 and parse_int("-3", lo=-5, hi=5) == -3
    with pytest.raises(InvalidInput, match="bad"):
        parse_int("0", error="bad")


def test_days_outside_2000_2100_are_refused() -> None:
    today = date(2026, 12, 5)
    for text in ("0001-01-01", "1999-12-31", "2101-01-01", "9999-12-31"):
        with pytest.raises(InvalidInput, match="bad_date"):
            parse_date(text, today)
    assert parse_date("2000-01-01", today) == date(2000, 1, 1)
    with pytest.raises(InvalidInput):
        check_day(date(1, 1, 1))
    with pytest.raises(InvalidInput):
        day_from_ordinal(1)
    with pytest.raises(InvalidInput, match="report_period"):
        period_for("d00010101-00010102", today)
