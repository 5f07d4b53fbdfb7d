"""Several real bot processes for the tests that run a city: a round-robin HTTP proxy
in front of webhook processes (as a load balancer would be), a TCP proxy that can cut
a process off its database, waiting for a process's HTTP endpoints and reading its
``/metrics``."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import os
import socket
from pathlib import Path

import aiohttp
from aiohttp import web
from prometheus_client.parser import text_string_to_metric_families

from tests.conftest import BOT_TOKEN
from tests.processes import PIPE, python_m, spawn_module

SECRET = "city-secret"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class RoundRobinProxy:
    """POSTs to ``/tg/webhook`` go to the next backend in turn; a backend that does not
    answer (dead, stopping) is skipped for the next, as a load balancer retries; when
    none answers the sender gets 502 (Telegram, and the emulator, then retry)."""

    def __init__(self, backends: list[str]) -> None:
        self.backends = backends
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}/tg/webhook"
        self.forwarded: dict[str, int] = {b: 0 for b in backends}
        self._turn = itertools.count()
        self._runner: web.AppRunner | None = None
        self._client: aiohttp.ClientSession | None = None

    async def _forward(self, request: web.Request) -> web.Response:
        body = await request.read()
        headers = {k: v for k, v in request.headers.items() if k.lower() in
                   ("content-type", "x-telegram-bot-api-secret-token")}
        assert self._client is not None
        start = next(self._turn)
        for i in range(len(self.backends)):
            backend = self.backends[(start + i) % len(self.backends)]
            try:
                async with self._client.post(backend, data=body, headers=headers) as resp:
                    payload = await resp.read()
                    if resp.status >= 500:
                        continue
                    self.forwarded[backend] += 1
                    return web.Response(status=resp.status, body=payload)
            except (aiohttp.ClientError, OSError, TimeoutError):
                continue
        return web.Response(status=502)

    async def start(self) -> None:
        self._client = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30, sock_connect=2))
        app = web.Application()
        app.router.add_post("/tg/webhook", self._forward)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", self.port).start()

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
        if self._client is not None:
            await self._client.close()


class TcpProxy:
    """Bytes between a local port and ``target``; :meth:`cut` drops every connection
    and refuses new ones (the database "unreachable"), :meth:`restore` listens again."""

    def __init__(self, host: str, port: int) -> None:
        self.target = (host, port)
        self.port = free_port()
        self._server: asyncio.AbstractServer | None = None
        self._pipes: set[asyncio.Task[None]] = set()

    async def _pipe(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            with contextlib.suppress(Exception):
                while data := await reader.read(65536):
                    writer.write(data)
                    await writer.drain()
        finally:
            writer.transport.abort()  # the other side sees the connection drop at once

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            up_reader, up_writer = await asyncio.open_connection(*self.target)
        except OSError:
            writer.transport.abort()
            return
        for task in (asyncio.create_task(self._pipe(reader, up_writer)),
                     asyncio.create_task(self._pipe(up_reader, writer))):
            self._pipes.add(task)
            task.add_done_callback(self._pipes.discard)

    async def restore(self) -> None:
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", self.port)

    async def cut(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None
        for task in list(self._pipes):
            task.cancel()
        await asyncio.gather(*self._pipes, return_exceptions=True)


async def run_module(module: str, *args: str, **env: str) -> tuple[int, str]:
    """``python -m module args`` to its end, in an environment without the bot's settings
    but ``env``; returns the exit code and what it wrote to stderr."""
    base = {k: v for k, v in os.environ.items()
            if k not in {"BOT_TOKEN", "TELEGRAM_API_URL", "REDIS_URL", "WEBHOOK_URL"}}
    proc = await python_m(module, *args, env={**base, **env}, stdout=PIPE, stderr=PIPE)
    _, err = await asyncio.wait_for(proc.communicate(), 120)
    return proc.returncode or 0, err.decode()


def bot_env(emulator, database_url: str, **extra: str) -> dict[str, str]:  # type: ignore[no-untyped-def]
    env = {**os.environ, "BOT_TOKEN": BOT_TOKEN, "TELEGRAM_API_URL": emulator.base_url,
           "DATABASE_URL": database_url, "LOG_LEVEL": "INFO", "QUIET_HOURS": "", "USER_BURST": "1000"}
    for name in ("REDIS_URL", "WEBHOOK_URL", "METRICS_PORT", "INSTANCE_NAME"):
        env.pop(name, None)
    env.update(extra)
    return env


async def spawn_webhook(env: dict[str, str], log: Path, proxy_url: str, port: int,
                        name: str) -> asyncio.subprocess.Process:
    """``python -m bot run`` in webhook mode behind the proxy, listening on ``port``."""
    env = {**env, "WEBHOOK_URL": proxy_url, "WEBHOOK_SECRET": SECRET, "WEBHOOK_LISTEN_PORT": str(port),
           "INSTANCE_NAME": name, "DELIVERY_ENABLED": "false", "JOBS_ENABLED": "false"}
    return await spawn_module(env, log, "bot", "run")


async def http_get(url: str) -> tuple[int, str]:
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10)) as http, http.get(url) as resp:
        return resp.status, await resp.text()


def scrape(body: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Every sample of a ``/metrics`` answer, parsed by prometheus-client: (name, sorted labels) -> value."""
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(body) for s in family.samples}


async def wait_http(url: str, proc: asyncio.subprocess.Process, log: Path, timeout: float = 180) -> None:
    """Until ``url`` answers 200 (another process: there is no event to wait on).  Generous:
    several processes importing aiogram at once on a busy machine take a while to start."""
    async with asyncio.timeout(timeout):
        while True:
            if proc.returncode is not None:
                tail = await asyncio.to_thread(log.read_text)
                raise AssertionError(f"the process exited ({proc.returncode}): {tail[-3000:]}")
            with contextlib.suppress(aiohttp.ClientError, OSError, TimeoutError):
                if (await http_get(url))[0] == 200:
                    return
            await asyncio.sleep(0.1)
