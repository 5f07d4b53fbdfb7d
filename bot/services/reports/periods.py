"""Report periods: local (``DISPLAY_TZ``) calendar days ``[start, end)``.

This week and last week (Monday to Sunday), this month, last month, this
year (each a code a button carries, read relative to today), or two dates
typed by the reader (``dYYYYMMDD-YYYYMMDD``, both days included, at most
``MAX_DAYS``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from bot.config import Settings
from bot.services.bounds import in_range
from bot.services.dates import day_bounds, day_start, local_day, parse_date
from bot.services.errors import InvalidInput

MAX_DAYS = 366  # the longest period one may type
PERIOD_CODES = ("tw", "lw", "tm", "lm", "ty")
_DATES_CODE = re.compile(r"^d(\d{8})-(\d{8})$")
_DATE = re.compile(r"\d{4}[-./年]\d{1,2}[-./月]\d{1,2}日?")
_MAX_DATES_TEXT = 80


@dataclass(frozen=True, slots=True)
class Period:
    code: str  # tw, lw, tm, lm, ty, or dYYYYMMDD-YYYYMMDD (both days included)
    start: date  # first local day
    end: date  # the day after the last local day

    @property
    def last(self) -> date:
        return self.end - timedelta(days=1)

    def bounds(self, settings: Settings) -> tuple[datetime, datetime]:
        return day_bounds(self.start, self.end, settings.tz)


def dates_period(start: date, last: date) -> Period:
    return Period(f"d{start:%Y%m%d}-{last:%Y%m%d}", start, last + timedelta(days=1))


def period_for(code: str, today: date) -> Period:
    """A period named by (possibly forged) callback data, relative to ``today`` (local)."""
    monday = today - timedelta(days=today.weekday())
    first = today.replace(day=1)
    if code == "tw":
        return Period(code, monday, monday + timedelta(days=7))
    if code == "lw":
        return Period(code, monday - timedelta(days=7), monday)
    if code == "tm":
        return Period(code, first, (first + timedelta(days=32)).replace(day=1))
    if code == "lm":
        start = (first - timedelta(days=1)).replace(day=1)
        return Period(code, start, first)
    if code == "ty":
        return Period(code, date(today.year, 1, 1), date(today.year + 1, 1, 1))
    m = _DATES_CODE.match(code or "")
    if m:
        try:
            start = datetime.strptime(m.group(1), "%Y%m%d").date()
            last = datetime.strptime(m.group(2), "%Y%m%d").date()
        except ValueError:
            raise InvalidInput("report_period") from None
        if not (in_range(start) and in_range(last)):
            raise InvalidInput("report_period")
        return _checked(start, last, today)
    raise InvalidInput("report_period")


def _checked(start: date, last: date, today: date) -> Period:
    if last < start:
        raise InvalidInput("report_dates_order")
    if start > today:
        raise InvalidInput("report_dates_future")
    if (last - start).days + 1 > MAX_DAYS:
        raise InvalidInput("report_dates_too_long", days=MAX_DAYS)
    return dates_period(start, last)


def parse_dates(text: str, today: date) -> Period:
    """Two dates typed by the reader: ``2026-11-01 2026-11-15`` (also ``2026/11/1 - 2026/11/15``,
    ``2026年11月1日至2026年11月15日``); one date is that single day.  Each date is read by
    :func:`bot.services.dates.parse_date`, with its year; the error codes are the reports' own."""
    text = (text or "").strip()
    found = _DATE.findall(text) if len(text) <= _MAX_DATES_TEXT else []
    if not 1 <= len(found) <= 2:
        raise InvalidInput("report_dates_format")
    try:
        days = [parse_date(day, today) for day in found]
    except InvalidInput:
        raise InvalidInput("report_dates_format") from None
    return _checked(days[0], days[-1], today)


def trend_bounds(period: Period, as_of: datetime, settings: Settings) -> list[datetime]:
    """The trend's buckets within the period, as instants: local weeks (Monday to Sunday)
    cut to the period, so that "this month" plots this month's days only (its first and
    last buckets may be shorter than a week); none after the week of ``as_of``."""
    end = min(period.end, local_day(as_of, settings.tz) + timedelta(days=7 - local_day(as_of, settings.tz).weekday()))
    end = max(end, period.start + timedelta(days=1))  # at least the period's first day
    days = [period.start]
    monday = period.start + timedelta(days=7 - period.start.weekday())
    while monday < end:
        days.append(monday)
        monday += timedelta(weeks=1)
    days.append(end)
    return [day_start(d, settings.tz) for d in days]
