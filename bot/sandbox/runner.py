"""``python -m bot sandbox``: the whole bot on one machine, no Telegram token.

:class:`Sandbox` starts, in one process and one event loop:

1. the Bot API emulator (:class:`~bot.sandbox.emulator.BotAPIEmulator`) on a
   free 127.0.0.1 port, with a bot token of its own;
2. the real bot (:class:`~bot.app.GridBotApp`, the same factory as
   ``python -m bot run``: real HTTP, real aiogram, the inbound pipeline)
   long-polling that emulator, on the sandbox database with migrations applied
   and the demo district loaded;
3. the web page (:mod:`bot.sandbox.webapp`) on ``host:port``.

Database: ``DATABASE_URL`` when it is set in the process environment,
otherwise ``sandbox-data/sandbox.db`` (SQLite).  A ``DATABASE_URL`` that only
comes from ``.env`` is ignored on purpose: ``.env`` usually configures the
real deployment, and the sandbox loads demo people into its database.  The
same rule applies to ``REDIS_URL``.  ``BOT_TOKEN`` and ``WEBHOOK_URL`` are
never used.

The emulator keeps chats in memory: restarting the sandbox clears the chat
windows, while the database (registrations, cases...) stays.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import secrets
import sys
import time
from datetime import timedelta
from pathlib import Path

from aiohttp import web
from pydantic import SecretStr
from sqlalchemy import func, select

from bot.app import GridBotApp
from bot.config import Settings
from bot.sandbox.clock import SandboxClock
from bot.sandbox.emulator import BotAPIEmulator, EmuUser, stop_event
from bot.sandbox.personas import list_personas, next_free_telegram_id
from bot.sandbox.webapp import build_web_app, telegram_language_code
from bot.services.org_import import seed_demo
from models import InboundUpdate
from models.database import upgrade

__all__ = ["SANDBOX_TOKEN", "Sandbox", "SandboxError", "run_sandbox", "sandbox_database_url"]

log = logging.getLogger(__name__)

SANDBOX_TOKEN = "5000000001:SANDBOX-local_emulator_token"
DEFAULT_DATA_DIR = Path("sandbox-data")
START_TIMEOUT = 60.0
HOUSEKEEPING_EVERY = 60.0
KEEP_RECORDS = 2000


class SandboxError(RuntimeError):
    """The sandbox cannot start; the message says why in one line."""


def sandbox_database_url(settings: Settings, data_dir: Path, environ: dict[str, str] | None = None) -> str:
    """``DATABASE_URL`` from the environment if set there, else the sandbox's SQLite file."""
    env = os.environ if environ is None else environ
    if env.get("DATABASE_URL"):
        return settings.database_url  # validated by Settings
    return f"sqlite+aiosqlite:///{data_dir / 'sandbox.db'}"


class Sandbox:
    """Emulator + real bot + web page; ``await start()`` / ``await stop()``."""

    def __init__(
        self,
        settings: Settings,
        *,
        host: str = "127.0.0.1",
        port: int = 8080,
        database_url: str | None = None,
        data_dir: Path = DEFAULT_DATA_DIR,
        seed: bool = True,
        token: str = SANDBOX_TOKEN,
    ) -> None:
        self.host = host
        self.port = port
        self.data_dir = data_dir
        self.seed = seed
        self.token = token
        self.database_url = database_url or sandbox_database_url(settings, data_dir)
        redis_url = os.environ.get("REDIS_URL") or None
        self.base_settings = settings.model_copy(
            update={"database_url": self.database_url, "redis_url": redis_url, "webhook_url": None,
                    "webhook_secret": None, "bot_token": SecretStr(token)}
        )
        self.settings = self.base_settings
        self.clock = SandboxClock(data_dir / "clock.json", self.database_url)
        self.emulator = BotAPIEmulator(host="127.0.0.1", port=0, clock=self.clock.epoch)
        self.app: GridBotApp | None = None
        self._bot_task: asyncio.Task[None] | None = None
        self._housekeeping: asyncio.Task[None] | None = None
        self._runner: web.AppRunner | None = None
        self._new_user_lock = asyncio.Lock()
        self.ready = False
        """True once the bot polls the emulator; until then the APIs answer 503."""
        self.instance = secrets.token_hex(8)
        """Tells the page that the sandbox restarted (its chats start empty)."""

    # -- properties ----------------------------------------------------------
    @property
    def url(self) -> str:
        shown = "127.0.0.1" if self.host in ("0.0.0.0", "::", "") else self.host
        if ":" in shown:
            shown = f"[{shown}]"
        return f"http://{shown}:{self.port}"

    @property
    def sessionmaker(self):  # type: ignore[no-untyped-def]
        assert self.app is not None, "sandbox not started"
        return self.app.sessionmaker

    @property
    def database_label(self) -> str:
        if self.database_url.startswith("sqlite"):
            return "SQLite " + self.database_url.split(":///", 1)[-1]
        return "PostgreSQL"

    # -- lifecycle -----------------------------------------------------------
    async def start(self) -> Sandbox:
        try:
            await self._start()
        except BaseException:
            await self.stop()
            raise
        return self

    async def _start(self) -> None:
        if self.database_url.startswith("sqlite"):
            path = self.database_url.split(":///", 1)[-1]
            if path and path != ":memory:":
                Path(path).parent.mkdir(parents=True, exist_ok=True)
        offset = self.clock.load()
        if offset:
            log.info("sandbox clock resumes %s ahead of real time", offset)
        await self.emulator.start()
        self.emulator.add_bot(token=self.token, username="gridbot_sandbox_bot", first_name="GridBot")
        self.settings = self.base_settings.model_copy(update={"telegram_api_url": self.emulator.base_url})
        await self._listen()  # first, so a busy port fails fast; the API answers 503 until ready

        await upgrade(self.database_url)
        app = GridBotApp.create(self.settings, token=self.token)
        self.app = app
        if self.seed:
            report = await seed_demo(app.sessionmaker)
            log.info("demo district: %s", report)
        await self._continue_update_ids()
        await self._introduce_people()

        self._bot_task = asyncio.create_task(app.run(), name="sandbox-bot")
        polling = asyncio.create_task(
            self.emulator.wait_for(lambda: self.emulator.long_polls_waiting(self.token) > 0, START_TIMEOUT)
        )
        done, _ = await asyncio.wait({polling, self._bot_task}, return_when=asyncio.FIRST_COMPLETED)
        if self._bot_task in done:
            polling.cancel()
            exc = self._bot_task.exception()
            raise SandboxError(f"the bot stopped while starting: {exc!r}")
        try:
            polling.result()
        except TimeoutError:
            raise SandboxError(f"the bot did not start polling the emulator within {START_TIMEOUT:.0f} s") from None

        self.ready = True
        self._housekeeping = asyncio.create_task(self._tidy(), name="sandbox-housekeeping")

    async def _listen(self) -> None:
        runner = web.AppRunner(build_web_app(self), access_log=None, shutdown_timeout=1.0)
        await runner.setup()
        self._runner = runner
        site = web.TCPSite(runner, self.host, self.port)
        try:
            await site.start()
        except OSError as exc:
            raise SandboxError(f"cannot listen on {self.host}:{self.port}: {exc.strerror or exc}"
                               " (is another sandbox running? try --port)") from None
        if runner.addresses:
            self.port = int(runner.addresses[0][1])

    async def _continue_update_ids(self) -> None:
        """Number the emulator's updates after those this database already stored.

        The emulator starts counting at 100001 on every start; the inbound
        pipeline would take a reused ``update_id`` for a duplicate and skip it.
        """
        assert self.app is not None
        bot_id = int(self.token.split(":", 1)[0])
        async with self.app.sessionmaker() as session:
            highest = await session.scalar(
                select(func.max(InboundUpdate.update_id)).where(InboundUpdate.bot_id == bot_id)
            )
        state = self.emulator.state.bot(self.token)
        state.next_update_id = max(state.next_update_id, int(highest or 0) + 1)

    async def _introduce_people(self) -> None:
        """Give the emulator a Telegram account for every person the page lists.

        They are registered users, so on Telegram they exist and have started
        the bot: a worker must get the notice of a new case even before anyone
        opened the worker's tab (Telegram would otherwise answer "chat not found").
        """
        async with self.sessionmaker() as session:
            people, _ = await list_personas(session)
        for persona in people:
            if persona.telegram_id not in self.emulator.state.users:
                self.emulator.create_user(
                    first_name=persona.first_name or str(persona.telegram_id),
                    last_name=persona.last_name,
                    username=persona.username,
                    language_code=telegram_language_code(persona.locale),
                    user_id=persona.telegram_id,
                )

    async def _tidy(self) -> None:
        """Keep the emulator's logs from growing for as long as the sandbox runs."""
        emu = self.emulator
        while True:
            await asyncio.sleep(HOUSEKEEPING_EVERY)
            for records in (emu.calls, emu.send_log, emu.api.callback_answers, emu.rate.hits):
                if len(records) > KEEP_RECORDS:
                    del records[: len(records) - KEEP_RECORDS]
            # Button presses Telegram would no longer accept an answer for anyway.
            old = time.monotonic() - 3600
            for query_id in [q for q, c in emu.state.callbacks.items() if c.created < old]:
                del emu.state.callbacks[query_id]

    async def stop(self) -> None:
        self.ready = False
        if self._housekeeping is not None:
            self._housekeeping.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._housekeeping
            self._housekeeping = None
        if self.app is not None:
            self.app.request_stop()
            if self._bot_task is not None:
                try:
                    await asyncio.wait_for(self._bot_task, 15)
                except Exception:  # noqa: BLE001 - stopping anyway
                    log.exception("the sandbox bot did not stop cleanly")
                self._bot_task = None
            await self.app.close()
            self.app = None
        self.emulator.state.closing = True
        self.emulator.state.changed.notify()  # ends the page's long polls
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
        await self.emulator.stop()
        self.clock.release()

    async def wait_stopped(self) -> None:
        """Returns when the bot task ends (it should not before :meth:`stop`)."""
        if self._bot_task is not None:
            await asyncio.shield(self._bot_task)

    # -- what the page asks for ------------------------------------------------
    async def new_resident(self, first_name: str, language_code: str) -> EmuUser:
        async with self._new_user_lock:
            async with self.sessionmaker() as session:
                telegram_id = await next_free_telegram_id(session, set(self.emulator.state.users))
            return self.emulator.create_user(
                first_name=first_name, language_code=language_code, user_id=telegram_id
            )

    async def advance_clock(self, delta: timedelta) -> int:
        """Move time forward (the bot, the database's "now" and message dates).

        A jump goes a day at a time and the recurring jobs run after each step, so every
        daily job runs once for each day skipped (retention, digests, sweeps), as it would
        have in those days; returns the number of steps."""
        self.clock.check(delta)
        steps, left = 0, delta
        while left > timedelta(0):
            step = min(left, timedelta(days=1))
            self.clock.advance(step)
            left -= step
            steps += 1
            await self._run_jobs()
        self.emulator.state.bump()  # long polls and waiters re-check
        return steps

    async def reset_clock(self) -> None:
        """Back to the real time (a trainer's new session)."""
        self.clock.reset()
        self.emulator.state.bump()

    async def _run_jobs(self) -> None:
        """The recurring jobs due by the sandbox's now (each due time runs once, whoever runs it)."""
        delivery = self.app.delivery if self.app is not None else None
        if delivery is not None and delivery.scheduler is not None:
            await delivery.scheduler.run_due()


def _print_banner(sandbox: Sandbox) -> None:
    lines = [
        "",
        f"  GridBot sandbox is running: {sandbox.url}",
        f"  Open it in a browser (several tabs = several people). Database: {sandbox.database_label}",
    ]
    if sandbox.host in ("0.0.0.0", "::", ""):
        lines.append("  Listening on every interface: anyone on this network can use the sandbox.")
    lines.append("  Press Ctrl+C to stop.")
    print("\n".join(lines) + "\n", flush=True)


async def run_sandbox(settings: Settings, *, host: str = "127.0.0.1", port: int = 8080) -> int:
    """Run until Ctrl+C / SIGTERM; returns the process exit code."""
    if not 0 <= port <= 65535:
        print(f"--port: {port} is not a TCP port", file=sys.stderr)
        return 2
    sandbox = Sandbox(settings, host=host, port=port)
    if os.environ.get("DATABASE_URL") is None and settings.database_url != Settings.model_fields["database_url"].default:
        log.info("sandbox: ignoring DATABASE_URL from .env; using %s", sandbox.database_label)
    for noisy in ("alembic", "aiogram.event"):  # per-migration and per-update lines
        logging.getLogger(noisy).setLevel(max(logging.WARNING, logging.getLogger().level))
    stop = stop_event()
    try:
        await sandbox.start()
    except SandboxError as exc:
        print(f"sandbox: {exc}", file=sys.stderr)
        return 1
    except Exception as exc:  # e.g. the database is unreachable: one line, details in the log
        log.debug("sandbox start failed", exc_info=True)
        print(f"sandbox: could not start: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 1
    _print_banner(sandbox)
    stopper = asyncio.create_task(stop.wait())
    bot_ended = asyncio.create_task(sandbox.wait_stopped())
    try:
        await asyncio.wait({stopper, bot_ended}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        stopper.cancel()
        bot_ended.cancel()
        await sandbox.stop()
    if bot_ended.done() and not bot_ended.cancelled() and bot_ended.exception() is not None:
        print(f"sandbox: the bot stopped: {bot_ended.exception()!r}", file=sys.stderr)
        return 1
    return 0
