"""A day and a time typed in words while booking (bot.services.appointments.wanted)."""

from __future__ import annotations

from datetime import date, time

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.services.appointments import DayPart, Wanted, parse_wanted
from bot.services.errors import InvalidInput

SUNDAY = date(2026, 12, 6)  # the day the examples are typed on
MON, TUE, WED, SAT = date(2026, 12, 7), date(2026, 12, 8), date(2026, 12, 9), date(2026, 12, 12)
AM, NOON, PM, EVE = DayPart.morning, DayPart.noon, DayPart.afternoon, DayPart.evening


@pytest.mark.parametrize(("text", "wanted"), [
    # days
    ("今天", Wanted(SUNDAY)), ("明天", Wanted(MON)), ("后天", Wanted(TUE)), ("後天", Wanted(TUE)),
    ("大后天", Wanted(WED)),
    ("周三", Wanted(WED)), ("星期三", Wanted(WED)), ("礼拜三", Wanted(WED)), ("禮拜三", Wanted(WED)),
    ("周3", Wanted(WED)), ("週三", Wanted(WED)),
    ("星期天", Wanted(SUNDAY)),  # a weekday alone is the next one from today on
    ("下周三", Wanted(WED)),  # Sunday ends a week: next week starts tomorrow
    ("本周三", Wanted(date(2026, 12, 2))), ("这周一", Wanted(date(2026, 11, 30))),  # this week's: past
    ("12月9日", Wanted(WED)), ("12月9号", Wanted(WED)), ("十二月九日", Wanted(WED)), ("12/9", Wanted(WED)),
    ("12-9", Wanted(WED)), ("12.9", Wanted(WED)), ("2026-12-09", Wanted(WED)), ("2026年12月9日", Wanted(WED)),
    ("1月5日", Wanted(date(2027, 1, 5))),  # January typed in December: next year's
    ("12月1日", Wanted(date(2026, 12, 1))),  # five days ago: past, said so by the booking
    ("8号", Wanted(TUE)), ("3号", Wanted(date(2027, 1, 3))),  # a day of the month already past: next month's
    # parts and times
    ("明天上午", Wanted(MON, AM)), ("明天早上", Wanted(MON, AM)), ("明天中午", Wanted(MON, NOON)),
    ("明天下午", Wanted(MON, PM)), ("明天晚上", Wanted(MON, EVE)), ("上午", Wanted(part=AM)),
    ("后天下午3点", Wanted(TUE, PM, time(15))), ("下午两点", Wanted(part=PM, at=time(14))),
    ("9点", Wanted(at=time(9))), ("九点半", Wanted(at=time(9, 30))), ("十点一刻", Wanted(at=time(10, 15))),
    ("3点15分", Wanted(at=time(15, 15))),  # 1 to 6 o'clock without 上午: the afternoon
    ("两点半", Wanted(at=time(14, 30))), ("上午11点", Wanted(part=AM, at=time(11))),
    ("中午12点", Wanted(part=NOON, at=time(12))), ("中午1点", Wanted(part=NOON, at=time(13))),
    ("晚上7点", Wanted(part=EVE, at=time(19))), ("9:30", Wanted(at=time(9, 30))),
    ("９：３０", Wanted(at=time(9, 30))),  # full-width, as a Chinese keyboard types it
    ("周三 下午 三点", Wanted(WED, PM, time(15))), ("下午3点明天", Wanted(MON, PM, time(15))),
    # a few words around the wish
    ("我想明天上午", Wanted(MON, AM)), ("明天上午吧", Wanted(MON, AM)), ("约周三下午", Wanted(WED, PM)),
    ("明天上午９点半。", Wanted(MON, AM, time(9, 30))), ("明天的", Wanted(MON)),
    # English
    ("today", Wanted(SUNDAY)), ("Tomorrow morning", Wanted(MON, AM)), ("tomorrow 9am", Wanted(MON, at=time(9))),
    ("day after tomorrow", Wanted(TUE)), ("next monday", Wanted(MON)), ("Thurs", Wanted(date(2026, 12, 10))),
    ("fri 3pm", Wanted(date(2026, 12, 11), at=time(15))), ("saturday afternoon", Wanted(SAT, PM)),
    ("Dec 9", Wanted(WED)), ("9 Dec", Wanted(WED)), ("at 10:00", Wanted(at=time(10))),
    ("3:30 pm", Wanted(at=time(15, 30))), ("in the morning", Wanted(part=AM)),
])
def test_a_wish_of_time_is_read(text: str, wanted: Wanted) -> None:
    assert parse_wanted(text, SUNDAY) == wanted


@pytest.mark.parametrize(("text", "today", "day"), [
    ("12月31日", date(2027, 1, 1), date(2026, 12, 31)),  # yesterday, over the new year
    ("1月2日", date(2026, 12, 31), date(2027, 1, 2)),
    ("2月29日", date(2027, 12, 6), date(2028, 2, 29)),  # the nearest year that has one
    ("6月6日", date(2026, 12, 6), date(2027, 6, 6)),
])
def test_a_date_without_a_year_is_the_nearest(text: str, today: date, day: date) -> None:
    assert parse_wanted(text, today) == Wanted(day)


@pytest.mark.parametrize("text", [
    "", "   ", "。", "ok", "10", "吧",
    "3号楼",  # a building, not the 3rd
    "明天上午我去医院", "楼道的灯坏了", "我家楼道的灯坏了三天了，明天能来修吗",
    "明天后天", "周三周四", "9点10点",  # two days or two times: not one wish
    "25点", "9:75",
    "明天" * 30,  # a sentence's length
])
def test_anything_else_is_not_a_wish(text: str) -> None:
    assert parse_wanted(text, SUNDAY) is None


@pytest.mark.parametrize("text", ["2月30日", "13月1日", "32号", "2026-02-29", "1999-12-09"])
def test_a_day_that_does_not_exist_is_refused(text: str) -> None:
    with pytest.raises(InvalidInput) as refused:
        parse_wanted(text, SUNDAY)
    assert refused.value.code == "appt_no_such_day"


def test_the_hours_of_a_part_of_the_day() -> None:
    morning, afternoon = Wanted(part=AM), Wanted(part=PM)
    assert morning.fits(time(8, 30)) and morning.fits(time(11, 30)) and not morning.fits(time(12))
    assert afternoon.fits(time(13, 30)) and not afternoon.fits(time(11, 30))
    assert Wanted(part=AM, at=time(9)).fits(time(9)) and not Wanted(part=AM, at=time(9)).fits(time(9, 30))
    assert Wanted(MON).fits(time(16, 30))


@given(st.text(max_size=60), st.dates(min_value=date(2001, 1, 1), max_value=date(2099, 12, 31)))
def test_any_text_is_a_wish_nothing_or_a_clear_refusal(text: str, today: date) -> None:
    try:
        wanted = parse_wanted(text, today)
    except InvalidInput as refused:
        assert refused.code == "appt_no_such_day"
        return
    if wanted is not None:
        assert wanted.day is not None or wanted.part is not None or wanted.at is not None
