"""Appointments end to end, residents' side: book (summary, map, .ics), cancel,
reschedule, the last-seat race, every refusal, reminders with an injected clock.

The real bot polls the emulator over HTTP on the demo district; times come
from the real clock (moved with ``set_clock_offset`` for the reminders), so
the tests choose among the days and times the bot offers rather than
assuming a date.
"""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta

from icalendar import Calendar
from sqlalchemy import func, select

from bot.services import appointments as appt
from bot.services.appointments.availability import free_slots
from bot.services.appointments.plans import load_bookable
from bot.services.appointments.staff import close_day
from models import (
    Appointment,
    AppointmentPlan,
    AppointmentSlot,
    AppointmentStatus,
    Holiday,
    HolidayKind,
    OutboxMessage,
    OutboxStatus,
    ServiceItem,
    Station,
    User,
    utcnow,
)
from models.base import clock_offset, set_clock_offset
from tests.e2e.cases.helpers import NEIGHBOUR, RESIDENT, people, person, zh
from tests.e2e.harness import Person, RunningBot


def _data(msg, label: str) -> str:  # type: ignore[no-untyped-def]
    for row in msg.inline_buttons:
        for text, data in row:
            if label in text and data:
                return data
    raise AssertionError(f"no {label!r} in {msg.inline_buttons}")


def _first_data(msg, prefix: str) -> str:  # type: ignore[no-untyped-def]
    for row in msg.inline_buttons:
        for _text, data in row:
            if data and data.startswith(prefix):
                return data
    raise AssertionError(f"no {prefix!r} button in {msg.inline_buttons}")


async def _ids(bot: RunningBot) -> tuple[int, int]:
    async with bot.app.sessionmaker() as s:
        station = await s.scalar(select(Station.id).where(Station.code == "ST-XS"))
        service = await s.scalar(select(ServiceItem.id).where(ServiceItem.code == "AP-STATION"))
    return station, service


async def book_first_free(p: Person) -> tuple[list, int]:  # type: ignore[type-arg]
    """Book from the menu: service, own station, first day, first time, confirm.
    Returns the messages of the confirmation and the number of taps."""
    answer = await p.send(str(zh("📅 Book an appointment")))
    assert zh("Which service do you want to book?") in answer[-1].text
    card = answer[-1]
    steps = [("预约到站办事", None), ("新站", None), (None, "ap:day:"), (None, "ap:tm:"), (zh("✅ Confirm"), None)]
    taps = 1
    result: list = []  # type: ignore[type-arg]
    for label, prefix in steps:
        data = _data(card, label) if label else _first_data(card, prefix)
        result = await p.press(card.message_id, data)
        taps += 1
        card = next(m for m in result if m.message_id == card.message_id)
    return result, taps


async def test_book_get_ics_and_location_then_cancel_and_reschedule(bot, demo_sessionmaker):
    p = person(bot, RESIDENT)
    await p.send("/menu")
    assert {zh("📅 Book an appointment"), zh("🗓️ My appointments")} <= set(p.reply_keyboard())
    result, taps = await book_first_free(p)
    assert taps == 6  # menu button + five taps: well under a minute
    summary = next(m for m in result if m.text and zh("✅ Booked!") in m.text)
    assert "新站社区网格党群服务站" in summary.text and "新站路20号" in summary.text
    assert summary.inline_buttons == []
    location = next(m for m in result if m.kind == "location")
    assert (location.location["latitude"], location.location["longitude"]) == (41.7402, 125.9199)
    document = next(m for m in result if m.kind == "document")
    assert document.file_name.endswith(".ics")
    cal = Calendar.from_ical(bot.emu.file_bytes(document.file_id))
    (event,) = cal.walk("VEVENT")
    async with bot.app.sessionmaker() as s:
        booking = await s.scalar(select(Appointment))
        reminders = list(await s.scalars(select(OutboxMessage).where(
            OutboxMessage.dedupe_key.startswith(f"appt:{booking.id}:"))))
    assert event.decoded("dtstart") == booking.starts_at and str(event["uid"]).startswith(f"appointment-{booking.id}@")
    assert "新站路20号" in str(event["location"])
    assert booking.status == AppointmentStatus.booked and not booking.proxy
    assert reminders and all(r.due_at < booking.starts_at for r in reminders)

    # /appointments lists it with cancel and reschedule.
    listed = await p.send("/appointments")
    card = next(m for m in listed if m.inline_buttons and "新站" in (m.text or ""))
    moved_to = await p.press(card.message_id, _data(card, zh("🔁 Change the time")))
    days = moved_to[-1]
    # The first day with another free time (late in the day, the booked time may be today's last one).
    target = None
    for day in [d for row in days.inline_buttons for _t, d in row if d and d.startswith("ap:day:")]:
        times = await p.press(days.message_id, day)
        free = [d for row in times[-1].inline_buttons for _t, d in row if d and d.startswith("ap:tm:")]
        target = next((d for d in free if int(d.split(":")[4]) != appt.slot_code(booking.starts_at)), None)
        if target is not None:
            break
    assert target is not None, "no other free time in the days offered"
    confirm = await p.press(days.message_id, target)
    assert zh("✅ Move it to this time") in confirm[-1].inline_buttons[0][0][0]
    done = await p.press(days.message_id, _data(confirm[-1], zh("✅ Move it to this time")))
    assert any(zh("✅ Moved. Your appointment is now:") in (m.text or "") for m in done)
    assert any(m.kind == "document" for m in done)
    async with bot.app.sessionmaker() as s:
        moved = await s.get(Appointment, booking.id)
        old_reminders = {r.status for r in await s.scalars(select(OutboxMessage).where(
            OutboxMessage.dedupe_key.startswith(f"appt:{booking.id}:v1:")))}
        new_reminders = list(await s.scalars(select(OutboxMessage).where(
            OutboxMessage.dedupe_key.startswith(f"appt:{booking.id}:v2:"))))
    assert moved.version == 2 and moved.starts_at == appt.slot_from_code(int(target.split(":")[4]))
    assert old_reminders <= {OutboxStatus.cancelled, OutboxStatus.sent}
    assert all(r.event_at == moved.starts_at for r in new_reminders)

    # Cancel: asked once, then done; its seat is free again.
    listed = await p.send(str(zh("🗓️ My appointments")))
    card = next(m for m in listed if m.inline_buttons and "新站" in (m.text or ""))
    ask = await p.press(card.message_id, _data(card, zh("❌ Cancel it")))
    assert zh("Cancel this appointment?") in ask[-1].text
    done = await p.press(card.message_id, _data(ask[-1], zh("Yes, cancel it")))
    assert zh("❌ Cancelled.") in done[-1].text
    async with bot.app.sessionmaker() as s:
        cancelled = await s.get(Appointment, booking.id)
        slot = await s.get(AppointmentSlot, cancelled.slot_id)
        statuses = {r.status for r in await s.scalars(select(OutboxMessage).where(
            OutboxMessage.dedupe_key.startswith(f"appt:{booking.id}:v2:")))}
    assert cancelled.status == AppointmentStatus.cancelled and slot.booked == 0
    assert statuses <= {OutboxStatus.cancelled, OutboxStatus.sent}
    # A double click on "Yes, cancel it" changes nothing and says so.
    again = await p.press(card.message_id, _data(ask[-1], zh("Yes, cancel it")))
    assert zh("This appointment is no longer upcoming.") in bot.emu.callback_answers[-1]["text"]
    assert again == [] or all(zh("❌ Cancelled.") not in (m.text or "") or m.message_id == card.message_id
                              for m in again)
    assert zh("No upcoming appointments.") in (await p.send("/appointments"))[-1].text


async def test_the_last_seat_goes_to_one_resident_the_other_gets_nearest_times(bot):
    station, service = await _ids(bot)
    async with bot.app.sessionmaker() as s:
        s.add(AppointmentPlan(station_id=station, service_id=service, weekly=(await s.get(Station, station))
                              .opening_hours, slot_minutes=30, capacity=1, horizon_days=14, min_notice_minutes=120,
                              cancel_cutoff_minutes=60, at_home=False, active=True))
        await s.commit()
    a, b = people(bot, RESIDENT, NEIGHBOUR)
    cards = []
    for p in (a, b):
        answer = await p.send("/book")
        card = answer[-1]
        for label, prefix in (("预约到站办事", None), ("新站", None), (None, "ap:day:"), (None, "ap:tm:")):
            data = _data(card, label) if label else _first_data(card, prefix)
            answer = await p.press(card.message_id, data)
            card = next(m for m in answer if m.message_id == card.message_id)
        cards.append(card)
    # Both look at the same time with one seat left; both confirm at the same moment.
    assert _data(cards[0], zh("✅ Confirm")) == _data(cards[1], zh("✅ Confirm"))
    actions = await asyncio.gather(*(bot.emu.press_button(p.user, c.message_id, _data(c, zh("✅ Confirm")))
                                     for p, c in zip((a, b), cards, strict=True)))
    await asyncio.gather(*(bot.settle(x) for x in actions))
    texts = [bot.emu.message(p.id, c.message_id).text for p, c in zip((a, b), cards, strict=True)]
    won = [t for t in texts if zh("✅ Booked!") in t]
    lost = [i for i, t in enumerate(texts) if zh("Sorry, that time was just taken.") in t]
    assert len(won) == 1 and len(lost) == 1, texts
    loser = (a, b)[lost[0]]
    offer = bot.emu.message(loser.id, cards[lost[0]].message_id)
    alternatives = [d for row in offer.inline_buttons for _t, d in row if d and d.startswith("ap:tm:")]
    assert alternatives, offer.inline_buttons
    async with bot.app.sessionmaker() as s:
        assert await s.scalar(select(func.count()).select_from(Appointment)) == 1
        assert await s.scalar(select(AppointmentSlot.booked)) == 1
    # One tap on the nearest free time, one on Confirm: the loser is booked too.
    confirm = await loser.press(offer.message_id, alternatives[0])
    done = await loser.press(offer.message_id, _data(confirm[-1], zh("✅ Confirm")))
    assert any(zh("✅ Booked!") in (m.text or "") for m in done)


def move_clock_to(moment: datetime) -> None:
    """The bot's clock (``utcnow``) reads ``moment`` now; the delivery engine wakes up."""
    set_clock_offset(moment - (utcnow() - clock_offset()))


async def test_every_refusal_is_clear_and_stores_nothing(bot):
    station, service = await _ids(bot)
    settings = bot.app.settings
    p = person(bot, RESIDENT)
    anchor = (await p.send("/book"))[-1]  # forged buttons are pressed on this message
    now = utcnow()
    async with bot.app.sessionmaker() as s:
        slots = await free_slots(s, settings, await load_bookable(s, settings, station, service), now)
        admin = await s.scalar(select(User).where(User.telegram_id == 7000000001))
        # Not one that slips inside the minimum notice while the test runs.
        first = next(x.starts_at for x in slots if x.starts_at > now + timedelta(hours=2, minutes=5))
        tz = settings.tz
        other_day = next(x.starts_at for x in slots if x.starts_at.astimezone(tz).date() != first.astimezone(tz).date())
        await close_day(s, settings, admin, station, other_day.astimezone(tz).date(), "培训", now)
        holiday = next(x.starts_at for x in slots if x.starts_at.astimezone(tz).date()
                       not in (first.astimezone(tz).date(), other_day.astimezone(tz).date()))
        s.add(Holiday(day=holiday.astimezone(tz).date(), kind=HolidayKind.holiday, name="test"))
        await s.commit()
    refusals = {
        (now - timedelta(days=1)).replace(second=0, microsecond=0):
            zh("That time has already passed. Please choose a later time."),
        first + timedelta(days=21): zh.ngettext("Bookings open {days} day ahead. Please choose an earlier date.",
                                                "Bookings open {days} days ahead. Please choose an earlier date.",
                                                14).format(days=14),
        other_day: zh("The station is closed that day."),
        holiday: zh("The station is closed that day: public holiday."),
        first + timedelta(minutes=7): zh("That time is not open for booking. Please choose from the list."),
    }
    for when, text in refusals.items():
        for action in ("tm", "ok"):  # the time button and the confirm button alike
            await p.press(anchor.message_id, appt.ap_cb(action, sv=service, st=station, x=appt.slot_code(when)))
            assert text in bot.emu.callback_answers[-1]["text"], (when, action, bot.emu.callback_answers[-1])
            if when == other_day:  # the reason staff gave is shown
                assert "培训" in bot.emu.callback_answers[-1]["text"]
    # Inside the minimum notice: the first slot moved to 30 minutes from "now".
    move_clock_to(first - timedelta(minutes=30))
    await p.press(anchor.message_id, appt.ap_cb("ok", sv=service, st=station, x=appt.slot_code(first)))
    assert bot.emu.callback_answers[-1]["text"] == zh("Please book at least {duration} ahead.").format(
        duration=zh.ngettext("{n} hour", "{n} hours", 2).format(n=2))
    move_clock_to(now)
    # A forged station.
    await p.press(anchor.message_id, appt.ap_cb("ok", sv=service, st=999999, x=appt.slot_code(first)))
    assert bot.emu.callback_answers[-1]["text"] == zh(
        "That service cannot be booked there any more. Please choose again.")
    # A forged "book for" another resident: refused, and no stranger's name is shown.
    for action in ("svcs", "tm"):
        await p.press(anchor.message_id, appt.ap_cb(action, sv=service, st=station, x=appt.slot_code(first),
                                                    r=admin.id))
        assert bot.emu.callback_answers[-1].get("show_alert") is True
        assert not any(admin.first_name in (m.text or "") for m in bot.emu.chat_history(anchor.chat_id))
    async with bot.app.sessionmaker() as s:
        assert await s.scalar(select(func.count()).select_from(Appointment)) == 0
    # After the cut-off (an hour before): book the first slot, then it is 30 minutes before it.
    result = await p.press(anchor.message_id, appt.ap_cb("ok", sv=service, st=station, x=appt.slot_code(first)))
    assert any(zh("✅ Booked!") in (m.text or "") for m in result)
    async with bot.app.sessionmaker() as s:
        booking = await s.scalar(select(Appointment))
    move_clock_to(first - timedelta(minutes=30))
    for action in ("cxy", "rs"):
        await p.press(anchor.message_id, appt.ap_cb(action, b=booking.id))
        answer = bot.emu.callback_answers[-1]["text"]
        assert zh("It is too late to change this appointment here.") in answer and "0435-3261001" in answer
    move_clock_to(now)
    async with bot.app.sessionmaker() as s:
        assert (await s.get(Appointment, booking.id)).status == AppointmentStatus.booked
    # Somebody else's booking: not found, whatever the button says.
    q = person(bot, NEIGHBOUR)
    other = (await q.send("/appointments"))[-1]
    await q.press(other.message_id, appt.ap_cb("cxy", b=booking.id))
    assert bot.emu.callback_answers[-1]["text"] == zh("That appointment is not available.")
    # Three upcoming bookings at most.
    closed = {other_day.astimezone(tz).date(), holiday.astimezone(tz).date()}
    later = [x.starts_at for x in slots if x.starts_at.astimezone(tz).date() not in closed and x.starts_at > first]
    for when in later[:2]:
        await p.press(anchor.message_id, appt.ap_cb("ok", sv=service, st=station, x=appt.slot_code(when)))
    await p.press(anchor.message_id, appt.ap_cb("ok", sv=service, st=station, x=appt.slot_code(later[2])))
    assert bot.emu.callback_answers[-1]["text"] == zh.ngettext(
        "You already have {limit} upcoming appointment, the most allowed. Please cancel it first.",
        "You already have {limit} upcoming appointments, the most allowed. Please cancel one first.", 3).format(limit=3)
    async with bot.app.sessionmaker() as s:
        assert await s.scalar(select(func.count()).select_from(Appointment)) == 3


async def test_reminders_24h_and_1h_arrive_on_time_and_not_after_cancelling(bot):
    p = person(bot, RESIDENT)
    await book_first_free(p)
    q = person(bot, NEIGHBOUR)
    await book_first_free(q)
    async with bot.app.sessionmaker() as s:
        resident_id = await s.scalar(select(User.id).where(User.telegram_id == RESIDENT))
        mine = await s.scalar(select(Appointment).where(Appointment.resident_id == resident_id))
        theirs = await s.scalar(select(Appointment).where(Appointment.id != mine.id))
        expected = list(await s.scalars(select(OutboxMessage.dedupe_key).where(
            OutboxMessage.dedupe_key.startswith(f"appt:{mine.id}:v1:r"))))
    assert expected  # the 1-hour one at least (the 24-hour one unless booked less than a day ahead)
    # The neighbour cancels: their reminders must never come.
    listed = await q.send("/appointments")
    card = next(m for m in listed if m.inline_buttons and "新站" in (m.text or ""))
    ask = await q.press(card.message_id, _data(card, zh("❌ Cancel it")))
    await q.press(card.message_id, _data(ask[-1], zh("Yes, cancel it")))
    before = p.last_id
    # Nothing is due yet.
    assert not [m for m in p.messages() if m.from_bot and "⏰" in (m.text or "")]
    # One minute after the 1-hour reminder's due time (so the 24-hour one is due too).
    move_clock_to(mine.starts_at - timedelta(minutes=59))

    def reminders() -> list:  # type: ignore[type-arg]
        return [m for m in p.messages() if m.from_bot and m.message_id > before and "⏰" in (m.text or "")]

    await bot.emu.wait_for(lambda: len(reminders()) == len(expected), 15)
    texts = [m.text for m in reminders()]
    assert all("新站社区网格党群服务站" in t for t in texts)
    # Written when booked, read later: the day and time are absolute, never "tomorrow" or "in one hour".
    when = appt.when_label(zh, mine.starts_at, bot.app.settings.tz)
    relative = [zh("Today, {date}").split(" ")[0], zh("Tomorrow, {date}").split(" ")[0],
                zh("In one hour: {title}").split("：")[0]]
    assert relative == ["今天", "明天", "一小时后"]
    assert all(when in t and not any(word in t for word in relative) for t in texts)
    hour = next(m for m in reminders() if m.text.startswith(zh("⏰ Coming up: {when}, {service}.").split("{")[0]))
    assert _data(hour, zh("🗺️ Show the way")).startswith("ap:map:")
    shown = await p.press(hour.message_id, _data(hour, zh("🗺️ Show the way")))
    assert shown and shown[-1].kind == "location"
    async with bot.app.sessionmaker() as s:
        rows = list(await s.scalars(select(OutboxMessage).where(
            OutboxMessage.dedupe_key.startswith(f"appt:{theirs.id}:v1:r"))))
    assert rows and all(r.status == OutboxStatus.cancelled for r in rows)
    assert not [m for m in q.messages() if m.from_bot and "⏰" in (m.text or "")]


async def test_a_shared_location_puts_the_nearest_station_first(bot):
    p = person(bot, RESIDENT)
    card = (await p.send("/book"))[-1]
    stations = await p.press(card.message_id, _data(card, "预约到站办事"))
    names = [text for row in stations[-1].inline_buttons for text, data in row if data.startswith("ap:st:")]
    assert "新站" in names[0]  # without a location: the resident's own community first
    asked = await p.press(card.message_id, _data(stations[-1], zh("📍 Nearest to me")))
    assert zh("📍 Send my location") in p.reply_keyboard()
    assert asked[-1].text == zh("Tap the button below to send your location.")
    answer = await p.share_location(41.7151, 125.9552)  # at the Longquan station
    names = [text for row in answer[-1].inline_buttons for text, data in row if data.startswith("ap:st:")]
    assert "龙泉" in names[0] and " m" in names[0]
    assert zh("📅 Book an appointment") in p.reply_keyboard()  # the menu is back
    # The list goes on like any other: that station's days.
    days = await p.press(answer[-1].message_id, _first_data(answer[-1], "ap:st:"))
    assert _first_data(days[-1], "ap:day:")
