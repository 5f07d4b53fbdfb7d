"""A sender (and scheduler) process without the chat side: ``python -m bot.delivery``.

For deployments that want dedicated delivery processes next to the webhook
ones (PostgreSQL: any number of them share the work), and for the fault tests
that kill one with SIGKILL.  Settings come from the environment like
``python -m bot run`` (BOT_TOKEN, TELEGRAM_API_URL, DATABASE_URL, DELIVERY_*);
the database must already be migrated (``python -m bot db upgrade``); a database
migrated by a newer version is refused with one line.  With ``METRICS_PORT`` it
serves ``/healthz``, ``/readyz`` and ``/metrics`` (bot/metrics.py).

On SQLite only one sender may run: it takes over every lease at start.  Run
either the bot with its built-in sender or the bot with ``DELIVERY_ENABLED=false``
next to one ``python -m bot.delivery``.  On PostgreSQL run as many as you like.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal
import sys

from bot.config import ConfigError, load_settings


async def _run(no_jobs: bool) -> int:
    # After the arguments are read: --help and a bad setting answer without loading aiogram.
    from bot.app import create_bot
    from bot.delivery import DeliveryRuntime
    from bot.i18n import create_i18n
    from bot.logs import setup_logging
    from bot.metrics import Metrics, Probes, start_server
    from bot.wakeup import create_wakeups
    from models.database import SchemaTooNew, check_schema_known, create_engine, create_sessionmaker

    settings = load_settings()
    if no_jobs:
        settings = settings.model_copy(update={"jobs_enabled": False})
    setup_logging(settings)
    engine = create_engine(settings.database_url)
    try:
        await check_schema_known(engine)
    except SchemaTooNew as exc:
        await engine.dispose()
        print(f"refusing to start: {exc}", file=sys.stderr)
        return 3
    bot = create_bot(settings)
    metrics = Metrics()
    runtime = DeliveryRuntime(bot, create_sessionmaker(engine), settings, create_i18n(settings.default_locale),
                              metrics=metrics)
    probes = Probes(metrics, engine, settings)
    server = await start_server(probes, settings.metrics_host, settings.metrics_port) if settings.metrics_port else None
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    runtime.start()
    # Rows committed by the bot processes wake this sender at once (LISTEN/NOTIFY or Redis).
    wakeups = create_wakeups(settings.database_url, settings.redis_url, bot.id)
    if wakeups is not None and runtime.sender is not None:
        wakeups.on("outbox", lambda _payload: runtime.sender.wake())  # type: ignore[union-attr]
        await wakeups.start()
    logging.getLogger("bot.delivery").info("delivery process running (owner %s)",
                                           getattr(runtime.sender, "owner", "-"))
    try:
        await stop.wait()
    finally:
        await runtime.stop()
        if wakeups is not None:
            await wakeups.stop()
        if server is not None:
            await server.cleanup()
        await probes.close()
        await bot.session.close()
        await engine.dispose()
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bot.delivery", description=__doc__.splitlines()[0])
    parser.add_argument("--no-jobs", action="store_true", help="send only; do not run recurring jobs")
    args = parser.parse_args(argv)
    try:
        return asyncio.run(_run(args.no_jobs))
    except ConfigError as exc:
        print(f"configuration error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
