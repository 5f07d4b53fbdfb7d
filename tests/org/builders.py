"""Build organisation workbooks and CSV files for the tests, and the examples.

``python -m tests.org.builders`` rewrites ``examples/org_workbook.xlsx`` and
``examples/org_workbook.csv`` from ``data/demo_district.yaml``; a test checks
that the three stay in step.
"""

from __future__ import annotations

import csv
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from openpyxl import Workbook
from openpyxl.styles import Font

from bot.services.org_files import read_yaml
from bot.services.org_import import DEMO_PATH
from bot.services.org_schema import COLUMNS, DAYS, SHEETS

REPO = Path(__file__).resolve().parents[2]
EXAMPLE_XLSX = REPO / "examples" / "org_workbook.xlsx"
EXAMPLE_CSV = REPO / "examples" / "org_workbook.csv"

Sheets = dict[str, list[dict[str, Any]]]

README_LINES = [
    "Organisation workbook for gridbot's import-org.",
    "One sheet per entity type: districts, communities, grids, buildings, departments, services, stations, "
    "alliances, people, households.",
    "Header on row 1; rows are matched by code (people by telegram_id): a re-import updates, never duplicates.",
    "Sheets whose name starts with '_' (like this one) are skipped.",
    "Columns and formats: docs/import-org.md.",
]


def _cell(column: str, value: Any) -> Any:
    """A YAML value as it is written in a spreadsheet cell."""
    if value is None:
        return None
    if column in {f"hours_{day}" for day in DAYS}:
        return ",".join(value) if isinstance(value, list) else value
    if column == "services" and isinstance(value, list):
        return ";".join(value)
    if column == "roles" and isinstance(value, list):
        return ";".join(f"{item['role']}:{item['scope']}" for item in value)
    if column == "tags" and isinstance(value, dict):
        return ";".join(f"{tag}:{every}" for tag, every in value.items() if tag != "__line__")
    return value


def demo_sheets(path: Path = DEMO_PATH) -> Sheets:
    """The demo district as spreadsheet rows, every column of each sheet present."""
    source = read_yaml(path)
    assert not source.errors, source.errors
    sheets: Sheets = {sheet: [] for sheet in SHEETS}
    for raw in source.rows:
        sheets[raw.sheet].append({column: _cell(column, raw.values.get(column)) for column in COLUMNS[raw.sheet]
                                  if (raw.sheet, column) != ("households", "name")})  # an alias of label
    return sheets


def write_xlsx(path: Path, sheets: Mapping[str, Sequence[Mapping[str, Any]]], *,
               extra_sheets: Mapping[str, Sequence[Sequence[Any]]] | None = None) -> Path:
    """A workbook with one sheet per key; the header is the union of the rows' keys.

    A row that is an empty mapping is written as a blank row.
    """
    workbook = Workbook()
    workbook.remove(workbook.active)
    for title, lines in (extra_sheets or {}).items():
        worksheet = workbook.create_sheet(title)
        for line in lines:
            worksheet.append(list(line))
    for sheet, rows in sheets.items():
        worksheet = workbook.create_sheet(sheet)
        columns = _columns(rows)
        worksheet.append(columns)
        for cell in worksheet[1]:
            cell.font = Font(bold=True)
        worksheet.freeze_panes = "A2"
        for row in rows:
            worksheet.append([row.get(column) for column in columns])
        for index, column in enumerate(columns, start=1):
            width = max([len(str(column))] + [len(str(row.get(column) or "")) for row in rows])
            worksheet.column_dimensions[worksheet.cell(1, index).column_letter].width = min(max(width, 6) + 2, 60)
    path.parent.mkdir(parents=True, exist_ok=True)
    workbook.save(path)
    return path


def write_csv(path: Path, sheets: Mapping[str, Sequence[Mapping[str, Any]]], *, encoding: str = "utf-8-sig") -> Path:
    """One table: a leading ``sheet`` column, then the union of every sheet's columns."""
    columns = _columns([row for rows in sheets.values() for row in rows])
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding=encoding, newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["sheet", *columns])
        for sheet, rows in sheets.items():
            for row in rows:
                if not row:
                    writer.writerow([])
                    continue
                writer.writerow([sheet, *("" if row.get(c) is None else row.get(c) for c in columns)])
    return path


_LEADING = ("code", "telegram_id", "district_code", "community_code", "grid_code", "building_code", "kind")


def _columns(rows: Sequence[Mapping[str, Any]]) -> list[str]:
    """The union of the rows' keys: keys and parent codes first, then as they come."""
    present = {column for row in rows for column in row}
    columns = [column for column in _LEADING if column in present]
    for row in rows:
        for column in row:
            if column not in columns:
                columns.append(column)
    return columns


def write_examples() -> None:
    sheets = {sheet: rows for sheet, rows in demo_sheets().items() if rows}
    write_xlsx(EXAMPLE_XLSX, sheets, extra_sheets={"_readme": [[line] for line in README_LINES]})
    write_csv(EXAMPLE_CSV, sheets)


if __name__ == "__main__":
    write_examples()
    print(f"wrote {EXAMPLE_XLSX.relative_to(REPO)} and {EXAMPLE_CSV.relative_to(REPO)}")
