"""Quiet hours (``QUIET_HOURS``, local time): when non-urgent messages wait."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from datetime import time as dtime
from zoneinfo import ZoneInfo


def parse_quiet_hours(spec: str) -> tuple[dtime, dtime] | None:
    """``"22:00-07:00"`` -> (22:00, 07:00); empty -> None (no quiet hours)."""
    spec = (spec or "").strip()
    if not spec:
        return None
    start, end = spec.split("-")
    h1, m1 = (int(x) for x in start.split(":"))
    h2, m2 = (int(x) for x in end.split(":"))
    if (h1, m1) == (h2, m2):
        return None
    return dtime(h1, m1), dtime(h2, m2)


def in_quiet_hours(moment: datetime, spec: str, tz: ZoneInfo) -> bool:
    window = parse_quiet_hours(spec)
    if window is None:
        return False
    start, end = window
    local = moment.astimezone(tz).time()
    if start < end:
        return start <= local < end
    return local >= start or local < end


def quiet_hours_end(moment: datetime, spec: str, tz: ZoneInfo) -> datetime:
    """When the quiet hours containing ``moment`` end (``moment`` if not quiet)."""
    window = parse_quiet_hours(spec)
    if window is None or not in_quiet_hours(moment, spec, tz):
        return moment
    local = moment.astimezone(tz)
    end = local.replace(hour=window[1].hour, minute=window[1].minute, second=0, microsecond=0)
    if end <= local:
        end += timedelta(days=1)
    return end.astimezone(UTC)
