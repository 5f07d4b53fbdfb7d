"""The working calendar: working hours in Asia/Shanghai, weekends, holidays and 调休."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from bot.config import ConfigError, Settings, load_settings
from bot.services import workcalendar as wc
from bot.services.errors import InvalidInput, NotAllowed
from models import HolidayKind, Role
from tests.factories import make_district, make_user

SH = ZoneInfo("Asia/Shanghai")


def local(y: int, m: int, d: int, hh: int = 0, mm: int = 0) -> datetime:
    return datetime(y, m, d, hh, mm, tzinfo=SH).astimezone(UTC)


CAL = wc.WorkCalendar(tz=SH)


def test_hours_within_a_morning_and_across_lunch() -> None:
    # Tuesday 2026-12-01, 09:00 + 2 h = 11:00
    assert CAL.add_working_hours(local(2026, 12, 1, 9), 2) == local(2026, 12, 1, 11)
    # 11:00 + 2 h: one hour before lunch, then 13:30 + 1 h
    assert CAL.add_working_hours(local(2026, 12, 1, 11), 2) == local(2026, 12, 1, 14, 30)


def test_starting_outside_working_time() -> None:
    # 20:00 on Tuesday: the clock starts on Wednesday at 08:30
    assert CAL.add_working_hours(local(2026, 12, 1, 20), 1) == local(2026, 12, 2, 9, 30)
    # 12:45 (lunch): starts at 13:30
    assert CAL.add_working_hours(local(2026, 12, 1, 12, 45), 0.5) == local(2026, 12, 1, 14)
    # 06:00: starts at 08:30
    assert CAL.add_working_hours(local(2026, 12, 1, 6), 4) == local(2026, 12, 1, 14)


def test_a_day_is_seven_and_a_half_hours_and_weekends_are_skipped() -> None:
    # Friday 2026-12-04 16:30 + 4 h: 1 h on Friday, then Monday 08:30 + 3 h
    assert CAL.add_working_hours(local(2026, 12, 4, 16, 30), 4) == local(2026, 12, 7, 11, 30)
    # 7.5 working hours a day: 37.5 h from Monday 08:30 is Friday 17:30; 40 h is the next Monday 11:00
    assert CAL.add_working_hours(local(2026, 12, 7, 8, 30), 37.5) == local(2026, 12, 11, 17, 30)
    assert CAL.add_working_hours(local(2026, 12, 7, 8, 30), 40) == local(2026, 12, 14, 11)


def test_holidays_and_make_up_workdays() -> None:
    cal = wc.WorkCalendar(tz=SH, exceptions={
        date(2026, 10, 1): HolidayKind.holiday, date(2026, 10, 2): HolidayKind.holiday,
        date(2026, 10, 10): HolidayKind.workday,  # a Saturday worked (调休)
    })
    assert not cal.is_workday(date(2026, 10, 1))  # Thursday, but a holiday
    assert cal.is_workday(date(2026, 10, 10))  # Saturday, but a make-up workday
    assert not cal.is_workday(date(2026, 10, 11))  # an ordinary Sunday
    # Wednesday 30 Sep 17:00 + 1 h: 0.5 h then, holidays Thu/Fri, weekend... Monday 5 Oct 09:00
    assert cal.add_working_hours(local(2026, 9, 30, 17), 1) == local(2026, 10, 5, 9)
    # Friday 9 Oct 17:00 + 1 h → Saturday 10 Oct (make-up day) 09:00
    assert cal.add_working_hours(local(2026, 10, 9, 17), 1) == local(2026, 10, 10, 9)
    assert cal.next_workday(date(2026, 9, 30)) == date(2026, 10, 5)


def test_working_time_between() -> None:
    assert CAL.working_time_between(local(2026, 12, 4, 16), local(2026, 12, 7, 9)) == timedelta(hours=2)
    assert CAL.working_time_between(local(2026, 12, 7, 9), local(2026, 12, 4, 16)) == timedelta(0)
    start = local(2026, 12, 1, 10, 17)
    for hours in (0.25, 1, 3.5, 7.5, 12, 40):
        assert CAL.working_time_between(start, CAL.add_working_hours(start, hours)) == timedelta(hours=hours)


def test_configuration_parsing() -> None:
    assert wc.parse_periods("09:00-12:00, 14:00-18:00") == ((datetime(1, 1, 1, 9).time(), datetime(1, 1, 1, 12).time()),
                                                            (datetime(1, 1, 1, 14).time(), datetime(1, 1, 1, 18).time()))
    assert wc.parse_weekdays("1-5") == frozenset(range(5))
    assert wc.parse_weekdays("1,2,3,4,5,6") == frozenset(range(6))
    for bad in ("", "9-12", "12:00-09:00", "08:00-12:00,11:00-13:00", "25:00-26:00"):
        with pytest.raises(ValueError):
            wc.parse_periods(bad)
    for bad in ("", "0", "5-1", "mon"):
        with pytest.raises(ValueError):
            wc.parse_weekdays(bad)
    settings = Settings(_env_file=None, WORK_HOURS="09:00-17:00", WORK_DAYS="1-6")
    assert settings.work_days == "1-6"
    with pytest.raises(ConfigError, match="WORK_HOURS"):
        load_settings(_env_file=None, WORK_HOURS="nine to five")
    with pytest.raises(ConfigError, match="WORK_DAYS"):
        load_settings(_env_file=None, WORK_DAYS="weekdays")


def test_six_day_week_from_settings() -> None:
    cal = wc.WorkCalendar(tz=SH, periods=wc.parse_periods("09:00-17:00"), weekdays=wc.parse_weekdays("1-6"))
    # Friday 16:00 + 2 h → Saturday 10:00
    assert cal.add_working_hours(local(2026, 12, 4, 16), 2) == local(2026, 12, 5, 10)


async def test_calendar_from_database_and_admin_edits(sessionmaker) -> None:
    settings = Settings(_env_file=None)
    async with sessionmaker() as s:
        place = await make_district(s)
        admin = await make_user(s, 9001, role=Role.admin, scope_id=place.district.id)
        staff = await make_user(s, 9002, role=Role.staff, scope_id=place.communities[0].id)
        await wc.set_exception(s, admin, date(2026, 12, 7), HolidayKind.holiday, "test holiday")
        await wc.set_exception(s, admin, date(2026, 12, 5), HolidayKind.workday, "调休")
        with pytest.raises(NotAllowed):
            await wc.set_exception(s, staff, date(2026, 12, 8), HolidayKind.holiday)
        await s.commit()
    async with sessionmaker() as s:
        now = local(2026, 12, 4, 16, 30)
        assert not await wc.is_workday(s, settings, date(2026, 12, 7))
        # Friday 16:30 + 2 h: 1 h Friday, Saturday (make-up) 08:30 + 1 h
        assert await wc.add_working_hours(s, settings, now, 2) == local(2026, 12, 5, 9, 30)
        admin = await s.get(type(staff), admin.id)
        upcoming = await wc.upcoming_exceptions(s, admin, date(2026, 12, 1))
        assert [(h.day, h.kind) for h in upcoming] == [(date(2026, 12, 5), HolidayKind.workday),
                                                       (date(2026, 12, 7), HolidayKind.holiday)]
        await wc.set_exception(s, admin, date(2026, 12, 5), None)
        with pytest.raises(InvalidInput):
            await wc.set_exception(s, admin, date(2026, 12, 6), None)
        await s.commit()
        assert (await wc.calendar_for(s, settings)).is_workday(date(2026, 12, 5)) is False
