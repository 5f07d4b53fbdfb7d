"""Recurring jobs: once per due time across processes, restarts, one catch-up,
Asia/Shanghai times, workdays.  Time is injected, never waited for."""

from __future__ import annotations

import asyncio
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select

from bot.config import Settings
from bot.delivery.scheduler import Scheduler, latest_due, next_due, weekdays_only
from bot.jobs import JobContext, RecurringJob
from models import JobRun, JobRunStatus

SH = ZoneInfo("Asia/Shanghai")


def settings(db_url: str) -> Settings:
    return Settings(_env_file=None, DATABASE_URL=db_url)


def at(y: int, mo: int, d: int, h: int, mi: int = 0) -> datetime:
    return datetime(y, mo, d, h, mi, tzinfo=SH).astimezone(UTC)


class Recorder:
    def __init__(self) -> None:
        self.runs: list[datetime] = []

    async def __call__(self, ctx: JobContext) -> None:
        self.runs.append(ctx.due_at)
        await asyncio.sleep(0)  # let a competing scheduler interleave


def test_due_times_in_shanghai_weekdays_and_workdays():
    nudge = RecurringJob("nudge", Recorder(), at=time(18, 0))
    digest = RecurringJob("digest", Recorder(), at=time(8, 0), weekdays=frozenset({0}))
    sweep = RecurringJob("sweep", Recorder(), every=timedelta(minutes=5))
    work = RecurringJob("work", Recorder(), at=time(9, 0), workdays_only=True)
    # 2026-12-02 is a Wednesday; 17:59 in Shanghai is 09:59 UTC.
    now = at(2026, 12, 2, 17, 59)
    assert latest_due(nudge, now, SH) == at(2026, 12, 1, 18)
    assert next_due(nudge, now, SH) == at(2026, 12, 2, 18)
    assert latest_due(digest, now, SH) == at(2026, 11, 30, 8)  # Monday
    assert next_due(digest, now, SH) == at(2026, 12, 7, 8)
    assert latest_due(sweep, now, SH) == at(2026, 12, 2, 17, 55)
    saturday = at(2026, 12, 5, 10)
    assert latest_due(work, saturday, SH) == at(2026, 12, 4, 9)  # Friday
    assert next_due(work, saturday, SH) == at(2026, 12, 7, 9)  # Monday
    holidays = {date(2026, 12, 7)}
    assert next_due(work, saturday, SH, lambda d: weekdays_only(d) and d not in holidays) == at(2026, 12, 8, 9)


async def test_once_per_due_time_across_processes_and_restarts(db_url, sessionmaker):
    rec = Recorder()
    registry = {"nudge": RecurringJob("nudge", rec, at=time(18, 0))}
    clock = {"now": at(2026, 12, 1, 12)}

    def make(owner: str) -> Scheduler:
        return Scheduler(sessionmaker, settings(db_url), registry=registry, owner=owner, clock=lambda: clock["now"])

    a, b = make("a"), make("b")
    # First sight of the job: a baseline, nothing runs.
    assert await a.run_due() == [] and rec.runs == []
    clock["now"] = at(2026, 12, 1, 18, 0)
    results = await asyncio.gather(a.run_due(), b.run_due(), a.run_due(), b.run_due())
    assert sum(len(r) for r in results) == 1 and rec.runs == [at(2026, 12, 1, 18)]
    # A restart (a new scheduler) does not run it again for the same due time.
    clock["now"] = at(2026, 12, 1, 21)
    assert await make("c").run_due() == []
    clock["now"] = at(2026, 12, 2, 18, 0)
    assert [r.status for r in await make("d").run_due()] == [JobRunStatus.done]
    assert rec.runs == [at(2026, 12, 1, 18), at(2026, 12, 2, 18)]


async def test_missed_due_times_are_caught_up_once(db_url, sessionmaker):
    rec = Recorder()
    registry = {"sweep": RecurringJob("sweep", rec, every=timedelta(minutes=5)),
                "nudge": RecurringJob("nudge", rec, at=time(18, 0))}
    clock = {"now": at(2026, 12, 1, 17, 0)}
    s = Scheduler(sessionmaker, settings(db_url), registry=registry, clock=lambda: clock["now"])
    await s.run_due()  # baselines
    # Every process was down for three days.
    clock["now"] = at(2026, 12, 4, 20, 2)
    await s.run_due()
    assert sorted(rec.runs) == sorted([at(2026, 12, 4, 20, 0), at(2026, 12, 4, 18)])
    await s.run_due()
    assert len(rec.runs) == 2


async def test_failed_run_is_recorded_and_a_dead_process_run_is_taken_over(db_url, sessionmaker):
    calls: list[datetime] = []

    async def boom(ctx: JobContext) -> None:
        calls.append(ctx.due_at)
        raise RuntimeError("database exploded")

    registry = {"boom": RecurringJob("boom", boom, every=timedelta(hours=1))}
    clock = {"now": at(2026, 12, 1, 9, 30)}
    s = Scheduler(sessionmaker, settings(db_url), registry=registry, clock=lambda: clock["now"])
    await s.run_due()
    clock["now"] = at(2026, 12, 1, 10, 1)
    [report] = await s.run_due()
    assert report.status == JobRunStatus.failed and "database exploded" in report.error
    async with sessionmaker() as session:
        run = await session.scalar(select(JobRun).where(JobRun.status == JobRunStatus.failed))
        assert run.error == "RuntimeError: database exploded"
        # Pretend the 11:00 run's process died mid-run, with its lease now expired.
        session.add(JobRun(name="boom", due_at=at(2026, 12, 1, 11), status=JobRunStatus.running, owner="dead",
                           lease_expires_at=at(2026, 12, 1, 11, 5), attempts=1, started_at=at(2026, 12, 1, 11)))
        await session.commit()
    clock["now"] = at(2026, 12, 1, 11, 2)
    assert await s.run_due() == []  # lease still valid: someone may be running it
    clock["now"] = at(2026, 12, 1, 11, 6)
    [again] = await s.run_due()
    assert again.due_at == at(2026, 12, 1, 11) and calls[-1] == at(2026, 12, 1, 11)
    async with sessionmaker() as session:
        run = await session.scalar(select(JobRun).where(JobRun.due_at == at(2026, 12, 1, 11)))
        assert run.attempts == 2 and run.status == JobRunStatus.failed and run.owner != "dead"


async def test_workdays_only_skips_weekends_and_calendar_holidays(db_url, sessionmaker):
    rec = Recorder()
    registry = {"work": RecurringJob("work", rec, at=time(9, 0), workdays_only=True)}
    holidays = {date(2026, 12, 7)}
    clock = {"now": at(2026, 12, 4, 10)}  # Friday
    s = Scheduler(sessionmaker, settings(db_url), registry=registry, clock=lambda: clock["now"],
                  workday=lambda d: weekdays_only(d) and d not in holidays)
    await s.run_due()
    for day in (5, 6, 7):  # Saturday, Sunday, the holiday Monday
        clock["now"] = at(2026, 12, day, 9, 30)
        assert await s.run_due() == []
    clock["now"] = at(2026, 12, 8, 9, 0)
    assert len(await s.run_due()) == 1 and rec.runs == [at(2026, 12, 8, 9)]


def test_every_feature_job_is_registered():
    import sys
    from pathlib import Path

    import bot.services
    from bot.jobs import load_jobs

    assert "broadcast_ack_followups" in load_jobs()
    # Every bot/services/*_jobs.py module is imported, whoever wrote it.
    for path in Path(bot.services.__path__[0]).glob("*_jobs.py"):
        assert f"bot.services.{path.stem}" in sys.modules
