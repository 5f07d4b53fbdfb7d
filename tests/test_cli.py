"""The command line is a contract: python -m bot db upgrade | seed-demo | import-org | invite | revoke."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

from sqlalchemy import func, select

from models import Building, Community, Grid, Invite, Role, ScopeType
from tests.conftest import BOT_TOKEN
from tests.processes import PIPE, python_m

ROOT = Path(__file__).resolve().parent.parent


async def cli(*args: str, **env: str) -> tuple[int, str, str]:
    base = {k: v for k, v in os.environ.items() if k not in {"BOT_TOKEN", "TELEGRAM_API_URL", "REDIS_URL"}}
    proc = await python_m("bot", *args, env={**base, **env}, stdout=PIPE, stderr=PIPE)
    out, err = await asyncio.wait_for(proc.communicate(), 120)
    return proc.returncode, out.decode(), err.decode()


async def test_seed_demo_twice_and_db_upgrade(db_url, sessionmaker):
    code, out, err = await cli("db", "upgrade", DATABASE_URL=db_url)
    assert code == 0, err
    for _ in range(2):
        code, out, err = await cli("seed-demo", DATABASE_URL=db_url)
        assert code == 0, err
    async with sessionmaker() as s:
        assert await s.scalar(select(func.count()).select_from(Community)) == 3
        assert await s.scalar(select(func.count()).select_from(Grid)) == 12


async def test_invite_prints_link_and_bare_payload(db_url, sessionmaker, emulator):
    await cli("seed-demo", DATABASE_URL=db_url)
    code, out, err = await cli("invite", "--role", "worker", "--scope", "DC-XS-01", "--expires", "2d",
                               DATABASE_URL=db_url, BOT_TOKEN=BOT_TOKEN, TELEGRAM_API_URL=emulator.base_url)
    assert code == 0, err
    lines = out.strip().splitlines()
    payload = lines[-1]
    assert f"https://t.me/gridbot_test?start={payload}" in lines
    async with sessionmaker() as s:
        invite = await s.scalar(select(Invite).where(Invite.payload == payload))
    assert (invite.role, invite.scope_type, invite.scope_code) == (Role.worker, ScopeType.grid, "DC-XS-01")
    assert 47 * 3600 < (invite.expires_at - invite.created_at).total_seconds() <= 48 * 3600


async def test_invite_the_districts_own_organisation(db_url, sessionmaker, emulator):
    """Issue 17's roles through the same contract: a building, a building's unit, a community."""
    await cli("seed-demo", DATABASE_URL=db_url)
    env = {"DATABASE_URL": db_url, "BOT_TOKEN": BOT_TOKEN, "TELEGRAM_API_URL": emulator.base_url}
    async with sessionmaker() as s:
        building = await s.scalar(select(Building).where(Building.code == "DC-LQ-01-01"))
    for role, scope, expected in (("building_head", "DC-LQ-01-01", (ScopeType.building, "DC-LQ-01-01")),
                                  ("unit_head", "dc-lq-01-01 / 2", (ScopeType.unit, "DC-LQ-01-01/2")),
                                  ("volunteer", "DC-XS", (ScopeType.community, "DC-XS"))):
        code, out, err = await cli("invite", "--role", role, "--scope", scope, **env)
        assert code == 0, err
        payload = out.strip().splitlines()[-1]
        async with sessionmaker() as s:
            invite = await s.scalar(select(Invite).where(Invite.payload == payload))
        assert (invite.role.value, invite.scope_type, invite.scope_code) == (role, *expected)
    assert building.units >= 2
    code, _, err = await cli("invite", "--role", "unit_head", "--scope", f"DC-LQ-01-01/{building.units + 1}", **env)
    assert code == 2 and "--scope" in err  # no such unit
    code, _, err = await cli("invite", "--role", "volunteer", "--scope", "DC-XS-01", **env)
    assert code == 2 and "--scope" in err  # a grid, not a community


async def test_invite_refuses_bad_scope_and_expiry(db_url, emulator):
    await cli("seed-demo", DATABASE_URL=db_url)
    env = {"DATABASE_URL": db_url, "BOT_TOKEN": BOT_TOKEN, "TELEGRAM_API_URL": emulator.base_url}
    code, _, err = await cli("invite", "--role", "worker", "--scope", "DC-XS", **env)  # a community, not a grid
    assert code == 2 and "--scope" in err
    code, _, err = await cli("invite", "--role", "staff", "--scope", "DC-XS", "--expires", "soon", **env)
    assert code == 2 and "--expires" in err
    code, _, err = await cli("invite", "--role", "mayor", "--scope", "DC", **env)
    assert code == 2 and "invalid choice" in err
    # A token the Bot API does not know: one line, no traceback.
    code, out, err = await cli("invite", "--role", "worker", "--scope", "DC-XS-01",
                               **{**env, "BOT_TOKEN": "987654321:not-this-bot"})
    assert code == 1 and out == "" and "Traceback" not in err, err
    assert err.strip().splitlines()[-1].endswith("failed: Unauthorized"), err


async def test_import_org_reports_rows_and_applies_nothing(db_url, sessionmaker, tmp_path):
    bad = tmp_path / "bad.csv"
    bad.write_text(
        "sheet,code,district_code,community_code,name_zh_hans,name_zh_hant,name_en\n"
        "districts,DX,,,测试区,測試區,Test\n"
        "communities,DX-A,DX,,甲社区,甲社區,A\n"
        "communities,DX-B,NOPE,,乙社区,乙社區,B\n",
        encoding="utf-8",
    )
    code, out, err = await cli("import-org", str(bad), DATABASE_URL=db_url)
    assert code == 1
    assert "row 4" in err and "nothing imported" in err
    async with sessionmaker() as s:
        assert await s.scalar(select(func.count()).select_from(Community)) == 0
    code, out, err = await cli("import-org", str(ROOT / "examples" / "org_workbook.xlsx"), DATABASE_URL=db_url)
    assert code == 0, err
    async with sessionmaker() as s:
        assert await s.scalar(select(func.count()).select_from(Grid)) == 12
    code, _, err = await cli("import-org", str(tmp_path / "missing.xlsx"), DATABASE_URL=db_url)
    assert code == 2 and "no such file" in err


async def test_revoke_prints_what_was_removed(db_url, sessionmaker):
    env = {"DATABASE_URL": db_url}
    code, _, err = await cli("seed-demo", **env)
    assert code == 0, err
    code, out, err = await cli("revoke", "--user", "7000000014", "--role", "worker", "--scope", "dc-xs-01", **env)
    assert (code, out) == (0, "removed worker of grid DC-XS-01 from user 7000000014\n"), err
    code, out, _ = await cli("revoke", "--user", "7000000014", **env)
    assert code == 0 and "nothing removed" in out
    code, out, err = await cli("revoke", "--user", "7000000001", **env)  # the administrator: all their roles
    assert code == 0 and out.splitlines() == ["removed admin of district DC from user 7000000001"], err
    code, out, err = await cli("revoke", "--user", "123", **env)
    assert code == 2 and out == "" and err.strip().splitlines()[-1] == "--user: no user with Telegram id 123", err
    code, out, err = await cli("revoke", "--user", "7000000002", "--scope", "NOPE", **env)
    assert code == 2 and "Traceback" not in err and err.strip().splitlines()[-1].startswith("--scope: no "), err
    async with sessionmaker() as s:
        from models import AccessAction, AccessLog, RoleGrant, User

        users = {u.telegram_id: u.id for u in await s.scalars(select(User).where(
            User.telegram_id.in_([7000000014, 7000000001, 7000000002])))}
        held = set(await s.scalars(select(RoleGrant.user_id).where(RoleGrant.user_id.in_(users.values()))))
        assert held == {users[7000000002]}
        revoked = list(await s.scalars(select(AccessLog.detail).where(AccessLog.action == AccessAction.role_revoked)
                                       .order_by(AccessLog.id)))
        assert revoked == ["worker@DC-XS-01 (cli)", "admin@DC (cli)"]
