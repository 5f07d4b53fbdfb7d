"""The reports' fixed data set (tests/reports/world.py), made once per test."""

from __future__ import annotations

import pytest

from tests.reports.world import make_report_world


@pytest.fixture
async def world(sessionmaker):  # type: ignore[no-untyped-def]
    async with sessionmaker() as s:
        w = await make_report_world(s)
        await s.commit()
    return w
