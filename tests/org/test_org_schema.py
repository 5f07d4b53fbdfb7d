"""Row checks that need no database."""

from __future__ import annotations

import pytest

from bot.services.org_files import read_csv, read_xlsx, read_yaml
from bot.services.org_import import DEMO_PATH
from bot.services.org_schema import RawRow, parse_row, parse_time_ranges
from models import GridKind, Role
from tests.org.builders import EXAMPLE_CSV, EXAMPLE_XLSX, write_csv, write_xlsx


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("08:30-11:30,13:30-17:00", ["08:30-11:30", "13:30-17:00"]),
        ("13:30-17:00; 8:30 - 11:30", ["08:30-11:30", "13:30-17:00"]),
        ("8:30～11:30，13:30—17:00", ["08:30-11:30", "13:30-17:00"]),
        (["09:00-11:30"], ["09:00-11:30"]),
        ("", []),
        (None, []),
        ("closed", []),
        ("休息", []),
        ("00:00-24:00", ["00:00-24:00"]),
    ],
)
def test_time_ranges_are_normalised(text: object, expected: list[str]) -> None:
    assert parse_time_ranges(text) == expected


@pytest.mark.parametrize(
    "text", ["17:00-08:30", "08:30-08:30", "25:00-26:00", "08:60-09:00", "8:30", "morning",
             "08:00-12:00,11:00-13:00", "24:30-25:00"],
)
def test_bad_time_ranges_are_refused(text: str) -> None:
    with pytest.raises(ValueError):
        parse_time_ranges(text)


def test_a_row_reports_every_problem_in_it() -> None:
    raw = RawRow("grids", 7, {
        "code": "dc-xs-09", "community_code": "", "kind": "park", "latitude": "north",
        "longitude": 200, "active": "maybe", "name_en": "Grid 9", "colour": "red",
    })
    record, errors = parse_row(raw)
    assert record is not None and record.key == "DC-XS-09"  # codes are upper-cased
    messages = [e.message for e in errors]
    assert {e.row for e in errors} == {7} and {e.sheet for e in errors} == {"grids"}
    for needle in ("community_code: is required", "kind: unknown kind 'park'", "latitude: not a number",
                   "longitude: 200.0 is out of range", "active: expected true or false",
                   "name_zh_hans: is required", "'colour'"):
        assert any(needle in m for m in messages), (needle, messages)


def test_people_roles_and_blank_fields() -> None:
    record, errors = parse_row(RawRow("people", 3, {
        "telegram_id": "7000000100", "first_name": " 王芳 ", "locale": "zh_hant",
        "roles": "worker:dc-xs-01; grid_head：DC-XS-02,worker:DC-XS-01", "username": "@wang_fang",
        "phone": "",
    }))
    assert errors == []
    assert record is not None and record.key == 7000000100
    assert record.values == {"first_name": "王芳", "locale": "zh-Hant", "username": "wang_fang"}
    assert record.roles == ((Role.worker, "DC-XS-01"), (Role.grid_head, "DC-XS-02"))

    _, errors = parse_row(RawRow("people", 4, {"telegram_id": "x", "first_name": "", "roles": "boss:DC;admin"}))
    messages = " | ".join(e.message for e in errors)
    assert "telegram_id: not a whole number" in messages
    assert "first_name: is required" in messages
    assert "unknown role 'boss'" in messages
    assert "role admin needs a scope code" in messages


def test_examples_carry_exactly_the_demo_district() -> None:
    """examples/ are generated from data/demo_district.yaml; regenerate them with
    `python -m tests.org.builders` after changing the YAML."""

    def records(source) -> dict:  # type: ignore[no-untyped-def]
        assert source.errors == []
        out = {}
        for raw in source.rows:
            record, errors = parse_row(raw)
            assert errors == [], errors
            assert record is not None
            out[(record.sheet, record.key)] = (
                record.values, record.parent_code, record.service_codes, record.building_code, record.roles,
                record.tags,
            )
        return out

    demo = records(read_yaml(DEMO_PATH))
    assert records(read_xlsx(EXAMPLE_XLSX)) == demo
    assert records(read_csv(EXAMPLE_CSV)) == demo


def test_demo_yaml_shape() -> None:
    source = read_yaml(DEMO_PATH)
    assert source.errors == []
    grids = [parse_row(r)[0] for r in source.rows if r.sheet == "grids"]
    assert sum(1 for g in grids if g and g.values["kind"] is GridKind.special) == 1


def test_readers_skip_blank_rows_but_keep_row_numbers(tmp_path) -> None:  # type: ignore[no-untyped-def]
    rows = [{"code": "A", "name_zh_hans": "甲"}, {}, {}, {"code": "B", "name_zh_hans": "乙"}]
    xlsx = read_xlsx(write_xlsx(tmp_path / "w.xlsx", {"departments": rows}))
    assert [(r.sheet, r.row) for r in xlsx.rows] == [("departments", 2), ("departments", 5)]
    table = read_csv(write_csv(tmp_path / "w.csv", {"departments": rows}))
    assert [(r.sheet, r.row) for r in table.rows] == [("departments", 2), ("departments", 5)]


def test_csv_in_gb18030_with_semicolons(tmp_path) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "excel.csv"
    path.write_bytes("sheet;code;name_zh_hans\r\ndepartments;CG;城管\r\n".encode("gb18030"))
    source = read_csv(path)
    assert source.errors == []
    assert [(r.row, r.values["name_zh_hans"]) for r in source.rows] == [(2, "城管")]
