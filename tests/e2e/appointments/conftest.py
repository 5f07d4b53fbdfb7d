"""The running bot every appointments journey talks to."""

from __future__ import annotations

from datetime import timedelta

import pytest

from models.base import set_clock_offset
from tests.e2e.cases.helpers import start_cases_bot


@pytest.fixture
async def bot(emulator, db_url, demo_sessionmaker):  # type: ignore[no-untyped-def]
    running = await start_cases_bot(emulator, db_url)
    yield running
    await running.stop()
    set_clock_offset(timedelta(0))
    assert emulator.unknown_methods == [] and emulator.internal_errors == []
