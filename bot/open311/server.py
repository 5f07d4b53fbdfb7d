"""The Open311 GeoReport v2 HTTP server: ``python -m bot open311``.

aiohttp (the stack the bot's webhook already runs on) serves ``/open311/v2/``
on the bot's database as its own process; the domain is
``bot.services.open311``, this module only parses, limits and renders.  Every
answer is XML or JSON after the path's extension (``requests.xml``,
``requests.json``).  Each client is limited (``OPEN311_RATE_PER_MINUTE``,
``OPEN311_BURST``) by its API key, or by its address when it gives none:
over the limit it gets 429 with ``Retry-After``.  Put it behind a reverse
proxy for TLS (README.md).
"""

from __future__ import annotations

import logging
import math
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime

from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.config import Settings
from bot.open311 import render
from bot.open311.errors import describe, status_of
from bot.ratelimit import UserRateLimiter, Verdict
from bot.services import open311
from bot.services.errors import DomainError
from models.database import create_engine, create_sessionmaker

log = logging.getLogger(__name__)

PREFIX = "/open311/v2/"
MAX_BODY = 64 * 1024
FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")
CHANGESET = datetime(2026, 12, 5, tzinfo=UTC)  # the last change of what this API serves

Clock = Callable[[], datetime]


class Failure(Exception):
    def __init__(self, status: int, code: str, params: dict[str, object] | None = None,
                 headers: dict[str, str] | None = None) -> None:
        super().__init__(code)
        self.status, self.code, self.params, self.headers = status, code, params or {}, headers or {}


class Call:
    """One request: its format, its parameters (query and form), its locale,
    and the district it is about (``jurisdiction_id``)."""

    def __init__(self, request: web.Request, fmt: str, params: dict[str, str], settings: Settings) -> None:
        self.request, self.fmt, self.params = request, fmt, params
        self.locale = open311.negotiate_locale(params.get("locale"), request.headers.get("Accept-Language"),
                                               settings.default_locale)
        self.area = open311.EVERYWHERE


class Open311Server:
    def __init__(self, settings: Settings, sessionmaker: async_sessionmaker[AsyncSession], *,
                 clock: Clock | None = None) -> None:
        self.settings = settings
        self.sessionmaker = sessionmaker
        self.clock = clock or (lambda: datetime.now(UTC))
        self.limiter = UserRateLimiter(settings.open311_rate_per_minute, settings.open311_burst)

    def app(self) -> web.Application:
        app = web.Application(client_max_size=MAX_BODY)
        app.router.add_route("*", PREFIX + "{path:.+}", self.handle)
        return app

    # ------------------------------------------------------------------ dispatch

    async def handle(self, request: web.Request) -> web.Response:
        fmt = "xml"
        try:
            path, _, fmt = request.match_info["path"].rpartition(".")
            if fmt not in ("xml", "json") or not path:
                fmt = "xml" if fmt not in ("xml", "json") else fmt
                raise Failure(404, "format")
            params = await _params(request)
            call = Call(request, fmt, params, self.settings)
            async with self.sessionmaker() as session:
                client = await open311.authenticate(session, params.get("api_key"))
                self._limit(request, client)
                if path != "discovery":  # every other endpoint is about a district, when one is named
                    call.area = await open311.jurisdiction(session, params.get("jurisdiction_id"))
                doc = await self._route(session, call, path, client)
                await session.commit()
            return self._answer(call.fmt, 200, doc)
        except Failure as failure:
            return self._answer(fmt, failure.status, render.errors([(failure.status, describe(failure.code, failure.params))]),
                                failure.headers)
        except DomainError as exc:
            status = status_of(exc)
            return self._answer(fmt, status, render.errors([(status, describe(exc.code, dict(exc.params)))]))
        except Exception:
            log.exception("open311: %s %s failed", request.method, request.path)
            return self._answer(fmt, 500, render.errors([(500, describe("internal"))]))

    def _limit(self, request: web.Request, client: open311.Client | None) -> None:
        who: int | str = f"key:{client.id}" if client is not None else f"ip:{request.remote}"
        if self.limiter.check(who) != Verdict.ALLOW:
            wait = max(1, math.ceil(self.limiter.wait_seconds(who)))
            raise Failure(429, "rate", {"seconds": wait}, {"Retry-After": str(wait)})

    async def _route(self, session: AsyncSession, call: Call, path: str, client: open311.Client | None) -> render.Doc:
        method = call.request.method
        parts = path.split("/")
        routes: dict[tuple[str, str], Callable[..., Awaitable[render.Doc]]] = {
            ("GET", "discovery"): self.discovery, ("GET", "services"): self.services,
            ("GET", "requests"): self.requests, ("POST", "requests"): self.post_request,
            ("GET", "servicerequestupdates"): self.updates, ("POST", "servicerequestupdates"): self.post_update,
        }
        if len(parts) == 1:
            handler = routes.get((method, parts[0]))
            if handler is None:
                known = any(name == parts[0] for _, name in routes)
                raise Failure(405, "method") if known else Failure(404, "format")
            return await handler(session, call, client)
        if len(parts) == 2 and parts[1] and method == "GET":
            one = {"services": self.service, "requests": self.request_one, "tokens": self.token}.get(parts[0])
            if one is not None:
                return await one(session, call, parts[1])
        raise Failure(404, "format")

    def _answer(self, fmt: str, status: int, doc: render.Doc, headers: dict[str, str] | None = None) -> web.Response:
        tz = self.settings.tz
        # Open data: a city dashboard in a browser may read it from any origin.
        headers = {"Access-Control-Allow-Origin": "*", **(headers or {})}
        if fmt == "json":
            return web.Response(status=status, body=doc.json(tz), content_type=render.JSON_TYPE, charset="utf-8",
                                headers=headers)
        return web.Response(status=status, body=doc.xml(tz), content_type=render.XML_TYPE, charset="utf-8",
                            headers=headers)

    @staticmethod
    def _require(client: open311.Client | None) -> open311.Client:
        if client is None:
            raise Failure(403, "api_key")
        return client

    # ------------------------------------------------------------------ endpoints

    async def discovery(self, session: AsyncSession, call: Call, client: open311.Client | None) -> render.Doc:
        base = self.settings.open311_base_url.rstrip("/") or str(call.request.url.origin()) + PREFIX.rstrip("/")
        return render.discovery(base, self.settings.open311_contact, CHANGESET)

    async def services(self, session: AsyncSession, call: Call, client: open311.Client | None) -> render.Doc:
        return render.services(await open311.services(session, call.locale))

    async def service(self, session: AsyncSession, call: Call, code: str) -> render.Doc:
        return render.definition(await open311.definition(session, code, call.locale))

    async def requests(self, session: AsyncSession, call: Call, client: open311.Client | None) -> render.Doc:
        query = open311.parse_query(call.params, self.clock(), self.settings)
        rows = await open311.list_requests(session, self.settings, query, call.locale, call.area)
        return render.requests(rows, _extensions(call.params), self.settings.tz)

    async def request_one(self, session: AsyncSession, call: Call, number: str) -> render.Doc:
        row = await open311.one_request(session, self.settings, number, call.locale, call.area)
        return render.requests([row], _extensions(call.params), self.settings.tz)

    async def token(self, session: AsyncSession, call: Call, token: str) -> render.Doc:
        return render.token(*await open311.token_request(session, token, call.area))

    async def post_request(self, session: AsyncSession, call: Call, client: open311.Client | None) -> render.Doc:
        client = self._require(client)
        new = open311.parse_new_request(call.params)
        filed = await open311.file_request(session, self.settings, client, new, self.clock(), call.area)
        log.info("open311: %s filed %s", client.name, filed.service_request_id)
        return render.filed(filed)

    async def updates(self, session: AsyncSession, call: Call, client: open311.Client | None) -> render.Doc:
        query = open311.parse_update_query(call.params, self.clock(), self.settings)
        return render.updates(await open311.list_updates(session, query, call.locale, call.area), self.settings.tz)

    async def post_update(self, session: AsyncSession, call: Call, client: open311.Client | None) -> render.Doc:
        client = self._require(client)
        return render.posted_update(await open311.post_update(session, self.settings, client, call.params,
                                                              self.clock(), call.area))


def _extensions(params: dict[str, str]) -> bool:
    return (params.get("extensions") or "").strip().lower() in ("true", "1", "yes")


async def _params(request: web.Request) -> dict[str, str]:
    """Query and (for a POST) form parameters, the form's winning; a repeated
    parameter's values joined by commas (``status=open&status=closed``)."""
    params: dict[str, str] = {}
    sources = [request.query]
    if request.method == "POST":
        if request.body_exists and request.content_type not in FORM_TYPES:
            raise Failure(400, "form_type")  # a JSON body, say: its api_key would go unread
        try:
            sources.append(await request.post())
        except web.HTTPRequestEntityTooLarge as exc:
            raise Failure(400, "form_too_large", {"limit": MAX_BODY // 1024}) from exc
        except ValueError as exc:  # not UTF-8, or a broken multipart body
            raise Failure(400, "bad_form") from exc
    for source in sources:
        seen: dict[str, list[str]] = {}
        for key, value in source.items():
            if isinstance(value, str):
                seen.setdefault(key, []).append(value)
        for key, values in seen.items():
            params[key] = ",".join(values)
    return params


async def serve(settings: Settings, host: str, port: int, stop: Awaitable[object]) -> None:
    """Serve until ``stop`` is done; prints the address it listens on (port 0: a free one)."""
    engine = create_engine(settings.database_url)
    runner = web.AppRunner(Open311Server(settings, create_sessionmaker(engine)).app(), access_log=None)
    await runner.setup()
    try:
        site = web.TCPSite(runner, host, port)
        await site.start()
        sockets = getattr(site._server, "sockets", None) or []
        bound = sockets[0].getsockname()[1] if sockets else port
        print(f"open311 listening on http://{host}:{bound}{PREFIX}", flush=True)
        await stop
    finally:
        await runner.cleanup()
        await engine.dispose()
