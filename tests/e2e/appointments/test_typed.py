"""A resident types the day and time she wants instead of tapping them ("明天上午",
"10:00"): the booking goes on from what she typed, and anything else she types
goes where any message goes.

The real bot polls the emulator over HTTP on the demo district; the days are
the ones the bot offers (real clock), written out in words by the test.
"""

from __future__ import annotations

from datetime import date, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select

from bot.services import appointments as appt
from models import Appointment, AppointmentStatus, utcnow
from models.base import clock_offset, set_clock_offset
from tests.e2e.cases.helpers import RESIDENT, person, zh
from tests.e2e.harness import Person

TZ = ZoneInfo("Asia/Shanghai")
INTAKE = zh("📥 I have written this down as a new request to your grid team. Add photos, a voice message or "
            "your location if it helps, then tap ✅ Send. (❌ Cancel if you did not mean to.)")


def _data(msg, label: str) -> str:  # type: ignore[no-untyped-def]
    return next(data for row in msg.inline_buttons for text, data in row if label in text and data)


def _coded(msg, action: str) -> list[int]:  # type: ignore[no-untyped-def]
    """The ``x`` of every ``ap:<action>`` button (a day's ordinal, a slot's code)."""
    return [int(data.split(":")[4]) for row in msg.inline_buttons for _t, data in row
            if data and data.startswith(f"ap:{action}:")]


async def _days_step(p: Person):  # type: ignore[no-untyped-def]
    """Menu → the station visit → her own station: the days on screen."""
    card = (await p.send(str(zh("📅 Book an appointment"))))[-1]
    for label in ("预约到站办事", "新站"):
        result = await p.press(card.message_id, _data(card, label))
        card = next(m for m in result if m.message_id == card.message_id)
    assert _coded(card, "day"), card.text
    return card


def _words(day: date) -> str:
    return f"{day.month}月{day.day}日"


async def test_a_typed_day_and_time_book_as_the_buttons_would(bot):
    p = person(bot, RESIDENT)
    days = await _days_step(p)
    sv, st = (int(x) for x in next(d for row in days.inline_buttons for _t, d in row
                                    if d and d.startswith("ap:day:")).split(":")[2:4])
    day = None  # a day with free times both morning and afternoon (not a Saturday's half day, not today's end)
    async with bot.app.sessionmaker() as s:
        for offered in (date.fromordinal(x) for x in _coded(days, "day")):
            hours = {t.starts_at.astimezone(TZ).hour < 12 for t in await appt.free_slots_of_day(
                s, bot.app.settings, st, sv, offered, utcnow())}
            if hours == {True, False}:
                day = offered
                break
    assert day is not None, "no day with morning and afternoon times among those offered"

    times = (await p.send(_words(day) + "上午"))[-1]
    assert times.message_id != days.message_id  # a new step below; the old one's buttons still work
    starts = [appt.slot_from_code(x).astimezone(TZ) for x in _coded(times, "tm")]
    assert starts and {s.date() for s in starts} == {day} and all(s.hour < 12 for s in starts)
    assert zh("What time?").rstrip("？?") in times.text

    # Only the time now: the day is the one just chosen.
    wanted = starts[-1]
    check = (await p.send(f"{wanted.hour}:{wanted.minute:02d}"))[-1]
    assert zh("Please check:") in check.text and f"{wanted:%H:%M}" in check.text
    assert _coded(check, "ok") == [appt.slot_code(wanted)]

    # "下午" instead: the afternoon of that day.
    afternoon = (await p.send("下午"))[-1]
    assert all(appt.slot_from_code(x).astimezone(TZ).hour >= 12 for x in _coded(afternoon, "tm"))

    booked = await p.press(check.message_id, _data(check, zh("✅ Confirm")))
    assert any(zh("✅ Booked!") in (m.text or "") for m in booked)
    async with bot.app.sessionmaker() as s:
        booking = await s.scalar(select(Appointment))
    assert booking.status == AppointmentStatus.booked and booking.starts_at == wanted

    # Booked: a day typed now is not about that booking any more.
    later = await p.send("明天")
    assert not any(_coded(m, "tm") or _coded(m, "ok") for m in later)
    assert INTAKE in later[-1].text


async def test_what_cannot_be_booked_is_said_and_the_days_stay(bot):
    p = person(bot, RESIDENT)
    await _days_step(p)
    today = utcnow().astimezone(TZ).date()

    assert zh("There is no such day. Please check the date, or tap a day above.") in (await p.send("2月30日"))[-1].text
    past = (await p.send(_words(today - timedelta(days=1))))[-1]
    assert zh("That time has already passed. Please choose a later time.") in past.text
    assert _data(past, zh("⬅️ Choose again")).startswith("ap:st:")
    far = (await p.send((today + timedelta(days=60)).isoformat()))[-1]
    assert _coded(far, "tm") == [] and _data(far, zh("⬅️ Choose again")).startswith("ap:st:")
    assert zh("Which day? Tap it above, or write it, for example “tomorrow morning”.") in (await p.send("9点"))[-1].text
    # A closed day (the station keeps no Sunday hours in the demo) or a full one: the days again.
    sunday = today + timedelta(days=(6 - today.weekday()) % 7 or 7)
    closed = (await p.send(_words(sunday)))[-1]
    assert zh("{day}: no free time here.").split("{day}")[-1] in closed.text and _coded(closed, "day")

    # Half an hour later the days on screen are old: the words are a message like any other.
    set_clock_offset(clock_offset() + timedelta(minutes=31))
    assert INTAKE in (await p.send("明天"))[-1].text


async def test_a_sentence_at_a_booking_step_is_still_taken_as_a_request(bot):
    p = person(bot, RESIDENT)
    await _days_step(p)
    answer = await p.send("明天上午我家楼道的灯又不亮了")
    assert INTAKE in answer[-1].text and not any(_coded(m, "tm") for m in answer)


async def test_cancel_typed_at_a_booking_step_ends_it(bot):
    p = person(bot, RESIDENT)
    await _days_step(p)
    cancelled = await p.send("取消")  # ❌ 取消 typed by hand
    assert zh("Cancelled.") in cancelled[-1].text
    assert INTAKE in (await p.send("明天"))[-1].text  # the days on screen are no longer asked about
