"""The patrol diary (民情日志): patrols and the entries logged on them.

The feature is split by concern (``bot.services.diary`` is its front door);
this module holds the writing side::

    entries      patrols (start, end, location), entries (create, add to,
                 edit, tag, delete) and their history
    views        what a worker, a grid head or community staff may read
    households   the household ledger: tags, visit frequencies, who is due
    figures      a worker's numbers for any period (month view, weekly summary)
    cases        "problem found" -> a case of the case loop, linked both ways
    jobs         the nudge, the morning due-visit list, the weekly summary
    common       the household visit clock, who may read an entry, stale patrols

Every change of an entry writes a revision with the whole entry as it then
is; nothing is overwritten and deleting is a mark.  The author changes their
entries on the day they were logged; after that, for ``DIARY_LATE_EDIT_DAYS``
days, they may still correct (not delete) them, and the correction is shown
as one.  Times come in as ``now`` so tests inject them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.config import Settings
from bot.services.access import field_grid_ids, require_field_worker
from bot.services.dates import local_day
from bot.services.diary.common import (
    FRESH_LOCATION,
    MAX_ATTACHMENTS,
    MAX_NAME,
    MAX_TEXT,
    MAX_UNIT,
    MediaRef,
    close_stale,
    max_patrol_age,
    refresh_household,
    visible_entry,
)
from bot.services.errors import Conflict, InvalidInput, NotAllowed, NotFound
from bot.services.inputs import typed_text
from models import (
    Building,
    CareTag,
    DiaryAttachment,
    DiaryEntry,
    DiaryEntryRevision,
    DiaryMediaKind,
    EntryKind,
    Grid,
    Household,
    HouseholdTag,
    OpinionCategory,
    Patrol,
    PatrolEnd,
    RevisionAction,
    User,
    i18n_name,
)

_UNSET: Any = object()


# ------------------------------------------------------------------ patrols

@dataclass(frozen=True, slots=True)
class PatrolSummary:
    patrol_id: int
    grid_id: int
    started_at: datetime
    ended_at: datetime | None
    minutes: int
    end_reason: PatrolEnd | None
    visits: int
    opinions: int
    problems: int
    notes: int  # still untagged
    cases: int  # problems turned into cases
    buildings: list[str]  # names of the buildings covered, in the order first logged
    note_ids: list[int]  # the untagged notes, in order

    @property
    def entries(self) -> int:
        return self.visits + self.opinions + self.problems + self.notes


async def _open_row(session: AsyncSession, worker_id: int) -> Patrol | None:
    return await session.scalar(select(Patrol).where(Patrol.worker_id == worker_id, Patrol.ended_at.is_(None))
                                .order_by(Patrol.id.desc()).limit(1))


async def open_patrol(session: AsyncSession, settings: Settings, worker: User | None, now: datetime) -> Patrol | None:
    """The worker's patrol that is open now (None for anyone else, or once it
    has been open longer than ``DIARY_PATROL_MAX_HOURS``)."""
    if worker is None or not field_grid_ids(worker):
        return None
    patrol = await _open_row(session, worker.id)
    if patrol is None or patrol.started_at <= now - max_patrol_age(settings):
        return None
    return patrol


def _check_location(latitude: float, longitude: float) -> None:
    if not (-90 <= latitude <= 90 and -180 <= longitude <= 180):
        raise InvalidInput("bad_location")


async def patrol_grids(session: AsyncSession, worker: User) -> list[Grid]:
    """The active grids a worker can patrol, by code."""
    grids = require_field_worker(worker)
    return list(await session.scalars(select(Grid).where(Grid.id.in_(grids), Grid.active).order_by(Grid.code)))


async def start_patrol(session: AsyncSession, settings: Settings, worker: User, now: datetime, *,
                       grid_id: int | None = None, latitude: float | None = None, longitude: float | None = None,
                       live_period: int | None = None) -> tuple[Patrol, bool]:
    """Start a patrol; ``(patrol, False)`` if one is already open (a double tap).

    A worker of several grids says which (``InvalidInput("choose_grid")``
    otherwise).  A location, live or not, is where the patrol starts.
    """
    grids = await patrol_grids(session, worker)
    if latitude is not None and longitude is not None:
        _check_location(latitude, longitude)
    existing = await _open_row(session, worker.id)
    if existing is not None:
        if existing.started_at > now - max_patrol_age(settings):
            if latitude is not None and longitude is not None:
                _moved(existing, latitude, longitude, now, live_period)
            return existing, False
        await close_stale(session, settings, existing, now)
        await session.flush()
    if grid_id is None:
        if len(grids) != 1:
            raise InvalidInput("choose_grid")
        grid_id = grids[0].id
    elif grid_id not in {g.id for g in grids}:
        raise NotAllowed()
    patrol = Patrol(worker_id=worker.id, grid_id=grid_id, started_at=now)
    if latitude is not None and longitude is not None:
        patrol.start_latitude, patrol.start_longitude = latitude, longitude
        _moved(patrol, latitude, longitude, now, live_period)
    session.add(patrol)
    await session.flush()
    return patrol, True


def _moved(patrol: Patrol, latitude: float, longitude: float, now: datetime, live_period: int | None) -> None:
    if patrol.start_latitude is None:
        patrol.start_latitude, patrol.start_longitude = latitude, longitude
    patrol.last_latitude, patrol.last_longitude, patrol.last_location_at = latitude, longitude, now
    if live_period:
        patrol.live_until = now + timedelta(seconds=min(int(live_period), 86400 * 7))


async def record_location(session: AsyncSession, settings: Settings, worker: User, latitude: float,
                          longitude: float, now: datetime, *, live_period: int | None = None) -> Patrol | None:
    """Where the worker is now (a live location moving, or a location sent)."""
    _check_location(latitude, longitude)
    patrol = await open_patrol(session, settings, worker, now)
    if patrol is not None:
        _moved(patrol, latitude, longitude, now, live_period)
        await session.flush()
    return patrol


async def end_patrol(session: AsyncSession, settings: Settings, worker: User, now: datetime,
                     locale: str) -> PatrolSummary:
    require_field_worker(worker)
    patrol = await _open_row(session, worker.id)
    if patrol is None:
        raise NotFound("no_patrol")
    if patrol.started_at <= now - max_patrol_age(settings):
        await close_stale(session, settings, patrol, now)
    else:
        patrol.ended_at, patrol.end_reason = now, PatrolEnd.manual
    await session.flush()
    return await patrol_summary(session, patrol, locale, now)


async def patrol_summary(session: AsyncSession, patrol: Patrol, locale: str, now: datetime) -> PatrolSummary:
    rows = (await session.execute(
        select(DiaryEntry.id, DiaryEntry.kind, DiaryEntry.building_id, DiaryEntry.case_id).where(
            DiaryEntry.patrol_id == patrol.id, DiaryEntry.deleted_at.is_(None)).order_by(DiaryEntry.id))).all()
    counts = dict.fromkeys(EntryKind, 0)
    building_ids: list[int] = []
    cases = 0
    note_ids: list[int] = []
    for entry_id, kind, building_id, case_id in rows:
        counts[EntryKind(kind)] += 1
        if kind == EntryKind.note:
            note_ids.append(entry_id)
        if building_id is not None and building_id not in building_ids:
            building_ids.append(building_id)
        cases += case_id is not None
    names: dict[int, str] = {}
    if building_ids:
        for b in await session.scalars(select(Building).where(Building.id.in_(building_ids))):
            names[b.id] = i18n_name(b.names, locale, b.code)
    end = patrol.ended_at or now
    return PatrolSummary(
        patrol_id=patrol.id, grid_id=patrol.grid_id, started_at=patrol.started_at, ended_at=patrol.ended_at,
        minutes=int((end - patrol.started_at).total_seconds() // 60), end_reason=patrol.end_reason,
        visits=counts[EntryKind.visit], opinions=counts[EntryKind.opinion], problems=counts[EntryKind.problem],
        notes=counts[EntryKind.note], cases=cases, buildings=[names[b] for b in building_ids if b in names],
        note_ids=note_ids,
    )


async def set_current_building(session: AsyncSession, settings: Settings, worker: User, building_id: int,
                               now: datetime) -> None:
    patrol = await open_patrol(session, settings, worker, now)
    if patrol is not None:
        patrol.current_building_id = building_id


# ------------------------------------------------------------------ entries

def _clean_text(text: str | None) -> str:
    return (text or "").strip()


def _joined(current: str, addition: str) -> str:
    combined = f"{current}\n{addition}" if current else addition
    if len(combined) > MAX_TEXT:
        raise InvalidInput("text_too_long", limit=MAX_TEXT)
    return combined


def _category(kind: EntryKind, category: str | None) -> str | None:
    if kind == EntryKind.visit:
        try:
            return CareTag(category or CareTag.other).value
        except ValueError:
            raise InvalidInput("bad_category") from None
    if kind == EntryKind.opinion:
        try:
            return OpinionCategory(category or OpinionCategory.other).value
        except ValueError:
            raise InvalidInput("bad_category") from None
    if category is not None:
        raise InvalidInput("bad_category")
    return None


async def _building(session: AsyncSession, grids: set[int], building_id: int) -> Building:
    building = await session.get(Building, building_id)
    if building is None or not building.active or building.grid_id not in grids:
        raise NotFound("building")
    return building


async def _household(session: AsyncSession, grids: set[int], household_id: int) -> Household:
    household = await session.get(Household, household_id)
    if household is None or not household.active or household.grid_id not in grids:
        raise NotFound("household")
    return household


async def household_default_category(session: AsyncSession, household_id: int) -> str:
    """A visit's category when the household is picked: its first tag (in the list's order)."""
    tags = set(await session.scalars(select(HouseholdTag.tag).where(HouseholdTag.household_id == household_id)))
    for tag in CareTag:
        if tag in tags:
            return tag.value
    return CareTag.other.value


async def _attachment_count(session: AsyncSession, entry_id: int) -> int:
    return int(await session.scalar(select(func.count()).select_from(DiaryAttachment)
                                    .where(DiaryAttachment.entry_id == entry_id)) or 0)


async def _add_media(session: AsyncSession, entry: DiaryEntry, media: Sequence[MediaRef], now: datetime) -> None:
    if not media:
        return
    if await _attachment_count(session, entry.id) + len(media) > MAX_ATTACHMENTS:
        raise InvalidInput("too_many_files", limit=MAX_ATTACHMENTS)
    for ref in media:
        if ref.kind == DiaryMediaKind.location:
            if ref.latitude is None or ref.longitude is None:
                raise InvalidInput("bad_location")
            _check_location(ref.latitude, ref.longitude)
            entry.latitude, entry.longitude = ref.latitude, ref.longitude
        elif not ref.file_id:
            raise InvalidInput("bad_file")
        session.add(DiaryAttachment(entry_id=entry.id, kind=ref.kind, file_id=ref.file_id,
                                    file_unique_id=ref.file_unique_id, latitude=ref.latitude,
                                    longitude=ref.longitude, created_at=now))
    await session.flush()


async def snapshot(session: AsyncSession, entry: DiaryEntry) -> dict[str, Any]:
    files = (await session.execute(
        select(DiaryAttachment.kind, DiaryAttachment.file_id, DiaryAttachment.latitude, DiaryAttachment.longitude)
        .where(DiaryAttachment.entry_id == entry.id).order_by(DiaryAttachment.id))).all()
    return {
        "kind": EntryKind(entry.kind).value, "category": entry.category, "building_id": entry.building_id,
        "household_id": entry.household_id, "unit": entry.unit, "text": entry.text,
        "resident_name": entry.resident_name, "latitude": entry.latitude, "longitude": entry.longitude,
        "case_id": entry.case_id, "deleted": entry.deleted_at is not None,
        "attachments": [{"kind": DiaryMediaKind(k).value, "file_id": f, "latitude": la, "longitude": lo}
                        for k, f, la, lo in files],
    }


async def revise(session: AsyncSession, settings: Settings, entry: DiaryEntry, action: RevisionAction,
                  actor: User, now: datetime) -> None:
    if action != RevisionAction.created:
        entry.version += 1
    entry.updated_at = now
    await session.flush()
    session.add(DiaryEntryRevision(
        entry_id=entry.id, version=entry.version, action=action, at=now, by_id=actor.id,
        late=local_day(now, settings.tz) > entry.day, snapshot=await snapshot(session, entry)))
    await session.flush()


async def create_entry(
    session: AsyncSession, settings: Settings, worker: User, kind: EntryKind, now: datetime, *,
    category: str | None = None, building_id: int | None = None, household_id: int | None = None,
    unit: str | None = None, text: str | None = None, resident_name: str | None = None,
    media: Sequence[MediaRef] = (), message_id: int | None = None,
) -> DiaryEntry:
    """Log one entry; it joins the worker's open patrol, if any."""
    grids = require_field_worker(worker)
    patrol = await open_patrol(session, settings, worker, now)
    values = await _placement(session, grids, kind, category, building_id, household_id, unit)
    text = _clean_text(text)
    if len(text) > MAX_TEXT:
        raise InvalidInput("text_too_long", limit=MAX_TEXT)
    name = _clean_name(resident_name) if kind == EntryKind.opinion else None
    if values["grid_id"] is None:
        values["grid_id"] = patrol.grid_id if patrol is not None else min(grids)
    entry = DiaryEntry(worker_id=worker.id, patrol_id=patrol.id if patrol else None, kind=kind, text=text,
                       resident_name=name, message_id=message_id, occurred_at=now,
                       day=local_day(now, settings.tz), version=1, created_at=now, updated_at=now, **values)
    if kind == EntryKind.problem and patrol is not None and patrol.last_location_at is not None \
            and patrol.last_location_at >= now - FRESH_LOCATION:
        entry.latitude, entry.longitude = patrol.last_latitude, patrol.last_longitude
    session.add(entry)
    await session.flush()
    await _add_media(session, entry, media, now)
    if patrol is not None and entry.building_id is not None and kind == EntryKind.visit:
        patrol.current_building_id = entry.building_id
    await revise(session, settings, entry, RevisionAction.created, worker, now)
    if entry.household_id is not None:
        await refresh_household(session, entry.household_id, settings.tz, local_day(now, settings.tz))
    return entry


async def _placement(session: AsyncSession, grids: set[int], kind: EntryKind, category: str | None,
                     building_id: int | None, household_id: int | None, unit: str | None) -> dict[str, Any]:
    """Building, household, unit, category and grid of an entry of ``kind``, checked."""
    out: dict[str, Any] = {"category": _category(kind, category), "building_id": None, "household_id": None,
                           "unit": None, "grid_id": None}
    if kind != EntryKind.visit:
        if building_id is not None or household_id is not None or unit is not None:
            raise InvalidInput("bad_place")
        return out
    if household_id is not None:
        household = await _household(session, grids, household_id)
        building = await _building(session, grids, household.building_id)
        out.update(household_id=household.id, unit=household.unit)
        if category is None:
            out["category"] = await household_default_category(session, household.id)
    elif building_id is not None:
        building = await _building(session, grids, building_id)
        unit = (unit or "").strip() or None
        if unit is not None and len(unit) > MAX_UNIT:
            raise InvalidInput("text_too_long", limit=MAX_UNIT)
        out["unit"] = unit
    else:
        raise InvalidInput("visit_needs_building")
    out.update(building_id=building.id, grid_id=building.grid_id)
    return out


def _clean_name(name: str | None) -> str | None:
    name = " ".join((name or "").split())
    if not name:
        return None
    if len(name) > MAX_NAME:
        raise InvalidInput("text_too_long", limit=MAX_NAME)
    return name


async def own_entry(session: AsyncSession, settings: Settings, worker: User, entry_id: int, now: datetime, *,
                    deleting: bool = False) -> DiaryEntry:
    """The author's entry, if it may still be changed now."""
    entry = await visible_entry(session, worker, entry_id)
    if entry.worker_id != worker.id:
        raise NotAllowed("not_author")
    if entry.deleted_at is not None:
        raise Conflict("entry_deleted")
    age = (local_day(now, settings.tz) - entry.day).days
    if deleting and age > 0:
        raise Conflict("delete_same_day")
    if age > settings.diary_late_edit_days:
        raise Conflict("entry_locked", days=settings.diary_late_edit_days)
    return entry


async def own_opinion(session: AsyncSession, settings: Settings, worker: User, entry_id: int,
                      now: datetime) -> DiaryEntry:
    """The author's opinion, whose resident's name may still be changed now."""
    entry = await own_entry(session, settings, worker, entry_id, now)
    if entry.kind != EntryKind.opinion:
        raise InvalidInput("not_opinion")
    return entry


async def add_to_entry(session: AsyncSession, settings: Settings, worker: User, entry_id: int, now: datetime, *,
                       text: str | None = None, media: Sequence[MediaRef] = ()) -> DiaryEntry:
    """More text, a photo, a voice note or a location for an entry being written."""
    entry = await own_entry(session, settings, worker, entry_id, now)
    text = _clean_text(text)
    if not text and not media:
        raise InvalidInput("empty_text")
    if text:
        entry.text = _joined(entry.text, text)
    await _add_media(session, entry, media, now)
    await revise(session, settings, entry, RevisionAction.added, worker, now)
    return entry


async def edit_entry(session: AsyncSession, settings: Settings, worker: User, entry_id: int, now: datetime, *,
                     text: str | None = _UNSET, resident_name: str | None = _UNSET,
                     category: str | None = _UNSET) -> DiaryEntry:
    """Replace the text, the resident's name (opinions) or the category."""
    entry = await own_entry(session, settings, worker, entry_id, now)
    changed = False
    if text is not _UNSET:
        text = typed_text(text, MAX_TEXT)
        changed |= text != entry.text
        entry.text = text
    if resident_name is not _UNSET:
        if entry.kind != EntryKind.opinion:
            raise InvalidInput("not_opinion")
        name = _clean_name(resident_name)
        changed |= name != entry.resident_name
        entry.resident_name = name
    if category is not _UNSET:
        value = _category(EntryKind(entry.kind), category)
        changed |= value != entry.category
        entry.category = value
    if changed:
        await revise(session, settings, entry, RevisionAction.edited, worker, now)
    return entry


async def tag_or_create(session: AsyncSession, settings: Settings, worker: User, note_id: int, kind: EntryKind,
                        now: datetime, **fields: Any) -> DiaryEntry:
    """Tag the loose note ``note_id`` as ``kind``, or log a new entry when it is 0."""
    if note_id:
        return await tag_entry(session, settings, worker, note_id, kind, now, **fields)
    return await create_entry(session, settings, worker, kind, now, **fields)


async def tag_entry(session: AsyncSession, settings: Settings, worker: User, entry_id: int, kind: EntryKind,
                    now: datetime, *, category: str | None = None, building_id: int | None = None,
                    household_id: int | None = None, unit: str | None = None) -> DiaryEntry:
    """Give a note a kind (visit, opinion, problem), or change an entry's kind."""
    if kind == EntryKind.note:
        raise InvalidInput("bad_kind")
    grids = require_field_worker(worker)
    entry = await own_entry(session, settings, worker, entry_id, now)
    if entry.case_id is not None:
        raise Conflict("has_case")
    values = await _placement(session, grids, kind, category, building_id, household_id, unit)
    if values["grid_id"] is None:
        values["grid_id"] = entry.grid_id
    old_household = entry.household_id
    entry.kind = kind
    for key, value in values.items():
        setattr(entry, key, value)
    if kind != EntryKind.opinion:
        entry.resident_name = None
    await revise(session, settings, entry, RevisionAction.tagged, worker, now)
    today = local_day(now, settings.tz)
    for hid in {old_household, entry.household_id} - {None}:
        await refresh_household(session, hid, settings.tz, today)
    return entry


async def delete_entry(session: AsyncSession, settings: Settings, worker: User, entry_id: int,
                       now: datetime) -> DiaryEntry:
    """Mark the author's entry deleted (the same day only); it stays in the history."""
    entry = await own_entry(session, settings, worker, entry_id, now, deleting=True)
    if entry.case_id is not None:
        raise Conflict("has_case")
    entry.deleted_at = now
    await revise(session, settings, entry, RevisionAction.deleted, worker, now)
    if entry.household_id is not None:
        await refresh_household(session, entry.household_id, settings.tz, local_day(now, settings.tz))
    return entry


async def add_note(session: AsyncSession, settings: Settings, worker: User, now: datetime, *,
                   text: str | None = None, media: Sequence[MediaRef] = (),
                   message_id: int | None = None) -> DiaryEntry:
    """Whatever a worker sends during a patrol without pressing anything: one note each."""
    if await open_patrol(session, settings, worker, now) is None:
        raise NotFound("no_patrol")
    if not _clean_text(text) and not media:
        raise InvalidInput("empty_text")
    for ref in media:
        if ref.kind == DiaryMediaKind.location and ref.latitude is not None and ref.longitude is not None:
            await record_location(session, settings, worker, ref.latitude, ref.longitude, now)
    return await create_entry(session, settings, worker, EntryKind.note, now, text=text, media=media,
                              message_id=message_id)


async def entry_by_message(session: AsyncSession, worker: User, message_id: int) -> DiaryEntry | None:
    """The note a worker's Telegram message became (to follow the worker's edits of it)."""
    return await session.scalar(select(DiaryEntry).where(DiaryEntry.worker_id == worker.id,
                                                         DiaryEntry.message_id == message_id).limit(1))
