"""Fixtures for the sandbox: the whole sandbox in-process on free ports, an HTTP
client for its page and APIs, and (for the browser tests) headless Chromium."""

from __future__ import annotations

import shutil
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from bot.config import Settings
from bot.sandbox.runner import Sandbox
from models.base import clock_offset


def sandbox_settings(**extra: Any) -> Settings:
    return Settings(_env_file=None, **extra)


@pytest.fixture
def sqlite_url(sqlite_template: Path, tmp_path: Path) -> str:
    """A migrated SQLite file (the sandbox tests that need no PostgreSQL variant)."""
    path = tmp_path / "sandbox.db"
    shutil.copy(sqlite_template, path)
    return f"sqlite+aiosqlite:///{path}"


@pytest.fixture
async def make_sandbox(tmp_path: Path) -> AsyncIterator[Callable[..., Any]]:
    """``await make_sandbox(database_url)`` starts a sandbox; all are stopped at teardown."""
    started: list[Sandbox] = []

    async def make(database_url: str, **kw: Any) -> Sandbox:
        kw.setdefault("data_dir", tmp_path / "sandbox-data")
        settings = kw.pop("settings", None) or sandbox_settings()
        kw.setdefault("port", 0)
        sandbox = Sandbox(settings, host="127.0.0.1", database_url=database_url, **kw)
        started.append(sandbox)
        await sandbox.start()
        return sandbox

    yield make
    for sandbox in started:
        await sandbox.stop()  # stopping twice is harmless
    assert clock_offset().total_seconds() == 0, "a sandbox left the process clock moved"


@pytest.fixture
async def sandbox(make_sandbox, sqlite_url: str) -> AsyncIterator[Sandbox]:
    sb = await make_sandbox(sqlite_url)
    yield sb
    await sb.stop()


@pytest.fixture
async def http(sandbox: Sandbox) -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession(base_url=sandbox.url) as session:
        yield session


@pytest.fixture(scope="session")
def chromium_path() -> str:
    from tests.sandbox.browser import ensure_chromium, ensure_fonts, ensure_playwright

    problem = ensure_playwright()
    if problem:
        pytest.skip(problem)
    path, problem = ensure_chromium()
    if path is None:
        pytest.skip(problem)
    ensure_fonts()
    return path


@pytest.fixture
async def browser(chromium_path: str) -> AsyncIterator[Any]:
    from playwright.async_api import async_playwright

    from tests.sandbox.browser import CHROMIUM_ARGS

    async with async_playwright() as pw:
        chromium = await pw.chromium.launch(executable_path=chromium_path, args=CHROMIUM_ARGS, headless=True)
        try:
            yield chromium
        finally:
            await chromium.close()
