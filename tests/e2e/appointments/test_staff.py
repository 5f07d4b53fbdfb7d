"""Appointments end to end, staff and workers: the station agenda (phones
masked except to the station's staff), attendance and the no-show offer that
becomes a case, closing a day with one-tap rebooking, plans edited from chat,
and a worker booking for a resident without Telegram."""

from __future__ import annotations

from datetime import date, datetime, timedelta

from icalendar import Calendar
from sqlalchemy import select

from bot.services import appointments as appt
from handlers.appointments.ui import StCb, today
from models import (
    Appointment,
    AppointmentPlan,
    AppointmentStatus,
    CancelReason,
    Case,
    CaseKind,
    FollowUp,
    Station,
    User,
    utcnow,
)
from models.base import clock_offset, set_clock_offset
from tests.e2e.appointments.test_booking import _data, _first_data, book_first_free
from tests.e2e.cases.helpers import NUMBER_RE, OTHER_WORKER, RESIDENT, SECRETARY, WORKER, person, zh


def move_clock_to(moment: datetime) -> None:
    set_clock_offset(moment - (utcnow() - clock_offset()))


async def _station(bot) -> int:  # type: ignore[no-untyped-def]
    async with bot.app.sessionmaker() as s:
        return await s.scalar(select(Station.id).where(Station.code == "ST-XS"))


async def _only_booking(bot) -> Appointment:  # type: ignore[no-untyped-def]
    async with bot.app.sessionmaker() as s:
        return await s.scalar(select(Appointment).order_by(Appointment.id.desc()))


async def open_agenda(p, bot, day: date):  # type: ignore[no-untyped-def]
    """The agenda from the menu, then the given day (its ◀️ ▶️ buttons would get there too)."""
    answer = await p.send(str(zh("📋 Station agenda")))
    agenda = answer[-1]
    assert zh("📋 <b>{station}</b>: {day}").split("<b>")[0] in agenda.text
    if day == today(bot.app.settings):
        return agenda  # it opens on today (a booking made just after midnight is for today)
    station = await _station(bot)
    moved = await p.press(agenda.message_id, StCb(a="ag", st=station, x=day.toordinal()).pack())
    return moved[-1]


async def _resident_books(bot):  # type: ignore[no-untyped-def]
    """王桂芝 books the first free time; she and her booking."""
    resident = person(bot, RESIDENT)
    await book_first_free(resident)
    return resident, await _only_booking(bot)


async def _secretary_agenda(bot, day: date):  # type: ignore[no-untyped-def]
    """刘秀梅, the station's staff, and the agenda of ``day`` she opens."""
    secretary = person(bot, SECRETARY)
    return secretary, await open_agenda(secretary, bot, day)


async def test_agenda_masks_phones_and_staff_mark_a_no_show_that_becomes_a_home_visit(bot):
    resident, booking = await _resident_books(bot)
    secretary, agenda = await _secretary_agenda(bot, booking.day)
    assert "王桂芝" in agenda.text and "13904353001" in agenda.text  # the station's staff: full phone
    assert zh("✅ Came") not in str(agenda.inline_buttons)
    worker = person(bot, WORKER)
    seen = await open_agenda(worker, bot, booking.day)
    assert "王桂芝" in seen.text and "13904353001" not in seen.text and "139****3001" in seen.text
    assert zh("🚫 Close this day") not in str(seen.inline_buttons)
    outsider = person(bot, OTHER_WORKER)
    answer = await outsider.send(str(zh("📋 Station agenda")))
    assert "新站" not in answer[-1].text  # their own community's station only

    # The booking's card; a no-show before the time is refused.
    card = await secretary.press(agenda.message_id, _first_data(agenda, "aps:bk:"))
    assert zh("❌ Did not come") in str(card[-1].inline_buttons)
    await secretary.press(agenda.message_id, _data(card[-1], zh("❌ Did not come")))
    assert bot.emu.callback_answers[-1]["text"] == zh("It is too early to mark this appointment.")
    # A worker's forged button: refused by the service.
    await worker.press(seen.message_id, StCb(a="ns", st=booking.station_id, x=booking.day.toordinal(),
                                             b=booking.id).pack())
    assert bot.emu.callback_answers[-1]["text"] == zh("You are not allowed to do that.")
    # Ten minutes after the start, nobody came.
    move_clock_to(booking.starts_at + timedelta(minutes=10))
    before = resident.last_id
    done = await secretary.press(agenda.message_id, _data(card[-1], zh("❌ Did not come")))
    # (Moving the clock can also bring a recurring job's message, such as Monday's digest.)
    done = [m for m in done if m.message_id == agenda.message_id or zh("✅ Came") in str(m.inline_buttons)]
    assert zh("Missed appointments so far: {n}").format(n=1) in done[-1].text
    offer = await resident.received(zh("We missed you at {station} ({service}, {when}). We can still help: a "
                                       "grid worker can run the errand for you, or visit you at home.")[:4],
                                    after=before)
    asked = await resident.tap_in(offer, zh("🏠 Visit me at home"))
    sent = await resident.tap_in(asked[-1], zh("✅ Yes, please"))
    assert NUMBER_RE.search(sent[-1].text)
    async with bot.app.sessionmaker() as s:
        marked = await s.get(Appointment, booking.id)
        case = await s.get(Case, marked.follow_up_case_id)
    assert marked.status == AppointmentStatus.no_show and marked.follow_up == FollowUp.home_visit
    assert case.kind == CaseKind.request and case.number in sent[-1].text
    # The offer works once.
    await resident.press(offer.message_id, _data(offer, zh("🤝 Run the errand for me")))
    assert bot.emu.callback_answers[-1]["text"] == zh("You have already answered this. Thank you!")
    # They came after all: the staff correct it.
    fixed = await secretary.press(agenda.message_id, _data(done[-1], zh("✅ Came")))
    assert any(zh("Missed appointments so far: {n}").format(n=0) in (m.text or "") for m in fixed)


async def test_closing_a_day_tells_the_resident_who_rebooks_with_one_tap(bot):
    resident, booking = await _resident_books(bot)
    secretary, agenda = await _secretary_agenda(bot, booking.day)
    ask = await secretary.press(agenda.message_id, _data(agenda, zh("🚫 Close this day")))
    assert zh.ngettext("{n} booked resident will be told and offered other times.",
                       "{n} booked residents will be told and offered other times.", 1).format(n=1) in ask[-1].text
    before = resident.last_id
    closed = await secretary.send("停电检修")
    assert zh("🚫 Closed. Residents told: {n}.").format(n=1) in closed[0].text
    assert zh("✅ Reopen this day") in str(closed[-1].inline_buttons)
    notice = await resident.received("停电检修", after=before)
    assert "新站社区网格党群服务站" in notice.text
    choices = [text for row in notice.inline_buttons for text, data in row if data and data.startswith("ap:rb:")]
    assert len(choices) == 3
    done = await resident.press(notice.message_id, _first_data(notice, "ap:rb:"))
    assert any(zh("✅ Booked!") in (m.text or "") for m in done)
    document = next(m for m in done if m.kind == "document")
    assert Calendar.from_ical(bot.emu.file_bytes(document.file_id)).walk("VEVENT")
    async with bot.app.sessionmaker() as s:
        old = await s.get(Appointment, booking.id)
        new = await s.get(Appointment, old.rebooked_as_id)
    assert (old.status, old.cancel_reason) == (AppointmentStatus.cancelled, CancelReason.closure)
    assert new.status == AppointmentStatus.booked and new.day != booking.day
    # The same button again: already rebooked.
    await resident.press(notice.message_id, _first_data(notice, "ap:rb:"))
    assert bot.emu.callback_answers[-1]["text"] == zh("You have already booked a new time for this.")
    # Nobody can book the closed day any more; reopening it takes bookings again.
    await resident.press(notice.message_id, appt.ap_cb("ok", sv=booking.service_id, st=booking.station_id,
                                                       x=appt.slot_code(booking.starts_at)))
    assert zh("The station is closed that day.") in bot.emu.callback_answers[-1]["text"]
    await secretary.press(closed[-1].message_id, _data(closed[-1], zh("✅ Reopen this day")))
    assert bot.emu.callback_answers[-1]["text"] == zh("Open for bookings again.")


async def test_staff_change_a_plan_from_chat(bot):
    secretary = person(bot, SECRETARY)
    agenda = (await secretary.send(str(zh("📋 Station agenda"))))[-1]
    plans = await secretary.press(agenda.message_id, _data(agenda, zh("⚙️ Working plans")))
    card = await secretary.press(agenda.message_id, _data(plans[-1], "预约到站办事"))
    assert "mon 08:30-11:30 13:30-17:00" in card[-1].text
    ask = await secretary.press(agenda.message_id, _data(card[-1], zh("✏️ Change")))
    assert "seats 2" in ask[-1].text
    wrong = await secretary.send("seats lots")
    assert zh("I could not read this line: {line}").format(line="seats lots") in wrong[-1].text
    saved = await secretary.send("seats 5\nsat -")
    assert zh("✅ Saved.") in saved[0].text and "seats 5" in saved[-1].text and "sat -" in saved[-1].text
    async with bot.app.sessionmaker() as s:
        plan = await s.scalar(select(AppointmentPlan))
    assert plan.capacity == 5 and plan.weekly["sat"] == [] and plan.updated_by_id is not None
    paused = await secretary.press(saved[-1].message_id, _data(saved[-1], zh("⏸ Stop taking bookings")))
    assert zh("▶️ Take bookings") in str(paused[-1].inline_buttons)
    # A worker cannot open the plans, even with a forged button.
    worker = person(bot, WORKER)
    mine = (await worker.send(str(zh("📋 Station agenda"))))[-1]
    await worker.press(mine.message_id, StCb(a="plans", st=plan.station_id).pack())
    assert bot.emu.callback_answers[-1]["text"] == zh("You are not allowed to do that.")


async def test_worker_books_for_a_resident_without_telegram(bot):
    worker = person(bot, WORKER)
    start = await worker.send(str(zh("🤝 Book for a resident")))
    await worker.press(start[-1].message_id, _data(start[-1], zh("➕ Someone new")))
    # A menu button while the name is awaited is the menu button, not a name.
    grid = await worker.send(str(zh("🗺️ My grid")))
    assert zh("Type their phone number, so the station can ring them.") not in grid[-1].text
    start = await worker.send(str(zh("🤝 Book for a resident")))
    await worker.press(start[-1].message_id, _data(start[-1], zh("➕ Someone new")))
    await worker.send("王奶奶")
    answer = await worker.send("139 0435 9999")
    assert "王奶奶" in answer[0].text and zh("No upcoming appointments.") in answer[-1].text
    services = await worker.press(answer[-1].message_id, _data(answer[-1], zh("📅 Book an appointment")))
    card = services[-1]
    assert zh("Booking for {name}. Which service?").format(name="王奶奶") in card.text
    for label, prefix in (("预约到站办事", None), ("新站", None), (None, "ap:day:"), (None, "ap:tm:")):
        data = _data(card, label) if label else _first_data(card, prefix)
        card = next(m for m in await worker.press(card.message_id, data) if m.message_id == card.message_id)
    assert zh("👤 For: {name}").format(name="王奶奶") in card.text
    assert zh("📍 Nearest to me") not in str(card.inline_buttons)
    done = await worker.press(card.message_id, _data(card, zh("✅ Confirm")))
    summary = next(m for m in done if zh("✅ Booked!") in (m.text or ""))
    assert "王奶奶" in summary.text and zh("You will get a reminder the day before, to ring them.") in summary.text
    assert any(m.kind == "document" for m in done) and not any(m.kind == "location" for m in done)
    async with bot.app.sessionmaker() as s:
        booking = await s.scalar(select(Appointment))
        granny = await s.get(User, booking.resident_id)
        me = await s.scalar(select(User).where(User.telegram_id == WORKER))
    assert booking.proxy and booking.booked_by_id == me.id
    assert granny.telegram_id is None and granny.phone == "13904359999" and granny.first_name == "王奶奶"
    # The person is remembered: next time one tap, and their booking can be changed.
    again = await worker.send(str(zh("🤝 Book for a resident")))
    listing = await worker.press(again[-1].message_id, _data(again[-1], "王奶奶"))
    assert any(m.inline_buttons and zh("❌ Cancel it") in str(m.inline_buttons) for m in listing)
    # A worker of another grid cannot touch it, even with forged buttons.
    other = person(bot, OTHER_WORKER)
    anchor = (await other.send(str(zh("🤝 Book for a resident"))))[-1]
    await other.press(anchor.message_id, appt.ap_cb("cxy", b=booking.id))
    assert bot.emu.callback_answers[-1]["text"] == zh("That appointment is not available.")
    await other.press(anchor.message_id, StCb(a="pr", b=granny.id).pack())
    assert bot.emu.callback_answers[-1]["text"] == zh("That person is not available to you.")
    # The station's staff see the proxy booking in the agenda, with the phone.
    secretary, agenda = await _secretary_agenda(bot, booking.day)
    assert "王奶奶" in agenda.text and "13904359999" in agenda.text
    assert zh("🤝 booked by a worker") in agenda.text
