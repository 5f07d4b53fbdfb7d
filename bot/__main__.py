"""Command line: ``python -m bot <command>``.  The names are a contract.

run            start the bot (long polling; webhook when WEBHOOK_URL is set)
db upgrade     apply database migrations
seed-demo      load the demo district (idempotent)
import-org F   import the organisation from an XLSX or CSV workbook
invite         create a one-time invite deep link
revoke         remove a person's roles (all, or one role / scope)
backup FILE    a consistent copy of the SQLite database, the bot running or not
sandbox        the whole bot with a local Bot API emulator, no token needed
open311        serve Open311 GeoReport v2 under /open311/v2/ (docs/open311.md)
open311-key    create (--name) or end (--revoke) an Open311 client's API key
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal
import sys
from pathlib import Path

from bot.config import ConfigError, Settings, load_settings
from bot.logs import setup_logging

log = logging.getLogger("bot")


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m bot", description="gridbot: community grid governance bot")
    sub = p.add_subparsers(dest="command", required=True)
    sub.add_parser("run", help="start the bot (applies pending migrations first)")
    db = sub.add_parser("db", help="database maintenance")
    db_sub = db.add_subparsers(dest="db_command", required=True)
    db_sub.add_parser("upgrade", help="apply migrations")
    sub.add_parser("seed-demo", help="load the demo district into the configured database")
    imp = sub.add_parser("import-org", help="import communities, grids, buildings... from XLSX or CSV")
    imp.add_argument("file", type=Path)
    # The role names of models.users.Role (models is not imported here: the command line loads per command).
    role_names = ["worker", "grid_head", "staff", "department", "admin", "building_head", "unit_head", "volunteer"]
    scope_help = ("grid, community, department or district code; a building code (building_head); "
                  "BUILDING_CODE/UNIT, e.g. DC-LQ-01-01/2 (unit_head)")
    inv = sub.add_parser("invite", help="create a one-time invite")
    inv.add_argument("--role", required=True, choices=role_names)
    inv.add_argument("--scope", required=True, help=scope_help)
    inv.add_argument("--expires", default="7d", help="lifetime like 30m, 12h, 7d, 2w (default 7d)")
    rev = sub.add_parser("revoke", help="remove a person's roles (all of them when no --role/--scope is given)")
    rev.add_argument("--user", required=True, type=int, help="the person's Telegram id")
    rev.add_argument("--role", choices=role_names)
    rev.add_argument("--scope", help=scope_help)
    bk = sub.add_parser("backup", help="a consistent copy of the SQLite database while the bot runs")
    bk.add_argument("file", type=Path, help="the copy to write (must not exist)")
    sb = sub.add_parser("sandbox", help="run the bot against a local emulator with a web chat")
    sb.add_argument("--port", type=int, default=8080)
    sb.add_argument("--host", default="127.0.0.1")
    o311 = sub.add_parser("open311", help="serve Open311 GeoReport v2 under /open311/v2/ on the bot's database")
    o311.add_argument("--host", default="127.0.0.1")
    o311.add_argument("--port", type=int, default=8311, help="0: a free port (printed)")
    key = sub.add_parser("open311-key", help="create or end an Open311 client's API key")
    which = key.add_mutually_exclusive_group(required=True)
    which.add_argument("--name", help="the client (a name of your choice); the new key is printed last")
    which.add_argument("--revoke", metavar="NAME", help="end this client's key")
    return p


async def _with_session(settings: Settings, fn):  # type: ignore[no-untyped-def]
    # Loaded per command: each command imports only what it needs (aiogram takes seconds).
    from models.database import create_engine, create_sessionmaker

    engine = create_engine(settings.database_url)
    try:
        return await fn(create_sessionmaker(engine))
    finally:
        await engine.dispose()


async def _committed(settings: Settings, fn):  # type: ignore[no-untyped-def]
    """``fn(session)`` in one session of the configured database, committed after; its result."""
    async def run(sessionmaker):  # type: ignore[no-untyped-def]
        async with sessionmaker() as session:
            result = await fn(session)
            await session.commit()
            return result

    return await _with_session(settings, run)


async def _cmd_run(settings: Settings) -> int:
    token = settings.require_token()  # before importing aiogram: a missing token is told at once
    settings.require_webhook_secret()  # a webhook open to forged updates is never started

    # Loaded per command: each command imports only what it needs (aiogram takes seconds).
    from bot.app import GridBotApp
    from models.database import upgrade

    await upgrade(settings.database_url)
    app = GridBotApp.create(settings, token=token)
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, app.request_stop)
    try:
        await app.run()
    finally:
        await app.close()
    return 0


async def _bot_username(settings: Settings, token: str) -> str:
    """The bot's username, from getMe.

    Plain HTTP: the command needs nothing else of the Bot API, and importing
    aiogram builds its few hundred pydantic models, which takes seconds.
    Raises ``RuntimeError`` with one line to show.
    """
    # Loaded per command: each command imports only what it needs (aiogram takes seconds).
    import aiohttp

    url = f"{settings.telegram_api_url.rstrip('/')}/bot{token}/getMe"
    try:
        async with aiohttp.ClientSession() as http, http.get(url, timeout=aiohttp.ClientTimeout(total=30)) as resp:
            answer = await resp.json(content_type=None)
    except (aiohttp.ClientError, TimeoutError, ValueError) as exc:
        detail = str(exc).replace(token, "<BOT_TOKEN>")  # an error may quote the URL, which holds the token
        raise RuntimeError(f"getMe at {settings.telegram_api_url} failed: {type(exc).__name__}: {detail}") from exc
    result = answer.get("result") if isinstance(answer, dict) and answer.get("ok") is True else None
    if not isinstance(result, dict) or not result.get("username"):
        reason = answer.get("description") if isinstance(answer, dict) else None
        raise RuntimeError(f"getMe at {settings.telegram_api_url} failed: {reason or 'unexpected answer'}")
    return str(result["username"])


async def _cmd_invite(settings: Settings, args: argparse.Namespace) -> int:
    # Loaded per command: each command imports only what it needs (aiogram takes seconds).
    from bot.services.errors import DomainError
    from bot.services.invites import create_invite, parse_duration
    from models import Role

    token = settings.require_token()
    try:
        expires = parse_duration(args.expires)
    except DomainError:
        print("--expires: expected a lifetime like 30m, 12h, 7d or 2w (at most a year)", file=sys.stderr)
        return 2
    try:
        username = await _bot_username(settings, token)
    except RuntimeError as exc:
        print(exc, file=sys.stderr)
        return 1

    try:
        invite = await _committed(settings, lambda session: create_invite(
            session, role=Role(args.role), scope_code=args.scope, expires_in=expires))
    except DomainError:
        print(f"--scope: no {args.role} scope with code {args.scope!r}", file=sys.stderr)
        return 2
    print(f"Invite for {args.role} of {args.scope}, valid until {invite.expires_at.astimezone(settings.tz):%Y-%m-%d %H:%M %Z}:")
    print(f"https://t.me/{username}?start={invite.payload}")
    print(invite.payload)
    return 0


async def _cmd_revoke(settings: Settings, args: argparse.Namespace) -> int:
    # Loaded per command: each command imports only what it needs (aiogram takes seconds).
    from sqlalchemy import select

    # (the same: loaded per command)
    from bot.services.errors import NotFound
    from bot.services.roles import revoke
    from models import Role, User, utcnow

    async def run(session):  # type: ignore[no-untyped-def]
        user = await session.scalar(select(User).where(User.telegram_id == args.user))
        if user is None:
            return None
        return await revoke(session, settings, user, role=Role(args.role) if args.role else None,
                            scope_code=args.scope, how="cli", now=utcnow())

    try:
        done = await _committed(settings, run)
    except NotFound:
        print(f"--scope: no grid, community, department or district with code {args.scope!r}", file=sys.stderr)
        return 2
    if done is None:
        print(f"--user: no user with Telegram id {args.user}", file=sys.stderr)
        return 2
    if not done:
        print(f"user {args.user}: no matching role; nothing removed")
    for r in done:
        queued = f"; {r.cases_returned} open case(s) back in the grid's queue" if r.cases_returned else ""
        print(f"removed {r.role.value} of {r.scope_type.value} {r.scope_code} from user {args.user}{queued}")
    return 0


async def _cmd_open311(settings: Settings, args: argparse.Namespace) -> int:
    # Loaded per command: each command imports only what it needs (aiogram takes seconds).
    from bot.open311.server import serve

    stop = asyncio.get_running_loop().create_future()
    for sig in (signal.SIGINT, signal.SIGTERM):
        asyncio.get_running_loop().add_signal_handler(sig, lambda: stop.done() or stop.set_result(None))
    await serve(settings, args.host, args.port, stop)
    return 0


async def _cmd_open311_key(settings: Settings, args: argparse.Namespace) -> int:
    # Loaded per command: each command imports only what it needs (aiogram takes seconds).
    from bot.services import open311
    from bot.services.errors import DomainError
    from models import utcnow

    async def run(session):  # type: ignore[no-untyped-def]
        if args.revoke is not None:
            return await open311.revoke_key(session, args.revoke, utcnow())
        return await open311.create_key(session, args.name, utcnow())

    try:
        done = await _committed(settings, run)
    except DomainError as exc:
        if exc.code == "key_exists":
            print(f"--name: {args.name!r} already has a live key; --revoke it first", file=sys.stderr)
        else:
            print("--name: 1-64 letters, digits, spaces, dots, dashes or underscores", file=sys.stderr)
        return 2
    if args.revoke is not None:
        if not done:
            print(f"--revoke: no live key named {args.revoke!r}", file=sys.stderr)
            return 2
        print(f"the key of {args.revoke!r} is revoked")
        return 0
    print(f"Open311 API key for {args.name!r} (shown once; only its hash is kept):")
    print(done)
    return 0


async def _main(argv: list[str]) -> int:
    args = _parser().parse_args(argv)
    settings = load_settings()
    setup_logging(settings)
    # Loaded per command: each command imports only what it needs (aiogram takes seconds).
    from models.database import SchemaTooNew

    try:
        return await _command(args, settings)
    except SchemaTooNew as exc:
        print(f"refusing to start: {exc}", file=sys.stderr)
        return 3


async def _command(args: argparse.Namespace, settings: Settings) -> int:
    # Loaded per command: each command imports only what it needs (aiogram takes seconds).
    from models.database import upgrade

    if args.command == "run":
        return await _cmd_run(settings)
    if args.command == "db":
        await upgrade(settings.database_url)
        print("database is at the latest migration")
        return 0
    if args.command == "seed-demo":
        # Loaded per command: each command imports only what it needs (aiogram takes seconds).
        from bot.services.org_import import seed_demo

        await upgrade(settings.database_url)
        report = await _with_session(settings, seed_demo)
        print(report)
        return 0
    if args.command == "import-org":
        # Loaded per command: each command imports only what it needs (aiogram takes seconds).
        from bot.services.org_import import ImportFailed, import_org_file

        if not args.file.exists():
            print(f"{args.file}: no such file", file=sys.stderr)
            return 2
        await upgrade(settings.database_url)
        try:
            report = await _with_session(settings, lambda sm: import_org_file(sm, args.file))
        except ImportFailed as exc:
            print(f"{args.file}: nothing imported; {len(exc.errors)} problem(s):", file=sys.stderr)
            for err in exc.errors:
                print(f"  {err.sheet} row {err.row}: {err.message}", file=sys.stderr)
            return 1
        print(report)
        return 0
    if args.command in _MIGRATED_FIRST:
        await upgrade(settings.database_url)
        return await _MIGRATED_FIRST[args.command](settings, args)
    if args.command == "backup":
        # Loaded per command: each command imports only what it needs (aiogram takes seconds).
        from models.backup import BackupRefused, backup_sqlite

        try:
            done = backup_sqlite(settings.database_url, args.file)
        except BackupRefused as exc:
            print(f"backup: {exc}", file=sys.stderr)
            return 2
        print(f"backed up to {done['file']}: {done['bytes']} bytes, {done['tables']} tables, "
              f"migration {done['migration']}")
        return 0
    if args.command == "sandbox":
        # Loaded per command: each command imports only what it needs (aiogram takes seconds).
        from bot.sandbox.runner import run_sandbox

        return await run_sandbox(settings, host=args.host, port=args.port)
    return 2


# The commands that bring the database to the latest migration before they run.
_MIGRATED_FIRST = {
    "invite": _cmd_invite,
    "revoke": _cmd_revoke,
    "open311": _cmd_open311,
    "open311-key": _cmd_open311_key,
}


def main(argv: list[str] | None = None) -> int:
    try:
        return asyncio.run(_main(sys.argv[1:] if argv is None else argv))
    except ConfigError as exc:
        print(f"configuration error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
