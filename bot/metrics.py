"""Observability: Prometheus metrics, liveness and readiness of one process.

Every process (``GridBotApp``, ``python -m bot.delivery``) has its own
:class:`Metrics`, in a registry of its own (not prometheus-client's global
one), so several apps can run in one test process.  What the process counts
as it goes (updates, sends, jobs) is counted in place; what lives in the
database (pending inbound rows, the outbox by status, broadcast progress) is
read when ``/metrics`` is scraped, at most once every few seconds.

HTTP (:func:`add_routes`): ``GET /healthz`` (the process is alive),
``GET /readyz`` (the database and Redis answer, the schema is at this code's
head or newer; 503 and the reason otherwise) and ``GET /metrics``.  The
webhook server serves them; with ``METRICS_PORT`` a small server of their own
does (:func:`start_server`), in polling mode and in ``python -m bot.delivery``.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from typing import Any

from aiohttp import web
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.exposition import CONTENT_TYPE_LATEST, generate_latest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.config import Settings
from bot.logs import chat_hasher
from models import (
    Broadcast,
    BroadcastStatus,
    InboundStatus,
    InboundUpdate,
    OutboxMessage,
    OutboxStatus,
)
from models.database import migration_heads, schema_revisions

log = logging.getLogger(__name__)
update_log = logging.getLogger("bot.updates")

_LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30)
_LATENESS_BUCKETS = (0.1, 0.5, 1, 5, 15, 60, 300, 900, 3600)
# The outbox statuses worth a gauge: the live ones and the dead letters.  "sent" and
# "cancelled" only grow (a broadcast adds millions): the send counter tells those.
_OUTBOX_GAUGED = (OutboxStatus.pending, OutboxStatus.claimed, OutboxStatus.sending, OutboxStatus.unknown,
                  OutboxStatus.failed, OutboxStatus.unreachable)
DB_REFRESH_SECONDS = 5.0
PROBE_TIMEOUT = 3.0


def update_type(payload: dict[str, Any]) -> str:
    """``message``, ``callback_query``... (the update's one field besides its id)."""
    for name in payload:
        if name != "update_id":
            return name
    return "unknown"


def send_outcome(outcome: str, error: str | None) -> str:
    """The label of a send's outcome: sent, 429, 403, 400, 5xx, network, unknown, other."""
    if outcome in ("sent", "unknown"):
        return outcome
    code = (error or "").split(":", 1)[0]
    if outcome == "rate_limited":
        return "429"
    if outcome == "blocked":
        return "403"
    if outcome == "failed":
        return "400"
    if code.isdigit():
        return "5xx" if code.startswith("5") else "other"
    return "network"  # never reached the server (connection refused...)


class Metrics:
    """The metrics of one process, in their own registry."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = r = registry or CollectorRegistry()
        self.updates_received = Counter("gridbot_updates_received", "Updates stored (new ones, not redeliveries)",
                                        ["type"], registry=r)
        self.updates_handled = Counter("gridbot_updates_handled", "Updates handled to the end", ["type"], registry=r)
        self.updates_failed = Counter("gridbot_updates_failed", "Updates parked as failed", ["type"], registry=r)
        self.update_seconds = Histogram("gridbot_update_handling_seconds", "Time to handle one update",
                                        ["type"], buckets=_LATENCY_BUCKETS, registry=r)
        self.chat_queues = Gauge("gridbot_inbound_chat_queues", "Chats with updates queued in this process",
                                 registry=r)
        self.queued_updates = Gauge("gridbot_inbound_queued_updates", "Updates queued in this process", registry=r)
        self.chat_queue_max = Gauge("gridbot_inbound_chat_queue_depth_max", "The deepest chat queue", registry=r)
        self.inbound_pending = Gauge("gridbot_inbound_pending_rows", "Stored updates not yet done (all processes)",
                                     registry=r)
        self.outbox_rows = Gauge("gridbot_outbox_rows", "Outbox rows by status (all processes)", ["status"],
                                 registry=r)
        self.broadcast_rows = Gauge("gridbot_broadcast_rows", "Rows of an unfinished broadcast by status",
                                    ["broadcast", "status"], registry=r)
        self.db_up = Gauge("gridbot_metrics_database_up", "1 if the last read of the database figures worked",
                           registry=r)
        self.sends = Counter("gridbot_sends", "Messages sent by the delivery engine, by outcome", ["outcome"],
                             registry=r)
        self.send_pauses = Counter("gridbot_send_pauses", "Pauses of all sending after a 429", registry=r)
        self.send_pause_seconds = Counter("gridbot_send_pause_seconds", "Seconds of those pauses", registry=r)
        self.job_runs = Counter("gridbot_job_runs", "Recurring job runs by job and status", ["job", "status"],
                                registry=r)
        self.job_lateness = Histogram("gridbot_job_lateness_seconds", "How long after its due time a job started",
                                      ["job"], buckets=_LATENESS_BUCKETS, registry=r)

    # -- the delivery engine ---------------------------------------------------
    def sent(self, outcome: str, error: str | None) -> None:
        self.sends.labels(send_outcome(outcome, error)).inc()

    def paused(self, seconds: float) -> None:
        self.send_pauses.inc()
        self.send_pause_seconds.inc(seconds)

    def job_ran(self, name: str, status: str, lateness: float) -> None:
        self.job_runs.labels(name, status).inc()
        self.job_lateness.labels(name).observe(max(0.0, lateness))
        update_log.info("job %s %s", name, status,
                        extra={"job": name, "outcome": status, "lateness_ms": round(lateness * 1000)})

    def render(self) -> bytes:
        return generate_latest(self.registry)


class InboundObserver:
    """Counts and logs the inbound pipeline's updates (``InboundPipeline(observer=...)``).

    With ``LOG_FORMAT=json``, one log line per handled update: its id, type, outcome,
    duration and the chat id hashed (:func:`bot.logs.chat_hasher`); never its text.  A failure
    is learnt from the pipeline's ``on_failed`` (wrapped by :meth:`on_failed`),
    called for the same update just before it is reported done."""

    def __init__(self, metrics: Metrics, settings: Settings) -> None:
        self.metrics = metrics
        self.hash_chat = chat_hasher(settings)
        # In text logs aiogram's own line per update says as much; the structured one is for JSON.
        self.log_updates = settings.log_format == "json"
        self._failed: set[int] = set()
        # Each update type's labelled series, looked up once (``labels()`` takes a lock and
        # builds a key on every call; these run for every update).
        self._series: dict[tuple[str, str], Any] = {}

    def _of(self, metric: Any, name: str, kind: str) -> Any:
        series = self._series.get((name, kind))
        if series is None:
            series = self._series[(name, kind)] = metric.labels(kind)
        return series

    def received(self, payloads: list[dict[str, Any]]) -> None:
        for p in payloads:
            self._of(self.metrics.updates_received, "received", update_type(p)).inc()

    def failed(self, update_id: int) -> None:
        self._failed.add(update_id)

    def done(self, payload: dict[str, Any], chat: int | str, seconds: float) -> None:
        kind = update_type(payload)
        update_id = payload.get("update_id")
        failed = update_id in self._failed
        self._failed.discard(update_id)  # type: ignore[arg-type]
        if failed:
            self._of(self.metrics.updates_failed, "failed", kind).inc()
        else:
            self._of(self.metrics.updates_handled, "handled", kind).inc()
        self._of(self.metrics.update_seconds, "seconds", kind).observe(seconds)
        if self.log_updates and update_log.isEnabledFor(logging.INFO):
            update_log.info("update %s %s", update_id, "failed" if failed else "handled",
                            extra={"update_id": update_id, "chat": self.hash_chat(chat), "type": kind,
                                   "duration_ms": round(seconds * 1000, 1),
                                   "outcome": "failed" if failed else "handled"})


class Probes:
    """Liveness, readiness and the database figures of one process."""

    def __init__(self, metrics: Metrics, engine: AsyncEngine, settings: Settings, *,
                 queue_depths: Callable[[], list[int]] | None = None) -> None:
        self.metrics = metrics
        self.engine = engine
        self.settings = settings
        self.queue_depths = queue_depths
        self._redis: Any = None
        self._db_read_at = float("-inf")
        self._db_lock = asyncio.Lock()

    async def ready(self) -> tuple[bool, dict[str, str]]:
        checks: dict[str, str] = {}
        try:
            async with asyncio.timeout(PROBE_TIMEOUT):
                revisions = await schema_revisions(self.engine)
            checks["database"] = "ok"
            heads, known = migration_heads()
            if revisions == heads:
                checks["schema"] = "ok"
            elif revisions - known:
                # Newer than this code (a rolling upgrade): its migrations are additive, so this
                # process still works; it must not be restarted, though (it refuses to start).
                checks["schema"] = "newer: " + ",".join(sorted(revisions - known))
            else:
                checks["schema"] = "behind: " + (",".join(sorted(revisions)) or "empty") + "; run `python -m bot db upgrade`"
        except Exception as exc:  # noqa: BLE001 - any failure means not ready; the reason is reported
            checks["database"] = f"unreachable: {type(exc).__name__}"
        if self.settings.redis_url:
            try:
                async with asyncio.timeout(PROBE_TIMEOUT):
                    await self._redis_client().ping()
                checks["redis"] = "ok"
            except Exception as exc:  # noqa: BLE001
                checks["redis"] = f"unreachable: {type(exc).__name__}"
        ok = all(v == "ok" or (k == "schema" and v.startswith("newer")) for k, v in checks.items())
        return ok, checks

    def _redis_client(self) -> Any:
        if self._redis is None:
            # Only with REDIS_URL: the client is loaded when there is a Redis to ask.
            from redis.asyncio import Redis

            self._redis = Redis.from_url(self.settings.redis_url, socket_connect_timeout=PROBE_TIMEOUT,
                                         socket_timeout=PROBE_TIMEOUT)
        return self._redis

    async def refresh(self) -> None:
        """Bring the gauges up to date (the database ones at most every few seconds)."""
        if self.queue_depths is not None:
            depths = self.queue_depths()
            self.metrics.chat_queues.set(len(depths))
            self.metrics.queued_updates.set(sum(depths))
            self.metrics.chat_queue_max.set(max(depths, default=0))
        async with self._db_lock:
            if time.monotonic() - self._db_read_at < DB_REFRESH_SECONDS:
                return
            try:
                async with asyncio.timeout(PROBE_TIMEOUT):
                    await self._read_database()
                self.metrics.db_up.set(1)
            except Exception as exc:  # noqa: BLE001 - the figures stay as last read
                log.warning("metrics: reading the database figures failed: %s", type(exc).__name__)
                self.metrics.db_up.set(0)
            self._db_read_at = time.monotonic()

    async def _read_database(self) -> None:
        m = self.metrics
        async with self.engine.connect() as conn:
            pending = await conn.scalar(
                select(func.count()).select_from(InboundUpdate).where(InboundUpdate.status == InboundStatus.pending))
            m.inbound_pending.set(pending or 0)
            counts = dict((await conn.execute(
                select(OutboxMessage.status, func.count()).where(OutboxMessage.status.in_(_OUTBOX_GAUGED))
                .group_by(OutboxMessage.status))).all())
            for status in _OUTBOX_GAUGED:
                m.outbox_rows.labels(status.value).set(counts.get(status, 0))
            rows = (await conn.execute(
                select(OutboxMessage.broadcast_id, OutboxMessage.status, func.count())
                .join(Broadcast, Broadcast.id == OutboxMessage.broadcast_id)
                .where(Broadcast.status.in_([BroadcastStatus.active, BroadcastStatus.paused]))
                .group_by(OutboxMessage.broadcast_id, OutboxMessage.status))).all()
        m.broadcast_rows.clear()  # finished broadcasts drop out
        for broadcast_id, status, n in rows:
            m.broadcast_rows.labels(str(broadcast_id), status.value).set(n)

    async def close(self) -> None:
        if self._redis is not None:
            await self._redis.aclose()
            self._redis = None


def add_routes(app: web.Application, probes: Probes) -> None:
    async def healthz(_request: web.Request) -> web.Response:
        return web.Response(text="ok\n")

    async def readyz(_request: web.Request) -> web.Response:
        ok, checks = await probes.ready()
        return web.json_response(checks, status=200 if ok else 503)

    async def metrics(_request: web.Request) -> web.Response:
        await probes.refresh()
        return web.Response(body=probes.metrics.render(), headers={"Content-Type": CONTENT_TYPE_LATEST})

    app.router.add_get("/healthz", healthz)
    app.router.add_get("/readyz", readyz)
    app.router.add_get("/metrics", metrics)


async def start_server(probes: Probes, host: str, port: int) -> web.AppRunner:
    """The three endpoints on ``host:port`` alone (``METRICS_PORT``)."""
    app = web.Application()
    add_routes(app, probes)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, host, port).start()
    log.info("metrics on http://%s:%s/metrics", host, port)
    return runner
