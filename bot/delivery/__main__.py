"""A sender (and scheduler) process without the chat side: ``python -m bot.delivery``.

For deployments that want dedicated delivery processes next to the webhook
ones (PostgreSQL: any number of them share the work), and for the fault tests
that kill one with SIGKILL.  Settings come from the environment like
``python -m bot run`` (BOT_TOKEN, TELEGRAM_API_URL, DATABASE_URL, DELIVERY_*);
the database must already be migrated (``python -m bot db upgrade``).

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
    from models.database import create_engine, create_sessionmaker

    settings = load_settings()
    if no_jobs:
        settings = settings.model_copy(update={"jobs_enabled": False})
    logging.basicConfig(level=settings.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    engine = create_engine(settings.database_url)
    bot = create_bot(settings)
    runtime = DeliveryRuntime(bot, create_sessionmaker(engine), settings, create_i18n(settings.default_locale))
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    runtime.start()
    logging.getLogger("bot.delivery").info("delivery process running (owner %s)",
                                           getattr(runtime.sender, "owner", "-"))
    try:
        await stop.wait()
    finally:
        await runtime.stop()
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
