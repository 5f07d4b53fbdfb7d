"""The Open311 server as its own process (``python -m bot open311 --port 0``)
for the tests, and a small strict HTTP client of our own beside the PyPI ones."""

from __future__ import annotations

import asyncio
import json
import os
import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp

from tests.processes import PIPE, end_process, python_m

W3C = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\+08:00$")


@dataclass
class Answer:
    status: int
    headers: dict[str, str]
    body: bytes

    @property
    def text(self) -> str:
        return self.body.decode("utf-8")

    def json(self) -> Any:
        return json.loads(self.text)

    def xml(self) -> ET.Element:
        """Parsed strictly with the standard library (as FixMyStreet reads XML: a
        well-formed UTF-8 document with its declaration, or an error)."""
        assert self.body.startswith(b'<?xml version="1.0" encoding="utf-8"?>'), self.body[:60]
        return ET.fromstring(self.body)


@dataclass
class Server:
    proc: asyncio.subprocess.Process
    base: str  # http://127.0.0.1:PORT/open311/v2
    http: aiohttp.ClientSession
    bodies: list[bytes] = field(default_factory=list)  # every answer, for the privacy sweep

    async def get(self, path: str, params: dict[str, str] | None = None, **headers: str) -> Answer:
        async with self.http.get(f"{self.base}/{path}", params=params, headers=headers) as resp:
            return await self._keep(resp)

    async def post(self, path: str, form: dict[str, str], **headers: str) -> Answer:
        async with self.http.post(f"{self.base}/{path}", data=form, headers=headers) as resp:
            return await self._keep(resp)

    async def _keep(self, resp: aiohttp.ClientResponse) -> Answer:
        body = await resp.read()
        self.bodies.append(body)
        return Answer(resp.status, dict(resp.headers), body)


async def start_server(db_url: str, log: Path, **env: str) -> Server:
    """Start the server on a free port; it prints its address once it listens."""
    environ = {k: v for k, v in os.environ.items() if not k.startswith(("OPEN311_", "BOT_", "DATABASE_"))}
    environ.update({"DATABASE_URL": db_url, "LOG_LEVEL": "WARNING", "OPEN311_BURST": "10000", **env})
    with log.open("ab") as err:
        proc = await python_m("bot", "open311", "--port", "0", env=environ, stdout=PIPE, stderr=err)
    assert proc.stdout is not None
    line = (await asyncio.wait_for(proc.stdout.readline(), 90)).decode()
    found = re.search(r"(http://\S+)/open311/v2/", line)
    if found is None:
        await end_process(proc)
        tail = (await asyncio.to_thread(log.read_text))[-2000:]
        raise AssertionError(f"the server did not start: {line!r}; log: {tail}")
    return Server(proc, found.group(1) + "/open311/v2", aiohttp.ClientSession())


async def stop_server(server: Server) -> None:
    await server.http.close()
    assert await end_process(server.proc) == 0


async def cli(db_url: str, *args: str) -> tuple[int, str, str]:
    """``python -m bot <args>`` on the test's database: (exit code, stdout, stderr)."""
    environ = {k: v for k, v in os.environ.items() if not k.startswith(("BOT_", "DATABASE_"))}
    environ.update({"DATABASE_URL": db_url, "LOG_LEVEL": "WARNING"})
    proc = await python_m("bot", *args, env=environ, stdout=PIPE, stderr=PIPE)
    out, err = await asyncio.wait_for(proc.communicate(), 90)
    return proc.returncode or 0, out.decode(), err.decode()
