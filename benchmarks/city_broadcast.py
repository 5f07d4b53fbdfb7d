"""A city broadcast: N recipients (2,000,000 by default) queued on PostgreSQL and sent
at the paid rate by two ``python -m bot.delivery`` processes, against the emulator.

    .venv/bin/python -m benchmarks.city_broadcast --database-url postgresql+asyncpg://postgres@127.0.0.1/bench \\
        [--recipients 2000000] [--paid-rate 1000] [--window 0]

The database is emptied first (its schema dropped and migrated again).  In one run:

1. **Queue**: ``create_broadcast`` for one grid of N registered residents (the real
   service, one outbox row each), committed.  Timed, with the outbox's growth on disk
   (``pg_total_relation_size``, table and indexes) and this process's memory.
2. **Claim cost** at that size: a sender's claim of 500 rows (``FOR UPDATE SKIP
   LOCKED`` and the mark), five times, handed back after each; median.
3. **Send**: two sender processes with ``DELIVERY_PAID_BROADCAST=true`` share the
   paid rate; every second the emulator's count of sends and each sender's CPU and
   memory are sampled (the open rows are counted only at the end: counting 2 million
   rows every second would stall the machine being measured).  ``--window S`` stops
   after S seconds (2,000,000 at 1000/s take about 35 minutes): the rate is then
   measured over the window and exactly-once over what was sent.  Otherwise it
   drains the outbox and checks every recipient got it once.  Also reported: what
   each sender's limiter counted (blocks of slots taken, slots missed or replaced,
   429 pauses), and the CPU of the emulator, of this database's PostgreSQL
   backends and of the whole machine while sending.

Results are printed as one JSON object.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import statistics
import sys
import tempfile
import time
from typing import IO

from benchmarks.delivery_broadcast import (
    FIRST_ID,
    ROOT,
    TOKEN,
    Emulator,
    _machine,
    _open_rows,
    _seed,
    queue_notice,
)
from benchmarks.procstat import rss_mb
from benchmarks.scratch import database_arguments


def _proc_stat(pid: int) -> dict[str, float]:
    """CPU seconds and resident memory (MiB) of another process, from /proc."""
    with open(f"/proc/{pid}/stat") as fh:
        fields = fh.read().rsplit(")", 1)[1].split()
    ticks = os.sysconf("SC_CLK_TCK")
    rss = 0.0
    with open(f"/proc/{pid}/status") as fh:
        for line in fh:
            if line.startswith("VmRSS"):
                rss = int(line.split()[1]) / 1024
    return {"cpu_seconds": (int(fields[11]) + int(fields[12])) / ticks, "rss_mb": round(rss, 1)}


def _machine_busy() -> float:
    """CPU seconds the whole machine spent busy so far (all cores, from /proc/stat)."""
    with open("/proc/stat") as fh:
        ticks = [int(x) for x in fh.readline().split()[1:9]]
    return (sum(ticks) - ticks[3] - ticks[4]) / os.sysconf("SC_CLK_TCK")


def _db_backends_cpu(database_url: str) -> dict[int, float]:
    """CPU seconds of the PostgreSQL backends connected to this database (from /proc)."""
    name = database_url.rsplit("/", 1)[1].split("?")[0]
    out = {}
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as fh:
                title = fh.read().decode(errors="replace")
            if title.startswith("postgres:") and f" {name} " in title:
                out[int(pid)] = _proc_stat(int(pid))["cpu_seconds"]
        except OSError:
            continue
    return out


def _limiter_counts(log: IO[bytes]) -> dict[str, int] | None:
    """What a sender's limiter counted when it stopped (blocks taken, slots missed or replaced, pauses)."""
    log.seek(0)
    lines = [line for line in log.read().decode(errors="replace").splitlines() if "stopped; sent=" in line]
    if not lines or "; limiter " not in lines[-1]:
        return None
    pairs = (item.split("=", 1) for item in lines[-1].rsplit("; limiter ", 1)[1].split())
    return {key: int(value) for key, value in pairs}


async def _reset(database_url: str) -> None:
    from sqlalchemy import text

    from models.database import create_engine, upgrade

    engine = create_engine(database_url)
    async with engine.begin() as conn:
        await conn.execute(text("DROP SCHEMA IF EXISTS public CASCADE"))
        await conn.execute(text("CREATE SCHEMA public"))
    await engine.dispose()
    await upgrade(database_url)


async def _outbox_bytes(sessionmaker) -> int:  # type: ignore[no-untyped-def]
    from sqlalchemy import text

    async with sessionmaker() as s:
        return int(await s.scalar(text("SELECT pg_total_relation_size('outbox')")) or 0)


async def _claim_cost(sessionmaker, settings) -> dict[str, float]:  # type: ignore[no-untyped-def]
    """Median milliseconds of claiming 500 rows at the current outbox size."""
    from sqlalchemy import update

    from bot.delivery.engine import Sender
    from models import OutboxMessage, OutboxStatus

    sender = Sender(sessionmaker, transport=None, settings=settings, owner="bench-claim")  # type: ignore[arg-type]
    times = []
    for _ in range(5):
        t0 = time.perf_counter()
        claimed = await sender.claim(500)
        times.append((time.perf_counter() - t0) * 1000)
        async with sessionmaker() as s:
            await s.execute(update(OutboxMessage).where(OutboxMessage.lease_owner == "bench-claim")
                            .values(status=OutboxStatus.pending, lease_owner=None, lease_expires_at=None))
            await s.commit()
    return {"rows": len(claimed), "median_ms": round(statistics.median(times), 1),
            "max_ms": round(max(times), 1)}


async def main_async(args: argparse.Namespace) -> dict:
    from bot.config import Settings
    from models.database import create_engine, create_sessionmaker

    if not args.database_url.startswith("postgresql"):
        raise SystemExit("--database-url: PostgreSQL (two sender processes share it)")
    await _reset(args.database_url)
    engine = create_engine(args.database_url)
    sessionmaker = create_sessionmaker(engine)
    emu = Emulator()
    await emu.start()
    result: dict = {"machine": _machine(), "recipients": args.recipients, "paid_rate": args.paid_rate}
    senders: list[asyncio.subprocess.Process] = []
    logs: list[IO[bytes]] = []
    try:
        await emu.post("/_bench/users", {"first": FIRST_ID, "count": args.recipients})
        t0 = time.perf_counter()
        admin_id, grid_id = await _seed(sessionmaker, args.recipients)
        result["seed_seconds"] = round(time.perf_counter() - t0, 1)
        bytes_before = await _outbox_bytes(sessionmaker)

        # 1. Queue.
        rss_before = rss_mb()["VmRSS"]
        t0 = time.perf_counter()
        broadcast = await queue_notice(sessionmaker, admin_id, grid_id)
        result["queue"] = {
            "rows": broadcast.total, "seconds": round(time.perf_counter() - t0, 1),
            "rows_per_second": round(broadcast.total / (time.perf_counter() - t0)),
            "outbox_mb": round((await _outbox_bytes(sessionmaker) - bytes_before) / 2**20, 1),
            "bytes_per_row": round((await _outbox_bytes(sessionmaker) - bytes_before) / max(1, broadcast.total)),
            "rss_growth_mb": round(rss_mb()["VmRSS"] - rss_before, 1),
        }
        print(json.dumps({"queue": result["queue"]}), file=sys.stderr, flush=True)

        # 2. Claim cost at this size.
        settings = Settings(_env_file=None, BOT_TOKEN=TOKEN, TELEGRAM_API_URL=emu.base,
                            DATABASE_URL=args.database_url, DELIVERY_PAID_BROADCAST=True,
                            DELIVERY_PAID_RATE=args.paid_rate)
        result["claim_500"] = await _claim_cost(sessionmaker, settings)

        # 3. Two senders at the paid rate.
        await emu.post("/_bench/caps", {"global": args.paid_rate, "chat": 1, "group": 20})
        t_mark = (await emu.get("/_bench/stats"))["now"]
        env = {**os.environ, "BOT_TOKEN": TOKEN, "TELEGRAM_API_URL": emu.base, "DATABASE_URL": args.database_url,
               "QUIET_HOURS": "", "LOG_LEVEL": "INFO", "LOG_FORMAT": "text", "DELIVERY_PAID_BROADCAST": "true",
               "DELIVERY_PAID_RATE": str(args.paid_rate), "JOBS_ENABLED": "false"}
        for name in ("REDIS_URL", "WEBHOOK_URL", "METRICS_PORT"):
            env.pop(name, None)
        for _ in range(2):
            logs.append(tempfile.TemporaryFile())  # their log: the limiter's counts at the end
            senders.append(await asyncio.create_subprocess_exec(
                sys.executable, "-m", "bot.delivery", "--no-jobs", cwd=ROOT, env=env,
                stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.DEVNULL, stderr=logs[-1]))
        samples = []
        started = time.monotonic()
        machine0, pg0, emu0 = _machine_busy(), _db_backends_cpu(args.database_url), _proc_stat(emu.proc.pid)
        stalled_since = time.monotonic()
        while True:  # one sample a second; the rate itself comes from the emulator's log
            await asyncio.sleep(1.0)
            # Progress from the emulator's count, not from the outbox: counting the open
            # rows of 2 million takes PostgreSQL a quarter of a second on three processes
            # (a parallel scan), a stall of the whole machine every second.
            sent_so_far = (await emu.get("/_bench/count"))["sends"]
            samples.append({"t": round(time.monotonic() - started), "sent": sent_so_far,
                            "senders": [_proc_stat(p.pid) for p in senders]})
            if len(samples) < 2 or sent_so_far > samples[-2]["sent"]:
                stalled_since = time.monotonic()
            if args.window and time.monotonic() - started >= args.window:
                break
            if (sent_so_far >= broadcast.total or time.monotonic() - stalled_since > 10) \
                    and not await _open_rows(sessionmaker):
                break
        last = samples[-1]["senders"]
        seconds = time.monotonic() - started
        machine, pg = _machine_busy(), _db_backends_cpu(args.database_url)
        others = {"machine_busy_cores": round((machine - machine0) / seconds, 2),
                  "postgres_cores": round(sum(c - pg0.get(pid, 0.0) for pid, c in pg.items()) / seconds, 2),
                  "emulator_cores": round((_proc_stat(emu.proc.pid)["cpu_seconds"] - emu0["cpu_seconds"]) / seconds, 2),
                  "load_average": [round(x, 2) for x in os.getloadavg()]}
        for p in senders:
            p.send_signal(signal.SIGTERM)
        await asyncio.gather(*(p.wait() for p in senders))
        open_rows = await _open_rows(sessionmaker)
        stats = await emu.get(f"/_bench/stats?since={t_mark}")
        span = (stats["window_last"] or 0) - (stats["window_first"] or 0)
        sent = stats["window_sends"]
        result["send"] = {
            "sent": sent, "seconds": round(span, 1),
            "msgs_per_second": round((sent - 1) / span, 1) if span else 0,
            "share_of_cap": round((sent - 1) / span / args.paid_rate, 4) if span else 0,
            "busiest_second": stats["busiest_second"], "rate_limit_hits": stats["rate_limit_hits"],
            "sender_cpu_ms_per_message": round(sum(s["cpu_seconds"] for s in last) * 1000 / max(1, sent), 3),
            "sender_rss_mb_at_end": [s["rss_mb"] for s in last],
            "sender_rss_mb_peak": [max(x["senders"][i]["rss_mb"] for x in samples) for i in range(2)],
            "drained": open_rows == 0, "open_rows_at_end": open_rows,
            "limiters": [_limiter_counts(log) for log in logs],
            "cpu_during_sending": others,
        }
        result["exactly_once"] = {"sends": stats["sends"], "distinct_recipients": stats["distinct_chats"],
                                  "ok": stats["sends"] == stats["distinct_chats"]}
        result["claim_500_after"] = await _claim_cost(sessionmaker, settings) if open_rows else None
        result["samples_every_10s"] = samples[::10]
        result["emulator_memory_mb"] = await emu.get("/_bench/memory")
    finally:
        for p in senders:
            if p.returncode is None:
                p.kill()
                await p.wait()
        await emu.stop()
        await engine.dispose()
    return result


def main() -> None:
    parser = database_arguments(__doc__, "PostgreSQL; its schema is dropped first")
    parser.add_argument("--recipients", type=int, default=2_000_000)
    parser.add_argument("--paid-rate", type=int, default=1000)
    parser.add_argument("--window", type=float, default=0.0, help="stop sending after this many seconds (0: drain)")
    args = parser.parse_args()
    print(json.dumps(asyncio.run(main_async(args)), indent=2, ensure_ascii=False))


if __name__ == "__main__":
    main()
