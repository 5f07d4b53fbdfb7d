"""Family delegates end to end: a resident links a family member with a one-time
deep link and confirms; the family member books for her and files a case for
her (both marked as theirs); her reminders reach both; either side ends the
link; expired, reused and forged links and buttons are refused.  The real bot,
its delivery engine and the emulator."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from sqlalchemy import select, update

from bot.services import appointments
from models import (
    Appointment,
    Case,
    CaseEvent,
    CaseEventType,
    FamilyLink,
    FamilyLinkStatus,
    OutboxMessage,
    User,
    utcnow,
)
from tests.e2e.cases.helpers import NUMBER_RE, RESIDENT, WORKER, person, zh

SON = 8500000001  # 王小明, her son: not a resident of the district
STRANGER = 8500000002
LINK_RE = re.compile(r"https://t\.me/\w+\?start=(fam_[\w-]+)")


async def _agreed(bot, tg: int, name: str):  # type: ignore[no-untyped-def]
    """Someone new who agreed to the privacy notice (and chose no home: not a resident)."""
    p = person(bot, tg, name)
    await p.send("/start")  # Telegram speaks Chinese: no language to choose (issue 20)
    await p.tap(zh("✅ I agree"))
    return p


async def _link(bot, resident, son):  # type: ignore[no-untyped-def]
    """The resident makes a link from her profile; her son opens it; she allows it."""
    await resident.send(zh("👤 My profile"))
    await resident.tap(zh("👪 My family"))
    answer = await resident.tap(zh("➕ Link a family member"))
    payload = LINK_RE.search(answer[-1].text).group(1)
    before = resident.last_id
    answer = await son.send(f"/start {payload}")  # someone new: the privacy notice first
    assert answer[0].text == zh("Before I link you, please read this and tap “I agree”.")
    # Agreeing goes on with the link (no need to open it again); a second tap links nothing more.
    notice, agree = son.find_button(zh("✅ I agree"))
    answer = await son.press(notice.message_id, agree)
    assert answer[-1].text == zh("Thank you! I have asked your family member to confirm. You will get a message "
                                 "when they do.")
    await son.press(notice.message_id, agree)  # a double click
    assert son.last_callback_answer()["text"] == zh("You are already linked with this resident.")
    answer = await son.send(f"/start {payload}")
    assert answer[-1].text == zh("You are already linked with this resident.")
    ask = await resident.received("王小明", after=before)
    after = son.last_id
    allowed = await resident.tap_in(ask, zh("✅ Yes, allow"))
    told = await son.received("王桂芝", after=after)
    # Neither is told to type a command (issue 20): the way in is a button, or a menu key.
    for text in (ask.text, told.text, *[m.text for m in allowed]):
        assert not re.search(r"(?<![\w<])/[a-z]{2,}", text or ""), text
    assert zh("👤 My profile") in ask.text and zh("👤 My profile") in told.text
    panel = await son.tap_in(told, zh("👪 My family"))
    assert zh("👪 You act for <b>{name}</b>.").format(name="王桂芝").replace("<b>", "").replace("</b>", "") \
        in panel[-1].text
    return payload


async def _son_books(bot, son) -> Appointment:  # type: ignore[no-untyped-def]
    answer = await son.send("/family")
    assert zh("👪 You act for <b>{name}</b>.").format(name="王桂芝").replace("<b>", "").replace("</b>", "") \
        in answer[-1].text
    answer = await son.tap(zh("📅 Book for {name}").format(name="王桂芝"))
    card = answer[-1]
    assert zh("Booking for {name}. Which service?").format(name="王桂芝") in card.text
    for label, prefix in (("预约到站办事", None), ("新站", None), (None, "ap:day:"), (None, "ap:tm:"),
                          (zh("✅ Confirm"), None)):
        data = next(d for row in card.inline_buttons for t, d in row
                    if d and ((label and label in t) or (prefix and d.startswith(prefix))))
        result = await son.press(card.message_id, data)
        card = next(m for m in result if m.message_id == card.message_id)
    async with bot.app.sessionmaker() as s:
        appointment = await s.scalar(select(Appointment))
        assert appointment is not None
        return appointment


async def _another_time(s, settings, appointment: Appointment):  # type: ignore[no-untyped-def]
    """A free time of the same station and service other than the booking's."""
    for day in await appointments.free_days(s, settings, appointment.station_id, appointment.service_id, utcnow()):
        for slot in await appointments.free_slots_of_day(s, settings, appointment.station_id, appointment.service_id,
                                                         day.day, utcnow()):
            if slot.starts_at != appointment.starts_at:
                return slot.starts_at
    raise AssertionError("no other free time")


async def test_son_books_and_files_for_his_mother_reminders_reach_both_then_he_ends_it(bot):
    resident = person(bot, RESIDENT)
    son = person(bot, SON, "王小明")
    await _link(bot, resident, son)
    async with bot.app.sessionmaker() as s:
        mother = await s.scalar(select(User).where(User.telegram_id == RESIDENT))
        me = await s.scalar(select(User).where(User.telegram_id == SON))

    mark = resident.last_id
    appointment = await _son_books(bot, son)
    assert appointment.resident_id == mother.id and appointment.booked_by_id == me.id and not appointment.proxy
    # She is told what he did in her name, and where to see or cancel it.
    told = await resident.received("王小明", after=mark)
    assert told.text.startswith("👪 王小明") and zh("🗓️ My appointments") in told.text
    assert any(zh("👪 Booked by a family member") in (m.text or "") for m in son.messages())
    # Her reminders are queued for her and, marked for whom, for him.
    async with bot.app.sessionmaker() as s:
        rows = list(await s.scalars(select(OutboxMessage).where(OutboxMessage.dedupe_key.like(
            f"appt:{appointment.id}:v1:r%"))))
    hers = [r for r in rows if r.user_id == mother.id]
    his = [r for r in rows if r.user_id == me.id]
    assert hers and len(his) == len(hers)
    assert all(r.payload["text"].startswith(zh("👪 For {name}:").format(name="王桂芝")) for r in his)

    # He reports a problem for her: one tap for whom, then the usual steps.
    worker = person(bot, WORKER)  # on Telegram before the new case reaches the grid's workers
    answer = await son.send("/family")
    await son.tap(zh("📝 Report for {name}").format(name="王桂芝"))
    await son.tap(re.compile("."))  # the first kind of problem
    await son.send("楼道灯坏了，妈妈晚上看不见")
    mark = resident.last_id
    answer = await son.send(zh("✅ Send"))
    assert any(NUMBER_RE.search(m.text or "") for m in answer)
    async with bot.app.sessionmaker() as s:
        case = await s.scalar(select(Case))
    told = await resident.received(case.number, after=mark)  # the request he sent for her
    assert told.text == zh("👪 {name} sent a request for you: case {number}. You will hear of each step in "
                           "📂 My cases.").format(name="王小明", number=case.number)
    async with bot.app.sessionmaker() as s:
        event = await s.scalar(select(CaseEvent).where(CaseEvent.case_id == case.id,
                                                       CaseEvent.type == CaseEventType.submitted))
    assert case.resident_id == mother.id and event.actor_id == me.id and event.data.get("delegate") is True
    # The grid worker accepts it: the news is delivered to her and, marked for whom, to him.
    marks = {resident.id: resident.last_id, son.id: son.last_id}
    await worker.tap_in(await worker.received(case.number), zh("✅ Accept"))
    await resident.received(case.number, after=marks[resident.id])
    copy = await son.received(case.number, after=marks[son.id])
    assert copy.text.startswith(zh("👪 For {name}:").format(name="王桂芝"))
    # The case card marks who filed it.
    answer = await son.tap(zh("📂 Cases of {name}").format(name="王桂芝"))
    card = await son.tap(case.number)
    assert zh("👪 family member") in card[-1].text

    # He moves, then cancels the booking he made for her (the services, as his 🗓️ buttons do): she is told.
    for change, text in (("move", "👪 {name} moved your appointment to {when}."),
                         ("cancel", "👪 {name} cancelled your appointment of {when}.")):
        mark = resident.last_id
        async with bot.app.sessionmaker() as s:
            son_user = await s.get(User, me.id)
            if change == "move":  # to another free time, whatever the hour the test runs at
                await appointments.reschedule(s, bot.app.settings, son_user, appointment.id,
                                              await _another_time(s, bot.app.settings, appointment), utcnow())
            else:
                await appointments.cancel(s, bot.app.settings, son_user, appointment.id, utcnow())
            await s.commit()
        told = await resident.received("王小明", after=mark)
        assert zh(text).split("{when}")[0].format(name="王小明") in told.text, change

    # He ends it; she is told; his old buttons no longer work.
    before = resident.last_id
    answer = await son.send("/family")
    await son.tap(zh("🔚 Stop acting for {name}").format(name="王桂芝"))
    await resident.received("王小明", after=before)
    await son.forge(f"ap:svcs:0:0:0:0:{mother.id}")
    assert son.last_callback_answer()["show_alert"]
    await son.forge(f"fm:cases:0:{mother.id}")
    assert son.last_callback_answer()["text"] == zh(
        "You cannot act for this person: they have not linked you, or the link has ended.")


async def test_the_resident_ends_it_and_chooses_who_gets_reminders(bot):
    resident = person(bot, RESIDENT)
    son = person(bot, SON, "王小明")
    await _link(bot, resident, son)
    answer = await resident.send("/family")
    assert "王小明" in answer[-1].text
    await resident.tap(zh("🔕 Only {name} gets reminders").format(name="王小明"))
    async with bot.app.sessionmaker() as s:
        link = await s.scalar(select(FamilyLink))
        assert link.resident_copies is False
    appointment = await _son_books(bot, son)
    async with bot.app.sessionmaker() as s:
        users = {r.user_id for r in await s.scalars(select(OutboxMessage).where(
            OutboxMessage.dedupe_key.like(f"appt:{appointment.id}:v1:r%")))}
        assert users == {link.delegate_id}  # only he gets them now
    before = son.last_id
    await resident.tap(zh("🔚 End the link with {name}").format(name="王小明"))
    await son.received("王桂芝", after=before)
    async with bot.app.sessionmaker() as s:
        assert (await s.get(FamilyLink, link.id)).status == FamilyLinkStatus.ended
    # He may no longer cancel her booking.
    await son.forge(f"ap:cx:0:0:0:{appointment.id}:0")
    assert son.last_callback_answer()["show_alert"]
    async with bot.app.sessionmaker() as s:
        assert (await s.get(Appointment, appointment.id)).status.value == "booked"


@pytest.mark.parametrize("case", ["expired", "reused", "own"])
async def test_expired_reused_and_own_links_are_refused(bot, case):
    resident = person(bot, RESIDENT)
    son, stranger = await _agreed(bot, SON, "王小明"), await _agreed(bot, STRANGER, "路人")
    await resident.send("/family")
    answer = await resident.tap(zh("➕ Link a family member"))
    payload = LINK_RE.search(answer[-1].text).group(1)
    if case == "expired":
        async with bot.app.sessionmaker() as s:
            await s.execute(update(FamilyLink).values(expires_at=utcnow() - timedelta(minutes=1)))
            await s.commit()
        answer = await son.send(f"/start {payload}")
        assert answer[-1].text == zh("This family link has expired (links work for 24 hours). Please ask for a "
                                     "new one.")
    elif case == "reused":
        await son.send(f"/start {payload}")
        answer = await stranger.send(f"/start {payload}")
        assert answer[-1].text == zh("This family link has already been used. Each link works once.")
    else:
        answer = await resident.send(f"/start {payload}")
        assert answer[-1].text == zh("This is your own family link: send it to your family member.")
    async with bot.app.sessionmaker() as s:
        assert await s.scalar(select(FamilyLink.id).where(FamilyLink.status == FamilyLinkStatus.active)) is None
        # Only a hash of the token is stored.
        assert payload.removeprefix("fam_") not in (await s.scalar(select(FamilyLink.token_hash)))


async def test_forged_family_buttons_are_refused(bot):
    resident = person(bot, RESIDENT)
    son, stranger = await _agreed(bot, SON, "王小明"), await _agreed(bot, STRANGER, "路人")
    await resident.send("/family")
    answer = await resident.tap(zh("➕ Link a family member"))
    payload = LINK_RE.search(answer[-1].text).group(1)
    await son.send(f"/start {payload}")
    async with bot.app.sessionmaker() as s:
        link = await s.scalar(select(FamilyLink))
        mother_id = link.resident_id
    # The son cannot allow himself; a stranger can neither allow nor end it, nor act for her.
    for p, data in ((son, f"fm:ok:{link.id}:0"), (stranger, f"fm:ok:{link.id}:0"),
                    (stranger, f"fm:end:{link.id}:0"), (stranger, f"fm:off:{link.id}:0"),
                    (stranger, "fmj:forged-token")):
        await p.forge(data)
        assert p.last_callback_answer()["text"] == zh("This family link is not valid. Please ask for a new one.")
    for data in (f"fm:help:0:{mother_id}", f"fm:appts:0:{mother_id}", f"ci:forr:{mother_id}"):
        await stranger.forge(data)
        assert stranger.last_callback_answer()["text"] == zh(
            "You cannot act for this person: they have not linked you, or the link has ended."), data
    async with bot.app.sessionmaker() as s:
        assert (await s.get(FamilyLink, link.id)).status == FamilyLinkStatus.pending
        assert await s.scalar(select(Case.id)) is None
