"""Inbound updates per second on PostgreSQL with 1, 2 and 3 webhook processes, and the
CPU each update costs them.

    .venv/bin/python -m benchmarks.city_inbound --database-url postgresql+asyncpg://postgres@127.0.0.1/bench \\
        [--updates 3000] [--processes 1,2,3] [--concurrency 40] [--redis-url redis://127.0.0.1:6379/0]

For each number of processes: the database is emptied (schema dropped, migrated), the
emulator (its own process) gets N users, and K ``python -m bot run`` processes start
in webhook mode.  This process then plays Telegram: it POSTs N updates (each a new
user's ``/help``: the user's row created, a reply sent to the emulator) to the
processes in turn, ``--concurrency`` requests at a time (Telegram's default
``max_connections`` is 40), with the secret header.  The clock runs from the first
POST to the moment every stored update is done (read from the database); the CPU is
the processes' own (user and system, from /proc), divided by N.  The emulator and
PostgreSQL run on the same machine, so with more processes than cores they compete.
Results are printed as one JSON object.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import os
import signal
import sys
import time

import aiohttp

from benchmarks.city_broadcast import _proc_stat, _reset
from benchmarks.delivery_broadcast import _free_port, _machine
from benchmarks.inbound_throughput import OURS, ROOT, _start_emulator
from benchmarks.scratch import database_arguments

SECRET = "bench-secret"


async def _users(base: str, n: int) -> list[int]:
    ids: list[int] = []
    async with aiohttp.ClientSession() as http:
        sem = asyncio.Semaphore(32)

        async def one(i: int) -> None:
            async with sem, http.post(f"{base}/_emu/users?token={OURS}",
                                      json={"first_name": f"U{i}", "language_code": "en"}) as r:
                ids.append((await r.json())["id"])

        await asyncio.gather(*(one(i) for i in range(n)))
    return ids


def _update(update_id: int, user_id: int) -> dict:
    return {"update_id": update_id, "message": {
        "message_id": update_id, "date": int(time.time()), "text": "/help",
        "entities": [{"type": "bot_command", "offset": 0, "length": 5}],
        "chat": {"id": user_id, "type": "private", "first_name": "U"},
        "from": {"id": user_id, "is_bot": False, "first_name": "U", "language_code": "en"}}}


async def _done(database_url: str) -> int:
    from sqlalchemy import func, select

    from models import InboundStatus, InboundUpdate
    from models.database import create_engine

    engine = create_engine(database_url)
    try:
        async with engine.connect() as conn:
            return int(await conn.scalar(select(func.count()).select_from(InboundUpdate)
                                         .where(InboundUpdate.status == InboundStatus.done)) or 0)
    finally:
        await engine.dispose()


async def one_size(k: int, args: argparse.Namespace, base: str) -> dict:
    await _reset(args.database_url)
    users = await _users(base, args.updates)
    ports = [_free_port() for _ in range(k)]
    env = {**os.environ, "BOT_TOKEN": OURS, "TELEGRAM_API_URL": base, "DATABASE_URL": args.database_url,
           "WEBHOOK_URL": "http://127.0.0.1:9/tg/webhook", "WEBHOOK_SECRET": SECRET, "LOG_LEVEL": "WARNING",
           "DELIVERY_ENABLED": "false", "JOBS_ENABLED": "false", "USER_BURST": "1000", "QUIET_HOURS": ""}
    env.pop("METRICS_PORT", None)
    env.pop("REDIS_URL", None)
    if args.redis_url:
        env["REDIS_URL"] = args.redis_url
    procs = [await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot", "run", cwd=ROOT, stdin=asyncio.subprocess.DEVNULL,
        env={**env, "WEBHOOK_LISTEN_PORT": str(port), "INSTANCE_NAME": f"bench-{i}"})
        for i, port in enumerate(ports)]
    try:
        async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=args.concurrency)) as http:
            for port in ports:  # start-up, outside any measurement
                for _ in range(600):
                    try:
                        async with http.get(f"http://127.0.0.1:{port}/readyz") as r:
                            if r.status == 200:
                                break
                    except aiohttp.ClientError:
                        pass
                    await asyncio.sleep(0.1)
            cpu0 = [_proc_stat(p.pid)["cpu_seconds"] for p in procs]
            targets = itertools.cycle(f"http://127.0.0.1:{port}/tg/webhook" for port in ports)
            sem = asyncio.Semaphore(args.concurrency)
            headers = {"X-Telegram-Bot-Api-Secret-Token": SECRET}

            async def post(update: dict) -> None:
                async with sem:
                    while True:
                        async with http.post(next(targets), json=update, headers=headers) as r:
                            if r.status == 200:
                                return

            t0 = time.perf_counter()
            await asyncio.gather(*(post(_update(100000 + i, uid)) for i, uid in enumerate(users)))
            stored = time.perf_counter() - t0
            while await _done(args.database_url) < args.updates:  # noqa: ASYNC110 - other processes' progress
                await asyncio.sleep(0.05)
            seconds = time.perf_counter() - t0
            stats = [_proc_stat(p.pid) for p in procs]
    finally:
        for p in procs:
            p.send_signal(signal.SIGTERM)
        await asyncio.gather(*(p.wait() for p in procs))
    cpu = sum(s["cpu_seconds"] for s in stats) - sum(cpu0)
    return {"processes": k, "updates": args.updates, "seconds": round(seconds, 2),
            "stored_in_seconds": round(stored, 2), "updates_per_second": round(args.updates / seconds, 1),
            "cpu_ms_per_update": round(cpu * 1000 / args.updates, 3),
            "rss_mb": [s["rss_mb"] for s in stats]}


async def main_async(args: argparse.Namespace) -> dict:
    if not args.database_url.startswith("postgresql"):
        raise SystemExit("--database-url: PostgreSQL (several processes share it)")
    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    emulator = await _start_emulator(port)
    try:
        runs = [await one_size(k, args, base) for k in args.processes]
    finally:
        emulator.terminate()
        await emulator.wait()
    return {"machine": _machine(), "concurrency": args.concurrency, "redis": bool(args.redis_url), "runs": runs}


def main() -> None:
    parser = database_arguments(__doc__, "PostgreSQL; its schema is dropped first")
    parser.add_argument("--updates", type=int, default=3000)
    parser.add_argument("--processes", type=lambda s: [int(x) for x in s.split(",")], default=[1, 2, 3])
    parser.add_argument("--concurrency", type=int, default=40)
    parser.add_argument("--redis-url", default=None, help="REDIS_URL for the processes (default: none)")
    args = parser.parse_args()
    print(json.dumps(asyncio.run(main_async(args)), indent=2))


if __name__ == "__main__":
    main()
