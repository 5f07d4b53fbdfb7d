"""The sender: claims due outbox rows with leases and delivers them within Telegram's limits.

A row's life::

    pending ──claim──▶ claimed ──mark──▶ sending ──call──▶ sent
       ▲                  │                 │    ├──▶ pending (5xx, network: backoff with jitter)
       └── lease expired ─┘                 │    ├──▶ failed (400s, or the last attempt: error kept)
                                            │    ├──▶ unreachable (403: user marked, their rows cancelled)
                                            │    └──▶ pending (429: everything pauses for retry_after)
                                            └── lease expired / timeout ──▶ unknown, or pending once
                                                (emergencies, case updates, reminders are resent once)

* **Claim**: a short transaction picks due rows (``FOR UPDATE SKIP LOCKED`` on
  PostgreSQL, so several processes never take one row; SQLite runs one
  process) and sets ``claimed`` + ``lease_owner`` + ``lease_expires_at``.
  Leases are renewed while held; a crashed process's leases expire and the
  rows are taken over.  A claimed row was never tried, so it simply goes back
  to ``pending``.
* **Mark**: just before its request a row is set to ``sending`` and committed
  (rows are marked in groups of 50 ms of sending, refilled when half are
  gone; a crash can leave that many marked but never requested, counted as
  unknown with the rest).
  A ``sending`` row whose lease expires was possibly delivered: its outcome is
  *unknown*.  It is never resent for broadcasts, nudges and digests, and
  resent once for emergencies, case updates and reminders; either way it is
  counted (``status = unknown`` / ``resends``), never hidden.
* **Results** are committed in groups as well (every ~50 ms).
* **Quiet hours** (``QUIET_HOURS``, local time) hold non-urgent rows in the
  claim query itself; emergencies (``urgent``) and rows whose ``event_at`` is
  within the hour go out at once.
* Rows of a paused or cancelled broadcast are neither claimed nor marked.
* Requests go straight to the Bot API over one pooled HTTP session
  (:class:`BotApiTransport`), paced by :mod:`bot.delivery.limits`.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import logging
import math
import os
import random
import socket
import time
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, bindparam, exists, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.aio import wait_event
from bot.config import Settings
from bot.delivery.limits import ChatLimits, LocalLimiter, SharedLimiter, Slot
from bot.delivery.quiet import in_quiet_hours
from bot.delivery.transport import ClaimedRow, Outcome, SendError, Transport, classify_exception
from bot.metrics import Metrics
from bot.services.notify import listen_for_rows, stop_listening
from models import Broadcast, BroadcastStatus, OutboxKind, OutboxMessage, OutboxStatus, User, utcnow

log = logging.getLogger(__name__)

# Unknown outcome: these kinds are resent once, the others never.
RESEND_ONCE_KINDS = frozenset({OutboxKind.emergency, OutboxKind.case_update, OutboxKind.reminder})
# A row whose event (an appointment) is this close is never held by quiet hours.
QUIET_EXEMPT_WITHIN = timedelta(hours=1)
FLUSH_INTERVAL = 0.05
CLAIM_BATCH = 500

_outbox = OutboxMessage.__table__


# --------------------------------------------------------------------- sender

@dataclass(slots=True)
class _Result:
    row: ClaimedRow
    outcome: str
    message_id: int | None = None
    error: str | None = None
    retry_after: float | None = None
    at: datetime = field(default_factory=utcnow)


@dataclass
class SenderStats:
    claimed: int = 0
    sent: int = 0
    retried: int = 0
    failed: int = 0
    unreachable: int = 0
    unknown: int = 0  # outcomes we could not learn (timeouts here; expired leases in ``reaped_unknown``)
    resent_unknown: int = 0
    rate_limited: int = 0
    reaped_unknown: int = 0
    released: int = 0


def default_owner() -> str:
    return f"{socket.gethostname()[:32]}:{os.getpid()}:{random.randrange(16**6):06x}"


def backoff_delay(attempts: int, base: float, cap: float) -> float:
    """Exponential backoff with jitter: uniform(base/2, min(cap, base * 2^(n-1))) seconds."""
    ceiling = min(cap, base * (2 ** max(attempts - 1, 0)))
    return random.uniform(min(base / 2, ceiling), ceiling)


class Sender:
    """One process's delivery loop.  ``await run(stop)``; ``stats`` counts outcomes."""

    def __init__(
        self,
        sessionmaker: async_sessionmaker[AsyncSession],
        transport: Transport,
        settings: Settings,
        *,
        owner: str | None = None,
        clock: Callable[[], datetime] = utcnow,
        limiter: LocalLimiter | None = None,
        takeover_on_start: bool | None = None,
    ) -> None:
        self.sessionmaker = sessionmaker
        self.transport = transport
        self.settings = settings
        self.owner = owner or default_owner()
        self.clock = clock
        bind = sessionmaker.kw.get("bind")
        self.dialect = bind.dialect.name if bind is not None else "sqlite"
        rate = settings.delivery_paid_rate if settings.delivery_paid_broadcast else settings.delivery_global_rate
        if limiter is None:
            limiter = SharedLimiter(rate, sessionmaker) if self.dialect == "postgresql" else LocalLimiter(rate)
        self.limiter = limiter
        self.chats = ChatLimits(settings.delivery_chat_rate, settings.delivery_group_rate)
        # SQLite is one process: whatever another owner held at start is from a dead process.
        self.takeover_on_start = self.dialect != "postgresql" if takeover_on_start is None else takeover_on_start
        self.lease = timedelta(seconds=settings.delivery_lease_seconds)
        self.stats = SenderStats()
        self.metrics: Metrics | None = None  # set by DeliveryRuntime: counts sends by outcome, 429 pauses
        rate = self.limiter.rate
        # Rows held ahead of sending: two seconds' worth alone; half a second when
        # several processes share the work (PostgreSQL), so that all get some.
        ahead = 0.5 if self.dialect == "postgresql" else 2.0
        self.high_water = int(min(5000, max(20, rate * ahead)))
        self.low_water = self.high_water // 2
        # Rows marked "sending" ahead of their slot: 50 ms of sending (what a crash can leave unknown).
        self.mark_ahead = max(2, math.ceil(rate * 0.05))
        self._ready: deque[ClaimedRow] = deque()
        self._delayed: list[tuple[float, int, ClaimedRow]] = []
        self._seq = itertools.count()
        self._marked: deque[ClaimedRow] = deque()
        self._busy_chats: set[int] = set()
        self._results: list[_Result] = []
        self._inflight: set[asyncio.Task[None]] = set()
        self._slots = asyncio.Semaphore(settings.delivery_concurrency)
        self._claim_wake = asyncio.Event()
        self._feed_wake = asyncio.Event()
        self._send_wake = asyncio.Event()
        self._flush_wake = asyncio.Event()
        self._stopping = False
        self._stopped = asyncio.Event()
        self._flushing_done = False

    # ---------------------------------------------------------------- control
    def wake(self) -> None:
        self._claim_wake.set()

    @property
    def holding(self) -> int:
        """Rows this process holds in memory (claimed, marked or in flight)."""
        return len(self._ready) + len(self._delayed) + len(self._marked) + len(self._inflight)

    async def run(self, stop: asyncio.Event) -> None:
        listen_for_rows(self)
        unsubscribe = _subscribe_clock(self.wake)
        try:
            await self.recover(takeover=self.takeover_on_start)
            tasks = [
                asyncio.create_task(self._claim_loop(), name="delivery-claim"),
                asyncio.create_task(self._feed_loop(), name="delivery-feed"),
                asyncio.create_task(self._send_loop(), name="delivery-send"),
                asyncio.create_task(self._flush_loop(), name="delivery-flush"),
            ]
            stopper = asyncio.create_task(stop.wait())
            done, _ = await asyncio.wait([stopper, *tasks], return_when=asyncio.FIRST_COMPLETED)
            for t in done:
                if t is not stopper and t.exception() is not None:
                    log.error("delivery loop %s died", t.get_name(), exc_info=t.exception())
            # A cooperative stop: a loop is never cancelled in the middle of a
            # transaction (a cancelled SQLite write can keep the lock until its
            # connection is collected).
            self._stopping = True
            self._stopped.set()
            self.limiter.interrupt()
            for event in (self._claim_wake, self._feed_wake, self._send_wake, self._flush_wake):
                event.set()
            _, stuck = await asyncio.wait(tasks[:3], timeout=15)
            for t in stuck:
                t.cancel()
            if self._inflight:
                await asyncio.wait(self._inflight, timeout=self.settings.delivery_send_timeout + 5)
            self._flushing_done = True
            self._flush_wake.set()
            await asyncio.wait([tasks[3]], timeout=15)
            stopper.cancel()
            try:
                await self._flush()
                await self._release_held()
            except Exception:
                log.exception("delivery: recording the last results failed; their leases will expire")
        finally:
            unsubscribe()
            stop_listening(self)
            close = getattr(self.transport, "close", None)
            if close is not None:
                await close()
            log.info("delivery: sender %s stopped; sent=%d %s; limiter %s", self.owner, self.stats.sent, self.stats,
                     " ".join(f"{k}={v}" for k, v in self.limiter.counts().items()))

    # ------------------------------------------------------------- recovery
    async def recover(self, *, takeover: bool = False) -> dict[str, int]:
        """Expire dead leases: claimed rows go back to pending; sending rows
        become unknown (or pending once, for the kinds resent once).

        ``takeover`` treats every lease of another owner as dead (SQLite: one process).
        """
        now = self.clock()
        async with self.sessionmaker() as session:
            # Never our own leases: we renew them, and we know whether we are alive
            # (the sandbox's clock jumps would otherwise "expire" them mid-call).
            dead = OutboxMessage.lease_owner != self.owner
            if not takeover:
                dead = and_(dead, OutboxMessage.lease_expires_at < now)
            released = (await session.execute(
                update(OutboxMessage)
                .where(*self._unlocked(OutboxMessage.status == OutboxStatus.claimed, dead))
                .values(status=OutboxStatus.pending, lease_owner=None, lease_expires_at=None)
            )).rowcount
            resent = (await session.execute(
                update(OutboxMessage)
                .where(*self._unlocked(OutboxMessage.status == OutboxStatus.sending, dead,
                                       OutboxMessage.kind.in_(list(RESEND_ONCE_KINDS)), OutboxMessage.resends < 1))
                .values(status=OutboxStatus.pending, lease_owner=None, lease_expires_at=None,
                        resends=OutboxMessage.resends + 1, next_attempt_at=now,
                        last_error="outcome unknown: the sender stopped mid-call; resent once")
            )).rowcount
            unknown = (await session.execute(
                update(OutboxMessage)
                .where(*self._unlocked(OutboxMessage.status == OutboxStatus.sending, dead))
                .values(status=OutboxStatus.unknown, lease_owner=None, lease_expires_at=None,
                        last_error="outcome unknown: the sender stopped mid-call; not resent")
            )).rowcount
            await session.commit()
        counts = {"released": released or 0, "resent": resent or 0, "unknown": unknown or 0}
        if any(counts.values()):
            log.warning("delivery: took over expired leases: %s", counts)
        self.stats.reaped_unknown += counts["unknown"]
        self.stats.resent_unknown += counts["resent"]
        return counts

    def _unlocked(self, *cond: Any) -> list[Any]:
        """``cond``, on PostgreSQL limited to rows no other transaction holds
        (``FOR UPDATE SKIP LOCKED``): maintenance never waits on, or deadlocks
        with, the transactions that mark and record sends."""
        if self.dialect != "postgresql":
            return list(cond)
        return [OutboxMessage.id.in_(select(OutboxMessage.id).where(*cond).with_for_update(skip_locked=True)),
                *cond]

    async def _renew_leases(self) -> None:
        async with self.sessionmaker() as session:
            await session.execute(
                update(OutboxMessage)
                .where(*self._unlocked(OutboxMessage.lease_owner == self.owner,
                                       OutboxMessage.status.in_([OutboxStatus.claimed, OutboxStatus.sending])))
                .values(lease_expires_at=self.clock() + self.lease)
            )
            await session.commit()

    async def _release_held(self) -> None:
        """On a clean stop: rows we hold but never tried go back to pending."""
        held = [r.id for r in self._ready] + [r.id for _, _, r in self._delayed]
        marked = [r.id for r in self._marked]
        self._ready.clear()
        self._delayed.clear()
        self._marked.clear()
        async with self.sessionmaker() as session:
            for chunk in _chunks(held, CLAIM_BATCH):
                await session.execute(
                    update(OutboxMessage)
                    .where(OutboxMessage.id.in_(chunk), OutboxMessage.lease_owner == self.owner,
                           OutboxMessage.status == OutboxStatus.claimed)
                    .values(status=OutboxStatus.pending, lease_owner=None, lease_expires_at=None)
                )
            for chunk in _chunks(marked, CLAIM_BATCH):
                # Marked but the request was never made: not an unknown outcome.
                await session.execute(
                    update(OutboxMessage)
                    .where(OutboxMessage.id.in_(chunk), OutboxMessage.lease_owner == self.owner,
                           OutboxMessage.status == OutboxStatus.sending)
                    .values(status=OutboxStatus.pending, lease_owner=None, lease_expires_at=None,
                            attempts=OutboxMessage.attempts - 1)
                )
            await session.commit()
        self.stats.released += len(held) + len(marked)

    # ---------------------------------------------------------------- claim
    def _claim_filter(self, now: datetime) -> list[Any]:
        cond: list[Any] = [OutboxMessage.status == OutboxStatus.pending, OutboxMessage.next_attempt_at <= now]
        if in_quiet_hours(now, self.settings.quiet_hours, self.settings.tz):
            cond.append(or_(
                OutboxMessage.urgent,
                and_(OutboxMessage.event_at.is_not(None), OutboxMessage.event_at <= now + QUIET_EXEMPT_WITHIN),
            ))
        cond.append(or_(
            OutboxMessage.broadcast_id.is_(None),
            ~exists().where(Broadcast.id == OutboxMessage.broadcast_id,
                            Broadcast.status.in_([BroadcastStatus.paused, BroadcastStatus.cancelled])),
        ))
        return cond

    async def claim(self, limit: int) -> list[ClaimedRow]:
        """Take up to ``limit`` due rows (one short transaction)."""
        now = self.clock()
        async with self.sessionmaker() as session:
            stmt = (
                select(OutboxMessage.id)
                .where(*self._claim_filter(now))
                .order_by(OutboxMessage.next_attempt_at, OutboxMessage.id)
                .limit(limit)
            )
            if self.dialect == "postgresql":
                stmt = stmt.with_for_update(skip_locked=True)
            ids = list(await session.scalars(stmt))
            if not ids:
                await session.commit()
                return []
            # 403 earlier: never try that user again.
            await session.execute(
                update(OutboxMessage)
                .where(OutboxMessage.id.in_(ids), OutboxMessage.status == OutboxStatus.pending,
                       OutboxMessage.user_id.in_(select(User.id).where(User.unreachable)))
                .values(status=OutboxStatus.cancelled, last_error="recipient unreachable (blocked the bot)")
            )
            result = await session.execute(
                update(OutboxMessage)
                .where(OutboxMessage.id.in_(ids), OutboxMessage.status == OutboxStatus.pending)
                .values(status=OutboxStatus.claimed, lease_owner=self.owner, lease_expires_at=now + self.lease)
                .returning(OutboxMessage.id, OutboxMessage.chat_id, OutboxMessage.user_id, OutboxMessage.kind,
                           OutboxMessage.payload, OutboxMessage.attempts, OutboxMessage.resends,
                           OutboxMessage.broadcast_id, OutboxMessage.next_attempt_at)
            )
            rows = result.all()
            await session.commit()
        rows.sort(key=lambda r: (r.next_attempt_at, r.id))
        claimed = [
            ClaimedRow(r.id, r.chat_id, r.user_id, OutboxKind(r.kind), r.payload, r.attempts, r.resends,
                       r.broadcast_id)
            for r in rows
        ]
        self.stats.claimed += len(claimed)
        return claimed

    async def _step_loop(self, step: Callable[[], Awaitable[float | None]], wake: asyncio.Event,
                         failed: str) -> None:
        """Call ``step`` until the sender stops.  It returns None to be called again at once, or
        how many seconds to wait for ``wake``; a failure is logged and retried a second later."""
        while not self._stopping:
            try:
                timeout = await step()
                if timeout is None or self._stopping:
                    continue  # a stop's wake-up may have come meanwhile: clearing it would wait
                wake.clear()
                await wait_event(wake, timeout)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception(failed)
                await asyncio.sleep(1.0)

    async def _claim_loop(self) -> None:
        maintenance_every = max(0.2, self.lease.total_seconds() / 3)
        next_maintenance = time.monotonic() + maintenance_every

        async def step() -> float | None:
            nonlocal next_maintenance
            if time.monotonic() >= next_maintenance:
                next_maintenance = time.monotonic() + maintenance_every
                await self._renew_leases()
                await self.recover()
            got = 0
            if len(self._ready) + len(self._delayed) < self.low_water:
                want = min(CLAIM_BATCH, self.high_water - len(self._ready) - len(self._delayed))
                rows = await self.claim(want)
                got = len(rows)
                if rows:
                    self._ready.extend(rows)
                    self._feed_wake.set()
            if got and got == want:
                return None  # more may be due: top up at once
            return min(self.settings.delivery_poll_interval, max(0.01, next_maintenance - time.monotonic()))

        await self._step_loop(step, self._claim_wake, "delivery: claiming failed; retrying")

    # ----------------------------------------------------------------- feed
    def _next_candidates(self, n: int) -> list[ClaimedRow]:
        """Up to ``n`` rows whose chat may be sent to now; the others wait in a heap."""
        now = time.monotonic()
        out: list[ClaimedRow] = []
        while self._delayed and self._delayed[0][0] <= now and len(out) < n:
            _, _, row = heapq.heappop(self._delayed)
            self._admit(row, now, out)
        while self._ready and len(out) < n:
            self._admit(self._ready.popleft(), now, out)
        return out

    def _admit(self, row: ClaimedRow, now: float, out: list[ClaimedRow]) -> None:
        chat = row.chat_id
        if chat in self._busy_chats or any(r.chat_id == chat for r in out):
            heapq.heappush(self._delayed, (now + 1.0 / self.settings.delivery_chat_rate / 4, next(self._seq), row))
            return
        ready = self.chats.ready_at(chat, now)
        if ready > now:
            heapq.heappush(self._delayed, (ready, next(self._seq), row))
            return
        out.append(row)

    async def _feed_loop(self) -> None:
        async def step() -> float | None:
            # Refill when half the marked rows are gone: marks go in groups, not one by one.
            room = self.mark_ahead - len(self._marked) if len(self._marked) <= self.mark_ahead // 2 else 0
            rows = self._next_candidates(room) if room > 0 else []
            if rows:
                marked = await self._mark_sending(rows)
                for row in marked:
                    self._busy_chats.add(row.chat_id)
                    self._marked.append(row)
                if marked:
                    self._send_wake.set()
                if len(self._ready) + len(self._delayed) < self.low_water:
                    self._claim_wake.set()
                return None
            if len(self._ready) + len(self._delayed) < self.low_water:
                self._claim_wake.set()
            timeout = self.settings.delivery_poll_interval
            if self._delayed and room > 0:
                timeout = max(0.001, min(timeout, self._delayed[0][0] - time.monotonic()))
            return timeout

        await self._step_loop(step, self._feed_wake, "delivery: marking failed; retrying")

    async def _mark_sending(self, rows: list[ClaimedRow]) -> list[ClaimedRow]:
        """Commit ``sending`` before any request: only rows we still own, of no
        paused or cancelled broadcast, are returned."""
        by_id = {r.id: r for r in rows}
        stopped_broadcast = exists().where(
            Broadcast.id == OutboxMessage.broadcast_id,
            Broadcast.status.in_([BroadcastStatus.paused, BroadcastStatus.cancelled]))
        async with self.sessionmaker() as session:
            result = await session.execute(
                update(OutboxMessage)
                .where(OutboxMessage.id.in_(list(by_id)), OutboxMessage.status == OutboxStatus.claimed,
                       OutboxMessage.lease_owner == self.owner, ~stopped_broadcast)
                .values(status=OutboxStatus.sending, attempts=OutboxMessage.attempts + 1,
                        lease_expires_at=self.clock() + self.lease)
                .returning(OutboxMessage.id)
            )
            ids = set(result.scalars())
            missing = [i for i in by_id if i not in ids]
            if missing:
                # Our claimed rows of a broadcast paused or cancelled since the claim go
                # back (or are cancelled with it); rows taken from us are left alone.
                mine = [OutboxMessage.id.in_(missing), OutboxMessage.status == OutboxStatus.claimed,
                        OutboxMessage.lease_owner == self.owner]
                await session.execute(
                    update(OutboxMessage)
                    .where(*mine, exists().where(Broadcast.id == OutboxMessage.broadcast_id,
                                                 Broadcast.status == BroadcastStatus.cancelled))
                    .values(status=OutboxStatus.cancelled, last_error="broadcast cancelled", lease_owner=None,
                            lease_expires_at=None))
                await session.execute(
                    update(OutboxMessage).where(*mine)
                    .values(status=OutboxStatus.pending, lease_owner=None, lease_expires_at=None))
            await session.commit()
        out = []
        for r in rows:
            if r.id in ids:
                r.attempts += 1
                out.append(r)
        return out

    # ----------------------------------------------------------------- send
    async def _send_loop(self) -> None:
        while not self._stopping:
            if not self._marked:
                self._send_wake.clear()
                await self._send_wake.wait()
                continue
            await self._slots.acquire()
            try:
                slot = await self.limiter.acquire(len(self._marked) + len(self._ready) + len(self._delayed))
            except asyncio.CancelledError:
                self._slots.release()
                raise
            except Exception:
                self._slots.release()
                log.exception("delivery: the rate limiter failed; retrying")
                await asyncio.sleep(1.0)
                continue
            if slot is None or self._stopping or not self._marked:
                self._slots.release()
                break
            row = self._marked.popleft()
            self.chats.take(row.chat_id, time.monotonic())
            task = asyncio.create_task(self._send_one(row, slot))
            self._inflight.add(task)
            task.add_done_callback(self._inflight.discard)
            self._feed_wake.set()

    async def _send_one(self, row: ClaimedRow, slot: Slot) -> None:
        try:
            try:
                admitted = await self.limiter.admit(slot)
            except Exception:
                log.exception("delivery: the rate limiter failed; the row waits for another slot")
                admitted = False
            if not admitted:
                # Never requested: back in line (on a stop, released with the other marked rows).
                self._marked.appendleft(row)
                self._send_wake.set()
                return
            try:
                message_id = await self.transport.send(row)
                result = _Result(row, Outcome.sent, message_id=message_id, at=self.clock())
            except SendError as err:
                result = _Result(row, err.outcome, error=err.error, retry_after=err.retry_after, at=self.clock())
                if err.outcome == Outcome.rate_limited:
                    self.limiter.pause(err.retry_after or 1.0)
                    self.stats.rate_limited += 1
                    if self.metrics is not None:
                        self.metrics.paused(err.retry_after or 1.0)
                    log.warning("delivery: 429, pausing all sending for %ss", err.retry_after)
            except Exception as exc:  # noqa: BLE001 - a transport bug must not kill the loop
                log.exception("delivery: the transport failed on row %s", row.id)
                err = classify_exception(exc)
                result = _Result(row, err.outcome, error=err.error, at=self.clock())
            self._results.append(result)
            if self.metrics is not None:
                self.metrics.sent(result.outcome, result.error)
            if len(self._results) >= 200:
                self._flush_wake.set()
        finally:
            self._busy_chats.discard(row.chat_id)
            self._slots.release()
            self._feed_wake.set()

    # ---------------------------------------------------------------- flush
    async def _flush_loop(self) -> None:
        while not self._flushing_done:
            self._flush_wake.clear()
            await wait_event(self._flush_wake, FLUSH_INTERVAL)
            try:
                await self._flush()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("delivery: recording results failed; retrying")
                await asyncio.sleep(0.5)

    async def _flush(self) -> None:
        if not self._results:
            return
        results, self._results = self._results, []
        try:
            await self._record(results)
        except BaseException:
            self._results[:0] = results  # keep them for the next try
            raise

    async def _record(self, results: list[_Result]) -> None:
        s = self.settings
        sent, other = [], []
        blocked_users: set[int] = set()
        blocked_chats: set[int] = set()
        for r in results:
            row = r.row
            if r.outcome == Outcome.sent:
                sent.append({"b_id": row.id, "b_mid": r.message_id, "b_at": r.at})
                self.stats.sent += 1
                continue
            values: dict[str, Any] = {"b_id": row.id, "b_error": r.error, "b_resends": row.resends,
                                      "b_attempts": row.attempts, "b_next": r.at}
            if r.outcome == Outcome.rate_limited:
                # Not the message's fault: no attempt counted; it waits out the pause.
                values.update(b_status=OutboxStatus.pending, b_attempts=row.attempts - 1,
                              b_next=r.at + timedelta(seconds=r.retry_after or 1))
            elif r.outcome == Outcome.blocked:
                values.update(b_status=OutboxStatus.unreachable)
                if row.user_id is not None:
                    blocked_users.add(row.user_id)
                blocked_chats.add(row.chat_id)
                self.stats.unreachable += 1
            elif r.outcome == Outcome.failed:
                values.update(b_status=OutboxStatus.failed)
                self.stats.failed += 1
            elif r.outcome == Outcome.unknown:
                if row.kind in RESEND_ONCE_KINDS and row.resends < 1:
                    values.update(b_status=OutboxStatus.pending, b_resends=row.resends + 1,
                                  b_error=f"outcome unknown ({r.error}); resent once",
                                  b_next=r.at + timedelta(seconds=backoff_delay(1, s.delivery_backoff_base,
                                                                                s.delivery_backoff_max)))
                    self.stats.resent_unknown += 1
                else:
                    values.update(b_status=OutboxStatus.unknown, b_error=f"outcome unknown ({r.error})")
                    self.stats.unknown += 1
            else:  # retry
                if row.attempts >= s.delivery_max_attempts:
                    values.update(b_status=OutboxStatus.failed,
                                  b_error=f"gave up after {row.attempts} attempts: {r.error}")
                    self.stats.failed += 1
                else:
                    delay = backoff_delay(row.attempts, s.delivery_backoff_base, s.delivery_backoff_max)
                    values.update(b_status=OutboxStatus.pending, b_next=r.at + timedelta(seconds=delay))
                    self.stats.retried += 1
            other.append(values)
        mine = or_(_outbox.c.lease_owner == self.owner, _outbox.c.lease_owner.is_(None))
        # Rows in id order: concurrent transactions take their row locks in one order.
        sent.sort(key=lambda v: v["b_id"])
        other.sort(key=lambda v: v["b_id"])
        async with self.sessionmaker() as session:
            if sent:
                await session.execute(
                    update(_outbox)
                    .where(_outbox.c.id == bindparam("b_id"), mine,
                           or_(_outbox.c.status == OutboxStatus.sending, _outbox.c.status == OutboxStatus.unknown,
                               _outbox.c.status == OutboxStatus.pending))
                    .values(status=OutboxStatus.sent, telegram_message_id=bindparam("b_mid"),
                            sent_at=bindparam("b_at"), lease_owner=None, lease_expires_at=None, last_error=None),
                    sent,
                )
            if other:
                await session.execute(
                    update(_outbox)
                    .where(_outbox.c.id == bindparam("b_id"), mine,
                           or_(_outbox.c.status == OutboxStatus.sending, _outbox.c.status == OutboxStatus.unknown))
                    .values(status=bindparam("b_status"), last_error=bindparam("b_error"),
                            resends=bindparam("b_resends"), attempts=bindparam("b_attempts"),
                            next_attempt_at=bindparam("b_next"), lease_owner=None, lease_expires_at=None),
                    other,
                )
            if blocked_users:
                await session.execute(update(User).where(User.id.in_(blocked_users)).values(unreachable=True))
            if blocked_users or blocked_chats:
                await session.execute(
                    update(OutboxMessage)
                    .where(or_(OutboxMessage.user_id.in_(blocked_users), OutboxMessage.chat_id.in_(blocked_chats)),
                           OutboxMessage.status.in_([OutboxStatus.pending, OutboxStatus.claimed]))
                    .values(status=OutboxStatus.cancelled, last_error="recipient unreachable (blocked the bot)",
                            lease_owner=None, lease_expires_at=None)
                )
            await session.commit()
        if any(r.outcome != Outcome.sent for r in results):
            self._claim_wake.set()


def _chunks(items: list[int], size: int) -> list[list[int]]:
    return [items[i:i + size] for i in range(0, len(items), size)]


def _subscribe_clock(callback: Callable[[], None]) -> Callable[[], None]:
    """Wake on a jump of the process clock (the sandbox's clock control), if there is one."""
    try:
        from models.base import on_clock_change  # type: ignore[attr-defined]
    except ImportError:
        return lambda: None
    return on_clock_change(lambda _offset: callback())


async def outbox_counts(session: AsyncSession, broadcast_id: int | None = None) -> dict[OutboxStatus, int]:
    stmt = select(OutboxMessage.status, func.count()).group_by(OutboxMessage.status)
    if broadcast_id is not None:
        stmt = stmt.where(OutboxMessage.broadcast_id == broadcast_id)
    return {OutboxStatus(s): n for s, n in (await session.execute(stmt)).all()}
