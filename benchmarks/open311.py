"""``GET requests.json`` of 1,000 requests from a district-sized database
(60,000 cases), over HTTP from the real server process, on SQLite and
PostgreSQL (goal: under 200 ms).

    .venv/bin/python -m benchmarks.open311 --database-url sqlite+aiosqlite:////tmp/open311.db
    .venv/bin/python -m benchmarks.open311 --database-url postgresql+asyncpg://postgres@127.0.0.1/bench311

An empty database is migrated and seeded first with ``benchmarks.report_data``'s
district (60,000 cases with their events over the twelve months before
1 December 2026, 30,000 residents; no diary, no appointments), every case in a
building with coordinates and an address, as the API publishes them.  About
a fifth of the cases are public problem reports (a few thousand in the last
90 days of the data).  Then ``python -m bot open311 --port 0`` starts on it
and the benchmark asks, ``--runs`` times each after two warm-up calls:

- ``requests.json`` and ``requests.xml`` for the 90 days before 1 December
  (``page_size`` 1,000, so a full answer of 1,000 requests);
- ``requests.json`` with ``extensions=true`` and ``status=open``;
- page 3 of 1,000 (``page=3``), the deepest page of the window;
- ``servicerequestupdates.json`` for the last week of the data.

It prints one JSON line per query (requests in the answer, bytes, median /
p95 / max milliseconds) and exits 1 if a full answer's median is over 200 ms.
A small run to check it works: ``--cases 3000 --residents 2000 --runs 3``.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import statistics
import sys
import time
from datetime import date
from pathlib import Path

import aiohttp
from sqlalchemy import text

from benchmarks.report_data import generate
from benchmarks.scratch import database_arguments
from models.database import create_engine, upgrade_sync

ROOT = Path(__file__).resolve().parents[1]
END = date(2026, 12, 1)
GOAL_MS = 200.0


async def seed(url: str, cases: int, residents: int) -> None:
    engine = create_engine(url)
    async with engine.connect() as conn:
        count = (await conn.execute(text("SELECT count(*) FROM cases"))).scalar()
    await engine.dispose()
    if count:
        print(f"using the {count:,} cases already there", file=sys.stderr)
        return
    began = time.perf_counter()
    await generate(url, residents=residents, cases=cases, diary=0, appointments=0, end=END, seed=7)
    engine = create_engine(url)
    async with engine.begin() as conn:  # what the API publishes: the building's place and address
        await conn.execute(text("UPDATE buildings SET latitude = 41.70 + id * 0.00001, longitude = 125.90 + id * 0.00001,"
                                " address = '东昌区某路' || id || '号'"))
        await conn.execute(text("UPDATE cases SET building_id = grid_id WHERE building_id IS NULL"))
    async with engine.connect() as conn:
        await conn.execute(text("ANALYZE"))
        await conn.commit()
    await engine.dispose()
    print(f"seeded in {time.perf_counter() - began:.0f}s", file=sys.stderr)


async def start(url: str) -> tuple[asyncio.subprocess.Process, str]:
    env = {**os.environ, "DATABASE_URL": url, "LOG_LEVEL": "WARNING", "OPEN311_RATE_PER_MINUTE": "0",
           "PYTHONPATH": str(ROOT)}
    proc = await asyncio.create_subprocess_exec(sys.executable, "-m", "bot", "open311", "--port", "0", cwd=ROOT,
                                                env=env, stdout=asyncio.subprocess.PIPE)
    assert proc.stdout is not None
    line = (await asyncio.wait_for(proc.stdout.readline(), 120)).decode()
    found = re.search(r"(http://\S+/open311/v2)/", line)
    if found is None:
        proc.kill()
        raise SystemExit(f"the server did not start: {line!r}")
    return proc, found.group(1)


async def measure(http: aiohttp.ClientSession, base: str, path: str, params: dict[str, str], runs: int) -> dict:  # type: ignore[type-arg]
    times: list[float] = []
    size = count = 0
    for i in range(runs + 2):
        began = time.perf_counter()
        async with http.get(f"{base}/{path}", params=params) as resp:
            body = await resp.read()
            if resp.status != 200:
                raise SystemExit(f"{path} {params}: HTTP {resp.status}: {body[:300]!r}")
        elapsed = (time.perf_counter() - began) * 1000
        if i >= 2:  # two warm-up calls
            times.append(elapsed)
        size = len(body)
        count = len(json.loads(body)) if path.endswith(".json") else body.count(b"<request>") + body.count(b"<request_update>")
    times.sort()
    return {"query": path + ("?" + "&".join(f"{k}={v}" for k, v in params.items()) if params else ""),
            "results": count, "bytes": size, "median_ms": round(statistics.median(times), 1),
            "p95_ms": round(times[min(len(times) - 1, int(len(times) * 0.95))], 1), "max_ms": round(times[-1], 1)}


async def run(url: str, cases: int, residents: int, runs: int) -> int:
    await seed(url, cases, residents)
    proc, base = await start(url)
    window = {"start_date": "2026-09-02T00:00:00+08:00", "end_date": "2026-12-01T00:00:00+08:00", "page_size": "1000"}
    failed = False
    try:
        async with aiohttp.ClientSession() as http:
            for path, params, goal in (
                ("requests.json", window, True),
                ("requests.xml", window, True),
                ("requests.json", {**window, "extensions": "true", "status": "open"}, True),
                ("requests.json", {**window, "page": "3"}, False),
                ("servicerequestupdates.json", {"start_date": "2026-11-24T00:00:00+08:00",
                                                "end_date": "2026-12-01T00:00:00+08:00"}, False),
            ):
                result = await measure(http, base, path, params, runs)
                print(json.dumps(result, ensure_ascii=False))
                if goal and result["results"] == 1000 and result["median_ms"] > GOAL_MS:
                    failed = True
    finally:
        proc.terminate()
        await proc.wait()
    return 1 if failed else 0


def main() -> None:
    parser = database_arguments(__doc__)
    parser.add_argument("--cases", type=int, default=60_000)
    parser.add_argument("--residents", type=int, default=30_000)
    parser.add_argument("--runs", type=int, default=20)
    args = parser.parse_args()
    upgrade_sync(args.database_url)
    sys.exit(asyncio.run(run(args.database_url, args.cases, args.residents, args.runs)))


if __name__ == "__main__":
    main()
