"""Issue 20, the worker and staff side, end to end with an injected clock: the
new-case notice says who, by when and what was authorised; the grid's workers are
reminded before the acceptance limit; the overdue alert carries handles (assign,
remind, take); the alert climbs to the secretary while nobody acts, once per level;
a busy card shows at most five buttons, the rest behind "➕ More"."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from models import Case, CaseEvent, CaseEventType, CaseStatus, OutboxMessage, User
from tests.e2e.cases.helpers import (
    ADMIN,
    HEAD,
    OTHER_WORKER,
    RESIDENT,
    SECRETARY,
    WORKER,
    WORKER2,
    case_by_number,
    file_proxy,
    file_report,
    person,
    run_job,
    started,
    zh,
)

MAX_BUTTONS = 5


def _buttons(message) -> list[str]:  # type: ignore[no-untyped-def]
    return [text for row in message.inline_buttons for text, _data in row]


async def test_notice_reminder_and_the_grid_head_assigns_from_the_alert(bot):
    worker, colleague, head, resident = await started(bot, WORKER, WORKER2, HEAD, RESIDENT)
    number = await file_proxy(resident, "居住证明", "Within 3 days", "Collect my documents and hand them in for me",
                              "孩子上学要居住证明，请帮我去开。")
    case = await case_by_number(bot, number)

    # The notice: the resident's name (as the worker side sees it), the need-by date, what she authorised.
    notice = await worker.received(number)
    assert zh("Resident: {name}").format(name="王桂芝") in notice.text
    assert zh("Needed by: {date}").format(date=case.needed_by.isoformat()) in notice.text
    assert zh("Authorised: {text}").format(text=case.authorisation) in notice.text
    assert "13904353001" not in notice.text  # her phone is the owner's only, once accepted

    # Half an hour before the acceptance limit: every worker of the grid is reminded, once.
    soon = case.accept_due_at - timedelta(minutes=30)
    await run_job(bot, "cases.accept_reminders", soon)
    await run_job(bot, "cases.accept_reminders", soon + timedelta(minutes=1))
    reminder = await worker.received("⏳", after=notice.message_id)
    assert number in reminder.text and zh("✅ Accept") in _buttons(reminder)
    await colleague.received("⏳")
    async with bot.app.sessionmaker() as s:
        assert len(list(await s.scalars(select(CaseEvent).where(
            CaseEvent.case_id == case.id, CaseEvent.type == CaseEventType.accept_reminder)))) == 1

    # Past the limit the grid head's alert has handles; he gives it to 王芳 from the alert itself.
    await run_job(bot, "cases.time_limits", case.accept_due_at + timedelta(minutes=1))
    alert = await head.received("⏰")
    assert _buttons(alert) == [zh("✋ Take it myself"), zh("👤 Assign to a worker"), zh("🔔 Remind"),
                               zh("📄 Details")]
    # A worker pressing a forged handle, or the head giving it to a worker of another grid: refused.
    await worker.press(reminder.message_id, f"cs:asg:{case.id}:0")
    assert worker.last_callback_answer()["show_alert"]
    async with bot.app.sessionmaker() as s:
        outsider = await s.scalar(select(User.id).where(User.telegram_id == OTHER_WORKER))
    await head.press(alert.message_id, f"cs:asgw:{case.id}:{outsider}")
    assert head.last_callback_answer()["show_alert"]
    assert (await case_by_number(bot, number)).status == CaseStatus.new

    picked = [m for m in await head.tap_in(alert, zh("👤 Assign to a worker")) if m.message_id != alert.message_id]
    choose = picked[-1]
    assert choose.text.startswith(number) and zh("❌ Cancel") in _buttons(choose)
    assert "👤 王芳" in _buttons(choose) and "👤 李红霞" in _buttons(choose)
    await head.tap_in(choose, "王芳")
    given = await colleague.received(zh("👤 {name} gave you case {number}. It should be done by {when}.").split(
        "{name}")[0] + "李红霞")
    assert number in given.text
    final = await case_by_number(bot, number)
    assert final.status == CaseStatus.accepted and final.escalation_next_at is None
    # She hears who now serves her: the worker given the case, by her given name (issue 20).
    await resident.received(zh("👷 {name}, your grid worker, has accepted your case {number}. It should be done by "
                               "{when}. Tap 💬 below to write to them.").split("{number}")[0].format(name="王芳"))


async def test_nobody_acts_the_secretary_is_told_once_and_takes_it(bot):
    resident = person(bot, RESIDENT)
    head, secretary, admin = await started(bot, HEAD, SECRETARY, ADMIN)
    number = await file_report(resident, "设施维修", "5单元门禁坏了")
    case = await case_by_number(bot, number)

    await run_job(bot, "cases.time_limits", case.accept_due_at + timedelta(minutes=1))
    alert = await head.received("⏰")
    mark_secretary = secretary.last_id
    planned = (await case_by_number(bot, number)).escalation_next_at
    await run_job(bot, "cases.escalation_climb", planned - timedelta(minutes=1))  # not yet
    await run_job(bot, "cases.escalation_climb", planned)
    await run_job(bot, "cases.escalation_climb", planned + timedelta(minutes=1))  # once per level
    climbed = await secretary.received("⏫", after=mark_secretary)
    assert number in climbed.text and zh("✋ Take it myself") in _buttons(climbed)
    async with bot.app.sessionmaker() as s:
        me = await s.scalar(select(User).where(User.telegram_id == SECRETARY))
        texts = [p["text"] for p in await s.scalars(select(OutboxMessage.payload).where(
            OutboxMessage.user_id == me.id))]
    assert sum("⏫" in t for t in texts) == 1

    # She takes it herself: her card shows five buttons at most, the rest behind "More".
    taken = [m for m in await secretary.tap_in(climbed, zh("✋ Take it myself")) if number in (m.text or "")]
    card = taken[-1]
    assert (await case_by_number(bot, number)).owner_id == me.id
    first = _buttons(card)
    assert len(first) <= MAX_BUTTONS and first[-1] == zh("➕ More") and zh("✅ Mark as done") in first
    more = [m for m in await secretary.tap_in(card, zh("➕ More")) if m.message_id == card.message_id][-1]
    rest = _buttons(more)
    assert rest[-1] == zh("⬅️ Back") and zh("📝 Internal note") in rest and not set(rest) & set(first[:-1])
    back = [m for m in await secretary.tap_in(more, zh("⬅️ Back")) if m.message_id == card.message_id][-1]
    assert _buttons(back) == first

    # The grid head reminds her from his alert; the climb has stopped: the district never hears of it.
    await head.tap_in(alert, zh("🔔 Remind"))
    assert "刘秀梅" in head.last_callback_answer()["text"]
    await secretary.received(zh("🔔 {name} reminds you of case {number} (to be done by {when}).").split(
        "{name}")[0] + "李红霞")
    await head.tap_in(alert, zh("🔔 Remind"))  # again at once: refused, with when she may be reminded again
    assert number in head.last_callback_answer()["text"] and head.last_callback_answer()["show_alert"]
    await run_job(bot, "cases.escalation_climb", planned + timedelta(days=7))
    async with bot.app.sessionmaker() as s:
        admin_id = await s.scalar(select(User.id).where(User.telegram_id == ADMIN))
        to_admin = [p["text"] for p in await s.scalars(select(OutboxMessage.payload).where(
            OutboxMessage.user_id == admin_id))]
        c = await s.scalar(select(Case).where(Case.number == number))
    assert not [t for t in to_admin if number in t] and c.status == CaseStatus.accepted


async def test_the_climb_reaches_the_district_and_the_cards_carry_the_handles(bot):
    """While nobody acts the alert climbs grid head -> secretary -> district, each once; the grid
    head's and the secretary's case cards (📄 Details), not only their alerts, carry the handles:
    he reminds the grid from his card, she gives the case to a worker from hers."""
    resident = person(bot, RESIDENT)
    worker, colleague, head, secretary, admin = await started(bot, WORKER, WORKER2, HEAD, SECRETARY, ADMIN)
    number = await file_report(resident, "设施维修", "2单元楼梯扶手松了")
    case = await case_by_number(bot, number)

    await run_job(bot, "cases.time_limits", case.accept_due_at + timedelta(minutes=1))
    alert = await head.received("⏰")
    marks = {p.id: p.last_id for p in (secretary, admin)}
    for level, told in enumerate((secretary, admin), start=1):
        planned = (await case_by_number(bot, number)).escalation_next_at
        assert planned is not None, f"the climb stopped before level {level}"
        await run_job(bot, "cases.escalation_climb", planned)
        await run_job(bot, "cases.escalation_climb", planned + timedelta(minutes=1))  # once per level
        climbed = await told.received("⏫", after=marks[told.id])
        assert number in climbed.text and _buttons(climbed) == [
            zh("✋ Take it myself"), zh("👤 Assign to a worker"), zh("🔔 Remind"), zh("📄 Details")]
    top = await case_by_number(bot, number)
    # Level 1 the grid head, 2 the secretary, 3 the district: the top, nothing more planned.
    assert (top.escalation_level, top.escalation_next_at, top.status) == (3, None, CaseStatus.new)
    async with bot.app.sessionmaker() as s:
        assert len(list(await s.scalars(select(CaseEvent).where(
            CaseEvent.case_id == case.id, CaseEvent.type == CaseEventType.escalated)))) == 2

    # The grid head's card: assign and remind are on it; he reminds the grid from the card.
    card = [m for m in await head.tap_in(alert, zh("📄 Details")) if number in (m.text or "")][-1]
    shown = _buttons(card)
    assert len(shown) <= MAX_BUTTONS and {zh("👤 Assign to a worker"), zh("🔔 Remind")} <= set(shown)
    mark = worker.last_id
    await head.tap_in(card, zh("🔔 Remind"))
    assert "张伟" in head.last_callback_answer()["text"]
    asked = await worker.received(zh("🔔 {name} asks the grid to accept case {number} (limit {when}).").split(
        "{name}")[0] + "李红霞", after=mark)
    assert number in asked.text and zh("✅ Accept") in _buttons(asked)

    # The secretary's card (from her alert's Details): she gives the case to 王芳 from the card.
    climbed = await secretary.received("⏫", after=marks[secretary.id])
    card = [m for m in await secretary.tap_in(climbed, zh("📄 Details")) if number in (m.text or "")][-1]
    shown = _buttons(card)
    assert len(shown) <= MAX_BUTTONS and {zh("✋ Take it myself"), zh("👤 Assign to a worker"),
                                          zh("🔔 Remind")} <= set(shown)
    picked = [m for m in await secretary.tap_in(card, zh("👤 Assign to a worker")) if m.message_id != card.message_id]
    await secretary.tap_in(picked[-1], "王芳")
    given = await colleague.received(zh("👤 {name} gave you case {number}. It should be done by {when}.").split(
        "{name}")[0] + "刘秀梅")
    assert number in given.text
    final = await case_by_number(bot, number)
    async with bot.app.sessionmaker() as s:
        owner = await s.get(User, final.owner_id)
    assert final.status == CaseStatus.accepted and owner.telegram_id == WORKER2 and final.escalation_next_at is None
