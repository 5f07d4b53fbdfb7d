"""The sandbox's web server: the chat page, its JSON API and the emulator's control API.

One address serves everything the page needs (it makes no other request):

* ``GET /`` the page; ``GET /static/...`` its CSS, JavaScript and icon
  (``bot/sandbox/web/``, plain files, no build step);
* ``/_emu/...`` the Bot API emulator's HTTP control API (see
  :mod:`bot.sandbox.emulator_control`): send text, press buttons, share a
  contact or location, upload photos and files, long-poll a chat for new,
  edited and deleted messages, download files;
* ``/api/...`` what only the sandbox knows:

  - ``GET  /api/info`` bot, display time zone, clock, database kind and an
    ``instance`` id that changes when the sandbox restarts;
  - ``GET  /api/personas`` people of the database (users + role grants):
    ``{"personas": [...], "residents_total": N, "residents_listed": M}``;
  - ``POST /api/personas`` ``{first_name, language_code?}`` a new resident
    (a fresh Telegram id; the page then starts the chat with /start);
  - ``POST /api/personas/{telegram_id}/open`` make sure the emulator knows
    this person (the sandbox introduces every listed person at start; others,
    such as residents beyond the list, on first open) -> the persona;
  - ``GET  /api/personas/{telegram_id}/commands`` the bot's command list as
    Telegram would show it in that chat (scope and language resolution);
  - ``GET  /api/callbacks/{query_id}?timeout=10`` wait for the bot's answer
    to a button press -> ``{"answered", "text", "show_alert", "url"}``;
  - ``GET  /api/clock``; ``POST /api/clock`` ``{"advance_seconds": N}`` (a day at a time, the
    recurring jobs run after each day) or ``{"reset": true}`` (back to the real time);
  - ``GET  /api/places`` buildings with coordinates (the location picker).

Errors answer ``{"error": "..."}`` with 400 or 404.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

from aiohttp import web

from bot.sandbox import personas as persona_service
from bot.sandbox.clock import ClockError
from bot.sandbox.emulator_control import BadInput, error, guard, json_body, setup_control_routes

# The sandbox (bot.sandbox.runner.Sandbox) imports this module to build its
# page, so it is not imported back here.
Sandbox = Any

__all__ = ["WEB_DIR", "build_web_app", "telegram_language_code"]

log = logging.getLogger(__name__)

WEB_DIR = Path(__file__).resolve().parent / "web"
MAX_CALLBACK_WAIT = 30.0
NAME_LIMIT = 64

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

_TELEGRAM_CODES = {"zh-Hans": "zh-hans", "zh-Hant": "zh-hant", "en": "en"}


def telegram_language_code(locale: str | None, fallback: str = "zh-hans") -> str:
    """The ``language_code`` a Telegram client in ``locale`` would send."""
    if locale is None:
        return fallback
    return _TELEGRAM_CODES.get(locale, fallback)


@web.middleware
async def _no_cache(request: web.Request, handler: Handler) -> web.StreamResponse:
    response = await handler(request)
    if request.path == "/" or request.path.startswith(("/static/", "/api/")):
        response.headers["Cache-Control"] = "no-cache"
    # The page needs nothing from elsewhere; say so to the browser as well.
    if request.path == "/":
        response.headers["Content-Security-Policy"] = (
            "default-src 'self'; img-src 'self' blob: data:; media-src 'self' blob:; "
            "style-src 'self'; script-src 'self'; connect-src 'self'; frame-ancestors 'none'"
        )
        response.headers["Referrer-Policy"] = "no-referrer"
    return response


def build_web_app(sandbox: Sandbox) -> web.Application:
    @web.middleware
    async def _until_ready(request: web.Request, handler: Handler) -> web.StreamResponse:
        if not sandbox.ready and request.path.startswith(("/api/", "/_emu/")):
            return web.json_response({"error": "the sandbox is starting"}, status=503,
                                     headers={"Retry-After": "1"})
        return await handler(request)

    app = web.Application(client_max_size=64 * 1024 * 1024, middlewares=[_no_cache, _until_ready])
    emu = sandbox.emulator

    async def index(request: web.Request) -> web.StreamResponse:
        return web.FileResponse(WEB_DIR / "index.html")

    async def info(request: web.Request) -> web.StreamResponse:
        me = emu.bot_user(sandbox.token)
        return web.json_response(
            {
                "bot": {"id": me.id, "username": me.username, "first_name": me.first_name},
                "tz": sandbox.settings.display_tz,
                "clock": sandbox.clock.as_json(),
                "database": sandbox.database_label,
                "instance": sandbox.instance,
            }
        )

    async def personas(request: web.Request) -> web.StreamResponse:
        async with sandbox.sessionmaker() as session:
            found, total = await persona_service.list_personas(session)
        residents = sum(1 for p in found if p.kind in ("resident", "unregistered"))
        return web.json_response(
            {
                "personas": [p.as_json() for p in found],
                "residents_total": total,
                "residents_listed": residents,
            }
        )

    async def new_resident(request: web.Request) -> web.StreamResponse:
        body = await json_body(request)
        name = str(body.get("first_name") or "").strip()
        if not name:
            raise BadInput("first_name is required")
        if len(name) > NAME_LIMIT:
            raise BadInput(f"first_name: at most {NAME_LIMIT} characters")
        language = str(body.get("language_code") or "zh-hans")[:16]
        user = await sandbox.new_resident(name, language)
        return web.json_response(_emu_persona(user.id, user.first_name, user.language_code))

    def _emu_persona(telegram_id: int, first_name: str, language_code: str | None) -> dict[str, Any]:
        return {
            "telegram_id": telegram_id,
            "first_name": first_name,
            "last_name": None,
            "username": None,
            "locale": None,
            "phone": None,
            "kind": "unregistered",
            "registered": False,
            "roles": [],
            "home": None,
            "language_code": language_code,
        }

    def _telegram_id(request: web.Request) -> int:
        try:
            return int(request.match_info["telegram_id"])
        except ValueError:
            raise BadInput("telegram_id must be a number") from None

    async def open_persona(request: web.Request) -> web.StreamResponse:
        telegram_id = _telegram_id(request)
        body = await json_body(request)
        async with sandbox.sessionmaker() as session:
            persona = await persona_service.load_persona(session, telegram_id)
        known = emu.state.users.get(telegram_id)
        if persona is None and known is None:
            return error(404, f"nobody with Telegram id {telegram_id}")
        if persona is None:
            assert known is not None
            return web.json_response(_emu_persona(known.id, known.first_name, known.language_code))
        if known is None:
            fallback = str(body.get("language_code") or "zh-hans")[:16]
            emu.create_user(
                first_name=persona.first_name or str(telegram_id),
                last_name=persona.last_name,
                username=persona.username,
                language_code=telegram_language_code(persona.locale, fallback),
                user_id=telegram_id,
            )
        data = persona.as_json()
        data["language_code"] = emu.state.users[telegram_id].language_code
        return web.json_response(data)

    async def commands(request: web.Request) -> web.StreamResponse:
        telegram_id = _telegram_id(request)
        user = emu.state.users.get(telegram_id)
        if user is None:
            return error(404, f"nobody with Telegram id {telegram_id}")
        lang = (user.language_code or "")[:2]
        scopes: list[dict[str, Any] | str | None] = [
            {"type": "chat", "chat_id": telegram_id},
            "all_private_chats",
            None,
        ]
        for scope in scopes:
            for code in ([lang] if lang else []) + [None]:
                found = emu.commands(scope=scope, language_code=code, token=sandbox.token)
                if found:
                    return web.json_response({"commands": found})
        return web.json_response({"commands": []})

    async def callback_answer(request: web.Request) -> web.StreamResponse:
        query_id = request.match_info["query_id"]
        timeout = min(max(float(request.query.get("timeout") or 10), 0.0), MAX_CALLBACK_WAIT)

        def find() -> dict[str, Any] | None:
            for answer in reversed(emu.callback_answers):
                if answer["callback_query_id"] == query_id:
                    return answer
            return None

        try:
            answer = await emu.wait_for(find, timeout)
        except TimeoutError:
            return web.json_response({"answered": False})
        return web.json_response(
            {
                "answered": True,
                "text": answer.get("text"),
                "show_alert": bool(answer.get("show_alert")),
                "url": answer.get("url"),
            }
        )

    async def clock_get(request: web.Request) -> web.StreamResponse:
        return web.json_response(sandbox.clock.as_json())

    async def clock_post(request: web.Request) -> web.StreamResponse:
        body = await json_body(request)
        if body.get("reset") is True:
            await sandbox.reset_clock()
            return web.json_response(sandbox.clock.as_json())
        try:
            seconds = float(body.get("advance_seconds"))  # type: ignore[arg-type]
        except (TypeError, ValueError):
            raise BadInput("advance_seconds: a number of seconds is required") from None
        try:
            await sandbox.advance_clock(timedelta(seconds=seconds))
        except ClockError as exc:
            raise BadInput(str(exc)) from None
        return web.json_response(sandbox.clock.as_json())

    async def places(request: web.Request) -> web.StreamResponse:
        async with sandbox.sessionmaker() as session:
            found = await persona_service.places(session)
        return web.json_response({"places": found})

    routes: list[tuple[str, str, Handler]] = [
        ("GET", "/", index),
        ("GET", "/api/info", info),
        ("GET", "/api/personas", personas),
        ("POST", "/api/personas", new_resident),
        ("POST", "/api/personas/{telegram_id}/open", open_persona),
        ("GET", "/api/personas/{telegram_id}/commands", commands),
        ("GET", "/api/callbacks/{query_id}", callback_answer),
        ("GET", "/api/clock", clock_get),
        ("POST", "/api/clock", clock_post),
        ("GET", "/api/places", places),
    ]
    for method, path, handler in routes:
        # Here an EmulatorError or a KeyError is a bug (500), not a 404 or a 400.
        guarded = guard(handler, not_found=(), invalid=(ValueError, TypeError))
        app.router.add_route(method, path, guarded)
    app.router.add_static("/static/", WEB_DIR, show_index=False, follow_symlinks=False)
    setup_control_routes(app, emu)
    return app
