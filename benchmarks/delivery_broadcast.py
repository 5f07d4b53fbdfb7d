"""A 100,000-recipient staff broadcast through the delivery engine, against the
Bot API emulator with its flood caps on, from one sender process.

    .venv/bin/python -m benchmarks.delivery_broadcast [--recipients 100000] [--window 60]
        [--database-url URL] [--paid-rate 1000]

In one run:

1. **Queue**: ``bot.services.broadcasts.create_broadcast`` for a grid of N
   registered residents (the real service: scope check, recipient query, one
   outbox row each with the "I have read it" button in the reader's language),
   committed.  Timed.
2. **30 msg/s**: the emulator's caps are set to Telegram's (30/s overall, 1/s
   per chat, 20/min per group) and the sender (``bot.delivery.engine.Sender``
   with the aiogram transport, ``DELIVERY_GLOBAL_RATE=30``) sends for
   ``--window`` seconds.  The whole broadcast at 30/s would take 55 minutes:
   the rate is measured over this shortened window (from the first send to
   the last one inside it, as the emulator saw them).  The sender is then
   stopped cleanly (the rows it held go back to pending).
3. **Paid broadcast, 1000 msg/s**: the emulator's overall cap becomes 1000/s
   and a new sender with ``DELIVERY_PAID_BROADCAST=true`` drains the rest.
   Rate: sends between the first and the last one, as the emulator saw them.

It then checks every recipient got the notice exactly once, and reports
429s, the busiest one-second window, and memory (peak resident set) of the
sender process and of the emulator.  The emulator runs in its own process.
Results are printed as one JSON object.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import os
import platform
import socket
import sys
import tempfile
import time
from pathlib import Path

import aiohttp

from benchmarks.procstat import rss_mb

TOKEN = "333333333:delivery-benchmark"
ROOT = Path(__file__).resolve().parent.parent
FIRST_ID = 9_000_000_000


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _machine() -> str:
    model = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    return f"{model or platform.machine()}, {os.cpu_count()} cores, {mem:.0f} GiB, Python {platform.python_version()}"


class Emulator:
    def __init__(self) -> None:
        self.port = _free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.proc: asyncio.subprocess.Process | None = None
        self.http: aiohttp.ClientSession | None = None

    async def start(self) -> None:
        self.proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "benchmarks.delivery_emulator", "--port", str(self.port), "--token", TOKEN,
            cwd=ROOT, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.DEVNULL,
        )
        assert self.proc.stdout is not None
        line = await asyncio.wait_for(self.proc.stdout.readline(), 60)
        if not line.startswith(b"ready"):
            raise RuntimeError("emulator did not start")
        self.http = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=600))

    async def post(self, path: str, body: dict) -> dict:
        assert self.http is not None
        async with self.http.post(self.base + path, json=body) as r:
            r.raise_for_status()
            return await r.json()

    async def get(self, path: str) -> dict:
        assert self.http is not None
        async with self.http.get(self.base + path) as r:
            r.raise_for_status()
            return await r.json()

    async def stop(self) -> None:
        if self.http is not None:
            await self.http.close()
        if self.proc is not None and self.proc.returncode is None:
            self.proc.terminate()
            await self.proc.wait()


async def _seed(sessionmaker, n: int):  # type: ignore[no-untyped-def]
    """A district with one grid of n registered residents, and its administrator."""
    from sqlalchemy import insert

    from models import Building, Community, District, Grid, Role, RoleGrant, ScopeType, User, utcnow

    names = {"zh-Hans": "基准", "zh-Hant": "基準", "en": "Bench"}
    async with sessionmaker() as s:
        district = District(code="BD", names=names)
        s.add(district)
        await s.flush()
        community = Community(code="BD-C", district_id=district.id, names=names)
        s.add(community)
        await s.flush()
        grid = Grid(code="BD-C-G", community_id=community.id, names=names)
        s.add(grid)
        await s.flush()
        building = Building(code="BD-C-G-B", grid_id=grid.id, names=names)
        s.add(building)
        admin = User(telegram_id=FIRST_ID - 1, first_name="admin", locale="zh-Hans", registered_at=utcnow(),
                     roles=[])
        s.add(admin)
        await s.flush()
        admin.roles.append(RoleGrant(role=Role.admin, scope_type=ScopeType.district, scope_id=district.id))
        now = utcnow()
        locales = ("zh-Hans", "zh-Hans", "zh-Hans", "zh-Hant", "en")
        rows = [{"telegram_id": FIRST_ID + i, "first_name": f"居民{i}", "locale": locales[i % 5],
                 "building_id": building.id, "grid_id": grid.id, "registered_at": now, "unreachable": False,
                 "created_at": now} for i in range(n)]
        for i in range(0, n, 10000):
            await s.execute(insert(User), rows[i:i + 10000])
        await s.commit()
        return admin.id, grid.id


async def queue_notice(sessionmaker, admin_id: int, grid_id: int):  # type: ignore[no-untyped-def]
    """The administrator's water notice to every resident of the grid (the real service), committed."""
    from sqlalchemy import select

    from bot.services import broadcasts as svc
    from models import BroadcastAudience, BroadcastScope, User, utcnow

    async with sessionmaker() as s:
        admin = await s.scalar(select(User).where(User.id == admin_id))
        broadcast = await svc.create_broadcast(
            s, admin, ref=svc.ScopeRef(BroadcastScope.grid, grid_id), audience=BroadcastAudience.residents,
            text="<b>停水通知</b>：明天 9:00-12:00 停水，请提前储水。", ack_requested=True, now=utcnow(),
            locale="zh-Hans", default_locale="zh-Hans",
            ack_label=lambda loc: {"en": "✅ I have read it", "zh-Hant": "✅ 我已閱讀"}.get(loc, "✅ 我已阅读"),
            ack_callback=lambda bid: f"bca:{bid}")
        await s.commit()
    return broadcast


async def _open_rows(sessionmaker) -> int:  # type: ignore[no-untyped-def]
    from sqlalchemy import func, select

    from models import OutboxMessage, OutboxStatus

    async with sessionmaker() as s:
        return int(await s.scalar(select(func.count()).select_from(OutboxMessage).where(
            OutboxMessage.status.in_([OutboxStatus.pending, OutboxStatus.claimed, OutboxStatus.sending]))) or 0)


async def _run_sender(settings, sessionmaker, stop: asyncio.Event):  # type: ignore[no-untyped-def]
    from bot.app import create_bot
    from bot.delivery.engine import Sender
    from bot.delivery.transport import BotApiTransport

    gc.freeze()  # as bot.delivery.DeliveryRuntime.start does before starting the sender
    bot = create_bot(settings)
    sender = Sender(sessionmaker, BotApiTransport.for_bot(bot, settings), settings)
    try:
        await sender.run(stop)
    finally:
        await bot.session.close()
    return sender


async def main_async(args: argparse.Namespace) -> dict:
    from bot.config import Settings
    from models.database import create_engine, create_sessionmaker, upgrade

    tmp = tempfile.mkdtemp(prefix="delivery-bench-")
    database_url = args.database_url or f"sqlite+aiosqlite:///{tmp}/bench.db"
    await upgrade(database_url)
    engine = create_engine(database_url)
    sessionmaker = create_sessionmaker(engine)
    emu = Emulator()
    await emu.start()
    result: dict = {"machine": _machine(), "database": database_url.split(":")[0], "recipients": args.recipients}
    try:
        await emu.post("/_bench/users", {"first": FIRST_ID, "count": args.recipients})
        admin_id, grid_id = await _seed(sessionmaker, args.recipients)

        # 1. Queue.
        rss_before = rss_mb()["VmRSS"]
        t0 = time.perf_counter()
        broadcast = await queue_notice(sessionmaker, admin_id, grid_id)
        queue_seconds = time.perf_counter() - t0
        result["queue"] = {"rows": broadcast.total, "seconds": round(queue_seconds, 2),
                           "rss_growth_mb": round(rss_mb()["VmRSS"] - rss_before, 1)}
        print(json.dumps({"queued": result["queue"]}), file=sys.stderr, flush=True)

        common = {"BOT_TOKEN": TOKEN, "TELEGRAM_API_URL": emu.base, "DATABASE_URL": database_url,
                  "QUIET_HOURS": "", "LOG_LEVEL": "WARNING"}

        # 2. 30 msg/s over a shortened window.
        await emu.post("/_bench/caps", {"global": 30, "chat": 1, "group": 20})
        stop = asyncio.Event()
        settings = Settings(_env_file=None, **common, DELIVERY_GLOBAL_RATE=30)
        cpu0 = time.process_time()
        task = asyncio.create_task(_run_sender(settings, sessionmaker, stop))
        await asyncio.sleep(args.window)  # the measurement window itself
        stop.set()
        sender = await task
        stats = await emu.get("/_bench/stats")
        span = (stats["window_last"] or 0) - (stats["window_first"] or 0)
        result["rate_30"] = {
            "cap": 30, "window_seconds": args.window, "sent": stats["sends"],
            "msgs_per_second": round((stats["sends"] - 1) / span, 2) if span else 0,
            "share_of_cap": round((stats["sends"] - 1) / span / 30, 4) if span else 0,
            "busiest_second": stats["busiest_second"], "rate_limit_hits": stats["rate_limit_hits"],
            "sender_cpu_seconds": round(time.process_time() - cpu0, 1), "released_on_stop": sender.stats.released,
        }
        print(json.dumps({"rate_30": result["rate_30"]}), file=sys.stderr, flush=True)
        sent_before = stats["sends"]

        # 3. Paid broadcast: 1000 msg/s, drain the rest.
        await emu.post("/_bench/caps", {"global": args.paid_rate, "chat": 1, "group": 20})
        t_mark = (await emu.get("/_bench/stats"))["now"]
        stop = asyncio.Event()
        settings = Settings(_env_file=None, **common, DELIVERY_PAID_BROADCAST=True,
                            DELIVERY_PAID_RATE=args.paid_rate)
        cpu0 = time.process_time()
        task = asyncio.create_task(_run_sender(settings, sessionmaker, stop))
        while True:  # a progress poll; the rate comes from the emulator's log
            if not await _open_rows(sessionmaker):
                break
            await asyncio.sleep(1.0)
        stop.set()
        sender = await task
        stats = await emu.get(f"/_bench/stats?since={t_mark}")
        span = (stats["window_last"] or 0) - (stats["window_first"] or 0)
        sent = stats["window_sends"]
        result["rate_paid"] = {
            "cap": args.paid_rate, "sent": sent, "seconds": round(span, 1),
            "msgs_per_second": round((sent - 1) / span, 1) if span else 0,
            "share_of_cap": round((sent - 1) / span / args.paid_rate, 4) if span else 0,
            "busiest_second": stats["busiest_second"], "rate_limit_hits": stats["rate_limit_hits"],
            "sender_cpu_seconds": round(time.process_time() - cpu0, 1),
        }
        result["exactly_once"] = {
            "sends_total": stats["sends"], "distinct_recipients": stats["distinct_chats"],
            "ok": stats["sends"] == stats["distinct_chats"] == args.recipients,
            "sent_at_30": sent_before,
        }
        result["memory_mb"] = {"sender_process": rss_mb(), "emulator_process": await emu.get("/_bench/memory")}
    finally:
        await emu.stop()
        await engine.dispose()
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--recipients", type=int, default=100_000)
    parser.add_argument("--window", type=float, default=60.0, help="seconds measured at 30 msg/s")
    parser.add_argument("--paid-rate", type=int, default=1000)
    parser.add_argument("--database-url", default=None, help="default: a fresh SQLite file")
    args = parser.parse_args()
    print(json.dumps(asyncio.run(main_async(args)), indent=2, ensure_ascii=False))


if __name__ == "__main__":
    main()
