"""import-org and the district's own organisation: building and unit heads,
volunteers, units, party members and central households, alliance units."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.services.org_import import ImportFailed, import_org_file, seed_demo
from models import UNIT_FACTOR, AllianceUnit, Building, Grid, PartyMember, Role, ScopeType, User
from tests.org.builders import write_csv

SM = async_sessionmaker[AsyncSession]


async def test_heads_volunteers_party_members_and_alliances(sessionmaker: SM, tmp_path: Path) -> None:
    await seed_demo(sessionmaker)
    people = [
        {"telegram_id": 8700000001, "first_name": "周楼长", "building_code": "DC-LQ-01-01", "unit": 2,
         "roles": "building_head:DC-LQ-01-01;unit_head:dc-lq-01-01 / 3", "party_member": "yes",
         "party_branch": "DC-LQ-01", "party_group": "DC-LQ-01-01", "central_household": "是"},
        {"telegram_id": 8700000002, "first_name": "志愿者", "roles": "volunteer:DC-LQ", "party_branch": "DC-LQ-01"},
    ]
    alliances = [{"code": "AL-LQ-1", "community_code": "DC-LQ", "name_zh_hans": "龙泉医院", "contact": "0435-1",
                  "offers": "义诊"}]
    report = await import_org_file(sessionmaker, write_csv(tmp_path / "org.csv",
                                                           {"alliances": alliances, "people": people}))
    assert report.created["people"] == 2 and report.created["alliances"] == 1
    async with sessionmaker() as s:
        building = await s.scalar(select(Building).where(Building.code == "DC-LQ-01-01"))
        grid = await s.scalar(select(Grid).where(Grid.code == "DC-LQ-01"))
        head = await s.scalar(select(User).where(User.telegram_id == 8700000001))
        grants = sorted((g.role, g.scope_type, g.scope_id) for g in head.roles)
        assert grants == [(Role.building_head, ScopeType.building, building.id),
                          (Role.unit_head, ScopeType.unit, building.id * UNIT_FACTOR + 3)]
        assert head.unit == 2
        member = await s.get(PartyMember, head.id)
        assert (member.branch_grid_id, member.group_building_id, member.central_household) == (
            grid.id, building.id, True)
        helper = await s.scalar(select(User).where(User.telegram_id == 8700000002))
        assert [g.role for g in helper.roles] == [Role.volunteer]
        assert (await s.get(PartyMember, helper.id)).central_household is False
        assert (await s.scalar(select(AllianceUnit.offers).where(AllianceUnit.code == "AL-LQ-1"))) == "义诊"
    # The same file again changes nothing; "party_member: no" ends the membership.
    again = await import_org_file(sessionmaker, write_csv(tmp_path / "org.csv",
                                                          {"alliances": alliances, "people": people}))
    assert sum(again.created.values()) == 0 and sum(again.updated.values()) == 0
    people[1] = {"telegram_id": 8700000002, "first_name": "志愿者", "party_member": "no"}
    await import_org_file(sessionmaker, write_csv(tmp_path / "org2.csv", {"people": people[1:]}))
    async with sessionmaker() as s:
        helper = await s.scalar(select(User).where(User.telegram_id == 8700000002))
        assert await s.get(PartyMember, helper.id) is None


async def test_bad_units_and_scopes_are_reported(sessionmaker: SM, tmp_path: Path) -> None:
    await seed_demo(sessionmaker)
    people = [
        {"telegram_id": 8700000011, "first_name": "A", "roles": "unit_head:DC-LQ-01-01"},  # no unit
        {"telegram_id": 8700000012, "first_name": "B", "roles": "unit_head:DC-LQ-01-01/99"},  # too many
        {"telegram_id": 8700000013, "first_name": "C", "unit": 1},  # a unit without a building
        {"telegram_id": 8700000014, "first_name": "D", "roles": "building_head:NOPE",
         "party_member": "no", "central_household": "yes"},
    ]
    try:
        await import_org_file(sessionmaker, write_csv(tmp_path / "bad.csv", {"people": people}))
    except ImportFailed as failed:
        messages = [e.message for e in failed.errors]
    else:
        raise AssertionError("the file was accepted")
    assert any("building code and unit" in m for m in messages)
    assert any("has" in m and "not 99" in m for m in messages)
    assert any("needs building_code" in m for m in messages)
    assert any("unknown building code 'NOPE'" in m for m in messages)
    assert any("party_member" in m for m in messages)
