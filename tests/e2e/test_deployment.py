"""Running several processes: only one sets the webhook, and only when it changed; a
consistent backup of a live SQLite database."""

from __future__ import annotations

import asyncio
import sqlite3
import threading

from bot.app import GridBotApp
from models.database import migration_heads
from tests.cluster import run_module
from tests.conftest import BOT_TOKEN
from tests.e2e.conftest import make_settings


async def test_only_one_process_sets_the_webhook(emulator, db_url):
    url = "http://127.0.0.1:9/tg/webhook"
    apps = [GridBotApp.create(make_settings(emulator, db_url, WEBHOOK_URL=url, WEBHOOK_SECRET="s3cret"),
                              token=BOT_TOKEN) for _ in range(3)]
    try:
        # Three processes starting together: one sets it, the others find it set.  (SQLite
        # runs one process: there they start one after the other.)
        if db_url.startswith("postgresql"):
            done = list(await asyncio.gather(*(app.set_webhook_once(url, "s3cret") for app in apps)))
        else:
            done = [await app.set_webhook_once(url, "s3cret") for app in apps]
        assert sorted(done) == [False, False, True]
        assert len(emulator.calls_to("setWebhook")) == 1
        assert emulator.webhook_url() == url
        # A restart with the same settings sets nothing.
        assert await apps[0].set_webhook_once(url, "s3cret") is False
        # A new secret (a rolling upgrade that changes it) is set, once.
        assert await apps[1].set_webhook_once(url, "n3w-secret") is True
        assert await apps[2].set_webhook_once(url, "n3w-secret") is False
        # Deleted behind our back (someone ran the bot in polling mode): set again.
        await apps[0].bot.delete_webhook()
        assert await apps[0].set_webhook_once(url, "n3w-secret") is True
        assert len(emulator.calls_to("setWebhook")) == 3
    finally:
        for app in apps:
            await app.close()


async def test_backup_is_a_consistent_copy_while_the_database_is_written(tmp_path, sqlite_template):
    """`python -m bot backup FILE` while another connection commits pairs of rows, each
    pair in one transaction: the copy is whole (integrity check) and holds whole pairs."""
    path = tmp_path / "live.db"
    path.write_bytes(sqlite_template.read_bytes())
    stop = threading.Event()
    written = []

    def write() -> None:
        conn = sqlite3.connect(path, timeout=30)
        conn.execute("PRAGMA journal_mode=WAL")
        i = 0
        while not stop.is_set():
            with conn:  # one transaction
                for part in ("a", "b"):
                    conn.execute("INSERT INTO deployment_state (name, value, updated_at) VALUES (?, ?, ?)",
                                 (f"{part}{i}", "x" * 200, "2026-12-05 00:00:00.000000"))
            i += 1
            written.append(i)
        conn.close()

    writer = threading.Thread(target=write)
    writer.start()
    try:
        while len(written) < 50:  # noqa: ASYNC110 - a thread's progress: no event to wait on
            await asyncio.sleep(0.01)
        target = tmp_path / "copy.db"
        code, err = await run_module("bot", "backup", str(target), DATABASE_URL=f"sqlite+aiosqlite:///{path}")
        assert code == 0, err
        during = len(written)
    finally:
        stop.set()
        writer.join()
    assert during > 50  # it was being written while copied
    copy = sqlite3.connect(target)
    assert copy.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    names = {n for (n,) in copy.execute("SELECT name FROM deployment_state")}
    assert names and len(names) % 2 == 0
    assert {n[1:] for n in names if n[0] == "a"} == {n[1:] for n in names if n[0] == "b"}
    assert {copy.execute("SELECT version_num FROM alembic_version").fetchone()[0]} == set(migration_heads()[0])
    copy.close()
    # Never over an existing file, and PostgreSQL has its own tools.
    code, err = await run_module("bot", "backup", str(target), DATABASE_URL=f"sqlite+aiosqlite:///{path}")
    assert code == 2 and "exists" in err
    code, err = await run_module("bot", "backup", str(tmp_path / "pg.db"),
                           DATABASE_URL="postgresql+asyncpg://postgres@127.0.0.1:9/x")
    assert code == 2 and "pg_dump" in err
