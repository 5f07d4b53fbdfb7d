"""Rolling upgrades: a process refuses a database a newer version migrated, with
one line; the project's migrations after 0016 are additive (checked on the
schema itself, revision by revision), so an old process keeps working beside a
new one across a migration."""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path

from sqlalchemy import text

from models.database import create_engine
from tests.conftest import BOT_TOKEN

ROOT = Path(__file__).resolve().parent.parent


async def _run(module: str, *args: str, **env: str) -> tuple[int, str]:
    base = {k: v for k, v in os.environ.items() if k not in {"BOT_TOKEN", "TELEGRAM_API_URL", "REDIS_URL",
                                                                "WEBHOOK_URL"}}
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", module, *args, cwd=ROOT, env={**base, **env},
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE, stdin=asyncio.subprocess.DEVNULL,
    )
    _, err = await asyncio.wait_for(proc.communicate(), 120)
    return proc.returncode, err.decode()


async def test_a_process_refuses_a_database_migrated_by_a_newer_version(tmp_path: Path, sqlite_template):
    path = tmp_path / "newer.db"
    path.write_bytes(sqlite_template.read_bytes())
    url = f"sqlite+aiosqlite:///{path}"
    engine = create_engine(url)
    async with engine.begin() as conn:
        await conn.execute(text("UPDATE alembic_version SET version_num = 'zz99'"))
    await engine.dispose()
    env = {"DATABASE_URL": url, "BOT_TOKEN": BOT_TOKEN, "TELEGRAM_API_URL": "http://127.0.0.1:9"}
    for module, args in (("bot", ("run",)), ("bot", ("db", "upgrade")), ("bot.delivery", ())):
        code, err = await _run(module, *args, **env)
        assert code == 3, (module, args, err)
        lines = err.strip().splitlines()
        assert len(lines) == 1, err
        assert lines[0].startswith("refusing to start: the database is at migration zz99, newer than this "
                                   "version of gridbot knows"), lines[0]


# -- additive migrations ----------------------------------------------------------------

# The head when rolling upgrades were first promised: every migration after it is additive.
ADDITIVE_SINCE = "0016"


def _later_revisions(since: str) -> list[str]:
    """The revisions after ``since`` up to the heads, in the order they are applied."""
    from alembic.script import ScriptDirectory

    from models.database import alembic_config

    script = ScriptDirectory.from_config(alembic_config("sqlite://"))
    return [rev.revision for rev in reversed(list(script.iterate_revisions("heads", since)))]


def _problems(diff: list, step: str) -> list[str]:  # type: ignore[type-arg]
    """What in a schema diff breaks the code of the schema before: ``diff`` is what
    autogenerate would do to bring the schema after back to the one before."""
    found = []
    for change in diff:
        for op in change if isinstance(change, list) else [change]:
            kind = op[0]
            if kind == "add_table":  # in the old schema, not in the new one
                found.append(f"{step}: table {op[1].name} dropped or renamed")
            elif kind == "add_column":
                found.append(f"{step}: column {op[2]}.{op[3].name} dropped or renamed")
            elif kind == "remove_column":  # a new column: old code inserts rows without it
                column = op[3]
                if not column.nullable and column.server_default is None:
                    found.append(f"{step}: new column {op[2]}.{column.name} is NOT NULL without a server default")
            elif kind == "modify_type":
                found.append(f"{step}: column {op[2]}.{op[3]} changed type from {op[6]} to {op[5]}")
            elif kind == "modify_nullable" and op[6] and not op[5]:
                found.append(f"{step}: column {op[2]}.{op[3]} became NOT NULL")
    return found


async def _step(url: str, old: str, new: str) -> list[str]:
    """Migrate from ``old`` to ``new`` and tell what old code would no longer find."""
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext
    from sqlalchemy import MetaData

    from models.database import downgrade_sync, upgrade_sync
    from tests.conftest import _in_thread

    engine = create_engine(url)
    try:
        async with engine.connect() as conn:
            before = MetaData()
            await conn.run_sync(lambda c: before.reflect(c))
        before.remove(before.tables["alembic_version"])
        _in_thread(upgrade_sync if _is_later(new, old) else downgrade_sync, url, new)
        async with engine.connect() as conn:
            diff = await conn.run_sync(
                lambda c: compare_metadata(MigrationContext.configure(c, opts={"compare_type": True}), before))
    finally:
        await engine.dispose()
    return _problems(diff, f"{old} -> {new}")


def _is_later(a: str, b: str) -> bool:
    return a in _later_revisions(b)


async def test_migrations_after_0016_are_additive(db_url):
    """Each migration after 0016, one at a time, only adds: no table or column dropped or
    renamed, no type changed, nothing made NOT NULL, no new NOT NULL column without a
    default.  The same check finds a dropped column going down from 0016 to 0015."""
    from models.database import downgrade_sync, upgrade_sync
    from tests.conftest import _in_thread

    try:
        _in_thread(downgrade_sync, db_url, ADDITIVE_SINCE)
        assert await _step(db_url, ADDITIVE_SINCE, "0015") == [
            "0016 -> 0015: column inbound_updates.payload_hash dropped or renamed"]
        assert await _step(db_url, "0015", ADDITIVE_SINCE) == []
        previous = ADDITIVE_SINCE
        for revision in _later_revisions(ADDITIVE_SINCE):
            assert await _step(db_url, previous, revision) == []
            previous = revision
    finally:
        _in_thread(upgrade_sync, db_url)
