"""The diary's recurring jobs, called directly with an injected clock; the
outbox rows are what the delivery engine would send."""

from __future__ import annotations

from datetime import date

from sqlalchemy import select

from bot.jobs import REGISTRY, JobContext
from bot.services.diary import entries as diary
from bot.services.diary import jobs as diary_jobs
from models import (
    AccessAction,
    AccessLog,
    EntryKind,
    Holiday,
    HolidayKind,
    OutboxKind,
    Patrol,
    PatrolEnd,
)
from tests.factories import outbox
from tests.unit.diary.world import SETTINGS, local, make_world


def ctx(sessionmaker, now, settings=SETTINGS) -> JobContext:  # type: ignore[no-untyped-def]
    return JobContext(sessionmaker=sessionmaker, settings=settings, due_at=now, now=now)


async def _world(sessionmaker):  # type: ignore[no-untyped-def]
    async with sessionmaker() as s:
        w = await make_world(s)
        await s.commit()
    return w


def test_jobs_are_registered():
    assert {"diary.nudge", "diary.due_list", "diary.weekly_summary", "diary.close_stale_patrols"} <= set(REGISTRY)
    weekly = REGISTRY["diary.weekly_summary"]
    assert (weekly.at.hour, weekly.at.minute, weekly.weekdays) == (8, 0, frozenset({0}))


async def test_nudge_on_workdays_without_entries(sessionmaker):
    w = await _world(sessionmaker)
    async with sessionmaker() as s:
        await diary.create_entry(s, SETTINGS, w.worker, EntryKind.opinion, local(1, 10), text="logged today")
        s.add_all([Holiday(day=date(2026, 12, 2), kind=HolidayKind.holiday, name="test holiday"),
                   Holiday(day=date(2026, 12, 6), kind=HolidayKind.workday, name="make-up day")])
        await s.commit()

    await REGISTRY["diary.nudge"].func(ctx(sessionmaker, local(1, 17, 55)))  # too early
    async with sessionmaker() as s:
        assert await outbox(s) == []
    await REGISTRY["diary.nudge"].func(ctx(sessionmaker, local(1, 18, 0)))
    await REGISTRY["diary.nudge"].func(ctx(sessionmaker, local(1, 18, 5)))  # the next run adds nobody twice
    async with sessionmaker() as s:
        rows = await outbox(s)
        # Grid workers with nothing logged today; not the one who logged, not grid heads or others.
        assert sorted(r.user_id for r in rows) == sorted([w.worker2.id, w.other_worker.id])
        assert all(r.kind == OutboxKind.nudge for r in rows)
        english = next(r for r in rows if r.user_id == w.worker2.id)
        assert "Nothing in your patrol diary today" in english.payload["text"]
        chinese = next(r for r in rows if r.user_id == w.other_worker.id)
        assert "民情日志" in chinese.payload["text"]
        assert chinese.payload["buttons"][0][0]["callback_data"] == "dy:panel:0:0:"

    for quiet in (local(2, 18), local(5, 18), local(1, 21, 5)):  # a holiday, a Saturday, after the window
        assert await diary_jobs.send_nudges(sessionmaker, SETTINGS, quiet) == 0
    # A make-up working Sunday nudges; a different configured time moves the nudge.
    assert await diary_jobs.send_nudges(sessionmaker, SETTINGS, local(6, 18)) == 3
    later = SETTINGS.model_copy(update={"diary_nudge_at": "19:30"})
    assert await diary_jobs.send_nudges(sessionmaker, later, local(7, 18)) == 0
    assert await diary_jobs.send_nudges(sessionmaker, later, local(7, 19, 30)) == 3


async def test_morning_list_of_households_due(sessionmaker):
    w = await _world(sessionmaker)
    await REGISTRY["diary.due_list"].func(ctx(sessionmaker, local(1, 7, 30)))
    async with sessionmaker() as s:
        rows = {r.user_id: r for r in await outbox(s)}
        assert set(rows) == {w.worker.id, w.worker2.id, w.other_worker.id}
        text = rows[w.worker.id].payload["text"]
        assert "需要走访的住户（2）" in text and "王奶奶" in text and "李叔" in text and "赵大爷" not in text
        assert "👵" in text and "今天到期" in text
        assert "Households due for a visit (2)" in rows[w.worker2.id].payload["text"]
        assert "赵大爷" in rows[w.other_worker.id].payload["text"]
        assert rows[w.worker.id].payload["buttons"][0][0]["callback_data"] == "dy:due:0:0:"
        # The care tags went out in the lists: the access log says who saw them, and where.
        seen = {(r.actor_id, r.object_type) for r in await s.scalars(
            select(AccessLog).where(AccessLog.action == AccessAction.tags_viewed))}
        assert (w.worker.id, "due_list") in seen
        # A visit takes the household off the next lists; the other one is overdue by then.
        await diary.create_entry(s, SETTINGS, w.worker, EntryKind.visit, local(1, 10), household_id=w.alone.id)
        await s.commit()
    assert await diary_jobs.send_due_lists(sessionmaker, SETTINGS, local(1, 7, 35)) == 0  # once a day
    assert await diary_jobs.send_due_lists(sessionmaker, SETTINGS, local(3, 7, 30)) == 3
    async with sessionmaker() as s:
        text = (await outbox(s, w.worker))[-1].payload["text"]
    assert "李叔" in text and "逾期 2 天" in text and "王奶奶" not in text
    assert await diary_jobs.send_due_lists(sessionmaker, SETTINGS, local(5, 7, 30)) == 0  # Saturday
    assert await diary_jobs.send_due_lists(sessionmaker, SETTINGS, local(4, 6, 0)) == 0  # before 07:30


async def test_weekly_summary_to_the_grid_head(sessionmaker):
    w = await _world(sessionmaker)
    async with sessionmaker() as s:
        await diary.start_patrol(s, SETTINGS, w.worker, local(1, 9))
        await diary.create_entry(s, SETTINGS, w.worker, EntryKind.visit, local(1, 9, 10), household_id=w.alone.id)
        await diary.create_entry(s, SETTINGS, w.worker, EntryKind.opinion, local(1, 9, 20), category="safety")
        await diary.create_entry(s, SETTINGS, w.worker, EntryKind.problem, local(1, 9, 30), text="井盖")
        await diary.add_note(s, SETTINGS, w.worker, local(1, 9, 40), text="?")
        await diary.end_patrol(s, SETTINGS, w.worker, local(1, 10, 30), "zh-Hans")
        # Not in the week (this Monday itself).
        await diary.create_entry(s, SETTINGS, w.worker, EntryKind.visit, local(7, 7, 0), household_id=w.alone.id)
        await s.commit()
    await REGISTRY["diary.weekly_summary"].func(ctx(sessionmaker, local(7, 8, 0)))
    await REGISTRY["diary.weekly_summary"].func(ctx(sessionmaker, local(7, 8, 0)))  # run twice: sent once
    async with sessionmaker() as s:
        rows = await outbox(s)
        assert [(r.user_id, r.kind) for r in rows] == [(w.head.id, OutboxKind.digest)]
        text = rows[0].payload["text"]
    assert "11-30 – 12-06" in text and "1区" not in text
    assert "<b>user9101</b>：1 次巡查（1 小时 30 分钟） · 1 次走访 · 1 条民意 · 1 个问题（0 个转为诉求）" in text
    assert "<b>user9102</b>：未记录" in text
    assert "走访：独居老人 1" in text
    assert rows[0].payload["buttons"][0][0]["callback_data"] == f"dy:grid:{w.place.grids[0].id}:0:"


async def test_a_patrol_left_open_is_ended_and_its_worker_told(sessionmaker):
    w = await _world(sessionmaker)
    async with sessionmaker() as s:
        patrol, _ = await diary.start_patrol(s, SETTINGS, w.worker, local(1, 7))
        await diary.add_note(s, SETTINGS, w.worker, local(1, 8), text="last")
        await s.commit()
    assert await diary_jobs.close_stale_patrols(sessionmaker, SETTINGS, local(1, 18)) == 0
    await REGISTRY["diary.close_stale_patrols"].func(ctx(sessionmaker, local(1, 19, 10)))
    async with sessionmaker() as s:
        row = await s.get(Patrol, patrol.id)
        assert row.end_reason == PatrolEnd.auto and row.ended_at == local(1, 8)
        told = await outbox(s, w.worker)
        assert len(told) == 1 and "12-01 07:00" in told[0].payload["text"]
