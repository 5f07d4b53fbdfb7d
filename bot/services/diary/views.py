"""Reading the patrol diary: one entry with what the reader may do to it, a
worker's day, a grid's day, a community's day, an entry's history.

A worker reads their own diary; a grid head the entries logged in their grids;
community staff those of their community's grids; nobody else.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import date, datetime

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.config import Settings
from bot.services.access import (
    field_grid_ids,
    head_grid_ids,
    is_field_worker,
    overseen_grid_ids,
    staff_community_ids,
)
from bot.services.dates import day_bounds, local_day
from bot.services.diary.common import field_workers_of, visible_entry
from bot.services.errors import NotAllowed, NotFound
from bot.services.users import Option
from models import (
    Building,
    Case,
    Community,
    DiaryAttachment,
    DiaryEntry,
    DiaryEntryRevision,
    DiaryMediaKind,
    EntryKind,
    Grid,
    Household,
    Patrol,
    RevisionAction,
    User,
    i18n_name,
)


@dataclass(frozen=True, slots=True)
class EntryView:
    id: int
    worker_id: int
    worker_name: str
    kind: EntryKind
    category: str | None
    occurred_at: datetime
    day: date
    building: str | None
    household: str | None
    unit: str | None
    text: str
    resident_name: str | None
    files: dict[DiaryMediaKind, int]
    latitude: float | None
    longitude: float | None
    case_id: int | None
    case_number: str | None
    deleted: bool
    version: int
    corrected_later: bool  # changed after its day
    patrol_id: int | None

    @property
    def photos(self) -> int:
        return self.files.get(DiaryMediaKind.photo, 0) + self.files.get(DiaryMediaKind.video, 0)

    @property
    def voices(self) -> int:
        return sum(self.files.get(k, 0) for k in (DiaryMediaKind.voice, DiaryMediaKind.audio, DiaryMediaKind.video_note))


@dataclass(frozen=True, slots=True)
class Rights:
    edit: bool = False  # the author, within the edit window
    delete: bool = False  # the author, the same day
    late: bool = False  # a change now would be a later correction


@dataclass(frozen=True, slots=True)
class PatrolLine:
    id: int
    started_at: datetime
    ended_at: datetime | None
    auto_ended: bool


@dataclass(frozen=True, slots=True)
class DayView:
    worker_id: int
    worker_name: str
    day: date
    entries: list[EntryView]
    patrols: list[PatrolLine]
    own: bool


@dataclass(frozen=True, slots=True)
class WorkerDayLine:
    worker_id: int
    name: str
    entries: int
    counts: dict[EntryKind, int]
    patrols: int


@dataclass(frozen=True, slots=True)
class GridDayView:
    grid_id: int
    grid: str
    day: date
    workers: list[WorkerDayLine]


@dataclass(frozen=True, slots=True)
class GridDayLine:
    grid_id: int
    grid: str
    entries: int
    workers_logged: int
    workers: int


@dataclass(frozen=True, slots=True)
class CommunityDayView:
    community_id: int
    community: str
    day: date
    grids: list[GridDayLine]


@dataclass(frozen=True, slots=True)
class RevisionView:
    version: int
    action: RevisionAction
    at: datetime
    by: str
    late: bool
    snapshot: dict = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Scopes:
    """What a person may open in the diary besides their own."""

    own: bool  # they log a diary themselves
    grids: list[Option]  # as grid head
    communities: list[Option]  # as community staff
    ledgers: list[int] = field(default_factory=list)  # the grids whose household ledger they keep visiting


async def scopes(session: AsyncSession, viewer: User, locale: str) -> Scopes:
    head = head_grid_ids(viewer)
    staff = staff_community_ids(viewer)
    grids = list(await session.scalars(select(Grid).where(Grid.id.in_(head)).order_by(Grid.code))) if head else []
    communities = list(await session.scalars(select(Community).where(Community.id.in_(staff))
                                             .order_by(Community.code))) if staff else []
    return Scopes(
        own=is_field_worker(viewer),
        grids=[Option(g.id, g.code, i18n_name(g.names, locale, g.code)) for g in grids],
        communities=[Option(c.id, c.code, i18n_name(c.names, locale, c.code)) for c in communities],
        ledgers=sorted(field_grid_ids(viewer)),
    )


async def _views(session: AsyncSession, entries: list[DiaryEntry], locale: str) -> list[EntryView]:
    if not entries:
        return []
    ids = [e.id for e in entries]
    files: dict[int, Counter[DiaryMediaKind]] = {}
    for entry_id, kind, n in (await session.execute(
            select(DiaryAttachment.entry_id, DiaryAttachment.kind, func.count())
            .where(DiaryAttachment.entry_id.in_(ids)).group_by(DiaryAttachment.entry_id, DiaryAttachment.kind))).all():
        files.setdefault(entry_id, Counter())[DiaryMediaKind(kind)] += n
    late = set(await session.scalars(select(DiaryEntryRevision.entry_id).where(
        DiaryEntryRevision.entry_id.in_(ids), DiaryEntryRevision.late.is_(True))))
    building_ids = {e.building_id for e in entries if e.building_id}
    household_ids = {e.household_id for e in entries if e.household_id}
    case_ids = {e.case_id for e in entries if e.case_id}
    worker_ids = {e.worker_id for e in entries}
    buildings = {b.id: i18n_name(b.names, locale, b.code) for b in await session.scalars(
        select(Building).where(Building.id.in_(building_ids)))} if building_ids else {}
    households = {h.id: h.label for h in await session.scalars(
        select(Household).where(Household.id.in_(household_ids)))} if household_ids else {}
    cases = dict((await session.execute(select(Case.id, Case.number).where(Case.id.in_(case_ids)))).all()) \
        if case_ids else {}
    names = dict((await session.execute(select(User.id, User.first_name).where(User.id.in_(worker_ids)))).all())
    return [
        EntryView(
            id=e.id, worker_id=e.worker_id, worker_name=names.get(e.worker_id, ""), kind=EntryKind(e.kind),
            category=e.category, occurred_at=e.occurred_at, day=e.day,
            building=buildings.get(e.building_id) if e.building_id else None,
            household=households.get(e.household_id) if e.household_id else None, unit=e.unit, text=e.text,
            resident_name=e.resident_name, files=dict(files.get(e.id, {})), latitude=e.latitude,
            longitude=e.longitude, case_id=e.case_id, case_number=cases.get(e.case_id) if e.case_id else None,
            deleted=e.deleted_at is not None, version=e.version, corrected_later=e.id in late, patrol_id=e.patrol_id,
        )
        for e in entries
    ]


def rights(settings: Settings, viewer: User, entry: DiaryEntry | EntryView, now: datetime) -> Rights:
    deleted = entry.deleted if isinstance(entry, EntryView) else entry.deleted_at is not None
    if entry.worker_id != viewer.id or deleted:
        return Rights()
    age = (local_day(now, settings.tz) - entry.day).days
    if age > settings.diary_late_edit_days:
        return Rights()
    return Rights(edit=True, delete=age == 0, late=age > 0)


async def entry(session: AsyncSession, settings: Settings, viewer: User, entry_id: int, locale: str,
                now: datetime) -> tuple[EntryView, Rights]:
    row = await visible_entry(session, viewer, entry_id)
    view = (await _views(session, [row], locale))[0]
    return view, rights(settings, viewer, view, now)


async def attachments(session: AsyncSession, viewer: User, entry_id: int) -> list[DiaryAttachment]:
    await visible_entry(session, viewer, entry_id)
    return list(await session.scalars(select(DiaryAttachment).where(DiaryAttachment.entry_id == entry_id)
                                      .order_by(DiaryAttachment.id)))


async def history(session: AsyncSession, viewer: User, entry_id: int) -> list[RevisionView]:
    await visible_entry(session, viewer, entry_id)
    revisions = list(await session.scalars(select(DiaryEntryRevision).where(DiaryEntryRevision.entry_id == entry_id)
                                           .order_by(DiaryEntryRevision.version)))
    by_ids = {r.by_id for r in revisions if r.by_id}
    names = dict((await session.execute(select(User.id, User.first_name).where(User.id.in_(by_ids)))).all()) \
        if by_ids else {}
    return [RevisionView(r.version, RevisionAction(r.action), r.at, names.get(r.by_id, ""), r.late, r.snapshot or {})
            for r in revisions]


async def _visible_grids_of_worker(session: AsyncSession, viewer: User, worker_id: int) -> set[int] | None:
    """None: the viewer reads everything of ``worker_id`` (their own diary);
    otherwise the grids whose entries they may read.  Refuses a worker outside their scope."""
    if worker_id == viewer.id:
        return None
    overseen = await overseen_grid_ids(session, viewer)
    if not overseen:
        raise NotAllowed()
    workers = await field_workers_of(session, overseen)
    if worker_id not in workers:
        # Someone who worked in these grids before may still have entries here.
        logged = await session.scalar(select(DiaryEntry.id).where(DiaryEntry.worker_id == worker_id,
                                                                  DiaryEntry.grid_id.in_(overseen)).limit(1))
        if logged is None:
            raise NotFound("worker")
    return overseen


async def day(session: AsyncSession, settings: Settings, viewer: User, worker_id: int, day_: date,
              locale: str) -> DayView:
    """A worker's diary of one day, as ``viewer`` may read it."""
    grids = await _visible_grids_of_worker(session, viewer, worker_id)
    stmt = select(DiaryEntry).where(DiaryEntry.worker_id == worker_id, DiaryEntry.day == day_)
    if grids is not None:
        stmt = stmt.where(DiaryEntry.grid_id.in_(grids))
    if worker_id != viewer.id:
        stmt = stmt.where(DiaryEntry.deleted_at.is_(None))
    entries = list(await session.scalars(stmt.order_by(DiaryEntry.occurred_at, DiaryEntry.id)))
    start, end = day_bounds(day_, day_.fromordinal(day_.toordinal() + 1), settings.tz)
    pstmt = select(Patrol).where(Patrol.worker_id == worker_id, Patrol.started_at >= start, Patrol.started_at < end)
    if grids is not None:
        pstmt = pstmt.where(Patrol.grid_id.in_(grids))
    patrols = [PatrolLine(p.id, p.started_at, p.ended_at, p.end_reason == "auto")
               for p in await session.scalars(pstmt.order_by(Patrol.started_at))]
    worker = await session.get(User, worker_id)
    return DayView(worker_id, worker.first_name if worker else "", day_, await _views(session, entries, locale),
                   patrols, worker_id == viewer.id)


async def _grid(session: AsyncSession, viewer: User, grid_id: int) -> Grid:
    grid = await session.get(Grid, grid_id)
    if grid is None or grid_id not in await overseen_grid_ids(session, viewer):
        raise NotFound("grid")
    return grid


async def grid_day(session: AsyncSession, settings: Settings, viewer: User, grid_id: int, day_: date,
                   locale: str) -> GridDayView:
    """Who of a grid logged what on ``day_`` (grid heads of it, staff of its community)."""
    grid = await _grid(session, viewer, grid_id)
    workers = (await field_workers_of(session, [grid_id]))
    rows = (await session.execute(
        select(DiaryEntry.worker_id, DiaryEntry.kind, func.count()).where(
            DiaryEntry.grid_id == grid_id, DiaryEntry.day == day_, DiaryEntry.deleted_at.is_(None))
        .group_by(DiaryEntry.worker_id, DiaryEntry.kind))).all()
    counts: dict[int, dict[EntryKind, int]] = {}
    for worker_id, kind, n in rows:
        counts.setdefault(worker_id, {})[EntryKind(kind)] = n
    start, end = day_bounds(day_, day_.fromordinal(day_.toordinal() + 1), settings.tz)
    patrols = dict((await session.execute(
        select(Patrol.worker_id, func.count()).where(Patrol.grid_id == grid_id, Patrol.started_at >= start,
                                                     Patrol.started_at < end).group_by(Patrol.worker_id))).all())
    ids = set(workers) | set(counts)
    names = dict((await session.execute(select(User.id, User.first_name).where(User.id.in_(ids)))).all()) if ids else {}
    lines = [WorkerDayLine(uid, names.get(uid, ""), sum(counts.get(uid, {}).values()), counts.get(uid, {}),
                           int(patrols.get(uid, 0))) for uid in ids]
    lines.sort(key=lambda w: (-w.entries, w.name, w.worker_id))
    return GridDayView(grid.id, i18n_name(grid.names, locale, grid.code), day_, lines)


async def community_day(session: AsyncSession, viewer: User, community_id: int, day_: date,
                        locale: str) -> CommunityDayView:
    """Each grid of a community on ``day_`` (community staff only)."""
    if community_id not in staff_community_ids(viewer):
        raise NotFound("community")
    community = await session.get(Community, community_id)
    if community is None:
        raise NotFound("community")
    grids = list(await session.scalars(select(Grid).where(Grid.community_id == community_id, Grid.active)
                                       .order_by(Grid.code)))
    ids = [g.id for g in grids]
    entries = dict((await session.execute(
        select(DiaryEntry.grid_id, func.count()).where(DiaryEntry.grid_id.in_(ids), DiaryEntry.day == day_,
                                                       DiaryEntry.deleted_at.is_(None))
        .group_by(DiaryEntry.grid_id))).all()) if ids else {}
    logged = dict((await session.execute(
        select(DiaryEntry.grid_id, func.count(func.distinct(DiaryEntry.worker_id))).where(
            DiaryEntry.grid_id.in_(ids), DiaryEntry.day == day_, DiaryEntry.deleted_at.is_(None))
        .group_by(DiaryEntry.grid_id))).all()) if ids else {}
    workers = await field_workers_of(session, ids)
    per_grid = Counter(g for grid_set in workers.values() for g in grid_set)
    return CommunityDayView(community.id, i18n_name(community.names, locale, community.code), day_, [
        GridDayLine(g.id, i18n_name(g.names, locale, g.code), int(entries.get(g.id, 0)), int(logged.get(g.id, 0)),
                    per_grid.get(g.id, 0))
        for g in grids
    ])
