"""A day and a time typed in words while booking: "明天上午", "周三下午3点",
"12月9日", "8号", "下周一 9:30", "tomorrow morning", "Fri 3pm".

Elderly residents often type the day they want instead of looking for its
button.  :func:`parse_wanted` reads a message that says only when (a day, a part
of the day, a time, in any order, with a few filler words such as 我想 or 吧);
anything else is not a wish of time (None), so a sentence that merely names a
day ("明天上午我去医院") still goes where any message goes.  :func:`wanted_slots`
finds what a station has free for it.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from enum import StrEnum

from sqlalchemy.ext.asyncio import AsyncSession

from bot.config import Settings
from bot.services.appointments.availability import SlotView, free_slots
from bot.services.appointments.plans import last_bookable_day, load_bookable
from bot.services.bounds import check_day
from bot.services.dates import local_day
from bot.services.errors import InvalidInput

MAX_WANTED_TEXT = 40  # longer is a sentence, not a day and a time


class DayPart(StrEnum):
    morning = "morning"
    noon = "noon"
    afternoon = "afternoon"
    evening = "evening"


# The local hours [from, to) a part of the day covers.
PART_HOURS = {DayPart.morning: (0, 12), DayPart.noon: (11, 14), DayPart.afternoon: (12, 18),
              DayPart.evening: (17, 24)}


@dataclass(frozen=True, slots=True)
class Wanted:
    """What the words asked for; at least one of the three is given."""

    day: date | None = None
    part: DayPart | None = None
    at: time | None = None

    def fits(self, local: time) -> bool:
        """Whether a slot starting at ``local`` (station time) is what was asked."""
        if self.at is not None:
            return local == self.at
        if self.part is not None:
            start, end = PART_HOURS[self.part]
            return start <= local.hour < end
        return True


_CN_DIGITS = {"零": 0, "〇": 0, "一": 1, "二": 2, "两": 2, "兩": 2, "三": 3, "四": 4, "五": 5, "六": 6, "七": 7,
              "八": 8, "九": 9}
_CN = "零〇一二两兩三四五六七八九十"
_NUM = rf"\d{{1,2}}|[{_CN}]{{1,3}}"


def _number(text: str) -> int | None:
    """``12``, ``十二``, ``二十三``, ``两``: 0-99, else None."""
    if text.isdigit():
        return int(text)
    if "十" not in text:
        return _CN_DIGITS.get(text) if len(text) == 1 else None
    tens, _sep, ones = text.partition("十")
    if len(tens) > 1 or len(ones) > 1:
        return None
    high = 1 if not tens else _CN_DIGITS.get(tens)
    low = 0 if not ones else _CN_DIGITS.get(ones)
    return None if high is None or low is None else high * 10 + low


_WEEKDAYS_CN = {c: i for i, c in enumerate("一二三四五六日")} | {"天": 6, "七": 6} | {str(i + 1): i for i in range(7)}
_WEEKDAYS_EN = {"mon": 0, "tue": 1, "wed": 2, "thu": 3, "fri": 4, "sat": 5, "sun": 6}
_MONTHS_EN = {m: i + 1 for i, m in enumerate(
    ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"))}
_RELATIVE = {"今天": 0, "今日": 0, "明天": 1, "明日": 1, "后天": 2, "後天": 2, "大后天": 3, "大後天": 3,
             "today": 0, "tomorrow": 1, "tmr": 1, "dayaftertomorrow": 2, "thedayaftertomorrow": 2}
_PARTS = {"上午": DayPart.morning, "早上": DayPart.morning, "早晨": DayPart.morning, "morning": DayPart.morning,
          "inthemorning": DayPart.morning, "中午": DayPart.noon, "noon": DayPart.noon, "下午": DayPart.afternoon,
          "午后": DayPart.afternoon, "午後": DayPart.afternoon, "afternoon": DayPart.afternoon,
          "intheafternoon": DayPart.afternoon, "傍晚": DayPart.evening, "晚上": DayPart.evening,
          "evening": DayPart.evening, "intheevening": DayPart.evening}

# Each kind of token, tried in this order at each place; the text has been
# NFKC-normalised (full-width digits and colons are ASCII), lower-cased and
# stripped of spaces.
_TOKENS: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("relative", re.compile("|".join(sorted(_RELATIVE, key=len, reverse=True)))),
    ("date", re.compile(rf"(?:(?P<y>\d{{4}})[-/.年])?(?P<m>{_NUM})(?:月|[-/.](?=\d))(?P<d>{_NUM})(?:日|号|號)?")),
    ("date_en", re.compile(r"(?P<mon>jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec)[a-z]*\.?(?P<d>\d{1,2})"
                           r"(?:st|nd|rd|th)?|(?P<d2>\d{1,2})(?:st|nd|rd|th)?(?P<mon2>jan|feb|mar|apr|may|jun|"
                           r"jul|aug|sep|oct|nov|dec)[a-z]*")),
    ("weekday", re.compile(r"(?P<which>下个|下個|下|这个|這個|这|這|本)?(?:周|週|星期|礼拜|禮拜)"
                           r"(?P<wd>[一二三四五六日天七1-7])")),
    ("weekday_en", re.compile(r"(?P<which>next|this)?(?P<wd>mon|tue|wed|thu|fri|sat|sun)"
                              r"(?:nesday|rsday|urday|sday|day|rs|s|r)?\.?")),
    ("part", re.compile("|".join(sorted(_PARTS, key=len, reverse=True)))),
    ("time", re.compile(rf"(?P<h>{_NUM})(?:(?::)(?P<mm>\d{{2}})|(?:点|點|时|時)(?:(?P<half>半)|(?P<q>一刻|三刻)|"
                        rf"(?P<mm2>{_NUM})分?)?)(?P<ampm>am|pm|a\.m\.|p\.m\.)?"
                        r"|(?P<h2>\d{1,2})(?P<ampm2>am|pm|a\.m\.|p\.m\.)")),
    ("day_of_month", re.compile(rf"(?P<d>{_NUM})(?:日|号|號)")),
)
_SLOT = {"relative": "day", "date": "day", "date_en": "day", "weekday": "day", "weekday_en": "day",
         "day_of_month": "day"}
# Words around a wish that say nothing of when.
_FILLER = re.compile(r"[,，、。.!！?？~～]+|我想|我要|想要|想|要|预约|預約|约|約|就|吧|可以吗|可以嗎|行吗|行嗎|"
                     r"可以|行|的|去|来|來|please|at|on|ok")


def _normalised(text: str) -> str:
    return re.sub(r"\s+", "", unicodedata.normalize("NFKC", text).casefold())


def parse_wanted(text: str | None, today: date) -> Wanted | None:
    """The day, part of the day and time ``text`` asks for, or None when it says
    anything else as well (or nothing of when).

    A weekday alone is the next one from today on (周三 on a Wednesday is today);
    下周三 is next week's, 本周三/这周三 this week's (perhaps past).  A date
    without a year is in the year that puts it nearest today (一月五日 typed in
    December is next year's, 12月31日 typed on New Year's Day last year's).  ``8号`` is the 8th of this
    month, or of next month once this month's is past.  A time without 上午/下午
    from 1 to 6 o'clock is in the afternoon; 下午3点 and 3pm are 15:00.

    Raises ``InvalidInput("appt_no_such_day")`` for a day that does not exist (2月30日).
    """
    if not text:
        return None
    s = _normalised(text)
    if not s or len(s) > MAX_WANTED_TEXT:
        return None
    found: dict[str, tuple[str, re.Match[str]]] = {}  # day, part, time: the kind of token and its match
    i = 0
    while i < len(s):
        for kind, pattern in _TOKENS:
            m = pattern.match(s, i)
            if m is None or m.end() == i:
                continue
            slot = _SLOT.get(kind, kind)
            if slot in found:
                return None  # two days or two times: not one wish
            found[slot] = (kind, m)
            i = m.end()
            break
        else:
            m = _FILLER.match(s, i)
            if m is None or m.end() == i:
                return None
            i = m.end()
    if not found:
        return None
    part = _PARTS[found["part"][1].group(0)] if "part" in found else None
    day = _day(*found["day"], today) if "day" in found else None
    at = None
    if "time" in found:
        at = _time(found["time"][1], part)
        if at is None:
            return None
    return Wanted(day, part, at)


def _day(kind: str, m: re.Match[str], today: date) -> date:
    if kind == "relative":
        return today + timedelta(days=_RELATIVE[m.group(0)])
    if kind in ("weekday", "weekday_en"):
        wd = (_WEEKDAYS_CN if kind == "weekday" else _WEEKDAYS_EN)[m.group("wd")]
        which = m.group("which")
        monday = today - timedelta(days=today.weekday())
        if which in ("下", "下个", "下個"):
            return monday + timedelta(days=7 + wd)
        if which in ("本", "这", "這", "这个", "這個", "this"):
            return monday + timedelta(days=wd)
        ahead = (wd - today.weekday()) % 7
        if which == "next" and ahead == 0:
            ahead = 7
        return today + timedelta(days=ahead)
    if kind == "day_of_month":
        dom = _number(m.group("d"))
        if dom is None:
            raise InvalidInput("appt_no_such_day")
        year, month = today.year, today.month
        if dom < today.day:
            year, month = (year + 1, 1) if month == 12 else (year, month + 1)
        return _date(year, month, dom)
    if kind == "date":
        year, month, dom = (int(m.group("y")) if m.group("y") else None), _number(m.group("m")), _number(m.group("d"))
    else:  # date_en
        year, dom = None, int(m.group("d") or m.group("d2"))
        month = _MONTHS_EN[m.group("mon") or m.group("mon2")]
    if month is None or dom is None:
        raise InvalidInput("appt_no_such_day")
    if year is not None:
        return _date(year, month, dom)
    # Without a year: the one that puts it nearest today (一月五日 typed in December is
    # next year's; 12月31日 typed on New Year's Day is yesterday).
    days = [d for y in (today.year - 1, today.year, today.year + 1) if (d := _maybe(y, month, dom)) is not None]
    if not days:
        raise InvalidInput("appt_no_such_day")
    return min(days, key=lambda d: abs((d - today).days))


def _maybe(year: int, month: int, dom: int) -> date | None:
    try:
        return _date(year, month, dom)
    except InvalidInput:
        return None


def _date(year: int, month: int, dom: int) -> date:
    try:
        day = date(year, month, dom)
    except ValueError:
        raise InvalidInput("appt_no_such_day") from None
    return check_day(day, "appt_no_such_day")


def _time(m: re.Match[str], part: DayPart | None) -> time | None:
    hour = _number(m.group("h") or m.group("h2"))
    minute = 0
    if m.group("mm") or m.group("mm2"):
        minute = _number(m.group("mm") or m.group("mm2"))  # type: ignore[assignment]
    elif m.group("half"):
        minute = 30
    elif m.group("q"):
        minute = 15 if m.group("q") == "一刻" else 45
    if hour is None or minute is None:
        return None
    ampm = (m.group("ampm") or m.group("ampm2") or "").replace(".", "")
    if ampm == "pm" and hour < 12:
        hour += 12
    elif ampm == "am" and hour == 12:
        hour = 0
    elif not ampm:
        if part in (DayPart.afternoon, DayPart.evening) and hour < 12:
            hour += 12
        elif part is DayPart.noon and hour <= 2:
            hour += 12
        elif part is None and 1 <= hour <= 6:  # nobody books "3 o'clock" at night
            hour += 12
    if not (0 <= hour <= 23 and 0 <= minute <= 59):
        return None
    return time(hour, minute)


# ------------------------------------------------------------------ what a station has for it

@dataclass(frozen=True, slots=True)
class WantedSlots:
    day: date
    free: list[SlotView]  # every free slot of the day
    fitting: list[SlotView]  # those that are what was asked (all of them when only a day was)


async def wanted_slots(session: AsyncSession, settings: Settings, station_id: int, service_id: int,
                       wanted: Wanted, day: date, now: datetime) -> WantedSlots:
    """The free slots of ``day`` at the station for the service, and those that fit ``wanted``.

    ``InvalidInput("appt_past")`` for a day before today, ``InvalidInput("appt_horizon")``
    for one past the plan's horizon: each says so; a closed or full day has no free slot.
    """
    bk = await load_bookable(session, settings, station_id, service_id)
    tz = settings.tz
    if day < local_day(now, tz):
        raise InvalidInput("appt_past")
    if day > last_bookable_day(bk.plan, now, tz):
        raise InvalidInput("appt_horizon", days=bk.plan.horizon_days)
    free = await free_slots(session, settings, bk, now, first_day=day, last_day=day)
    fitting = [s for s in free if wanted.fits(s.starts_at.astimezone(tz).time())]
    return WantedSlots(day, free, fitting)
