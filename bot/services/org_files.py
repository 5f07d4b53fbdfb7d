"""Reading an organisation file (XLSX workbook, CSV or YAML) into raw rows.

Blocking: :mod:`bot.services.org_import` runs it in a thread, then checks
and applies the rows.  Each row keeps its sheet and line, so that every
error names where it is.
"""

from __future__ import annotations

import csv
import io
import zipfile
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

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
    RowError,
    is_blank,
    normalize_column,
    normalize_sheet,
)


@dataclass
class Source:
    rows: list[RawRow] = field(default_factory=list)
    errors: list[RowError] = field(default_factory=list)
    ignored_sheets: list[str] = field(default_factory=list)
    single_table: bool = False  # CSV: errors are sorted by row alone


def read_any(path: Path) -> Source:
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
    import openpyxl  # only for workbooks: the bot itself never loads it
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

_YAML_CHILDREN = {"districts": ("communities",), "communities": ("grids", "stations", "alliances"),
                  "grids": ("buildings",),
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
