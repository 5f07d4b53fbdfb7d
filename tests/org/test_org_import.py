"""seed-demo and import-org against a real database (SQLite, and PostgreSQL
when TEST_DATABASE_URL is set)."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.services.org_import import (
    ImportFailed,
    ImportReport,
    RowError,
    check_org_file,
    import_org_file,
    seed_demo,
)
from models import (
    AllianceUnit,
    Building,
    CareTag,
    Community,
    Department,
    District,
    Grid,
    GridKind,
    Household,
    HouseholdTag,
    PartyMember,
    Role,
    RoleGrant,
    ScopeType,
    ServiceItem,
    ServiceKind,
    Station,
    StationService,
    User,
)
from tests.org.builders import EXAMPLE_CSV, EXAMPLE_XLSX, demo_sheets, write_csv, write_xlsx

SM = async_sessionmaker[AsyncSession]
TABLES = {
    "districts": District, "communities": Community, "grids": Grid, "buildings": Building,
    "stations": Station, "departments": Department, "services": ServiceItem, "people": User,
    "role_grants": RoleGrant, "station_services": StationService, "households": Household,
    "household_tags": HouseholdTag, "alliances": AllianceUnit, "party_members": PartyMember,
}
DEMO_COUNTS = {
    "districts": 1, "communities": 3, "grids": 12, "buildings": 40, "stations": 4, "alliances": 2, "departments": 8,
    "services": 25, "people": 45, "role_grants": 39, "station_services": 63, "households": 6,
    "household_tags": 8, "party_members": 0,
}


async def counts(sm: SM) -> dict[str, int]:
    async with sm() as session:
        return {name: await session.scalar(select(func.count()).select_from(model)) for name, model in TABLES.items()}


async def snapshot(sm: SM) -> dict[str, Any]:
    """Everything an import may touch, to compare before and after a failed one."""
    out: dict[str, Any] = {}
    async with sm() as session:
        for name, model in TABLES.items():
            rows = (await session.execute(select(model.__table__))).all()
            out[name] = sorted(tuple(map(repr, row)) for row in rows)
    return out


async def refused(sm: SM, path: Path) -> ImportFailed:
    """Import ``path``, which must fail and change nothing; the failure."""
    before = await snapshot(sm)
    with pytest.raises(ImportFailed) as caught:
        await import_org_file(sm, path)
    assert await snapshot(sm) == before
    return caught.value


def assert_created_demo(report: ImportReport) -> None:
    expected = {k: v for k, v in DEMO_COUNTS.items() if k in report.created}
    assert report.created == expected
    assert sum(report.updated.values()) == 0


# ------------------------------------------------------------------ seed-demo


async def test_seed_demo_loads_the_demo_district(sessionmaker: SM) -> None:
    report = await seed_demo(sessionmaker)
    assert_created_demo(report)
    assert "created 1 districts, 3 communities, 12 grids, 40 buildings" in str(report)
    assert await counts(sessionmaker) == DEMO_COUNTS

    async with sessionmaker() as session:
        named: list[dict[str, str]] = []
        for model in (District, Community, Grid, Building, Station, Department, ServiceItem):
            for obj in (await session.scalars(select(model))).all():
                assert set(obj.names) == {"zh-Hans", "zh-Hant", "en"}, (model.__name__, obj.code)
                assert all(v.strip() for v in obj.names.values())
                named.append(obj.names)
        differing = sum(1 for n in named if n["zh-Hant"] != n["zh-Hans"])
        assert differing / len(named) > 0.9

        district = await session.scalar(select(District))
        assert district.code == "DC" and district.names["zh-Hans"] == "东昌区" and district.names["zh-Hant"] == "東昌區"

        grids = (await session.scalars(select(Grid))).all()
        assert [g.code for g in grids if g.kind is GridKind.special] == ["DC-MZ-04"]
        per_community: dict[int, int] = {}
        for grid in grids:
            per_community[grid.community_id] = per_community.get(grid.community_id, 0) + 1
        assert sorted(per_community.values()) == [4, 4, 4]

        buildings = (await session.scalars(select(Building))).all()
        assert {b.grid_id for b in buildings} == {g.id for g in grids}  # every grid has buildings
        for b in buildings:
            assert 41.6 < b.latitude < 41.8 and 125.85 < b.longitude < 126.05
            assert b.units >= 1 and b.address.startswith("通化市东昌区")

        stations = (await session.scalars(select(Station))).all()
        for station in stations:
            assert set(station.opening_hours) == {"mon", "tue", "wed", "thu", "fri", "sat", "sun"}
            assert station.opening_hours["mon"] and station.phone and station.address["en"]
        xinzhan = next(s for s in stations if s.code == "ST-XS")
        assert xinzhan.opening_hours["mon"] == ["08:30-11:30", "13:30-17:00"]
        assert xinzhan.opening_hours["sun"] == []

        services = {s.code: s for s in (await session.scalars(select(ServiceItem))).all()}
        assert len(services) >= 24
        assert {s.kind for s in services.values()} == set(ServiceKind)
        for code in ("PX-RESCERT", "PX-ELDERCARD", "PX-MEDPAY", "PX-DISABILITY", "PX-PENSION", "PX-DIBAO",
                     "PX-UTILITY", "PX-MEDICINE", "CS-POLICY", "CS-STUDY", "CS-MEETING", "CS-CULTURE",
                     "RP-SANITATION", "RP-BUILDING", "RP-DISPUTE", "RP-REPAIR", "RP-HAZARD", "RP-NOISE", "RP-OTHER"):
            item = services[code]
            assert set(item.descriptions) == {"zh-Hans", "zh-Hant", "en"}
            assert 0 < item.accept_hours <= item.resolve_hours
        assert len({s.sort_order for s in services.values()}) == len(services)

        departments = {d.code: d for d in (await session.scalars(select(Department))).all()}
        assert {"CG", "SF", "GA", "MZ", "RS", "YB", "CL", "ZJ"} <= set(departments)

        # People: one grid head and 1-2 workers per grid, a secretary per community,
        # an officer per department, an admin, residents at home in their grid.
        grants = (await session.scalars(select(RoleGrant))).all()
        by_grid = {g.id: [r.role for r in grants if r.scope_type is ScopeType.grid and r.scope_id == g.id] for g in grids}
        for roles in by_grid.values():
            assert roles.count(Role.grid_head) == 1 and 1 <= roles.count(Role.worker) <= 2
        assert sorted(r.scope_id for r in grants if r.role is Role.staff) == sorted(per_community)
        assert sorted(r.scope_id for r in grants if r.role is Role.department) == sorted(d.id for d in departments.values())
        assert [(r.scope_type, r.scope_id) for r in grants if r.role is Role.admin] == [(ScopeType.district, district.id)]

        users = (await session.scalars(select(User))).all()
        assert sorted(u.telegram_id for u in users) == list(range(7000000001, 7000000046))
        assert all(u.registered_at is not None and u.registered_at.tzinfo is not None for u in users)
        residents = [u for u in users if not u.roles]
        assert len(residents) == 6
        assert len({u.building_id for u in residents}) == 6
        grid_of = {b.id: b.grid_id for b in buildings}
        assert all(u.grid_id == grid_of[u.building_id] for u in residents)
        assert {u.locale for u in users} == {"zh-Hans", "zh-Hant", "en"}


async def test_seed_demo_twice_changes_nothing(sessionmaker: SM) -> None:
    await seed_demo(sessionmaker)
    before = await snapshot(sessionmaker)
    report = await seed_demo(sessionmaker)
    assert sum(report.created.values()) == 0 and sum(report.updated.values()) == 0
    assert sum(report.unchanged.values()) == 138 + 6 + 2  # + the alliance units
    assert await snapshot(sessionmaker) == before


# ----------------------------------------------------------------- import-org


@pytest.mark.parametrize("example", [EXAMPLE_XLSX, EXAMPLE_CSV], ids=["xlsx", "csv"])
async def test_import_example_file(sessionmaker: SM, example: Path) -> None:
    report = await import_org_file(sessionmaker, example)
    assert_created_demo(report)
    assert await counts(sessionmaker) == DEMO_COUNTS
    again = await import_org_file(sessionmaker, example)
    assert sum(again.created.values()) == 0 and sum(again.updated.values()) == 0
    assert await counts(sessionmaker) == DEMO_COUNTS


async def test_example_workbook_matches_seed_demo(sessionmaker: SM) -> None:
    """seed-demo and import-org share one path: the example adds nothing to the demo."""
    await seed_demo(sessionmaker)
    before = await snapshot(sessionmaker)
    report = await import_org_file(sessionmaker, EXAMPLE_XLSX)
    assert sum(report.created.values()) == 0 and sum(report.updated.values()) == 0, str(report)
    assert report.ignored_sheets == ["_readme"]
    assert await snapshot(sessionmaker) == before


@pytest.mark.parametrize("fmt", ["xlsx", "csv"])
async def test_reimport_with_changes_updates_in_place(sessionmaker: SM, tmp_path: Path, fmt: str) -> None:
    await import_org_file(sessionmaker, EXAMPLE_XLSX)
    async with sessionmaker() as session:
        old = await session.scalar(select(Grid).where(Grid.code == "DC-XS-01"))

    sheets = demo_sheets()
    grid = next(r for r in sheets["grids"] if r["code"] == "DC-XS-01")
    grid["name_en"] = "Zhanqian Grid"
    building = next(r for r in sheets["buildings"] if r["code"] == "DC-LQ-02-01")
    building["units"] = 8
    station = next(r for r in sheets["stations"] if r["code"] == "ST-XH")
    station["services"] = "CS-POLICY;PX-MEDPAY;RP-NOISE"  # 9 before: 2 kept, 1 added, 7 dropped
    station["hours_sun"] = ""
    person = next(r for r in sheets["people"] if r["telegram_id"] == 7000000040)
    person["roles"] = "worker:DC-XS-01"
    writer = write_xlsx if fmt == "xlsx" else write_csv
    report = await import_org_file(sessionmaker, writer(tmp_path / f"changed.{fmt}", sheets))

    assert sum(report.created.values()) == 0
    assert {k: v for k, v in report.updated.items() if v} == {"grids": 1, "buildings": 1, "stations": 1, "people": 1}
    assert await counts(sessionmaker) == DEMO_COUNTS | {"role_grants": 40, "station_services": 63 - 7 + 1}
    async with sessionmaker() as session:
        new = await session.scalar(select(Grid).where(Grid.code == "DC-XS-01"))
        assert new.id == old.id and new.names["en"] == "Zhanqian Grid" and new.names["zh-Hans"] == old.names["zh-Hans"]
        assert new.updated_at >= old.updated_at
        assert (await session.scalar(select(Building.units).where(Building.code == "DC-LQ-02-01"))) == 8
        xh = await session.scalar(select(Station).where(Station.code == "ST-XH"))
        assert xh.opening_hours["sun"] == [] and xh.opening_hours["sat"] == ["10:00-12:00", "13:00-19:00"]
        offered = await session.scalars(
            select(ServiceItem.code).join(StationService, StationService.service_id == ServiceItem.id)
            .where(StationService.station_id == xh.id)
        )
        assert sorted(offered) == ["CS-POLICY", "PX-MEDPAY", "RP-NOISE"]


# --------------------------------------------------------------- bad files


def _bad_sheets() -> tuple[dict[str, list[dict[str, Any]]], set[tuple[str, int]]]:
    """A file in which a valid change sits among bad rows; and where the errors are."""
    sheets: dict[str, list[dict[str, Any]]] = {
        "grids": [
            {"code": "DC-XS-01", "community_code": "DC-XS", "kind": "residential", "name_zh_hans": "改了名字"},  # 2 ok
            {"code": "", "community_code": "DC-XS", "name_zh_hans": "没有编号"},  # 3 missing code
            {"code": "DC-ZZ-01", "community_code": "DC-ZZ", "name_zh_hans": "无主网格"},  # 4 unknown parent
            {"code": "DC-XS-05", "community_code": "DC-XS", "kind": "park", "name_zh_hans": "公园"},  # 5 bad kind
            {"code": "dc-xs-01", "community_code": "DC-XS", "name_zh_hans": "重复"},  # 6 duplicate
        ],
        "buildings": [
            {"code": "DC-XS-05-01", "grid_code": "DC-XS-05", "name_zh_hans": "新楼", "units": "abc"},  # 2 bad number
            {"code": "DC-XS-01-09", "grid_code": "DC-XS-01", "name_en": "No Chinese name"},  # 3 no zh-Hans
            {"code": "DC-XS-01-10", "grid_code": "DC-XS-01", "name_zh_hans": "好楼", "units": 3},  # 4 ok
        ],
        "stations": [
            {"code": "ST-XS", "community_code": "DC-XS", "name_zh_hans": "站", "hours_mon": "17:00-08:30",
             "services": "CS-POLICY;NOPE"},  # 2 bad range, unknown service
        ],
        "services": [
            {"code": "PX-NEW", "kind": "proxy", "name_zh_hans": "新服务", "accept_hours": "x"},  # 2 bad number
        ],
        "people": [
            {"telegram_id": 7000000099, "first_name": "新人", "roles": "worker:DC-XX-99",
             "building_code": "DC-XS-01-01"},  # 2 unknown scope
        ],
    }
    expected = {("grids", 3), ("grids", 4), ("grids", 5), ("grids", 6), ("buildings", 2), ("buildings", 3),
                ("stations", 2), ("services", 2), ("people", 2)}
    return sheets, expected


async def test_bad_workbook_reports_every_error_and_changes_nothing(sessionmaker: SM, tmp_path: Path) -> None:
    await seed_demo(sessionmaker)
    sheets, expected = _bad_sheets()
    failed = await refused(sessionmaker, write_xlsx(tmp_path / "bad.xlsx", sheets))
    errors = failed.errors
    assert {(e.sheet, e.row) for e in errors} == expected
    text = "\n".join(map(str, errors))
    for needle in (
        "grids, row 3: code: is required",
        "grids, row 4: community_code: unknown community code 'DC-ZZ'",
        "grids, row 5: kind: unknown kind 'park'",
        "grids, row 6: duplicate code DC-XS-01 (already on row 2)",
        "buildings, row 2: units: not a whole number: 'abc'",
        "buildings, row 3: name_zh_hans: is required",
        "stations, row 2: hours_mon: time range '17:00-08:30' ends before it starts",
        "stations, row 2: services: unknown service code 'NOPE'",
        "services, row 2: accept_hours: not a whole number: 'x'",
        "people, row 2: roles (worker): unknown grid code 'DC-XX-99'",
    ):
        assert needle in text, (needle, text)
    assert str(failed).startswith(f"{len(errors)} error(s) in bad.xlsx; nothing was imported")
    # Errors come in file order: sheet by sheet, row by row.
    assert [e.sheet for e in errors][:4] == ["grids"] * 4


async def test_bad_csv_reports_rows_as_in_the_file(sessionmaker: SM, tmp_path: Path) -> None:
    sheets, _ = _bad_sheets()
    # A blank line after the header: every data row moves down one.
    sheets = {"grids": [{}, *sheets["grids"]], **{k: v for k, v in sheets.items() if k != "grids"}}
    path = write_csv(tmp_path / "bad.csv", sheets)
    rows = [(e.sheet, e.row) for e in (await refused(sessionmaker, path)).errors]
    assert rows == sorted(rows, key=lambda r: r[1])  # one table: by row
    # Header 1, blank 2, grids 3-7, buildings 8-10, stations 11, services 12, people 13.
    assert ("grids", 5) in rows  # unknown community DC-ZZ; nothing in the database on this run
    assert ("grids", 7) in rows and ("buildings", 8) in rows and ("buildings", 9) in rows
    assert ("stations", 11) in rows and ("services", 12) in rows and ("people", 13) in rows


async def test_unknown_parent_code(sessionmaker: SM, tmp_path: Path) -> None:
    path = write_xlsx(tmp_path / "orphans.xlsx", {
        "districts": [{"code": "DC", "name_zh_hans": "东昌区"}],
        "communities": [{"code": "DC-XS", "district_code": "TH", "name_zh_hans": "新站社区"}],
        "buildings": [{"code": "B1", "grid_code": "DC-XS-01", "name_zh_hans": "楼"}],
    })
    assert (await refused(sessionmaker, path)).errors == [
        RowError("communities", 2, "district_code: unknown district code 'TH'"),
        RowError("buildings", 2, "grid_code: unknown grid code 'DC-XS-01'"),
    ]


async def test_parents_may_already_be_in_the_database(sessionmaker: SM, tmp_path: Path) -> None:
    await seed_demo(sessionmaker)
    path = write_csv(tmp_path / "more.csv", {
        "grids": [{"code": "DC-LQ-05", "community_code": "DC-LQ", "name_zh_hans": "龙泉社区第五网格"}],
        "buildings": [
            {"code": "DC-LQ-05-01", "grid_code": "DC-LQ-05", "name_zh_hans": "新楼1号楼", "units": 2},
            {"code": "DC-LQ-01-05", "grid_code": "DC-LQ-01", "name_zh_hans": "龙泉小区5号楼"},
        ],
        "people": [{"telegram_id": 7000000099, "first_name": "新来的", "building_code": "DC-LQ-05-01",
                    "roles": "worker:DC-LQ-05;staff:DC-LQ"}],
    })
    report = await import_org_file(sessionmaker, path)
    assert {k: v for k, v in report.created.items() if v} == {"grids": 1, "buildings": 2, "people": 1}
    async with sessionmaker() as session:
        user = await session.scalar(select(User).where(User.telegram_id == 7000000099))
        grid = await session.scalar(select(Grid).where(Grid.code == "DC-LQ-05"))
        assert user.grid_id == grid.id and grid.kind is GridKind.residential
        assert sorted(r.role for r in user.roles) == [Role.staff, Role.worker]
        building = await session.scalar(select(Building).where(Building.code == "DC-LQ-01-05"))
        assert building.units == 1 and building.latitude is None


async def test_duplicate_code_in_file(sessionmaker: SM, tmp_path: Path) -> None:
    path = write_xlsx(tmp_path / "dup.xlsx", {
        "departments": [
            {"code": "CG", "name_zh_hans": "城管"},
            {"code": "SF", "name_zh_hans": "司法"},
            {"code": " cg ", "name_zh_hans": "城管局"},
        ],
        "people": [{"telegram_id": 1, "first_name": "甲"}, {"telegram_id": "1", "first_name": "乙"}],
    })
    assert (await refused(sessionmaker, path)).errors == [
        RowError("departments", 4, "duplicate code CG (already on row 2)"),
        RowError("people", 3, "duplicate telegram_id 1 (already on row 2)"),
    ]


async def test_header_problems_are_reported_once_on_row_1(sessionmaker: SM, tmp_path: Path) -> None:
    path = write_xlsx(tmp_path / "header.xlsx", {
        "grids": [{"code": "G1", "name_zh_hans": "网格", "colour": "red"}, {"code": "G2", "name_zh_hans": "网格二"}],
    }, extra_sheets={"Grdis": [["code"]], "_notes": [["anything"]]})
    assert [(e.sheet, e.row, e.message) for e in (await refused(sessionmaker, path)).errors] == [
        ("Grdis", 0, "unknown sheet 'Grdis'; use districts, communities, grids, buildings, departments, "
                     "services, stations, alliances, people, households (start a sheet's name with '_' to have it skipped)"),
        ("grids", 1, "unknown column 'colour'"),
        ("grids", 1, "missing column 'community_code'"),
    ]


async def test_unreadable_files(sessionmaker: SM, tmp_path: Path) -> None:
    fake = tmp_path / "fake.xlsx"
    fake.write_text("not a zip")
    empty = tmp_path / "empty.csv"
    empty.write_text("sheet,code,name_zh_hans\n")
    for path, reason in (
        (fake, "cannot open fake.xlsx as an Excel workbook"),
        (tmp_path / "org.ods", "unsupported file type '.ods'"),
        (empty, "nothing to import"),
        (tmp_path / "missing.csv", "cannot read"),
    ):
        with pytest.raises(ImportFailed, match=reason):
            await import_org_file(sessionmaker, path)


async def test_yaml_errors_point_at_lines(sessionmaker: SM, tmp_path: Path) -> None:
    path = tmp_path / "demo.yaml"
    path.write_text(
        "version: 1\n"                                  # 1
        "districts:\n"                                  # 2
        "  - code: DC\n"                                # 3
        "    names: {zh-Hans: 东昌区, fr: Dongchang}\n"  # 4
        "    communities:\n"                            # 5
        "      - code: DC-XS\n"                         # 6
        "        names: {zh-Hans: 新站社区}\n"           # 7
        "        grids:\n"                              # 8
        "          - {code: DC-XS-01, kind: park, names: {zh-Hans: 一}}\n"  # 9
        "departments:\n"                                # 10
        "  - {code: CG, names: {en: Urban management}, ack_hours: soon}\n",  # 11
        encoding="utf-8",
    )
    with pytest.raises(ImportFailed) as caught:
        await seed_demo(sessionmaker, path)
    assert [(e.sheet, e.row) for e in caught.value.errors] == [
        ("districts", 3), ("grids", 9), ("departments", 11), ("departments", 11),
    ]
    assert "names: unknown locale 'fr'" in caught.value.errors[0].message


async def test_people_grants_are_added_not_duplicated(sessionmaker: SM, tmp_path: Path) -> None:
    await seed_demo(sessionmaker)
    sheets = copy.deepcopy(demo_sheets())
    head = next(r for r in sheets["people"] if r["telegram_id"] == 7000000013)  # grid head of DC-XS-01
    head["roles"] = "grid_head:DC-XS-01;staff:DC-XS"
    head["phone"] = None  # blank: the stored phone stays
    report = await import_org_file(sessionmaker, write_xlsx(tmp_path / "p.xlsx", {"people": sheets["people"]}))
    assert report.updated["people"] == 1 and report.unchanged["people"] == 44
    async with sessionmaker() as session:
        user = await session.scalar(select(User).where(User.telegram_id == 7000000013))
        assert sorted(r.role for r in user.roles) == [Role.grid_head, Role.staff]
        assert user.phone is not None
    assert (await counts(sessionmaker))["role_grants"] == DEMO_COUNTS["role_grants"] + 1


async def test_moving_a_building_moves_its_residents(sessionmaker: SM, tmp_path: Path) -> None:
    await seed_demo(sessionmaker)
    sheets = demo_sheets()
    building = next(r for r in sheets["buildings"] if r["code"] == "DC-XS-01-02")  # 王桂芝 lives here
    building["grid_code"] = "DC-XS-02"
    await import_org_file(sessionmaker, write_xlsx(tmp_path / "m.xlsx", {"buildings": [building]}))
    async with sessionmaker() as session:
        user = await session.scalar(select(User).where(User.telegram_id == 7000000040))
        grid = await session.scalar(select(Grid).where(Grid.code == "DC-XS-02"))
        assert user.grid_id == grid.id


async def test_check_org_file_is_a_dry_run(sessionmaker: SM) -> None:
    report = await check_org_file(sessionmaker, EXAMPLE_CSV)
    assert_created_demo(report)
    assert await counts(sessionmaker) == dict.fromkeys(TABLES, 0)


async def test_active_flag_blank_keeps_stored_value(sessionmaker: SM, tmp_path: Path) -> None:
    rows = [{"code": "CG", "name_zh_hans": "城管", "active": "no"}]
    await import_org_file(sessionmaker, write_csv(tmp_path / "a.csv", {"departments": rows}))
    rows[0]["active"] = ""
    report = await import_org_file(sessionmaker, write_csv(tmp_path / "b.csv", {"departments": rows}))
    assert report.unchanged["departments"] == 1
    async with sessionmaker() as session:
        assert await session.scalar(select(Department.active)) is False


# --------------------------------------------------------------- households


async def test_households_with_tags_and_visit_intervals(sessionmaker: SM, tmp_path: Path) -> None:
    await seed_demo(sessionmaker)
    async with sessionmaker() as session:
        wang = await session.scalar(select(Household).where(Household.code == "DC-XS-01-02-H1"))
        building = await session.get(Building, wang.building_id)
        tags = {t.tag: t.interval_days for t in await session.scalars(
            select(HouseholdTag).where(HouseholdTag.household_id == wang.id))}
    assert (wang.unit, wang.label, building.code, wang.grid_id) == ("2-301", "王桂芝", "DC-XS-01-02", building.grid_id)
    assert tags == {CareTag.elderly_alone: 7}
    assert wang.visit_due_on is not None  # never visited: due from the import on

    rows = [
        # Re-tagged in Chinese words and a number of days; unit cleared.
        {"code": "DC-XS-01-02-H1", "building_code": "DC-XS-01-02", "unit": "", "label": "王桂芝",
         "tags": "独居老人:每两周；残疾人:10"},
        # New, with ``name`` for ``label`` and a tag without interval (its default).
        {"code": "dc-xs-01-04-h1", "building_code": "DC-XS-01-04", "name": "钱大妈", "tags": "elderly_alone"},
        # Tags removed.
        {"code": "DC-XS-01-03-H1", "building_code": "DC-XS-01-03", "unit": "1-601", "label": "马秀珍", "tags": ""},
    ]
    report = await import_org_file(sessionmaker, write_csv(tmp_path / "h.csv", {"households": rows}))
    assert (report.created["households"], report.updated["households"]) == (1, 2)
    async with sessionmaker() as session:
        wang = await session.scalar(select(Household).where(Household.code == "DC-XS-01-02-H1"))
        qian = await session.scalar(select(Household).where(Household.code == "DC-XS-01-04-H1"))
        ma = await session.scalar(select(Household).where(Household.code == "DC-XS-01-03-H1"))
        def tags_of(h):  # type: ignore[no-untyped-def]
            return session.scalars(select(HouseholdTag).where(HouseholdTag.household_id == h.id))
        assert wang.unit is None
        assert {t.tag: t.interval_days for t in await tags_of(wang)} == {CareTag.elderly_alone: 14,
                                                                          CareTag.disabled: 10}
        assert (qian.label, [(t.tag, t.interval_days) for t in await tags_of(qian)]) == (
            "钱大妈", [(CareTag.elderly_alone, 7)])
        assert list(await tags_of(ma)) == [] and ma.visit_due_on is None
    # The same file again changes nothing.
    again = await import_org_file(sessionmaker, write_csv(tmp_path / "h2.csv", {"households": rows}))
    assert sum(again.created.values()) == 0 and sum(again.updated.values()) == 0


async def test_bad_household_rows(sessionmaker: SM, tmp_path: Path) -> None:
    await seed_demo(sessionmaker)
    rows = [
        {"code": "H-OK", "building_code": "DC-XS-01-01", "label": "好", "tags": "disabled:monthly"},  # 2 ok
        {"code": "H-1", "building_code": "DC-XX-99", "label": "甲"},  # 3 unknown building
        {"code": "H-2", "building_code": "DC-XS-01-01", "label": ""},  # 4 no label
        {"code": "H-3", "building_code": "DC-XS-01-01", "label": "乙", "tags": "boss:weekly"},  # 5 bad tag
        {"code": "H-4", "building_code": "DC-XS-01-01", "label": "丙", "tags": "disabled:sometimes"},  # 6 bad interval
        {"code": "H-5", "building_code": "DC-XS-01-01", "label": "丁", "tags": "disabled:400"},  # 7 out of range
        {"code": "H-OK", "building_code": "DC-XS-01-01", "label": "重复"},  # 8 duplicate
    ]
    failed = await refused(sessionmaker, write_xlsx(tmp_path / "bad.xlsx", {"households": rows}))
    messages = {(e.row, e.message) for e in failed.errors}
    assert (3, "building_code: unknown building code 'DC-XX-99'") in messages
    assert (4, "label: is required") in messages
    assert any(r == 5 and "unknown tag 'boss'" in m for r, m in messages)
    assert any(r == 6 and "bad visit interval 'sometimes'" in m for r, m in messages)
    assert any(r == 7 and "400 days is out of range" in m for r, m in messages)
    assert any(r == 8 and "duplicate code H-OK" in m for r, m in messages)
    # A sheet without a label (or name) column is told so once, on row 1.
    failed = await refused(sessionmaker, write_xlsx(tmp_path / "nolabel.xlsx", {"households": [
        {"code": "H-9", "building_code": "DC-XS-01-01"}]}))
    assert [(e.row, e.message) for e in failed.errors] == [(1, "missing column 'label'")]


async def test_moving_a_building_moves_its_households(sessionmaker: SM, tmp_path: Path) -> None:
    await seed_demo(sessionmaker)
    sheets = demo_sheets()
    building = next(r for r in sheets["buildings"] if r["code"] == "DC-XS-01-02")
    building["grid_code"] = "DC-XS-02"
    await import_org_file(sessionmaker, write_xlsx(tmp_path / "m.xlsx", {"buildings": [building]}))
    async with sessionmaker() as session:
        grid = await session.scalar(select(Grid).where(Grid.code == "DC-XS-02"))
        moved = list(await session.scalars(select(Household.grid_id).join(Building).where(
            Building.code == "DC-XS-01-02")))
    assert moved == [grid.id, grid.id]
