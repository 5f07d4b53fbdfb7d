"""The columns of an organisation import and the checks on one row.

Nothing here touches the database.  A source file (workbook, CSV, YAML) is
read into :class:`RawRow` objects; :func:`parse_row` turns one into a
:class:`Record` (values ready for the ORM model) and the errors found in it.
Checks that need other rows or the database (duplicates, parent codes) live in
:mod:`bot.services.org_import`.  The columns are documented in
``docs/import-org.md``; keep the two in step.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from datetime import date, datetime, time
from typing import Any

from models.diary import CareTag
from models.org import GridKind, ServiceKind
from models.users import Role

LOCALES: tuple[str, ...] = ("zh-Hans", "zh-Hant", "en")
# Column suffix per locale: name_zh_hans, name_zh_hant, name_en.
LOCALE_SUFFIX: dict[str, str] = {"zh-Hans": "zh_hans", "zh-Hant": "zh_hant", "en": "en"}
DAYS: tuple[str, ...] = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")

# Entity types in the order they are applied (parents first).
SHEETS: tuple[str, ...] = (
    "districts", "communities", "grids", "buildings", "departments", "services", "stations", "alliances", "people",
    "households",
)

# sheet -> (column holding the parent's code, the parent's sheet)
PARENT: dict[str, tuple[str, str]] = {
    "communities": ("district_code", "districts"),
    "grids": ("community_code", "communities"),
    "buildings": ("grid_code", "grids"),
    "stations": ("community_code", "communities"),
    "alliances": ("community_code", "communities"),
    "households": ("building_code", "buildings"),
}

# Other spellings accepted for a sheet name (or the CSV `sheet` column).
SHEET_ALIASES: dict[str, str] = {
    "district": "districts",
    "community": "communities",
    "grid": "grids",
    "building": "buildings",
    "station": "stations",
    "department": "departments",
    "service": "services",
    "person": "people",
    "household": "households",
    "alliance": "alliances",
    "alliance_units": "alliances",
}
# Sheets a workbook may carry that this import does not read (yet).
IGNORED_SHEETS: frozenset[str] = frozenset({"readme", "notes"})
# Columns any sheet may have and the import skips.
IGNORED_COLUMNS: frozenset[str] = frozenset({"note", "notes", "comment", "comments"})

CODE_RE = re.compile(r"[A-Z0-9][A-Z0-9_-]{0,31}")
# A unit of a building, the scope of a unit head: the building's code, "/", the unit (1..999).
UNIT_SCOPE_RE = re.compile(r"([A-Z0-9][A-Z0-9_-]{0,31})\s*/\s*([1-9][0-9]{0,2})")
MAX_UNIT = 999
MAX_NAME = 200
MAX_DESCRIPTION = 2000
MAX_INT = 2**31 - 1


def _localized(prefix: str) -> tuple[str, ...]:
    return tuple(f"{prefix}_{suffix}" for suffix in LOCALE_SUFFIX.values())


NAME_COLUMNS = _localized("name")
HOURS_COLUMNS = tuple(f"hours_{day}" for day in DAYS)

COLUMNS: dict[str, tuple[str, ...]] = {
    "districts": ("code", *NAME_COLUMNS),
    "communities": ("code", "district_code", *NAME_COLUMNS, "active"),
    "grids": ("code", "community_code", "kind", *NAME_COLUMNS, "latitude", "longitude", "active"),
    "buildings": (
        "code", "grid_code", *NAME_COLUMNS, "address", "units", "latitude", "longitude", "active",
    ),
    "stations": (
        "code", "community_code", *NAME_COLUMNS, *_localized("address"), "phone",
        "latitude", "longitude", *HOURS_COLUMNS, "services", "active",
    ),
    "departments": ("code", *NAME_COLUMNS, "ack_hours", "active"),
    "services": (
        "code", "kind", *NAME_COLUMNS, *_localized("description"),
        "accept_hours", "resolve_hours", "sort_order", "active", "private",
    ),
    "alliances": ("code", "community_code", *NAME_COLUMNS, "contact", "offers", "active"),
    "people": (
        "telegram_id", "first_name", "last_name", "username", "locale", "phone",
        "building_code", "unit", "roles", "party_member", "party_branch", "party_group", "central_household",
    ),
    # ``name`` is accepted for ``label``.
    "households": ("code", "building_code", "unit", "label", "name", "tags", "active"),
}

REQUIRED_COLUMNS: dict[str, tuple[str, ...]] = {
    sheet: (
        ("telegram_id", "first_name")
        if sheet == "people"
        else ("code", "building_code", "label")
        if sheet == "households"
        else ("code", *((PARENT[sheet][0],) if sheet in PARENT else ()), "name_zh_hans")
        + (("kind",) if sheet == "services" else ())
    )
    for sheet in SHEETS
}

# Household tags: their names in the file (the code, or the Chinese word) and
# the visit interval each asks for when the file gives none.
TAG_NAMES: dict[str, CareTag] = {
    **{tag.value: tag for tag in CareTag},
    "独居老人": CareTag.elderly_alone, "獨居老人": CareTag.elderly_alone,
    "残疾人": CareTag.disabled, "殘疾人": CareTag.disabled,
    "困难党员": CareTag.member_hardship, "困難黨員": CareTag.member_hardship,
    "困难家庭": CareTag.family_difficulty, "困難家庭": CareTag.family_difficulty,
    "其他": CareTag.other, "重点关注": CareTag.other, "重點關注": CareTag.other,
}
DEFAULT_INTERVAL: dict[CareTag, int] = {
    CareTag.elderly_alone: 7, CareTag.disabled: 30, CareTag.member_hardship: 30,
    CareTag.family_difficulty: 30, CareTag.other: 30,
}
INTERVAL_NAMES: dict[str, int] = {
    "weekly": 7, "每周": 7, "每週": 7,
    "biweekly": 14, "fortnightly": 14, "每两周": 14, "每兩週": 14, "半月": 14,
    "monthly": 30, "每月": 30,
    "quarterly": 91, "每季度": 91, "每季": 91,
}
MAX_INTERVAL = 366


@dataclass(frozen=True)
class RowError:
    """One problem in the file.

    ``row`` is the row as a person sees it in Excel or a CSV viewer (the header
    is row 1), or the line number in a YAML file; 0 for the file as a whole.
    """

    sheet: str
    row: int
    message: str

    def __str__(self) -> str:
        if self.row:
            return f"{self.sheet or 'file'}, row {self.row}: {self.message}"
        return f"{self.sheet or 'file'}: {self.message}"


@dataclass
class RawRow:
    """One row of a source, cell values as read (text, numbers, lists from YAML)."""

    sheet: str
    row: int
    values: dict[str, Any]
    # True for workbook and CSV rows: a column absent from the header was
    # already reported once on row 1, so it is not reported again per row.
    tabular: bool = False


@dataclass
class Record:
    """One validated (or partly validated) row, ready to be applied.

    ``values`` holds model attributes without foreign keys; fields that keep
    their stored value when the cell is blank are left out.
    """

    sheet: str
    row: int
    key: str | int  # the code, or the Telegram id for people
    values: dict[str, Any] = field(default_factory=dict)
    parent_code: str | None = None
    service_codes: tuple[str, ...] = ()  # stations
    building_code: str | None = None  # people
    roles: tuple[tuple[Role, str], ...] = ()  # people: (role, scope code)
    removed_roles: tuple[tuple[Role, str], ...] = ()  # people: "-role:CODE", a role to take away
    tags: tuple[tuple[CareTag, int], ...] = ()  # households: (tag, visit interval in days)
    party: PartyCells | None = None  # people: the party columns, when any is filled


@dataclass(frozen=True)
class PartyCells:
    """A person's party columns: member (False: no longer one), the grid of their
    party branch and the building of their party group (None: keep), and
    whether their home is a party-member central household (None: keep)."""

    member: bool
    branch_code: str | None
    group_code: str | None
    central: bool | None


def normalize_sheet(name: Any) -> str | None:
    """The canonical sheet name for a sheet title or CSV `sheet` cell."""
    if name is None:
        return None
    key = re.sub(r"[\s-]+", "_", str(name).strip().lower())
    key = SHEET_ALIASES.get(key, key)
    return key if key in COLUMNS else None


def normalize_column(name: Any) -> str | None:
    """A header cell as a column key: lower case, spaces and hyphens as ``_``."""
    if name is None:
        return None
    key = re.sub(r"[\s-]+", "_", str(name).strip().lower())
    return key or None


def is_blank(value: Any) -> bool:
    if value is None:
        return True
    if isinstance(value, str):
        return not value.strip(" \t\r\n\u00a0\u3000")
    if isinstance(value, (list, tuple, dict)):
        return not value
    return False


_SPLIT_LIST = re.compile(r"[,;，；、\s]+")
_SPLIT_RANGES = re.compile(r"[,;，；、\n]+")
_RANGE = re.compile(r"(\d{1,2})[:：](\d{2})\s*[-–—~～至]\s*(\d{1,2})[:：](\d{2})")
_CLOSED = frozenset({"closed", "休息", "闭馆", "閉館", "-", "—"})
_TRUE = frozenset({"1", "true", "yes", "y", "是", "t"})
_FALSE = frozenset({"0", "false", "no", "n", "否", "f"})


def parse_time_ranges(value: Any) -> list[str]:
    """``"8:30-11:30, 13:30-17:00"`` (or a list) as ``["08:30-11:30", "13:30-17:00"]``.

    Raises :class:`ValueError` with a message for a person.
    """
    if is_blank(value):
        return []
    if isinstance(value, (list, tuple)):
        parts = [str(p).strip() for p in value if not is_blank(p)]
    elif isinstance(value, str):
        parts = [p.strip() for p in _SPLIT_RANGES.split(value) if p.strip()]
    else:
        raise ValueError(f"expected time ranges like 08:30-11:30, got {value!r}")
    if len(parts) == 1 and parts[0].lower() in _CLOSED:
        return []
    spans: list[tuple[int, int]] = []
    for part in parts:
        m = _RANGE.fullmatch(part)
        if not m:
            raise ValueError(f"bad time range {part!r}; write it like 08:30-11:30")
        h1, m1, h2, m2 = (int(g) for g in m.groups())
        if h1 > 23 or m1 > 59 or h2 > 24 or m2 > 59 or (h2 == 24 and m2):
            raise ValueError(f"bad time in {part!r}")
        start, end = h1 * 60 + m1, h2 * 60 + m2
        if start >= end:
            raise ValueError(f"time range {part!r} ends before it starts")
        spans.append((start, end))
    spans.sort()
    for (_, end), (start, _) in zip(spans, spans[1:], strict=False):
        if start < end:
            raise ValueError(f"time ranges overlap: {value!r}")
    return [f"{s // 60:02d}:{s % 60:02d}-{e // 60:02d}:{e % 60:02d}" for s, e in spans]


class _Cells:
    """Reads the cells of one raw row, collecting every problem found."""

    def __init__(self, raw: RawRow) -> None:
        self.raw = raw
        self.errors: list[RowError] = []

    def error(self, column: str | None, message: str) -> None:
        text = f"{column}: {message}" if column else message
        self.errors.append(RowError(self.raw.sheet, self.raw.row, text))

    def get(self, column: str) -> Any:
        value = self.raw.values.get(column)
        if is_blank(value):
            return None
        if isinstance(value, str):
            return value.strip(" \t\r\n\u00a0\u3000")
        return value

    def _missing(self, column: str) -> None:
        # A column missing from the header was reported once, on row 1.
        if not (self.raw.tabular and column not in self.raw.values):
            self.error(column, "is required")

    def text(self, column: str, *, required: bool = False, max_len: int | None = None) -> str | None:
        value = self.get(column)
        if value is None:
            if required:
                self._missing(column)
            return None
        if isinstance(value, bool) or isinstance(value, (datetime, date, time)):
            self.error(column, f"expected text, got {value!r}")
            return None
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        if isinstance(value, (list, dict)):
            self.error(column, "expected text, got a list")
            return None
        text = str(value)
        if max_len is not None and len(text) > max_len:
            self.error(column, f"is longer than {max_len} characters")
            return None
        return text

    def code(self, column: str, *, required: bool = True) -> str | None:
        text = self.text(column, required=required)
        if text is None:
            return None
        code = text.upper()
        if not CODE_RE.fullmatch(code):
            self.error(column, f"bad code {text!r}: use 1-32 letters, digits, '-' or '_'")
            return None
        return code

    def integer(self, column: str, *, default: int | None, minimum: int = 0, maximum: int = MAX_INT,
                required: bool = False) -> int | None:
        value = self.get(column)
        if value is None:
            if required:
                self._missing(column)
            return default
        number: int | None = None
        if isinstance(value, bool):
            number = None
        elif isinstance(value, int):
            number = value
        elif isinstance(value, float) and value.is_integer():
            number = int(value)
        elif isinstance(value, str) and re.fullmatch(r"[+-]?\d+(\.0*)?", value):
            number = int(value.split(".")[0])
        if number is None:
            self.error(column, f"not a whole number: {value!r}")
            return default
        if not minimum <= number <= maximum:
            self.error(column, f"{number} is out of range ({minimum}..{maximum})")
            return default
        return number

    def number(self, column: str, *, minimum: float, maximum: float) -> float | None:
        value = self.get(column)
        if value is None:
            return None
        try:
            if isinstance(value, bool):
                raise ValueError
            number = float(value)
        except (TypeError, ValueError):
            self.error(column, f"not a number: {value!r}")
            return None
        if not math.isfinite(number) or not minimum <= number <= maximum:
            self.error(column, f"{number} is out of range ({minimum}..{maximum})")
            return None
        return number

    def boolean(self, column: str) -> bool | None:
        value = self.get(column)
        if value is None:
            return None
        if isinstance(value, bool):
            return value
        key = str(int(value) if isinstance(value, float) and value.is_integer() else value).lower()
        if key in _TRUE:
            return True
        if key in _FALSE:
            return False
        self.error(column, f"expected true or false, got {value!r}")
        return None

    def choice(self, column: str, enum_cls: type[GridKind] | type[ServiceKind], *,
               default: Any = None, required: bool = False) -> Any:
        text = self.text(column, required=required)
        if text is None:
            return default
        try:
            return enum_cls(text.strip().lower())
        except ValueError:
            allowed = ", ".join(member.value for member in enum_cls)
            self.error(column, f"unknown kind {text!r}; use one of {allowed}")
            return default

    def localized(self, prefix: str, *, required: bool, max_len: int = MAX_NAME) -> dict[str, str]:
        out: dict[str, str] = {}
        for locale, suffix in LOCALE_SUFFIX.items():
            text = self.text(f"{prefix}_{suffix}", max_len=max_len)
            if text:
                out[locale] = text
        if required and "zh-Hans" not in out:
            self._missing(f"{prefix}_zh_hans")
        return out

    def code_list(self, column: str) -> tuple[str, ...]:
        value = self.get(column)
        if value is None:
            return ()
        items = value if isinstance(value, (list, tuple)) else _SPLIT_LIST.split(str(value))
        codes: list[str] = []
        for item in items:
            if is_blank(item):
                continue
            code = str(item).strip().upper()
            if not CODE_RE.fullmatch(code):
                self.error(column, f"bad code {item!r}")
            elif code not in codes:
                codes.append(code)
        return tuple(codes)

    def hours(self) -> dict[str, list[str]]:
        out: dict[str, list[str]] = {}
        for day in DAYS:
            column = f"hours_{day}"
            try:
                out[day] = parse_time_ranges(self.get(column))
            except ValueError as exc:
                self.error(column, str(exc))
                out[day] = []
        return out

    def locale(self, column: str) -> str | None:
        text = self.text(column)
        if text is None:
            return None
        wanted = text.replace("_", "-").lower()
        for locale in LOCALES:
            if locale.lower() == wanted:
                return locale
        self.error(column, f"unknown locale {text!r}; use one of {', '.join(LOCALES)}")
        return None

    def roles(self, column: str) -> tuple[tuple[tuple[Role, str], ...], tuple[tuple[Role, str], ...]]:
        """(grants to add, grants to remove): ``worker:DC-XS-01; -staff:DC-XS`` (a leading
        ``-`` removes the role)."""
        value = self.get(column)
        if value is None:
            return (), ()
        items: list[Any]
        if isinstance(value, (list, tuple)):
            items = list(value)
        else:
            items = [p for p in re.split(r"[;,；，\n]+", str(value)) if p.strip()]
        out: list[tuple[Role, str]] = []
        removed: list[tuple[Role, str]] = []
        for item in items:
            if isinstance(item, dict):
                role_text, scope_text = item.get("role"), item.get("scope")
            else:
                role_text, _, scope_text = str(item).replace("：", ":").partition(":")
            role_key = str(role_text or "").strip().lower()
            remove = role_key.startswith(("-", "－"))
            role_key = role_key.lstrip("-－").strip()
            scope = str(scope_text or "").strip().upper()
            try:
                role = Role(role_key)
            except ValueError:
                allowed = ", ".join(r.value for r in Role)
                self.error(column, f"unknown role {role_key!r}; use one of {allowed}")
                continue
            if role == Role.unit_head:
                unit = UNIT_SCOPE_RE.fullmatch(scope)
                if unit is None:
                    self.error(column, f"role {role.value} needs a building code and unit, like "
                                       f"{role.value}:CODE/2")
                    continue
                scope = f"{unit.group(1)}/{int(unit.group(2))}"
            elif not CODE_RE.fullmatch(scope):
                self.error(column, f"role {role.value} needs a scope code, like {role.value}:CODE")
                continue
            target = removed if remove else out
            if (role, scope) not in target:
                target.append((role, scope))
        for pair in set(out) & set(removed):
            self.error(column, f"role {pair[0].value}:{pair[1]} is both given and removed")
        return tuple(out), tuple(removed)

    def tags(self, column: str) -> tuple[tuple[CareTag, int], ...]:
        """``elderly_alone:weekly; disabled:30`` (or a YAML mapping / list) as (tag, days) pairs."""
        value = self.get(column)
        if value is None:
            return ()
        items: list[tuple[Any, Any]] = []
        if isinstance(value, dict):
            items = [(k, v) for k, v in value.items() if k != "__line__"]
        else:
            parts = value if isinstance(value, (list, tuple)) else re.split(r"[;；,，、\n]+", str(value))
            for part in parts:
                if isinstance(part, dict):
                    items.extend((k, v) for k, v in part.items() if k != "__line__")
                elif not is_blank(part):
                    tag_text, _, every = str(part).replace("：", ":").partition(":")
                    items.append((tag_text, every))
        out: dict[CareTag, int] = {}
        for tag_text, every in items:
            key = re.sub(r"[\s-]+", "_", str(tag_text or "").strip()).lower()
            tag = TAG_NAMES.get(key) or TAG_NAMES.get(str(tag_text or "").strip())
            if tag is None:
                allowed = ", ".join(t.value for t in CareTag)
                self.error(column, f"unknown tag {str(tag_text).strip()!r}; use one of {allowed}")
                continue
            days = self._interval(column, every, tag)
            if days is None:
                continue
            if tag in out:
                self.error(column, f"tag {tag.value} is given twice")
                continue
            out[tag] = days
        return tuple(out.items())

    def _interval(self, column: str, every: Any, tag: CareTag) -> int | None:
        if is_blank(every):
            return DEFAULT_INTERVAL[tag]
        if isinstance(every, bool):
            every = str(every)
        if isinstance(every, float) and every.is_integer():
            every = int(every)
        if isinstance(every, int):
            days: int | None = every
        else:
            text = str(every).strip().lower()
            days = INTERVAL_NAMES.get(text)
            if days is None:
                m = re.fullmatch(r"(\d{1,3})\s*(d|days?|天)?", text)
                days = int(m.group(1)) if m else None
        if days is None:
            self.error(column, f"{tag.value}: bad visit interval {every!r}; use weekly, biweekly, monthly, "
                               "quarterly or a number of days")
            return None
        if not 1 <= days <= MAX_INTERVAL:
            self.error(column, f"{tag.value}: {days} days is out of range (1..{MAX_INTERVAL})")
            return None
        return days


def _check_columns(raw: RawRow, cells: _Cells) -> None:
    allowed = COLUMNS[raw.sheet]
    for column, value in raw.values.items():
        if column in allowed or column in IGNORED_COLUMNS or is_blank(value):
            continue
        cells.error(None, f"column {column!r} does not belong to sheet {raw.sheet!r}")


def parse_row(raw: RawRow) -> tuple[Record | None, list[RowError]]:
    """Check one row.  The record is returned whenever its key could be read,
    even if other cells are wrong, so that other rows can still refer to it."""
    cells = _Cells(raw)
    _check_columns(raw, cells)
    sheet = raw.sheet
    record: Record | None
    if sheet == "people":
        record = _parse_person(cells)
    elif sheet == "households":
        record = _parse_household(cells)
    else:
        record = _parse_org(cells)
    return record, cells.errors


def _parse_org(c: _Cells) -> Record | None:
    sheet = c.raw.sheet
    code = c.code("code")
    values: dict[str, Any] = {"names": c.localized("name", required=True)}
    parent = c.code(PARENT[sheet][0]) if sheet in PARENT else None
    lat_lon = sheet in ("grids", "buildings", "stations")
    if lat_lon:
        values["latitude"] = c.number("latitude", minimum=-90, maximum=90)
        values["longitude"] = c.number("longitude", minimum=-180, maximum=180)
    if sheet == "grids":
        values["kind"] = c.choice("kind", GridKind, default=GridKind.residential)
    elif sheet == "buildings":
        values["address"] = c.text("address", max_len=200)
        values["units"] = c.integer("units", default=1, minimum=1, maximum=999)
    elif sheet == "stations":
        values["address"] = c.localized("address", required=False)
        values["phone"] = c.text("phone", max_len=32)
        values["opening_hours"] = c.hours()
    elif sheet == "alliances":
        values["contact"] = c.text("contact", max_len=200)
        values["offers"] = c.text("offers", max_len=MAX_DESCRIPTION)
    elif sheet == "departments":
        values["ack_hours"] = c.integer("ack_hours", default=4, minimum=1, maximum=10_000)
    elif sheet == "services":
        values["kind"] = c.choice("kind", ServiceKind, required=True)
        values["descriptions"] = c.localized("description", required=False, max_len=MAX_DESCRIPTION)
        accept = c.integer("accept_hours", default=4, minimum=0, maximum=10_000)
        resolve = c.integer("resolve_hours", default=40, minimum=1, maximum=10_000)
        if accept is not None and resolve is not None and accept > resolve:
            c.error("accept_hours", f"{accept} is more than resolve_hours {resolve}")
        values["accept_hours"], values["resolve_hours"] = accept, resolve
        values["sort_order"] = c.integer("sort_order", default=0, minimum=-MAX_INT, maximum=MAX_INT)
        private = c.boolean("private")  # its cases never published (Open311, docs/open311.md)
        if private is not None:  # blank: keep what the database has
            values["private"] = private
    if sheet != "districts":
        active = c.boolean("active")
        if active is not None:  # blank: keep what the database has
            values["active"] = active
    service_codes = c.code_list("services") if sheet == "stations" else ()
    if code is None:
        return None
    return Record(
        sheet=sheet, row=c.raw.row, key=code, values=values, parent_code=parent,
        service_codes=service_codes,
    )


def _parse_person(c: _Cells) -> Record | None:
    telegram_id = c.integer("telegram_id", default=None, minimum=1, maximum=2**63 - 1, required=True)
    values: dict[str, Any] = {
        "first_name": c.text("first_name", required=True, max_len=128),
        "last_name": c.text("last_name", max_len=128),
        "username": _username(c),
        "locale": c.locale("locale"),
        "phone": c.text("phone", max_len=32),
    }
    building = c.code("building_code", required=False)
    values["unit"] = c.integer("unit", default=None, minimum=1, maximum=MAX_UNIT)
    if values["unit"] is not None and building is None:
        c.error("unit", "needs building_code")
    roles, removed_roles = c.roles("roles")
    party = _parse_party(c)
    if telegram_id is None:
        return None
    # Blank cells keep what the person may have set in the bot themselves.
    values = {k: v for k, v in values.items() if v is not None}
    return Record(
        sheet="people", row=c.raw.row, key=telegram_id, values=values,
        building_code=building, roles=roles, removed_roles=removed_roles, party=party,
    )


def _parse_party(c: _Cells) -> PartyCells | None:
    """The party columns of a person: None when all are blank (nothing changes)."""
    member = c.boolean("party_member")
    branch = c.code("party_branch", required=False)
    group = c.code("party_group", required=False)
    central = c.boolean("central_household")
    if member is None and branch is None and group is None and central is None:
        return None
    if member is False and (branch or group or central):
        c.error("party_member", "is no, but party_branch, party_group or central_household is given")
    return PartyCells(member is not False, branch, group, central)


def _username(c: _Cells) -> str | None:
    text = c.text("username")
    if text is None:
        return None
    name = text.lstrip("@")
    if not re.fullmatch(r"[A-Za-z0-9_]{1,64}", name):
        c.error("username", f"bad Telegram username {text!r}")
        return None
    return name


def _parse_household(c: _Cells) -> Record | None:
    code = c.code("code")
    building = c.code("building_code")
    label = c.text("label", max_len=100)
    name = c.text("name", max_len=100)
    if label is not None and name is not None and label != name:
        c.error("name", "differs from label; give one of them")
    label = label or name
    if label is None:
        values = c.raw.values
        if not (c.raw.tabular and "label" not in values and "name" not in values):
            c.error("label", "is required")
    values: dict[str, Any] = {"unit": c.text("unit", max_len=32), "label": label}
    active = c.boolean("active")
    if active is not None:  # blank: keep what the database has
        values["active"] = active
    tags = c.tags("tags")
    if code is None:
        return None
    return Record(sheet="households", row=c.raw.row, key=code, values=values, parent_code=building, tags=tags)
