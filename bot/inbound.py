"""Inbound durability: no accepted update is lost, none is handled twice.

aiogram's own polling confirms an offset before the handlers of a batch have
finished, and its webhook handler answers 200 before handling; either loses
updates when the process dies.  Here every update is

1. stored in ``inbound_updates`` (``(bot_id, update_id)`` unique) and
   committed *before* Telegram is told we have it (the next ``getUpdates``
   offset, or the webhook's 200);
2. handled from there, one at a time per chat, in arrival order;
3. marked done by :class:`bot.middlewares.DbSessionMiddleware` in the same
   transaction as the handler's effects.

On start :meth:`InboundPipeline.recover` re-runs every row still pending.
A row that keeps failing (a transient error such as a database or network
outage, or a crash while it ran) is parked as ``failed`` after ``max_attempts``
tries so it cannot block its chat forever.  Any other exception is a bug that
running the update again would only repeat: the row is parked at once with its
error, and the user gets the apology (see :func:`is_transient`).

Several processes on one PostgreSQL database (webhooks behind a balancer)
share the table.  Each row carries a lease: the process that stored it owns
it and renews the lease while it lives; a process takes over only rows whose
lease ran out (its owner died), counting an attempt.  Before handling an
update, a process waits while an earlier update of the same chat is pending
anywhere, so one chat's updates keep their order across processes.  The
done-mark only applies to a pending row: if a stalled owner and the process
that took over both handle an update, the second commit fails and its effects
are rolled back.  SQLite runs one process: no waiting, and every pending row
is taken at start.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import logging
import os
import random
import secrets
import socket
import time
from collections import deque
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING, Any

import aiohttp
from aiogram import Bot, Dispatcher
from aiogram.exceptions import TelegramNetworkError, TelegramRetryAfter, TelegramServerError
from aiogram.methods import GetUpdates
from aiogram.types import Update
from sqlalchemy import and_, bindparam, or_, select, update
from sqlalchemy import exc as sa_exc
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.aio import bounded, wait_event
from bot.middlewares import UpdateAlreadyDone
from models import InboundStatus, InboundUpdate, OutgoingRequest, utcnow

if TYPE_CHECKING:
    from bot.answers import AnswerJournal
    from bot.metrics import InboundObserver
    from bot.wakeup import Wakeups

log = logging.getLogger(__name__)

FailedCallback = Callable[[Update, BaseException], Awaitable[None]]

# Failures that may pass on their own: the database or the network was away.
_TRANSIENT = (
    TimeoutError,  # asyncio's too
    ConnectionError,
    aiohttp.ClientError,
    TelegramNetworkError,
    TelegramServerError,
    TelegramRetryAfter,
    sa_exc.OperationalError,  # lost connection, "database is locked", serialization failures
    sa_exc.InterfaceError,
    sa_exc.DisconnectionError,
    sa_exc.TimeoutError,  # the connection pool
)


def is_transient(exc: BaseException) -> bool:
    """Whether running the update again may succeed.  Everything else (a
    ``TypeError``, a ``KeyError``, an ``IntegrityError``...) is a bug in the
    handling of this update and would fail the same way again."""
    for e in (exc, exc.__cause__):
        if isinstance(e, _TRANSIENT):
            return True
        if isinstance(e, sa_exc.DBAPIError):
            if e.connection_invalidated:
                return True
            # PostgreSQL: connection (08), rollback (40: serialization, deadlock),
            # resources (53) and operator intervention (57) classes.
            state = str(getattr(e.orig, "sqlstate", None) or getattr(e.orig, "pgcode", None) or "")
            if state[:2] in ("08", "40", "53", "57"):
                return True
    return False
ChatKey = int | str


_STORE = {
    name: insert(InboundUpdate.__table__)
    .on_conflict_do_nothing(index_elements=["bot_id", "update_id", "payload_hash"])
    .returning(InboundUpdate.__table__.c.id, InboundUpdate.__table__.c.update_id)
    for name, insert in (("postgresql", pg_insert), ("sqlite", sqlite_insert))
}


def canonical_json(payload: dict[str, Any]) -> str:
    """An update as stored: JSON with its keys sorted, so the order Telegram wrote them
    in does not count (:func:`payload_hash`)."""
    return json.dumps(payload, ensure_ascii=False, sort_keys=True, separators=(",", ":"))


def payload_hash(canonical: str) -> str:
    """What tells a redelivered update from a new one with a reused id: its content
    (its :func:`canonical_json`)."""
    return hashlib.blake2b(canonical.encode(), digest_size=16).hexdigest()


@dataclass(slots=True)
class _Item:
    row_id: int
    payload: dict[str, Any]
    attempts: int
    update_id: int


_t = InboundUpdate.__table__
# Is an earlier update of this chat still pending (in any process)?  Built once.
_EARLIER_PENDING = (
    select(_t.c.id, _t.c.owner)
    .where(_t.c.bot_id == bindparam("bot_id"), _t.c.chat_id == bindparam("chat_id"),
           _t.c.update_id < bindparam("update_id"), _t.c.status == InboundStatus.pending)
    .order_by(_t.c.update_id)
)


# Answers to this chat that another process recorded and has not yet confirmed
# sent (bot/answers.py): the chat's next update waits for them too, or its answer
# could overtake them (they go out after the commit, paced per chat).  A dead
# owner's rows (their lease ran out) are sent by the waiting process first.
_o = OutgoingRequest.__table__
_OWNER_GONE = or_(_o.c.lease_until.is_(None), _o.c.lease_until < bindparam("now"))
_ANSWERS_IN_FLIGHT = (
    select(_o.c.inbound_id, _OWNER_GONE.label("owner_gone"))
    .where(_o.c.chat_id == bindparam("chat_id"), _o.c.owner != bindparam("owner"))
    .order_by(_OWNER_GONE)  # a live owner's first: those are waited for
    .limit(1)
)


def _owner_name() -> str:
    """This process's name in ``inbound_updates.owner``: host, pid and a nonce."""
    return f"{socket.gethostname()[:40]}:{os.getpid()}:{secrets.token_hex(3)}"


def chat_key(payload: dict[str, Any]) -> ChatKey:
    """The chat an update belongs to, for ordering (falls back to the sender)."""
    for name, value in payload.items():
        if name == "update_id" or not isinstance(value, dict):
            continue
        chat = value.get("chat") or (value.get("message") or {}).get("chat")
        if isinstance(chat, dict) and "id" in chat:
            return int(chat["id"])
        sender = value.get("from") or value.get("user")
        if isinstance(sender, dict) and "id" in sender:
            return int(sender["id"])
    return f"u{payload.get('update_id')}"


class InboundPipeline:
    def __init__(
        self,
        *,
        bot: Bot,
        dispatcher: Dispatcher,
        sessionmaker: async_sessionmaker[AsyncSession],
        max_attempts: int = 3,
        max_concurrency: int = 64,
        on_failed: FailedCallback | None = None,
        lease_seconds: float = 30.0,
        shared: bool | None = None,
        owner: str | None = None,
        observer: InboundObserver | None = None,
        answers: AnswerJournal | None = None,
    ) -> None:
        self.bot = bot
        self.answers = answers  # the durable answers (bot/answers.py), if on
        self.dp = dispatcher
        self.sessionmaker = sessionmaker
        self.max_attempts = max_attempts
        self.on_failed = on_failed
        self.owner = owner or _owner_name()
        self.lease = timedelta(seconds=lease_seconds)
        # Other processes may share the table: PostgreSQL (SQLite runs one process).
        if shared is None:
            bind = sessionmaker.kw.get("bind")
            shared = getattr(getattr(bind, "dialect", None), "name", "sqlite") != "sqlite"
        self.shared = shared
        # Set whenever a chat waits for an earlier update pending in another process.
        self.waited_for_turn = asyncio.Event()
        self._lease_task: asyncio.Task[None] | None = None
        self._queues: dict[ChatKey, deque[_Item]] = {}
        self._workers: dict[ChatKey, asyncio.Task[None]] = {}
        self._slots = asyncio.Semaphore(max_concurrency)
        self._idle = asyncio.Event()
        self._idle.set()
        self._stopping = False
        self._stored = asyncio.Condition()
        self.last_stored_update_id = 0
        self.handled = 0
        self.failed = 0
        self.observer = observer  # metrics and a log line per update (bot/metrics.py)
        self.wakeups: Wakeups | None = None  # cross-process wake-ups (bot/wakeup.py), set by the app
        self._look_again = asyncio.Event()
        # With wake-ups, a chat waiting for its turn still looks on its own: first after
        # this many seconds, doubling up to the second (the safety net of a lost wake-up).
        self.turn_poll = (0.5, 4.0)

    # -- storing -------------------------------------------------------------
    async def store(self, payloads: Iterable[dict[str, Any]]) -> list[_Item]:
        """Insert updates and commit; returns the ones that were new, in order.

        An update already stored (Telegram re-sent it because our confirmation
        was lost) is skipped: it was, or will be, handled from its first row.
        A redelivery is the same id with the same content; an update whose id
        was used before for something else (Telegram restarts its ids after a
        week without updates) is new, and stored.
        """
        payloads = list(payloads)
        now = utcnow()
        rows = [
            {
                "bot_id": self.bot.id,
                "update_id": int(p["update_id"]),
                "chat_id": ck if isinstance(ck := chat_key(p), int) else None,
                "payload": (stored := canonical_json(p)),  # one dump: stored and hashed
                "payload_hash": payload_hash(stored),
                "status": InboundStatus.pending,
                "attempts": 0,
                "received_at": now,
                "owner": self.owner,
                "lease_until": now + self.lease,
            }
            for p in payloads
        ]
        if not rows:
            return []
        async with self.sessionmaker() as session:
            stmt = _STORE[session.bind.dialect.name]
            # One cached statement, executed for many rows ("insertmanyvalues"):
            # not a new VALUES list to compile for every batch size.
            inserted = {update_id: row_id for row_id, update_id in (await session.execute(stmt, rows)).all()}
            await session.commit()
        by_update = {int(p["update_id"]): p for p in payloads}
        return [_Item(inserted[uid], by_update[uid], 0, uid) for uid in sorted(inserted)]

    async def start(self) -> int:
        """Queue what was left unfinished; on a shared database, keep the leases."""
        recovered = await self.recover()
        if self.shared and self._lease_task is None:
            self._lease_task = asyncio.create_task(self._keep_leases(), name="inbound-leases")
        return recovered

    async def recover(self, *, at_start: bool = True) -> int:
        """Take over the pending rows no live process is handling, and queue them.

        That is every pending row on SQLite (one process: the others are a
        dead one's), and on PostgreSQL those whose lease ran out, plus, at
        start, those under this process's own name (``INSTANCE_NAME``: its
        previous run's).  Taking a row over counts an attempt: it was being
        handled when its process died, so an update that crashes the process
        is not retried forever (after ``max_attempts`` it is parked as
        ``failed``).
        """
        now = utcnow()
        others: Any = or_(InboundUpdate.owner.is_(None), InboundUpdate.owner != self.owner)
        if self.shared:
            others = and_(others, or_(InboundUpdate.lease_until.is_(None), InboundUpdate.lease_until < now))
        claimable = [
            InboundUpdate.status == InboundStatus.pending,
            InboundUpdate.bot_id == self.bot.id,
            or_(others, InboundUpdate.owner == self.owner) if at_start else others,
        ]
        async with self.sessionmaker() as session:
            # One UPDATE ... RETURNING: of two processes claiming at once, each
            # row goes to one (the other finds its lease renewed).
            rows = (
                await session.execute(
                    update(InboundUpdate)
                    .where(*claimable)
                    .values(attempts=InboundUpdate.attempts + 1, owner=self.owner, lease_until=now + self.lease)
                    .returning(InboundUpdate.id, InboundUpdate.update_id, InboundUpdate.payload,
                               InboundUpdate.attempts)
                )
            ).all()
            parked = [r.id for r in rows if r.attempts > self.max_attempts]
            if parked:
                await session.execute(
                    update(InboundUpdate)
                    .where(InboundUpdate.id.in_(parked))
                    .values(status=InboundStatus.failed, last_error="gave up after repeated crashes",
                            processed_at=now)
                )
            await session.commit()
        taken = sorted((r for r in rows if r.attempts <= self.max_attempts), key=lambda r: r.update_id)
        for row_id, update_id, payload, attempts in taken:
            self.enqueue(_Item(row_id, json.loads(payload), attempts, update_id))
        if taken:
            log.info("took over %d unfinished updates", len(taken))
        return len(taken)

    async def renew_leases(self) -> int:
        """Extend the lease of every pending row this process owns."""
        async with self.sessionmaker() as session:
            result = await session.execute(
                update(InboundUpdate)
                .where(InboundUpdate.owner == self.owner, InboundUpdate.status == InboundStatus.pending)
                .values(lease_until=utcnow() + self.lease)
            )
            await session.commit()
        return int(result.rowcount or 0)

    async def _keep_leases(self) -> None:
        """Renew our leases and take over expired ones, a few times per lease."""
        interval = self.lease.total_seconds() / 3
        while not self._stopping:
            # Woken early when another process hands its updates back (bot/wakeup.py).
            await wait_event(self._look_again, interval)
            self._look_again.clear()
            try:
                await self.renew_leases()
                await self.recover(at_start=False)
            except Exception:  # noqa: BLE001 - e.g. the database briefly unavailable; next round retries
                log.exception("inbound lease upkeep failed")

    # -- handling --------------------------------------------------------------
    def enqueue(self, item: _Item) -> None:
        key = chat_key(item.payload)
        self._put(self._queues.setdefault(key, deque()), item)
        self._idle.clear()
        if key not in self._workers:
            self._workers[key] = asyncio.create_task(self._drain_chat(key), name=f"inbound-{key}")

    @staticmethod
    def _put(queue: deque[_Item], item: _Item) -> None:
        """Append, keeping the queue in update order (an update taken over
        from another process may be older than those already queued)."""
        queue.append(item)
        if len(queue) > 1 and queue[-2].update_id > item.update_id:
            ordered = sorted(queue, key=lambda i: i.update_id)
            queue.clear()
            queue.extend(ordered)

    async def _drain_chat(self, key: ChatKey) -> None:
        queue = self._queues[key]
        try:
            async with self._slots:
                while queue and not self._stopping:
                    item = queue.popleft()
                    if self.shared and isinstance(key, int) and not await self._my_turn(key, item, queue):
                        continue
                    started = time.perf_counter()
                    await self._handle(item)
                    if self.observer is not None:
                        self.observer.done(item.payload, key, time.perf_counter() - started)
                    if self.wakeups is not None and isinstance(key, int):
                        self.wakeups.chat_done(key)  # a process waiting for this chat looks again
        finally:
            if not queue:
                self._queues.pop(key, None)
            self._workers.pop(key, None)
            if queue and not self._stopping:  # more arrived while we were finishing
                self._workers[key] = asyncio.create_task(self._drain_chat(key), name=f"inbound-{key}")
            if not self._workers:
                self._idle.set()

    async def _my_turn(self, chat_id: int, item: _Item, queue: deque[_Item]) -> bool:
        """Wait while an earlier update of this chat is pending in another
        process.  False if the item went back into the queue (an earlier one
        of this chat is now queued here) or the pipeline is stopping."""
        delay = 0.02 if self.wakeups is None else self.turn_poll[0]
        waiter = self.wakeups.chat_waiter(chat_id) if self.wakeups is not None else contextlib.nullcontext()
        with waiter as woken:
            while not self._stopping:
                if woken is not None:
                    woken.clear()  # before looking: a wake-up from now on is not lost
                async with self.sessionmaker() as session:
                    earlier = (
                        await session.execute(
                            _EARLIER_PENDING, {"bot_id": self.bot.id, "chat_id": chat_id, "update_id": item.update_id}
                        )
                    ).all()
                    answering = None if earlier else (await session.execute(
                        _ANSWERS_IN_FLIGHT, {"chat_id": chat_id, "owner": self.owner, "now": utcnow()})).first()
                resending = self.answers is not None and self.answers.resending(chat_id)
                if not earlier and not resending and (answering is None
                                                      or (answering.owner_gone and self.answers is None)):
                    return True
                if not earlier and answering is not None and answering.owner_gone and self.answers is not None:
                    # Their process died with this chat's answers unsent: they go first, in order.
                    await self.answers.recover(self.bot, at_start=False, chat_id=chat_id)
                    continue
                queued = {i.row_id for i in queue}
                if any(row_id in queued for row_id, _ in earlier):
                    self._put(queue, item)
                    return False
                self.waited_for_turn.set()
                if not earlier:  # only answers in flight: their sender confirms them within moments
                    delay = min(delay, 0.05)
                # Its process commits it soon (and wakes us), or dies and our lease upkeep takes
                # it over.  With wake-ups the look is a safety net, every few seconds at most.
                if woken is None:
                    await asyncio.sleep(delay)
                else:
                    await wait_event(woken, delay)
                delay = min(delay * 2, 1.0 if woken is None else self.turn_poll[1])
        return False  # stays pending in the database

    async def _handle(self, item: _Item) -> None:
        update_obj = Update.model_validate(item.payload, context={"bot": self.bot})
        while True:
            try:
                await self.dp.feed_update(self.bot, update_obj, inbound_id=item.row_id)
                self.handled += 1
                return
            except UpdateAlreadyDone:
                # Another process took it over (our lease had run out) and
                # finished first; our transaction was rolled back.
                log.warning("update %s was finished by another process", item.update_id)
                self.handled += 1
                return
            except Exception as exc:  # noqa: BLE001 - every failure is recorded
                item.attempts += 1
                transient = is_transient(exc)
                final = not transient or item.attempts >= self.max_attempts
                if transient:
                    log.exception("update %s failed (attempt %d)", item.payload.get("update_id"), item.attempts)
                else:
                    log.exception("update %s failed with an unexpected error; parked, not retried",
                                  item.payload.get("update_id"))
                still_pending = await self._record_failure(item, exc, final)
                if not still_pending:
                    # Its effects were committed before the failure (e.g. the reply
                    # itself failed): running it again would repeat them.
                    self.handled += 1
                    return
                if final:
                    self.failed += 1
                    if self.on_failed is not None:
                        try:
                            await self.on_failed(update_obj, exc)
                        except Exception:  # noqa: BLE001
                            log.exception("on_failed callback failed")
                    return
                await asyncio.sleep(0.05 * 2**item.attempts * (1 + random.random()))

    async def _record_failure(self, item: _Item, exc: BaseException, final: bool) -> bool:
        """Record a failed attempt; False if the update was already done."""
        error = f"{type(exc).__name__}: {exc}"[:2000]
        values: dict[str, Any] = {"attempts": item.attempts, "last_error": error}
        if final:
            values.update(status=InboundStatus.failed, processed_at=utcnow())
        async with self.sessionmaker() as session:
            result = await session.execute(
                update(InboundUpdate)
                .where(InboundUpdate.id == item.row_id, InboundUpdate.status == InboundStatus.pending)
                .values(**values)
            )
            if result.rowcount == 0:
                await session.execute(
                    update(InboundUpdate).where(InboundUpdate.id == item.row_id).values(last_error=error)
                )
            await session.commit()
            return bool(result.rowcount)

    def look_again(self) -> None:
        """Take over handed-back updates now, not at the next lease upkeep."""
        self._look_again.set()

    def queue_depths(self) -> list[int]:
        """How many updates wait in each chat's queue of this process (for metrics)."""
        return [len(q) for q in self._queues.values()]

    async def wait_idle(self, timeout: float | None = None) -> None:
        await bounded(self._idle.wait(), timeout)

    async def stop(self, timeout: float = 10.0) -> None:
        """Let running handlers finish (up to ``timeout``); leave the rest pending."""
        self._stopping = True
        if self._lease_task is not None:
            self._lease_task.cancel()
            await asyncio.gather(self._lease_task, return_exceptions=True)
            self._lease_task = None
        workers = list(self._workers.values())
        if workers:
            _, pending = await asyncio.wait(workers, timeout=timeout)
            for task in pending:
                task.cancel()
            await asyncio.gather(*pending, return_exceptions=True)
        if self.shared:
            try:
                if await self.release_leases() and self.wakeups is not None:
                    self.wakeups.publish("released", self.owner)
            except Exception:  # noqa: BLE001 - stopping anyway: the leases then simply run out
                log.exception("inbound: could not hand back the unfinished updates")

    async def release_leases(self) -> int:
        """Hand back the pending rows this process holds: another process takes them
        over at its next look instead of waiting for the leases to run out."""
        async with self.sessionmaker() as session:
            result = await session.execute(
                update(InboundUpdate)
                .where(InboundUpdate.owner == self.owner, InboundUpdate.status == InboundStatus.pending)
                .values(lease_until=utcnow())
            )
            await session.commit()
        return int(result.rowcount or 0)

    # -- sources -----------------------------------------------------------------
    async def feed_raw(self, payloads: list[dict[str, Any]]) -> int:
        """Store then queue updates from any source (webhook, polling, tests)."""
        items = await self.store(payloads)
        if self.observer is not None:
            self.observer.received([item.payload for item in items])
        for item in items:
            self.enqueue(item)
        async with self._stored:
            self.last_stored_update_id = max(
                [self.last_stored_update_id, *(int(p["update_id"]) for p in payloads)]
            )
            self._stored.notify_all()
        return len(items)

    async def wait_handled(self, update_id: int, timeout: float = 10.0) -> None:
        """Wait until ``update_id`` (and all before it) is stored and every queue is idle."""
        async with asyncio.timeout(timeout):
            async with self._stored:
                await self._stored.wait_for(lambda: self.last_stored_update_id >= update_id)
            await self._idle.wait()

    async def poll(self, stop: asyncio.Event, *, timeout: int = 25, allowed_updates: list[str] | None = None) -> None:
        """Long polling that confirms an offset only after the batch is committed."""
        offset: int | None = None
        backoff = 1.0
        while not stop.is_set():
            get = asyncio.ensure_future(self._get_updates(offset, timeout, allowed_updates))
            stopper = asyncio.ensure_future(stop.wait())
            done, _ = await asyncio.wait({get, stopper}, return_when=asyncio.FIRST_COMPLETED)
            if get not in done:
                get.cancel()
                await asyncio.gather(get, return_exceptions=True)
                break
            stopper.cancel()
            try:
                updates = get.result()
            except TelegramRetryAfter as exc:
                await self._sleep(stop, exc.retry_after)
                continue
            except (TelegramNetworkError, TelegramServerError) as exc:
                log.warning("getUpdates failed: %s; retrying in %.0fs", exc, backoff)
                await self._sleep(stop, backoff)
                backoff = min(backoff * 2, 30.0)
                continue
            backoff = 1.0
            if not updates:
                continue
            payloads = updates
            while True:  # the batch must be stored before the offset moves past it
                try:
                    await self.feed_raw(payloads)
                    break
                except Exception:  # noqa: BLE001 - e.g. the database is briefly unavailable
                    log.exception("could not store a batch of updates; retrying")
                    await self._sleep(stop, backoff)
                    backoff = min(backoff * 2, 30.0)
                    if stop.is_set():
                        return
            offset = max(p["update_id"] for p in payloads) + 1

    async def _get_updates(
        self, offset: int | None, timeout: int, allowed_updates: list[str] | None
    ) -> list[dict[str, Any]]:
        """getUpdates, answered as plain dicts.

        The updates are stored as JSON and parsed into aiogram's models once,
        when handled; going through ``bot(GetUpdates(...))`` would build every
        model here as well, only to dump it back to JSON for storing.  Errors
        are still classified by aiogram (``check_response`` raises the same
        exceptions as a normal call).
        """
        method = GetUpdates(offset=offset, timeout=timeout, allowed_updates=allowed_updates)
        api = self.bot.session
        http = await api.create_session()
        body: dict[str, Any] = {"timeout": timeout}
        if offset is not None:
            body["offset"] = offset
        if allowed_updates is not None:
            body["allowed_updates"] = allowed_updates
        try:
            async with http.post(
                api.api.api_url(token=self.bot.token, method="getUpdates"),
                json=body,
                timeout=aiohttp.ClientTimeout(total=timeout + 15),
            ) as resp:
                status, raw = resp.status, (await resp.read()).decode("utf-8", errors="replace")  # as bot/http.py
        except TimeoutError as exc:
            raise TelegramNetworkError(method=method, message="Request timeout error") from exc
        except aiohttp.ClientError as exc:
            raise TelegramNetworkError(method=method, message=f"{type(exc).__name__}: {exc}") from exc
        if status == 200:
            try:
                answer = json.loads(raw)
            except ValueError:
                answer = None
            if isinstance(answer, dict) and answer.get("ok") is True and isinstance(answer.get("result"), list):
                return answer["result"]
        api.check_response(bot=self.bot, method=method, status_code=status, content=raw)  # raises
        raise TelegramNetworkError(method=method, message=f"unexpected getUpdates answer (HTTP {status})")

    @staticmethod
    async def _sleep(stop: asyncio.Event, seconds: float) -> None:
        await wait_event(stop, seconds)
