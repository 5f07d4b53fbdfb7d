"""import-org removes a role listed with a leading "-" (docs/import-org.md):
the grant goes and the access log says so (the cases going back to the queue:
tests/unit/test_roles.py, the same code)."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import select

from bot.services.org_import import ImportFailed, import_org_file, seed_demo
from models import AccessAction, AccessLog, Role, RoleGrant, User
from tests.org.builders import write_csv


async def test_a_minus_entry_removes_the_role(sessionmaker, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    await seed_demo(sessionmaker)
    path = write_csv(tmp_path / "leave.csv", {"people": [
        {"telegram_id": 7000000014, "first_name": "张伟", "roles": "-worker:DC-XS-01; staff:DC-XS"}]})
    report = await import_org_file(sessionmaker, path)
    assert report.updated["people"] == 1
    async with sessionmaker() as s:
        worker = await s.scalar(select(User).where(User.telegram_id == 7000000014))
        assert [(g.role, g.scope_type.value) for g in worker.roles] == [(Role.staff, "community")]
        rows = [(r.action, r.detail) for r in await s.scalars(select(AccessLog).where(AccessLog.subject_id == worker.id)
                                                                 .order_by(AccessLog.id))]
        assert (AccessAction.role_revoked, "worker@DC-XS-01 (import)") in rows
        assert (AccessAction.role_granted, "staff@DC-XS (import)") in rows
    # The same file again changes nothing; a role both given and removed is an error.
    again = await import_org_file(sessionmaker, path)
    assert again.updated["people"] == 0
    bad = write_csv(tmp_path / "both.csv", {"people": [
        {"telegram_id": 7000000015, "first_name": "王芳", "roles": "worker:DC-XS-01; -worker:DC-XS-01"}]})
    try:
        await import_org_file(sessionmaker, bad)
        raise AssertionError("accepted")
    except ImportFailed as exc:
        assert "both given and removed" in exc.errors[0].message
    async with sessionmaker() as s:
        assert await s.scalar(select(RoleGrant).where(RoleGrant.user_id == (await s.scalar(
            select(User.id).where(User.telegram_id == 7000000015))))) is not None
