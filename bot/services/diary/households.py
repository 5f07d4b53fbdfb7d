"""The household ledger (台账): households of a grid, their tags (elderly living
alone, disabled, party member in hardship...) and how often each tag asks for
a visit; who is due or overdue.

Grid heads and community staff set tags and visit intervals (also by
``import-org``); grid workers read the ledger of their grids and their visits
reset the clock (:func:`bot.services.diary.common.refresh_household`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.config import Settings
from bot.services import audit
from bot.services.access import (
    field_grid_ids,
    head_grid_ids,
    overseen_grid_ids,
    require_field_worker,
    staff_community_ids,
)
from bot.services.dates import local_day
from bot.services.diary.common import INTERVALS, MAX_LABEL, MAX_UNIT, refresh_household
from bot.services.diary.entries import open_patrol
from bot.services.errors import InvalidInput, NotAllowed, NotFound
from bot.services.inputs import typed_text
from models import (
    AccessAction,
    Building,
    CareTag,
    DiaryEntry,
    EntryKind,
    Grid,
    Household,
    HouseholdTag,
    ScopeType,
    User,
    i18n_name,
)

DUE_LIST_LIMIT = 30  # households named in one message; the rest are counted


@dataclass(frozen=True, slots=True)
class HouseholdLine:
    id: int
    code: str
    grid_id: int
    building_id: int
    building: str
    unit: str | None
    label: str
    tags: dict[CareTag, int]  # tag -> visit interval in days
    last_visit_at: datetime | None
    due_on: date | None
    overdue_days: int  # > 0 overdue, 0 due today, < 0 not yet due (or no visits asked)

    @property
    def due(self) -> bool:
        return self.due_on is not None and self.overdue_days >= 0


@dataclass(frozen=True, slots=True)
class VisitLine:
    entry_id: int
    worker: str
    occurred_at: datetime
    category: str | None


@dataclass(frozen=True, slots=True)
class HouseholdCard:
    household: HouseholdLine
    visits: list[VisitLine]  # the latest first
    can_manage: bool  # grid head of its grid, or staff of its community
    can_visit: bool = False  # a worker (or grid head) of its grid
    consented: bool = True  # the household's consent to its sensitive tags is recorded


@dataclass(frozen=True, slots=True)
class BuildingLine:
    id: int
    name: str
    households: int
    due: int
    grid_id: int = 0
    units: int = 1
    can_manage: bool = False  # may add households and set tags


async def _may_read_grid(session: AsyncSession, viewer: User, grid_id: int) -> bool:
    return grid_id in field_grid_ids(viewer) or grid_id in await overseen_grid_ids(session, viewer)


async def _may_manage(session: AsyncSession, viewer: User, grid_id: int) -> bool:
    if grid_id in head_grid_ids(viewer):
        return True
    communities = staff_community_ids(viewer)
    if not communities:
        return False
    community_id = await session.scalar(select(Grid.community_id).where(Grid.id == grid_id))
    return community_id in communities


async def _lines(session: AsyncSession, households: list[Household], today: date, locale: str) -> list[HouseholdLine]:
    if not households:
        return []
    ids = [h.id for h in households]
    tags: dict[int, dict[CareTag, int]] = {}
    for hid, tag, days in (await session.execute(
            select(HouseholdTag.household_id, HouseholdTag.tag, HouseholdTag.interval_days)
            .where(HouseholdTag.household_id.in_(ids)))).all():
        tags.setdefault(hid, {})[CareTag(tag)] = days
    building_ids = {h.building_id for h in households}
    names = {b.id: i18n_name(b.names, locale, b.code)
             for b in await session.scalars(select(Building).where(Building.id.in_(building_ids)))}
    out = []
    for h in households:
        ordered = {t: tags[h.id][t] for t in CareTag if t in tags.get(h.id, {})}
        overdue = (today - h.visit_due_on).days if h.visit_due_on is not None else -1
        out.append(HouseholdLine(h.id, h.code, h.grid_id, h.building_id, names.get(h.building_id, ""), h.unit, h.label,
                                 ordered, h.last_visit_at, h.visit_due_on, overdue))
    return out


async def due_households(session: AsyncSession, settings: Settings, worker: User, today: date,
                         locale: str) -> list[HouseholdLine]:
    """Households of the worker's grids due (or overdue) for a visit by ``today``, most overdue first."""
    lines = await due_in_grids(session, require_field_worker(worker), today, locale)
    await log_due_list(session, worker, lines)
    return lines


async def log_due_list(session: AsyncSession, viewer: User, lines: list[HouseholdLine]) -> None:
    """A due-visit list that shows care tags is logged once per grid it covers."""
    for grid_id in sorted({line.grid_id for line in lines if line.tags}):
        await log_tags_shown(session, viewer, grid_id, "due_list", grid_id)


async def due_in_grids(session: AsyncSession, grid_ids: set[int], today: date, locale: str) -> list[HouseholdLine]:
    rows = list(await session.scalars(
        select(Household).where(Household.grid_id.in_(grid_ids), Household.active,
                                Household.visit_due_on.is_not(None), Household.visit_due_on <= today)
        .order_by(Household.visit_due_on, Household.building_id, Household.unit, Household.id)))
    return await _lines(session, rows, today, locale)


async def building_households(session: AsyncSession, viewer: User, building_id: int, today: date,
                              locale: str) -> list[HouseholdLine]:
    """The active households of a building on the ledger, by unit."""
    building = await session.get(Building, building_id)
    if building is None or not await _may_read_grid(session, viewer, building.grid_id):
        raise NotFound("building")
    rows = list(await session.scalars(select(Household).where(Household.building_id == building_id, Household.active)
                                      .order_by(Household.unit.is_(None), Household.unit, Household.label, Household.id)))
    lines = await _lines(session, rows, today, locale)
    if any(line.tags for line in lines):
        await log_tags_shown(session, viewer, building.grid_id, "building", building_id)
    return lines


async def log_tags_shown(session: AsyncSession, viewer: User, grid_id: int, object_type: str, object_id: int) -> None:
    """Care tags (elderly living alone, disabled, hardship) were shown: the access log says who saw them."""
    await audit.record(session, AccessAction.tags_viewed, actor_id=viewer.id, subject_id=None,
                       place=await audit.place_of(session, ScopeType.grid, grid_id), object_type=object_type,
                       object_id=object_id)


async def grid_buildings(session: AsyncSession, viewer: User, grid_id: int, today: date, locale: str,
                         *, first: int | None = None) -> list[BuildingLine]:
    """The active buildings of a grid with their ledger counts; ``first`` (the
    building of the last visit) leads the list."""
    if not await _may_read_grid(session, viewer, grid_id):
        raise NotFound("grid")
    buildings = list(await session.scalars(select(Building).where(Building.grid_id == grid_id, Building.active)
                                           .order_by(Building.code)))
    counts = dict((await session.execute(
        select(Household.building_id, func.count()).where(Household.grid_id == grid_id, Household.active)
        .group_by(Household.building_id))).all())
    due = dict((await session.execute(
        select(Household.building_id, func.count()).where(
            Household.grid_id == grid_id, Household.active, Household.visit_due_on.is_not(None),
            Household.visit_due_on <= today).group_by(Household.building_id))).all())
    manage = await _may_manage(session, viewer, grid_id)
    lines = [BuildingLine(b.id, i18n_name(b.names, locale, b.code), int(counts.get(b.id, 0)), int(due.get(b.id, 0)),
                          grid_id, b.units, manage)
             for b in buildings]
    if first is not None:
        lines.sort(key=lambda b: b.id != first)
    return lines


async def building_info(session: AsyncSession, viewer: User, building_id: int, today: date,
                        locale: str) -> BuildingLine:
    building = await session.get(Building, building_id)
    if building is None or not building.active or not await _may_read_grid(session, viewer, building.grid_id):
        raise NotFound("building")
    for line in await grid_buildings(session, viewer, building.grid_id, today, locale):
        if line.id == building_id:
            return line
    raise NotFound("building")


async def visit_buildings(session: AsyncSession, settings: Settings, worker: User, today: date, locale: str,
                          now: datetime) -> list[BuildingLine]:
    """The buildings a worker may log a visit in: those of the grid they are
    patrolling (the building of their last visit first), else of all their grids."""
    patrol = await open_patrol(session, settings, worker, now)
    lines: list[BuildingLine] = []
    for grid_id in [patrol.grid_id] if patrol is not None else sorted(field_grid_ids(worker)):
        lines += await grid_buildings(session, worker, grid_id, today, locale,
                                      first=patrol.current_building_id if patrol else None)
    return lines


async def visit_building(session: AsyncSession, worker: User, building_id: int, today: date,
                         locale: str) -> tuple[BuildingLine, list[HouseholdLine]]:
    """A building of the worker's grids, to log a visit in, with its households on the ledger."""
    grids = require_field_worker(worker)
    info = await building_info(session, worker, building_id, today, locale)
    if info.grid_id not in grids:
        raise NotFound("building")
    return info, await building_households(session, worker, info.id, today, locale)


async def managed_building(session: AsyncSession, actor: User, building_id: int, today: date,
                           locale: str) -> BuildingLine:
    """A building whose ledger ``actor`` keeps (grid head of its grid, staff of its community)."""
    info = await building_info(session, actor, building_id, today, locale)
    if not info.can_manage:
        raise NotAllowed()
    return info


async def household_card(session: AsyncSession, viewer: User, household_id: int, today: date,
                         locale: str) -> HouseholdCard:
    household = await session.get(Household, household_id)
    if household is None or not await _may_read_grid(session, viewer, household.grid_id):
        raise NotFound("household")
    line = (await _lines(session, [household], today, locale))[0]
    if line.tags:
        await log_tags_shown(session, viewer, household.grid_id, "household", household.id)
    rows = (await session.execute(
        select(DiaryEntry.id, User.first_name, DiaryEntry.occurred_at, DiaryEntry.category)
        .join(User, User.id == DiaryEntry.worker_id)
        .where(DiaryEntry.household_id == household_id, DiaryEntry.kind == EntryKind.visit,
               DiaryEntry.deleted_at.is_(None))
        .order_by(DiaryEntry.occurred_at.desc()).limit(5))).all()
    return HouseholdCard(line, [VisitLine(*row) for row in rows], await _may_manage(session, viewer, household.grid_id),
                         household.grid_id in field_grid_ids(viewer), household.sensitive_consent_at is not None)


def next_interval(current: int | None) -> int | None:
    """The cycle of a tag's button: off → weekly → every two weeks → monthly → quarterly → off."""
    if current is None:
        return INTERVALS[0]
    later = [d for d in INTERVALS if d > current]
    return later[0] if later else None


async def set_tag(session: AsyncSession, settings: Settings, actor: User, household_id: int, tag: CareTag,
                  interval_days: int | None, now: datetime) -> None:
    """Give a household a tag with a visit interval, change it, or (None) remove the tag."""
    household = await session.get(Household, household_id)
    if household is None or not await _may_read_grid(session, actor, household.grid_id):
        raise NotFound("household")
    if not await _may_manage(session, actor, household.grid_id):
        raise NotAllowed()
    if interval_days is not None and not 1 <= interval_days <= 366:
        raise InvalidInput("bad_interval")
    if interval_days is not None and household.sensitive_consent_at is None:
        # Tags are sensitive personal information (PIPL art. 28-29): the household's
        # separate consent first (record_consent); removing a tag needs none.
        raise NotAllowed("household_consent_needed")
    row = await session.scalar(select(HouseholdTag).where(HouseholdTag.household_id == household_id,
                                                          HouseholdTag.tag == tag))
    if interval_days is None:
        if row is not None:
            await session.delete(row)
    elif row is None:
        session.add(HouseholdTag(household_id=household_id, tag=tag, interval_days=interval_days,
                                 set_by_id=actor.id, updated_at=now))
    else:
        row.interval_days, row.set_by_id, row.updated_at = interval_days, actor.id, now
    household.updated_at = now
    await session.flush()
    await refresh_household(session, household_id, settings.tz, local_day(now, settings.tz))


async def record_consent(session: AsyncSession, actor: User, household_id: int, now: datetime) -> None:
    """The grid head or staff records that the household agreed to its sensitive
    tags being kept (asked in person: "住户已同意").  Once is enough."""
    household = await _managed_household(session, actor, household_id)
    if household.sensitive_consent_at is None:
        household.sensitive_consent_at, household.sensitive_consent_by_id = now, actor.id
        household.updated_at = now
        await session.flush()


@dataclass(frozen=True, slots=True)
class ResidentOption:
    id: int
    name: str
    phone_tail: str  # the last four digits only, to tell people of the same name apart


async def linkable_residents(session: AsyncSession, actor: User, household_id: int) -> list[ResidentOption]:
    """Registered residents of the household's building, for its manager to say which one it is."""
    household = await _managed_household(session, actor, household_id)
    rows = await session.scalars(select(User).where(
        User.building_id == household.building_id, User.registered_at.is_not(None),
        User.telegram_id.is_not(None)).order_by(User.first_name, User.id).limit(50))
    return [ResidentOption(u.id, u.first_name, (u.phone or "")[-4:]) for u in rows]


async def link_resident(session: AsyncSession, actor: User, household_id: int, resident_id: int,
                        now: datetime) -> None:
    """Say which registered resident the household is (0: nobody); they then see its tags."""
    household = await _managed_household(session, actor, household_id)
    if resident_id:
        resident = await session.get(User, resident_id)
        if resident is None or resident.building_id != household.building_id or resident.registered_at is None:
            raise NotFound("resident")
    household.resident_id = resident_id or None
    household.updated_at = now
    await session.flush()


async def own_household_tags(session: AsyncSession, resident: User) -> list[CareTag]:
    """The tags of the household(s) linked to ``resident``: what the ledger says about them."""
    rows = await session.scalars(
        select(HouseholdTag.tag).join(Household, Household.id == HouseholdTag.household_id)
        .where(Household.resident_id == resident.id, Household.active).order_by(HouseholdTag.tag))
    return sorted({CareTag(t) for t in rows}, key=list(CareTag).index)


async def _managed_household(session: AsyncSession, actor: User, household_id: int) -> Household:
    household = await session.get(Household, household_id)
    if household is None or not await _may_read_grid(session, actor, household.grid_id):
        raise NotFound("household")
    if not await _may_manage(session, actor, household.grid_id):
        raise NotAllowed()
    return household


async def cycle_tag(session: AsyncSession, settings: Settings, actor: User, household_id: int, tag: CareTag,
                    now: datetime) -> int | None:
    """One tap on a tag's button: the next interval of the cycle; returns it."""
    current = await session.scalar(select(HouseholdTag.interval_days).where(
        HouseholdTag.household_id == household_id, HouseholdTag.tag == tag))
    wanted = next_interval(current)
    await set_tag(session, settings, actor, household_id, tag, wanted, now)
    return wanted


async def add_household(session: AsyncSession, settings: Settings, actor: User, building_id: int, unit: str | None,
                        label: str, now: datetime) -> Household:
    """A new household on the ledger (grid heads and staff); its code is made from the building's."""
    building = await session.get(Building, building_id)
    if building is None or not building.active or not await _may_read_grid(session, actor, building.grid_id):
        raise NotFound("building")
    if not await _may_manage(session, actor, building.grid_id):
        raise NotAllowed()
    label = typed_text(label, MAX_LABEL, one_line=True)
    unit = (unit or "").strip() or None
    if unit is not None and len(unit) > MAX_UNIT:
        raise InvalidInput("text_too_long", limit=MAX_UNIT)
    taken = set(await session.scalars(select(Household.code).where(Household.code.like(f"{building.code}-H%"))))
    number = len(taken) + 1
    while f"{building.code}-H{number}" in taken:
        number += 1
    code = f"{building.code}-H{number}"
    if len(code) > 32:  # codes are at most 32 characters: fall back on the building's id
        code = f"HH-{building.id}-{number}"
    household = Household(code=code, grid_id=building.grid_id, building_id=building.id,
                          unit=unit, label=label, active=True, created_at=now, updated_at=now)
    session.add(household)
    await session.flush()
    return household
