"""A worker's numbers for a period: the one computation behind the worker's
"month in numbers", what grid heads and staff see, and the weekly summary.

Counting rules (the reports use the same function):

* entries count by their current kind and their day (local date of when they
  were logged); deleted entries do not count; a note counts as a note until it
  is tagged;
* visits by category; households visited: distinct ledger households;
* opinions by category; problems, and how many of them became cases;
* patrols started in the period, and their length (ended patrols only);
* cases closed: cases owned by the worker whose closing event (resolved and
  confirmed by the resident, or closed automatically) falls in the period.

Restricted to grids (``grid_ids``) a figure counts only what was logged,
walked or closed in those grids.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import ColumnElement, case, func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql import Select

from bot.config import Settings
from bot.services.access import overseen_grid_ids, require_field_worker
from bot.services.cases import CLOSING
from bot.services.dates import day_bounds
from bot.services.diary.common import field_workers_of
from bot.services.errors import NotAllowed, NotFound
from models import (
    CareTag,
    Case,
    CaseEvent,
    DiaryEntry,
    EntryKind,
    Grid,
    Household,
    OpinionCategory,
    Patrol,
    User,
    i18n_name,
)


@dataclass
class DiaryFigures:
    worker_id: int | None  # None: the total of several workers
    name: str = ""
    days_logged: int = 0
    patrols: int = 0
    patrol_minutes: int = 0
    visits: int = 0
    visits_by_category: dict[str, int] = field(default_factory=dict)
    households_visited: int = 0
    opinions: int = 0
    opinions_by_category: dict[str, int] = field(default_factory=dict)
    problems: int = 0
    cases_opened: int = 0
    notes: int = 0  # untagged
    cases_closed: int = 0

    @property
    def entries(self) -> int:
        return self.visits + self.opinions + self.problems + self.notes


def month_range(year: int, month: int) -> tuple[date, date]:
    if not (1 <= month <= 12 and 2000 <= year <= 2100):
        raise ValueError("bad month")
    start = date(year, month, 1)
    end = date(year + 1, 1, 1) if month == 12 else date(year, month + 1, 1)
    return start, end



def live_entries(start: date, end: date, grid_ids: Iterable[int] | Select[Any] | None = None
                 ) -> list[ColumnElement[bool]]:
    """The entries that count over the local days [start, end): not deleted (and in those grids)."""
    live = [DiaryEntry.day >= start, DiaryEntry.day < end, DiaryEntry.deleted_at.is_(None)]
    if grid_ids is not None:
        live.append(DiaryEntry.grid_id.in_(grid_ids))
    return live


def _count_entries(fig: DiaryFigures, kind: str, category: str | None, n: int, with_case: int) -> None:
    """Add ``n`` entries of one (kind, category) to ``fig``: the counting rule of every diary figure."""
    kind = EntryKind(kind)
    if kind == EntryKind.visit:
        fig.visits += n
        key = category or CareTag.other.value
        fig.visits_by_category[key] = fig.visits_by_category.get(key, 0) + n
    elif kind == EntryKind.opinion:
        fig.opinions += n
        key = category or OpinionCategory.other.value
        fig.opinions_by_category[key] = fig.opinions_by_category.get(key, 0) + n
    elif kind == EntryKind.problem:
        fig.problems += n
        fig.cases_opened += with_case
    else:
        fig.notes += n


async def period_figures(session: AsyncSession, tz: ZoneInfo, start: date, end: date, *,
                  worker_ids: Iterable[int], grid_ids: Iterable[int] | None = None) -> dict[int, DiaryFigures]:
    """Figures of each worker over the local days [start, end)."""
    ids = sorted(set(worker_ids))
    out = {uid: DiaryFigures(uid) for uid in ids}
    if not ids:
        return out
    grids = None if grid_ids is None else sorted(set(grid_ids))
    names = dict((await session.execute(select(User.id, User.first_name).where(User.id.in_(ids)))).all())
    for uid, fig in out.items():
        fig.name = names.get(uid, "")

    live = [DiaryEntry.worker_id.in_(ids), *live_entries(start, end, grids)]
    rows = (await session.execute(
        select(DiaryEntry.worker_id, DiaryEntry.kind, DiaryEntry.category, func.count(),
               func.count(DiaryEntry.case_id))
        .where(*live).group_by(DiaryEntry.worker_id, DiaryEntry.kind, DiaryEntry.category))).all()
    for uid, kind, category, n, with_case in rows:
        _count_entries(out[uid], kind, category, n, with_case)
    for uid, days in (await session.execute(
            select(DiaryEntry.worker_id, func.count(func.distinct(DiaryEntry.day))).where(*live)
            .group_by(DiaryEntry.worker_id))).all():
        out[uid].days_logged = days
    for uid, households in (await session.execute(
            select(DiaryEntry.worker_id, func.count(func.distinct(DiaryEntry.household_id)))
            .where(*live, DiaryEntry.kind == EntryKind.visit, DiaryEntry.household_id.is_not(None))
            .group_by(DiaryEntry.worker_id))).all():
        out[uid].households_visited = households

    since, until = day_bounds(start, end, tz)
    pstmt = select(Patrol.worker_id, Patrol.started_at, Patrol.ended_at).where(
        Patrol.worker_id.in_(ids), Patrol.started_at >= since, Patrol.started_at < until)
    if grids is not None:
        pstmt = pstmt.where(Patrol.grid_id.in_(grids))
    for uid, started, ended in (await session.execute(pstmt)).all():
        out[uid].patrols += 1
        if ended is not None:
            out[uid].patrol_minutes += int((ended - started).total_seconds() // 60)

    cstmt = (select(Case.owner_id, func.count(func.distinct(Case.id)))
             .join(CaseEvent, CaseEvent.case_id == Case.id)
             .where(Case.owner_id.in_(ids), CaseEvent.type.in_(CLOSING), CaseEvent.at >= since,
                    CaseEvent.at < until)
             .group_by(Case.owner_id))
    if grids is not None:
        cstmt = cstmt.where(Case.grid_id.in_(grids))
    for uid, closed in (await session.execute(cstmt)).all():
        out[uid].cases_closed = closed
    return out


def total_figures(figs: Iterable[DiaryFigures]) -> DiaryFigures:
    out = DiaryFigures(None)
    for f in figs:
        for name in ("days_logged", "patrols", "patrol_minutes", "visits", "households_visited", "opinions",
                     "problems", "cases_opened", "notes", "cases_closed"):
            setattr(out, name, getattr(out, name) + getattr(f, name))
        for key, n in f.visits_by_category.items():
            out.visits_by_category[key] = out.visits_by_category.get(key, 0) + n
        for key, n in f.opinions_by_category.items():
            out.opinions_by_category[key] = out.opinions_by_category.get(key, 0) + n
    return out


async def worker_month(session: AsyncSession, settings: Settings, viewer: User, worker_id: int, year: int,
                       month: int) -> DiaryFigures:
    """A worker's month in numbers: their own, or as a grid head / staff sees it (their grids only)."""
    try:
        start, end = month_range(year, month)
    except ValueError:
        raise NotFound("month") from None
    if worker_id == viewer.id:
        require_field_worker(viewer)
        return (await period_figures(session, settings.tz, start, end, worker_ids=[worker_id]))[worker_id]
    grids = await overseen_grid_ids(session, viewer)
    if not grids:
        raise NotAllowed()
    if worker_id not in await field_workers_of(session, grids):
        raise NotFound("worker")
    return (await period_figures(session, settings.tz, start, end, worker_ids=[worker_id], grid_ids=grids))[worker_id]


@dataclass(frozen=True, slots=True)
class GridFigures:
    grid_id: int
    grid: str
    workers: list[DiaryFigures]
    total: DiaryFigures


async def grid_period(session: AsyncSession, settings: Settings, grid_id: int, start: date, end: date,
                      locale: str) -> GridFigures:
    """Every worker of a grid (and whoever logged in it) over [start, end), no permission check:
    for the weekly summary job and :func:`grid_month`."""
    grid = await session.get(Grid, grid_id)
    if grid is None:
        raise NotFound("grid")
    workers = set(await field_workers_of(session, [grid_id]))
    logged = set(await session.scalars(select(DiaryEntry.worker_id).where(
        DiaryEntry.grid_id == grid_id, DiaryEntry.day >= start, DiaryEntry.day < end).distinct()))
    figs = await period_figures(session, settings.tz, start, end, worker_ids=workers | logged, grid_ids=[grid_id])
    ordered = sorted(figs.values(), key=lambda f: (f.name, f.worker_id or 0))
    return GridFigures(grid.id, i18n_name(grid.names, locale, grid.code), ordered, total_figures(ordered))


async def grid_month(session: AsyncSession, settings: Settings, viewer: User, grid_id: int, year: int, month: int,
                     locale: str) -> GridFigures:
    if grid_id not in await overseen_grid_ids(session, viewer):
        raise NotFound("grid")
    try:
        start, end = month_range(year, month)
    except ValueError:
        raise NotFound("month") from None
    return await grid_period(session, settings, grid_id, start, end, locale)


def today_month(now: datetime, tz: ZoneInfo) -> tuple[int, int]:
    local = now.astimezone(tz)
    return local.year, local.month


async def grid_figures(session: AsyncSession, tz: ZoneInfo, start: date, end: date,
                       grid_ids: Iterable[int] | Select[Any]) -> dict[int, DiaryFigures]:
    """The same figures per grid (what was logged and walked in each grid, whoever did it),
    for the staff reports; ``grid_ids`` may be a subquery of grid ids."""
    out: dict[int, DiaryFigures] = {}

    def fig(grid_id: int) -> DiaryFigures:
        return out.setdefault(grid_id, DiaryFigures(None))

    live = live_entries(start, end, grid_ids)
    for grid_id, kind, category, n, with_case in (await session.execute(
            select(DiaryEntry.grid_id, DiaryEntry.kind, DiaryEntry.category, func.count(),
                   func.count(DiaryEntry.case_id))
            .where(*live).group_by(DiaryEntry.grid_id, DiaryEntry.kind, DiaryEntry.category))).all():
        _count_entries(fig(grid_id), kind, category, n, with_case)
    for grid_id, days, households in (await session.execute(
            select(DiaryEntry.grid_id, func.count(func.distinct(DiaryEntry.day)),
                   func.count(func.distinct(case((DiaryEntry.kind == EntryKind.visit, DiaryEntry.household_id)))))
            .where(*live).group_by(DiaryEntry.grid_id))).all():
        fig(grid_id).days_logged = days
        fig(grid_id).households_visited = households
    since, until = day_bounds(start, end, tz)
    for grid_id, patrols in (await session.execute(
            select(Patrol.grid_id, func.count())
            .where(Patrol.grid_id.in_(grid_ids), Patrol.started_at >= since, Patrol.started_at < until)
            .group_by(Patrol.grid_id))).all():
        fig(grid_id).patrols = patrols
    return out


async def overdue_households(session: AsyncSession, today: date,
                             grid_ids: Iterable[int] | Select[Any]) -> dict[int, int]:
    """Households of the ledger overdue for a visit on ``today`` (local date), per grid:
    active, with a due date before today."""
    return {grid_id: n for grid_id, n in (await session.execute(
        select(Household.grid_id, func.count()).where(
            Household.grid_id.in_(grid_ids), Household.active, Household.visit_due_on < today)
        .group_by(Household.grid_id))).all()}
