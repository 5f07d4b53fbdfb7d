"""Runs the recurring jobs of :mod:`bot.jobs` once per due time, across all processes.

Each process looks at every registered job now and then (at the next due
time, and at least once a minute).  For the latest due time that has passed it
inserts a ``job_runs`` row ``(name, due_at)``; that pair is unique, so only
one process wins and runs the job.  Consequences:

* A restart loses nothing: the rows say what ran.
* Due times missed while every process was down are caught up **once** (the
  latest one), not once per missed time.
* A job seen for the first time records its latest due time as a ``skipped``
  baseline and runs from the next one (a new deployment does not fire every
  daily job at start).
* A run whose process died keeps its row ``running`` until its lease expires;
  then another process runs it again (at most ``MAX_ATTEMPTS`` times).

Times of day are in ``DISPLAY_TZ`` (Asia/Shanghai).  ``workdays_only`` skips
weekends and the work calendar's holidays (see :func:`load_workday`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import func, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.config import Settings
from bot.delivery.engine import _subscribe_clock, default_owner
from bot.jobs import REGISTRY, JobContext, RecurringJob
from bot.metrics import Metrics
from bot.services.workcalendar import calendar_for
from models import JobRun, JobRunStatus, utcnow

log = logging.getLogger(__name__)

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
LEASE = timedelta(minutes=10)
MAX_ATTEMPTS = 3
MAX_SLEEP = 60.0


def weekdays_only(d: date) -> bool:
    return d.weekday() < 5


# The name of the work-calendar hook; tests and deployments may rely on it.
is_workday = weekdays_only


async def load_workday(session: AsyncSession, settings: Settings, now: datetime) -> Callable[[date], bool]:
    """The predicate ``workdays_only`` jobs use.

    The work calendar (:func:`bot.services.workcalendar.calendar_for`) decides:
    public holidays, make-up working weekends, ``WORK_DAYS``; if it cannot be
    read, Monday to Friday are workdays.
    """
    try:
        calendar = await calendar_for(session, settings, now=now)
    except Exception:
        log.exception("scheduler: the work calendar could not be read; using Monday to Friday")
        await session.rollback()
        return weekdays_only
    return calendar.is_workday


def _qualifies(job: RecurringJob, d: date, workday: Callable[[date], bool]) -> bool:
    if job.weekdays is not None and d.weekday() not in job.weekdays:
        return False
    return not (job.workdays_only and not workday(d))


def latest_due(job: RecurringJob, now: datetime, tz: ZoneInfo,
               workday: Callable[[date], bool] = weekdays_only) -> datetime | None:
    """The latest due time of ``job`` at or before ``now`` (aware UTC)."""
    if job.every is not None:
        steps = (now - EPOCH) // job.every
        return EPOCH + steps * job.every
    assert job.at is not None
    local = now.astimezone(tz)
    for back in range(0, 400):
        d = local.date() - timedelta(days=back)
        if not _qualifies(job, d, workday):
            continue
        moment = datetime.combine(d, job.at, tzinfo=tz)
        if moment <= local:
            return moment.astimezone(UTC)
    return None


def next_due(job: RecurringJob, now: datetime, tz: ZoneInfo,
             workday: Callable[[date], bool] = weekdays_only) -> datetime | None:
    """The first due time strictly after ``now``."""
    if job.every is not None:
        return EPOCH + ((now - EPOCH) // job.every + 1) * job.every
    assert job.at is not None
    local = now.astimezone(tz)
    for ahead in range(0, 400):
        d = local.date() + timedelta(days=ahead)
        if not _qualifies(job, d, workday):
            continue
        moment = datetime.combine(d, job.at, tzinfo=tz)
        if moment > local:
            return moment.astimezone(UTC)
    return None


@dataclass(frozen=True, slots=True)
class RunReport:
    name: str
    due_at: datetime
    status: JobRunStatus
    error: str | None = None


class Scheduler:
    def __init__(
        self,
        sessionmaker: async_sessionmaker[AsyncSession],
        settings: Settings,
        *,
        registry: dict[str, RecurringJob] | None = None,
        owner: str | None = None,
        clock: Callable[[], datetime] = utcnow,
        workday: Callable[[date], bool] | None = None,
    ) -> None:
        self.sessionmaker = sessionmaker
        self.settings = settings
        self.registry = REGISTRY if registry is None else registry
        self.owner = owner or default_owner()
        self.clock = clock
        self._fixed_workday = workday  # tests inject one; otherwise the work calendar, per check
        self.workday: Callable[[date], bool] = workday or weekdays_only
        bind = sessionmaker.kw.get("bind")
        self._insert = pg_insert if bind is not None and bind.dialect.name == "postgresql" else sqlite_insert
        self._running: set[str] = set()
        self._wake = asyncio.Event()
        self.metrics: Metrics | None = None  # set by DeliveryRuntime: runs and lateness per job

    def wake(self) -> None:
        self._wake.set()

    async def run(self, stop: asyncio.Event) -> None:
        unsubscribe = _subscribe_clock(self.wake)
        tasks: set[asyncio.Task[list[RunReport]]] = set()
        try:
            while not stop.is_set():
                try:
                    task = asyncio.create_task(self.run_due())
                    tasks.add(task)
                    task.add_done_callback(tasks.discard)
                    await asyncio.wait({task}, timeout=1.0)  # quick jobs finish before we compute the sleep
                except Exception:
                    log.exception("scheduler: checking jobs failed")
                self._wake.clear()
                delay = self._sleep_for(self.clock())
                waiters = [asyncio.create_task(stop.wait()), asyncio.create_task(self._wake.wait())]
                await asyncio.wait(waiters, timeout=delay, return_when=asyncio.FIRST_COMPLETED)
                for w in waiters:
                    w.cancel()
        finally:
            unsubscribe()
            if tasks:
                await asyncio.wait(tasks, timeout=30)

    def _sleep_for(self, now: datetime) -> float:
        soonest = MAX_SLEEP
        for job in self.registry.values():
            nd = next_due(job, now, self.settings.tz, self.workday)
            if nd is not None:
                soonest = min(soonest, (nd - now).total_seconds() + 0.01)
        return max(0.05, soonest)

    async def run_due(self, now: datetime | None = None) -> list[RunReport]:
        """Run every job whose latest due time has no run yet; returns what ran."""
        now = now or self.clock()
        if self._fixed_workday is None and any(j.workdays_only for j in self.registry.values()):
            async with self.sessionmaker() as session:
                self.workday = await load_workday(session, self.settings, now)
        reports: list[RunReport] = []
        for job in list(self.registry.values()):
            if job.name in self._running:
                continue
            due = latest_due(job, now, self.settings.tz, self.workday)
            if due is None:
                continue
            took = await self._take(job, due, now)
            if took is None:
                continue
            self._running.add(job.name)
            try:
                report = await self._execute(job, due, now)
            finally:
                self._running.discard(job.name)
            reports.append(report)
            if self.metrics is not None:
                self.metrics.job_ran(job.name, report.status.value, (now - due).total_seconds())
        return reports

    async def _take(self, job: RecurringJob, due: datetime, now: datetime) -> JobRun | None:
        async with self.sessionmaker() as session:
            last = await session.scalar(select(func.max(JobRun.due_at)).where(JobRun.name == job.name))
            if last is None:
                await session.execute(
                    self._insert(JobRun).values(name=job.name, due_at=due, status=JobRunStatus.skipped,
                                                owner=self.owner, attempts=0, started_at=now, finished_at=now)
                    .on_conflict_do_nothing(index_elements=["name", "due_at"])
                )
                await session.commit()
                log.info("scheduler: new job %s, first run after %s", job.name, due)
                return None
            if last >= due:
                return await self._retake_stale(session, job, due, now)
            result = await session.execute(
                self._insert(JobRun).values(name=job.name, due_at=due, status=JobRunStatus.running,
                                            owner=self.owner, lease_expires_at=now + LEASE, attempts=1,
                                            started_at=now)
                .on_conflict_do_nothing(index_elements=["name", "due_at"])
                .returning(JobRun.id)
            )
            run_id = result.scalar()
            await session.commit()
            if run_id is None:
                return None  # another process took it
            if last < due - self._period(job):
                log.warning("scheduler: %s missed due times before %s; running it once now", job.name, due)
            return await session.get(JobRun, run_id)

    def _period(self, job: RecurringJob) -> timedelta:
        return job.every or timedelta(days=1)

    async def _retake_stale(self, session: AsyncSession, job: RecurringJob, due: datetime,
                            now: datetime) -> JobRun | None:
        """A run whose process died: take it over once its lease expired."""
        result = await session.execute(
            update(JobRun)
            .where(JobRun.name == job.name, JobRun.due_at == due, JobRun.status == JobRunStatus.running,
                   JobRun.lease_expires_at < now, JobRun.attempts < MAX_ATTEMPTS)
            .values(owner=self.owner, lease_expires_at=now + LEASE, attempts=JobRun.attempts + 1, started_at=now)
            .returning(JobRun.id)
        )
        run_id = result.scalar()
        if run_id is None:
            await session.execute(
                update(JobRun)
                .where(JobRun.name == job.name, JobRun.due_at == due, JobRun.status == JobRunStatus.running,
                       JobRun.lease_expires_at < now, JobRun.attempts >= MAX_ATTEMPTS)
                .values(status=JobRunStatus.failed, finished_at=now, error="the process running it died, "
                        f"{MAX_ATTEMPTS} times")
            )
            await session.commit()
            return None
        await session.commit()
        log.warning("scheduler: %s for %s was left running by a dead process; running it again", job.name, due)
        return await session.get(JobRun, run_id)

    async def _execute(self, job: RecurringJob, due: datetime, now: datetime) -> RunReport:
        ctx = JobContext(self.sessionmaker, self.settings, due, now)
        renew = asyncio.create_task(self._renew(job.name, due))
        try:
            await job.func(ctx)
        except Exception as exc:
            log.exception("scheduler: job %s for %s failed", job.name, due)
            status, error = JobRunStatus.failed, f"{type(exc).__name__}: {exc}"[:2000]
        else:
            status, error = JobRunStatus.done, None
        finally:
            renew.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await renew
        async with self.sessionmaker() as session:
            await session.execute(
                update(JobRun).where(JobRun.name == job.name, JobRun.due_at == due, JobRun.owner == self.owner)
                .values(status=status, finished_at=self.clock(), error=error, lease_expires_at=None)
            )
            await session.commit()
        return RunReport(job.name, due, status, error)

    async def _renew(self, name: str, due: datetime) -> None:
        while True:
            await asyncio.sleep(LEASE.total_seconds() / 3)
            try:
                async with self.sessionmaker() as session:
                    await session.execute(
                        update(JobRun).where(JobRun.name == name, JobRun.due_at == due, JobRun.owner == self.owner,
                                             JobRun.status == JobRunStatus.running)
                        .values(lease_expires_at=self.clock() + LEASE)
                    )
                    await session.commit()
            except Exception:
                log.exception("scheduler: renewing the lease of %s failed", name)
