"""Local days: Telegram-free helpers every feature shares.

Times are stored in UTC and shown in ``DISPLAY_TZ`` (Asia/Shanghai): a
"day" is always a local calendar day, and ``[start, end)`` day ranges become
aware instants with :func:`day_bounds`.
"""

from __future__ import annotations

import re
from datetime import date, datetime, time
from zoneinfo import ZoneInfo

from bot.services.bounds import in_range
from bot.services.errors import InvalidInput


def local_day(moment: datetime, tz: ZoneInfo) -> date:
    return moment.astimezone(tz).date()


def day_start(day: date, tz: ZoneInfo) -> datetime:
    """The local midnight that starts ``day``, as an aware datetime."""
    return datetime.combine(day, time.min, tz)


def day_bounds(start: date, end: date, tz: ZoneInfo) -> tuple[datetime, datetime]:
    """[start, end) local days as aware datetimes."""
    return day_start(start, tz), day_start(end, tz)


_DATE_PATTERNS = (
    re.compile(r"^(?P<y>\d{4})[-/.年](?P<m>\d{1,2})[-/.月](?P<d>\d{1,2})日?$"),
    re.compile(r"^(?P<m>\d{1,2})[-/.月](?P<d>\d{1,2})日?$"),
)
_MAX_DATE_TEXT = 40


def parse_date(text: str | None, today: date, *, no_future: bool = False) -> date:
    """A day typed by a person: ``2026-12-05``, ``2026/12/5``, ``12-05``, ``12/5``, ``12月5日``.

    Without a year it is this year; with ``no_future`` (a day that has
    happened, such as a diary day) a day without a year that would be in
    the future is last year's, and a future day is refused.
    A day outside :data:`bot.services.bounds.MIN_YEAR`..``MAX_YEAR`` (2000-2100) is not a date here.
    ``InvalidInput("bad_date")`` when it is not a date, ``InvalidInput("date_in_future")``
    when ``no_future`` refuses it.
    """
    cleaned = re.sub(r"\s+", "", text or "")
    if len(cleaned) > _MAX_DATE_TEXT:
        raise InvalidInput("bad_date")
    for pattern in _DATE_PATTERNS:
        m = pattern.match(cleaned)
        if m is None:
            continue
        groups = m.groupdict()
        try:
            day = date(int(groups["y"]) if groups.get("y") else today.year, int(m.group("m")), int(m.group("d")))
        except ValueError:
            raise InvalidInput("bad_date") from None
        if no_future and not groups.get("y") and day > today:
            try:
                day = day.replace(year=day.year - 1)
            except ValueError:  # 29 February
                raise InvalidInput("bad_date") from None
        if not in_range(day):
            raise InvalidInput("bad_date")
        if no_future and day > today:
            raise InvalidInput("date_in_future")
        return day
    raise InvalidInput("bad_date")
