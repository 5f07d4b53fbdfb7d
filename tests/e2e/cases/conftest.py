"""The case loop's end-to-end fixture: the bot with its delivery engine on the demo district."""

from __future__ import annotations

import pytest

from tests.e2e.cases.helpers import start_cases_bot


@pytest.fixture
async def bot(emulator, db_url, demo_sessionmaker):  # type: ignore[no-untyped-def]
    running = await start_cases_bot(emulator, db_url)
    yield running
    await running.stop()
    assert emulator.unknown_methods == []
    assert emulator.internal_errors == []
