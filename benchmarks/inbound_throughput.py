"""Updates per second through gridbot's full inbound pipeline, next to a bare
aiogram echo bot, against the same Bot API emulator in the same run.

    .venv/bin/python -m benchmarks.inbound_throughput [--updates 3000] [--database-url URL]

The emulator runs in its own process, and so does each bot (started fresh
for every round, so neither inherits the other's heap, imports or garbage
collector settings).  For each bot, N distinct users each send one message,
queued in the emulator before the bot starts; the bot then drains them.
gridbot and bare take turns for ``--rounds`` rounds; medians are reported.

* gridbot: GridBotApp as in production: getUpdates → store in the database
  (commit) → per-chat queue → middlewares (session, user, locale) → handler
  (a new user's /start: insert the user, set the conversation state, reply
  with an inline keyboard) → commit → reply.  Latency: from the moment the
  getUpdates answer reached the bot to the end of the handler (the reply was
  acknowledged by the emulator and the transaction committed).
* bare aiogram: Dispatcher.start_polling with one handler that echoes the
  text.  Latency: from the dispatcher's first outer middleware to the end of
  the handler (this starts later than gridbot's clock, in bare's favour).

Throughput is N divided by the time from the first update received to the
last one finished.  Results are printed as one JSON object.

Workloads: ``start`` (N new users send /start), ``menu`` (N registered
residents tap Help) and ``first-contact``: N messages from N/20 users who
never registered, twenty each, all queued at once (a burst per person), each
answered through the real pipeline; bare aiogram echoes the same number of
messages from as many users.  Telegram lets a bot send one message a second
to a chat, and gridbot paces its answers to that (ANSWER_CHAT_RATE): twenty
answers to one person then take 19 seconds whatever the bot does, so the
throughput comparison lifts the pacing (ANSWER_CHAT_RATE=1000) and measures
the bots' work; the pacing itself is tested against the emulator's per-chat
limit in tests/e2e/test_answers.py.  ``--layer-cost`` adds, for gridbot, a
run of the same workload with the durable-answer layer off (each answer sent
as the handler makes it, after a commit, as before bot/answers.py): the
difference in CPU per update is the layer's cost per answer.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import resource
import socket
import statistics
import sys
import tempfile
import time
from pathlib import Path

import aiohttp
from aiogram import Bot, Dispatcher
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer
from aiogram.types import Message

OURS, BARE = "111111111:gridbot-benchmark", "222222222:bare-aiogram-benchmark"
ROOT = Path(__file__).resolve().parent.parent


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


async def _start_emulator(port: int) -> asyncio.subprocess.Process:
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot.sandbox.emulator", "--port", str(port), "--token", OURS, "--token", BARE,
        cwd=ROOT, stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL,
    )
    async with aiohttp.ClientSession() as http:
        for _ in range(200):
            try:
                async with http.get(f"http://127.0.0.1:{port}/_emu/bots") as resp:
                    if resp.status == 200:
                        return proc
            except aiohttp.ClientError:
                pass
            await asyncio.sleep(0.05)  # start-up poll, outside any measurement
    raise RuntimeError("emulator did not start")


async def _queue_updates(base: str, token: str, n: int, text: str, per_user: int = 1) -> list[tuple[int, int]]:
    """Create n // per_user users in the emulator (named U0, U1...), each sending
    ``text`` ``per_user`` times in a row; returns (i, Telegram id) of each."""
    ids: list[tuple[int, int]] = []
    async with aiohttp.ClientSession() as http:
        sem = asyncio.Semaphore(32)

        async def one(i: int) -> None:
            async with sem:
                async with http.post(f"{base}/_emu/users?token={token}",
                                     json={"first_name": f"U{i}", "language_code": "zh-hans"}) as r:
                    user = await r.json()
                ids.append((i, user["id"]))
                for k in range(per_user):
                    async with http.post(f"{base}/_emu/users/{user['id']}/text?token={token}",
                                         json={"text": f"{text} {k + 1}" if per_user > 1 else text}) as r:
                        r.raise_for_status()

        await asyncio.gather(*(one(i) for i in range(n // per_user)))
    return ids


async def _register_residents(database_url: str, telegram_ids: list[tuple[int, int]]) -> None:
    """Make the users registered residents of a demo building (the 'menu' workload),
    under the names the emulator gives them (so no update renames its user)."""
    from sqlalchemy import select

    from bot.services.org_import import seed_demo
    from models import Building, User, utcnow
    from models.database import create_engine, create_sessionmaker

    engine = create_engine(database_url)
    sessionmaker = create_sessionmaker(engine)
    await seed_demo(sessionmaker)
    async with sessionmaker() as s:
        building = await s.scalar(select(Building).order_by(Building.code))
        s.add_all(
            User(telegram_id=t, first_name=f"U{i}", locale="zh-Hans", building_id=building.id,
                 grid_id=building.grid_id, registered_at=utcnow())
            for i, t in telegram_ids
        )
        await s.commit()
    await engine.dispose()


def _summary(name: str, n: int, received: dict[int, float], finished: dict[int, float]) -> dict:
    lat = sorted((finished[k] - received[k]) * 1000 for k in finished)
    span = max(finished.values()) - min(received.values())
    return {
        "bot": name,
        "updates": n,
        "handled": len(finished),
        "seconds": round(span, 3),
        "updates_per_second": round(len(finished) / span, 1),
        "latency_ms_p50": round(statistics.median(lat), 1),
        "latency_ms_p99": round(lat[min(len(lat) - 1, int(len(lat) * 0.99))], 1),
    }


FIRST_CONTACT_BURST = 20  # messages per person in the first-contact workload
FIRST_CONTACT_TEXT = "我家楼道的灯坏了"  # a resident's first words, before any registration


async def run_gridbot(base: str, n: int, database_url: str, *, durable_answers: bool = True) -> dict:
    from bot.app import GridBotApp
    from bot.config import Settings
    from models.database import upgrade

    await upgrade(database_url)
    # Telegram's per-chat pacing lifted (see the module); the per-user limit lifted
    # too, or a burst of twenty would be told to slow down instead of answered.
    settings = Settings(_env_file=None, BOT_TOKEN=OURS, TELEGRAM_API_URL=base, DATABASE_URL=database_url,
                        LOG_LEVEL="WARNING", ANSWER_CHAT_RATE=1000, USER_BURST=1000)
    app = GridBotApp.create(settings, token=OURS, durable_answers=durable_answers)
    received: dict[int, float] = {}
    finished: dict[int, float] = {}
    done = asyncio.Event()
    pipeline = app.pipeline
    original_store, original_feed = pipeline.store, app.dp.feed_update

    cpu_window: list[float] = []

    async def store(payloads):  # type: ignore[no-untyped-def]
        now = time.perf_counter()
        if not cpu_window:
            cpu_window.append(time.process_time())
        payloads = list(payloads)
        for p in payloads:
            received.setdefault(p["update_id"], now)
        return await original_store(payloads)

    async def feed_update(bot, update, **kw):  # type: ignore[no-untyped-def]
        try:
            return await original_feed(bot, update, **kw)
        finally:
            finished[update.update_id] = time.perf_counter()
            if len(finished) >= n and not done.is_set():
                cpu_window.append(time.process_time())
                done.set()

    pipeline.store = store  # type: ignore[method-assign]
    app.dp.feed_update = feed_update  # type: ignore[method-assign]
    cpu0 = time.process_time()
    task = asyncio.create_task(app.run_polling())
    await asyncio.wait_for(done.wait(), 600)
    cpu = time.process_time() - cpu0
    app.request_stop()
    await task
    await app.close()
    name = "gridbot (full pipeline)" if durable_answers else "gridbot without durable answers"
    return {**_summary(name, n, received, finished), "cpu_seconds": round(cpu, 2),
            "cpu_ms_per_update": round((cpu_window[1] - cpu_window[0]) * 1000 / n, 3),
            "database": database_url.split(":")[0]}


def tune_like_gridbot() -> tuple[object, ...]:
    """The two process-level measures gridbot takes, for the 'tuned' bare run:
    freeze the start-up heap (bot/delivery) and hold aiogram's common
    Response[...] classes (bot/app.py)."""
    import gc

    from aiogram.methods import Response
    from aiogram.types import Update, User

    held = (Response[Message], Response[bool], Response[list[Update]], Response[User])
    gc.collect()
    gc.freeze()
    return held


async def run_bare(base: str, n: int) -> dict:
    bot = Bot(BARE, session=AiohttpSession(api=TelegramAPIServer.from_base(base)))
    dp = Dispatcher()
    received: dict[int, float] = {}
    finished: dict[int, float] = {}
    done = asyncio.Event()

    cpu_window: list[float] = []

    @dp.update.outer_middleware()
    async def clock(handler, event, data):  # type: ignore[no-untyped-def]
        received[event.update_id] = time.perf_counter()
        if not cpu_window:
            cpu_window.append(time.process_time())
        try:
            return await handler(event, data)
        finally:
            finished[event.update_id] = time.perf_counter()
            if len(finished) >= n and not done.is_set():
                cpu_window.append(time.process_time())
                done.set()

    @dp.message()
    async def echo(message: Message) -> None:
        await message.answer(message.text or "")

    cpu0 = time.process_time()
    task = asyncio.create_task(dp.start_polling(bot, handle_signals=False, close_bot_session=True))
    await asyncio.wait_for(done.wait(), 600)
    cpu = time.process_time() - cpu0
    await dp.stop_polling()
    await task
    return {**_summary("bare aiogram echo", n, received, finished), "cpu_seconds": round(cpu, 2),
            "cpu_ms_per_update": round((cpu_window[1] - cpu_window[0]) * 1000 / n, 3)}


# A command the gridbot process runs under (--wrap-gridbot), e.g. valgrind's callgrind.
GRIDBOT_WRAPPER: list[str] = []


async def _child(kind: str, base: str, n: int, database_url: str | None) -> dict:
    """Run one bot in a fresh interpreter; its summary comes back as JSON."""
    wrapper = GRIDBOT_WRAPPER if kind.startswith("gridbot") else []
    cmd = [*wrapper, sys.executable, "-m", "benchmarks.inbound_throughput", "--child", kind, "--base", base,
           "--updates", str(n)]
    if database_url:
        cmd += ["--database-url", database_url]
    proc = await asyncio.create_subprocess_exec(*cmd, cwd=ROOT, stdout=asyncio.subprocess.PIPE)
    out, _ = await proc.communicate()
    if proc.returncode != 0:
        raise RuntimeError(f"{kind} run failed with exit code {proc.returncode}")
    return json.loads(out.decode().strip().splitlines()[-1])


async def child_main(kind: str, base: str, n: int, database_url: str | None) -> None:
    held = tune_like_gridbot() if kind == "bare-tuned" else ()
    if kind.startswith("gridbot"):
        result = await run_gridbot(base, n, database_url or "", durable_answers=kind == "gridbot")
    else:
        result = await run_bare(base, n)
    del held
    result["peak_rss_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
    print(json.dumps(result, ensure_ascii=False))


async def one_round(base: str, args: argparse.Namespace) -> tuple[dict, dict, dict, dict | None]:
    with tempfile.TemporaryDirectory() as tmp:
        db = args.database_url or f"sqlite+aiosqlite:///{tmp}/bench.db"
        ours = await _gridbot_round(base, args, db, "gridbot")
    without = None
    if args.layer_cost:
        with tempfile.TemporaryDirectory() as tmp:
            db = args.database_url or f"sqlite+aiosqlite:///{tmp}/bench.db"
            without = await _gridbot_round(base, args, db, "gridbot-plain")
    per_user = FIRST_CONTACT_BURST if args.workload == "first-contact" else 1
    await _queue_updates(base, BARE, args.updates, "hello", per_user)
    bare = await _child("bare", base, args.updates, None)
    await _queue_updates(base, BARE, args.updates, "hello", per_user)
    tuned = await _child("bare-tuned", base, args.updates, None)
    return ours, bare, tuned, without


async def _gridbot_round(base: str, args: argparse.Namespace, db: str, kind: str) -> dict:
    from models.database import upgrade

    await upgrade(db)
    if args.workload == "start":
        await _queue_updates(base, OURS, args.updates, "/start")
    elif args.workload == "first-contact":
        await _queue_updates(base, OURS, args.updates, FIRST_CONTACT_TEXT, FIRST_CONTACT_BURST)
    else:
        ids = await _queue_updates(base, OURS, args.updates, "❓ 帮助")
        await _register_residents(db, ids)
    ours = await _child(kind, base, args.updates, db)
    ours["workload"] = args.workload
    return ours


def calibration_ms() -> float:
    """How long this machine takes for a fixed pure-Python loop (3 million
    multiply-adds), in ms: the VM's speed drifts between runs and days, and
    this puts a number on it beside every result."""
    start = time.perf_counter()
    x = 0
    for i in range(3_000_000):
        x = x * 1 + i
    return round((time.perf_counter() - start) * 1000, 1)


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--updates", type=int, default=3000)
    parser.add_argument("--rounds", type=int, default=3,
                        help="gridbot and bare take turns this many times; the median ratio is reported")
    parser.add_argument("--database-url", help="default: a fresh SQLite file in a temporary directory (each round)")
    parser.add_argument(
        "--workload", choices=["start", "menu", "first-contact"], default="start",
        help="start: new users send /start (user insert, conversation state, inline keyboard); "
             "menu: registered residents tap the Help button (user and state read, reply); "
             "first-contact: users who never registered send twenty messages each",
    )
    parser.add_argument("--layer-cost", action="store_true",
                        help="also run gridbot without the durable-answer layer: its cost per answer")
    parser.add_argument("--wrap-gridbot", metavar="COMMAND",
                        help="run gridbot's process under this command (split on spaces), e.g. "
                             "'valgrind --tool=callgrind --callgrind-out-file=/tmp/cg.%%p' to count its instructions")
    parser.add_argument("--child", choices=["gridbot", "gridbot-plain", "bare", "bare-tuned"],
                        help=argparse.SUPPRESS)
    parser.add_argument("--base", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.wrap_gridbot:
        GRIDBOT_WRAPPER[:] = args.wrap_gridbot.split()
    if args.child:
        await child_main(args.child, args.base, args.updates, args.database_url)
        return
    if args.database_url and args.workload == "menu" and (args.rounds > 1 or args.layer_cost):
        parser.error("--database-url with the menu workload takes --rounds 1 (each round registers new users)")
    if args.workload == "first-contact" and args.updates % FIRST_CONTACT_BURST:
        parser.error(f"first-contact takes a multiple of {FIRST_CONTACT_BURST} updates")
    calibration = [calibration_ms()]
    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    emulator = await _start_emulator(port)
    rounds: list[dict] = []
    try:
        for _ in range(args.rounds):
            ours, bare, tuned, without = await one_round(base, args)
            layer = {} if without is None else {
                "gridbot_without_durable_answers": without,
                "durable_answer_cpu_ms_per_answer": round(ours["cpu_ms_per_update"] - without["cpu_ms_per_update"], 3),
                "ratio_without_durable_answers": round(without["updates_per_second"] / bare["updates_per_second"], 3),
            }
            rounds.append({
                "gridbot": ours,
                "bare_aiogram": bare,
                "bare_aiogram_tuned": tuned,
                "ratio": round(ours["updates_per_second"] / bare["updates_per_second"], 3),
                "cpu_ratio": round(bare["cpu_ms_per_update"] / ours["cpu_ms_per_update"], 3),
                "ratio_to_tuned": round(ours["updates_per_second"] / tuned["updates_per_second"], 3),
                **layer,
            })
    finally:
        emulator.terminate()
        await emulator.wait()
    calibration.append(calibration_ms())
    print(json.dumps({
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}",
        "calibration_loop_ms_before_after": calibration,
        "workload": args.workload,
        "updates": args.updates,
        "rounds": rounds,
        "median": {
            "gridbot_updates_per_second": statistics.median(r["gridbot"]["updates_per_second"] for r in rounds),
            "bare_updates_per_second": statistics.median(r["bare_aiogram"]["updates_per_second"] for r in rounds),
            "ratio": statistics.median(r["ratio"] for r in rounds),
            "gridbot_cpu_ms_per_update": statistics.median(r["gridbot"]["cpu_ms_per_update"] for r in rounds),
            "bare_cpu_ms_per_update": statistics.median(r["bare_aiogram"]["cpu_ms_per_update"] for r in rounds),
            "cpu_ratio": statistics.median(r["cpu_ratio"] for r in rounds),
            "bare_tuned_updates_per_second": statistics.median(
                r["bare_aiogram_tuned"]["updates_per_second"] for r in rounds),
            "bare_tuned_cpu_ms_per_update": statistics.median(
                r["bare_aiogram_tuned"]["cpu_ms_per_update"] for r in rounds),
            "ratio_to_tuned": statistics.median(r["ratio_to_tuned"] for r in rounds),
            **({"durable_answer_cpu_ms_per_answer": statistics.median(
                r["durable_answer_cpu_ms_per_answer"] for r in rounds),
                "ratio_without_durable_answers": statistics.median(
                r["ratio_without_durable_answers"] for r in rounds)} if args.layer_cost else {}),
        },
        "gridbot_peak_rss_mb": max(r["gridbot"]["peak_rss_mb"] for r in rounds),
    }, indent=2, ensure_ascii=False))


if __name__ == "__main__":
    asyncio.run(main())
