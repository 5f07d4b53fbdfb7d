"""A volunteer service day end to end through the emulator: staff announce it
with two seats; a resident and two volunteers sign up (the third waits); a
cancel promotes the first waiting, who is told; reminders go out a day before
(injected clock); staff mark attendance and the volunteer is credited hours.
Forged presses are refused."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select, update

from bot.services import events
from bot.services.invites import create_invite
from models import EventSignup, Role, ServiceEvent, SignupStatus, User, utcnow
from tests.e2e.cases.helpers import RESIDENT, SECRETARY, person, run_job, zh

OUTSIDER = 7000000042  # a resident of Minzhu community


async def _volunteer(bot, telegram_id: int, name: str):  # type: ignore[no-untyped-def]
    async with bot.app.sessionmaker() as s:
        invite = await create_invite(s, role=Role.volunteer, scope_code="DC-XS")
        await s.commit()
    p = person(bot, telegram_id, name)
    await p.send(f"/start {invite.payload}")
    return p


async def test_service_day_with_a_waiting_list(bot):
    async with bot.app.sessionmaker() as s:
        await s.execute(update(User).where(User.telegram_id == SECRETARY).values(locale="en"))
        await s.commit()
    first, second = await _volunteer(bot, 8600000001, "志愿者一"), await _volunteer(bot, 8600000002, "志愿者二")
    resident, outsider = person(bot, RESIDENT), person(bot, OUTSIDER, "外社区")
    secretary = person(bot, SECRETARY)
    await secretary.send("/start")
    await outsider.send("/start")
    when = (utcnow() + timedelta(days=3)).astimezone(bot.app.settings.tz).strftime("%Y-%m-%d 09:00")

    listing = await secretary.from_menu("🎪 Service days")
    await secretary.tap_in(listing[-1], "Announce an event")
    bad = await secretary.send("Volunteer service day\nnext week\nXinzhan station\n2")
    assert "2026-12-20 09:00" in bad[-1].text  # a clear answer; the form is still open
    preview = await secretary.send(f"Volunteer service day\n{when}\nXinzhan station\n2 seats\n3")
    assert "Seats: 2" in preview[-1].text and "hours: 3" in preview[-1].text
    await secretary.tap_in(preview[-1], "Both")
    async with bot.app.sessionmaker() as s:
        event = await s.scalar(select(ServiceEvent).order_by(ServiceEvent.id.desc()))
    assert (event.capacity, event.hours, event.audience.value) == (2, 3, "both")

    offers = [await p.received("Volunteer service day") for p in (resident, first, second)]
    # A volunteer also finds the open service days from their menu.
    listed = await first.from_menu(zh("🎪 Service days"))
    assert "Volunteer service day" in str(listed[-1].inline_buttons)
    assert not any("Volunteer service day" in (m.text or "") for m in outsider.messages())
    # The resident and the first volunteer take the two seats; the second volunteer waits.
    for p, offer in zip((resident, first, second), offers, strict=True):
        await p.tap_in(offer, zh("✋ Sign up"))
    waiting = [a for a in bot.emu.callback_answers if a["chat_id"] == second.id][-1]
    assert waiting["show_alert"] and zh("⏳ It is full: you are on the waiting list and will be told if a seat "
                                        "comes free.") == waiting["text"]
    card = await second.received(zh("⏳ You are number {n} on the waiting list.").format(n=1))
    # A double sign-up is refused; the first volunteer cancels and the second is promoted and told.
    await second.press(card.message_id, f"ev:join:{event.id}:0")
    assert second.last_callback_answer()["show_alert"]
    mark = second.last_id
    first_card = await first.received(zh("✅ You have a seat."))
    await first.tap_in(first_card, zh("❌ Cancel my seat"))
    await second.received(zh("🎉 A seat came free: you are now signed up for {title} ({when}).")[:6], after=mark)
    async with bot.app.sessionmaker() as s:
        rows = {u: st for u, st in (await s.execute(
            select(User.telegram_id, EventSignup.status).join(EventSignup, EventSignup.user_id == User.id)
            .where(EventSignup.event_id == event.id))).all()}
    assert rows == {RESIDENT: SignupStatus.going, first.id: SignupStatus.cancelled, second.id: SignupStatus.going}

    # Forged presses: another community's resident, a resident at the attendance list.
    await outsider.press(outsider.last_id, f"ev:join:{event.id}:0")
    assert outsider.last_callback_answer()["show_alert"]
    await resident.press(resident.last_id, f"ev:att:{event.id}:0")
    assert resident.last_callback_answer()["show_alert"]

    # A day before, those with a seat are reminded (the job at an injected time), once.
    marks = {p.id: p.last_id for p in (resident, first, second)}
    for _ in range(2):
        await run_job(bot, "events.reminders", event.starts_at - timedelta(hours=2))
    for p in (resident, second):
        await p.received("Xinzhan station", after=marks[p.id])
    assert not [m for m in first.messages() if m.message_id > marks[first.id]]

    # Attendance: too early is refused; once it started, staff mark who came.
    details = await secretary.press(secretary.last_id, f"ev:view:{event.id}:0")
    att = await secretary.tap_in(details[-1], "Attendance")
    await secretary.tap_in(att[-1], "志愿者二")
    assert "started" in secretary.last_callback_answer()["text"]
    async with bot.app.sessionmaker() as s:
        await s.execute(update(ServiceEvent).where(ServiceEvent.id == event.id)
                        .values(starts_at=utcnow() - timedelta(hours=1)))
        await s.commit()
    mark_second = second.last_id
    await secretary.tap_in(att[-1], "志愿者二")
    await secretary.tap_in(secretary.last, "王桂芝")
    thanks = await second.received("🙏", after=mark_second)  # the volunteer is told the hours credited
    assert thanks.text == zh.ngettext("🙏 Thank you for helping at {title}: {hours} volunteer hour is credited to you.",
                                      "🙏 Thank you for helping at {title}: {hours} volunteer hours are credited to you.",
                                      3).format(title="Volunteer service day", hours=3)
    async with bot.app.sessionmaker() as s:
        figures = await events.event_figures(s, select(ServiceEvent.community_id).where(ServiceEvent.id == event.id),
                                             utcnow() - timedelta(days=1), utcnow() + timedelta(days=1))
        credited = await s.scalar(select(EventSignup.hours).join(User, User.id == EventSignup.user_id)
                                  .where(User.telegram_id == second.id))
    assert (figures.held, figures.signed_up, figures.attended, figures.volunteer_hours) == (1, 2, 2, 3)
    assert credited == 3
    # The volunteer sees their hours in all under "🙋 My errands".
    mine = await second.from_menu(zh("🙋 My errands"))
    assert zh("🙏 Volunteer hours credited to you so far: {hours}").format(hours=3) in mine[-1].text
