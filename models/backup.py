"""``python -m bot backup FILE``: a consistent copy of a live SQLite database.

SQLite's online backup API (``sqlite3.Connection.backup``) copies the database
as of one moment while the bot keeps writing: in WAL mode readers do not block
the writer, and the copy is one read transaction's snapshot.  The copy goes to
a temporary file beside FILE, is checked (``PRAGMA integrity_check``) and only
then renamed to FILE, so a FILE that exists is always a whole backup.

PostgreSQL is backed up with its own tools (``pg_dump``; docs/deploy.md).
"""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path

from sqlalchemy.engine import make_url


class BackupRefused(Exception):
    """One line saying why no backup was made."""


def sqlite_path(database_url: str) -> Path:
    url = make_url(database_url)
    if url.get_backend_name() != "sqlite":
        raise BackupRefused("DATABASE_URL is PostgreSQL: back it up with pg_dump (see docs/deploy.md, Backups)")
    if not url.database or url.database == ":memory:":
        raise BackupRefused("DATABASE_URL names no SQLite file")
    path = Path(url.database)
    if not path.exists():
        raise BackupRefused(f"{path}: no such database file")
    return path


def backup_sqlite(database_url: str, target: Path) -> dict[str, object]:
    """Copy the database to ``target`` (which must not exist); returns what was copied."""
    source_path = sqlite_path(database_url)
    if target.exists():
        raise BackupRefused(f"{target}: exists; choose a new file name")
    if target.resolve() == source_path.resolve():
        raise BackupRefused(f"{target}: that is the database itself")
    partial = target.with_name(f".{target.name}.partial-{os.getpid()}")
    source = sqlite3.connect(f"file:{source_path}?mode=ro", uri=True, timeout=30)
    try:
        copy = sqlite3.connect(partial)
        try:
            source.backup(copy)  # all pages in one step: one consistent snapshot
            check = copy.execute("PRAGMA integrity_check").fetchone()[0]
            if check != "ok":
                raise BackupRefused(f"the copy failed its integrity check: {check}")
            revision = copy.execute("SELECT version_num FROM alembic_version").fetchone()
            tables = copy.execute("SELECT count(*) FROM sqlite_master WHERE type = 'table'").fetchone()[0]
        finally:
            copy.close()
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    finally:
        source.close()
    partial.replace(target)
    return {"file": str(target), "bytes": target.stat().st_size, "tables": tables,
            "migration": revision[0] if revision else None}
