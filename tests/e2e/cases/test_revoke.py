"""Roles that end, end to end: the community secretary removes a grid worker in the
bot; the worker's open case goes back to the grid's queue, the other worker is told,
the former worker can no longer see the resident's phone or message her, and the
secretary reads it all in the access log."""

from __future__ import annotations

from sqlalchemy import select

from models import AccessAction, AccessLog, CaseEvent, CaseEventType, CaseStatus, RoleGrant, User
from tests.e2e.cases.helpers import (
    RESIDENT,
    SECRETARY,
    WORKER,
    WORKER2,
    case_by_number,
    file_text,
    people,
    zh,
)

PHONE = "13904353001"  # 王桂芝's, data/demo_district.yaml


async def test_removed_worker_loses_the_case_and_the_phone(bot):
    resident, worker, colleague, secretary = people(bot, RESIDENT, WORKER, WORKER2, SECRETARY)
    number = await file_text(resident, "楼道灯坏了")
    case = await case_by_number(bot, number)
    note = await worker.received(number)
    await worker.tap_in(note, zh("✅ Accept"))
    card = await worker.press(note.message_id, f"cs:view:{case.id}:0")
    assert PHONE in card[-1].text  # the owner sees the phone while they work the grid

    # The secretary removes 张伟 as worker of DC-XS-01: person, role, confirm.
    await secretary.send("/start")
    assert zh("➖ Remove a role") in secretary.reply_keyboard()
    listed = await secretary.send(zh("➖ Remove a role"))
    grants = await secretary.tap_in(listed[-1], "张伟")
    confirm = await secretary.tap_in(grants[-1], zh("grid worker"))
    mark = colleague.last_id
    result = await secretary.tap_in(confirm[-1], zh("➖ Remove"))
    assert "张伟" in result[-1].text and "DC-XS-01" in result[-1].text

    # Back in the queue, with an event; the grid's other worker is told and may accept it.
    fresh = await case_by_number(bot, number)
    assert (fresh.status, fresh.owner_id) == (CaseStatus.new, None)
    back = await colleague.received(number, after=mark)
    async with bot.app.sessionmaker() as s:
        former = await s.scalar(select(User).where(User.telegram_id == WORKER))
        assert await s.scalar(select(RoleGrant).where(RoleGrant.user_id == former.id)) is None
        types = list(await s.scalars(select(CaseEvent.type).where(CaseEvent.case_id == case.id)))
        assert types[-1] == CaseEventType.returned

    # The former worker: no card, no phone, no message to the resident.
    mark = resident.last_id
    for data in (f"cs:view:{case.id}:0", f"cs:chat:{case.id}:0", f"cs:res:{case.id}:0"):
        answer = await worker.press(note.message_id, data)
        assert all(PHONE not in (m.text or "") for m in answer), data
        assert worker.last_callback_answer().get("show_alert"), data
    await worker.send("我是张伟，我还可以帮你")
    assert resident.last_id == mark

    await colleague.tap_in(back, zh("✅ Accept"))
    assert (await case_by_number(bot, number)).status == CaseStatus.accepted

    # The access log: the phone shown to 张伟, the role removed by 刘秀梅.
    listing = await secretary.send(zh("🔍 Access log"))
    text = listing[-1].text
    assert "worker@DC-XS-01 (chat)" in text and "刘秀梅" in text and "王桂芝" in text and "📞" in text
    async with bot.app.sessionmaker() as s:
        rows = list(await s.scalars(select(AccessLog).where(AccessLog.action != AccessAction.role_granted)
                                    .order_by(AccessLog.id)))
        staff_ids = {u.telegram_id: u.id for u in await s.scalars(select(User).where(
            User.telegram_id.in_([WORKER, WORKER2, SECRETARY])))}
    [revoked] = [r for r in rows if r.action == AccessAction.role_revoked]
    assert (revoked.actor_id, revoked.subject_id) == (staff_ids[SECRETARY], staff_ids[WORKER])
    # Every showing of the phone is logged (the card after an accept too); none to 张伟 after the removal.
    shown = [(r.actor_id, r.id < revoked.id) for r in rows if r.action == AccessAction.phone_viewed]
    assert (staff_ids[WORKER], True) in shown and (staff_ids[WORKER2], False) in shown
    assert (staff_ids[WORKER], False) not in shown
