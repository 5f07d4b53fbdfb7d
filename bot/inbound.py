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
A row that keeps failing (an exception, or a crash while it ran) is parked as
``failed`` after ``max_attempts`` tries so it cannot block its chat forever.
"""

from __future__ import annotations

import asyncio
import json
import logging
import random
from collections import deque
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from typing import Any

import aiohttp
from aiogram import Bot, Dispatcher
from aiogram.exceptions import TelegramNetworkError, TelegramRetryAfter, TelegramServerError
from aiogram.methods import GetUpdates
from aiogram.types import Update
from sqlalchemy import select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from models import InboundStatus, InboundUpdate, utcnow

log = logging.getLogger(__name__)

FailedCallback = Callable[[Update, BaseException], Awaitable[None]]
ChatKey = int | str


_STORE = {
    name: insert(InboundUpdate.__table__)
    .on_conflict_do_nothing(index_elements=["bot_id", "update_id"])
    .returning(InboundUpdate.__table__.c.id, InboundUpdate.__table__.c.update_id)
    for name, insert in (("postgresql", pg_insert), ("sqlite", sqlite_insert))
}


@dataclass(slots=True)
class _Item:
    row_id: int
    payload: dict[str, Any]
    attempts: int


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
    ) -> None:
        self.bot = bot
        self.dp = dispatcher
        self.sessionmaker = sessionmaker
        self.max_attempts = max_attempts
        self.on_failed = on_failed
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

    # -- storing -------------------------------------------------------------
    async def store(self, payloads: Iterable[dict[str, Any]]) -> list[_Item]:
        """Insert updates and commit; returns the ones that were new, in order.

        An update already stored (Telegram re-sent it because our confirmation
        was lost) is skipped: it was, or will be, handled from its first row.
        """
        payloads = list(payloads)
        rows = [
            {
                "bot_id": self.bot.id,
                "update_id": int(p["update_id"]),
                "chat_id": ck if isinstance(ck := chat_key(p), int) else None,
                "payload": json.dumps(p, ensure_ascii=False, separators=(",", ":")),
                "status": InboundStatus.pending,
                "attempts": 0,
                "received_at": utcnow(),
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
        return [_Item(inserted[uid], by_update[uid], 0) for uid in sorted(inserted)]

    async def recover(self) -> int:
        """Queue every pending row again (after a crash or a restart)."""
        async with self.sessionmaker() as session:
            # A row pending at start was being handled when the process died:
            # that counts as an attempt, so an update that crashes the process
            # is not retried forever.
            await session.execute(
                update(InboundUpdate)
                .where(InboundUpdate.status == InboundStatus.pending, InboundUpdate.bot_id == self.bot.id)
                .values(attempts=InboundUpdate.attempts + 1)
            )
            await session.execute(
                update(InboundUpdate)
                .where(
                    InboundUpdate.status == InboundStatus.pending,
                    InboundUpdate.bot_id == self.bot.id,
                    InboundUpdate.attempts > self.max_attempts,
                )
                .values(status=InboundStatus.failed, last_error="gave up after repeated crashes")
            )
            rows = (
                await session.execute(
                    select(InboundUpdate.id, InboundUpdate.payload, InboundUpdate.attempts)
                    .where(InboundUpdate.status == InboundStatus.pending, InboundUpdate.bot_id == self.bot.id)
                    .order_by(InboundUpdate.id)
                )
            ).all()
            await session.commit()
        for row_id, payload, attempts in rows:
            self.enqueue(_Item(row_id, json.loads(payload), attempts))
        if rows:
            log.info("recovered %d unfinished updates", len(rows))
        return len(rows)

    # -- handling --------------------------------------------------------------
    def enqueue(self, item: _Item) -> None:
        key = chat_key(item.payload)
        self._queues.setdefault(key, deque()).append(item)
        self._idle.clear()
        if key not in self._workers:
            self._workers[key] = asyncio.create_task(self._drain_chat(key), name=f"inbound-{key}")

    async def _drain_chat(self, key: ChatKey) -> None:
        queue = self._queues[key]
        try:
            async with self._slots:
                while queue and not self._stopping:
                    await self._handle(queue.popleft())
        finally:
            if not queue:
                self._queues.pop(key, None)
            self._workers.pop(key, None)
            if queue and not self._stopping:  # more arrived while we were finishing
                self._workers[key] = asyncio.create_task(self._drain_chat(key), name=f"inbound-{key}")
            if not self._workers:
                self._idle.set()

    async def _handle(self, item: _Item) -> None:
        update_obj = Update.model_validate(item.payload, context={"bot": self.bot})
        while True:
            try:
                await self.dp.feed_update(self.bot, update_obj, inbound_id=item.row_id)
                self.handled += 1
                return
            except Exception as exc:  # noqa: BLE001 - every failure is recorded
                item.attempts += 1
                final = item.attempts >= self.max_attempts
                log.exception("update %s failed (attempt %d)", item.payload.get("update_id"), item.attempts)
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

    async def wait_idle(self, timeout: float | None = None) -> None:
        await asyncio.wait_for(self._idle.wait(), timeout)

    async def stop(self, timeout: float = 10.0) -> None:
        """Let running handlers finish (up to ``timeout``); leave the rest pending."""
        self._stopping = True
        workers = list(self._workers.values())
        if workers:
            _, pending = await asyncio.wait(workers, timeout=timeout)
            for task in pending:
                task.cancel()
            await asyncio.gather(*pending, return_exceptions=True)

    # -- sources -----------------------------------------------------------------
    async def feed_raw(self, payloads: list[dict[str, Any]]) -> int:
        """Store then queue updates from any source (webhook, polling, tests)."""
        items = await self.store(payloads)
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
                status, raw = resp.status, await resp.text()
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
        try:
            await asyncio.wait_for(stop.wait(), seconds)
        except TimeoutError:
            pass
