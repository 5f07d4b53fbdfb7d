"""Import the district's structure: districts, communities, grids, buildings,
departments, the service catalogue, stations, alliance units and (optionally)
people (with their roles, unit and party membership) and the household ledger
(households with their tags and visit intervals).

Three sources go through one path: an Excel workbook (one sheet per entity
type), a CSV file (one table, a leading ``sheet`` column naming the entity
type) and the YAML of the demo district (:func:`seed_demo`).  Each is read into
:class:`~bot.services.org_schema.RawRow` objects, every row is checked, codes
are looked up in the file and the database, and only if no error was found is
anything written, all in one transaction.  Rows are matched by ``code`` (people
by ``telegram_id``): an import creates or updates, never duplicates and never
deletes.  The formats are described in ``docs/import-org.md``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm import InstrumentedAttribute

from bot.config import ConfigError, Settings, load_settings
from bot.services import audit
from bot.services.access import unit_scope_id
from bot.services.dates import local_day
from bot.services.diary import refresh_household
from bot.services.org_files import Source, read_any, read_yaml
from bot.services.org_schema import (
    PARENT,
    SHEETS,
    Record,
    RowError,
    parse_row,
)
from bot.services.roles import revoke_listed
from models.audit import AccessAction
from models.base import utcnow
from models.diary import Household, HouseholdTag
from models.org import (
    Building,
    Community,
    Department,
    District,
    Grid,
    ServiceItem,
    Station,
    StationService,
)
from models.organisation import AllianceUnit, PartyMember
from models.users import ROLE_SCOPE, Role, RoleGrant, ScopeType, User

__all__ = [
    "DEMO_PATH",
    "ImportFailed",
    "ImportReport",
    "RowError",
    "check_org_file",
    "import_org_file",
    "seed_demo",
]

# data/demo_district.yaml at the top of the repository.
DEMO_PATH = Path(__file__).resolve().parents[2] / "data" / "demo_district.yaml"

_MODELS: dict[str, Any] = {
    "districts": District,
    "communities": Community,
    "grids": Grid,
    "buildings": Building,
    "departments": Department,
    "services": ServiceItem,
    "stations": Station,
    "alliances": AllianceUnit,
    "people": User,
    "households": Household,
}
_PARENT_FK = {
    "communities": "district_id", "grids": "community_id", "buildings": "grid_id", "stations": "community_id",
    "households": "building_id", "alliances": "community_id",
}
_SCOPE_SHEET = {
    ScopeType.grid: "grids",
    ScopeType.community: "communities",
    ScopeType.department: "departments",
    ScopeType.district: "districts",
    ScopeType.building: "buildings",
    ScopeType.unit: "buildings",  # the scope code names the building, then /unit
}
_SINGULAR = {
    "districts": "district", "communities": "community", "grids": "grid", "buildings": "building",
    "departments": "department", "services": "service", "stations": "station", "people": "person",
    "households": "household", "alliances": "alliance unit",
}
_CHUNK = 500  # keys per IN (...) query
_SHOWN_ERRORS = 50


class ImportFailed(Exception):
    """The file has errors; nothing of it was applied.  ``errors`` lists them all."""

    def __init__(self, errors: Sequence[RowError], source: str = "") -> None:
        self.errors: list[RowError] = list(errors)
        self.source = source
        super().__init__(self.errors)

    def __str__(self) -> str:
        head = f"{len(self.errors)} error(s) in {self.source or 'the file'}; nothing was imported"
        lines = [f"  {error}" for error in self.errors[:_SHOWN_ERRORS]]
        if len(self.errors) > _SHOWN_ERRORS:
            lines.append(f"  ... and {len(self.errors) - _SHOWN_ERRORS} more")
        return "\n".join([head, *lines])


def _zero_counts() -> dict[str, int]:
    return dict.fromkeys(SHEETS, 0)


@dataclass
class ImportReport:
    """What an import did, per entity type (keys: :data:`org_schema.SHEETS`)."""

    created: dict[str, int] = field(default_factory=_zero_counts)
    updated: dict[str, int] = field(default_factory=_zero_counts)
    unchanged: dict[str, int] = field(default_factory=_zero_counts)
    source: str = ""
    ignored_sheets: list[str] = field(default_factory=list)

    def __str__(self) -> str:
        def listing(counts: dict[str, int]) -> str:
            parts = [f"{counts[sheet]} {sheet}" for sheet in SHEETS if counts.get(sheet)]
            return ", ".join(parts) or "nothing"

        text = (
            f"{self.source or 'import'}: created {listing(self.created)}; "
            f"updated {listing(self.updated)}; {sum(self.unchanged.values())} unchanged"
        )
        if self.ignored_sheets:
            text += f"; ignored sheets: {', '.join(self.ignored_sheets)}"
        return text


# --------------------------------------------------------------------------
# Public API


async def import_org_file(sessionmaker: async_sessionmaker[AsyncSession], path: Path) -> ImportReport:
    """Import a workbook (``.xlsx``) or CSV file; raises :class:`ImportFailed`."""
    path = Path(path)
    source = await asyncio.to_thread(read_any, path)
    return await _run(sessionmaker, source, path.name, commit=True)


async def check_org_file(sessionmaker: async_sessionmaker[AsyncSession], path: Path) -> ImportReport:
    """Like :func:`import_org_file` but rolls back: a dry run that reports what would change."""
    path = Path(path)
    source = await asyncio.to_thread(read_any, path)
    return await _run(sessionmaker, source, path.name, commit=False)


async def seed_demo(sessionmaker: async_sessionmaker[AsyncSession], path: Path | None = None) -> ImportReport:
    """Load the demo district (``data/demo_district.yaml`` unless ``path`` is given).

    Idempotent: a second run finds everything unchanged.
    """
    path = Path(path) if path is not None else DEMO_PATH
    source = await asyncio.to_thread(read_yaml, path)
    return await _run(sessionmaker, source, path.name, commit=True)


# --------------------------------------------------------------------------
# Checking and applying


def _parse_all(src: Source) -> tuple[dict[str, list[Record]], list[RowError]]:
    records: dict[str, list[Record]] = {sheet: [] for sheet in SHEETS}
    first_row: dict[str, dict[Any, int]] = {sheet: {} for sheet in SHEETS}
    errors: list[RowError] = []
    for raw in src.rows:
        record, row_errors = parse_row(raw)
        errors.extend(row_errors)
        if record is None:
            continue
        earlier = first_row[raw.sheet].get(record.key)
        if earlier is not None:
            label = "telegram_id" if raw.sheet == "people" else "code"
            message = f"duplicate {label} {record.key} (already on row {earlier})"
            errors.append(RowError(raw.sheet, raw.row, message))
            continue
        first_row[raw.sheet][record.key] = raw.row
        records[raw.sheet].append(record)
    return records, errors


def _chunks(keys: Sequence[Any]) -> Iterable[Sequence[Any]]:
    for start in range(0, len(keys), _CHUNK):
        yield keys[start:start + _CHUNK]


async def _load(
    session: AsyncSession, model: Any, column: InstrumentedAttribute[Any], keys: Iterable[Any]
) -> dict[Any, Any]:
    out: dict[Any, Any] = {}
    for chunk in _chunks(list(keys)):
        result = await session.execute(select(model).where(column.in_(chunk)))
        for obj in result.scalars():
            out[getattr(obj, column.key)] = obj
    return out


async def _children(
    session: AsyncSession, parent: InstrumentedAttribute[int], parent_ids: list[int], key: Callable[[Any], Any]
) -> dict[int, dict[Any, Any]]:
    """The rows under each of ``parent_ids`` (a station's service links, a household's tags), by ``key``."""
    out: dict[int, dict[Any, Any]] = {pid: {} for pid in parent_ids}
    for chunk in _chunks(parent_ids):
        result = await session.execute(select(parent.class_).where(parent.in_(chunk)))
        for row in result.scalars():
            out[getattr(row, parent.key)][key(row)] = row
    return out


@dataclass
class _Known:
    """Rows the file refers to but does not define, as found in the database."""

    ids: dict[str, dict[str, int]] = field(default_factory=lambda: {sheet: {} for sheet in SHEETS})
    building_grid: dict[str, int] = field(default_factory=dict)
    building_units: dict[str, int] = field(default_factory=dict)


def _scope_ref(role: Role, scope: str) -> tuple[str, str, int | None]:
    """(sheet, code, unit) a role's scope code refers to: a unit head's ``B/2`` is building ``B``, unit 2."""
    if ROLE_SCOPE[role] == ScopeType.unit:
        building, _, unit = scope.partition("/")
        return "buildings", building, int(unit)
    return _SCOPE_SHEET[ROLE_SCOPE[role]], scope, None


async def _resolve(session: AsyncSession, records: dict[str, list[Record]], errors: list[RowError]) -> _Known:
    """Check every code a row refers to: it must be in the file or the database."""
    defined = {sheet: {r.key for r in recs} for sheet, recs in records.items()}
    refs: list[tuple[Record, str, str, str]] = []  # (record, column, target sheet, code)
    for sheet, (column, target) in PARENT.items():
        refs.extend((r, column, target, r.parent_code) for r in records[sheet] if r.parent_code)
    for r in records["stations"]:
        refs.extend((r, "services", "services", code) for code in r.service_codes)
    for r in records["people"]:
        if r.building_code:
            refs.append((r, "building_code", "buildings", r.building_code))
        refs.extend((r, f"roles ({role.value})", *_scope_ref(role, scope)[:2])
                    for role, scope in (*r.roles, *r.removed_roles))
        if r.party is not None:
            refs.extend((r, column, target, code) for column, target, code in (
                ("party_branch", "grids", r.party.branch_code), ("party_group", "buildings", r.party.group_code))
                if code)

    wanted: dict[str, set[str]] = {sheet: set() for sheet in SHEETS}
    for _, _, target, code in refs:
        if code not in defined[target]:
            wanted[target].add(code)
    known = _Known()
    for sheet, codes in wanted.items():
        if not codes:
            continue
        model = _MODELS[sheet]
        columns = ((model.code, model.id, Building.grid_id, Building.units) if sheet == "buildings"
                   else (model.code, model.id))
        for chunk in _chunks(sorted(codes)):
            for row in await session.execute(select(*columns).where(model.code.in_(chunk))):
                known.ids[sheet][row[0]] = row[1]
                if sheet == "buildings":
                    known.building_grid[row[0]] = row[2]
                    known.building_units[row[0]] = row[3]
    for r, column, target, code in refs:
        if code not in defined[target] and code not in known.ids[target]:
            errors.append(RowError(r.sheet, r.row, f"{column}: unknown {_SINGULAR[target]} code {code!r}"))
    # A unit (of a unit head, or where a person lives) must exist in its building.
    units = {r.key: r.values.get("units") or 1 for r in records["buildings"]} | known.building_units
    for r in records["people"]:
        wanted_units = [(f"roles ({role.value})", *_scope_ref(role, scope)[1:]) for role, scope in
                        (*r.roles, *r.removed_roles) if ROLE_SCOPE[role] == ScopeType.unit]
        if r.building_code and r.values.get("unit"):
            wanted_units.append(("unit", r.building_code, r.values["unit"]))
        for column, building, unit in wanted_units:
            if building in units and unit is not None and unit > units[building]:
                errors.append(RowError(r.sheet, r.row, f"{column}: building {building} has {units[building]} "
                                                       f"unit(s), not {unit}"))
    return known


def _assign(obj: Any, values: dict[str, Any]) -> set[str]:
    """Set the attributes that differ; the names of those changed."""
    changed: set[str] = set()
    for name, value in values.items():
        if getattr(obj, name) != value:
            setattr(obj, name, value)
            changed.add(name)
    return changed


class _Applier:
    def __init__(self, session: AsyncSession, records: dict[str, list[Record]], known: _Known) -> None:
        self.session = session
        self.records = records
        self.ids = {sheet: dict(known.ids[sheet]) for sheet in SHEETS}
        self.building_grid = dict(known.building_grid)
        self.status: dict[str, dict[Any, str]] = {sheet: {} for sheet in SHEETS}
        self.now = utcnow()

    async def run(self) -> ImportReport:
        for sheet in SHEETS:
            records = self.records[sheet]
            if not records:
                continue
            if sheet == "people":
                await self._people(records)
                continue
            objs = await self._upsert(sheet, records)
            if sheet == "stations":
                await self._station_services(records, objs)
            if sheet == "households":
                await self._household_tags(records, objs)
        report = ImportReport()
        for sheet, statuses in self.status.items():
            for status in statuses.values():
                getattr(report, status)[sheet] += 1
        return report

    async def _upsert(self, sheet: str, records: list[Record]) -> dict[str, Any]:
        model = _MODELS[sheet]
        found = await _load(self.session, model, model.code, [r.key for r in records])
        objs: dict[str, Any] = {}
        moved: list[Any] = []
        for r in records:
            values = dict(r.values)
            if sheet in PARENT:
                values[_PARENT_FK[sheet]] = self.ids[PARENT[sheet][1]][r.parent_code]
            if sheet == "households":  # a household is in its building's grid
                values["grid_id"] = self.building_grid[r.parent_code]
            obj = found.get(r.key)
            if obj is None:
                obj = model(code=r.key, **values)
                self.session.add(obj)
                self.status[sheet][r.key] = "created"
            else:
                changed = _assign(obj, values)
                self.status[sheet][r.key] = "updated" if changed else "unchanged"
                if "grid_id" in changed and sheet == "buildings":
                    moved.append(obj)
            objs[r.key] = obj
        await self.session.flush()
        for code, obj in objs.items():
            self.ids[sheet][code] = obj.id
            if sheet == "buildings":
                self.building_grid[code] = obj.grid_id
        # People living in a building that moved to another grid move with it, and so do its households.
        for building in moved:
            await self.session.execute(
                update(User).where(User.building_id == building.id).values(grid_id=building.grid_id)
            )
            await self.session.execute(
                update(Household).where(Household.building_id == building.id).values(grid_id=building.grid_id)
                .execution_options(synchronize_session=False)
            )
        return objs

    async def _station_services(self, records: list[Record], stations: dict[str, Station]) -> None:
        links: dict[int, dict[int, StationService]] = await _children(
            self.session, StationService.station_id, [stations[r.key].id for r in records],
            lambda link: link.service_id)
        for r in records:
            station = stations[r.key]
            have = links[station.id]
            want = [self.ids["services"][code] for code in r.service_codes]
            added = [sid for sid in want if sid not in have]
            removed = [link for sid, link in have.items() if sid not in want]
            for service_id in added:
                self.session.add(StationService(station_id=station.id, service_id=service_id))
            for link in removed:
                await self.session.delete(link)
            if (added or removed) and self.status["stations"][r.key] == "unchanged":
                self.status["stations"][r.key] = "updated"
                station.updated_at = self.now
        await self.session.flush()

    async def _household_tags(self, records: list[Record], households: dict[str, Household]) -> None:
        """Each household gets exactly the tags of its row; its visit clock follows."""
        have: dict[int, dict[str, HouseholdTag]] = await _children(
            self.session, HouseholdTag.household_id, [households[r.key].id for r in records],
            lambda tag: str(tag.tag))
        tz = _display_tz()
        today = local_day(self.now, tz)
        for r in records:
            household = households[r.key]
            current = have[household.id]
            wanted = {str(tag): days for tag, days in r.tags}
            changed = False
            for name, tag in current.items():
                if name not in wanted:
                    await self.session.delete(tag)
                    changed = True
                elif tag.interval_days != wanted[name]:
                    tag.interval_days, tag.updated_at, tag.set_by_id = wanted[name], self.now, None
                    changed = True
            for tag_value, days in r.tags:
                if str(tag_value) not in current:
                    self.session.add(HouseholdTag(household_id=household.id, tag=tag_value, interval_days=days,
                                                  updated_at=self.now))
                    changed = True
            status = self.status["households"][r.key]
            if changed and status == "unchanged":
                self.status["households"][r.key] = "updated"
            if r.tags and household.sensitive_consent_at is None:
                # The organisation's file lists the tags: it answers for the household's consent.
                household.sensitive_consent_at = self.now
            if changed or status != "unchanged":
                household.updated_at = self.now
                await self.session.flush()
                await refresh_household(self.session, household.id, tz, today)
        await self.session.flush()

    def _scope_id(self, role: Role, scope: str) -> int:
        sheet, code, unit = _scope_ref(role, scope)
        scope_id = self.ids[sheet][code]
        return unit_scope_id(scope_id, unit) if unit is not None else scope_id

    async def _party(self, records: list[Record], users: dict[Any, User]) -> None:
        """Party members as the file says: added or updated; ``party_member: no`` ends it."""
        rows = [r for r in records if r.party is not None]
        if not rows:
            return
        have = await _load(self.session, PartyMember, PartyMember.user_id, [users[r.key].id for r in rows])
        for r in rows:
            party = r.party
            assert party is not None
            user = users[r.key]
            member = have.get(user.id)
            changed = False
            if not party.member:
                if member is not None:
                    await self.session.delete(member)
                    changed = True
            else:
                if member is None:
                    member = PartyMember(user_id=user.id, central_household=False, updated_at=self.now)
                    self.session.add(member)
                    changed = True
                values: dict[str, Any] = {}
                if party.branch_code:
                    values["branch_grid_id"] = self.ids["grids"][party.branch_code]
                if party.group_code:
                    values["group_building_id"] = self.ids["buildings"][party.group_code]
                if party.central is not None:
                    values["central_household"] = party.central
                if _assign(member, values):
                    member.updated_at = self.now
                    changed = True
            if changed and self.status["people"][r.key] == "unchanged":
                self.status["people"][r.key] = "updated"
        await self.session.flush()

    async def _people(self, records: list[Record]) -> None:
        users = await _load(self.session, User, User.telegram_id, [r.key for r in records])
        for r in records:
            values = dict(r.values)
            if r.building_code:
                values["building_id"] = self.ids["buildings"][r.building_code]
                values["grid_id"] = self.building_grid[r.building_code]
            user = users.get(r.key)
            changed: set[str] = set()
            if user is None:
                user = User(telegram_id=r.key, registered_at=self.now, **values)
                self.session.add(user)
                users[r.key] = user
                self.status["people"][r.key] = "created"
            else:
                changed = _assign(user, values)
                if user.registered_at is None:
                    user.registered_at = self.now
                    changed.add("registered_at")
                self.status["people"][r.key] = "updated" if changed else "unchanged"
            if r.building_code and ("building_id" in changed or user.home_confirmed_at is None):
                # The file states where they live: their home is confirmed by it (bot.services.homes).
                user.home_confirmed_at, user.home_confirmed_by_id = self.now, None
        await self.session.flush()
        await self._party(records, users)

        # Role grants listed are added; those listed with a leading "-" are removed
        # (bot.services.roles: open cases back to the queue, the access log); others stay.
        user_ids = [users[r.key].id for r in records]
        granted: set[tuple[int, str, str, int]] = set()
        for chunk in _chunks(user_ids):
            result = await self.session.execute(
                select(RoleGrant.user_id, RoleGrant.role, RoleGrant.scope_type, RoleGrant.scope_id)
                .where(RoleGrant.user_id.in_(chunk))
            )
            granted.update((u, str(role), str(scope_type), s) for u, role, scope_type, s in result)
        for r in records:
            user = users[r.key]
            for role, scope in r.roles:
                scope_type = ROLE_SCOPE[role]
                scope_id = self._scope_id(role, scope)
                key = (user.id, str(role), str(scope_type), scope_id)
                if key in granted:
                    continue
                granted.add(key)
                grant = RoleGrant(user_id=user.id, role=role, scope_type=scope_type, scope_id=scope_id,
                                  granted_at=self.now)
                self.session.add(grant)
                await audit.record_grant(self.session, AccessAction.role_granted, grant, actor_id=None,
                                         scope_code=scope, how="import", at=self.now)
                if self.status["people"][r.key] == "unchanged":
                    self.status["people"][r.key] = "updated"
        await self.session.flush()
        for r in records:
            if not r.removed_roles:
                continue
            user = users[r.key]
            await self.session.refresh(user, ["roles"])
            removals = [(role, self._scope_id(role, scope)) for role, scope in r.removed_roles]
            if await revoke_listed(self.session, _settings(), user, removals, how="import", now=self.now) \
                    and self.status["people"][r.key] == "unchanged":
                self.status["people"][r.key] = "updated"


def _settings() -> Settings:
    """The deployment's settings (for the notices a removed role causes); defaults when they do not load."""
    try:
        return load_settings()
    except ConfigError:
        return Settings.model_construct()


def _display_tz() -> ZoneInfo:
    """The deployment's DISPLAY_TZ (a household's visit days are local days)."""
    try:
        return load_settings().tz
    except ConfigError:
        return ZoneInfo("Asia/Shanghai")


def _sorted_errors(errors: list[RowError], src: Source) -> list[RowError]:
    if src.single_table:
        return sorted(errors, key=lambda e: e.row)
    rank: dict[str, int] = {}
    for raw in src.rows:
        rank.setdefault(raw.sheet, len(rank))
    return sorted(errors, key=lambda e: (e.row != 0, rank.get(e.sheet, len(rank)), e.row))


async def _run(
    sessionmaker: async_sessionmaker[AsyncSession], src: Source, source_name: str, *, commit: bool
) -> ImportReport:
    records, errors = _parse_all(src)
    errors = [*src.errors, *errors]
    if not src.rows and not errors:
        errors.append(RowError("", 0, "nothing to import: the file has no rows"))
    # One transaction: the checks against the database and every write.
    async with sessionmaker() as session:
        known = await _resolve(session, records, errors)
        if errors:
            raise ImportFailed(_sorted_errors(errors, src), source_name)
        report = await _Applier(session, records, known).run()
        if commit:
            await session.commit()
        else:
            await session.rollback()
    report.source = source_name
    report.ignored_sheets = list(src.ignored_sheets)
    return report
