"""Caps against one user flooding the grid (bot/services/cases/limits.py)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select

from bot.services import cases, homes
from bot.services.cases.emergency import _alert
from bot.services.errors import Conflict
from models import Case, CaseEventType, CaseKind, CaseStatus, OutboxKind, OutboxMessage
from tests.unit.cases.world import SETTINGS, T0, events, make_world, sent_case

LIMITS = SETTINGS.model_copy(update={"case_max_open": 3, "case_max_per_day": 4, "emergency_max_per_day": 2,
                                     "emergency_cooldown_minutes": 60, "relay_max_per_hour": 3})


async def _send(s, resident, now=T0, emergency=False):  # type: ignore[no-untyped-def]
    draft = await cases.start_draft(s, resident, kind=CaseKind.request, service_id=None, now=now)
    await cases.add_text(s, resident, draft.id, "楼道灯坏了", "zh-Hans")
    return await cases.submit(s, LIMITS, resident, draft.id, now, emergency=emergency)


async def _count(s, *where) -> int:  # type: ignore[no-untyped-def]
    return int(await s.scalar(select(func.count()).select_from(Case).where(*where)) or 0)


async def test_open_cases_are_capped_and_the_draft_stays(sessionmaker):
    async with sessionmaker() as s:
        w = await make_world(s)
        for i in range(3):
            await _send(s, w.resident, T0 + timedelta(minutes=i))
        with pytest.raises(Conflict, match="too_many_open") as refused:
            await _send(s, w.resident, T0 + timedelta(minutes=5))
        assert refused.value.params == {"limit": 3}
        assert await _count(s, Case.resident_id == w.resident.id, Case.status == CaseStatus.draft) == 1
        # A neighbour is not affected.
        await _send(s, w.neighbour, T0)


async def test_cases_a_day_are_capped_in_local_days(sessionmaker):
    async with sessionmaker() as s:
        w = await make_world(s)
        for i in range(4):
            case = await _send(s, w.resident, T0 + timedelta(minutes=i))
            if i < 3:  # closed ones do not count as open, but still count for the day
                case.status = CaseStatus.closed
        await s.flush()
        with pytest.raises(Conflict, match="too_many_today"):
            await _send(s, w.resident, T0 + timedelta(hours=1))
        # T0 is 09:00 in Shanghai: 15 hours later it is the next local day.
        await _send(s, w.resident, T0 + timedelta(hours=15))


async def test_emergencies_a_day_are_capped_and_a_refused_one_changes_nothing(sessionmaker):
    async with sessionmaker() as s:
        w = await make_world(s)
        first = await _send(s, w.resident, T0, emergency=True)
        second = await _send(s, w.resident, T0 + timedelta(minutes=1), emergency=True)
        assert first.emergency and second.emergency
        alerts = await s.scalar(select(func.count()).select_from(OutboxMessage)
                                .where(OutboxMessage.kind == OutboxKind.emergency))
        with pytest.raises(Conflict, match="too_many_emergencies"):
            await _send(s, w.resident, T0 + timedelta(minutes=2), emergency=True)
        assert await _count(s, Case.resident_id == w.resident.id, Case.status == CaseStatus.draft) == 1
        assert await s.scalar(select(func.count()).select_from(OutboxMessage)
                              .where(OutboxMessage.kind == OutboxKind.emergency)) == alerts
        # Flagging an open case counts the same way.
        await s.rollback()
    async with sessionmaker() as s:
        w = await make_world(s)
        one = await _send(s, w.resident, T0)
        await _send(s, w.resident, T0, emergency=True)
        await cases.flag_emergency(s, LIMITS, w.resident, one.id, T0 + timedelta(minutes=1))
        two = await _send(s, w.neighbour, T0)
        await cases.flag_emergency(s, LIMITS, w.worker, two.id, T0 + timedelta(minutes=1))  # a worker: no daily cap
        with pytest.raises(Conflict, match="too_many_emergencies"):
            await _send(s, w.resident, T0 + timedelta(minutes=2), emergency=True)


async def test_an_emergency_cannot_be_flagged_again_within_the_cooldown(sessionmaker):
    async with sessionmaker() as s:
        w = await make_world(s)
        case = await _send(s, w.resident, T0, emergency=True)
        await cases.acknowledge_emergency(s, LIMITS, w.worker, case.id, T0 + timedelta(minutes=2))
        with pytest.raises(Conflict, match="emergency_cooldown") as refused:
            await cases.flag_emergency(s, LIMITS, w.resident, case.id, T0 + timedelta(minutes=10))
        assert refused.value.params["minutes"] == 50
        assert len(await events(s, case.id, CaseEventType.emergency_flagged)) == 1
        await cases.flag_emergency(s, LIMITS, w.resident, case.id, T0 + timedelta(minutes=60))
        assert len(await events(s, case.id, CaseEventType.emergency_flagged)) == 2


async def test_relay_messages_are_capped_per_case_per_hour(sessionmaker):
    async with sessionmaker() as s:
        w = await make_world(s)
        case = await _send(s, w.resident, T0)
        await cases.accept(s, LIMITS, w.worker, case.id, T0)
        await cases.send_message(s, LIMITS, w.resident, case.id, text="1", now=T0)
        await cases.send_message(s, LIMITS, w.worker, case.id, text="2", now=T0 + timedelta(minutes=1))
        await cases.send_message(s, LIMITS, w.resident, case.id, text="3", now=T0 + timedelta(minutes=2))
        before = await s.scalar(select(func.count()).select_from(OutboxMessage))
        with pytest.raises(Conflict, match="relay_busy"):
            await cases.send_message(s, LIMITS, w.worker, case.id, text="4", now=T0 + timedelta(minutes=3))
        assert await s.scalar(select(func.count()).select_from(OutboxMessage)) == before
        # An hour after the first, one more goes through.
        await cases.send_message(s, LIMITS, w.resident, case.id, text="5", now=T0 + timedelta(minutes=61))


async def test_following_again_alerts_the_team_once(sessionmaker):
    async with sessionmaker() as s:
        w = await make_world(s)
        case = await sent_case(s, w, kind=CaseKind.report)
        await homes.confirm(s, SETTINGS, w.worker, w.neighbour.id, T0)  # a claim is offered nothing to follow
        outbox = select(func.count()).select_from(OutboxMessage)
        told = []
        for minute in (1, 2, 3):
            before = await s.scalar(outbox)
            draft = await cases.start_draft(s, w.neighbour, kind=CaseKind.report, service_id=w.report_item.id,
                                            now=T0 + timedelta(minutes=minute))
            await cases.follow_instead(s, LIMITS, w.neighbour, draft.id, case.id, T0 + timedelta(minutes=minute))
            told.append(await s.scalar(outbox) - before)
        assert told[0] > 0 and told[1:] == [0, 0]  # the team heard it once
        assert len(await events(s, case.id, CaseEventType.follower_joined)) == 3


async def test_an_emergency_alerts_each_person_once_per_level(sessionmaker):
    async with sessionmaker() as s:
        w = await make_world(s)
        case = await _send(s, w.resident, T0, emergency=True)
        alerts = select(func.count()).select_from(OutboxMessage).where(OutboxMessage.kind == OutboxKind.emergency)
        first = await s.scalar(alerts)
        # The same level alerted again (a retried job, a second process): nobody hears it twice.
        await _alert(s, LIMITS, case, 0, T0 + timedelta(seconds=5))
        assert await s.scalar(alerts) == first
        await _alert(s, LIMITS, case, 1, T0 + timedelta(minutes=5))
        assert await s.scalar(alerts) > first
