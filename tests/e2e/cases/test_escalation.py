"""Escalations end to end: time limits with an injected clock, a department
round trip, an emergency alerted up the chain until someone acknowledges,
and the staff's template replies."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from models import (
    Case,
    CaseEvent,
    CaseEventType,
    CaseStatus,
    CloseReason,
    OutboxKind,
    OutboxMessage,
)
from tests.e2e.cases.helpers import (
    ADMIN,
    HEAD,
    NUMBER_RE,
    OFFICER_CG,
    RESIDENT,
    SECRETARY,
    WORKER,
    WORKER2,
    accept,
    case_by_number,
    file_report,
    file_text,
    people,
    person,
    run_job,
    tap_card,
    zh,
)


async def test_overdue_escalates_to_grid_head_then_secretary(bot):
    resident, head, worker, secretary = people(bot, RESIDENT, HEAD, WORKER, SECRETARY)
    number = await file_report(resident, "设施维修", "3单元楼道灯不亮")
    case = await case_by_number(bot, number)
    await worker.received(number)
    mark_head, mark_resident = head.last_id, resident.last_id

    # Nobody accepts: one minute past the acceptance limit the grid head is alerted, once.
    late = case.accept_due_at + timedelta(minutes=1)
    await run_job(bot, "cases.time_limits", late)
    await run_job(bot, "cases.time_limits", late + timedelta(minutes=1))
    alert = await head.received(number, after=mark_head)
    assert "⏰" in alert.text
    told = await resident.received("⏰", after=mark_resident)
    assert number in told.text

    # The grid head takes it from the alert itself; past the handling limit the secretary hears of it.
    await head.tap_in(alert, zh("✋ Take it myself"))
    await run_job(bot, "cases.time_limits", case.resolve_due_at + timedelta(minutes=1))
    overdue = await secretary.received(number)
    assert "⏰" in overdue.text and "李红霞" in overdue.text  # staff see who handles it
    await resident.received("⏰", after=told.message_id)
    await head.received("⏰", after=alert.message_id)

    # The secretary opens it and leaves an instruction; the owner gets it, the resident never does.
    await secretary.tap_in(overdue, zh("📄 Details"))
    card = secretary.last
    assert number in card.text
    mark_resident = resident.last_id
    await tap_card(secretary, card, zh("📝 Internal note"))
    await secretary.send("请今天之内处理完")
    await head.received("请今天之内处理完")
    async with bot.app.sessionmaker() as s:
        types = list(await s.scalars(select(CaseEvent.type).where(CaseEvent.case_id == case.id)
                                     .order_by(CaseEvent.id)))
        to_resident = list(await s.scalars(select(OutboxMessage.payload).where(
            OutboxMessage.chat_id == RESIDENT)))
    assert types.count(CaseEventType.accept_overdue) == 1 and types.count(CaseEventType.handling_overdue) == 1
    assert CaseEventType.note in types
    assert not any("请今天之内处理完" in p["text"] for p in to_resident)
    assert resident.last_id == mark_resident


async def test_department_round_trip(bot):
    resident, worker, officer = people(bot, RESIDENT, WORKER, OFFICER_CG)
    number = await file_report(resident, "违章搭建", "楼下有人私搭棚子")
    card = await accept(worker, number)
    await tap_card(worker, card, zh("🏛️ Call in a department"))
    await worker.tap("城市管理")
    await worker.send("需要城管执法拆除")
    call = await officer.received(number)
    assert "需要城管执法拆除" in call.text and "13904353001" not in call.text
    told = await resident.received("城市管理")
    assert "赵海涛" not in told.text

    await officer.tap_in(call, zh("👌 Acknowledge"))
    ack = await worker.received("城市管理", after=card.message_id)
    assert number in ack.text and "赵海涛" not in ack.text
    # The prompt asks for the report with a ❌ Cancel button, not a command to type (issue 20).
    asked = await officer.tap(zh("📝 Report back"))
    assert "/cancel" not in asked[-1].text and [t for row in asked[-1].inline_buttons for t, _d in row] == [
        zh("❌ Cancel")]
    out = await officer.tap_in(asked[-1], zh("❌ Cancel"))
    assert out[0].text == zh("Cancelled.")
    await officer.tap(zh("📝 Report back"))  # again, and this time he writes it
    await officer.send("已责令当事人三日内拆除")
    report = await worker.received("已责令当事人三日内拆除")
    assert number in report.text
    back = await resident.received(number, after=told.message_id)
    assert "赵海涛" not in back.text

    # Back with the worker, who finishes; the resident's card names the department only.
    case = await case_by_number(bot, number)
    await worker.press(report.message_id, f"cs:res:{case.id}:0")
    await worker.send("违建已拆除")
    await worker.send(zh("Skip"))
    ask = await resident.received("违建已拆除")
    await resident.tap_in(ask, zh("✅ Solved"))
    listing = await resident.send("/mycases")
    await resident.tap_in(listing[-1], number)
    assert "城市管理" in resident.last.text and "赵海涛" not in resident.last.text
    async with bot.app.sessionmaker() as s:
        types = list(await s.scalars(select(CaseEvent.type).where(CaseEvent.case_id == case.id)
                                     .order_by(CaseEvent.id)))
    assert [t for t in types if t.value.startswith("dept_")] == [
        CaseEventType.dept_called, CaseEventType.dept_acknowledged, CaseEventType.dept_reported]
    assert (await case_by_number(bot, number)).close_reason == CloseReason.confirmed


async def test_emergency_alerts_up_the_chain_until_acknowledged(bot):
    resident = person(bot, RESIDENT)
    team = {p.id: p for p in people(bot, WORKER, WORKER2, HEAD, SECRETARY)}
    admin = person(bot, ADMIN)
    await resident.send("/start")
    await resident.send("家里闻到很大的煤气味")
    numbers = await resident.send(zh("🆘 Emergency"))
    # The public numbers come first, before anything is sent.
    assert "110" in numbers[-1].text and "119" in numbers[-1].text and "120" in numbers[-1].text
    async with bot.app.sessionmaker() as s:
        assert await s.scalar(select(Case).where(Case.status != CaseStatus.draft)) is None
    sent = await resident.tap(zh("🆘 Yes, alert them now"))
    number = NUMBER_RE.search(sent[-1].text).group(0)
    for p in team.values():
        first = await p.received(number)
        assert "🆘" in first.text
    case = await case_by_number(bot, number)

    # Nobody answers: 5 minutes later everyone again, and the district administrator joins.
    await run_job(bot, "cases.emergency_repeat", case.emergency_at + timedelta(minutes=4))
    await run_job(bot, "cases.emergency_repeat", case.emergency_at + timedelta(minutes=5))
    again = await team[WORKER2].received(number, after=first.message_id)
    assert again.text.startswith(zh("🆘 EMERGENCY, STILL NOT ACKNOWLEDGED (alert {level}) · case {number}").format(
        level=2, number=number))
    await admin.received(number)

    # 王芳 takes charge: the alerts stop, the resident is told, the others hear who took it.
    await team[WORKER2].tap_in(again, zh("🆘 I'm on it"))
    await resident.received("🆘", after=sent[-1].message_id)
    await team[HEAD].received("王芳")
    await run_job(bot, "cases.emergency_repeat", case.emergency_at + timedelta(minutes=10))
    await run_job(bot, "cases.emergency_repeat", case.emergency_at + timedelta(minutes=15))
    async with bot.app.sessionmaker() as s:
        levels = [e.data["level"] for e in await s.scalars(select(CaseEvent).where(
            CaseEvent.case_id == case.id, CaseEvent.type == CaseEventType.emergency_alerted))]
        fresh = await s.get(Case, case.id)
        emergencies = list(await s.scalars(select(OutboxMessage).where(OutboxMessage.kind == OutboxKind.emergency)))
    assert levels == [0, 1]
    assert fresh.emergency_ack_at is not None and fresh.status == CaseStatus.accepted
    assert all(m.urgent for m in emergencies)


async def test_staff_templates_used_by_a_worker(bot):
    secretary, resident, worker = people(bot, SECRETARY, RESIDENT, WORKER)
    await secretary.send("/start")
    await secretary.send(zh("💬 Reply templates"))
    await secretary.tap(zh("➕ New template"))
    await secretary.send("已上门")
    await secretary.send("您好，网格员已到达您的楼下，请开门。")
    assert zh("💬 Template saved.") in secretary.last.text
    number = await file_text(resident, "请帮我看看暖气不热")
    card = await accept(worker, number)
    await worker.tap_in(card, zh("💬 Send a template reply"))
    await worker.tap("已上门")
    got = await resident.received("网格员已到达您的楼下")
    assert number in got.text
    # A worker cannot edit templates (the menu does not offer it, and a forged press is refused).
    await worker.press(card.message_id, "cr:del:1")
    assert worker.last_callback_answer().get("show_alert")
    await worker.press(card.message_id, "cr:edit:1")
    assert worker.last_callback_answer().get("show_alert")
    # Staff pressing a template that is gone are told so (the refusal path answers, nothing crashes).
    menu = await secretary.send(zh("💬 Reply templates"))
    await secretary.press(menu[-1].message_id, "cr:edit:999")
    answer = secretary.last_callback_answer()
    assert answer.get("show_alert") and answer.get("text") == zh("That template is no longer available.")
