"""Fixtures of the Open311 tests: the demo district with published and hidden
cases (``world``), and the server as its own process on the test's database."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.open311.server import Server, start_server, stop_server
from tests.open311.world import World, build, settings_for


@pytest.fixture
async def world(db_url, demo_sessionmaker) -> World:  # type: ignore[no-untyped-def]
    return await build(demo_sessionmaker, settings_for(db_url))


@pytest.fixture
async def server(db_url, world, tmp_path: Path):  # type: ignore[no-untyped-def]
    running: Server = await start_server(db_url, tmp_path / "open311.log")
    yield running
    await stop_server(running)
