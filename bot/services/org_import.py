"""Import the district's structure: districts, communities, grids, buildings,
departments, the service catalogue, stations and (optionally) people and the
household ledger (households with their tags and visit intervals).

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
import csv
import io
import zipfile
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import yaml
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm import InstrumentedAttribute

from bot.services.org_schema import (
    COLUMNS,
    DAYS,
    IGNORED_COLUMNS,
    IGNORED_SHEETS,
    LOCALE_SUFFIX,
    PARENT,
    REQUIRED_COLUMNS,
    SHEETS,
    RawRow,
    Record,
    RowError,
    is_blank,
    normalize_column,
    normalize_sheet,
    parse_row,
)
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
from models.users import ROLE_SCOPE, RoleGrant, ScopeType, User

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
    "people": User,
    "households": Household,
}
_PARENT_FK = {
    "communities": "district_id", "grids": "community_id", "buildings": "grid_id", "stations": "community_id",
    "households": "building_id",
}
_SCOPE_SHEET = {
    ScopeType.grid: "grids",
    ScopeType.community: "communities",
    ScopeType.department: "departments",
    ScopeType.district: "districts",
}
_SINGULAR = {
    "districts": "district", "communities": "community", "grids": "grid", "buildings": "building",
    "departments": "department", "services": "service", "stations": "station", "people": "person",
    "households": "household",
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
    source = await asyncio.to_thread(_read_any, path)
    return await _run(sessionmaker, source, path.name, commit=True)


async def check_org_file(sessionmaker: async_sessionmaker[AsyncSession], path: Path) -> ImportReport:
    """Like :func:`import_org_file` but rolls back: a dry run that reports what would change."""
    path = Path(path)
    source = await asyncio.to_thread(_read_any, path)
    return await _run(sessionmaker, source, path.name, commit=False)


async def seed_demo(sessionmaker: async_sessionmaker[AsyncSession], path: Path | None = None) -> ImportReport:
    """Load the demo district (``data/demo_district.yaml`` unless ``path`` is given).

    Idempotent: a second run finds everything unchanged.
    """
    path = Path(path) if path is not None else DEMO_PATH
    source = await asyncio.to_thread(read_yaml, path)
    return await _run(sessionmaker, source, path.name, commit=True)


# --------------------------------------------------------------------------
# Reading sources into raw rows (blocking; run in a thread)


@dataclass
class Source:
    rows: list[RawRow] = field(default_factory=list)
    errors: list[RowError] = field(default_factory=list)
    ignored_sheets: list[str] = field(default_factory=list)
    single_table: bool = False  # CSV: errors are sorted by row alone


def _read_any(path: Path) -> Source:
    readers: dict[str, Callable[[Path], Source]] = {
        ".xlsx": read_xlsx, ".xlsm": read_xlsx, ".csv": read_csv, ".yaml": read_yaml, ".yml": read_yaml,
    }
    reader = readers.get(path.suffix.lower())
    if reader is None:
        return Source(errors=[RowError("", 0, f"unsupported file type {path.suffix!r}: use .xlsx or .csv")])
    return reader(path)


def _header(sheet: str, cells: Iterable[Any], allowed: Iterable[str], errors: list[RowError]) -> list[str | None]:
    """Column keys of a header row (None for a column to skip); reports bad headers on row 1."""
    allowed = set(allowed)
    columns: list[str | None] = []
    seen: set[str] = set()
    for cell in cells:
        column = normalize_column(cell)
        if column is None or column in IGNORED_COLUMNS:
            columns.append(None)
        elif column not in allowed:
            errors.append(RowError(sheet, 1, f"unknown column {str(cell).strip()!r}"))
            columns.append(None)
        elif column in seen:
            errors.append(RowError(sheet, 1, f"column {column!r} appears twice"))
            columns.append(None)
        else:
            seen.add(column)
            columns.append(column)
    return columns


def _missing_columns(sheet: str, columns: Iterable[str | None], errors: list[RowError]) -> None:
    present = set(columns)
    if sheet == "households" and "name" in present:
        present.add("label")  # ``name`` stands for ``label``
    for column in REQUIRED_COLUMNS[sheet]:
        if column not in present:
            errors.append(RowError(sheet, 1, f"missing column {column!r}"))


def read_xlsx(path: Path) -> Source:
    import openpyxl
    from openpyxl.utils.exceptions import InvalidFileException

    src = Source()
    try:
        workbook = openpyxl.load_workbook(path, read_only=True, data_only=True)
    except (InvalidFileException, zipfile.BadZipFile, KeyError, OSError) as exc:
        src.errors.append(RowError("", 0, f"cannot open {path.name} as an Excel workbook: {exc}"))
        return src
    titles: dict[str, str] = {}
    try:
        for worksheet in workbook.worksheets:
            sheet = normalize_sheet(worksheet.title)
            if sheet is None:
                title = worksheet.title.strip()
                if title.lower() in IGNORED_SHEETS or title.startswith(("_", "#")):
                    src.ignored_sheets.append(worksheet.title)
                else:
                    src.errors.append(RowError(title, 0, (
                        f"unknown sheet {title!r}; use {', '.join(SHEETS)} "
                        "(start a sheet's name with '_' to have it skipped)"
                    )))
                continue
            if sheet in titles:
                message = f"sheets {titles[sheet]!r} and {worksheet.title!r} are the same sheet"
                src.errors.append(RowError(sheet, 0, message))
                continue
            titles[sheet] = worksheet.title
            # Some writers record wrong dimensions; read what is there.
            reset = getattr(worksheet, "reset_dimensions", None)
            if reset is not None:
                reset()
            rows = worksheet.iter_rows(values_only=True)
            header = next(rows, None)
            if header is None:
                continue
            columns = _header(sheet, header, COLUMNS[sheet], src.errors)
            _missing_columns(sheet, columns, src.errors)
            for number, cells in enumerate(rows, start=2):
                if all(is_blank(cell) for cell in cells):
                    continue
                values = {col: cells[i] for i, col in enumerate(columns) if col and i < len(cells)}
                src.rows.append(RawRow(sheet, number, values, tabular=True))
    finally:
        workbook.close()
    if not titles and not src.errors:
        known = ", ".join(SHEETS)
        src.errors.append(RowError("", 0, f"no known sheet in {path.name}; name the sheets {known}"))
    return src


def _decode(data: bytes) -> str | None:
    # Excel saves "CSV UTF-8" with a BOM; plain "CSV" from a Chinese Excel is GB18030.
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            return data.decode(encoding)
        except UnicodeDecodeError:
            continue
    return None


def read_csv(path: Path) -> Source:
    src = Source(single_table=True)
    try:
        text = _decode(path.read_bytes())
    except OSError as exc:
        src.errors.append(RowError("csv", 0, f"cannot read {path.name}: {exc}"))
        return src
    if text is None:
        src.errors.append(RowError("csv", 0, "the file is neither UTF-8 nor GB18030 text"))
        return src
    first_line = text.split("\n", 1)[0]
    delimiter = max((",", ";", "\t"), key=first_line.count)
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    header = next(reader, None)
    if header is None:
        src.errors.append(RowError("csv", 0, "the file is empty"))
        return src
    every_column = {"sheet", *(column for columns in COLUMNS.values() for column in columns)}
    columns = _header("csv", header, every_column, src.errors)
    if "sheet" not in columns:
        src.errors.append(RowError("csv", 1, "missing column 'sheet' (the entity type of each row)"))
        return src
    sheet_index = columns.index("sheet")
    sheets_seen: list[str] = []
    for number, cells in enumerate(reader, start=2):
        if all(is_blank(cell) for cell in cells):
            continue
        name = cells[sheet_index] if sheet_index < len(cells) else None
        sheet = normalize_sheet(name)
        if sheet is None:
            known = ", ".join(SHEETS)
            src.errors.append(RowError("csv", number, f"unknown sheet {name!r}; use one of {known}"))
            continue
        if sheet not in sheets_seen:
            sheets_seen.append(sheet)
        values = {
            col: cells[i] for i, col in enumerate(columns) if col and col != "sheet" and i < len(cells)
        }
        src.rows.append(RawRow(sheet, number, values, tabular=True))
    for sheet in sheets_seen:
        _missing_columns(sheet, columns, src.errors)
    return src


# YAML: every mapping remembers the line it starts on, reported as its "row".
_LINE = "__line__"


class _LineLoader(yaml.SafeLoader):
    pass


def _mapping_with_line(loader: yaml.SafeLoader, node: yaml.MappingNode) -> dict[Any, Any]:
    mapping = loader.construct_mapping(node, deep=True)
    mapping[_LINE] = node.start_mark.line + 1
    return mapping


_LineLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _mapping_with_line)

_YAML_CHILDREN = {"districts": ("communities",), "communities": ("grids", "stations"), "grids": ("buildings",),
                  "buildings": ("households",)}
_YAML_LOCALIZED = {"names": "name", "descriptions": "description"}


def read_yaml(path: Path) -> Source:
    src = Source()
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        src.errors.append(RowError("yaml", 0, f"cannot read {path}: {exc}"))
        return src
    try:
        document = yaml.load(text, Loader=_LineLoader)  # noqa: S506 (a SafeLoader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        problem = getattr(exc, "problem", None) or str(exc)
        src.errors.append(RowError("yaml", mark.line + 1 if mark else 0, f"not valid YAML: {problem}"))
        return src
    rows_from_yaml(document, src)
    return src


def rows_from_yaml(document: Any, src: Source) -> Source:
    """Flatten the YAML document (nested or flat lists) into raw rows."""
    if not isinstance(document, dict):
        src.errors.append(RowError("yaml", 0, "expected a mapping with districts, communities, ... at the top"))
        return src
    for key, value in document.items():
        if key == _LINE:
            continue
        if key == "version":
            if value != 1:
                src.errors.append(RowError("yaml", 0, f"unsupported version {value!r} (expected 1)"))
            continue
        sheet = normalize_sheet(key)
        if sheet is None:
            src.errors.append(RowError("yaml", 0, f"unknown top-level key {key!r}; use {', '.join(SHEETS)}"))
            continue
        _yaml_items(sheet, value, None, src, 0)
    return src


def _yaml_items(sheet: str, items: Any, parent: str | None, src: Source, line: int) -> None:
    if items is None:
        return
    if not isinstance(items, list):
        src.errors.append(RowError(sheet, line, f"{sheet} must be a list"))
        return
    for item in items:
        if not isinstance(item, dict):
            src.errors.append(RowError(sheet, line, f"expected a mapping, got {item!r}"))
            continue
        item = dict(item)
        row = int(item.pop(_LINE, line))
        values: dict[str, Any] = {}
        children: list[tuple[str, Any]] = []
        for key, value in item.items():
            key = str(key)
            prefix = _YAML_LOCALIZED.get(key) or ("address" if key == "address" and sheet == "stations" else None)
            if key in _YAML_CHILDREN.get(sheet, ()):
                children.append((key, value))
            elif prefix and isinstance(value, dict):
                for locale, text in value.items():
                    if locale == _LINE:
                        continue
                    suffix = LOCALE_SUFFIX.get(str(locale))
                    if suffix is None:
                        src.errors.append(RowError(sheet, row, f"{key}: unknown locale {locale!r}"))
                    else:
                        values[f"{prefix}_{suffix}"] = text
            elif key == "opening_hours" and isinstance(value, dict):
                for day, ranges in value.items():
                    if day == _LINE:
                        continue
                    if day not in DAYS:
                        src.errors.append(RowError(sheet, row, f"opening_hours: unknown day {day!r}"))
                    else:
                        values[f"hours_{day}"] = ranges
            elif key in _YAML_LOCALIZED or key == "opening_hours":
                src.errors.append(RowError(sheet, row, f"{key}: expected a mapping"))
            else:
                values[key] = value
        if parent is not None:
            column = PARENT[sheet][0]
            given = values.get(column)
            if not is_blank(given) and str(given).strip().upper() != parent.strip().upper():
                src.errors.append(RowError(sheet, row, f"{column}: {given!r} is not the enclosing {parent!r}"))
            values[column] = parent
        src.rows.append(RawRow(sheet, row, values))
        code = values.get("code")
        for child_sheet, child_items in children:
            _yaml_items(child_sheet, child_items, None if is_blank(code) else str(code), src, row)


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


@dataclass
class _Known:
    """Rows the file refers to but does not define, as found in the database."""

    ids: dict[str, dict[str, int]] = field(default_factory=lambda: {sheet: {} for sheet in SHEETS})
    building_grid: dict[str, int] = field(default_factory=dict)


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
        refs.extend((r, f"roles ({role.value})", _SCOPE_SHEET[ROLE_SCOPE[role]], scope) for role, scope in r.roles)

    wanted: dict[str, set[str]] = {sheet: set() for sheet in SHEETS}
    for _, _, target, code in refs:
        if code not in defined[target]:
            wanted[target].add(code)
    known = _Known()
    for sheet, codes in wanted.items():
        if not codes:
            continue
        model = _MODELS[sheet]
        columns = (model.code, model.id, Building.grid_id) if sheet == "buildings" else (model.code, model.id)
        for chunk in _chunks(sorted(codes)):
            for row in await session.execute(select(*columns).where(model.code.in_(chunk))):
                known.ids[sheet][row[0]] = row[1]
                if sheet == "buildings":
                    known.building_grid[row[0]] = row[2]
    for r, column, target, code in refs:
        if code not in defined[target] and code not in known.ids[target]:
            errors.append(RowError(r.sheet, r.row, f"{column}: unknown {_SINGULAR[target]} code {code!r}"))
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
        station_ids = [stations[r.key].id for r in records]
        links: dict[int, dict[int, StationService]] = {sid: {} for sid in station_ids}
        for chunk in _chunks(station_ids):
            result = await self.session.execute(select(StationService).where(StationService.station_id.in_(chunk)))
            for link in result.scalars():
                links[link.station_id][link.service_id] = link
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
        from bot.services.dates import local_day
        from bot.services.diary import refresh_household

        ids = [households[r.key].id for r in records]
        have: dict[int, dict[str, HouseholdTag]] = {hid: {} for hid in ids}
        for chunk in _chunks(ids):
            result = await self.session.execute(select(HouseholdTag).where(HouseholdTag.household_id.in_(chunk)))
            for tag in result.scalars():
                have[tag.household_id][str(tag.tag)] = tag
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
            if changed or status != "unchanged":
                household.updated_at = self.now
                await self.session.flush()
                await refresh_household(self.session, household.id, tz, today)
        await self.session.flush()

    async def _people(self, records: list[Record]) -> None:
        users = await _load(self.session, User, User.telegram_id, [r.key for r in records])
        for r in records:
            values = dict(r.values)
            if r.building_code:
                values["building_id"] = self.ids["buildings"][r.building_code]
                values["grid_id"] = self.building_grid[r.building_code]
            user = users.get(r.key)
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
        await self.session.flush()

        # Role grants are added, never removed here (revoking is done in the bot).
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
                scope_id = self.ids[_SCOPE_SHEET[scope_type]][scope]
                key = (user.id, str(role), str(scope_type), scope_id)
                if key in granted:
                    continue
                granted.add(key)
                self.session.add(RoleGrant(
                    user_id=user.id, role=role, scope_type=scope_type, scope_id=scope_id, granted_at=self.now,
                ))
                if self.status["people"][r.key] == "unchanged":
                    self.status["people"][r.key] = "updated"
        await self.session.flush()


def _display_tz() -> ZoneInfo:
    """The deployment's DISPLAY_TZ (a household's visit days are local days)."""
    from bot.config import ConfigError, load_settings

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
