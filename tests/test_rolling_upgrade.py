"""Rolling upgrades: a process refuses a database a newer version migrated, with
one line; the project's migrations after 0016 are additive (checked on the
schema itself, revision by revision), so an old process keeps working beside a
new one across a migration."""

from __future__ import annotations

import asyncio
import json
import shutil
import sys
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import MetaData, text

from models.database import (
    alembic_config,
    create_engine,
    downgrade_sync,
    migration_heads,
    upgrade_sync,
)
from tests.cluster import (
    RoundRobinProxy,
    bot_env,
    free_port,
    http_get,
    run_module,
    spawn_webhook,
    wait_http,
)
from tests.conftest import BOT_TOKEN, _in_thread, _truncate_all
from tests.processes import end_process

ROOT = Path(__file__).resolve().parent.parent


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
        code, err = await run_module(module, *args, **env)
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
    default.  The same check, going back down from the head, finds the tables or columns
    the newest migration that added some takes away (0016 is the squashed baseline:
    nothing lies below it to step down to)."""
    try:
        _in_thread(downgrade_sync, db_url, ADDITIVE_SINCE)
        later = _later_revisions(ADDITIVE_SINCE)
        previous = ADDITIVE_SINCE
        for revision in later:
            assert await _step(db_url, previous, revision) == []
            previous = revision
        # The check's own check: going back down from the head, step by step, the first
        # step that takes away a table or column is found (a step that only changes
        # indexes finds nothing, rightly).
        chain = [ADDITIVE_SINCE, *later]
        found = []
        while len(chain) > 1 and not found:
            found = await _step(db_url, chain[-1], chain[-2])
            chain.pop()
        assert not later or (found and all("dropped or renamed" in line for line in found)), found
    finally:
        _in_thread(upgrade_sync, db_url)


# -- an old and a new process side by side across a migration ------------------------------

NEW_MIGRATION = '''"""A migration of the next version, for the test: a new table and a new nullable column.

Revision ID: zz01
"""

import sqlalchemy as sa
from alembic import op

revision = "zz01"
down_revision = {heads!r}
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table("zz_next_version", sa.Column("id", sa.Integer(), primary_key=True))
    with op.batch_alter_table("inbound_updates") as batch_op:
        batch_op.add_column(sa.Column("zz_trace", sa.String(length=64), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("inbound_updates") as batch_op:
        batch_op.drop_column("zz_trace")
    op.drop_table("zz_next_version")
'''


def _next_version(tmp_path: Path) -> Path:
    """A copy of this code with one more (additive) migration: "the new version"."""
    new = tmp_path / "next"
    for part in ("bot", "handlers", "models", "locales", "data"):
        shutil.copytree(ROOT / part, new / part, ignore=shutil.ignore_patterns("__pycache__"))
    heads = sorted(migration_heads()[0])
    (new / "models/migrations/versions/29991231_zz01_next.py").write_text(
        NEW_MIGRATION.format(heads=heads[0] if len(heads) == 1 else tuple(heads)))
    return new


@pytest.mark.timeout(360)  # three processes start, one migrates (about 30 s on a quiet machine)
async def test_old_and_new_processes_side_by_side_across_a_migration(emulator, pg_migrated, tmp_path):
    await _truncate_all(pg_migrated)
    new_code = _next_version(tmp_path)
    env = bot_env(emulator, pg_migrated, SHUTDOWN_GRACE_SECONDS="5")

    async def in_new(*args: str, **extra: str) -> tuple[int, str]:
        proc = await asyncio.create_subprocess_exec(
            sys.executable, *args, cwd=new_code, env={**env, **extra},
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE, stdin=asyncio.subprocess.DEVNULL)
        _, err = await asyncio.wait_for(proc.communicate(), 120)
        return proc.returncode, err.decode()

    old_port, new_port = free_port(), free_port()
    proxy = RoundRobinProxy([f"http://127.0.0.1:{old_port}/tg/webhook"])
    await proxy.start()
    old_log, new_log = tmp_path / "old.log", tmp_path / "new.log"
    procs = []
    try:
        old = await spawn_webhook(env, old_log, proxy.url, old_port, "old-1")
        procs.append(old)
        await wait_http(f"http://127.0.0.1:{old_port}/readyz", old, old_log)
        await emulator.wait_for(lambda: emulator.webhook_url() == proxy.url, 30)
        first = emulator.create_user(first_name="old", language_code="en")
        await emulator.send_text(first, "/help")
        await emulator.wait_for(lambda: len(emulator.messages(first.id)) == 1, 30)

        # The new version migrates while the old process runs; the old one keeps working.
        code, err = await in_new("-m", "bot", "db", "upgrade")
        assert code == 0, err
        status, body = await http_get(f"http://127.0.0.1:{old_port}/readyz")
        assert status == 200 and json.loads(body)["schema"] == "newer: zz01"
        await emulator.send_text(first, "/nosuch")
        await emulator.wait_for(lambda: len(emulator.messages(first.id)) == 2, 30)

        # The new process joins behind the same proxy; both serve.
        new = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "bot", "run", cwd=new_code,
            env={**env, "WEBHOOK_URL": proxy.url, "WEBHOOK_SECRET": "city-secret",
                 "WEBHOOK_LISTEN_PORT": str(new_port), "INSTANCE_NAME": "new-1", "DELIVERY_ENABLED": "false",
                 "JOBS_ENABLED": "false"},
            stdout=new_log.open("ab"), stderr=asyncio.subprocess.STDOUT, stdin=asyncio.subprocess.DEVNULL)
        procs.append(new)
        await wait_http(f"http://127.0.0.1:{new_port}/readyz", new, new_log)
        proxy.backends.append(f"http://127.0.0.1:{new_port}/tg/webhook")
        proxy.forwarded[proxy.backends[-1]] = 0
        users = [emulator.create_user(first_name=f"both{i}", language_code="en") for i in range(6)]
        for user in users:
            await emulator.send_text(user, "/help")
        await emulator.wait_for(lambda: all(len(emulator.messages(u.id)) == 1 for u in users), 30)
        assert min(proxy.forwarded.values()) > 0, proxy.forwarded

        # An old process cannot start again on the new schema: one line, exit 3.
        assert await end_process(old) == 0
        restarted = await spawn_webhook(env, tmp_path / "old-again.log", proxy.url, old_port, "old-1")
        assert await asyncio.wait_for(restarted.wait(), 120) == 3
        lines = (tmp_path / "old-again.log").read_text().strip().splitlines()
        assert lines[-1].startswith("refusing to start: the database is at migration zz01"), lines[-3:]
    finally:
        for proc in procs:
            await end_process(proc)
        await proxy.stop()
        # Back to this code's schema for the tests that follow.
        heads = sorted(migration_heads()[0])
        code, err = await in_new("-c", "import sys; from models.database import downgrade_sync; "
                                 "downgrade_sync(sys.argv[1], sys.argv[2])", pg_migrated, heads[0])
        assert code == 0, err
