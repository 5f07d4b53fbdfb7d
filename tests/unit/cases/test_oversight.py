"""Escalations with handles (issue 20): the reminder before the acceptance limit,
the climb up the chain while nobody acts (each level once), and assign / remind /
take with their permission checks, driven by an injected clock."""

from __future__ import annotations

from datetime import timedelta

import pytest

from bot.jobs import REGISTRY, JobContext
from bot.services import cases
from bot.services.errors import Conflict, NotAllowed, NotFound
from models import Case, CaseEventType, CaseStatus
from tests.factories import outbox
from tests.unit.cases.world import SETTINGS, T0, buttons, events, make_world, sent_case


def ctx(sessionmaker, now):  # type: ignore[no-untyped-def]
    return JobContext(sessionmaker=sessionmaker, settings=SETTINGS, due_at=now, now=now)


async def run(sessionmaker, name: str, now) -> None:  # type: ignore[no-untyped-def]
    await REGISTRY[name].func(ctx(sessionmaker, now))


async def _types(s, case_id: int) -> list[CaseEventType]:  # type: ignore[no-untyped-def]
    return [e.type for e in await events(s, case_id)]


def _texts(rows, needle: str) -> list[str]:  # type: ignore[no-untyped-def]
    return [r.payload["text"] for r in rows if needle in r.payload["text"]]


async def _unaccepted_past_its_limit(sessionmaker):  # type: ignore[no-untyped-def]
    """A case sent Tuesday 09:00 (T0), to be accepted by 11:00, that nobody accepted, and the
    time-limit job run at 11:01; the world and the case."""
    async with sessionmaker() as s:
        w = await make_world(s)
        case = await sent_case(s, w)
        await s.commit()
    await run(sessionmaker, "cases.time_limits", T0 + timedelta(hours=2, minutes=1))
    return w, case


async def test_workers_are_reminded_once_before_the_acceptance_limit(sessionmaker):
    async with sessionmaker() as s:
        w = await make_world(s)
        case = await sent_case(s, w)  # Tuesday 09:00, to be accepted by 11:00 (2 working hours)
        await s.commit()
    await run(sessionmaker, "cases.accept_reminders", T0 + timedelta(minutes=30))  # 10:30 is not yet an hour before
    async with sessionmaker() as s:
        assert CaseEventType.accept_reminder not in await _types(s, case.id)
    for minutes in (61, 62, 90):  # from 10:01 on: once, however often the job runs
        await run(sessionmaker, "cases.accept_reminders", T0 + timedelta(minutes=minutes))
    async with sessionmaker() as s:
        w = await w.reload(s)
        assert (await _types(s, case.id)).count(CaseEventType.accept_reminder) == 1
        for worker in (w.worker, w.worker2, w.head):
            rows = [r for r in await outbox(s, worker) if "⏳" in r.payload["text"]]
            assert len(rows) == 1 and f"cs:acc:{case.id}:0" in buttons(rows[0])
            assert case.number in rows[0].payload["text"]
        assert not _texts(await outbox(s, w.resident), "⏳")  # the resident is not told of the team's reminder

        # A case sent within the last hour before its limit: its new-case notice was the reminder.
        late = await sent_case(s, w, now=T0 + timedelta(hours=2, minutes=30))  # 11:30, limit 14:30 (lunch)
        await s.commit()
    await run(sessionmaker, "cases.accept_reminders", T0 + timedelta(hours=5))  # 14:00
    async with sessionmaker() as s:
        assert CaseEventType.accept_reminder in await _types(s, late.id)  # 14:00 is 30 working minutes before
        fresh = await sent_case(s, w, now=T0 + timedelta(hours=7, minutes=50))  # 16:50 Tue, limit Wed 09:50
        fresh.accept_due_at = T0 + timedelta(hours=8, minutes=20)  # a limit 30 minutes after it was sent
        await s.commit()
    await run(sessionmaker, "cases.accept_reminders", T0 + timedelta(hours=8))
    async with sessionmaker() as s:
        case = await s.get(Case, fresh.id)
        assert case.accept_reminded_at is not None  # marked, but nobody was reminded
        assert CaseEventType.accept_reminder not in await _types(s, fresh.id)


async def test_an_unaccepted_case_climbs_one_level_a_step_and_stops_at_the_top(sessionmaker):
    # 11:01: the grid head (level 1); the next level 4 working hours later: 16:31 (lunch 12:00-13:30).
    w, case = await _unaccepted_past_its_limit(sessionmaker)
    async with sessionmaker() as s:
        c = await s.get(Case, case.id)
        assert c.escalation_level == 1 and c.escalation_next_at == T0 + timedelta(hours=7, minutes=31)
    await run(sessionmaker, "cases.escalation_climb", T0 + timedelta(hours=7, minutes=30))  # 16:30: not yet
    async with sessionmaker() as s:
        w = await w.reload(s)
        assert not _texts(await outbox(s, w.staff), "⏫")
    for minutes in (31, 32):  # 16:31 and a minute later: the secretary, once
        await run(sessionmaker, "cases.escalation_climb", T0 + timedelta(hours=7, minutes=minutes))
    async with sessionmaker() as s:
        w = await w.reload(s)
        rows = [r for r in await outbox(s, w.staff) if "⏫" in r.payload["text"]]
        assert len(rows) == 1 and buttons(rows[0]) == [
            f"cs:take:{case.id}:0", f"cs:asg:{case.id}:0", f"cs:rmd:{case.id}:0", f"cs:view:{case.id}:0"]
        assert not _texts(await outbox(s, w.other_staff), "⏫") and not _texts(await outbox(s, w.admin), "⏫")
        c = await s.get(Case, case.id)
        # 16:31 + 4 working hours: 17:30 is 59 minutes, then Wednesday 08:30 + 181 minutes = 11:31.
        assert c.escalation_level == 2 and c.escalation_next_at == T0 + timedelta(days=1, hours=2, minutes=31)
    await run(sessionmaker, "cases.escalation_climb", T0 + timedelta(days=1, hours=2, minutes=31))  # the district
    for days in (2, 7):  # days later, nobody acted: nothing more (the top was told)
        await run(sessionmaker, "cases.escalation_climb", T0 + timedelta(days=days))
        await run(sessionmaker, "cases.time_limits", T0 + timedelta(days=days))
    async with sessionmaker() as s:
        w = await w.reload(s)
        assert len(_texts(await outbox(s, w.admin), "⏫")) == 1
        assert len(_texts(await outbox(s, w.staff), "⏫")) == 1
        assert (await _types(s, case.id)).count(CaseEventType.escalated) == 2
        assert (await _types(s, case.id)).count(CaseEventType.accept_overdue) == 1
        c = await s.get(Case, case.id)
        assert (c.escalation_level, c.escalation_next_at) == (3, None)


async def test_a_reminder_puts_the_climb_off_once_per_level(sessionmaker):
    """Reminding is acting, once: a grid head pressing 🔔 every hour, while nobody takes the
    case, does not keep it from the secretary."""
    w, case = await _unaccepted_past_its_limit(sessionmaker)  # level 1 told at 11:01, the next at 16:31
    async with sessionmaker() as s:
        w = await w.reload(s)
        await cases.remind(s, SETTINGS, w.head, case.id, T0 + timedelta(hours=3))  # 12:00
        await s.commit()
        put_off = (await s.get(Case, case.id)).escalation_next_at
        assert put_off > T0 + timedelta(hours=7, minutes=31)
    for hours in (4, 5, 6):  # 13:00, 14:00, 15:00: reminded again, the climb stays where it was
        async with sessionmaker() as s:
            w = await w.reload(s)
            await cases.remind(s, SETTINGS, w.head, case.id, T0 + timedelta(hours=hours))
            await s.commit()
            assert (await s.get(Case, case.id)).escalation_next_at == put_off
    await run(sessionmaker, "cases.escalation_climb", put_off)
    async with sessionmaker() as s:
        w = await w.reload(s)
        assert len(_texts(await outbox(s, w.staff), "⏫")) == 1
        c = await s.get(Case, case.id)
        assert c.escalation_level == 2
        level_two = c.escalation_next_at
        # At the new level a reminder puts the next climb off again, once.
        await cases.remind(s, SETTINGS, w.staff, case.id, level_two - timedelta(hours=1))
        await s.commit()
        assert (await s.get(Case, case.id)).escalation_next_at > level_two


async def test_acting_stops_the_climb_and_handling_overdue_climbs_too(sessionmaker):
    w, case = await _unaccepted_past_its_limit(sessionmaker)
    async with sessionmaker() as s:
        w = await w.reload(s)
        await cases.assign(s, SETTINGS, w.head, case.id, w.worker2.id, T0 + timedelta(hours=3))
        await s.commit()
    await run(sessionmaker, "cases.escalation_climb", T0 + timedelta(days=1))
    async with sessionmaker() as s:
        w = await w.reload(s)
        assert not _texts(await outbox(s, w.staff), "⏫")
        c = await s.get(Case, case.id)
        assert (c.status, c.owner_id, c.escalation_level, c.escalation_next_at) == (
            CaseStatus.accepted, w.worker2.id, 0, None)
    # Past the handling limit (Wednesday 09:30): the secretary (level 1), then the district a step later (15:31).
    await run(sessionmaker, "cases.time_limits", T0 + timedelta(days=1, hours=1, minutes=1))
    await run(sessionmaker, "cases.escalation_climb", T0 + timedelta(days=1, hours=7))
    async with sessionmaker() as s:
        w = await w.reload(s)
        assert _texts(await outbox(s, w.staff), "⏰") and len(_texts(await outbox(s, w.admin), "⏫")) == 1
        assert not _texts(await outbox(s, w.head), "⏫")  # the handling chain starts with the secretary


async def test_handles_check_who_presses(sessionmaker):
    async with sessionmaker() as s:
        w = await make_world(s)
        case = await sent_case(s, w)
        # Neither a worker, nor staff of another community, nor the resident, nor an officer.
        with pytest.raises(NotAllowed):
            await cases.assign(s, SETTINGS, w.worker, case.id, w.worker2.id, T0)
        for outsider in (w.other_staff, w.resident, w.officer, w.other_worker):
            with pytest.raises((NotFound, NotAllowed)):
                await cases.assign(s, SETTINGS, outsider, case.id, w.worker2.id, T0)
            with pytest.raises((NotFound, NotAllowed)):
                await cases.remind(s, SETTINGS, outsider, case.id, T0)
            with pytest.raises((NotFound, NotAllowed)):
                await cases.take(s, SETTINGS, outsider, case.id, T0)
        # Only to a worker of the case's grid (a forged worker id is refused).
        for stranger in (w.other_worker.id, w.resident.id, 2**62):
            with pytest.raises((NotFound, NotAllowed)):
                await cases.assign(s, SETTINGS, w.staff, case.id, stranger, T0)
        _case, options = await cases.assignees(s, w.staff, case.id)
        assert {o.id for o in options} == {w.worker.id, w.worker2.id, w.head.id}
        assert {"take", "asg", "rmd"} <= set((await cases.view(s, w.staff, case.id, "en", T0)).actions)
        assert "asg" not in (await cases.view(s, w.worker, case.id, "en", T0)).actions

        # Remind, unaccepted: the grid's workers; then not again within the hour.
        told = await cases.remind(s, SETTINGS, w.staff, case.id, T0)
        assert {u.id for u in told} == {w.worker.id, w.worker2.id, w.head.id}
        with pytest.raises(Conflict, match="recently_reminded"):
            await cases.remind(s, SETTINGS, w.head, case.id, T0 + timedelta(minutes=30))

        # The secretary takes it herself and works it as its owner; the resident hears it was accepted.
        await cases.take(s, SETTINGS, w.staff, case.id, T0 + timedelta(minutes=5))
        assert (case.status, case.owner_id) == (CaseStatus.accepted, w.staff.id)
        assert "res" in (await cases.view(s, w.staff, case.id, "en", T0)).actions
        assert _texts(await outbox(s, w.resident), "👷")
        # Given to a worker, the secretary is told it left her; the worker gets it with its deadline.
        await cases.assign(s, SETTINGS, w.head, case.id, w.worker.id, T0 + timedelta(minutes=10))
        assert case.owner_id == w.worker.id
        assert _texts(await outbox(s, w.worker), case.number) and _texts(await outbox(s, w.staff), "👤")
        with pytest.raises(Conflict, match="already_theirs"):
            await cases.assign(s, SETTINGS, w.head, case.id, w.worker.id, T0 + timedelta(minutes=11))
        # Remind, accepted: its owner only.
        told = await cases.remind(s, SETTINGS, w.head, case.id, T0 + timedelta(hours=2))
        assert [u.id for u in told] == [w.worker.id]
        await cases.resolve(s, SETTINGS, w.worker, case.id, "修好了", None, T0 + timedelta(hours=3))
        with pytest.raises(Conflict):  # resolved: nothing to assign any more
            await cases.assign(s, SETTINGS, w.head, case.id, w.worker2.id, T0 + timedelta(hours=4))
