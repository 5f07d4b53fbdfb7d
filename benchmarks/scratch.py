"""The database a benchmark runs on: the one named on its command line, or a fresh SQLite file
that goes away after."""

from __future__ import annotations

import argparse
import tempfile
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from models.database import create_engine, create_sessionmaker, upgrade


@asynccontextmanager
async def bench_database(url: str | None) -> AsyncIterator[tuple[AsyncEngine, async_sessionmaker[AsyncSession]]]:
    """The database at ``url`` (None: a fresh SQLite file in a temporary folder), migrated to
    the newest schema, with its engine and sessions; on leaving, the engine is disposed and
    the temporary folder removed."""
    with tempfile.TemporaryDirectory() as tmp:
        url = url or f"sqlite+aiosqlite:///{Path(tmp) / 'bench.db'}"
        await upgrade(url)
        engine = create_engine(url)
        try:
            yield engine, create_sessionmaker(engine)
        finally:
            await engine.dispose()


def database_arguments(doc: str, database_help: str | None = None) -> argparse.ArgumentParser:
    """The command line of a benchmark that needs a database named: its docstring's first line
    as the description and a required ``--database-url``; it adds its own options."""
    parser = argparse.ArgumentParser(description=doc.splitlines()[0])
    parser.add_argument("--database-url", required=True, help=database_help)
    return parser
