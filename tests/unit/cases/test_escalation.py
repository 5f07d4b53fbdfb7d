"""Time limits, departments and emergencies, driven by an injected clock and
the recurring jobs called directly."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select

from bot.jobs import REGISTRY, JobContext
from bot.services import cases
from bot.services.cases.figures import figures
from bot.services.errors import Conflict, InvalidInput, NotFound
from bot.services.l10n import translator
from models import Case, CaseEventType, CaseKind, CaseStatus, OutboxKind, OutboxMessage
from tests.factories import outbox
from tests.unit.cases.world import SETTINGS, T0, buttons, events, make_world, sent_case


def ctx(sessionmaker, now):  # type: ignore[no-untyped-def]
    return JobContext(sessionmaker=sessionmaker, settings=SETTINGS, due_at=now, now=now)


def test_jobs_are_registered() -> None:
    assert {"cases.time_limits", "cases.emergency_repeat", "cases.auto_close"} <= set(REGISTRY)
    assert REGISTRY["cases.emergency_repeat"].every == timedelta(minutes=1)


async def test_limits_escalate_to_grid_head_then_secretary_once(sessionmaker):
    async with sessionmaker() as s:
        w = await make_world(s)
        case = await sent_case(s, w)  # report item: 2 h to accept, 8 h to resolve; sent Tuesday 09:00
        await s.commit()
    job = REGISTRY["cases.time_limits"].func
    await job(ctx(sessionmaker, T0 + timedelta(hours=1)))  # within the limit: nothing
    async with sessionmaker() as s:
        assert await events(s, case.id, CaseEventType.accept_overdue) == []
    late = T0 + timedelta(hours=2, minutes=1)  # 11:01, the limit was 11:00
    await job(ctx(sessionmaker, late))
    await job(ctx(sessionmaker, late + timedelta(minutes=1)))  # a second run alerts nobody again
    async with sessionmaker() as s:
        w = await w.reload(s)
        assert len(await events(s, case.id, CaseEventType.accept_overdue)) == 1
        head_rows = [r for r in await outbox(s, w.head) if "⏰" in r.payload["text"]]
        assert len(head_rows) == 1 and buttons(head_rows[0]) == [  # the handles (issue 20)
                f"cs:take:{case.id}:0", f"cs:asg:{case.id}:0", f"cs:rmd:{case.id}:0", f"cs:view:{case.id}:0"]
        assert head_rows[0].kind == OutboxKind.reminder
        assert any("⏰" in r.payload["text"] for r in await outbox(s, w.resident))
        assert not any("⏰" in r.payload["text"] for r in await outbox(s, w.worker))
        await cases.accept(s, SETTINGS, w.worker, case.id, late)
        await s.commit()
    # 8 working hours from Tuesday 09:00: Wednesday 10:00.  Tuesday evening: not yet.
    await job(ctx(sessionmaker, T0 + timedelta(hours=10)))
    async with sessionmaker() as s:
        assert await events(s, case.id, CaseEventType.handling_overdue) == []
    await job(ctx(sessionmaker, T0 + timedelta(days=1, hours=1, minutes=1)))
    await job(ctx(sessionmaker, T0 + timedelta(days=1, hours=2)))
    async with sessionmaker() as s:
        w = await w.reload(s)
        overdue = await events(s, case.id, CaseEventType.handling_overdue)
        assert len(overdue) == 1 and overdue[0].public
        staff_rows = [r for r in await outbox(s, w.staff) if "⏰" in r.payload["text"]]
        assert len(staff_rows) == 1 and buttons(staff_rows[0]) == [
            f"cs:take:{case.id}:0", f"cs:asg:{case.id}:0", f"cs:rmd:{case.id}:0", f"cs:view:{case.id}:0"]
        assert not [r for r in await outbox(s, w.other_staff)]
        assert sum("⏰" in r.payload["text"] for r in await outbox(s, w.resident)) == 2
        assert sum("⏰" in r.payload["text"] for r in await outbox(s, w.worker)) == 1
        # The resident sees both escalations on the timeline.
        v = await cases.view(s, w.resident, case.id, "en", T0, timeline_limit=50)
        assert {CaseEventType.accept_overdue, CaseEventType.handling_overdue} <= {e.type for e in v.timeline}


async def test_department_round_trip_and_late_acknowledgement(sessionmaker):
    async with sessionmaker() as s:
        w = await make_world(s)
        case = await sent_case(s, w)
        with pytest.raises(NotFound):  # not escalated to the officer's department yet
            await cases.view(s, w.officer, case.id, "en", T0)
        await cases.accept(s, SETTINGS, w.worker, case.id, T0)
        with pytest.raises(InvalidInput):
            await cases.call_department(s, SETTINGS, w.worker, case.id, w.place.department.id, " ", T0)
        with pytest.raises(NotFound):
            await cases.call_department(s, SETTINGS, w.worker, case.id, 424242, "help", T0)
        escalation = await cases.call_department(s, SETTINGS, w.worker, case.id, w.place.department.id,
                                                 "违章搭建需要城管处理", T0 + timedelta(minutes=10))
        with pytest.raises(Conflict, match="already_escalated"):
            await cases.call_department(s, SETTINGS, w.worker, case.id, w.place.department.id, "again", T0)
        assert case.status == CaseStatus.in_progress
        officer_row = (await outbox(s, w.officer))[-1]
        assert buttons(officer_row) == [f"ce:ack:{escalation.id}", f"cs:view:{case.id}:0"]
        assert w.resident.phone not in officer_row.payload["text"]
        told = (await outbox(s, w.resident))[-1].payload["text"]
        assert "城管" in told and w.officer.first_name not in told
        # The officer now sees the case (not the resident's phone), and only through this department.
        v = await cases.view(s, w.officer, case.id, "zh-Hans", T0)
        assert v.resident_phone is None and f"eack:{escalation.id}" in v.actions
        items, _total = await cases.inbox(s, w.officer, "en", T0)
        assert [b.id for b in items] == [case.id]
        await s.commit()
    # 4 working hours to acknowledge, from 09:10: 14:40.  Late: the worker and the staff hear of it.
    job = REGISTRY["cases.time_limits"].func
    await job(ctx(sessionmaker, T0 + timedelta(hours=5, minutes=41)))
    await job(ctx(sessionmaker, T0 + timedelta(hours=5, minutes=50)))
    async with sessionmaker() as s:
        w = await w.reload(s)
        assert len(await events(s, case.id, CaseEventType.dept_ack_overdue)) == 1
        assert sum("⏰" in r.payload["text"] for r in await outbox(s, w.officer)) == 1
        assert sum("⏰" in r.payload["text"] for r in await outbox(s, w.staff)) == 1
        assert sum("⏰" in r.payload["text"] for r in await outbox(s, w.worker)) == 1
        await cases.acknowledge_escalation(s, SETTINGS, w.officer, escalation.id, T0 + timedelta(hours=6))
        with pytest.raises(Conflict):
            await cases.acknowledge_escalation(s, SETTINGS, w.officer, escalation.id, T0 + timedelta(hours=6))
        await cases.report_back(s, SETTINGS, w.officer, escalation.id, "已拆除", T0 + timedelta(hours=7))
        with pytest.raises(Conflict, match="already_reported"):
            await cases.report_back(s, SETTINGS, w.officer, escalation.id, "again", T0 + timedelta(hours=7))
        assert "已拆除" in (await outbox(s, w.worker))[-1].payload["text"]
        # Back with the worker, who finishes.
        await cases.resolve(s, SETTINGS, w.worker, case.id, "城管已处理", None, T0 + timedelta(hours=8))
        types = [e.type for e in (await cases.view(s, w.worker, case.id, "en", T0, timeline_limit=50)).timeline]
        assert types[-4:] == [CaseEventType.dept_ack_overdue, CaseEventType.dept_acknowledged,
                              CaseEventType.dept_reported, CaseEventType.resolved]
        # The resident's timeline names the department's steps, never the officer, and not the internal alert.
        resident_view = await cases.view(s, w.resident, case.id, "en", T0, timeline_limit=50)
        assert CaseEventType.dept_ack_overdue not in {e.type for e in resident_view.timeline}
        assert all(e.actor_name is None for e in resident_view.timeline)
        assert resident_view.escalations[0].department == "Urban management"


async def test_emergency_chain_repeats_until_acknowledged(sessionmaker):
    async with sessionmaker() as s:
        w = await make_world(s)
        case = await sent_case(s, w, text="闻到煤气味", emergency=True)
        await s.commit()
        rows = await outbox(s)
        alerted = {r.user_id for r in rows if r.kind == OutboxKind.emergency}
        assert alerted == {w.worker.id, w.worker2.id, w.head.id, w.staff.id}
        assert all(r.urgent for r in rows if r.kind == OutboxKind.emergency)
        assert buttons(rows[0]) == [f"cs:eack:{case.id}:0", f"cs:view:{case.id}:0"]
    job = REGISTRY["cases.emergency_repeat"].func
    await job(ctx(sessionmaker, T0 + timedelta(minutes=4)))  # not yet
    await job(ctx(sessionmaker, T0 + timedelta(minutes=5)))  # level 1: the district admin joins
    await job(ctx(sessionmaker, T0 + timedelta(minutes=5, seconds=30)))  # same level: nothing new
    await job(ctx(sessionmaker, T0 + timedelta(minutes=10)))  # level 2
    async with sessionmaker() as s:
        w = await w.reload(s)
        levels = [e.data["level"] for e in await events(s, case.id, CaseEventType.emergency_alerted)]
        assert levels == [0, 1, 2]
        assert sum(r.kind == OutboxKind.emergency for r in await outbox(s, w.admin)) == 2
        assert sum(r.kind == OutboxKind.emergency for r in await outbox(s, w.worker)) == 3
        with pytest.raises(NotFound):
            await cases.acknowledge_emergency(s, SETTINGS, w.stranger, case.id, T0)
        await cases.acknowledge_emergency(s, SETTINGS, w.worker2, case.id, T0 + timedelta(minutes=12))
        with pytest.raises(Conflict):
            await cases.acknowledge_emergency(s, SETTINGS, w.head, case.id, T0 + timedelta(minutes=12))
        fresh = await s.get(Case, case.id)
        assert fresh.owner_id == w.worker2.id and fresh.status == CaseStatus.accepted  # acknowledging took it
        zh = translator("zh-Hans")
        resident_texts = [r.payload["text"] for r in await outbox(s, w.resident)]
        help_line = zh("🆘 Help is on the way: the {who} has taken charge of case {number}.").format(
            who=zh("grid worker"), number=case.number)
        assert resident_texts.count(help_line) == 1
        # Her worker's given name only in the notice that the case was accepted (issue 20).
        assert all(t.startswith("👷") for t in resident_texts if w.worker2.first_name in t)
        taken = zh("✅ Emergency {number} acknowledged by {name}.").format(number=case.number,
                                                                        name=w.worker2.first_name)
        assert sum(t == taken for t in [r.payload["text"] for r in await outbox(s, w.head)]) == 1
        assert taken not in [r.payload["text"] for r in await outbox(s, w.worker2)]
        await s.commit()
    await job(ctx(sessionmaker, T0 + timedelta(minutes=30)))
    async with sessionmaker() as s:
        assert len(await events(s, case.id, CaseEventType.emergency_alerted)) == 3
        f = await figures(s, since=T0 - timedelta(hours=1), until=T0 + timedelta(hours=1))
        assert f.emergencies == 1 and f.emergency_ack_seconds_median == 12 * 60


async def test_worker_flags_an_emergency_on_an_open_case(sessionmaker):
    async with sessionmaker() as s:
        w = await make_world(s)
        case = await sent_case(s, w, kind=CaseKind.request, text="老人摔倒了")
        await cases.accept(s, SETTINGS, w.worker, case.id, T0)
        with pytest.raises(NotFound):
            await cases.flag_emergency(s, SETTINGS, w.other_worker, case.id, T0)
        await cases.flag_emergency(s, SETTINGS, w.worker, case.id, T0 + timedelta(minutes=1))
        with pytest.raises(Conflict, match="already_emergency"):
            await cases.flag_emergency(s, SETTINGS, w.resident, case.id, T0 + timedelta(minutes=1))
        told = (await outbox(s, w.resident))[-1]
        assert told.kind == OutboxKind.emergency and "120" in told.payload["text"]
        await cases.acknowledge_emergency(s, SETTINGS, w.staff, case.id, T0 + timedelta(minutes=3))
        fresh = await s.get(Case, case.id)
        assert fresh.owner_id == w.worker.id and fresh.emergency_ack_by_id == w.staff.id
        count = await s.scalar(select(func.count()).select_from(OutboxMessage))
        assert count > 0
